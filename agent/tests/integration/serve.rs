//! The real `serve` over TLS on a loopback port.

use std::time::{Duration, Instant};

use crate::support::agent::{cli, enrol, Agent};
use crate::support::client::Client;
use crate::support::{count, gen};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn is_fingerprint(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The fingerprint of the PEM certificate at `path`, computed independently.
fn pem_fingerprint(path: &std::path::Path) -> String {
    use rustls::pki_types::pem::PemObject as _;
    let der = rustls::pki_types::CertificateDer::from_pem_file(path).unwrap();
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(der.as_ref()))
}

#[test]
fn serves_a_batch_over_tls_with_the_printed_fingerprint_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let token = enrol(dir.path(), "site-1");
    let agent = Agent::start(dir.path());
    assert!(is_fingerprint(&agent.fingerprint), "{:?}", agent.fingerprint);
    assert_eq!(agent.fingerprint, pem_fingerprint(&dir.path().join("tls/cert.pem")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("tls/key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    runtime().block_on(async {
        let mut client = Client::new(agent.addr, &agent.fingerprint).unwrap();
        let health = client.request("GET", "/api/v1/health", None, vec![]).await.unwrap();
        assert_eq!(health.status, 200);
        assert_eq!(health.json()["status"], "ok");
        let reply = client.post_batch(&token, gen::batch_json(0, 100)).await.unwrap();
        assert_eq!(reply.status, 200, "{:?}", reply.json());
        assert_eq!(reply.json(), serde_json::json!({"accepted": 100, "duplicates": 0}));

        // A client pinning another certificate does not get through.
        let mut wrong = Client::new(agent.addr, &"00".repeat(32)).unwrap();
        let err = wrong.request("GET", "/api/v1/health", None, vec![]).await.unwrap_err();
        assert!(err.contains("TLS"), "{err}");
    });
    assert_eq!(count(dir.path(), "events"), 100);
    let list = cli(dir.path(), &["probe", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert!(list[0]["last_seen_at"].is_string(), "{list}");
}

#[test]
fn probe_list_shows_the_last_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let token = enrol(dir.path(), "site-1");
    let agent = Agent::start(dir.path());
    let batch = serde_json::json!({"schema": 1, "probe_version": "0.1.0", "events": [
        {"id": "hb-1", "at": "2026-11-23T06:00:00Z", "type": "heartbeat",
         "heartbeat": {"packets": 1234, "drops": 5, "spool_depth": 7, "uplink": "up", "board": "ok"}}
    ]});
    runtime().block_on(async {
        let mut client = Client::new(agent.addr, &agent.fingerprint).unwrap();
        let reply = client.post_batch(&token, serde_json::to_vec(&batch).unwrap()).await.unwrap();
        assert_eq!(reply.status, 200, "{:?}", reply.json());
    });
    let out = cli(dir.path(), &["probe", "list"]);
    let text = crate::support::agent::stdout(&out);
    assert!(
        text.contains("at 2026-11-23T06:00:00.000Z: 1234 packets, 5 drops, spool 7, uplink up, board ok"),
        "{text}"
    );
    let out = cli(dir.path(), &["probe", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["heartbeat"]["heartbeat"]["packets"], 1234);
}

#[test]
fn the_certificate_is_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let first = Agent::start(dir.path());
    let fp = first.fingerprint.clone();
    first.terminate();
    assert_eq!(first.wait(Duration::from_secs(20)), Some(0));
    let second = Agent::start(dir.path());
    assert_eq!(second.fingerprint, fp);
}

#[test]
fn a_given_certificate_is_served_and_its_fingerprint_printed() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["agent.example".to_owned()]).unwrap().self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("given-cert.pem"), dir.path().join("given-key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let agent = Agent::start_with(
        &dir.path().join("data"),
        &["--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()],
    );
    assert_eq!(agent.fingerprint, pem_fingerprint(&cert_path));
    assert!(!dir.path().join("data/tls").exists(), "no self-signed pair when one is given");
    runtime().block_on(async {
        let mut client = Client::new(agent.addr, &agent.fingerprint).unwrap();
        assert_eq!(client.request("GET", "/api/v1/health", None, vec![]).await.unwrap().status, 200);
    });
}

#[test]
fn a_probe_revoked_while_serving_gets_403() {
    let dir = tempfile::tempdir().unwrap();
    let token = enrol(dir.path(), "site-1");
    let agent = Agent::start(dir.path());
    runtime().block_on(async {
        let mut client = Client::new(agent.addr, &agent.fingerprint).unwrap();
        assert_eq!(client.post_batch(&token, gen::batch_json(0, 10)).await.unwrap().status, 200);
        let out = cli(dir.path(), &["probe", "revoke", "site-1"]);
        assert!(out.status.success());
        let reply = client.post_batch(&token, gen::batch_json(1, 10)).await.unwrap();
        assert_eq!(reply.status, 403);
        assert!(reply.json()["error"].as_str().unwrap().contains("revoked"), "{:?}", reply.json());
    });
    assert_eq!(count(dir.path(), "events"), 10);
}

#[test]
fn sigterm_and_sigint_stop_serve_cleanly_and_promptly() {
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let token = enrol(dir.path(), "site-1");
        let agent = Agent::start(dir.path());
        runtime().block_on(async {
            let mut client = Client::new(agent.addr, &agent.fingerprint).unwrap();
            assert_eq!(client.post_batch(&token, gen::batch_json(0, 10)).await.unwrap().status, 200);
            // The client keeps its connection open: shutdown must not wait for it.
            let started = Instant::now();
            if signal == "TERM" {
                agent.terminate();
            } else {
                agent.interrupt();
            }
            let log = agent.log.clone();
            let code = agent.wait(Duration::from_secs(10));
            assert_eq!(code, Some(0), "SIG{signal}: exit code; log:\n{}", std::fs::read_to_string(log).unwrap());
            assert!(started.elapsed() < Duration::from_secs(10));
        });
        // The store was closed: the write-ahead log is folded back.
        let wal = dir.path().join("agent.db-wal");
        assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0, "WAL left behind after SIG{signal}");
        assert_eq!(count(dir.path(), "events"), 10);
    }
}

#[test]
fn serve_refuses_a_busy_port_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let first = Agent::start(dir.path());
    let out = std::process::Command::new(crate::support::agent::bin())
        .args(["serve", "--listen", &first.addr.to_string(), "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot listen on"), "{err}");
}
