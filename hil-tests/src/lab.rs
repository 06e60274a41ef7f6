//! The HIL suite's network (SPEC 4.4): four network namespaces joined by
//! veth pairs, with sipp endpoints in them and the probe on the carrier's
//! edge router between them. Nothing leaves these namespaces, and all of
//! them go when the [`Lab`] drops.
//!
//! ```text
//!  upstream (198.51.100.0/24)            core (the carrier's edge)              gateway (10.77.0.0/24)
//!  .10 overseas softswitch  ── c-up ──  router, ip_forward           ── c-gw ──  .10 GoIP (sipp + keep-alives)
//!  .20 carrier softswitch                the probe captures c-up
//!                                        the agent on 127.0.0.1:8443  ── c-lan ── lan (10.77.1.0/24)
//!                                        GSMTAP in on 10.77.1.1:4729              .20 PBX trunk, .30 dialler,
//!                                                                                 .41–.43 softphones,
//!                                                                                 .99 radio (GSMTAP)
//! ```
//!
//! Every SIP flow crosses `c-up`, the interface the probe captures: the
//! overseas softswitch feeding the GoIP, and the carrier's softswitch that
//! the PBX trunk, the call-centre dialler and the softphones talk to. The
//! GoIP is sipp with the DBL firmware's fingerprints (scenarios in
//! `hil-tests/sipp/`), plus its SMS-server keep-alives on UDP 44444, which
//! carry each line's IMEI, IMSI and ICCID, sent by [`Goip`] itself.
//!
//! Needs root, iproute2 and sipp (Debian `sip-tester`); [`Lab::create`]
//! fails naming what is missing.

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::harness::{self, Agent, Probe};
use crate::netns::Netns;
use crate::sim::ids;

/// The overseas softswitch feeding the GoIP (upstream).
pub const OVERSEAS: &str = "198.51.100.10";
/// The carrier's softswitch (upstream), the legitimate endpoints' peer.
pub const SOFTSWITCH: &str = "198.51.100.20";
/// The GoIP gateway.
pub const GATEWAY: &str = "10.77.0.10";
/// The PBX with its trunk to the carrier.
pub const PBX: &str = "10.77.1.20";
/// The call centre's predictive dialler.
pub const DIALLER: &str = "10.77.1.30";
/// The softphones.
pub const PHONES: [&str; 3] = ["10.77.1.41", "10.77.1.42", "10.77.1.43"];
/// The GSMTAP source (a radio receiver), in `lan`.
pub const RADIO: &str = "10.77.1.99";
/// The interface the probe captures, in `core`.
pub const CAPTURE: &str = "c-up";
/// Where the agent listens, in `core`.
pub const AGENT_LISTEN: &str = "127.0.0.1:8443";
/// Where the probe's metrics are, in `core`.
pub const METRICS: &str = "127.0.0.1:9464";
/// Where the probe takes GSMTAP, in `core` (sent from `lan`).
pub const GSMTAP: &str = "10.77.1.1:4729";
/// The GoIP SMS server's port (on [`OVERSEAS`]).
pub const SMS_SERVER_PORT: u16 = 44444;

/// The sipp scenario templates (`hil-tests/sipp/`).
const SCENARIOS: [(&str, &str); 5] = [
    ("goip-register.xml", include_str!("../sipp/goip-register.xml")),
    ("goip-answer.xml", include_str!("../sipp/goip-answer.xml")),
    ("calls.xml", include_str!("../sipp/calls.xml")),
    ("answer.xml", include_str!("../sipp/answer.xml")),
    ("register.xml", include_str!("../sipp/register.xml")),
];

/// sipp's own G.711 recording, played as each call's RTP.
pub const RTP_PCAP: &str = "/usr/share/sip-tester/g711a.pcap";

/// The namespaces, their links and a working directory.
#[derive(Debug)]
pub struct Lab {
    /// Upstream: the softswitches.
    pub up: Netns,
    /// The carrier's edge router: probe and agent.
    pub core: Netns,
    /// The GoIP's site.
    pub gw: Netns,
    /// The legitimate endpoints.
    pub lan: Netns,
    dir: tempfile::TempDir,
}

