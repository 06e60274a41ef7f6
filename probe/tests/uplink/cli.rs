//! `duanka-probe analyze --agent` as a process, against the stand-in agent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use duanka_hil::sim::{write_scenario, SimConfig};
use duanka_shared::events::{capture_end, events_from_report, Event, MAX_BATCH_EVENTS};
use duanka_shared::report::{AnalysisReport, Verdict};
use sha2::{Digest, Sha256};

use crate::agent::{ServerCert, TestAgent, TOKEN};

/// Exit code for "could not deliver to the agent".
const EXIT_UPLOAD: i32 = 4;

fn probe() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_duanka-probe"));
    c.env_remove("DUANKA_TOKEN").env_remove("DUANKA_LOG");
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("duanka-probe runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A capture from the simulator: the basic scenario with the GoIP control
/// plane and the cell side (links, subscribers), or the mixed one.
fn capture(dir: &Path, name: &str, mixed: bool, seed: u64) -> PathBuf {
    let cfg = if mixed {
        SimConfig { seed, rtp: false, ..SimConfig::mixed() }
    } else {
        SimConfig {
            seed,
            rtp: false,
            control_plane: true,
            gsmtap: true,
            duration: Duration::from_secs(180),
            ..SimConfig::default()
        }
    };
    let path = dir.join(name);
    write_scenario(&cfg, std::fs::File::create(&path).unwrap()).unwrap();
    path
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The upload's name as the probe documents it: the one file's SHA-256, or
/// the SHA-256 of the sorted `digest size name` lines of several.
fn source_of(files: &[PathBuf]) -> String {
    let mut lines: Vec<String> = files
        .iter()
        .map(|p| {
            let data = std::fs::read(p).unwrap();
            format!("{} {} {}\n", sha256_hex(&data), data.len(), p.file_name().unwrap().to_string_lossy())
        })
        .collect();
    if let [one] = files {
        return sha256_hex(&std::fs::read(one).unwrap());
    }
    lines.sort();
    sha256_hex(lines.concat().as_bytes())
}

fn analyze_args(files: &[PathBuf], agent_url: &str) -> Vec<String> {
    let mut args = vec!["analyze".to_string(), "--json".to_string(), "--no-progress".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["--agent".to_string(), agent_url.to_string()]);
    args
}

fn received_events(agent: &TestAgent) -> Vec<Event> {
    agent.stored_batches().into_iter().flat_map(|b| b.events).collect()
}

#[test]
fn analyze_sends_deterministic_events_and_a_resend_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![capture(dir.path(), "mixed.pcap", true, 1), capture(dir.path(), "basic.pcap", false, 2)];
    let cert = ServerCert::self_signed();
    let agent = TestAgent::start(&cert);

    let first = run(probe().args(analyze_args(&files, &agent.url_ip())).args([
        "--token",
        TOKEN,
        "--agent-fingerprint",
        &cert.fingerprint(),
    ]));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    // The analysis is printed as without --agent.
    let report: AnalysisReport = serde_json::from_slice(&first.stdout).expect("the JSON report on stdout");
    let batches = agent.stored_batches();
    let events = received_events(&agent);
    assert!(batches.len() >= 2, "more than {MAX_BATCH_EVENTS} events: {} in {} batches", events.len(), batches.len());
    assert!(batches.iter().all(|b| !b.events.is_empty() && b.events.len() <= MAX_BATCH_EVENTS));
    assert!(stderr(&first).contains(&format!(
        "sent {} events in {} batches to {} (0 already known)",
        events.len(),
        batches.len(),
        agent.url_ip()
    )));

    // Exactly the events the shared builder derives from the capture's digest.
    let source = source_of(&files);
    let expected = events_from_report(&report, &source, capture_end(&report).unwrap());
    let ids = |e: &[Event]| e.iter().map(|e| (e.id.clone(), e.body.kind())).collect::<Vec<_>>();
    assert_eq!(ids(&events), ids(&expected));
    assert!(events.iter().all(|e| e.id.starts_with(&format!("{}:", &source[..16]))));
    // One detection per non-clean gateway; no clean host without a SIM tie.
    let flagged = report.gateways.iter().filter(|g| g.verdict != Verdict::Clean).count();
    let detections = events.iter().filter(|e| e.body.kind() == "detection").count();
    assert!(flagged >= 20, "{flagged}");
    assert!(
        detections >= flagged && detections < report.gateways.len() / 2,
        "{detections} of {}",
        report.gateways.len()
    );
    for kind in ["link", "subscriber", "device", "cell"] {
        assert!(events.iter().any(|e| e.body.kind() == kind), "no {kind} event");
    }

    // The same capture again (token from the environment this time): the
    // same ids, all already known.
    let second = run(probe()
        .args(analyze_args(&files, &agent.url_ip()))
        .env("DUANKA_TOKEN", TOKEN)
        .args(["--agent-fingerprint", &cert.fingerprint()]));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let all = received_events(&agent);
    assert_eq!(ids(&all[events.len()..]), ids(&events));
    assert!(stderr(&second).contains(&format!("({} already known)", events.len())), "{}", stderr(&second));
}

#[test]
fn analyze_trusts_a_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![capture(dir.path(), "basic.pcap", false, 3)];
    let cert = ServerCert::issued_by_test_ca();
    let agent = TestAgent::start(&cert);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.ca_pem.as_ref().unwrap()).unwrap();
    let out = run(probe()
        .args(analyze_args(&files, &agent.url_localhost()))
        .env("DUANKA_TOKEN", TOKEN)
        .args(["--agent-ca".as_ref(), ca.as_os_str()]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events = received_events(&agent);
    assert!(!events.is_empty());
    assert!(events[0].id.starts_with(&source_of(&files)[..16]));
}

#[test]
fn analyze_exits_4_within_the_deadline_when_the_agent_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![capture(dir.path(), "basic.pcap", false, 4)];
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let out = run(probe()
        .args(analyze_args(&files, &format!("https://127.0.0.1:{port}")))
        .env("DUANKA_TOKEN", TOKEN)
        .args(["--agent-fingerprint", &"ab".repeat(32), "--upload-deadline", "2s"]));
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(EXIT_UPLOAD), "{}", stderr(&out));
    assert!(took < Duration::from_secs(8), "{took:?}");
    let err = stderr(&out);
    assert!(err.contains("could not deliver to https://127.0.0.1:"), "{err}");
    assert!(err.contains("gave up after"), "{err}");
    assert!(err.contains("0 of 1 batches"), "{err}");
    // The analysis still came out.
    let report: AnalysisReport = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report.gateways.is_empty());
}

