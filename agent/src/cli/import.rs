//! `registry import` and `cdr import`: runs [`crate::import`] with a progress
//! bar and prints the outcome for people or, with `--json`, for machines.
//!
//! JSON (one object on stdout, also when the file is refused):
//!
//! ```text
//! { "status": "imported" | "refused", "kind": "registry" | "cdr", "file": "…",
//!   "sha256": "…" | null, "import_id": 3 | null,
//!   "rows": N, "inserted": N, "updated": N, "bad_rows": N,
//!   "errors": [{ "line": 17, "reason": "iccid …: check digit is 3, expected 5" }],
//!   "elapsed_s": 1.25 }
//! ```
//!
//! A header or empty-file refusal reports one error at line 1 and
//! `bad_rows` 0. Failures of the machine (I/O, database) are not JSON: they
//! go to stderr and exit 1.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::{ImportArgs, EXIT_OK, EXIT_REJECTED};
use crate::import::{self, ImportErrorKind, ImportKind, ImportOptions, RowError};
use crate::store::Store;

#[derive(Debug, Serialize)]
struct Report<'a> {
    status: &'static str,
    kind: ImportKind,
    file: &'a str,
    sha256: Option<&'a str>,
    import_id: Option<i64>,
    rows: u64,
    inserted: u64,
    updated: u64,
    bad_rows: u64,
    errors: &'a [RowError],
    elapsed_s: f64,
    /// What the correlation run after a good import did.
    correlation: Option<&'a crate::correlate::Outcome>,
}

/// Runs one import command; returns the exit code.
pub(super) fn run(kind: ImportKind, args: &ImportArgs) -> anyhow::Result<u8> {
    let tz_offset_s = args.tz;
    let started = Instant::now();
    let mut store = Store::open(&args.data.data)?;
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let bar = if args.no_progress {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(format!("{kind} import"));
        bar
    };
    let tick = bar.clone();
    // Once the file is read, a load that sorts it first still writes the
    // rows and builds the indexes: a spinner says which, and for how long.
    let staged = bar.clone();
    let on_stage = move |stage: import::Stage| {
        staged.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        staged.set_message(format!("{kind} import: {stage}"));
        staged.enable_steady_tick(std::time::Duration::from_millis(200));
        staged.suspend(|| tracing::info!(%stage, "import"));
    };
    let options = ImportOptions {
        tz_offset_s,
        actor: "cli".into(),
        cache_mib: args.cache_mib,
        progress: Some(Box::new(move |bytes| tick.set_position(bytes))),
        stage: Some(Box::new(on_stage)),
        ..ImportOptions::default()
    };
    let result = match kind {
        ImportKind::Registry => import::registry::import(&mut store, &args.file, options),
        ImportKind::Cdr => import::cdr::import(&mut store, &args.file, options),
    };
    bar.finish_and_clear();
    let file = args.file.display().to_string();
    let elapsed_s = started.elapsed().as_secs_f64();
    let audit = |detail: serde_json::Value| {
        crate::audit::append(
            store.conn(),
            &super::actor(),
            crate::audit::Action::Import,
            &format!("import:{kind}"),
            &detail,
        )
    };
    match &result {
        Ok(o) => audit(
            serde_json::json!({"kind": kind, "file": file, "status": "imported", "rows": o.rows, "import_id": o.import_id, "sha256": o.sha256}),
        )?,
        Err(e) if e.kind().is_refusal() => {
            let (rows, bad_rows) = e.rejection().map(|r| (r.rows, r.bad_rows)).unwrap_or((0, 0));
            audit(
                serde_json::json!({"kind": kind, "file": file, "status": "refused", "rows": rows, "bad_rows": bad_rows}),
            )?
        }
        Err(_) => 0,
    };
    match result {
        Ok(o) => {
            // New owners or CDRs change what the cases say: correlate now.
            let correlation = if args.no_correlate {
                None
            } else {
                Some(crate::correlate::full(store.conn_mut(), &crate::correlate::Config::default()).map_err(|e| {
                    anyhow::Error::new(e).context("the import is stored, but correlation after it failed")
                })?)
            };
            let correlation = correlation.as_ref();
            if args.json {
                let report = Report {
                    status: "imported",
                    kind,
                    file: &file,
                    sha256: Some(&o.sha256),
                    import_id: Some(o.import_id),
                    rows: o.rows,
                    inserted: o.inserted,
                    updated: o.updated,
                    bad_rows: 0,
                    errors: &[],
                    elapsed_s,
                    correlation,
                };
                println!("{}", serde_json::to_string(&report)?);
            } else {
                let secs = o.elapsed.as_secs_f64().max(1e-6);
                println!(
                    "{kind} import #{}: {file}: {} rows ({} new, {} updated) in {:.2} s ({:.0} rows/s); sha256 {}",
                    o.import_id,
                    o.rows,
                    o.inserted,
                    o.updated,
                    secs,
                    o.rows as f64 / secs,
                    o.sha256
                );
                if let Some(c) = correlation {
                    println!(
                        "correlated: {} clusters; cases {} opened, {} updated, {} reopened",
                        c.clusters, c.cases_opened, c.cases_updated, c.cases_reopened
                    );
                }
            }
            // The import left its write-ahead log to be folded back into
            // the database file (see `import::run`): done here, on closing.
            let log_bytes = std::fs::metadata(args.data.data.join(format!("{}-wal", crate::store::CARRIER_DB_FILE)))
                .map_or(0, |m| m.len());
            if log_bytes > 64 << 20 {
                tracing::info!(
                    log_mib = log_bytes >> 20,
                    "import stored; folding its write-ahead log into the database file"
                );
            }
            let folding = Instant::now();
            store.close()?;
            tracing::debug!(elapsed_s = folding.elapsed().as_secs_f64(), "store closed");
            Ok(EXIT_OK)
        }
        Err(e) if e.kind().is_refusal() => {
            let (rows, bad_rows, errors) = match e.rejection() {
                Some(r) => (r.rows, r.bad_rows, r.errors.clone()),
                None => (0, 0, vec![RowError { line: 1, reason: e.to_string() }]),
            };
            if args.json {
                let report = Report {
                    status: "refused",
                    kind,
                    file: &file,
                    sha256: None,
                    import_id: None,
                    rows,
                    inserted: 0,
                    updated: 0,
                    bad_rows,
                    errors: &errors,
                    elapsed_s,
                    correlation: None,
                };
                println!("{}", serde_json::to_string(&report)?);
            } else if e.kind() == ImportErrorKind::Rejected {
                println!("{kind} import refused: {file}: {bad_rows} bad row(s) of {rows}; nothing was stored");
                for err in &errors {
                    println!("{err}");
                }
                if bad_rows > errors.len() as u64 {
                    println!("… and {} more bad row(s) ({bad_rows} in all)", bad_rows - errors.len() as u64);
                }
            } else {
                println!("{kind} import refused: {e}; nothing was stored");
            }
            Ok(EXIT_REJECTED)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("{kind} import of {file} failed; nothing was stored"))),
    }
}
