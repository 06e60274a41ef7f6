//! The agent's command line. Exit codes: 0 success, 1 runtime error,
//! 2 usage error.

use std::process::ExitCode;

use clap::Parser;

/// duanka-agent: the central agent of the duanka SIM-box detection system.
///
/// It will receive probe reports over HTTPS, import the subscriber registry
/// and CDRs, correlate SIM cards with their registered owners and serve the
/// review UI. None of its commands exist yet; this build only reports its
/// version.
#[derive(Debug, Parser)]
#[command(name = "duanka-agent", version)]
pub struct Cli {}

/// Parse the process arguments and run; the binary's whole `main`.
pub fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(Cli {}) => {
            eprintln!("duanka-agent {}: no commands yet; see --help", env!("CARGO_PKG_VERSION"));
            ExitCode::from(2)
        }
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            ExitCode::from(code)
        }
    }
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
