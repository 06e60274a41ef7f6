//! The mixed preset: its population, vendor fingerprints, stripped gateways, gateway
//! behaviour and the labels' `first_call_at`, against the decoded capture.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use duanka_hil::sim::{
    DINSTAR_USER_AGENT, GOIP_ALLOW, HYBERTONE_USER_AGENT, SIMBANK_PORT, SMS_SERVER_PORT, STRIPPED_USER_AGENTS,
    VOXSTACK_USER_AGENT,
};
use duanka_hil::{generate, Kind, Label, Role, SimConfig, TruthHost};

use crate::support::{mixed_preset, Sip};

fn of_kind(kind: Kind) -> usize {
    mixed_preset().truth.of_kind(kind).count()
}

#[test]
fn mixed_preset_meets_the_counts() {
    let t = &mixed_preset().truth;
    assert_eq!(t.scenario, "mixed");
    let simboxes: Vec<&TruthHost> = t.simboxes().collect();
    assert!(simboxes.len() >= 20, "{} gateways", simboxes.len());
    let benign = t.gateways.iter().filter(|h| h.label == Label::Clean && !h.kind.is_fraud_infrastructure()).count();
    assert!(benign >= 200, "{benign} benign endpoints");
    assert!(of_kind(Kind::CallCentre) >= 3);
    assert!(of_kind(Kind::PbxTrunk) >= 3);
    assert!(of_kind(Kind::GoipStripped) >= 5);
    assert!(of_kind(Kind::Softphone) >= 100);
    assert!(of_kind(Kind::OverseasVoip) >= 10);
    assert!(of_kind(Kind::SingleSoftphone) >= 5);
    assert!(of_kind(Kind::SmsServer) >= 1 && of_kind(Kind::SimbankServer) >= 1);
    for h in &t.gateways {
        assert_eq!(h.label == Label::Simbox, h.kind.is_simbox(), "{}", h.address);
        assert_eq!(h.kind.is_simbox(), h.role.is_simbox(), "{}", h.address);
        assert_eq!(h.vendor.is_some(), h.kind.is_simbox(), "{}", h.address);
    }
    let vendors: BTreeSet<&str> = simboxes.iter().filter_map(|h| h.vendor.as_deref()).collect();
    assert_eq!(vendors, BTreeSet::from(["dbl", "dinstar", "hypermedia", "openvox"]));
    let lines: BTreeSet<u32> = simboxes.iter().map(|h| h.lines).collect();
    assert!([4, 8, 16, 32].iter().all(|l| lines.contains(l)), "{lines:?}");
    // Account layouts: one per line, one for all, none (trunk mode); among stripped too.
    for stripped in [false, true] {
        let group: Vec<&&TruthHost> = simboxes.iter().filter(|h| (h.kind == Kind::GoipStripped) == stripped).collect();
        assert!(group.iter().any(|h| h.accounts.len() as u32 == h.lines));
        assert!(group.iter().any(|h| h.accounts.len() == 1 && h.lines > 1));
        assert!(group.iter().any(|h| h.accounts.is_empty()));
    }
    // Every gateway is at work from the first minutes.
    for h in &simboxes {
        let first = h.first_call_at.expect("a gateway without calls");
        assert!(first - t.start_unix * 1_000_000 < 60_000_000, "{}: first call after a minute", h.address);
    }
    // The full preset has the same population.
    let full = SimConfig::mixed();
    assert_eq!((full.gateways + full.stripped) as usize, simboxes.len());
    assert!(full.rtp && full.duration >= Duration::from_secs(300));
}

