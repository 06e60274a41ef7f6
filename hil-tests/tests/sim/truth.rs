//! The truth returned by the generator matches the capture.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use duanka_hil::{generate, Label, Role, SimConfig, Truth};

use crate::support::{decode, looks_like_sip, mixed};

#[test]
fn counts_match_the_file() {
    let case = mixed();
    let t = &case.truth;
    assert_eq!(t.packets, case.decoded.frames);
    assert_eq!(t.bytes, case.pcap.len() as u64);
    assert_eq!(t.sip_messages, case.sip.len() as u64);
    let rtp = case.decoded.udp.iter().filter(|u| !looks_like_sip(&u.payload)).count();
    assert_eq!(t.rtp_packets, rtp as u64);
    assert_eq!(
        t.packets,
        case.decoded.udp.iter().map(|u| u.fragments as u64).sum::<u64>() + case.decoded.tcp.len() as u64
    );
}

#[test]
fn call_counts_match_distinct_invites() {
    let case = mixed();
    // Calls per address: distinct Call-IDs of INVITEs sent or received.
    let mut calls: HashMap<String, HashSet<&str>> = HashMap::new();
    for m in case.sip.iter().filter(|m| m.is_request("INVITE")) {
        let id = m.header("Call-ID").unwrap();
        for ip in [m.src.ip(), m.dst.ip()] {
            calls.entry(ip.to_string()).or_default().insert(id);
        }
    }
    for h in &case.truth.gateways {
        let seen = calls.get(&h.address).map_or(0, HashSet::len) as u64;
        if h.role == Role::Pbx {
            // The PBX also talks to the IPv6 phone from its IPv6 address.
            assert!(h.calls >= seen, "{}: {} < {seen}", h.address, h.calls);
        } else {
            assert_eq!(h.calls, seen, "{} ({:?})", h.address, h.role);
        }
    }
}

#[test]
fn roles_labels_and_accounts() {
    let t = &mixed().truth;
    assert_eq!(t.simboxes().count(), 5);
    for h in &t.gateways {
        assert_eq!(h.label == Label::Simbox, h.role.is_simbox());
        assert!(h.imsis.is_empty());
        match h.role {
            Role::Goip | Role::GoipStripped => {
                assert_eq!(h.lines, 4);
                assert!(h.address.parse::<std::net::IpAddr>().is_ok());
            }
            Role::Phone => assert_eq!(h.accounts.len(), 1),
            _ => assert_eq!(h.lines, 0),
        }
    }
    let goip1 = t.host("198.51.100.10").unwrap();
    assert_eq!(goip1.role, Role::Goip);
    assert_eq!(goip1.accounts, ["goip1_1", "goip1_2", "goip1_3", "goip1_4"]);
    assert_eq!(goip1.user_agent.as_deref(), Some("dble"));
}

#[test]
fn truth_round_trips_through_json() {
    let t = &mixed().truth;
    let json = serde_json::to_string(t).unwrap();
    assert!(json.contains("\"role\":\"goip_stripped\""));
    assert!(json.contains("\"label\":\"simbox\""));
    let back: Truth = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, t);
}

#[test]
fn target_packets_is_honoured() {
    for target in [1, 5_000, 40_000] {
        let cfg = SimConfig {
            target_packets: Some(target),
            duration: Duration::from_secs(1),
            gateways: 1,
            lines: Some(4),
            ..SimConfig::default()
        };
        let (pcap, truth) = generate(&cfg).unwrap();
        assert!(truth.packets >= target, "{} < {target}", truth.packets);
        assert!(truth.packets < target + 16, "{} overshoots {target}", truth.packets);
        assert_eq!(decode(&pcap).frames, truth.packets);
    }
}

#[test]
fn target_packets_without_rtp_still_terminates() {
    let cfg = SimConfig {
        target_packets: Some(3_000),
        rtp: false,
        gateways: 1,
        lines: Some(4),
        stripped: 0,
        phones: 0,
        pbx_trunk: false,
        dialler: false,
        ..SimConfig::default()
    };
    let (_, truth) = generate(&cfg).unwrap();
    assert!(truth.packets >= 3_000);
    assert_eq!(truth.rtp_packets, 0);
}

#[test]
fn duration_bounds_the_capture() {
    let cfg = SimConfig { duration: Duration::from_secs(20), ..SimConfig::default() };
    let (_, truth) = generate(&cfg).unwrap();
    assert!(truth.duration_s <= 20.0);
    assert!(truth.duration_s > 15.0);
}
