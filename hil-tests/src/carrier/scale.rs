//! Carrier records and probe events at benchmark scale, streamed.
//!
//! Row `i` of the registry is a pure function of the seed and `i` (IMSI,
//! ICCID and MSISDN come from bijections of `i`, so they are unique without
//! remembering any), so millions of rows are written in seconds with
//! constant memory, and the CDRs and events can name the same SIMs without
//! reading the registry back.
//!
//! The deployment (`gateways`, `gateway_imsis`): registry rows
//! `0..gateway_imsis` are the SIMs in the gateways, in contiguous blocks
//! (SIM `s` sits in gateway `s * gateways / gateway_imsis`), owned by card
//! openers (3–8 cards each, opened in recruiter bursts at one outlet within
//! hours); the other rows belong to ordinary people (1–3 cards, 1 % with
//! 6–8). CDR rows `0..gateway_imsis * CALLS_PER_SIM` are the gateway SIMs'
//! calls; the rest are ordinary calls, in time order. The events
//! ([`write_events`]) give each gateway one JSON line, a
//! `duanka_shared::events::Batch` with a detection (verdict `simbox`), a
//! `link` per SIM (source `control_plane` for even gateways, `call_match`
//! for odd ones) and a `calls` event with the SIP legs of the gateway SIMs'
//! calls (each INVITE 2 s before the call's start), the same whatever the
//! other sizes; the CDRs hold those calls when they have at least
//! `gateway_imsis * CALLS_PER_SIM` rows.
//!
//! IMSIs are randomly ordered (a multiplicative permutation of `i`): a
//! worst case for the agent's index inserts, not a sorted export.

use std::io::{self, Write};

use duanka_shared::events::{
    Batch, CallObservation, Direction, Event, EventBody, LinkKind, LinkObservation, LinkSource,
};
use duanka_shared::report::{BehaviourSummary, Evidence, EvidenceKind, GatewayReport, RtpSummary, Verdict};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::people;
use super::{push_time, utc_string, CDR_HEADER, REGISTRY_HEADER};
use crate::sim::ids::luhn_digit;

/// Calls per gateway SIM in the CDRs and the events.
pub const CALLS_PER_SIM: u64 = 3;

/// Scenario start of the scale records: 2026-11-02T00:00:00+08:00.
const BASE_MS: i64 = 1_793_548_800_000;
const DAY_MS: i64 = 86_400_000;
const CDR_SPAN_MS: i64 = 30 * DAY_MS;

/// Sizes of a synthetic deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleConfig {
    /// Seed (the same seed gives the same bytes).
    pub seed: u64,
    /// Registry rows.
    pub registry_rows: u64,
    /// CDR rows.
    pub cdr_rows: u64,
    /// Gateways in the deployment.
    pub gateways: u64,
    /// SIMs in those gateways (the first registry rows).
    pub gateway_imsis: u64,
}

impl ScaleConfig {
    /// Checks the sizes fit together.
    pub fn validate(&self) -> Result<(), String> {
        if self.gateway_imsis > self.registry_rows {
            return Err(format!(
                "{} gateway IMSIs need at least as many registry rows (have {})",
                self.gateway_imsis, self.registry_rows
            ));
        }
        if self.gateways == 0 && self.gateway_imsis > 0 {
            return Err("gateway IMSIs need at least one gateway".into());
        }
        if self.gateway_imsis < self.gateways {
            return Err(format!("{} gateways need at least one IMSI each", self.gateways));
        }
        if self.registry_rows >= 1_000_000_000 {
            return Err("at most 999,999,999 registry rows".into());
        }
        Ok(())
    }

    /// The gateway holding gateway SIM `s`.
    pub fn gateway_of(&self, s: u64) -> u64 {
        (u128::from(s) * u128::from(self.gateways) / u128::from(self.gateway_imsis.max(1))) as u64
    }

    /// The gateway SIMs of gateway `g`, as registry row indices.
    pub fn sims_of(&self, g: u64) -> std::ops::Range<u64> {
        let first =
            |g: u64| (u128::from(g) * u128::from(self.gateway_imsis)).div_ceil(u128::from(self.gateways)) as u64;
        first(g)..first(g + 1)
    }
}

/// `(i * a + b) mod m`: a bijection of `0..m` when `a` is coprime to `m`.
fn perm(i: u64, a: u64, b: u64, m: u64) -> u64 {
    ((u128::from(i) * u128::from(a) + u128::from(b)) % u128::from(m)) as u64
}

/// A mixing hash (SplitMix64's finaliser).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The MNC of registry row `i`: 60 % China Mobile, 30 % Unicom, 10 % Telecom.
fn mnc(i: u64) -> &'static str {
    match mix(i) % 10 {
        0..=5 => "00",
        6..=8 => "01",
        _ => "03",
    }
}