#[test]
fn first_call_at_is_the_first_invite() {
    let case = mixed_preset();
    let mut first: HashMap<String, (u64, bool)> = HashMap::new();
    for m in case.sip.iter().filter(|m| m.is_request("INVITE")) {
        for ip in [m.src.ip(), m.dst.ip()] {
            first.entry(ip.to_string()).or_insert((m.ts, m.tcp));
        }
    }
    let mut gateways = 0;
    for h in &case.truth.gateways {
        let seen = first.get(&h.address).copied();
        match (h.first_call_at, seen) {
            // The office PBX also calls its IPv6 phone from its IPv6 address.
            (at, _) if h.role == Role::Pbx && h.address == "192.0.2.10" => assert!(at <= seen.map(|s| s.0)),
            // Over TCP the decoder dates a message by its last segment; the label gives
            // the first, at most a few milliseconds earlier.
            (Some(at), Some((ts, true))) => assert!(at <= ts && ts - at < 5_000, "{}", h.address),
            (at, seen) => assert_eq!(at, seen.map(|s| s.0), "{} ({:?})", h.address, h.kind),
        }
        gateways += usize::from(h.kind.is_simbox());
    }
    assert!(gateways >= 20);
}

#[test]
fn vendors_show_their_fingerprints() {
    let case = mixed_preset();
    let by_vendor = |v: &'static str| case.truth.simboxes().filter(move |h| h.vendor.as_deref() == Some(v));
    let mut checked = 0;
    for h in by_vendor("openvox") {
        let msgs: Vec<&Sip> = case.sent_by(&h.address).collect();
        let registering: BTreeSet<&str> = msgs
            .iter()
            .filter(|m| m.is_request("REGISTER"))
            .map(|m| Sip::uri_user(m.header("From").unwrap()))
            .collect();
        assert_eq!(registering.len() as u32, h.lines, "{}: one REGISTER per GSM channel", h.address);
        for m in &msgs {
            if m.status().is_some() {
                assert_eq!(m.header("Server"), Some(VOXSTACK_USER_AGENT));
            } else {
                assert_eq!(m.header("User-Agent"), Some(VOXSTACK_USER_AGENT));
            }
            if !m.body().is_empty() {
                assert!(m.body().contains("s=VoxStack Wireless Gateway\r\n"));
                assert!(m.body().contains("\r\no=root "));
            }
        }
        checked += 1;
    }
    for h in by_vendor("dinstar") {
        for m in case.sent_by(&h.address) {
            if m.status().is_none() {
                assert_eq!(m.header("User-Agent"), Some(DINSTAR_USER_AGENT));
            }
            if let Some(e) = m.header("Expires") {
                assert_eq!(e, "1800");
            }
        }
        checked += 1;
    }
    for h in by_vendor("hypermedia") {
        for m in case.sent_by(&h.address) {
            assert!(m.header("User-Agent").unwrap().starts_with("HG4000/"));
        }
        checked += 1;
    }
    let hybertone = case.truth.simboxes().filter(|h| h.user_agent.as_deref() == Some(HYBERTONE_USER_AGENT));
    for h in hybertone {
        for m in case.sent_by(&h.address) {
            let cl = m.head().lines().find(|l| l.starts_with("Content-Length:")).unwrap();
            assert_eq!(cl, format!("Content-Length: {:>5}", m.body().len()));
        }
        checked += 1;
    }
    assert!(checked >= 8, "{checked}");
}

#[test]
fn stripped_gateways_show_only_behaviour() {
    let case = mixed_preset();
    let markers = [
        "dble",
        "DBL Session",
        "userX",
        "Remote Busy",
        "X-ACrypt",
        "realm=\"goip\"",
        GOIP_ALLOW,
        "Content-Length:  ",
        "VoxStack",
        "HG4000",
        "DWG",
        "HYBERTONE",
        "dinstar",
        "goip",
    ];
    let mut without_ua = 0;
    for h in case.truth.of_kind(Kind::GoipStripped) {
        let msgs: Vec<&Sip> = case.sent_by(&h.address).collect();
        assert!(msgs.len() > 20, "{}: {} messages", h.address, msgs.len());
        for m in msgs {
            for marker in markers {
                assert!(!m.text.contains(marker), "{} sent {marker:?}:\n{}", h.address, m.text);
            }
            if let Some(ua) = m.header("User-Agent") {
                assert!(STRIPPED_USER_AGENTS.contains(&ua), "{ua}");
            }
        }
        without_ua += usize::from(h.user_agent.is_none());
        assert!(h.iccids.is_empty() && !h.uses_simbank);
        let ip: std::net::IpAddr = h.address.parse().unwrap();
        let control = case
            .decoded
            .udp
            .iter()
            .any(|d| d.src.ip() == ip && [SMS_SERVER_PORT, SIMBANK_PORT].contains(&d.dst.port()));
        assert!(!control, "{}: control-plane traffic from a stripped gateway", h.address);
    }
    assert!(without_ua >= 1, "no stripped gateway without User-Agent");
}

