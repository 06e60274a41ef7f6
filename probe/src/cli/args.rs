//! Raw command-line arguments, as clap parses them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::uplink::{AgentUrl, Fingerprint};

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
    /// With --agent, the findings are also sent to the agent (after the
    /// table or JSON is printed): every non-clean gateway (and any gateway
    /// tied to a SIM) with its links and calls, and the cell side, in
    /// batches of at most 1,000 events over HTTPS, retried with backoff until
    /// --upload-deadline. Event ids derive from the captures' SHA-256, so
    /// sending the same capture again adds nothing at the agent.
    ///
    /// Exit status: 0 on success (also when a file was cut off: its frames up
    /// to the cut are analysed and a warning names the frame), 1 when a file
    /// or the signature database cannot be read (the other files are still
    /// analysed and reported, but nothing is sent to the agent), 2 on a usage
    /// error (including an unreadable --agent-ca file), 4 when the report
    /// could not be delivered to the agent (refused, or not accepted before
    /// the deadline).
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
    /// Run the live probe: capture on the configured interfaces and GSMTAP
    /// listener, detect as traffic flows, and send events to the agent
    /// through the on-disk spool. Stops cleanly on SIGTERM/SIGINT.
    ///
    /// Exit status: 0 after a clean stop, 2 when the configuration is
    /// invalid (the error names the key), 1 when a source, the spool or the
    /// metrics port cannot be opened.
    Run(RunArgs),
}

/// `run`'s arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The TOML configuration (see probe/examples/probe.toml).
    #[arg(long, value_name = "FILE", default_value = "/etc/duanka/probe.toml")]
    pub config: std::path::PathBuf,
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
#[command(group(ArgGroup::new("agent_trust").args(["agent_fingerprint", "agent_ca"]).multiple(false)))]
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
    /// Also send the findings to the agent at this URL (https://HOST or https://HOST:PORT).
    ///
    /// Needs --token and exactly one of --agent-fingerprint or --agent-ca.
    #[arg(long, value_name = "URL", value_parser = parse_agent_url, requires_all = ["token", "agent_trust"], help_heading = "Agent")]
    pub agent: Option<AgentUrl>,
    /// The probe's token for the agent (from `duanka-agent probe add`).
    ///
    /// Prefer the environment variable: a command line is visible to other
    /// users of the machine.
    #[arg(long, value_name = "TOKEN", env = "DUANKA_TOKEN", hide_env_values = true, help_heading = "Agent")]
    pub token: Option<String>,
    /// Trust the agent whose certificate has this SHA-256 fingerprint.
    ///
    /// 64 hex digits, `:`-separated or not (`openssl x509 -noout -fingerprint
    /// -sha256 -in agent.pem` prints it).
    #[arg(long, value_name = "SHA256", value_parser = parse_fingerprint, requires = "agent", help_heading = "Agent")]
    pub agent_fingerprint: Option<Fingerprint>,
    /// Trust the agent whose certificate is issued by a CA in this PEM file
    /// (the host name in --agent is checked).
    #[arg(long, value_name = "PEM", requires = "agent", help_heading = "Agent")]
    pub agent_ca: Option<PathBuf>,
    /// Give up sending to the agent after this long, all retries included
    /// (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_deadline, help_heading = "Agent")]
    pub upload_deadline: Duration,
}

fn parse_agent_url(s: &str) -> Result<AgentUrl, String> {
    let url: AgentUrl = s.parse().map_err(|e: crate::uplink::UplinkError| e.to_string())?;
    if !url.is_https() {
        return Err("the agent is reached over https:// only".to_string());
    }
    Ok(url)
}

fn parse_fingerprint(s: &str) -> Result<Fingerprint, String> {
    s.parse().map_err(|e: crate::uplink::UplinkError| e.to_string())
}

fn parse_deadline(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 30s, 2m)"))?;
    if d.is_zero() {
        return Err("must be longer than zero".to_string());
    }
    Ok(d)
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
