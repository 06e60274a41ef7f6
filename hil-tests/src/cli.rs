//! The `duanka-sim` command line: raw arguments (clap) → validated settings → run.
//!
//! Exit status: 0 success, 1 I/O error, 2 usage error (bad flag or value).

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::ErrorKind;
use crate::sim::{self, Kind, Preset, Role, SimConfig, Truth};

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
    /// --preset basic (the default): GoIP gateways (User-Agent dble, SPEC 3.1) fed by
    /// overseas softswitches with short calls to domestic mobiles; "stripped" gateways
    /// with the same behaviour but no fingerprints; and hard negatives: phones on a PBX,
    /// the PBX's carrier trunk, a call-centre dialler. Includes SIP over TCP, IPv4
    /// fragments, 802.1Q tags and an IPv6 phone.
    ///
    /// --preset mixed: the scenario for measuring detection. 22 gateways of five
    /// firmware families (DBL GoIP, Hybertone, OpenVox VoxStack, Dinstar, Hypermedia;
    /// 6 stripped of every fingerprint) with every account layout and the GoIP control
    /// plane (SMS-server keep-alives on UDP 44444, SIM banks on UDP 56011 with SIM
    /// rotation), among 219 benign endpoints: softphones, single softphones, users of
    /// overseas VoIP providers, 4 call centres, 4 PBX trunks; and the cell side (GSMTAP
    /// on UDP 4729: the gateways' SIMs and 64 ordinary phones in 8 cells). 6 minutes, a
    /// few million packets; --no-rtp for a fast run.
    ///
    /// Flags below override the preset's values. The same seed gives the same bytes.
    /// --truth writes the labels file (schema: hil-tests/README.md).
    ///
    /// Examples:
    ///   duanka-sim generate --out bench.pcap --packets 1000000 --seed 1
    ///   duanka-sim generate --preset mixed --seed 3 --out m.pcap --truth m.json
    #[command(verbatim_doc_comment)]
    Generate(GenerateArgs),
    /// Write a carrier's subscriber registry and CDRs (CSV for `duanka-agent registry
    /// import` / `cdr import`), for a scenario or at benchmark scale.
    ///
    /// Scenario mode (--truth): every IMSI of a scenario's truth file (from
    /// `generate --truth`) gets a registry row. The SIM-box gateways' cards belong to card
    /// openers (1-8 cards each, many over the 5-per-carrier limit) recruited in bursts (a
    /// group's cards opened at one outlet within hours), every other gateway has an
    /// insider outlet (35-50 % of its cards, many owners, over weeks), and a few owners
    /// have cards in two gateways; handsets and a background population are ordinary
    /// people (1-3 cards). CDRs: one per gateway call with a GSM leg (truth `links`) plus
    /// calls of the handsets. --owners-truth writes what correlation should find.
    ///
    /// Scale mode (no --truth): --synthetic-rows N streams N registry rows,
    /// --synthetic-cdrs N N CDRs, and --events writes one JSON line per gateway (a probe
    /// event batch: detection, IMSI links, SIP calls matching the CDRs) for a deployment
    /// of --gateways gateways holding --imsis SIMs, which are the first registry rows.
    ///
    /// All names, ID numbers and phone numbers are synthetic. The same seed gives the same
    /// bytes.
    ///
    /// Examples:
    ///   duanka-sim registry --truth m.json --registry reg.csv --cdr cdr.csv --owners-truth owners.json
    ///   duanka-sim registry --synthetic-rows 10000000 --registry big.csv
    ///   duanka-sim registry --synthetic-rows 1000000 --registry r.csv --synthetic-cdrs 1000000 \
    ///       --cdr c.csv --gateways 2000 --imsis 100000 --events e.jsonl
    #[command(verbatim_doc_comment)]
    Registry(RegistryArgs),
}