/// One call as the capture shows it.
#[derive(Debug)]
struct Call {
    caller: String,
    callee: String,
    /// Request-URI user: the number dialled.
    number: String,
    start: u64,
    end: u64,
    final_code: Option<u16>,
}

/// Calls by Call-ID.
fn calls(case: &crate::support::Case) -> Vec<Call> {
    let mut by_id: HashMap<&str, Call> = HashMap::new();
    for m in &case.sip {
        let Some(id) = m.header("Call-ID") else { continue };
        if let Some(c) = by_id.get_mut(id) {
            c.end = m.ts;
            if let Some(code) = m.status() {
                if m.cseq_method() == "INVITE" && code >= 200 && code != 401 && code != 407 {
                    c.final_code = Some(code);
                }
            }
        } else if m.is_request("INVITE") {
            let uri = m.first_line().split(' ').nth(1).unwrap();
            let c = Call {
                caller: m.src.ip().to_string(),
                callee: m.dst.ip().to_string(),
                number: Sip::uri_user(uri).to_owned(),
                start: m.ts,
                end: m.ts,
                final_code: None,
            };
            by_id.insert(id, c);
        }
    }
    by_id.into_values().collect()
}

#[test]
fn gateways_terminate_short_calls_to_many_mobiles_within_their_lines() {
    let case = mixed_preset();
    let all = calls(case);
    let (mut answered, mut finished) = (0, 0);
    for h in case.truth.simboxes() {
        let mine: Vec<_> = all.iter().filter(|c| c.callee == h.address).collect();
        assert!(mine.len() >= 10, "{}: {} calls", h.address, mine.len());
        assert!(all.iter().all(|c| c.caller != h.address), "{} originated a call", h.address);
        for c in &mine {
            let peer = case.truth.host(&c.caller).unwrap();
            assert_eq!(peer.kind, Kind::Softswitch, "{}: call from {}", h.address, c.caller);
            let n = c.number.strip_prefix("+86").or_else(|| c.number.strip_prefix("86")).unwrap_or(&c.number);
            assert!(n.len() == 11 && n.starts_with('1') && (b'3'..=b'9').contains(&n.as_bytes()[1]), "{}", c.number);
        }
        let distinct: BTreeSet<&str> = mine.iter().map(|c| c.number.as_str()).collect();
        assert!(distinct.len() as f64 >= 0.98 * mine.len() as f64, "{}: repeated callees", h.address);
        // Concurrency never above the line count.
        let mut edges: Vec<(u64, i32)> = mine.iter().flat_map(|c| [(c.start, 1), (c.end + 1, -1)]).collect();
        edges.sort_unstable();
        let (mut now, mut peak) = (0, 0);
        for (_, d) in edges {
            now += d;
            peak = peak.max(now);
        }
        assert!(peak as u32 <= h.lines, "{}: {peak} calls at once on {} lines", h.address, h.lines);
        finished += mine.iter().filter(|c| c.final_code.is_some()).count();
        answered += mine.iter().filter(|c| c.final_code == Some(200)).count();
    }
    let ratio = answered as f64 / finished as f64;
    assert!((0.2..0.5).contains(&ratio), "gateway answer ratio {ratio}");
}

