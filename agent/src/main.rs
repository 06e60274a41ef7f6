//! The `duanka-agent` binary: a thin shim over the library's CLI.

fn main() -> std::process::ExitCode {
    duanka_agent::cli::main()
}