#[derive(Debug, clap::Args)]
struct RegistryArgs {
    /// Scenario truth (from `generate --truth`): scenario mode.
    #[arg(long, value_name = "TRUTH.json")]
    truth: Option<PathBuf>,
    /// Where to write the registry CSV.
    #[arg(long, value_name = "OUT.csv")]
    registry: Option<PathBuf>,
    /// Where to write the CDR CSV.
    #[arg(long, value_name = "OUT.csv")]
    cdr: Option<PathBuf>,
    /// Where to write what correlation should find (scenario mode).
    #[arg(long, value_name = "OUT.json", requires = "truth")]
    owners_truth: Option<PathBuf>,
    /// Seed of the random generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Ordinary people besides the handsets' owners (scenario mode).
    #[arg(long, value_name = "N", default_value_t = 300, requires = "truth")]
    background: u32,
    /// Scale mode: registry rows to write.
    #[arg(long, value_name = "N", conflicts_with = "truth")]
    synthetic_rows: Option<u64>,
    /// Scale mode: CDR rows to write.
    #[arg(long, value_name = "N", conflicts_with = "truth")]
    synthetic_cdrs: Option<u64>,
    /// Scale mode: gateways in the deployment.
    #[arg(long, value_name = "N", default_value_t = 2000, conflicts_with = "truth")]
    gateways: u64,
    /// Scale mode: SIMs in those gateways (the first registry rows).
    #[arg(long, value_name = "N", default_value_t = 100_000, conflicts_with = "truth")]
    imsis: u64,
    /// Scale mode: write probe event batches (JSON lines) for the deployment here.
    #[arg(long, value_name = "OUT.jsonl", conflicts_with = "truth")]
    events: Option<PathBuf>,
    /// Print nothing on success.
    #[arg(long, short)]
    quiet: bool,
}

