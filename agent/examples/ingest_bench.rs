//! Ingest throughput against a running agent: posts `--batches` batches of
//! `--events` generated events (the realistic mix of `tests/integration/support/gen.rs`:
//! detections, calls, links, subscribers, devices, cells) one after the
//! other over one keep-alive TLS connection, and prints events per second.
//!
//! It starts nothing itself; `scripts/bench-agent-ingest` starts a release
//! agent, enrols a probe and runs this. By hand:
//!
//! ```text
//! cargo run --release -p duanka-agent --example ingest_bench -- \
//!     --addr 127.0.0.1:8443 --fingerprint <hex> --token <dkp_…>
//! ```

#[path = "../tests/integration/support/client.rs"]
mod client;
#[path = "../tests/integration/support/gen.rs"]
mod gen;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

/// Ingest benchmark client.
#[derive(Debug, Parser)]
struct Args {
    /// The agent's address (as `serve` printed it).
    #[arg(long)]
    addr: SocketAddr,
    /// The agent's certificate fingerprint (as `serve` printed it).
    #[arg(long)]
    fingerprint: String,
    /// A probe token (`duanka-agent probe add NAME | tail -n1`).
    #[arg(long)]
    token: String,
    /// Timed batches.
    #[arg(long, default_value_t = 200)]
    batches: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 1000)]
    events: usize,
    /// Untimed batches first (connection set-up, caches).
    #[arg(long, default_value_t = 5)]
    warmup: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ingest_bench: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let mut client = client::Client::new(args.addr, &args.fingerprint)?;
    // Bodies are made before timing: only the agent's work (and the wire) counts.
    let total = args.warmup + args.batches;
    let bodies: Vec<Vec<u8>> = (0..total).map(|b| gen::batch_json(b, args.events)).collect();
    let bytes: usize = bodies[args.warmup..].iter().map(Vec::len).sum();
    let mut started = Instant::now();
    let mut latencies = Vec::with_capacity(args.batches);
    for (b, body) in bodies.into_iter().enumerate() {
        if b == args.warmup {
            started = Instant::now();
        }
        let sent = Instant::now();
        let reply = client.post_batch(&args.token, body).await?;
        if reply.status != 200 {
            return Err(format!("batch {b}: HTTP {}: {}", reply.status, String::from_utf8_lossy(&reply.body)));
        }
        let accepted = reply.json()["accepted"].as_u64().unwrap_or(0) as usize;
        if accepted != args.events {
            return Err(format!("batch {b}: {accepted} of {} events accepted (store not empty?)", args.events));
        }
        if b >= args.warmup {
            latencies.push(sent.elapsed().as_secs_f64() * 1e3);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let events = args.batches * args.events;
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    println!(
        "batches {} x {} events ({:.1} MB of JSON) in {:.2} s: {:.0} events/s; per batch p50 {:.1} ms, p99 {:.1} ms",
        args.batches,
        args.events,
        bytes as f64 / 1e6,
        seconds,
        events as f64 / seconds,
        pct(0.5),
        pct(0.99)
    );
    println!("events_per_s={:.0}", events as f64 / seconds);
    Ok(())
}
