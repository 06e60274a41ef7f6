//! The GoIP control plane (SPEC §3.2) in the mixed preset: SMS-server keep-alives and
//! call records decoded back with a parser of our own, SIM-bank datagrams, SIM rotation,
//! and the identities in the truth.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use duanka_hil::sim::{SIMBANK_MAGIC, SIMBANK_PORT, SMS_SERVER_PORT};
use duanka_hil::{Kind, Role, SimConfig};

use crate::support::{looks_like_sip, mixed_preset, Case, Datagram};

/// MNCs of Chinese operators (under MCC 460) the simulator may use.
const MNCS: [&str; 11] = ["00", "01", "02", "03", "05", "06", "07", "08", "09", "11", "15"];

/// `key:value;` pairs in order. The value runs to the next `;` (CELLINFO's value holds
/// `:` and `,`).
fn fields(text: &str) -> Vec<(&str, &str)> {
    assert!(text.ends_with(';') || !text.contains(";;"), "{text}");
    text.split(';')
        .filter(|f| !f.is_empty())
        .map(|f| f.split_once(':').unwrap_or_else(|| panic!("field without ':' in {text:?}")))
        .collect()
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Luhn check over a whole number (check digit last).
fn luhn(n: &str) -> bool {
    let sum: u32 = n
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = 2 * d;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

fn domestic_mobile(n: &str) -> bool {
    n.len() == 11 && digits(n) && n.starts_with('1') && (b'3'..=b'9').contains(&n.as_bytes()[1])
}

/// One decoded keep-alive.
#[derive(Debug)]
struct KeepAlive<'a> {
    ts: u64,
    src: &'a Datagram,
    req: u32,
    id: &'a str,
    imei: &'a str,
    imsi: &'a str,
    iccid: &'a str,
}

/// Parses and checks a keep-alive against SPEC §3.2's layout.
fn keepalive(d: &Datagram) -> KeepAlive<'_> {
    let text = std::str::from_utf8(&d.payload).expect("keep-alive is text");
    let f = fields(text);
    let keys: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "req",
            "id",
            "pass",
            "num",
            "signal",
            "gsm_status",
            "voip_status",
            "voip_state",
            "remain_time",
            "imei",
            "imsi",
            "iccid",
            "pro",
            "idle",
            "disable_status",
            "SMS_LOGIN",
            "SMS_STATE",
            "CELLINFO",
            "CGATT"
        ],
        "{text}"
    );
    let v: HashMap<&str, &str> = f.into_iter().collect();
    let ctx = || text.to_owned();
    assert!(digits(v["req"]), "{}", ctx());
    assert!(!v["id"].is_empty() && !v["pass"].is_empty(), "{}", ctx());
    assert!(v["num"].is_empty() || domestic_mobile(v["num"]), "{}", ctx());
    let signal: u8 = v["signal"].parse().unwrap();
    assert!(signal <= 31, "{}", ctx());
    assert_eq!((v["gsm_status"], v["voip_status"]), ("LOGIN", "LOGIN"));
    assert!(["IDLE", "CONNECTED"].contains(&v["voip_state"]), "{}", ctx());
    assert_eq!(v["remain_time"], "-1");
    let imei = v["imei"];
    assert!(imei.len() == 15 && digits(imei) && luhn(imei), "IMEI {imei}");
    let imsi = v["imsi"];
    assert!(imsi.len() == 15 && digits(imsi) && imsi.starts_with("460"), "IMSI {imsi}");
    let mnc = &imsi[3..5];
    assert!(MNCS.contains(&mnc), "MNC {mnc}");
    let iccid = v["iccid"];
    assert!((19..=20).contains(&iccid.len()) && digits(iccid), "ICCID {iccid}");
    assert!(iccid.starts_with("8986") && luhn(iccid), "ICCID {iccid}");
    let pro = match mnc {
        "01" | "06" | "09" => "CHN-UNICOM",
        "03" | "05" | "11" => "CHN-CT",
        _ => "CHINA MOBILE",
    };
    assert_eq!(v["pro"], pro, "{}", ctx());
    assert!(digits(v["idle"]));
    if v["voip_state"] == "CONNECTED" {
        assert_eq!(v["idle"], "0");
    }
    assert_eq!((v["disable_status"], v["SMS_LOGIN"], v["SMS_STATE"], v["CGATT"]), ("0", "N", "", "Y"));
    let (lac, cell) = v["CELLINFO"].split_once(',').unwrap();
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(hex(lac.strip_prefix("LAC:").unwrap()), "{}", ctx());
    assert!(hex(cell.strip_prefix("CELL ID:").unwrap()), "{}", ctx());
    KeepAlive { ts: d.ts, src: d, req: v["req"].parse().unwrap(), id: v["id"], imei, imsi, iccid }
}