/// The `--preset` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PresetArg {
    Basic,
    Mixed,
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Output pcap file ("-" for standard output).
    #[arg(long, value_name = "FILE.pcap")]
    out: PathBuf,
    /// The scenario to start from.
    #[arg(long, value_enum, default_value_t = PresetArg::Basic)]
    preset: PresetArg,
    /// Seed of the random generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated time to cover, e.g. 90s, 10m, 1h30m (plain numbers are seconds)
    /// [default: basic 10m, mixed 6m].
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Gateways with their vendor fingerprints [default: basic 2, mixed 16].
    #[arg(long)]
    gateways: Option<u32>,
    /// Lines per gateway [default: basic 4, 8, 16 or 32 drawn per gateway; mixed a
    /// fixed plan of 4 to 32].
    #[arg(long)]
    lines: Option<u32>,
    /// Gateways with every fingerprint stripped (behaviour only) [default: basic 1,
    /// mixed 6].
    #[arg(long)]
    stripped: Option<u32>,
    /// Phones registered to the office PBX [default: basic 6, mixed 8].
    #[arg(long)]
    phones: Option<u32>,
    /// Call centres besides the basic dialler [default: basic 0, mixed 3].
    #[arg(long, value_name = "N")]
    call_centres: Option<u32>,
    /// PBXs with a multi-account carrier trunk besides the office PBX [default: basic
    /// 0, mixed 3].
    #[arg(long, value_name = "N")]
    pbx_sites: Option<u32>,
    /// Softphones on a hosted-VoIP provider [default: basic 0, mixed 160].
    #[arg(long, value_name = "N")]
    softphones: Option<u32>,
    /// Lone softphones with a carrier account [default: basic 0, mixed 12].
    #[arg(long, value_name = "N")]
    single_softphones: Option<u32>,
    /// Domestic users of foreign VoIP providers [default: basic 0, mixed 24].
    #[arg(long, value_name = "N")]
    overseas_voip: Option<u32>,
    /// Gateways of several vendors and account layouts [default: mixed only].
    #[arg(long, overrides_with = "no_vendor_mix")]
    vendor_mix: bool,
    /// Every gateway a DBL GoIP.
    #[arg(long, overrides_with = "vendor_mix")]
    no_vendor_mix: bool,
    /// GoIP control plane: SMS-server keep-alives, call records, SIM banks [default:
    /// mixed only].
    #[arg(long, overrides_with = "no_control_plane")]
    control_plane: bool,
    /// No GoIP control plane.
    #[arg(long, overrides_with = "control_plane")]
    no_control_plane: bool,
    /// Share of control-plane gateways on a remote SIM bank, 0..1 [default: basic 0,
    /// mixed 0.33].
    #[arg(long, value_name = "SHARE")]
    simbank_share: Option<f64>,
    /// The cell side: a GSMTAP feed (UDP 4729) of the cells, the gateways' SIMs and
    /// ordinary phones, with SIP-call-to-SIM links in the labels [default: mixed only].
    #[arg(long, overrides_with = "no_gsmtap")]
    gsmtap: bool,
    /// No GSMTAP.
    #[arg(long, overrides_with = "gsmtap")]
    no_gsmtap: bool,
    /// People and call centres keep no hours (the mixed preset follows China time).
    #[arg(long)]
    no_diurnal: bool,
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
    /// Scenario start, Unix seconds [default: basic 2026-11-01T00:00:00Z, mixed
    /// 2026-11-02T01:30:00Z].
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
        let preset = match self.preset {
            PresetArg::Basic => Preset::Basic,
            PresetArg::Mixed => Preset::Mixed,
        };
        let base = preset.config();
        // A flag given wins; one of a pair (--x / --no-x) wins over the preset.
        let switch = |on: bool, off: bool, preset: bool| {
            if on {
                true
            } else if off {
                false
            } else {
                preset
            }
        };
        let mut config = SimConfig {
            seed: self.seed,
            start_unix: self.start.unwrap_or(base.start_unix),
            duration: self.duration.unwrap_or(base.duration),
            gateways: self.gateways.unwrap_or(base.gateways),
            lines: self.lines.or(base.lines),
            stripped: self.stripped.unwrap_or(base.stripped),
            phones: self.phones.unwrap_or(base.phones),
            pbx_trunk: !self.no_trunk && base.pbx_trunk,
            dialler: !self.no_dialler && base.dialler,
            rtp: !self.no_rtp && base.rtp,
            rtp_ptime_ms: self.ptime,
            target_packets: self.packets,
            tcp_share: self.tcp_share,
            fragment_share: self.fragment_share,
            vlan: !self.no_vlan && base.vlan,
            ipv6: !self.no_ipv6 && base.ipv6,
            preset,
            vendor_mix: switch(self.vendor_mix, self.no_vendor_mix, base.vendor_mix),
            control_plane: switch(self.control_plane, self.no_control_plane, base.control_plane),
            simbank_share: self.simbank_share.unwrap_or(base.simbank_share),
            call_centres: self.call_centres.unwrap_or(base.call_centres),
            pbx_sites: self.pbx_sites.unwrap_or(base.pbx_sites),
            softphones: self.softphones.unwrap_or(base.softphones),
            single_softphones: self.single_softphones.unwrap_or(base.single_softphones),
            overseas_voip: self.overseas_voip.unwrap_or(base.overseas_voip),
            diurnal: !self.no_diurnal && base.diurnal,
            gsmtap: switch(self.gsmtap, self.no_gsmtap, base.gsmtap),
        };
        if self.control_plane && self.simbank_share.is_none() && !base.control_plane {
            // --control-plane on the basic preset: the mixed preset's SIM-bank share.
            config.simbank_share = SimConfig::mixed().simbank_share;
        }
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
        Command::Registry(args) => registry(&args),
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

