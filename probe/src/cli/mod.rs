//! The command line: raw arguments (clap) are turned into validated settings,
//! then the chosen command runs. Exit codes: 0 success, 1 input error
//! (unreadable capture or signature file), 2 usage error.

mod args;
mod output;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use crate::analyze::Analyzer;
use crate::capture::file::CaptureFile;
use crate::detect::SignatureDb;
pub use args::{AnalyzeArgs, Cli, Command, SignaturesArgs};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: an input could not be read or was refused.
pub const EXIT_INPUT: u8 = 1;
/// Exit code: the command line was wrong.
pub const EXIT_USAGE: u8 = 2;

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
        Command::Analyze(a) => analyze(a),
        Command::Signatures(s) => signatures(s),
    };
    ExitCode::from(code)
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DUANKA_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
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

fn analyze(args: AnalyzeArgs) -> u8 {
    let db = match load_db(args.signatures.as_deref()) {
        Ok(db) => db,
        Err(code) => return code,
    };
    let mut analyzer = Analyzer::new(&db);
    let mut failed = false;
    let opened: Vec<_> = args
        .files
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
    let bar = (!args.no_progress && std::io::stderr().is_terminal() && total >= PROGRESS_MIN_BYTES).then(|| {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}")
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
                    if let Some(b) = &bar {
                        b.suspend(|| tracing::warn!("{w}"));
                    } else {
                        tracing::warn!("{w}");
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
    let report = analyzer.report();
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from).and_then(|()| writeln!(out))
    } else {
        output::write_table(&mut out, &report, args.all, args.evidence)
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the report: {e}");
            return EXIT_INPUT;
        }
    }
    if failed {
        EXIT_INPUT
    } else {
        EXIT_OK
    }
}

fn signatures(args: SignaturesArgs) -> u8 {
    let db = match load_db(args.signatures.as_deref()) {
        Ok(db) => db,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
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
        });
        serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from).and_then(|()| writeln!(out))
    } else {
        output::write_signatures(&mut out, &db)
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: {e}");
            EXIT_INPUT
        }
        _ => EXIT_OK,
    }
}