/// The IMSI of registry row `i`.
pub fn imsi(seed: u64, i: u64) -> String {
    let msin = perm(i, 7_919_000_003, mix(seed) % 10_000_000_000, 10_000_000_000);
    format!("460{}{msin:010}", mnc(i))
}

fn iccid(seed: u64, i: u64) -> String {
    let serial = perm(i, 3_000_000_000_007, mix(seed ^ 1) % 10_000_000_000_000, 10_000_000_000_000);
    let mut s = format!("8986{}{serial:013}", mnc(i));
    s.push(luhn_digit(&s));
    s
}

/// The MSISDN of registry row `i`.
pub fn msisdn(seed: u64, i: u64) -> String {
    let second = match mnc(i) {
        "00" => '3',
        "01" => '5',
        _ => '8',
    };
    format!("1{second}{:09}", perm(i, 999_999_937, mix(seed ^ 2) % 1_000_000_000, 1_000_000_000))
}

/// Writes `cfg.registry_rows` registry rows (with the header); returns the rows.
pub fn write_registry<W: Write>(cfg: &ScaleConfig, w: W) -> io::Result<u64> {
    let mut w = io::BufWriter::with_capacity(1 << 20, w);
    writeln!(w, "{REGISTRY_HEADER}")?;
    let mut rng = SmallRng::seed_from_u64(cfg.seed ^ 0x5ca1_e000_0000_0001);
    let mut line = String::with_capacity(256);
    let mut i = 0;
    let mut group = 0u64;
    while i < cfg.registry_rows {
        let opener = i < cfg.gateway_imsis;
        let count = if opener {
            rng.gen_range(3..=8)
        } else if rng.gen_bool(0.01) {
            rng.gen_range(6..=8)
        } else {
            [1, 1, 1, 1, 1, 1, 2, 2, 2, 3][rng.gen_range(0..10)]
        };
        let owner_id = people::resident_id(&mut rng);
        let name = people::name(&mut rng);
        // Openers come in groups of about five to one outlet on one afternoon.
        if opener && rng.gen_bool(0.2) {
            group += 1;
        }
        let (outlet_n, day_ms) = if opener {
            (300 + (group % 1000) as u32, BASE_MS - (20 + (mix(group ^ cfg.seed) % 300) as i64) * DAY_MS)
        } else {
            (rng.gen_range(0..=2000), BASE_MS - rng.gen_range(1..3650) * DAY_MS)
        };
        let mut t = day_ms
            + if opener {
                (13 * 3600 + (mix(group) % 7200) as i64) * 1000
            } else {
                rng.gen_range(9 * 3600..19 * 3600) * 1000
            };
        for _ in 0..count {
            if i >= cfg.registry_rows {
                break;
            }
            let imsi = imsi(cfg.seed, i);
            let carrier = people::carrier_of_imsi(&imsi);
            let outlet = people::outlet(carrier, outlet_n);
            line.clear();
            use std::fmt::Write as _;
            let _ = write!(
                line,
                "{imsi},{},{},{carrier},{owner_id},{name},{},{},{},",
                msisdn(cfg.seed, i),
                iccid(cfg.seed, i),
                outlet.id,
                outlet.name,
                outlet.channel
            );
            t += rng.gen_range(60..300) * 1000;
            push_time(&mut line, t);
            line.push('\n');
            w.write_all(line.as_bytes())?;
            i += 1;
        }
    }
    w.flush()?;
    Ok(cfg.registry_rows)
}

/// One gateway call of gateway SIM `s`: (called number, CC Setup time ms).
fn gateway_call(seed: u64, s: u64, j: u64) -> (String, i64) {
    let h = mix(seed ^ mix(s * CALLS_PER_SIM + j + 1));
    let called = format!("1{}{:09}", 3 + h % 7, (h >> 8) % 1_000_000_000);
    // Each SIM's calls 7 minutes apart, SIMs staggered over a day.
    let start = BASE_MS + ((s * 7919) % 86_400) as i64 * 1000 + j as i64 * 420_000 + ((h >> 40) % 60_000) as i64;
    (called, start)
}

fn modem_imei(g: u64, line: u64) -> String {
    const TACS: [&str; 4] = ["86190402", "86733105", "86415107", "35896011"];
    let mut s = format!("{}{:06}", TACS[(g % 4) as usize], (g * 64 + line) % 1_000_000);
    s.push(luhn_digit(&s));
    s
}

