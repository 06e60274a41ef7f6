//! The `duanka-sim` command line: raw arguments (clap) → validated settings → run.
//!
//! Exit status: 0 success, 1 I/O error, 2 usage error (bad flag or value).

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use crate::error::ErrorKind;
use crate::sim::{self, Role, SimConfig, Truth};

/// Exit status for I/O failures.
const EXIT_IO: u8 = 1;
/// Exit status for usage errors.
const EXIT_USAGE: u8 = 2;

/// Seeded SIP/RTP traffic simulator: GoIP SIM-box gateways among legitimate VoIP
/// traffic, written as a pcap with a JSON ground truth.
#[derive(Debug, Parser)]
#[command(name = "duanka-sim", version, about, long_about = None)]
struct LowArgs {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a capture (Ethernet, microsecond pcap).
    ///
    /// The scenario: GoIP gateways (User-Agent dble, SPEC 3.1) fed by overseas
    /// softswitches with short calls to domestic mobiles; "stripped" gateways with the
    /// same behaviour but no fingerprints; and hard negatives: phones on a PBX, the
    /// PBX's carrier trunk, a call-centre dialler. Includes SIP over TCP, IPv4
    /// fragments, 802.1Q tags and an IPv6 phone. The same seed gives the same bytes.
    ///
    /// Example: duanka-sim generate --out bench.pcap --packets 1000000 --seed 1
    #[command(verbatim_doc_comment)]
    Generate(GenerateArgs),
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Output pcap file ("-" for standard output).
    #[arg(long, value_name = "FILE.pcap")]
    out: PathBuf,
    /// Seed of the random generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated time to cover, e.g. 90s, 10m, 1h30m (plain numbers are seconds).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    duration: Duration,
    /// GoIP gateways with their factory fingerprints.
    #[arg(long, default_value_t = 2)]
    gateways: u32,
    /// Lines per gateway [default: 4, 8, 16 or 32 drawn per gateway].
    #[arg(long)]
    lines: Option<u32>,
    /// Gateways with every fingerprint stripped (behaviour only).
    #[arg(long, default_value_t = 1)]
    stripped: u32,
    /// Phones registered to the PBX.
    #[arg(long, default_value_t = 6)]
    phones: u32,
    /// Write at least this many packets (runs as long as needed; --duration ignored).
    #[arg(long, value_name = "N")]
    packets: Option<u64>,
    /// Write the ground truth (hosts, roles, labels, counts) as JSON here.
    #[arg(long, value_name = "FILE.json")]
    truth: Option<PathBuf>,
    /// SIP only: no RTP media.
    #[arg(long)]
    no_rtp: bool,
    /// RTP packetisation time in milliseconds.
    #[arg(long, default_value_t = 20, value_name = "MS")]
    ptime: u32,
    /// Share of phones (and the PBX trunk) using SIP over TCP, 0..1.
    #[arg(long, default_value_t = 0.1)]
    tcp_share: f64,
    /// Chance a softswitch or softphone INVITE is too large for one frame, 0..1.
    #[arg(long, default_value_t = 0.02)]
    fragment_share: f64,
    /// Scenario start, Unix seconds [default: 2026-11-01T00:00:00Z].
    #[arg(long, value_name = "UNIX_SECS")]
    start: Option<u64>,
    /// No PBX trunk calls.
    #[arg(long)]
    no_trunk: bool,
    /// No call-centre dialler.
    #[arg(long)]
    no_dialler: bool,
    /// No 802.1Q tags.
    #[arg(long)]
    no_vlan: bool,
    /// No IPv6 phone.
    #[arg(long)]
    no_ipv6: bool,
    /// Print nothing on success.
    #[arg(long, short)]
    quiet: bool,
}

/// Validated settings of `generate`.
#[derive(Debug)]
struct HiArgs {
    config: SimConfig,
    out: PathBuf,
    truth: Option<PathBuf>,
    quiet: bool,
}

