//! What the tests with real binaries share: a real `duanka-agent serve`, a
//! probe enrolled with it, the agent's stored events, the probe's
//! `/metrics`, and GSMTAP datagrams to feed it. Every test file uses a part.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The agent binary, built beside the probe's.
pub fn agent_bin() -> PathBuf {
    let probe = PathBuf::from(env!("CARGO_BIN_EXE_duanka-probe"));
    let agent = probe.with_file_name("duanka-agent");
    assert!(agent.exists(), "missing {}: build it first with `cargo build -p duanka-agent`", agent.display());
    agent
}

/// A running agent; killed when dropped.
pub struct Agent {
    pub child: Child,
    pub fingerprint: String,
    pub url: String,
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
}

/// Starts `duanka-agent serve` on `listen` with its store in `data`, through
/// `wrap` (e.g. `ip netns exec NS`) when given.
pub fn start_agent_with(data: &Path, listen: &str, mut command: Command) -> Agent {
    let mut child = command
        .args(["serve", "--data", data.to_str().unwrap(), "--listen", listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let fingerprint = lines.next().unwrap().unwrap().trim_start_matches("fingerprint: ").to_string();
    let url = lines.next().unwrap().unwrap().trim_start_matches("listening on ").to_string();
    std::thread::spawn(move || for _ in lines {});
    Agent { child, fingerprint, url, data: data.to_path_buf() }
}

/// Starts the agent on a loopback port of its choosing.
pub fn start_agent(data: &Path) -> Agent {
    start_agent_with(data, "127.0.0.1:0", Command::new(agent_bin()))
}

/// Enrols probe `edge-1`; returns its token.
pub fn add_probe(data: &Path) -> String {
    let out =
        Command::new(agent_bin()).args(["probe", "add", "edge-1", "--data", data.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().last().unwrap().trim().to_string()
}

/// (event id, kind) of every event the agent stored, in arrival order.
pub fn agent_events(data: &Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(data.join("agent.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut st = db.prepare("SELECT event_id, kind FROM events ORDER BY id").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
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
    let mut seen = std::collections::HashSet::new();
    for (id, _) in events {
        assert!(seen.insert(id), "event {id} stored twice");
    }
}

/// `GET /metrics` from `addr`.
pub fn metrics(addr: &str) -> String {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut s = String::new();
    tcp.read_to_string(&mut s).unwrap();
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
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A GSMTAP v2 ABIS datagram carrying a Location Updating Request for `imsi`.
pub fn lu_request(imsi: &str) -> Vec<u8> {
    let digits: Vec<u8> = imsi.bytes().map(|b| b - b'0').collect();
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

/// A probe config: `sources` (the `[capture]` and `[gsmtap]` lines), the
/// agent, a spool in `dir`, heartbeats every second, metrics on `metrics`.
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
    .unwrap();
    config
}

/// A running probe; killed when dropped.
pub struct Probe {
    pub child: Child,
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `duanka-probe run --config CONFIG` through `command` and waits
/// until it serves metrics (its last start-up line).
pub fn start_probe(mut command: Command, config: &Path) -> Probe {
    let mut child = command
        .args(["run", "--config", config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match out.next() {
            Some(Ok(line)) if line.starts_with("metrics on") => break,
            Some(Ok(_)) => {}
            _ => panic!("the probe ended before serving metrics: {:?}", child.wait()),
        }
    }
    std::thread::spawn(move || for _ in out {});
    Probe { child }
}