fn handset_imei(seed: u64, i: u64) -> String {
    const TACS: [&str; 6] = ["35298711", "35460210", "86914503", "86027406", "35733308", "86553101"];
    let h = mix(seed ^ i);
    let mut s = format!("{}{:06}", TACS[(h % 6) as usize], (h >> 8) % 1_000_000);
    s.push(luhn_digit(&s));
    s
}

/// The gateway's address: `100.64.0.0/10` (shared address space), one per gateway.
pub fn gateway_address(g: u64) -> String {
    let n = g + 1;
    format!("100.{}.{}.{}", 64 + (n >> 16) % 64, (n >> 8) & 255, n & 255)
}

/// Writes `cfg.cdr_rows` CDRs (with the header); returns the rows.
pub fn write_cdrs<W: Write>(cfg: &ScaleConfig, w: W) -> io::Result<u64> {
    let mut w = io::BufWriter::with_capacity(1 << 20, w);
    writeln!(w, "{CDR_HEADER}")?;
    let gw_calls = (cfg.gateway_imsis * CALLS_PER_SIM).min(cfg.cdr_rows);
    let ordinary = cfg.registry_rows - cfg.gateway_imsis;
    let others = cfg.cdr_rows - gw_calls;
    let step = (CDR_SPAN_MS / others.max(1) as i64).max(1);
    let mut line = String::with_capacity(160);
    use std::fmt::Write as _;
    for c in 0..cfg.cdr_rows {
        line.clear();
        if c < gw_calls {
            let (s, j) = (c / CALLS_PER_SIM, c % CALLS_PER_SIM);
            let g = cfg.gateway_of(s);
            let (called, start) = gateway_call(cfg.seed, s, j);
            let h = mix(c ^ cfg.seed);
            let _ = write!(
                line,
                "{},{},{},{called},",
                imsi(cfg.seed, s),
                modem_imei(g, s - cfg.sims_of(g).start),
                msisdn(cfg.seed, s)
            );
            push_time(&mut line, start);
            let _ = writeln!(line, ",{},460-00-{}-{}", if h % 3 == 0 { (h >> 8) % 90 } else { 0 }, 9000 + g % 1000, g);
        } else {
            let k = c - gw_calls;
            let h = mix(cfg.seed ^ (c << 1));
            let i = if ordinary > 0 { cfg.gateway_imsis + h % ordinary } else { h % cfg.registry_rows.max(1) };
            let start = BASE_MS - CDR_SPAN_MS + k as i64 * step + ((h >> 20) as i64 % step);
            let _ = write!(
                line,
                "{},{},{},1{}{:09},",
                imsi(cfg.seed, i),
                handset_imei(cfg.seed, i),
                msisdn(cfg.seed, i),
                3 + (h >> 4) % 7,
                (h >> 12) % 1_000_000_000
            );
            push_time(&mut line, start);
            let _ = writeln!(line, ",{},460-00-{}-{}", 5 + (h >> 50) % 600, 1000 + (h >> 30) % 5000, (h >> 40) % 60000);
        }
        w.write_all(line.as_bytes())?;
    }
    w.flush()?;
    Ok(cfg.cdr_rows)
}

/// A minimal detection report for gateway `g`.
fn report(g: u64, sims: u64) -> GatewayReport {
    let address = gateway_address(g);
    let first = utc_string(BASE_MS - 3_600_000);
    GatewayReport {
        address,
        verdict: Verdict::Simbox,
        score: 9.5,
        vendor: Some("dbl".into()),
        accounts: Vec::new(),
        calls: sims * CALLS_PER_SIM,
        calls_in: sims * CALLS_PER_SIM,
        calls_out: 0,
        calls_answered: sims,
        registrations: 0,
        register_expires: Vec::new(),
        options_sent: 0,
        requests_sent: 0,
        requests_received: sims * CALLS_PER_SIM,
        user_agents: vec!["dble".into()],
        sip_ports: vec![5060],
        first_seen: Some(first.clone()),
        last_seen: Some(utc_string(BASE_MS + DAY_MS)),
        detected_at: Some(first.clone()),
        first_call_at: Some(first),
        detection_latency_s: Some(0.0),
        behaviour: BehaviourSummary::default(),
        imsis: Vec::new(),
        imeis: Vec::new(),
        iccids: Vec::new(),
        rtp: RtpSummary::default(),
        lines: Vec::new(),
        call_log: Vec::new(),
        goip_keepalives: 0,
        simbank_packets: 0,
        evidence: vec![Evidence {
            kind: EvidenceKind::Signature,
            id: "goip.user_agent.dble".into(),
            weight: 9.5,
            detail: "User-Agent of DBL GoIP firmware".into(),
            observed: "dble".into(),
            threshold: "User-Agent = dble".into(),
            vendor: Some("dbl".into()),
            counted: true,
            occurrences: 1,
            frames: Vec::new(),
            file: None,
        }],
    }
}

