//! The `duanka-probe` binary: a thin shim over the library's CLI.

fn main() -> std::process::ExitCode {
    duanka_probe::cli::main()
}
