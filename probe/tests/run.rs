//! `duanka-probe run` as a real process against a real `duanka-agent serve`,
//! all on loopback: GSMTAP datagrams (good, garbage and oversized) reach the
//! agent as events, the probe keeps running and counts the bad ones in
//! `/metrics`, and SIGTERM stops it cleanly within 5 s; config errors.
//!
//! Live capture, the board and faults are the HIL suite's
//! (`hil-tests/tests/hil.rs`).

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn gsmtap_to_agent_with_garbage_counted_and_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&dir.path().join("agent"));
    let token = add_probe(&agent.data);
    let gsmtap_port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let sources = format!("[gsmtap]\nlisten = \"127.0.0.1:{gsmtap_port}\"\n[capture]\nreport_interval_s = 0.5\n");
    let config = probe_config(dir.path(), &sources, &agent, &token, &metrics_addr);
    let mut probe = start_probe(Command::new(env!("CARGO_BIN_EXE_duanka-probe")), &config);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = format!("127.0.0.1:{gsmtap_port}");
    for imsi in ["460001234567890", "460009876543210"] {
        sock.send_to(&lu_request(imsi), &target).unwrap();
    }
    sock.send_to(&[0xff; 7], &target).unwrap();
    sock.send_to(&vec![0x02; 9_000], &target).unwrap();
    // Heartbeats and the cell side arrive.
    let events = wait_for_events(&agent.data, Duration::from_secs(15), "a heartbeat and 2 subscribers", |events| {
        let kinds: Vec<&str> = events.iter().map(|(_, k)| k.as_str()).collect();
        (kinds.contains(&"heartbeat") && kinds.iter().filter(|k| **k == "subscriber").count() >= 2)
            .then(|| events.to_vec())
    });
    assert!(events.iter().any(|(id, k)| k == "subscriber" && id.contains(":sub:460001234567890:")), "{events:?}");
    let page = metrics(&metrics_addr);
    assert_eq!(metric(&page, "duanka_gsmtap_oversized_total"), 1, "{page}");
    assert!(metric(&page, "duanka_packets_total") >= 4, "{page}");
    assert!(page.contains("duanka_uplink_state{state=\"up\"} 1"), "{page}");
    assert_eq!(probe.child.try_wait().unwrap(), None, "the probe keeps running after garbage");

    let pid = probe.child.id().to_string();
    let t = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = probe.child.wait().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "stopped in {:?}", t.elapsed());
    assert_eq!(status.code(), Some(0));
    assert_no_duplicates(&agent_events(&agent.data));
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
