//! `duanka-probe run` capturing live, as a real process, on a veth pair in a
//! network namespace each test makes (and removes), reporting to a real
//! `duanka-agent serve` in the same namespace: no packet leaves it.
//!
//! - A GoIP gateway's traffic (from the simulator) put on the wire is found
//!   and reaches the agent as a detection; garbage, truncated and oversized
//!   frames on the SIP port and datagrams on the GSMTAP port are counted
//!   while the probe goes on.
//! - The agent stopped for 30 s and started again: every event the probe
//!   made meanwhile arrives, once. The probe killed with SIGKILL while
//!   events wait in its spool, and started again: they arrive, once.
//!
//! Needs root (namespaces, raw capture) and iproute2; a test that cannot
//! make its namespace fails saying so.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use duanka_hil::netns::Netns;
use duanka_hil::pcap::PcapOut;
use duanka_hil::SimConfig;

/// Inside each test's namespace, where nothing else listens.
const AGENT_LISTEN: &str = "127.0.0.1:8443";
const GSMTAP_LISTEN: &str = "127.0.0.1:4729";
const METRICS: &str = "127.0.0.1:9464";

fn netns() -> Netns {
    let ns = Netns::create("dkt").unwrap_or_else(|e| panic!("{e} (these tests need root and iproute2)"));
    ns.veth("v0", "v1", 9_000).unwrap();
    ns
}

/// The frames of a pcap file.
fn frames(pcap: &[u8]) -> Vec<Vec<u8>> {
    let mut r = pcap_file::pcap::PcapReader::new(pcap).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.unwrap().data.into_owned());
    }
    out
}

/// Puts `frames` on the wire of `iface` inside `ns`.
fn inject(ns: &Netns, iface: &str, frames: &[Vec<u8>]) {
    ns.enter(|| {
        let i = pnet_datalink::interfaces().into_iter().find(|i| i.name == iface).expect("the veth");
        let Ok(pnet_datalink::Channel::Ethernet(mut tx, _rx)) = pnet_datalink::channel(&i, Default::default()) else {
            panic!("cannot open {iface} for sending");
        };
        for f in frames {
            tx.send_to(f, None).expect("a send").expect("sent");
        }
    })
    .unwrap();
}

/// Sends UDP datagrams to `to` from inside `ns`.
fn udp_in(ns: &Netns, to: &str, datagrams: &[Vec<u8>]) {
    ns.enter(|| {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        for d in datagrams {
            s.send_to(d, to).unwrap();
        }
    })
    .unwrap();
}

fn metrics_in(ns: &Netns) -> String {
    ns.enter(|| metrics(METRICS)).unwrap()
}

fn agent_in(ns: &Netns, data: &std::path::Path) -> Agent {
    start_agent_with(data, AGENT_LISTEN, ns.command(agent_bin()))
}

fn probe_in(ns: &Netns, config: &std::path::Path) -> Probe {
    start_probe(ns.command(env!("CARGO_BIN_EXE_duanka-probe")), config)
}

/// A small GoIP scenario: one fingerprinted gateway, a few phones, no media.
fn goip_traffic() -> (Vec<Vec<u8>>, String) {
    let cfg = SimConfig {
        gateways: 1,
        stripped: 0,
        phones: 2,
        duration: Duration::from_secs(120),
        rtp: false,
        pbx_trunk: false,
        dialler: false,
        vlan: false,
        ipv6: false,
        ..SimConfig::default()
    };
    let (pcap, truth) = duanka_hil::generate(&cfg).unwrap();
    let gateway = truth.simboxes().next().expect("a gateway in the scenario").address.clone();
    (frames(&pcap), gateway)
}

