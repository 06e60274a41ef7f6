//! GoIP messages carry the SPEC §3.1 fingerprints; stripped gateways carry none.

use std::time::Duration;

use duanka_hil::sim::GOIP_ALLOW;
use duanka_hil::{Role, SimConfig};

use crate::support::{mixed, Case, Sip};

fn branch(m: &Sip) -> &str {
    let via = m.header("Via").unwrap();
    via.split(";branch=").nth(1).unwrap().split(';').next().unwrap()
}

fn content_length_line(m: &Sip) -> &str {
    m.head().lines().find(|l| l.starts_with("Content-Length:")).unwrap()
}

#[test]
fn goip_messages_carry_the_dbl_fingerprints() {
    let case = mixed();
    let mut seen_busy = false;
    let mut seen_register = false;
    let mut seen_options = false;
    for h in case.truth.gateways.iter().filter(|h| h.role == Role::Goip) {
        assert!((5060..=6060).contains(&h.sip_port));
        let msgs: Vec<&Sip> = case.sent_by(&h.address).collect();
        assert!(!msgs.is_empty(), "{} sent nothing", h.address);
        for m in msgs {
            let ctx = || format!("{}: {}", h.address, m.first_line());
            assert_eq!(m.src.port(), h.sip_port, "{}", ctx());
            assert_eq!(m.header("User-Agent"), Some("dble"), "{}", ctx());
            assert_eq!(content_length_line(m), format!("Content-Length: {:>5}", m.body().len()), "{}", ctx());
            if !m.body().is_empty() {
                let origin = format!("o=userX 20000001 20000001 IN IP4 {}\r\n", h.address);
                assert!(m.body().contains(&origin), "{}", ctx());
                assert!(m.body().contains("s=DBL Session\r\n"), "{}", ctx());
            }
            if m.status().is_none() {
                let b = branch(m);
                let digits = b.strip_prefix("z9hG4bK").unwrap();
                assert!(digits.bytes().all(|c| c.is_ascii_digit()), "{}", ctx());
                assert!(m.header("Via").unwrap().ends_with(";rport"), "{}", ctx());
            }
            if m.status() == Some(480) {
                assert_eq!(m.first_line(), "SIP/2.0 480 Remote Busy");
                seen_busy = true;
            }
            if m.status() == Some(401) {
                assert!(m.header("WWW-Authenticate").unwrap().contains("realm=\"goip\""));
            }
            if m.is_request("REGISTER") {
                seen_register = true;
                let expires: u32 = m.header("Expires").unwrap().parse().unwrap();
                assert!(expires == 60 || expires == 120, "{}", ctx());
                assert_eq!(m.header("Allow"), Some(GOIP_ALLOW));
                let user = Sip::uri_user(m.header("From").unwrap());
                assert!(h.accounts.iter().any(|a| a == user), "{user} not in truth");
            }
            if m.is_request("OPTIONS") {
                seen_options = true;
            }
            if let Some(key) = m.header("X-ACrypt") {
                assert!(key.starts_with("RC4:"));
                if !m.body().is_empty() {
                    assert!(m.body().contains("RTP/SAVP"));
                }
            }
        }
    }
    assert!(seen_busy && seen_register && seen_options);
}

#[test]
fn stripped_gateways_show_no_fingerprint() {
    let case = mixed();
    let markers =
        ["dble", "DBL Session", "userX", "Remote Busy", "X-ACrypt", "realm=\"goip\"", GOIP_ALLOW, "Content-Length:  "];
    let mut n = 0;
    for h in case.truth.gateways.iter().filter(|h| h.role == Role::GoipStripped) {
        for m in case.sent_by(&h.address) {
            n += 1;
            for marker in markers {
                assert!(!m.text.contains(marker), "{} sent {marker:?}:\n{}", h.address, m.text);
            }
            if m.status().is_none() {
                let tail = branch(m).strip_prefix("z9hG4bK").unwrap();
                assert!(!tail.bytes().all(|c| c.is_ascii_digit()));
            }
            if let Some(e) = m.header("Expires") {
                assert!(e != "60" && e != "120");
            }
        }
    }
    assert!(n > 20, "stripped gateways sent only {n} messages");
}

#[test]
fn softswitch_dials_domestic_mobiles_on_gateway_lines() {
    let case = mixed();
    let mut n = 0;
    for h in case.truth.simboxes() {
        for m in case.sip.iter().filter(|m| m.is_request("INVITE") && m.dst.ip().to_string() == h.address) {
            let uri = m.first_line().split(' ').nth(1).unwrap();
            let user = Sip::uri_user(uri);
            let national = user.strip_prefix("+86").or_else(|| user.strip_prefix("86")).unwrap_or(user);
            assert_eq!(national.len(), 11, "{user}");
            assert!(national.starts_with('1') && (b'3'..=b'9').contains(&national.as_bytes()[1]));
            assert!(national.bytes().all(|c| c.is_ascii_digit()));
            n += 1;
        }
    }
    assert!(n > 20);
}

#[test]
fn encrypted_gateways_send_x_acrypt_with_savp() {
    let case = Case::new(&SimConfig {
        seed: 5,
        duration: Duration::from_secs(90),
        gateways: 10,
        lines: Some(4),
        stripped: 0,
        phones: 0,
        pbx_trunk: false,
        dialler: false,
        rtp: false,
        ..SimConfig::default()
    });
    let crypt: Vec<&Sip> = case.sip.iter().filter(|m| m.header("X-ACrypt").is_some()).collect();
    assert!(!crypt.is_empty(), "no gateway with X-ACrypt among 10");
    for m in crypt {
        if !m.body().is_empty() {
            assert!(m.body().contains("m=audio ") && m.body().contains(" RTP/SAVP "));
        }
    }
}
