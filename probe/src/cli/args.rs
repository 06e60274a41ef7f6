//! Raw command-line arguments, as clap parses them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// duanka-probe: find GoIP / SIM-box gateways in SIP traffic.
///
/// Reads captures (pcap or pcapng) and reports every address that sent or
/// received a SIP request, with a verdict (simbox, suspect, clean), a score
/// and the evidence behind it: fingerprints from the signature database,
/// each with its weight, the value seen and the frames it came from.
#[derive(Debug, Parser)]
#[command(name = "duanka-probe", version, propagate_version = true, arg_required_else_help = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug). DUANKA_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse capture files offline and report the gateways found.
    ///
    /// Exit status: 0 on success (also when a file was cut off: its frames up
    /// to the cut are analysed and a warning names the frame), 1 when a file
    /// or the signature database cannot be read (the other files are still
    /// analysed and reported), 2 on a usage error.
    Analyze(AnalyzeArgs),
    /// List the signature database (or check a replacement file).
    Signatures(SignaturesArgs),
    /// Measure detection against labelled captures (precision, recall, F1, latency).
    ///
    /// The labels file is JSON with a `gateways` array of hosts, each with an
    /// `address`, a `label` (`simbox` or `clean`) and a `kind` (or `role`):
    /// what `duanka-sim generate --truth FILE` writes. An address counts as
    /// detected when its verdict is `simbox`. Exit status: 0 success, 1 input
    /// error, 2 usage error, 3 below --min-precision or --min-recall.
    Eval(EvalArgs),
}

/// Arguments of `eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The labels (ground truth) file.
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// The labelled captures.
    #[arg(required = true, value_name = "CAPTURE")]
    pub files: Vec<PathBuf>,
    /// Write JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Use this signature database (TOML) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub signatures: Option<PathBuf>,
    /// Exit 3 when overall precision is below this.
    #[arg(long, value_name = "P")]
    pub min_precision: Option<f64>,
    /// Exit 3 when overall recall is below this.
    #[arg(long, value_name = "R")]
    pub min_recall: Option<f64>,
    /// Exit 3 when gateway↔SIM link precision is below this (labels with a cell side).
    #[arg(long, value_name = "P")]
    pub min_link_precision: Option<f64>,
    /// Exit 3 when gateway↔SIM link recall is below this (labels with a cell side).
    #[arg(long, value_name = "R")]
    pub min_link_recall: Option<f64>,
    /// Never draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// Arguments of `analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng; Ethernet, Linux SLL/SLL2 or raw IP).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write one JSON document to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Use this signature database (TOML) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub signatures: Option<PathBuf>,
    /// List clean addresses in the table too.
    #[arg(long)]
    pub all: bool,
    /// Evidence lines shown per gateway in the table.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub evidence: usize,
    /// Never draw the progress bar (it is drawn only on a terminal, for large inputs).
    #[arg(long)]
    pub no_progress: bool,
}

/// Arguments of `signatures`.
#[derive(Debug, Args)]
pub struct SignaturesArgs {
    /// Load and check this file instead of listing the built-in database.
    #[arg(long, value_name = "FILE")]
    pub signatures: Option<PathBuf>,
    /// Write JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