/// Creates `path` and runs `write` on it, naming the file in an error.
fn write_file<T>(path: &PathBuf, write: impl FnOnce(File) -> io::Result<T>) -> Result<T, String> {
    let f = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    write(f).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn registry(a: &RegistryArgs) -> ExitCode {
    let started = Instant::now();
    match registry_run(a) {
        Ok(Ok(what)) => {
            if !a.quiet {
                eprintln!("duanka-sim: wrote {what} in {:.2} s", started.elapsed().as_secs_f64());
            }
            ExitCode::SUCCESS
        }
        Ok(Err(usage)) => {
            eprintln!("duanka-sim: {usage}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(io) => {
            eprintln!("duanka-sim: {io}");
            ExitCode::from(EXIT_IO)
        }
    }
}

/// Ok(Ok(summary)), Ok(Err(usage error)) or Err(I/O error).
fn registry_run(a: &RegistryArgs) -> Result<Result<String, String>, String> {
    use crate::carrier::{self, scale, scenario};
    if let Some(truth_path) = &a.truth {
        let Some(reg_path) = &a.registry else {
            return Ok(Err("--truth needs --registry OUT.csv".into()));
        };
        let text =
            std::fs::read_to_string(truth_path).map_err(|e| format!("cannot read {}: {e}", truth_path.display()))?;
        let truth: Truth = match serde_json::from_str(&text) {
            Ok(t) => t,
            Err(e) => return Ok(Err(format!("{}: not a scenario truth file: {e}", truth_path.display()))),
        };
        let cfg = scenario::ScenarioConfig { seed: a.seed, background_owners: a.background };
        let rec = scenario::from_truth(&truth, &cfg);
        write_file(reg_path, |f| carrier::write_registry(&rec.registry, f))?;
        if let Some(p) = &a.cdr {
            write_file(p, |f| carrier::write_cdrs(&rec.cdrs, f))?;
        }
        if let Some(p) = &a.owners_truth {
            write_file(p, |f| {
                let mut w = io::BufWriter::new(f);
                serde_json::to_writer_pretty(&mut w, &rec.owners)?;
                w.write_all(b"\n")?;
                w.flush()
            })?;
        }
        let over = rec.owners.owners_over_limit.len();
        return Ok(Ok(format!(
            "{} registry rows, {} CDRs for {} gateways ({over} owner-carrier pairs over the limit)",
            rec.registry.len(),
            rec.cdrs.len(),
            rec.owners.gateways.len()
        )));
    }
    if a.synthetic_rows.is_none() && a.synthetic_cdrs.is_none() && a.events.is_none() {
        return Ok(Err(
            "give --truth (scenario mode) or --synthetic-rows / --synthetic-cdrs / --events (scale mode)".into()
        ));
    }
    let rows = a.synthetic_rows.unwrap_or(0);
    let cfg = scale::ScaleConfig {
        seed: a.seed,
        registry_rows: rows,
        cdr_rows: a.synthetic_cdrs.unwrap_or(0),
        // The same registry whether or not CDRs and events are written with it.
        gateways: a.gateways.min(a.imsis.min(rows)),
        gateway_imsis: a.imsis.min(rows),
    };
    if a.synthetic_cdrs.is_some() || a.events.is_some() {
        if rows == 0 {
            return Ok(Err("--synthetic-cdrs and --events need --synthetic-rows (the SIMs they name)".into()));
        }
        if a.imsis > rows {
            return Ok(Err(format!("--imsis {} is more than --synthetic-rows {rows}", a.imsis)));
        }
    }
    if let Err(e) = cfg.validate() {
        return Ok(Err(e));
    }
    let mut what = Vec::new();
    match &a.registry {
        Some(p) => {
            write_file(p, |f| scale::write_registry(&cfg, f))?;
            what.push(format!("{rows} registry rows"));
        }
        // The rows still size the CDRs and events, which name their SIMs.
        None if a.synthetic_cdrs.is_none() && a.events.is_none() => {
            return Ok(Err("--synthetic-rows needs --registry OUT.csv".into()));
        }
        None => {}
    }
    if let Some(n) = a.synthetic_cdrs {
        let Some(p) = &a.cdr else { return Ok(Err("--synthetic-cdrs needs --cdr OUT.csv".into())) };
        write_file(p, |f| scale::write_cdrs(&cfg, f))?;
        what.push(format!("{n} CDRs"));
    }
    if let Some(p) = &a.events {
        let n = write_file(p, |f| scale::write_events(&cfg, f))?;
        what.push(format!("{n} events for {} gateways holding {} SIMs", cfg.gateways, cfg.gateway_imsis));
    }
    Ok(Ok(what.join(", ")))
}

fn write_truth(path: &PathBuf, truth: &Truth) -> io::Result<()> {
    let mut f = io::BufWriter::new(File::create(path)?);
    serde_json::to_writer_pretty(&mut f, truth)?;
    f.write_all(b"\n")?;
    f.flush()
}

fn summary(hi: &HiArgs, t: &Truth, took: Duration) -> String {
    let count = |r: Role| t.gateways.iter().filter(|h| h.role == r).count();
    let benign = t.gateways.iter().filter(|h| !h.kind.is_simbox() && !h.kind.is_fraud_infrastructure()).count();
    let secs = took.as_secs_f64().max(1e-6);
    format!(
        "duanka-sim: wrote {}: {} packets ({} SIP messages, {} RTP, {} control plane, {} GSMTAP), {:.1} MB, preset {}: {} gateways ({} stripped) among {} benign hosts ({} call centres, {} PBX trunks), {} SIP-SIM links, {:.0} s simulated, seed {}, in {:.2} s ({:.2} M packets/s)",
        hi.out.display(),
        t.packets,
        t.sip_messages,
        t.rtp_packets,
        t.control_messages + t.simbank_packets,
        t.gsmtap_packets,
        t.bytes as f64 / 1e6,
        t.scenario,
        count(Role::Goip) + count(Role::GoipStripped),
        count(Role::GoipStripped),
        benign,
        t.of_kind(Kind::CallCentre).count(),
        t.of_kind(Kind::PbxTrunk).count(),
        t.links.len(),
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

    fn hi(args: &[&str]) -> Result<HiArgs, String> {
        let mut all = vec!["duanka-sim", "generate", "--out", "x.pcap"];
        all.extend_from_slice(args);
        let low = LowArgs::try_parse_from(all).map_err(|e| e.to_string())?;
        match low.command {
            Command::Generate(g) => g.into_hi(),
            Command::Registry(_) => Err("not generate".into()),
        }
    }

    #[test]
    fn presets_and_overrides() {
        let basic = hi(&[]).unwrap().config;
        assert_eq!(basic, SimConfig::default());
        let mixed = hi(&["--preset", "mixed"]).unwrap().config;
        assert_eq!(mixed, SimConfig::mixed());
        let m = hi(&["--preset", "mixed", "--gateways", "30", "--no-rtp", "--no-control-plane", "--duration", "1m"])
            .unwrap()
            .config;
        assert_eq!((m.gateways, m.rtp, m.control_plane), (30, false, false));
        assert_eq!(m.duration, Duration::from_secs(60));
        assert_eq!(m.softphones, SimConfig::mixed().softphones);
        let b = hi(&["--control-plane", "--vendor-mix"]).unwrap().config;
        assert!(b.control_plane && b.vendor_mix && b.simbank_share > 0.0);
        assert_eq!(b.softphones, 0);
        assert!(!b.gsmtap && mixed.gsmtap);
        assert!(hi(&["--gsmtap"]).unwrap().config.gsmtap);
        assert!(!hi(&["--preset", "mixed", "--no-gsmtap"]).unwrap().config.gsmtap);
        assert!(!hi(&["--gsmtap", "--no-gsmtap"]).unwrap().config.gsmtap, "the last one wins");
        assert!(hi(&["--simbank-share", "2"]).is_err());
        assert!(hi(&["--preset", "other"]).is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        LowArgs::command().debug_assert();
    }
}
