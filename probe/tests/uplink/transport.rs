//! [`Uplink`] against the stand-in agent: trust modes, retries, refusals.

use std::time::{Duration, Instant};

use duanka_probe::uplink::{retry::RetryPolicy, ErrorKind, Fingerprint, Token, Trust, Uplink, UplinkConfig};
use duanka_shared::events::{Alarm, Batch, Event, EventBody, EVENTS_SCHEMA_VERSION};

use crate::agent::{ServerCert, TestAgent, TOKEN};

fn batch(ids: &[&str]) -> Batch {
    Batch {
        schema: EVENTS_SCHEMA_VERSION,
        probe_version: "0.1.0".into(),
        events: ids
            .iter()
            .map(|id| Event {
                id: (*id).to_string(),
                at: "2026-11-01T00:00:00.000000Z".into(),
                body: EventBody::Alarm { alarm: Alarm { kind: "tamper".into(), detail: "test".into() } },
            })
            .collect(),
    }
}

/// Quick retries, so tests that retry stay short.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        deadline: Duration::from_secs(10),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

fn config(url: &str, trust: Trust) -> UplinkConfig {
    let mut c = UplinkConfig::new(url.parse().unwrap(), Token::new(TOKEN).unwrap(), trust);
    c.retry = quick();
    c
}

fn pinned(cert: &ServerCert) -> Trust {
    Trust::Pinned(cert.fingerprint().parse().unwrap())
}

#[tokio::test]
async fn pinned_fingerprint_delivers_and_resends_are_duplicates() {
    let cert = ServerCert::self_signed();
    let agent = TestAgent::start(&cert);
    let uplink = Uplink::new(config(&agent.url_ip(), pinned(&cert))).unwrap();
    let b = batch(&["a", "b", "c"]);
    let first = uplink.deliver(&b).await.unwrap();
    assert_eq!((first.accepted, first.duplicates, first.attempts), (3, 0, 1));
    // Sent again (a lost acknowledgement): nothing new, on the kept connection.
    let again = uplink.send(&b).await.unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 3));
    let received = agent.received();
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|r| r.path == "/api/v1/reports"));
    assert!(received.iter().all(|r| r.authorization.as_deref() == Some(&*format!("Bearer {TOKEN}"))));
    assert_eq!(agent.stored_batches()[0], b);
}

#[tokio::test]
async fn colon_separated_upper_case_pins_work() {
    let cert = ServerCert::self_signed();
    let agent = TestAgent::start(&cert);
    let fp = cert.fingerprint().to_uppercase();
    let colons: Vec<&str> = (0..32).map(|i| &fp[i * 2..i * 2 + 2]).collect();
    let trust = Trust::Pinned(colons.join(":").parse().unwrap());
    let uplink = Uplink::new(config(&agent.url_ip(), trust)).unwrap();
    assert_eq!(uplink.send(&batch(&["x"])).await.unwrap().accepted, 1);
}

#[tokio::test]
async fn wrong_fingerprint_is_permanent_and_names_both() {
    let cert = ServerCert::self_signed();
    let agent = TestAgent::start(&cert);
    let other = ServerCert::self_signed();
    let uplink = Uplink::new(config(&agent.url_ip(), pinned(&other))).unwrap();
    let e = uplink.deliver(&batch(&["a"])).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FingerprintMismatch, "{e}");
    assert!(!e.is_retryable());
    assert_eq!(e.attempts(), 1, "not retried");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "certificate fingerprint mismatch: expected {}, got {}",
            other.fingerprint(),
            cert.fingerprint()
        )),
        "{msg}"
    );
    assert!(agent.received().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn ca_file_trust_delivers_to_the_named_host() {
    let cert = ServerCert::issued_by_test_ca();
    let agent = TestAgent::start(&cert);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.ca_pem.as_ref().unwrap()).unwrap();
    let uplink = Uplink::new(config(&agent.url_localhost(), Trust::CaFile(ca))).unwrap();
    let o = uplink.deliver(&batch(&["a", "b"])).await.unwrap();
    assert_eq!(o.accepted, 2);
}

#[tokio::test]
async fn ca_file_trust_refuses_a_host_name_mismatch() {
    let cert = ServerCert::issued_by_test_ca();
    let agent = TestAgent::start(&cert);
    let trust = Trust::CaPem(cert.ca_pem.clone().unwrap().into_bytes());
    // The certificate names `localhost` only.
    let uplink = Uplink::new(config(&agent.url_ip(), trust)).unwrap();
    let e = uplink.deliver(&batch(&["a"])).await.unwrap_err();
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Tls, 1), "{e}");
    assert!(e.to_string().contains("not valid for name"), "{e}");
    assert!(agent.received().is_empty());
}

