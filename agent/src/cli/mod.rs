//! The agent's command line. Raw arguments (clap, `args.rs`) are dispatched
//! to the module that owns each command.
//!
//! Exit codes: 0 success, 1 runtime error (store, network, refused input),
//! 2 usage error, 3 an import file was refused (row errors; nothing stored),
//! 4 a verification failed (audit chain, evidence bundle).
//!
//! Commands that change who may do what (tokens, probes, accounts), decide
//! cases or export data write an audit record naming `cli:<user>`.

mod args;
mod audit;
mod cases;
mod export;
mod import;
mod probe;
mod serve;
mod token;
mod user;

use std::process::ExitCode;

use clap::Parser;

pub use args::*;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: a runtime failure (store, network, …).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the command line was wrong.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: an import file had bad rows and nothing was stored.
pub const EXIT_REJECTED: u8 = 3;
/// Exit code: a check failed (`audit verify`: a broken chain; `bundle
/// verify`: a bad signature or file).
pub const EXIT_UNVERIFIED: u8 = 4;

/// Parse the process arguments and run; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::Serve(a) => serve::run(&a),
        Command::Probe(c) => probe::run(&c),
        Command::Token(c) => token::run(&c),
        Command::Registry(RegistryCommand::Import(a)) => import::run(crate::import::ImportKind::Registry, &a),
        Command::Cdr(CdrCommand::Import(a)) => import::run(crate::import::ImportKind::Cdr, &a),
        Command::Correlate(a) => cases::correlate(a),
        Command::Cases(c) => cases::cases(c),
        Command::User(c) => user::run(c),
        Command::Audit(c) => audit::run(c),
        Command::Export(c) => export::export(c),
        Command::Bundle(c) => export::bundle(c),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// How the local CLI is named in case history and the audit log:
/// `cli:<login user>` (the user behind sudo if any).
pub(crate) fn actor() -> String {
    let user = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Writes `rows` under `headers` in left-aligned columns.
fn table(out: &mut impl std::io::Write, headers: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn std::io::Write, cells: &mut dyn Iterator<Item = &str>| -> std::io::Result<()> {
        let mut text = String::new();
        for (cell, w) in cells.zip(&widths) {
            text.push_str(&format!("{cell:<w$}  "));
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &mut headers.iter().copied())?;
    for row in rows {
        line(out, &mut row.iter().map(String::as_str))?;
    }
    Ok(())
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DUANKA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: logs redirected to a file stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
