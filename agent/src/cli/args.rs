//! Raw command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// duanka-agent: the centre of the duanka SIM-box detection system.
///
/// Probes report gateways, SIM links and cell-side observations to it over
/// HTTPS; carriers import their subscriber registry and call detail records;
/// it correlates the SIM cards in each gateway with the people they are
/// registered to and opens one case per cluster for anti-fraud analysts.
///
/// Every command that touches the store takes `--data DIR` (default
/// `./duanka-data`, or `$DUANKA_DATA`).
#[derive(Debug, Parser)]
#[command(name = "duanka-agent", version, propagate_version = true)]
pub struct Cli {
    /// More log output (-v debug). Logs go to stderr; DUANKA_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors in the log.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTPS API (probe ingest, cases) until SIGINT/SIGTERM.
    ///
    /// On start it prints two lines on stdout: `fingerprint: <hex>`, the
    /// SHA-256 of the certificate that probes pin, and `listening on
    /// https://ADDR`. Without --tls-cert a self-signed certificate is made in
    /// DIR/tls/ on first start and kept, so the fingerprint does not change.
    /// On SIGINT or SIGTERM it stops accepting, lets requests in flight
    /// finish, closes the store and exits 0.
    Serve(ServeArgs),
    /// Enrol, list and revoke probes.
    #[command(subcommand)]
    Probe(ProbeCommand),
    /// Operator tokens for the API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The carriers' subscriber registry.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Call detail records.
    #[command(subcommand)]
    Cdr(CdrCommand),
    /// Re-run correlation over the whole store and update cases.
    Correlate(CorrelateArgs),
    /// List, show and decide cases.
    #[command(subcommand)]
    Cases(CasesCommand),
    /// People's accounts for the review UI (served by `serve` at https://ADDR/).
    #[command(subcommand)]
    User(UserCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Block list and disciplinary list of confirmed cases, as CSV.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Signed evidence bundles of cases: make and verify.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

/// Where the store lives.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The data directory: database, TLS certificate and key.
    #[arg(long, value_name = "DIR", env = "DUANKA_DATA", default_value = "duanka-data")]
    pub data: PathBuf,
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address to listen on (loopback unless told otherwise).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// PEM certificate chain; without it a self-signed certificate is made in DIR.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Review UI: a session ends after this many minutes without a request.
    #[arg(long, value_name = "MIN", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub session_idle_min: u64,
    /// Review UI: a session ends this many minutes after login, however busy.
    #[arg(long, value_name = "MIN", default_value_t = 720, value_parser = clap::value_parser!(u64).range(1..=10080))]
    pub session_max_min: u64,
    /// Review UI: the UTC offset times are shown in (+08:00, China Standard
    /// Time, unless told otherwise; the zone is always shown beside a time).
    #[arg(long, value_name = "OFFSET", default_value = "+08:00", allow_hyphen_values = true, value_parser = parse_tz)]
    pub ui_tz: i32,
}

/// `probe …`.
#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// Enrol a probe: prints its token once, alone on the last line.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// A unique name, e.g. the site.
        name: String,
    },
    /// List probes with their last heartbeat.
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a probe's token; its reports are refused from then on.
    Revoke {
        #[command(flatten)]
        data: DataArgs,
        /// The probe's name.
        name: String,
    },
}

impl ProbeCommand {
    /// The data directory argument.
    pub fn data(&self) -> &DataArgs {
        match self {
            ProbeCommand::Add { data, .. } | ProbeCommand::List { data, .. } | ProbeCommand::Revoke { data, .. } => {
                data
            }
        }
    }
}

/// An operator's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Everything.
    Admin,
    /// Reviews cases; sees owners' identities.
    Analyst,
    /// Manages probes and imports; never sees personal data.
    Engineer,
    /// Reads the audit log; nothing else.
    Auditor,
}

impl RoleArg {
    /// The role.
    pub fn role(self) -> crate::auth::Role {
        use crate::auth::Role;
        match self {
            RoleArg::Admin => Role::Admin,
            RoleArg::Analyst => Role::Analyst,
            RoleArg::Engineer => Role::Engineer,
            RoleArg::Auditor => Role::Auditor,
        }
    }
}

