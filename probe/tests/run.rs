//! `duanka-probe run` as a real process against a real `duanka-agent serve`,
//! all on loopback: GSMTAP datagrams (good, garbage and oversized) reach the
//! agent as events, the probe keeps running and counts the bad ones in
//! `/metrics`, and SIGTERM stops it cleanly within 5 s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn agent_bin() -> PathBuf {
    let probe = PathBuf::from(env!("CARGO_BIN_EXE_duanka-probe"));
    let agent = probe.with_file_name("duanka-agent");
    assert!(agent.exists(), "missing {}: build it first with `cargo build -p duanka-agent`", agent.display());
    agent
}

struct Agent {
    child: Child,
    fingerprint: String,
    url: String,
    data: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_agent(data: &Path) -> Agent {
    let mut child = Command::new(agent_bin())
        .args(["serve", "--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"])
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

fn add_probe(data: &Path) -> String {
    let out =
        Command::new(agent_bin()).args(["probe", "add", "edge-1", "--data", data.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().last().unwrap().trim().to_string()
}

fn agent_events(agent: &Agent) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(agent.data.join("agent.db")).unwrap();
    let mut st = db.prepare("SELECT event_id, kind FROM events ORDER BY id").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn metrics(addr: &str) -> String {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut s = String::new();
    tcp.read_to_string(&mut s).unwrap();
    s
}

fn metric(page: &str, name: &str) -> u64 {
    page.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or_else(|| panic!("{name} in {page}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A GSMTAP v2 ABIS datagram carrying a Location Updating Request for `imsi`.
fn lu_request(imsi: &str) -> Vec<u8> {
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

#[test]
fn gsmtap_to_agent_with_garbage_counted_and_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&dir.path().join("agent"));
    let token = add_probe(&agent.data);
    let gsmtap_port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("probe.toml");
    std::fs::write(
        &config,
        format!(
            "[gsmtap]\nlisten = \"127.0.0.1:{gsmtap_port}\"\n[capture]\nreport_interval_s = 0.5\n\
             [agent]\nurl = \"{}\"\ntoken = \"{token}\"\nfingerprint = \"{}\"\n\
             [spool]\npath = \"spool.db\"\nmax_events = 10000\n[heartbeat]\ninterval_s = 1\n\
             [metrics]\nlisten = \"{metrics_addr}\"\n",
            agent.url, agent.fingerprint
        ),
    )
    .unwrap();
    let mut probe = Command::new(env!("CARGO_BIN_EXE_duanka-probe"))
        .args(["run", "--config", config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(probe.stdout.take().unwrap()).lines();
    assert!(out.next().unwrap().unwrap().starts_with("gsmtap listening on"));
    assert!(out.next().unwrap().unwrap().starts_with("metrics on"));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = format!("127.0.0.1:{gsmtap_port}");
    for imsi in ["460001234567890", "460009876543210"] {
        sock.send_to(&lu_request(imsi), &target).unwrap();
    }
    sock.send_to(&[0xff; 7], &target).unwrap();
    sock.send_to(&vec![0x02; 9_000], &target).unwrap();
    // Heartbeats and the cell side arrive.
    let deadline = Instant::now() + Duration::from_secs(15);
    let events = loop {
        let events = agent_events(&agent);
        let kinds: Vec<&str> = events.iter().map(|(_, k)| k.as_str()).collect();
        if kinds.contains(&"heartbeat") && kinds.iter().filter(|k| **k == "subscriber").count() >= 2 {
            break events;
        }
        assert!(Instant::now() < deadline, "agent got only {events:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(events.iter().any(|(id, k)| k == "subscriber" && id.contains(":sub:460001234567890:")), "{events:?}");
    let page = metrics(&metrics_addr);
    assert_eq!(metric(&page, "duanka_gsmtap_oversized_total"), 1, "{page}");
    assert!(metric(&page, "duanka_packets_total") >= 4, "{page}");
    assert!(page.contains("duanka_uplink_state{state=\"up\"} 1"), "{page}");
    assert_eq!(probe.try_wait().unwrap(), None, "the probe keeps running after garbage");

    let pid = probe.id().to_string();
    let t = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = probe.wait().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "stopped in {:?}", t.elapsed());
    assert_eq!(status.code(), Some(0));
    let ids: Vec<String> = agent_events(&agent).into_iter().map(|(id, _)| id).collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no event stored twice");
}

#[test]
fn config_errors_name_the_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("probe.toml");
    std::fs::write(&config, "[gsmtap]\n[agent]\nurl = \"https://a:1\"\ntoken = \"t\"\n[spool]\npath = \"s.db\"\n")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_duanka-probe"))
        .args(["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("agent.fingerprint: missing"), "{err}");
}
