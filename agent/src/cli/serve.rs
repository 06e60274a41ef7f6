//! `duanka-agent serve`: the HTTPS API until SIGINT or SIGTERM.
//!
//! Prints, on stdout, `fingerprint: <64 hex>` (SHA-256 of the certificate,
//! for probes to pin) and `listening on https://ADDR` (the bound address,
//! with the real port when `--listen` asked for port 0), then serves.

use std::io::Write as _;

use anyhow::Context as _;

use std::time::Duration;

use super::{ServeArgs, EXIT_OK};
use crate::server::ui::UiConfig;
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
        ui: UiConfig {
            idle: Duration::from_secs(args.session_idle_min * 60),
            absolute: Duration::from_secs(args.session_max_min * 60),
            zone: chrono::FixedOffset::east_opt(args.ui_tz).unwrap_or_else(crate::server::ui::china_standard_time),
            ..UiConfig::default()
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        // Watch the signals before announcing the address: a supervisor may
        // stop the agent as soon as it has read it.
        let shutdown = shutdown_signal()?;
        let server = Server::bind(config).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "fingerprint: {}", server.fingerprint())?;
        writeln!(out, "listening on https://{}", server.local_addr())?;
        writeln!(out, "review UI: https://{}/ (accounts: duanka-agent user add)", server.local_addr())?;
        out.flush()?;
        drop(out);
        server.run(shutdown).await?;
        Ok(EXIT_OK)
    })
}

/// A future that completes on the first SIGINT or SIGTERM; the handlers are
/// installed when this returns, not when the future is first polled.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("watching SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("watching SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => tracing::info!("SIGINT"),
            _ = term.recv() => tracing::info!("SIGTERM"),
        }
    })
}