#[test]
fn hard_negatives_behave_as_described() {
    let case = mixed_preset();
    let all = calls(case);
    for h in case.truth.of_kind(Kind::CallCentre) {
        let out = all.iter().filter(|c| c.caller == h.address).count();
        assert!(out > 30, "{}: {out} calls", h.address);
        assert!(all.iter().all(|c| c.callee != h.address), "a call centre took a call");
    }
    let multi_account = case.truth.of_kind(Kind::PbxTrunk).filter(|h| h.accounts.len() >= 4).count();
    assert!(multi_account >= 3, "{multi_account} PBX trunks with several accounts");
    for h in case.truth.of_kind(Kind::PbxTrunk) {
        let out = all.iter().filter(|c| c.caller == h.address).count();
        let inbound = all.iter().filter(|c| c.callee == h.address).count();
        assert!(out > 0 && inbound > 0, "{}: {out} out, {inbound} in", h.address);
    }
    // Overseas-VoIP users register abroad (each within its first refresh period).
    let mut registered = 0;
    for h in case.truth.of_kind(Kind::OverseasVoip) {
        for reg in case.sent_by(&h.address).filter(|m| m.is_request("REGISTER")) {
            assert!(reg.dst.ip().to_string().starts_with("203.0.113."), "{} registers at home", h.address);
            registered += 1;
        }
    }
    assert!(registered >= 12, "{registered} REGISTERs from overseas-VoIP users");
}

#[test]
fn overseas_voip_users_call_a_few_numbers_again_and_again() {
    // Two hours of the overseas-VoIP users alone (a person calls a few times an hour).
    let case = crate::support::Case::new(&SimConfig {
        duration: Duration::from_secs(2 * 3600),
        rtp: false,
        gateways: 0,
        stripped: 0,
        phones: 0,
        pbx_trunk: false,
        dialler: false,
        call_centres: 0,
        pbx_sites: 0,
        softphones: 0,
        single_softphones: 0,
        ..SimConfig::mixed()
    });
    let all = calls(&case);
    let users: Vec<&TruthHost> = case.truth.of_kind(Kind::OverseasVoip).collect();
    assert_eq!(users.len(), 24);
    let mut numbers: HashMap<&str, Vec<&str>> = HashMap::new();
    let (mut inbound, mut outbound) = (0, 0);
    for c in &all {
        if users.iter().any(|h| h.address == c.caller) {
            numbers.entry(c.caller.as_str()).or_default().push(c.number.as_str());
            outbound += 1;
        } else if users.iter().any(|h| h.address == c.callee) {
            assert!(case.truth.host(&c.caller).unwrap().kind == Kind::VoipProvider);
            inbound += 1;
        }
    }
    assert!(inbound > 20, "{inbound} calls from abroad");
    let distinct: usize = numbers.values().map(|v| v.iter().collect::<BTreeSet<_>>().len()).sum();
    assert!(outbound > 80 && distinct * 10 < outbound * 7, "{outbound} calls to {distinct} numbers");
    // SPEC 3.3: a person puts 80 % of calls to at most 5 numbers.
    for (user, called) in numbers.iter().filter(|(_, v)| v.len() >= 5) {
        let mut per: HashMap<&str, usize> = HashMap::new();
        for n in called {
            *per.entry(n).or_default() += 1;
        }
        let mut counts: Vec<usize> = per.into_values().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top5: usize = counts.iter().take(5).sum();
        assert!(top5 * 10 >= called.len() * 8, "{user}: {} calls, top five numbers {top5}", called.len());
    }
}

#[test]
fn mixed_preset_is_deterministic() {
    let cfg = SimConfig { duration: Duration::from_secs(40), rtp: false, ..SimConfig::mixed() };
    let (a, ta) = generate(&cfg).unwrap();
    let (b, tb) = generate(&cfg).unwrap();
    assert!(a == b, "captures differ for the same seed");
    assert_eq!(ta, tb);
    let (c, _) = generate(&SimConfig { seed: 2, ..cfg }).unwrap();
    assert!(a != c);
}