#[tokio::test]
async fn ca_file_trust_refuses_another_issuer() {
    let cert = ServerCert::issued_by_test_ca();
    let agent = TestAgent::start(&cert);
    let stranger = ServerCert::issued_by_test_ca();
    let trust = Trust::CaPem(stranger.ca_pem.unwrap().into_bytes());
    let uplink = Uplink::new(config(&agent.url_localhost(), trust)).unwrap();
    let e = uplink.deliver(&batch(&["a"])).await.unwrap_err();
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Tls, 1), "{e}");
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered() {
    let cert = ServerCert::self_signed();
    let agent = TestAgent::start(&cert);
    agent.script(&[(503, r#"{"error": "busy"}"#), (503, "")]);
    let uplink = Uplink::new(config(&agent.url_ip(), pinned(&cert))).unwrap();
    let o = uplink.deliver(&batch(&["a", "b"])).await.unwrap();
    assert_eq!((o.accepted, o.attempts), (2, 3));
    assert_eq!(agent.received().len(), 3);
    assert_eq!(agent.stored_batches().len(), 1);
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_asked_delay() {
    let cert = ServerCert::self_signed();
    let agent = TestAgent::start(&cert);
    agent.script(&[(429, r#"{"error": "slow down"}"#)]);
    let uplink = Uplink::new(config(&agent.url_ip(), pinned(&cert))).unwrap();
    let started = Instant::now();
    let o = uplink.deliver(&batch(&["a"])).await.unwrap();
    assert_eq!(o.attempts, 2);
    // The stand-in's Retry-After (1 s) outweighs the policy's 20 ms backoff.
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
}

#[tokio::test]
async fn unprocessable_batches_are_not_retried_and_the_reason_is_shown() {
    let cert = ServerCert::self_signed();
    let agent = TestAgent::start(&cert);
    agent.script(&[(422, r#"{"error": "events[0].at: not an RFC 3339 time"}"#)]);
    let uplink = Uplink::new(config(&agent.url_ip(), pinned(&cert))).unwrap();
    let e = uplink.deliver(&batch(&["a"])).await.unwrap_err();
    assert_eq!((e.kind(), e.attempts(), e.status()), (ErrorKind::Rejected, 1, Some(422)));
    assert!(e.to_string().contains("events[0].at: not an RFC 3339 time"), "{e}");
    assert!(e.to_string().contains("422"), "{e}");
    assert_eq!(agent.received().len(), 1, "sent once");
}

#[tokio::test]
async fn a_wrong_token_is_permanent() {
    let cert = ServerCert::self_signed();
    let agent = TestAgent::start(&cert);
    let mut c = config(&agent.url_ip(), pinned(&cert));
    c.token = Token::new("not-the-token").unwrap();
    let e = Uplink::new(c).unwrap().deliver(&batch(&["a"])).await.unwrap_err();
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Unauthorized, 1));
    assert!(e.to_string().contains("unknown or revoked token"), "{e}");
    assert!(!e.to_string().contains("not-the-token"), "{e}");
}

#[tokio::test]
async fn an_agent_that_is_down_is_retried_until_the_deadline() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let trust = Trust::Pinned(Fingerprint::of_der(b"any"));
    let uplink = Uplink::new(config(&format!("https://127.0.0.1:{port}"), trust)).unwrap();
    let started = Instant::now();
    let e = uplink.deliver_by(&batch(&["a"]), started + Duration::from_millis(600)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.is_retryable());
    assert!(e.attempts() >= 3, "retried: {e} ({} attempts)", e.attempts());
    assert!(started.elapsed() < Duration::from_millis(600), "gave up within the deadline: {:?}", started.elapsed());
    assert!(e.to_string().starts_with("gave up after"), "{e}");

    // Or after the configured number of attempts, whichever comes first.
    let mut c = config(&format!("https://127.0.0.1:{port}"), Trust::Pinned(Fingerprint::of_der(b"any")));
    c.retry.max_attempts = 2;
    let e = Uplink::new(c).unwrap().deliver(&batch(&["a"])).await.unwrap_err();
    assert_eq!(e.attempts(), 2, "{e}");
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_deadline() {
    // Accepts TCP, never speaks: the TLS handshake hangs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let mut c = config(&format!("https://127.0.0.1:{port}"), Trust::Pinned(Fingerprint::of_der(b"any")));
    c.connect_timeout = Duration::from_millis(300);
    c.retry.max_attempts = 20;
    let uplink = Uplink::new(c).unwrap();
    let started = Instant::now();
    let e = uplink.deliver_by(&batch(&["a"]), started + Duration::from_millis(1_500)).await.unwrap_err();
    let took = started.elapsed();
    holder.abort();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.attempts() >= 2, "{e}");
    // Slack for a loaded machine; without the deadline this would run 20 attempts × 300 ms.
    assert!(took < Duration::from_millis(2_500), "{took:?}");
}

#[tokio::test]
async fn plain_http_only_when_allowed() {
    let agent = TestAgent::start_plain();
    let url = format!("http://127.0.0.1:{}", agent.addr.port());
    let trust = Trust::Pinned(Fingerprint::of_der(b"unused"));
    let e = Uplink::new(config(&url, trust.clone())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let uplink = Uplink::new(UplinkConfig { allow_plain_http: true, ..config(&url, trust) }).unwrap();
    assert_eq!(uplink.send(&batch(&["a"])).await.unwrap().accepted, 1);
}

#[tokio::test]
async fn a_plain_http_server_fails_the_tls_handshake() {
    let agent = TestAgent::start_plain();
    let url = format!("https://127.0.0.1:{}", agent.addr.port());
    let uplink = Uplink::new(config(&url, Trust::Pinned(Fingerprint::of_der(b"x")))).unwrap();
    let e = uplink.deliver(&batch(&["a"])).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert_eq!(e.attempts(), 1, "{e}");
}
