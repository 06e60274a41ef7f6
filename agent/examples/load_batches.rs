//! Load probe event batches (JSON lines, one `duanka_shared::events::Batch`
//! per line, as `duanka-sim registry --events` writes them) straight into a
//! store, through the same `store_batch` the HTTPS ingest uses, without
//! correlating. For benchmarks that need a large store quickly
//! (`scripts/bench-agent-correlate`).
//!
//! ```text
//! cargo run --release -p duanka-agent --example load_batches -- --data DIR --probe NAME events.jsonl
//! ```

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use duanka_agent::store::Store;
use duanka_shared::events::Batch;

/// Batch loader.
#[derive(Debug, Parser)]
struct Args {
    /// The agent's data directory.
    #[arg(long)]
    data: PathBuf,
    /// The probe the batches come from (enrolled if new).
    #[arg(long, default_value = "bench")]
    probe: String,
    /// The JSON-lines file.
    file: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load_batches: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let mut store = Store::open(&args.data)?;
    let id: Option<i64> =
        store.conn().query_row("SELECT id FROM probes WHERE name = ?1", [&args.probe], |r| r.get(0)).ok();
    let probe_id = match id {
        Some(id) => id,
        None => {
            duanka_agent::auth::enrol_probe(store.conn(), &args.probe)?;
            store.conn().query_row("SELECT id FROM probes WHERE name = ?1", [&args.probe], |r| r.get(0))?
        }
    };
    let start = Instant::now();
    let (mut batches, mut events) = (0u64, 0u64);
    let file = std::io::BufReader::new(std::fs::File::open(&args.file)?);
    for (n, line) in file.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let batch: Batch = serde_json::from_str(&line).map_err(|e| anyhow::anyhow!("line {}: {e}", n + 1))?;
        let out = duanka_agent::ingest::store_batch(store.conn_mut(), probe_id, &batch)
            .map_err(|e| anyhow::anyhow!("line {}: {e}", n + 1))?;
        batches += 1;
        events += out.accepted as u64;
    }
    println!("loaded {events} events in {batches} batches in {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}
