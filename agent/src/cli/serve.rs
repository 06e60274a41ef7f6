//! `duanka-agent serve`: the HTTPS API until SIGINT or SIGTERM.
//!
//! Prints, on stdout, `fingerprint: <64 hex>` (SHA-256 of the certificate,
//! for probes to pin) and `listening on https://ADDR` (the bound address,
//! with the real port when `--listen` asked for port 0), then serves.

use std::io::Write as _;

use anyhow::Context as _;

use super::{ServeArgs, EXIT_OK};
use crate::server::{ServeConfig, Server, TlsSource};

/// Runs `serve`.
pub fn run(args: &ServeArgs) -> anyhow::Result<u8> {
    let config = ServeConfig {
        data: args.data.data.clone(),
        listen: args.listen,
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => TlsSource::Files { cert: cert.clone(), key: key.clone() },
            // clap requires both or neither.
            _ => TlsSource::SelfSigned,
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let server = Server::bind(config).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "fingerprint: {}", server.fingerprint())?;
        writeln!(out, "listening on https://{}", server.local_addr())?;
        out.flush()?;
        drop(out);
        server.run(shutdown_signal()).await?;
        Ok(EXIT_OK)
    })
}

/// Completes on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch SIGTERM; stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
        _ = term.recv() => tracing::info!("SIGTERM"),
    }
}
