//! The real binaries under test: a `duanka-agent serve` with its store, a
//! `duanka-probe run` enrolled with it, and what a test reads back from them
//! (the agent's stored events, its HTTPS API, the probe's `/metrics`).
//!
//! Binaries are found beside the running test executable
//! (`target/<profile>/`), where `cargo test --workspace` builds them; a
//! missing one fails the test naming the build command. Processes are
//! killed when their handle drops, so a failing test leaves nothing running
//! (and [`crate::netns::Netns`] kills whatever is left in its namespace).
//!
//! These helpers panic with a message instead of returning errors: they
//! serve tests, where a panic is the failure report.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace binary `name` (`duanka-agent`, `duanka-probe`, `duanka-sim`),
/// built beside the test executable.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("the test executable sits in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "missing {}: build it first (`cargo build --workspace`, or run the tests with `cargo test --workspace`)",
        path.display()
    );
    path
}

/// The agent binary.
pub fn agent_bin() -> PathBuf {
    bin("duanka-agent")
}

/// The probe binary.
pub fn probe_bin() -> PathBuf {
    bin("duanka-probe")
}

/// A running agent; killed when dropped.
#[derive(Debug)]
pub struct Agent {
    /// The process.
    pub child: Child,
    /// SHA-256 of its certificate, as it printed it.
    pub fingerprint: String,
    /// Its base URL (`https://ADDR`).
    pub url: String,
    /// Its data directory.
    pub data: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    /// Stops the agent with SIGTERM and waits for it.
    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }

    /// The certificate the agent serves (self-signed in `data`), for a client to trust.
    pub fn cert(&self) -> PathBuf {
        self.data.join("tls").join("cert.pem")
    }
}