/// `user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Make an account. The password is asked for on the terminal (twice), or
    /// read as one line from stdin when stdin is not a terminal or with
    /// --password-stdin. At least 10 characters, not the user name.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Login name (1-64 characters, no spaces around it).
        name: String,
        /// What the account may do: admin (everything), analyst (review cases,
        /// reveal identities, decide, export), engineer (probes and imports; no
        /// personal data), auditor (the audit log).
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password from stdin even on a terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts (never passwords).
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: its sessions end, it cannot log in again. The
    /// account stays (its name stays taken; the audit log points at it).
    Disable {
        #[command(flatten)]
        data: DataArgs,
        /// The login name.
        name: String,
    },
}

/// `audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of the whole log; report the first broken link.
    /// Exit 0 intact, 4 broken, 1 the store could not be read.
    Verify {
        #[command(flatten)]
        data: DataArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show the newest records.
    List {
        #[command(flatten)]
        data: DataArgs,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only this action (login, login.failed, case.reveal, case.decision, export, import, …).
        #[arg(long)]
        action: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `export …`.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Block list for carriers: imsi,msisdn,iccid,imei,carrier,case_id,confirmed_at
    /// of every card in a confirmed case.
    Blocklist(ExportArgs),
    /// Disciplinary list: owners in confirmed cases, their cards, and the
    /// measure (keep one card; no new phone service for 5 years).
    Disciplinary(ExportArgs),
}

/// `export blocklist|disciplinary`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Where to write the CSV ("-" for stdout).
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
}

/// `bundle …`.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Make the signed evidence bundle (zip) of a case.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// The case id.
        case: i64,
        /// Where to write the zip.
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
    },
    /// Check a bundle: the Ed25519 signature of its manifest by the agent's
    /// key, and every file's SHA-256. Exit 0 if all holds, 4 naming each
    /// failure otherwise, 1 if the bundle or the key cannot be read.
    Verify {
        /// The agent's data directory, whose keys/signing.pub is the expected key
        /// (unless --key is given).
        #[arg(long, value_name = "DIR", env = "DUANKA_DATA", default_value = "duanka-data")]
        data: PathBuf,
        /// The expected public key: a file holding 64 hex digits (the agent's
        /// keys/signing.pub), instead of the one in --data.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// The bundle.
        file: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an operator token: printed once, alone on the last line.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Its role.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A label (who holds it).
        #[arg(long, default_value = "operator")]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id (from `token list`).
    Revoke {
        #[command(flatten)]
        data: DataArgs,
        /// The token's id.
        id: i64,
    },
}

impl TokenCommand {
    /// The data directory argument.
    pub fn data(&self) -> &DataArgs {
        match self {
            TokenCommand::Add { data, .. } | TokenCommand::List { data, .. } | TokenCommand::Revoke { data, .. } => {
                data
            }
        }
    }
}

/// `registry …`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Import a registry CSV (header imsi,msisdn,iccid,carrier,owner_id,
    /// owner_name,outlet_id,outlet_name,channel,activated_at). All or nothing;
    /// re-importing a SIM updates it. Correlation runs afterwards.
    #[command(long_about = None, after_long_help = IMPORT_HELP)]
    Import(ImportArgs),
}

impl RegistryCommand {
    /// The data directory argument.
    pub fn data(&self) -> &DataArgs {
        match self {
            RegistryCommand::Import(a) => &a.data,
        }
    }
}

/// `cdr …`.
#[derive(Debug, Subcommand)]
pub enum CdrCommand {
    /// Import a CDR CSV (header imsi,imei,msisdn,called,start,duration_s,cell).
    /// All or nothing; re-importing a record updates it. Correlation runs afterwards.
    #[command(long_about = None, after_long_help = IMPORT_HELP)]
    Import(ImportArgs),
}

impl CdrCommand {
    /// The data directory argument.
    pub fn data(&self) -> &DataArgs {
        match self {
            CdrCommand::Import(a) => &a.data,
        }
    }
}

/// The long help of `registry import` and `cdr import`.
const IMPORT_HELP: &str = "\
The file is CSV (RFC 4180: quoted fields may hold commas, quotes and line
breaks; LF or CRLF line ends; a UTF-8 byte-order mark is ignored) whose
header line names the columns, in any order.

All or nothing: if any row is bad, nothing is stored and the command exits
3, listing the first 100 bad rows by line number in the file (the header
is line 1) with the reason, and the number of bad rows. Otherwise every
row is inserted, or updates the stored row with the same key, and the
import is recorded (file, SHA-256, rows, times).