fn to_sms_server(d: &Datagram) -> bool {
    d.dst.port() == SMS_SERVER_PORT
}

fn text(d: &Datagram) -> &str {
    std::str::from_utf8(&d.payload).unwrap()
}

#[test]
fn keepalives_are_well_formed_and_answered() {
    let case = mixed_preset();
    let udp = &case.decoded.udp;
    let kas: Vec<KeepAlive> =
        udp.iter().filter(|d| to_sms_server(d) && d.payload.starts_with(b"req:")).map(keepalive).collect();
    assert!(kas.len() > 200, "{} keep-alives", kas.len());
    // Every keep-alive comes from a fingerprinted DBL gateway and is answered.
    let replies: HashMap<(std::net::SocketAddr, u32), u64> = udp
        .iter()
        .filter(|d| d.src.port() == SMS_SERVER_PORT && d.payload.starts_with(b"reg:"))
        .map(|d| {
            let f = fields(text(d));
            assert_eq!(f.len(), 2);
            assert_eq!(f[1], ("status", "200"));
            ((d.dst, f[0].1.parse().unwrap()), d.ts)
        })
        .collect();
    let mut unanswered = 0;
    for k in &kas {
        let h = case.truth.host(&k.src.src.ip().to_string()).expect("keep-alive from a known host");
        assert_eq!((h.kind, h.vendor.as_deref()), (Kind::GoipFingerprinted, Some("dbl")));
        match replies.get(&(k.src.src, k.req)) {
            Some(&at) => assert!(at > k.ts && at - k.ts < 1_000_000, "late reply"),
            None => unanswered += 1,
        }
    }
    assert!(unanswered <= kas.len() / 50, "{unanswered} keep-alives unanswered (only the capture's end may cut)");
    // Per channel (source port) every 30–45 s, each with its own line id.
    let mut by_port: BTreeMap<std::net::SocketAddr, Vec<&KeepAlive>> = BTreeMap::new();
    for k in &kas {
        by_port.entry(k.src.src).or_default().push(k);
    }
    for (port, ks) in &by_port {
        assert!(ks.iter().all(|k| k.id == ks[0].id), "{port}: one line id per channel");
        for w in ks.windows(2) {
            let gap = (w[1].ts - w[0].ts) as f64 / 1e6;
            assert!((28.0..48.0).contains(&gap), "{port}: keep-alive gap {gap} s");
            assert_eq!(w[1].req, w[0].req + 1, "{port}: req counts up");
        }
    }
}

#[test]
fn call_records_bracket_the_gateway_calls() {
    let case = mixed_preset();
    let udp = &case.decoded.udp;
    let mut open: HashMap<(std::net::IpAddr, &str), &str> = HashMap::new();
    let (mut records, mut hangups, mut states) = (0, 0, 0);
    for d in udp.iter().filter(|d| to_sms_server(d)) {
        let t = text(d);
        let f = fields(t);
        match f[0].0 {
            "RECORD" => {
                let keys: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
                assert_eq!(keys, ["RECORD", "id", "pass", "dir", "num"], "{t}");
                assert_eq!(f[3].1, "2", "outgoing GSM call");
                assert!(domestic_mobile(f[4].1), "{t}");
                assert!(open.insert((d.src.ip(), f[1].1), f[4].1).is_none(), "{t}: channel already in a call");
                // The INVITE that caused it reached the gateway just before.
                let invited = case.sip.iter().any(|m| {
                    m.is_request("INVITE")
                        && m.dst.ip() == d.src.ip()
                        && m.ts <= d.ts
                        && d.ts - m.ts < 2_000_000
                        && m.first_line().contains(f[4].1)
                });
                assert!(invited, "{t}: no INVITE for it");
                records += 1;
            }
            "HANGUP" => {
                let keys: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
                assert_eq!(keys, ["HANGUP", "id", "pass", "num"], "{t}");
                if let Some(num) = open.remove(&(d.src.ip(), f[1].1)) {
                    assert_eq!(num, f[3].1, "{t}: hangs up another number");
                }
                hangups += 1;
            }
            "STATE" => {
                let keys: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
                assert_eq!(keys, ["STATE", "id", "pass", "gsm_remain_state"], "{t}");
                assert_eq!(f[3].1, "IDLE");
                states += 1;
            }
            "req" => {}
            other => panic!("unknown control message {other}: {t}"),
        }
    }
    assert!(records > 100 && hangups > 100 && states > 10, "{records} RECORD, {hangups} HANGUP, {states} STATE");
    let acks = udp.iter().filter(|d| d.src.port() == SMS_SERVER_PORT && !d.payload.starts_with(b"reg:")).count();
    assert!(acks >= (records + hangups + states) * 9 / 10, "{acks} acknowledgements");
    for d in udp.iter().filter(|d| d.src.port() == SMS_SERVER_PORT && !d.payload.starts_with(b"reg:")) {
        let t = text(d);
        let (kind, rest) = t.split_once(' ').unwrap();
        assert!(["RECORD", "HANGUP", "STATE"].contains(&kind), "{t}");
        assert!(rest.ends_with(" OK") && digits(rest.trim_end_matches(" OK")), "{t}");
    }
}

