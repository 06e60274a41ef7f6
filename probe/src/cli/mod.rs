//! The command line: raw arguments (clap) are turned into validated settings,
//! then the chosen command runs. Exit codes: 0 success, 1 input error
//! (unreadable capture or signature file), 2 usage error, 3 `eval` below its
//! targets, 4 `analyze --agent` could not deliver to the agent.

mod args;
mod eval;
mod output;
mod upload;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use crate::analyze::Analyzer;
use crate::capture::file::CaptureFile;
use crate::detect::SignatureDb;
pub use args::{AnalyzeArgs, Cli, Command, EvalArgs, RunArgs, SignaturesArgs};
use duanka_shared::report::AnalysisReport;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: an input could not be read or was refused.
pub const EXIT_INPUT: u8 = 1;
/// Exit code: the command line was wrong.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: `eval` measured less than the required precision or recall.
pub const EXIT_TARGET: u8 = 3;
/// Exit code: `analyze --agent` could not deliver the report to the agent
/// (refused, or not accepted before `--upload-deadline`).
pub const EXIT_UPLOAD: u8 = 4;

/// Inputs at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 32 * 1024 * 1024;

/// Parse the process arguments and run; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout with success, errors to stderr.
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.verbose, cli.quiet);
    let code = match cli.command {
        Command::Analyze(a) => analyze(a, cli.quiet),
        Command::Signatures(s) => signatures(s),
        Command::Eval(e) => eval(e),
        Command::Run(r) => run(r),
    };
    ExitCode::from(code)
}

fn run(args: RunArgs) -> u8 {
    let config = match crate::run::Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    match crate::run::run(config) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INPUT
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DUANKA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

fn load_db(path: Option<&std::path::Path>) -> Result<SignatureDb, u8> {
    match path {
        None => Ok(SignatureDb::builtin()),
        Some(p) => SignatureDb::load(p).map_err(|e| {
            eprintln!("error: {e}");
            EXIT_INPUT
        }),
    }
}

/// Read every file through one pipeline; returns the report and whether any
/// input could not be read (each such error was printed, naming the file).
fn run_analysis(files: &[std::path::PathBuf], db: &SignatureDb, no_progress: bool) -> (AnalysisReport, bool) {
    let mut analyzer = Analyzer::new(db);
    let mut failed = false;
    let opened: Vec<_> = files
        .iter()
        .filter_map(|p| match CaptureFile::open(p) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
                None
            }
        })
        .collect();
    let total: u64 = opened.iter().map(CaptureFile::len).sum();
    let bar = (!no_progress && std::io::stderr().is_terminal() && total >= PROGRESS_MIN_BYTES).then(|| {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let mut done_before = 0;
    for file in &opened {
        let path = file.path().display().to_string();
        tracing::info!(file = %path, bytes = file.len(), "reading");
        analyzer.begin_file(&path, file.format().name(), file.len());
        let outcome = file.read(
            |frame| analyzer.frame(frame),
            |pos| {
                if let Some(b) = &bar {
                    b.set_position(done_before + pos);
                }
            },
        );
        done_before += file.len();
        match outcome {
            Ok(outcome) => {
                if let Some(w) = &outcome.warning {
                    match &bar {
                        Some(b) => b.suspend(|| tracing::warn!("{w}")),
                        None => tracing::warn!("{w}"),
                    }
                }
                analyzer.end_file(&outcome);
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    (analyzer.report(), failed)
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
fn emit(write: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>) -> Result<(), u8> {
    let mut out = std::io::stdout().lock();
    match write(&mut out) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: writing the output: {e}");
            Err(EXIT_INPUT)
        }
        _ => Ok(()),
    }
}

fn write_json(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)
}

fn analyze(args: AnalyzeArgs, quiet: bool) -> u8 {
    // The agent settings are checked (and the CA file read) before the
    // analysis, so a typo does not cost a long run.
    let upload = match upload::Upload::from_args(&args) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let db = match load_db(args.signatures.as_deref()) {
        Ok(db) => db,
        Err(code) => return code,
    };
    let (report, failed) = run_analysis(&args.files, &db, args.no_progress);
    let written = emit(|out| {
        if args.json {
            write_json(out, &report)
        } else {
            output::write_table(out, &report, args.all, args.evidence)
        }
    });
    if let Err(code) = written {
        return code;
    }
    if failed {
        if let Some(u) = &upload {
            eprintln!("error: nothing sent to {}: an input could not be read", u.url());
        }
        return EXIT_INPUT;
    }
    let Some(upload) = upload else { return EXIT_OK };
    match upload.run(&report, &args.files) {
        Ok(s) => {
            if !quiet {
                eprintln!(
                    "sent {} events in {} batches to {} ({} already known)",
                    s.events,
                    s.batches,
                    upload.url(),
                    s.duplicates
                );
            }
            EXIT_OK
        }
        Err((s, e)) => {
            eprintln!("error: could not deliver to {}: {e}", upload.url());
            eprintln!(
                "error: {} of {} batches ({} events) were delivered before that",
                s.delivered, s.batches, s.events
            );
            EXIT_UPLOAD
        }
    }
}

fn eval(args: EvalArgs) -> u8 {
    let db = match load_db(args.signatures.as_deref()) {
        Ok(db) => db,
        Err(code) => return code,
    };
    let labels = match eval::Labels::load(&args.labels) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let (report, failed) = run_analysis(&args.files, &db, args.no_progress);
    if failed {
        return EXIT_INPUT;
    }
    let result = eval::evaluate(&labels, &report);
    if let Err(code) = emit(|out| if args.json { write_json(out, &result) } else { eval::write_table(out, &result) }) {
        return code;
    }
    let links = result.cell.as_ref().map(|c| &c.links);
    if (args.min_link_precision.is_some() || args.min_link_recall.is_some()) && links.is_none() {
        eprintln!("error: link targets given, but the labels and captures have no cell side");
        return EXIT_TARGET;
    }
    let short = args.min_precision.is_some_and(|p| result.overall.precision.unwrap_or(0.0) < p)
        || args.min_recall.is_some_and(|r| result.overall.recall.unwrap_or(0.0) < r)
        || args.min_link_precision.is_some_and(|p| links.and_then(|l| l.precision).unwrap_or(0.0) < p)
        || args.min_link_recall.is_some_and(|r| links.and_then(|l| l.recall).unwrap_or(0.0) < r);
    if short {
        eprintln!("error: detection quality below the required figures");
        return EXIT_TARGET;
    }
    EXIT_OK
}

fn signatures(args: SignaturesArgs) -> u8 {
    let db = match load_db(args.signatures.as_deref()) {
        Ok(db) => db,
        Err(code) => return code,
    };
    let list: Vec<_> = db
        .signatures
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s.id, "vendor": s.vendor, "group": s.group, "weight": s.weight,
                "field": s.field, "rule": s.rule_text, "description": s.description,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "version": db.version,
        "verdict": { "simbox": db.thresholds.simbox, "suspect": db.thresholds.suspect },
        "signatures": list,
        "features": db.features.iter().map(|f| serde_json::json!({
            "id": f.kind.id(), "weight": f.weight, "threshold": f.threshold, "group": f.group, "description": f.description,
        })).collect::<Vec<_>>(),
        "modem_tacs": db.modem_tacs.values().map(|m| serde_json::json!({
            "tac": m.tac, "vendor": m.vendor, "model": m.model,
        })).collect::<Vec<_>>(),
    });
    let written = emit(|out| if args.json { write_json(out, &doc) } else { output::write_signatures(out, &db) });
    match written {
        Err(code) => code,
        Ok(()) => EXIT_OK,
    }
}