/// Bad frames for the SIP port: random bytes, a truncated INVITE, an
/// oversized one (a jumbo frame), a frame cut inside its IP header, and
/// bytes that are not even Ethernet.
fn garbage_frames() -> Vec<Vec<u8>> {
    let src: SocketAddr = "198.51.100.7:5060".parse().unwrap();
    let dst: SocketAddr = "203.0.113.9:5060".parse().unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    let mut invite =
        b"INVITE sip:13800138000@203.0.113.9 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n".to_vec();
    invite.extend(std::iter::repeat_n(b'X', 8_000));
    let mut pcap = PcapOut::new(Vec::new()).unwrap();
    for k in 0..20u64 {
        pcap.udp(k, src, dst, &noise(40 + 50 * k as usize)).unwrap();
    }
    pcap.udp(21, src, dst, b"INVITE sip:13800138000@203.0.113.9 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.1").unwrap();
    pcap.udp(22, src, dst, &invite).unwrap();
    let mut out = frames(&pcap.finish().unwrap());
    let cut = out[0][..20].to_vec();
    out.push(cut);
    out.push(noise(64));
    out
}

#[test]
fn a_goip_on_the_wire_reaches_the_agent_and_garbage_is_counted() {
    let ns = netns();
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_in(&ns, &dir.path().join("agent"));
    let token = add_probe(&agent.data);
    let sources =
        format!("[capture]\ninterfaces = [\"v1\"]\nreport_interval_s = 0.5\n[gsmtap]\nlisten = \"{GSMTAP_LISTEN}\"\n");
    let config = probe_config(dir.path(), &sources, &agent, &token, METRICS);
    let mut probe = probe_in(&ns, &config);

    let (goip, gateway) = goip_traffic();
    inject(&ns, "v0", &goip);
    let needle = format!(":gw:{gateway}:");
    wait_for_events(&agent.data, Duration::from_secs(30), "the GoIP's detection", |events| {
        events.iter().any(|(id, kind)| kind == "detection" && id.contains(&needle)).then_some(())
    });
    let before = metrics_in(&ns);
    assert!(metric(&before, "duanka_kernel_packets_total") >= goip.len() as u64, "{before}");
    assert_eq!(metric(&before, "duanka_kernel_drops_total"), 0, "{before}");
    assert!(metric(&before, "duanka_packets_total") >= goip.len() as u64, "{before}");

    let garbage = garbage_frames();
    inject(&ns, "v0", &garbage);
    let mut gsmtap = vec![vec![0xff; 7], vec![0x02; 9_000], vec![2, 4, 0x02, 0, 0, 1, 0, 0]];
    gsmtap.push(lu_request("460001234567890"));
    udp_in(&ns, GSMTAP_LISTEN, &gsmtap);
    // The counters move once the pipeline has seen the frames.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let page = metrics_in(&ns);
        let seen = metric(&page, "duanka_packets_total") - metric(&before, "duanka_packets_total");
        if seen >= (garbage.len() + gsmtap.len()) as u64
            && metric_sum(&page, "duanka_decode_errors_total") > metric_sum(&before, "duanka_decode_errors_total")
        {
            break page;
        }
        assert!(Instant::now() < deadline, "garbage not counted: before\n{before}\nafter\n{page}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(metric(&after, "duanka_gsmtap_oversized_total"), 1, "{after}");
    assert_eq!(probe.child.try_wait().unwrap(), None, "the probe keeps running after garbage");
    // And it still works: the good GSMTAP datagram among the bad ones arrives.
    wait_for_events(&agent.data, Duration::from_secs(15), "the subscriber after the garbage", |events| {
        events.iter().any(|(id, k)| k == "subscriber" && id.contains(":sub:460001234567890:")).then_some(())
    });
    assert_no_duplicates(&agent_events(&agent.data));
}

/// Subscriber event ids by IMSI.
fn subscribers(data: &std::path::Path) -> BTreeMap<String, Vec<String>> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, kind) in agent_events(data) {
        if kind == "subscriber" {
            if let Some(imsi) = id.split(":sub:").nth(1).and_then(|r| r.split(':').next()) {
                by.entry(imsi.to_string()).or_default().push(id);
            }
        }
    }
    by
}

fn imsis(from: u64, n: u64) -> Vec<String> {
    (from..from + n).map(|k| format!("46000{k:010}")).collect()
}

/// Every one of `want` arrived, each exactly once.
fn all_once(data: &std::path::Path, want: &[String]) -> bool {
    let got = subscribers(data);
    for imsi in want {
        if let Some(ids) = got.get(imsi) {
            assert_eq!(ids.len(), 1, "subscriber {imsi} stored {} times: {ids:?}", ids.len());
        }
    }
    want.iter().all(|i| got.contains_key(i))
}