/// Starts `duanka-agent serve` on `listen` with its store in `data`;
/// `command` runs the agent binary (e.g. `Netns::command(agent_bin())`).
pub fn start_agent_with(data: &Path, listen: &str, mut command: Command) -> Agent {
    let mut child = command
        .args(["serve", "--data", data.to_str().expect("a UTF-8 path"), "--listen", listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the agent: {e}"));
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut next = |what: &str| match lines.next() {
        Some(Ok(line)) => line,
        _ => panic!("the agent ended before printing its {what}: {:?}", child.try_wait()),
    };
    let fingerprint = next("fingerprint").trim_start_matches("fingerprint: ").to_string();
    let url = next("address").trim_start_matches("listening on ").to_string();
    std::thread::spawn(move || for _ in lines {});
    Agent { child, fingerprint, url, data: data.to_path_buf() }
}

/// Starts the agent on a loopback port of its choosing.
pub fn start_agent(data: &Path) -> Agent {
    start_agent_with(data, "127.0.0.1:0", Command::new(agent_bin()))
}

fn agent_cli(data: &Path, args: &[&str]) -> String {
    let out = Command::new(agent_bin())
        .args(args)
        .args(["--data", data.to_str().expect("a UTF-8 path")])
        .output()
        .unwrap_or_else(|e| panic!("cannot run duanka-agent: {e}"));
    assert!(out.status.success(), "duanka-agent {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Enrols probe `edge-1`; returns its token.
pub fn add_probe(data: &Path) -> String {
    agent_cli(data, &["probe", "add", "edge-1"]).lines().last().expect("the token line").trim().to_string()
}

/// Makes an API token with `role` (`analyst`, `admin`, …); returns it.
pub fn add_api_token(data: &Path, role: &str) -> String {
    agent_cli(data, &["token", "add", "--role", role]).lines().last().expect("the token line").trim().to_string()
}

/// `GET url` over HTTPS with `curl`, trusting `cert` and sending `token`;
/// the parsed JSON body. Fails on a transport error or a non-2xx status.
pub fn api_get(url: &str, cert: &Path, token: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--max-time", "10", "--cacert"])
        .arg(cert)
        .args(["-H", &format!("Authorization: Bearer {token}"), url])
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl ({e}): apt-get install curl"));
    assert!(
        out.status.success(),
        "GET {url}: {} {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e})"))
}

fn open_store(data: &Path) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_with_flags(data.join("agent.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("the agent's store in {}: {e}", data.display()));
    db.busy_timeout(Duration::from_secs(5)).expect("a busy timeout");
    db
}

/// (event id, kind) of every event the agent stored, in arrival order.
pub fn agent_events(data: &Path) -> Vec<(String, String)> {
    let db = open_store(data);
    let mut st = db.prepare("SELECT event_id, kind FROM events ORDER BY id").expect("the events table");
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("a query of events");
    rows.map(|r| r.expect("an event row")).collect()
}

/// The bodies (JSON) of the agent's stored events of `kind`, in arrival order.
pub fn agent_event_bodies(data: &Path, kind: &str) -> Vec<serde_json::Value> {
    let db = open_store(data);
    let mut st = db.prepare("SELECT body_json FROM events WHERE kind = ?1 ORDER BY id").expect("the events table");
    let rows = st.query_map([kind], |r| r.get::<_, String>(0)).expect("a query of events");
    rows.map(|r| serde_json::from_str(&r.expect("an event row")).expect("a JSON event body")).collect()
}

/// Polls `check` every 200 ms until it returns `Some`, or fails after
/// `limit` naming `what`.
pub fn wait_until<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(t) = check() {
            return t;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Polls `check` over the agent's events every 200 ms until it returns
/// `Some`, or fails after `limit` naming `what` and listing the kinds seen.
pub fn wait_for_events<T>(
    data: &Path,
    limit: Duration,
    what: &str,
    mut check: impl FnMut(&[(String, String)]) -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let events = agent_events(data);
        if let Some(t) = check(&events) {
            return t;
        }
        if Instant::now() > deadline {
            let mut kinds: Vec<&str> = events.iter().map(|(_, k)| k.as_str()).collect();
            kinds.dedup();
            panic!("{what}: not within {limit:?}; the agent has {} events ({kinds:?})", events.len());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Fails if the agent stored any event id twice.
pub fn assert_no_duplicates(events: &[(String, String)]) {
    let mut seen = HashSet::new();
    for (id, _) in events {
        assert!(seen.insert(id), "event {id} stored twice");
    }
}

/// Subscriber event ids by IMSI.
pub fn subscribers(data: &Path) -> BTreeMap<String, Vec<String>> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, kind) in agent_events(data) {
        if kind == "subscriber" {
            if let Some(imsi) = id.split(":sub:").nth(1).and_then(|r| r.split(':').next()) {
                by.entry(imsi.to_string()).or_default().push(id);
            }
        }
    }
    by
}

/// Whether every one of `want` arrived as a subscriber event; fails if
/// any arrived twice.
pub fn all_subscribers_once(data: &Path, want: &[String]) -> bool {
    let got = subscribers(data);
    for imsi in want {
        if let Some(ids) = got.get(imsi) {
            assert_eq!(ids.len(), 1, "subscriber {imsi} stored {} times: {ids:?}", ids.len());
        }
    }
    want.iter().all(|i| got.contains_key(i))
}

/// Heartbeat numbers by probe boot.
pub fn heartbeats(data: &Path) -> BTreeMap<u64, BTreeSet<u64>> {
    let mut by: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for (id, kind) in agent_events(data) {
        if kind == "heartbeat" {
            let mut parts = id.rsplit(':');
            let (Some(seq), Some(boot)) = (parts.next(), parts.next()) else { continue };
            if let (Ok(boot), Ok(seq)) = (boot.parse(), seq.parse()) {
                by.entry(boot).or_default().insert(seq);
            }
        }
    }
    by
}

/// Fails unless each boot's heartbeats are numbered 1..=N without a gap.
pub fn assert_heartbeats_contiguous(data: &Path) {
    for (boot, seqs) in heartbeats(data) {
        assert!(seqs.iter().copied().eq(1..=seqs.len() as u64), "boot {boot}: heartbeats with a gap: {seqs:?}");
    }
}

/// `GET /metrics` from `addr`.
pub fn metrics(addr: &str) -> String {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("the probe's metrics at {addr}: {e}"));
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("a metrics request");
    let mut s = String::new();
    tcp.read_to_string(&mut s).expect("the metrics page");
    s
}

/// The value of the unlabelled metric `name`.
pub fn metric(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {page}"))
}

/// The sum of every labelled series of metric `name`.
pub fn metric_sum(page: &str, name: &str) -> u64 {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    l.local_addr().expect("its address").port()
}

/// A GSMTAP v2 ABIS datagram carrying a Location Updating Request for
/// `imsi` (15 digits) in 460-00, LAC 0x1234.
pub fn lu_request(imsi: &str) -> Vec<u8> {
    let digits: Vec<u8> = imsi.bytes().map(|b| b.wrapping_sub(b'0') & 0x0f).collect();
    let mut mi = vec![(digits[0] << 4) | 0x08 | 0x01];
    for pair in digits[1..].chunks(2) {
        mi.push(pair[0] | (pair.get(1).copied().unwrap_or(0xf) << 4));
    }
    // MM LU Request: PD MM 0x05, type 0x08, LU type, CKSN, LAI (460-00, LAC 0x1234), MS class 1, MI.
    let mut l3 = vec![0x05, 0x08, 0x00, 0x64, 0xf0, 0x00, 0x12, 0x34, 0x33];
    l3.push(mi.len() as u8);
    l3.extend_from_slice(&mi);
    let mut d = vec![2, 4, 0x02, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    d.extend_from_slice(&l3);
    d
}

/// Writes a probe config into `dir/probe.toml`: `sources` (the `[capture]`,
/// `[gsmtap]` and `[board]` sections), the agent, a spool in `dir`,
/// heartbeats every second, metrics on `metrics`.
pub fn probe_config(dir: &Path, sources: &str, agent: &Agent, token: &str, metrics: &str) -> PathBuf {
    let config = dir.join("probe.toml");
    std::fs::write(
        &config,
        format!(
            "{sources}\n[agent]\nurl = \"{}\"\ntoken = \"{token}\"\nfingerprint = \"{}\"\n\
             [spool]\npath = \"spool.db\"\nmax_events = 100000\n[heartbeat]\ninterval_s = 1\n\
             [metrics]\nlisten = \"{metrics}\"\n",
            agent.url, agent.fingerprint
        ),
    )
    .unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
    config
}

/// A running probe; killed when dropped.
#[derive(Debug)]
pub struct Probe {
    /// The process.
    pub child: Child,
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Probe {
    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Starts `duanka-probe run --config CONFIG` through `command` (which runs
/// the probe binary) and waits until it serves metrics (its last start-up
/// line). Its log goes to CONFIG with the extension `.log`.
pub fn start_probe(mut command: Command, config: &Path) -> Probe {
    // Its log beside its config, appended across restarts, and shown if it fails to start.
    let log = config.with_extension("log");
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let mut child = command
        .args(["run", "--config", config.to_str().expect("a UTF-8 path")])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the probe: {e}"));
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    loop {
        match out.next() {
            Some(Ok(line)) if line.starts_with("metrics on") => break,
            Some(Ok(_)) => {}
            _ => panic!(
                "the probe ended before serving metrics ({:?}): {}",
                child.wait(),
                std::fs::read_to_string(&log).unwrap_or_default().trim()
            ),
        }
    }
    std::thread::spawn(move || for _ in out {});
    Probe { child }
}

/// Prints a line of the suite's report and appends it to
/// `target/hil-report.txt` (beside the build's profile directory), which
/// `scripts/test` shows after the tests.
pub fn report(line: &str) {
    eprintln!("{line}");
    let Ok(exe) = std::env::current_exe() else { return };
    let Some(target) = exe.parent().and_then(Path::parent).and_then(Path::parent) else { return };
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(target.join("hil-report.txt")) {
        let _ = writeln!(f, "{line}");
    }
}