impl GenerateArgs {
    fn into_hi(self) -> Result<HiArgs, String> {
        let config = SimConfig {
            seed: self.seed,
            start_unix: self.start.unwrap_or(sim::DEFAULT_START_UNIX),
            duration: self.duration,
            gateways: self.gateways,
            lines: self.lines,
            stripped: self.stripped,
            phones: self.phones,
            pbx_trunk: !self.no_trunk,
            dialler: !self.no_dialler,
            rtp: !self.no_rtp,
            rtp_ptime_ms: self.ptime,
            target_packets: self.packets,
            tcp_share: self.tcp_share,
            fragment_share: self.fragment_share,
            vlan: !self.no_vlan,
            ipv6: !self.no_ipv6,
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(HiArgs { config, out: self.out, truth: self.truth, quiet: self.quiet })
    }
}

/// Parses `90`, `90s`, `10m`, `1h30m`, `2d`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return Err(format!("bad duration {s:?}: unknown unit {c:?} (use s, m, h, d)")),
        };
        let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}: a number must precede {c:?}"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {s:?} too large"))?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("bad duration {s:?}: trailing number without unit"));
    }
    Ok(Duration::from_secs(total))
}

/// Runs the command line; the binary's `main` calls this.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let low = match LowArgs::try_parse_from(args) {
        Ok(low) => low,
        Err(e) => {
            // --help and --version exit 0 through here; real usage errors exit 2.
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS };
        }
    };
    match low.command {
        Command::Generate(args) => match args.into_hi() {
            Ok(hi) => generate(&hi),
            Err(msg) => {
                eprintln!("duanka-sim: {msg}");
                ExitCode::from(EXIT_USAGE)
            }
        },
    }
}

fn generate(hi: &HiArgs) -> ExitCode {
    let started = Instant::now();
    let to_stdout = hi.out.as_os_str() == "-";
    let result = if to_stdout {
        sim::write_scenario(&hi.config, io::stdout().lock())
    } else {
        match File::create(&hi.out) {
            Ok(f) => sim::write_scenario(&hi.config, f),
            Err(e) => {
                eprintln!("duanka-sim: cannot create {}: {e}", hi.out.display());
                return ExitCode::from(EXIT_IO);
            }
        }
    };
    let truth = match result {
        Ok(t) => t,
        Err(e) => {
            eprintln!("duanka-sim: {e}");
            if !to_stdout {
                let _ = std::fs::remove_file(&hi.out);
            }
            return ExitCode::from(match e.kind() {
                ErrorKind::Config => EXIT_USAGE,
                _ => EXIT_IO,
            });
        }
    };
    if let Some(path) = &hi.truth {
        if let Err(e) = write_truth(path, &truth) {
            eprintln!("duanka-sim: cannot write {}: {e}", path.display());
            return ExitCode::from(EXIT_IO);
        }
    }
    if !hi.quiet {
        eprintln!("{}", summary(hi, &truth, started.elapsed()));
    }
    ExitCode::SUCCESS
}

fn write_truth(path: &PathBuf, truth: &Truth) -> io::Result<()> {
    let mut f = io::BufWriter::new(File::create(path)?);
    serde_json::to_writer_pretty(&mut f, truth)?;
    f.write_all(b"\n")?;
    f.flush()
}

fn summary(hi: &HiArgs, t: &Truth, took: Duration) -> String {
    let count = |r: Role| t.gateways.iter().filter(|h| h.role == r).count();
    let secs = took.as_secs_f64().max(1e-6);
    format!(
        "duanka-sim: wrote {}: {} packets ({} SIP messages, {} RTP), {:.1} MB, {} gateways ({} stripped), {:.0} s simulated, seed {}, in {:.2} s ({:.2} M packets/s)",
        hi.out.display(),
        t.packets,
        t.sip_messages,
        t.rtp_packets,
        t.bytes as f64 / 1e6,
        count(Role::Goip) + count(Role::GoipStripped),
        count(Role::GoipStripped),
        t.duration_s,
        t.seed,
        secs,
        t.packets as f64 / secs / 1e6,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5_400), ("2d", 172_800)];
        for (s, secs) in ok {
            assert_eq!(parse_duration(s), Ok(Duration::from_secs(secs)), "{s}");
        }
        for s in ["", "m", "10x", "5m3", "-1"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        LowArgs::command().debug_assert();
    }
}