/// Writes one JSON line (a `Batch`) per gateway; returns the events written.
pub fn write_events<W: Write>(cfg: &ScaleConfig, w: W) -> io::Result<u64> {
    let mut w = io::BufWriter::with_capacity(1 << 20, w);
    let mut n = 0;
    for g in 0..cfg.gateways {
        let sims = cfg.sims_of(g);
        let address = gateway_address(g);
        let at = utc_string(BASE_MS + DAY_MS);
        let id = |what: String| format!("sim{}:gw{g}:{what}", cfg.seed);
        let mut events = vec![Event {
            id: id("detection".into()),
            at: at.clone(),
            body: EventBody::Detection { gateway: Box::new(report(g, sims.end - sims.start)) },
        }];
        let source = if g % 2 == 0 { LinkSource::ControlPlane } else { LinkSource::CallMatch };
        let mut calls = Vec::new();
        for s in sims.clone() {
            events.push(Event {
                id: id(format!("link:{s}")),
                at: at.clone(),
                body: EventBody::Link(LinkObservation {
                    gateway: address.clone(),
                    kind: LinkKind::Imsi,
                    value: imsi(cfg.seed, s),
                    source,
                    confidence: if source == LinkSource::ControlPlane { 1.0 } else { 0.75 },
                    calls_matched: if source == LinkSource::CallMatch { CALLS_PER_SIM } else { 0 },
                }),
            });
            for j in 0..CALLS_PER_SIM {
                let (called, start) = gateway_call(cfg.seed, s, j);
                calls.push(CallObservation {
                    called,
                    calling: None,
                    start: utc_string(start - 2000),
                    direction: Direction::In,
                    answered: j == 0,
                });
            }
        }
        events.push(Event { id: id("calls".into()), at, body: EventBody::Calls { gateway: address, calls } });
        n += events.len() as u64;
        let batch = Batch {
            schema: duanka_shared::events::EVENTS_SCHEMA_VERSION,
            probe_version: concat!("duanka-sim ", env!("CARGO_PKG_VERSION")).into(),
            events,
        };
        serde_json::to_writer(&mut w, &batch)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn cfg() -> ScaleConfig {
        ScaleConfig { seed: 3, registry_rows: 5_000, cdr_rows: 4_000, gateways: 20, gateway_imsis: 1_000 }
    }

    #[test]
    fn identities_are_unique_and_valid() {
        let mut seen = HashSet::new();
        for i in 0..20_000 {
            let s = imsi(7, i);
            assert_eq!(s.len(), 15);
            assert!(seen.insert(s));
            let c = iccid(7, i);
            duanka_shared::ids::Iccid::parse(&c).unwrap();
            assert!(seen.insert(c));
            let m = msisdn(7, i);
            assert_eq!(m.len(), 11);
            assert!(seen.insert(m));
        }
    }

    #[test]
    fn gateways_partition_their_sims() {
        let c = cfg();
        let mut total = 0;
        for g in 0..c.gateways {
            let r = c.sims_of(g);
            assert!(!r.is_empty());
            for s in r.clone() {
                assert_eq!(c.gateway_of(s), g);
            }
            total += r.end - r.start;
        }
        assert_eq!(total, c.gateway_imsis);
        assert!(ScaleConfig { registry_rows: 10, ..c.clone() }.validate().is_err());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn outputs_are_deterministic_and_sized() {
        let c = cfg();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_registry(&c, &mut a).unwrap();
        write_registry(&c, &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.iter().filter(|x| **x == b'\n').count() as u64, c.registry_rows + 1);
        let mut cd = Vec::new();
        write_cdrs(&c, &mut cd).unwrap();
        assert_eq!(cd.iter().filter(|x| **x == b'\n').count() as u64, c.cdr_rows + 1);
        let mut ev = Vec::new();
        write_events(&c, &mut ev).unwrap();
        let text = String::from_utf8(ev).unwrap();
        let mut links = 0;
        let mut calls = 0;
        for l in text.lines() {
            let batch: Batch = serde_json::from_str(l).unwrap();
            for e in batch.events {
                match e.body {
                    EventBody::Link(_) => links += 1,
                    EventBody::Calls { calls: c, .. } => calls += c.len(),
                    _ => {}
                }
            }
        }
        assert_eq!(text.lines().count() as u64, c.gateways);
        assert_eq!(links, c.gateway_imsis);
        assert_eq!(calls as u64, c.gateway_imsis * CALLS_PER_SIM);
    }
}