fn io_err(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> String {
    move |e| format!("{what}: {e}")
}

impl Lab {
    /// Makes the namespaces and links, with routes through `core`.
    pub fn create() -> Result<Lab, String> {
        match Command::new("sipp").arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status() {
            Ok(_) => {}
            Err(_) => return Err("sipp is not installed: apt-get install sip-tester (scripts/test does)".into()),
        }
        if !Path::new(RTP_PCAP).exists() {
            return Err(format!("{RTP_PCAP} is missing: it comes with the sip-tester package"));
        }
        let ns =
            |prefix: &str| Netns::create(prefix).map_err(|e| format!("{e} (the HIL suite needs root and iproute2)"));
        let (up, core, gw, lan) = (ns("dkup")?, ns("dkcore")?, ns("dkgw")?, ns("dklan")?);
        let e = |e: crate::netns::NetnsError| e.to_string();
        // A 9000-byte MTU lets oversized (jumbo) frames through unfragmented.
        core.veth_to(CAPTURE, &up, "u0", 9_000).map_err(e)?;
        core.veth_to("c-gw", &gw, "g0", 9_000).map_err(e)?;
        core.veth_to("c-lan", &lan, "l0", 9_000).map_err(e)?;
        core.addr(CAPTURE, "198.51.100.1/24").map_err(e)?;
        core.addr("c-gw", "10.77.0.1/24").map_err(e)?;
        core.addr("c-lan", "10.77.1.1/24").map_err(e)?;
        for a in [OVERSEAS, SOFTSWITCH] {
            up.addr("u0", &format!("{a}/24")).map_err(e)?;
        }
        gw.addr("g0", &format!("{GATEWAY}/24")).map_err(e)?;
        for a in [PBX, DIALLER, RADIO].iter().chain(PHONES.iter()) {
            lan.addr("l0", &format!("{a}/24")).map_err(e)?;
        }
        up.ip(&["route", "add", "10.77.0.0/16", "via", "198.51.100.1"]).map_err(e)?;
        gw.ip(&["route", "add", "default", "via", "10.77.0.1"]).map_err(e)?;
        lan.ip(&["route", "add", "default", "via", "10.77.1.1"]).map_err(e)?;
        core.sysctl("net.ipv4.ip_forward", "1").map_err(e)?;
        let dir = tempfile::Builder::new().prefix("duanka-hil-").tempdir().map_err(io_err("a temporary directory"))?;
        Ok(Lab { up, core, gw, lan, dir })
    }

    /// The lab's working directory (sipp files and logs, the agent's store, the probe's config).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The agent's data directory.
    pub fn agent_data(&self) -> PathBuf {
        self.dir().join("agent")
    }

    /// Starts the agent in `core` (the same store each time).
    pub fn start_agent(&self) -> Agent {
        harness::start_agent_with(&self.agent_data(), AGENT_LISTEN, self.core.command(harness::agent_bin()))
    }

    /// Writes the probe's config: capture on [`CAPTURE`], GSMTAP on
    /// [`GSMTAP`], reports every 0.5 s, `extra` appended (e.g. a `[board]`).
    pub fn probe_config(&self, agent: &Agent, token: &str, extra: &str) -> PathBuf {
        let sources = format!(
            "[capture]\ninterfaces = [\"{CAPTURE}\"]\nreport_interval_s = 0.5\n[gsmtap]\nlisten = \"{GSMTAP}\"\n{extra}"
        );
        harness::probe_config(self.dir(), &sources, agent, token, METRICS)
    }

    /// Starts the probe in `core`.
    pub fn start_probe(&self, config: &Path) -> Probe {
        harness::start_probe(self.core.command(harness::probe_bin()), config)
    }

    /// The probe's `/metrics` page.
    pub fn metrics(&self) -> String {
        self.core.enter(|| harness::metrics(METRICS)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// An API token of `role` and a GET of `path` (e.g. `/api/v1/cases`) from inside `core`.
    pub fn api_get(&self, agent: &Agent, token: &str, path: &str) -> serde_json::Value {
        let url = format!("{}{path}", agent.url);
        let cert = agent.cert();
        self.core.enter(|| harness::api_get(&url, &cert, token)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends `datagrams` to `to` from `from` (an address of `ns`).
    pub fn udp(&self, ns: &Netns, from: &str, to: &str, datagrams: &[Vec<u8>]) {
        ns.enter(|| {
            let s = UdpSocket::bind(format!("{from}:0")).unwrap_or_else(|e| panic!("binding {from}: {e}"));
            for d in datagrams {
                s.send_to(d, to).unwrap_or_else(|e| panic!("sending to {to}: {e}"));
                // A sender never outruns the receiver's socket buffer.
                std::thread::sleep(Duration::from_micros(200));
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// GSMTAP datagrams to the probe, from a receiver in `lan`.
    pub fn gsmtap(&self, datagrams: &[Vec<u8>]) {
        self.udp(&self.lan, RADIO, GSMTAP, datagrams);
    }

    /// Writes scenario `name` filled in with `vars` (`@KEY@` → value; a
    /// `@UA_LINE@` line is removed when its value is empty) and returns its path.
    fn scenario(&self, name: &str, file: &str, vars: &[(&str, &str)]) -> Result<PathBuf, String> {
        let template =
            SCENARIOS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).ok_or(format!("no sipp scenario {name}"))?;
        let mut text = template.replace("@RTP_PCAP@", RTP_PCAP);
        for (k, v) in vars {
            if v.is_empty() {
                text = text.replace(&format!("@{k}@\n"), "");
            }
            text = text.replace(&format!("@{k}@"), v);
        }
        if let Some(left) = unfilled(&text) {
            return Err(format!("sipp scenario {name}: placeholder @{left}@ left unfilled"));
        }
        let path = self.dir().join(file);
        fs::write(&path, text).map_err(io_err(path.display()))?;
        Ok(path)
    }

    /// Writes a sipp injection file (`SEQUENTIAL`, one field per line).
    fn injection(&self, file: &str, rows: &[String]) -> Result<PathBuf, String> {
        let path = self.dir().join(file);
        let mut text = String::from("SEQUENTIAL\n");
        for r in rows {
            text.push_str(r);
            text.push('\n');
        }
        fs::write(&path, text).map_err(io_err(path.display()))?;
        Ok(path)
    }

    /// Starts sipp in `ns`, bound to `ip:5060` with media on `ip`, its logs in the lab directory.
    fn sipp(&self, ns: &Netns, name: &str, ip: &str, args: &[&str]) -> Result<Sipp, String> {
        let log = self.dir().join(format!("sipp-{name}.log"));
        let stderr = fs::File::create(&log).map_err(io_err(log.display()))?;
        let child = ns
            .command("sipp")
            .args(["-i", ip, "-p", "5060", "-mi", ip, "-nostdin", "-trace_err"])
            .args(args)
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(io_err(format!("starting sipp ({name})")))?;
        Ok(Sipp { child, name: name.to_string(), log })
    }

    /// The overseas softswitch: takes the GoIP's registrations and sends it
    /// `calls` calls (`rate` per second, at most `lines` at once, each
    /// `call_ms` long) to distinct domestic mobile numbers. Start it before
    /// [`Lab::goip`]: the first call waits 2 s for the lines to register.
    pub fn overseas_softswitch(&self, calls: usize, rate: f64, lines: usize, call_ms: u64) -> Result<Sipp, String> {
        let mut rng = SmallRng::seed_from_u64(8);
        let callees: Vec<String> = (0..calls.max(1)).map(|_| ids::cn_mobile(&mut rng)).collect();
        let inf = self.injection("overseas-callees.csv", &callees)?;
        let call_ms = call_ms.to_string();
        // The softswitch feeding gateways sends no User-Agent (SPEC 3.1).
        let vars = [("UA_LINE", ""), ("CALLER", "85261234567"), ("SESSION", "SIP Call"), ("CALL_MS", &call_ms)];
        let calls_xml = self.scenario("calls.xml", "overseas-calls.xml", &vars)?;
        let answer = self.scenario("answer.xml", "overseas-answer.xml", &[("UA_LINE", ""), ("SESSION", "SIP Call")])?;
        let target = format!("{GATEWAY}:5060");
        let (rate, calls, lines) = (format!("{rate}"), calls.to_string(), lines.to_string());
        let args = [
            target.as_str(),
            "-sf",
            path_str(&calls_xml),
            "-oocsf",
            path_str(&answer),
            "-inf",
            path_str(&inf),
            "-r",
            &rate,
            "-m",
            &calls,
            "-l",
            &lines,
            "-rp",
            "1000",
        ];
        let sipp = self.sipp(&self.up, "overseas", OVERSEAS, &args)?;
        // Its first calls would find no registered line.
        std::thread::sleep(Duration::from_secs(2));
        Ok(sipp)
    }

    /// The GoIP: sipp registering `imsis.len()` lines and answering calls,
    /// and each line's SMS-server keep-alive every 2 s with its SIM.
    pub fn goip(&self, imsis: &[String]) -> Result<Goip, String> {
        let lines: Vec<String> = (1..=imsis.len()).map(|i| format!("800{i}")).collect();
        let inf = self.injection("goip-lines.csv", &lines)?;
        let register = self.scenario("goip-register.xml", "goip-register.xml", &[])?;
        let answer = self.scenario("goip-answer.xml", "goip-answer.xml", &[])?;
        let target = format!("{OVERSEAS}:5060");
        let n = imsis.len().to_string();
        let args = [
            target.as_str(),
            "-sf",
            path_str(&register),
            "-oocsf",
            path_str(&answer),
            "-inf",
            path_str(&inf),
            "-r",
            "10",
            "-m",
            &n,
            "-l",
            &n,
        ];
        let sipp = self.sipp(&self.gw, "goip", GATEWAY, &args)?;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let server = {
            let stop = stop.clone();
            let socket = self
                .up
                .enter(|| UdpSocket::bind((OVERSEAS, SMS_SERVER_PORT)))
                .map_err(|e| e.to_string())?
                .map_err(io_err("the SMS server's socket"))?;
            self.up.spawn(move || sms_server(&socket, &stop)).map_err(|e| e.to_string())?
        };
        let mut rng = SmallRng::seed_from_u64(44);
        let sims: Vec<GoipSim> = imsis
            .iter()
            .enumerate()
            .map(|(i, imsi)| {
                let (_, iccid) = ids::sim_identity(&mut rng, "00");
                GoipSim { line: i + 1, imsi: imsi.clone(), iccid, imei: ids::imei(&mut rng, ids::MODEM_TACS[0]) }
            })
            .collect();
        let keepalives = {
            let (stop, sent, sims) = (stop.clone(), sent.clone(), sims.clone());
            self.gw.spawn(move || keepalive_loop(&sims, &stop, &sent)).map_err(|e| e.to_string())?
        };
        Ok(Goip { sipp, sims, stop, sent, threads: vec![server, keepalives] })
    }

    /// Legitimate traffic through the same link: the carrier's softswitch
    /// (answers everyone, and calls into the PBX), a PBX trunk calling a
    /// few numbers, long calls; a predictive dialler making short calls to
    /// many numbers; softphones that register and call. Runs about
    /// `seconds` (the processes end by themselves; drop them to stop early).
    pub fn legitimate_traffic(&self, seconds: u64) -> Result<Vec<Sipp>, String> {
        let mut rng = SmallRng::seed_from_u64(99);
        let mut out = Vec::new();
        let answer = |file: &str, ua: &str, session: &str| {
            let ua = if ua.is_empty() { String::new() } else { format!("User-Agent: {ua}") };
            self.scenario("answer.xml", file, &[("UA_LINE", &ua), ("SESSION", session)])
        };
        let calls = |file: &str, ua: &str, caller: &str, call_ms: u64| {
            let ua = format!("User-Agent: {ua}");
            let ms = call_ms.to_string();
            self.scenario(
                "calls.xml",
                file,
                &[("UA_LINE", &ua), ("CALLER", caller), ("SESSION", "call"), ("CALL_MS", &ms)],
            )
        };
        // The carrier's softswitch: answers, and delivers calls to the PBX's DIDs.
        let carrier_ua = "Kamailio (5.6.4 (x86_64/linux))";
        let sw_answer = answer("softswitch-answer.xml", carrier_ua, "Kamailio")?;
        let sw_calls = calls("softswitch-calls.xml", carrier_ua, "13800000000", 6_000)?;
        let dids: Vec<String> = (0..5).map(|i| format!("07558800{i:03}")).collect();
        let inf = self.injection("softswitch-dids.csv", &dids)?;
        let n = (seconds / 8).max(1).to_string();
        let pbx_target = format!("{PBX}:5060");
        out.push(self.sipp(
            &self.up,
            "softswitch",
            SOFTSWITCH,
            &[
                &pbx_target,
                "-sf",
                path_str(&sw_calls),
                "-oocsf",
                path_str(&sw_answer),
                "-inf",
                path_str(&inf),
                "-r",
                "1",
                "-rp",
                "8000",
                "-m",
                &n,
            ],
        )?);
        std::thread::sleep(Duration::from_millis(300));
        let sw_target = format!("{SOFTSWITCH}:5060");
        // The PBX trunk: a handful of regular callees, long calls, both ways.
        let pbx_ua = "FPBX-16.0.40(18.20.0)";
        let pbx_answer = answer("pbx-answer.xml", pbx_ua, "Asterisk PBX 18.20.0")?;
        let pbx_calls = calls("pbx-calls.xml", pbx_ua, "075588001000", 8_000)?;
        let regulars: Vec<String> = (0..4).map(|_| ids::cn_mobile(&mut rng)).collect();
        let mut callees = Vec::new();
        for i in 0..40 {
            callees.push(regulars[i % regulars.len()].clone());
        }
        let inf = self.injection("pbx-callees.csv", &callees)?;
        let n = (seconds / 3).max(1).to_string();
        out.push(self.sipp(
            &self.lan,
            "pbx",
            PBX,
            &[
                &sw_target,
                "-sf",
                path_str(&pbx_calls),
                "-oocsf",
                path_str(&pbx_answer),
                "-inf",
                path_str(&inf),
                "-r",
                "1",
                "-rp",
                "3000",
                "-m",
                &n,
            ],
        )?);
        // The call centre's dialler: many distinct numbers, short calls, several at once.
        let dialler_calls = calls("dialler-calls.xml", "Asterisk PBX 16.30.0", "075512345678", 1_500)?;
        let dialler_answer = answer("dialler-answer.xml", "Asterisk PBX 16.30.0", "Asterisk PBX 16.30.0")?;
        let many: Vec<String> = (0..400).map(|_| ids::cn_mobile(&mut rng)).collect();
        let inf = self.injection("dialler-callees.csv", &many)?;
        let n = (seconds * 3).to_string();
        out.push(self.sipp(
            &self.lan,
            "dialler",
            DIALLER,
            &[
                &sw_target,
                "-sf",
                path_str(&dialler_calls),
                "-oocsf",
                path_str(&dialler_answer),
                "-inf",
                path_str(&inf),
                "-r",
                "3",
                "-l",
                "8",
                "-m",
                &n,
            ],
        )?);
        // Softphones: register, then a call now and then to someone they know.
        for (k, (ip, ua)) in
            PHONES.iter().zip(["Linphone/5.2.5 (belle-sip/5.2.0)", "Zoiper rv2.10.20.5", "MicroSIP/3.21.3"]).enumerate()
        {
            let user = format!("10{k}");
            let ua_line = format!("User-Agent: {ua}");
            let reg = self.scenario(
                "register.xml",
                &format!("phone{k}-register.xml"),
                &[("UA_LINE", &ua_line), ("CALLER", &user)],
            )?;
            let inf = self.injection(&format!("phone{k}-callees.csv"), &regulars[..2])?;
            let mut registration = self.sipp(
                &self.lan,
                &format!("phone{k}-register"),
                ip,
                &[&sw_target, "-sf", path_str(&reg), "-m", "1"],
            )?;
            registration.wait(Duration::from_secs(10))?;
            let phone_calls = calls(&format!("phone{k}-calls.xml"), ua, &user, 5_000)?;
            let phone_answer = answer(&format!("phone{k}-answer.xml"), ua, "Talk")?;
            let n = (seconds / 15).max(1).to_string();
            out.push(self.sipp(
                &self.lan,
                &format!("phone{k}"),
                ip,
                &[
                    &sw_target,
                    "-sf",
                    path_str(&phone_calls),
                    "-oocsf",
                    path_str(&phone_answer),
                    "-inf",
                    path_str(&inf),
                    "-r",
                    "1",
                    "-rp",
                    "15000",
                    "-m",
                    &n,
                ],
            )?);
        }
        Ok(out)
    }
}

/// The first `@NAME@` placeholder (capitals and `_`) left in `text`.
fn unfilled(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let after = &rest[at + 1..];
        let len = after.bytes().take_while(|b| b.is_ascii_uppercase() || *b == b'_').count();
        if len > 0 && after.as_bytes().get(len) == Some(&b'@') {
            return Some(&after[..len]);
        }
        rest = after;
    }
    None
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// A sipp process; killed when dropped.
#[derive(Debug)]
pub struct Sipp {
    child: Child,
    name: String,
    log: PathBuf,
}

impl Sipp {
    /// Waits for sipp to finish, at most `limit`; fails if it did not
    /// finish or finished with an error (its exit code and log named).
    pub fn wait(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                // 0: all calls succeeded; 1: at least one failed (sipp's own codes).
                Ok(Some(s)) if s.code() == Some(0) => return Ok(()),
                Ok(Some(s)) => {
                    let log = fs::read_to_string(&self.log).unwrap_or_default();
                    return Err(format!("sipp {} ended with {s}: {}", self.name, log.trim()));
                }
                Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                Ok(None) => return Err(format!("sipp {} still running after {limit:?}", self.name)),
                Err(e) => return Err(format!("sipp {}: {e}", self.name)),
            }
        }
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its name in the lab.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line of the GoIP and its SIM.
#[derive(Debug, Clone)]
pub struct GoipSim {
    /// Line number, from 1.
    pub line: usize,
    /// The SIM's IMSI.
    pub imsi: String,
    /// The SIM's ICCID.
    pub iccid: String,
    /// The line's GSM module IMEI (a Quectel module TAC).
    pub imei: String,
}

/// The running GoIP: sipp and its control plane; stopped when dropped.
#[derive(Debug)]
pub struct Goip {
    /// The sipp process (registrations and answered calls).
    pub sipp: Sipp,
    /// Its lines.
    pub sims: Vec<GoipSim>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Goip {
    /// Keep-alives sent so far.
    pub fn keepalives_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Goip {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Each line's keep-alive to the SMS server every 2 s, from its own port.
fn keepalive_loop(sims: &[GoipSim], stop: &AtomicBool, sent: &AtomicU64) {
    let server = SocketAddr::from(([198, 51, 100, 10], SMS_SERVER_PORT));
    let sockets: Vec<UdpSocket> =
        sims.iter().filter_map(|s| UdpSocket::bind((GATEWAY, 9_990 + s.line as u16)).ok()).collect();
    let mut req = 0u32;
    while !stop.load(Ordering::Relaxed) {
        req += 1;
        for (sim, socket) in sims.iter().zip(&sockets) {
            let k = format!(
                "req:{req};id:goip{line};pass:line{line}secret;num:;signal:{signal};gsm_status:LOGIN;voip_status:LOGIN;\
                 voip_state:IDLE;remain_time:-1;imei:{imei};imsi:{imsi};iccid:{iccid};pro:CHINA MOBILE;idle:{idle};\
                 disable_status:0;SMS_LOGIN:N;SMS_STATE:;CELLINFO:LAC:2A3B,CELL ID:{cell:04X};CGATT:Y;",
                line = sim.line,
                signal = 20 + sim.line % 10,
                imei = sim.imei,
                imsi = sim.imsi,
                iccid = sim.iccid,
                idle = 2 * req,
                cell = 0x1A20 + sim.line,
            );
            if socket.send_to(k.as_bytes(), server).is_ok() {
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        for _ in 0..20 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The GoIP SMS server: answers each keep-alive `req:N;…` with `reg:N;status:200;`.
fn sms_server(socket: &UdpSocket, stop: &AtomicBool) {
    let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else { continue };
        let text = String::from_utf8_lossy(&buf[..n]);
        if let Some(req) = text.strip_prefix("req:").and_then(|r| r.split(';').next()) {
            let _ = socket.send_to(format!("reg:{req};status:200;").as_bytes(), from);
        }
    }
}