#[test]
fn trunk_and_single_account_gateways_spread_calls_over_sims() {
    // Half an hour of the mixed preset's first nine gateways alone: among them a
    // single-account GoIP (32 lines, SIM bank) and a trunk-mode one (8 lines).
    let case = Case::new(&SimConfig {
        duration: Duration::from_secs(1800),
        rtp: false,
        gateways: 9,
        stripped: 0,
        phones: 0,
        pbx_trunk: false,
        dialler: false,
        call_centres: 0,
        pbx_sites: 0,
        softphones: 0,
        single_softphones: 0,
        overseas_voip: 0,
        ..SimConfig::mixed()
    });
    let mut per_line: HashMap<(String, &str), u32> = HashMap::new();
    for d in case.decoded.udp.iter().filter(|d| to_sms_server(d) && d.payload.starts_with(b"RECORD:")) {
        *per_line.entry((d.src.ip().to_string(), fields(text(d))[1].1)).or_default() += 1;
    }
    // Every line of a gateway, idle ones too, from the keep-alives.
    let mut lines_of: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for d in case.decoded.udp.iter().filter(|d| to_sms_server(d) && d.payload.starts_with(b"req:")) {
        lines_of.entry(d.src.ip().to_string()).or_default().insert(fields(text(d))[1].1);
    }
    let mut checked = 0;
    // ICCIDs only come from the control plane (IMSIs also from the cell side).
    for h in case.truth.simboxes().filter(|h| h.accounts.len() <= 1 && !h.iccids.is_empty()) {
        let counts: Vec<u32> = lines_of[&h.address]
            .iter()
            .map(|id| per_line.get(&(h.address.clone(), *id)).copied().unwrap_or(0))
            .collect();
        assert_eq!(counts.len() as u32, h.lines);
        // Least-used selection: every SIM works about as often, far more evenly than
        // chance would make it (a Poisson count has variance = mean); a long call only
        // holds its SIM back for a while.
        let n = counts.len() as f64;
        let mean = counts.iter().sum::<u32>() as f64 / n;
        let var = counts.iter().map(|&c| (f64::from(c) - mean).powi(2)).sum::<f64>() / n;
        let ctx = format!("{} ({} accounts): calls per SIM {counts:?}", h.address, h.accounts.len());
        assert!(mean > 10.0, "{ctx}");
        assert!(counts.iter().all(|&c| f64::from(c) >= 0.5 * mean), "{ctx}: a SIM left behind");
        assert!(var < 0.35 * mean, "{ctx}: variance {var:.2} for mean {mean:.2}");
        checked += 1;
    }
    assert_eq!(checked, 2, "single-account and trunk-mode GoIPs with a control plane");
}

#[test]
fn simbank_datagrams_carry_the_magic_both_ways() {
    let case = mixed_preset();
    let bank: Vec<&Datagram> =
        case.decoded.udp.iter().filter(|d| d.dst.port() == SIMBANK_PORT || d.src.port() == SIMBANK_PORT).collect();
    assert!(bank.len() > 50, "{} SIM-bank datagrams", bank.len());
    assert_eq!(bank.len() as u64, case.truth.simbank_packets);
    let mut senders: BTreeSet<String> = BTreeSet::new();
    let mut last: HashMap<String, u64> = HashMap::new();
    for d in &bank {
        assert_eq!(&d.payload[..4], &SIMBANK_MAGIC.to_be_bytes(), "magic");
        assert!(d.payload.len() >= 24);
        let body = &d.payload[4..];
        let distinct: BTreeSet<u8> = body.iter().copied().collect();
        assert!(distinct.len() * 3 > body.len().min(256), "payload does not look encrypted: {body:02x?}");
        if d.dst.port() == SIMBANK_PORT {
            let gw = d.src.ip().to_string();
            let h = case.truth.host(&gw).unwrap();
            assert!(h.uses_simbank && h.role == Role::Goip);
            let bank_host = case.truth.host(&d.dst.ip().to_string()).unwrap();
            assert_eq!(bank_host.kind, Kind::SimbankServer);
            if let Some(prev) = last.insert(gw.clone(), d.ts) {
                assert!(d.ts - prev <= 26_000_000, "{gw}: SIM-bank silence of {} s", (d.ts - prev) / 1_000_000);
            }
            senders.insert(gw);
        }
    }
    let expected: BTreeSet<String> =
        case.truth.gateways.iter().filter(|h| h.uses_simbank).map(|h| h.address.clone()).collect();
    assert_eq!(senders, expected);
    let goips = case.truth.simboxes().filter(|h| !h.iccids.is_empty()).count();
    assert!(expected.len() * 4 >= goips && expected.len() * 2 <= goips, "{} of {goips} on a SIM bank", expected.len());
}