Identifiers: IMSI 15 digits; ICCID 19-20 digits with a right Luhn check
digit; IMEI 14 digits, or 15 with a right Luhn check digit; MSISDN and
called numbers are digits (a leading + or 00 and China's 86 before an
11-digit mobile are dropped). owner_id is a PRC resident ID (18
characters, GB 11643 check character) or a passport written
passport:NUMBER or passport:CCC:NUMBER (CCC the issuing state's ICAO code,
e.g. passport:PHL:P1234567A).

Times are ISO 8601 / RFC 3339: 2024-03-01T10:00:00+08:00, 2024-03-01T02:00:00Z,
2024-03-01 10:00:00 (a space for the T, seconds and fraction optional). A
time without an offset is read in the --tz zone, China Standard Time
(+08:00) unless told otherwise.

A registry import into an empty registry (a carrier's first load) writes
the rows once, straight into carrier.db, when nothing else has the store
open; other commands started meanwhile wait for it (up to 30 s, then they
say the store is busy). With the server or another command running, it
writes through the write-ahead log as every other import does, and they
keep reading. Killed midway, any import leaves nothing behind. A first
load also writes a 32 MiB file of its own beside the store (the rows'
pages, a segment at a time), removed when it ends; one left by a killed
load is removed by the next.

Exit status: 0 imported; 2 a bad command line; 3 the file was refused (bad rows, bad header,
empty file), nothing stored; 1 any other failure, nothing stored.";

/// `registry import` / `cdr import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The CSV file.
    pub file: PathBuf,
    /// Print the outcome as JSON (also for a refused file).
    #[arg(long)]
    pub json: bool,
    /// No progress bar (there is none anyway when stderr is not a terminal).
    /// The bar follows the bytes read; a load that sorts the file first then
    /// shows what it is doing (writing the rows, building index 1 of 3, …),
    /// also logged at level info.
    #[arg(long)]
    pub no_progress: bool,
    /// UTC offset of times written without one: +08:00 (China Standard Time,
    /// the default), Z, -05:00, +0530.
    #[arg(long, value_name = "OFFSET", default_value = "+08:00", allow_hyphen_values = true, value_parser = parse_tz)]
    pub tz: i32,
    /// Database page cache during the import, MiB: the import's memory bound
    /// (at the default, peak RSS was 300-460 MiB importing 1 M or 10 M rows
    /// into an empty registry, and under 600 MiB re-importing 10 M; it does
    /// not grow with the file).
    #[arg(long, value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u32).range(16..=65536))]
    pub cache_mib: u32,
    /// Do not correlate after the import (bulk loads: run `duanka-agent
    /// correlate` once at the end).
    #[arg(long)]
    pub no_correlate: bool,
}

/// `--tz`: an offset as seconds east of UTC.
fn parse_tz(s: &str) -> Result<i32, String> {
    crate::import::validate::parse_offset(s).ok_or_else(|| format!("{s:?}: expected an offset like +08:00, Z or -0500"))
}

/// `correlate`.
#[derive(Debug, Args)]
pub struct CorrelateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A case's review state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    /// Not yet looked at.
    New,
    /// Someone is on it.
    Reviewing,
    /// The cards are confirmed as used for fraud.
    Confirmed,
    /// Not fraud (a reason is required).
    Dismissed,
}

/// `cases …`.
#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// List cases, most severe first.
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Only cases in this state.
        #[arg(long, value_enum)]
        state: Option<StateArg>,
        /// Machine-readable output (an array of cases).
        #[arg(long)]
        json: bool,
    },
    /// Show one case: gateways, SIMs, owners, outlets, bursts, findings, evidence.
    Show {
        #[command(flatten)]
        data: DataArgs,
        /// The case id.
        id: i64,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Move a case to another state, recording why.
    Set {
        #[command(flatten)]
        data: DataArgs,
        /// The case id.
        id: i64,
        /// The new state.
        #[arg(value_enum)]
        state: StateArg,
        /// Why (kept in the case's history).
        #[arg(long)]
        reason: String,
    },
}

impl CasesCommand {
    /// The data directory argument.
    pub fn data(&self) -> &DataArgs {
        match self {
            CasesCommand::List { data, .. } | CasesCommand::Show { data, .. } | CasesCommand::Set { data, .. } => data,
        }
    }
}