#[test]
fn analyze_exits_4_when_the_agent_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![capture(dir.path(), "basic.pcap", false, 5)];
    let cert = ServerCert::self_signed();
    let agent = TestAgent::start(&cert);
    agent.script(&[(422, r#"{"error": "unknown event schema 1"}"#)]);
    let out = run(probe().args(analyze_args(&files, &agent.url_ip())).env("DUANKA_TOKEN", TOKEN).args([
        "--agent-fingerprint",
        &cert.fingerprint(),
        "--upload-deadline",
        "30s",
    ]));
    assert_eq!(out.status.code(), Some(EXIT_UPLOAD), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown event schema 1"), "{}", stderr(&out));
    assert_eq!(agent.received().len(), 1, "a refusal is not retried");

    // A wrong pin: refused before anything is sent, both fingerprints named.
    let wrong = "AB:".repeat(31) + "AB";
    let out = run(probe()
        .args(analyze_args(&files, &agent.url_ip()))
        .env("DUANKA_TOKEN", TOKEN)
        .args(["--agent-fingerprint", &wrong]));
    assert_eq!(out.status.code(), Some(EXIT_UPLOAD), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "certificate fingerprint mismatch: expected {}, got {}",
            "ab".repeat(32),
            cert.fingerprint()
        )),
        "{err}"
    );
    assert_eq!(agent.received().len(), 1);
}

#[test]
fn the_token_never_reaches_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![capture(dir.path(), "basic.pcap", false, 6)];
    let cert = ServerCert::self_signed();
    let agent = TestAgent::start(&cert);
    agent.script(&[(503, ""), (401, r#"{"error": "unknown or revoked token"}"#)]);
    let out = run(probe().args(analyze_args(&files, &agent.url_ip())).args([
        "-vv",
        "--token",
        TOKEN,
        "--agent-fingerprint",
        &cert.fingerprint(),
    ]));
    assert_eq!(out.status.code(), Some(EXIT_UPLOAD), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("attempt 1"), "the retry is logged: {err}");
    assert!(err.contains("did not accept the probe's token"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(TOKEN));
}

#[test]
fn agent_options_are_checked_before_the_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("none.pcap").display().to_string();
    let fp = "00".repeat(32);
    let table: &[(&[&str], &str)] = &[
        (&["--agent", "https://a.example", "--token", "t"], "--agent-fingerprint"),
        (&["--agent", "https://a.example", "--agent-fingerprint", &fp], "--token"),
        (
            &["--agent", "https://a.example", "--token", "t", "--agent-fingerprint", &fp, "--agent-ca", "x.pem"],
            "cannot be used with",
        ),
        (&["--agent", "http://a.example", "--token", "t", "--agent-fingerprint", &fp], "https:// only"),
        (&["--agent", "https://a.example", "--token", "t", "--agent-fingerprint", "12:34"], "64 hex digits"),
        (&["--agent", "https://a.example", "--token", "t", "--agent-ca", "/nonexistent/ca.pem"], "/nonexistent/ca.pem"),
        (&["--agent", "https://a.example", "--token", "a secret", "--agent-fingerprint", &fp], "unusable token"),
        (
            &["--agent", "https://a.example", "--token", "t", "--agent-fingerprint", &fp, "--upload-deadline", "soon"],
            "--upload-deadline",
        ),
    ];
    for (args, message) in table {
        let out = run(probe().args(["analyze", &cap]).args(*args));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("a secret"), "{err}");
        assert!(out.stdout.is_empty(), "nothing analysed: {args:?}");
    }
}