#[test]
fn sim_rotation_changes_identities_but_not_the_module() {
    let case = mixed_preset();
    // Per gateway channel (source port): IMSIs, ICCIDs and IMEIs over time.
    type Ids = (Vec<String>, BTreeSet<String>, BTreeSet<String>);
    let mut by_port: BTreeMap<std::net::SocketAddr, Ids> = BTreeMap::new();
    for d in case.decoded.udp.iter().filter(|d| to_sms_server(d) && d.payload.starts_with(b"req:")) {
        let k = keepalive(d);
        let e = by_port.entry(d.src).or_default();
        if e.0.last().map(String::as_str) != Some(k.imsi) {
            e.0.push(k.imsi.to_owned());
        }
        e.1.insert(k.iccid.to_owned());
        e.2.insert(k.imei.to_owned());
    }
    let mut rotated = 0;
    for (port, (imsis, iccids, imeis)) in &by_port {
        let h = case.truth.host(&port.ip().to_string()).unwrap();
        assert_eq!(imeis.len(), 1, "{port}: the module's IMEI changed");
        let distinct: BTreeSet<&String> = imsis.iter().collect();
        assert_eq!(distinct.len(), iccids.len(), "{port}: IMSI and ICCID change together");
        if h.uses_simbank {
            rotated += usize::from(imsis.len() > 1);
        } else {
            assert_eq!(imsis.len(), 1, "{port}: SIM changed without a SIM bank");
        }
    }
    assert!(rotated >= 5, "only {rotated} channels had their SIM rotated");
    for h in case.truth.gateways.iter().filter(|h| h.uses_simbank) {
        assert!(h.imsis.len() as u32 > h.lines, "{}: {} IMSIs on {} lines", h.address, h.imsis.len(), h.lines);
        assert_eq!(h.imeis.len() as u32, h.lines);
    }
}

#[test]
fn truth_identities_and_counts_match_the_capture() {
    let case = mixed_preset();
    let mut seen: HashMap<String, [BTreeSet<String>; 3]> = HashMap::new();
    for d in case.decoded.udp.iter().filter(|d| to_sms_server(d) && d.payload.starts_with(b"req:")) {
        let k = keepalive(d);
        let e = seen.entry(d.src.ip().to_string()).or_default();
        e[0].insert(k.imsi.to_owned());
        e[1].insert(k.imei.to_owned());
        e[2].insert(k.iccid.to_owned());
    }
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    for h in &case.truth.gateways {
        let empty = Default::default();
        let [imsis, imeis, iccids] = seen.get(&h.address).unwrap_or(&empty);
        // With the cell side the truth also holds the IMSIs it attached (checked against
        // the GSMTAP frames in `gsm`), and every module's IMEI.
        assert!(set(&h.imsis).is_superset(imsis), "{} IMSIs", h.address);
        assert_eq!(set(&h.imsis).len(), h.imsis.len(), "{}: duplicates in the truth", h.address);
        if !iccids.is_empty() {
            assert_eq!(&set(&h.imeis), imeis, "{} IMEIs", h.address);
        }
        assert_eq!(&set(&h.iccids), iccids, "{} ICCIDs", h.address);
    }
    let control = case.decoded.udp.iter().filter(|d| to_sms_server(d) || d.src.port() == SMS_SERVER_PORT).count();
    assert_eq!(case.truth.control_messages, control as u64);
    let other = case.decoded.udp.iter().filter(|d| !looks_like_sip(&d.payload)).count() as u64;
    let t = &case.truth;
    assert_eq!(other, t.control_messages + t.simbank_packets + t.rtp_packets + t.gsmtap_packets);
    assert_eq!(case.truth.rtp_packets, 0);
}
