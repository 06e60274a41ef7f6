//! `duanka-sim`: the seeded SIP/RTP traffic simulator (see `duanka_hil::cli`).

fn main() -> std::process::ExitCode {
    duanka_hil::cli::main_with_args(std::env::args_os())
}