/// Heartbeat numbers of each boot: none may be missing.
fn heartbeats(data: &std::path::Path) -> BTreeMap<u64, BTreeSet<u64>> {
    let mut by: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for (id, kind) in agent_events(data) {
        if kind == "heartbeat" {
            let mut parts = id.rsplit(':');
            let (Some(seq), Some(boot)) = (parts.next(), parts.next()) else { continue };
            by.entry(boot.parse().unwrap()).or_default().insert(seq.parse().unwrap());
        }
    }
    by
}

#[test]
fn agent_outage_and_probe_kill_lose_nothing_and_duplicate_nothing() {
    let ns = netns();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agent");
    let agent = agent_in(&ns, &data);
    let token = add_probe(&data);
    let sources =
        format!("[capture]\ninterfaces = [\"v1\"]\nreport_interval_s = 0.5\n[gsmtap]\nlisten = \"{GSMTAP_LISTEN}\"\n");
    let config = probe_config(dir.path(), &sources, &agent, &token, METRICS);
    let mut probe = probe_in(&ns, &config);
    let lu = |list: &[String]| list.iter().map(|i| lu_request(i)).collect::<Vec<_>>();

    // Before any outage.
    let first = imsis(1, 20);
    udp_in(&ns, GSMTAP_LISTEN, &lu(&first));
    wait_for_events(&data, Duration::from_secs(15), "the first subscribers", |_| all_once(&data, &first).then_some(()));

    // The agent down for 30 s; the probe goes on capturing and spooling.
    agent.stop();
    let outage = Instant::now();
    let second = imsis(1_000, 50);
    udp_in(&ns, GSMTAP_LISTEN, &lu(&second));
    std::thread::sleep(Duration::from_secs(3));
    let page = metrics_in(&ns);
    assert!(metric(&page, "duanka_spool_depth") >= 1, "events wait in the spool during the outage\n{page}");
    assert!(!page.contains("duanka_uplink_state{state=\"up\"} 1"), "the uplink is not up\n{page}");
    std::thread::sleep(Duration::from_secs(30).saturating_sub(outage.elapsed()));
    let agent = agent_in(&ns, &data);
    wait_for_events(&data, Duration::from_secs(60), "the outage's subscribers", |_| {
        all_once(&data, &second).then_some(())
    });
    // The heartbeats made during the outage arrive too, and none is missing.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let hb = heartbeats(&data);
        let seqs = hb.values().next().cloned().unwrap_or_default();
        let contiguous = seqs.iter().copied().eq(1..=seqs.len() as u64);
        if hb.len() == 1 && contiguous && seqs.len() >= 33 {
            break;
        }
        assert!(Instant::now() < deadline, "heartbeats after the outage: {hb:?}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // Events committed to the spool but not delivered when the probe is
    // killed: the agent is down again, so they cannot leave.
    agent.stop();
    let third = imsis(5_000, 30);
    udp_in(&ns, GSMTAP_LISTEN, &lu(&third));
    let deadline = Instant::now() + Duration::from_secs(15);
    while metric(&metrics_in(&ns), "duanka_spool_depth") < third.len() as u64 {
        assert!(Instant::now() < deadline, "the third batch never reached the spool");
        std::thread::sleep(Duration::from_millis(200));
    }
    probe.child.kill().unwrap();
    probe.child.wait().unwrap();
    let _agent = agent_in(&ns, &data);
    let _probe = probe_in(&ns, &config);
    wait_for_events(&data, Duration::from_secs(30), "the spooled subscribers after SIGKILL", |_| {
        all_once(&data, &third).then_some(())
    });
    for list in [&first, &second, &third] {
        assert!(all_once(&data, list));
    }
    let events = agent_events(&data);
    assert_no_duplicates(&events);
    // Two boots of the probe, each with its heartbeats numbered without a gap.
    let hb = heartbeats(&data);
    assert!(hb.len() <= 2, "{hb:?}");
    for seqs in hb.values() {
        assert!(seqs.iter().copied().eq(1..=seqs.len() as u64), "heartbeats with a gap: {seqs:?}");
    }
}
