//! Behaviour features (SPEC section 3.3): what a SIM box does, as opposed to
//! what it says. Each feature is a test on an address's accumulated call
//! behaviour with a configurable threshold and weight; a passed test becomes
//! an evidence item like a signature match, showing the observed value and
//! the threshold, so an analyst sees why.
//!
//! Statistical features wait for a minimum number of terminated calls, so a
//! single phone call never looks like anything.

use std::fmt;
use std::net::IpAddr;

use regex::Regex;
use serde::Deserialize;

use crate::track::host::Host;

/// Every feature the probe knows, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// Nearly all of the address's calls are calls it receives.
    TerminatesOnly,
    /// Few received calls are answered (answer-seizure ratio).
    LowAnswerRatio,
    /// Answered received calls are short (median talk time).
    ShortCalls,
    /// Almost every received call goes to a different number.
    DistinctCallees,
    /// The numbers dialled are domestic mobile numbers.
    DomesticMobileCallees,
    /// Received calls come from peers outside the home networks.
    ForeignPeers,
    /// Several accounts, and as many calls at once as accounts (every line busy).
    LinesAllBusy,
    /// Lines are kept busy: little idle time between calls.
    LineOccupancy,
    /// Several accounts refreshing their registration every minute or two.
    FastRegistration,
    /// Calls run at a fixed ceiling most of the busy time: a bank of lines.
    CappedConcurrency,
    /// It sends GoIP SMS-server keep-alives (the GoIP control plane).
    GoipControlPlane,
    /// It talks to a remote SIM bank.
    SimBank,
    /// It sends OPTIONS keep-alives like clockwork.
    KeepaliveCadence,
    /// Its lines take the next call within seconds of the last one ending.
    BackToBackLines,
    /// A device linked to it carried many SIMs (IMSI rotation, SIM bank).
    CellSimRotation,
    /// A SIM linked to it was seen in many devices (IMEI randomisation).
    CellManyImeis,
    /// SIMs linked to it attached or detached together at one cell.
    CellCohort,
    /// SIMs linked to it never left one location area.
    CellStationary,
    /// SIMs linked to it only ever originated calls, to many numbers.
    CellOriginatingOnly,
    /// A device linked to it sent an IMEI with a wrong Luhn check digit.
    CellImeiLuhnInvalid,
    /// A device linked to it is a modem module (its TAC is in the modem list).
    CellModemTac,
}

impl FeatureKind {
    const ALL: [(FeatureKind, &'static str); 21] = [
        (FeatureKind::TerminatesOnly, "behaviour.terminates_only"),
        (FeatureKind::LowAnswerRatio, "behaviour.low_answer_ratio"),
        (FeatureKind::ShortCalls, "behaviour.short_calls"),
        (FeatureKind::DistinctCallees, "behaviour.distinct_callees"),
        (FeatureKind::DomesticMobileCallees, "behaviour.domestic_mobile_callees"),
        (FeatureKind::ForeignPeers, "behaviour.foreign_peers"),
        (FeatureKind::LinesAllBusy, "behaviour.lines_all_busy"),
        (FeatureKind::LineOccupancy, "behaviour.line_occupancy"),
        (FeatureKind::FastRegistration, "behaviour.fast_registration"),
        (FeatureKind::CappedConcurrency, "behaviour.capped_concurrency"),
        (FeatureKind::GoipControlPlane, "goip.control_plane"),
        (FeatureKind::SimBank, "goip.simbank"),
        (FeatureKind::KeepaliveCadence, "behaviour.keepalive_cadence"),
        (FeatureKind::BackToBackLines, "behaviour.back_to_back_lines"),
        (FeatureKind::CellSimRotation, "cell.sim_rotation"),
        (FeatureKind::CellManyImeis, "cell.many_imeis"),
        (FeatureKind::CellCohort, "cell.cohort"),
        (FeatureKind::CellStationary, "cell.stationary"),
        (FeatureKind::CellOriginatingOnly, "cell.originating_only"),
        (FeatureKind::CellImeiLuhnInvalid, "cell.imei_luhn_invalid"),
        (FeatureKind::CellModemTac, "cell.modem_tac"),
    ];

    /// The id used in the database file and in evidence.
    pub fn id(self) -> &'static str {
        Self::ALL.iter().find(|(k, _)| *k == self).map(|(_, id)| *id).unwrap_or("behaviour.unknown")
    }

    fn from_id(id: &str) -> Option<FeatureKind> {
        Self::ALL.iter().find(|(_, i)| *i == id).map(|(k, _)| *k)
    }

    /// Whether it is judged on the cell side of the SIMs linked to an
    /// address ([`super::cell_features`]) rather than on its SIP behaviour.
    pub fn is_cell(self) -> bool {
        self.id().starts_with("cell.")
    }

    /// Whether the threshold is a lower bound (observed >= threshold fires).
    pub(crate) fn at_least(self) -> bool {
        !matches!(
            self,
            FeatureKind::LowAnswerRatio
                | FeatureKind::ShortCalls
                | FeatureKind::FastRegistration
                | FeatureKind::KeepaliveCadence
                | FeatureKind::BackToBackLines
        )
    }
}

/// A concurrency level counts as worked at when it holds this share of busy time.
const SATURATION_MIN_SHARE: f64 = 0.05;

/// Idle gaps on lines needed before back-to-back calls are judged.
const MIN_LINE_GAPS: u64 = 5;
/// OPTIONS intervals needed before their cadence is judged.
const MIN_KEEPALIVES: u64 = 5;
/// Largest relative spread of OPTIONS intervals that still counts as a fixed timer.
const KEEPALIVE_MAX_VARIATION: f64 = 0.2;

/// Mean OPTIONS interval (s) when they come on a fixed timer, with its
/// coefficient of variation.
fn keepalive_cadence(host: &Host) -> Option<(f64, f64)> {
    let n = host.options_gaps;
    if n < MIN_KEEPALIVES {
        return None;
    }
    let mean = host.options_gap_sum / n as f64;
    let var = (host.options_gap_sq / n as f64 - mean * mean).max(0.0);
    let cv = if mean > 0.0 { var.sqrt() / mean } else { f64::INFINITY };
    (cv <= KEEPALIVE_MAX_VARIATION).then_some((mean, cv))
}

/// An IP network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parse `a.b.c.d/n` or `x::/n` (a bare address is a host route).
    pub fn parse(s: &str) -> Result<Network, String> {
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("{s:?} is not an IP network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix =
            if p.is_empty() { max } else { p.trim().parse().map_err(|_| format!("{s:?}: bad prefix length"))? };
        if prefix > max {
            return Err(format!("{s:?}: prefix longer than {max}"));
        }
        Ok(Network { addr, prefix })
    }

    /// Whether `ip` lies inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let p = u32::from(self.prefix);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// How numbers and peers are classified (the `[behaviour]` table).
#[derive(Debug, Clone)]
pub struct Numbering {
    domestic_mobile: Regex,
    home_networks: Vec<Network>,
    /// The operator's own SIP servers: behaviour is not judged for them.
    own_servers: Vec<Network>,
    /// Received calls needed before statistical features are evaluated.
    pub min_calls: u64,
    /// Calls shorter than this (seconds) count as short.
    pub short_call_s: f64,
}

impl Numbering {
    /// Whether a dialled number (Request-URI user part, as sent) is a domestic mobile.
    pub fn is_domestic_mobile(&self, number: &str) -> bool {
        let n = number.split(';').next().unwrap_or_default();
        let digits: String = n.chars().filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' ')).collect();
        let digits = digits.strip_prefix('+').unwrap_or(&digits);
        self.domestic_mobile.is_match(digits)
    }

    /// Whether a peer is in the home networks; None when none are configured.
    pub fn is_home(&self, ip: IpAddr) -> Option<bool> {
        (!self.home_networks.is_empty()).then(|| self.home_networks.iter().any(|n| n.contains(ip)))
    }

    /// Whether `ip` is one of the operator's own SIP servers (`own_servers`).
    pub fn is_own_server(&self, ip: IpAddr) -> bool {
        self.own_servers.iter().any(|n| n.contains(ip))
    }
}

impl Default for Numbering {
    fn default() -> Self {
        Numbering {
            // China: 1[3-9] and nine more digits, optionally with the country code.
            domestic_mobile: Regex::new(r"^(?:0{0,2}86)?1[3-9][0-9]{9}$").expect("valid default pattern"),
            home_networks: Vec::new(),
            own_servers: Vec::new(),
            min_calls: 8,
            short_call_s: 60.0,
        }
    }
}

/// `[behaviour]` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NumberingRepr {
    domestic_mobile: Option<String>,
    #[serde(default)]
    home_networks: Vec<String>,
    #[serde(default)]
    own_servers: Vec<String>,
    min_calls: Option<u64>,
    short_call_s: Option<f64>,
}

impl NumberingRepr {
    pub(crate) fn compile(self) -> Result<Numbering, String> {
        let mut n = Numbering::default();
        if let Some(p) = self.domestic_mobile {
            n.domestic_mobile =
                Regex::new(&p).map_err(|e| format!("[behaviour] domestic_mobile: bad pattern {p:?}: {e}"))?;
        }
        n.home_networks = self
            .home_networks
            .iter()
            .map(|s| Network::parse(s).map_err(|e| format!("[behaviour] home_networks: {e}")))
            .collect::<Result<_, _>>()?;
        n.own_servers = self
            .own_servers
            .iter()
            .map(|s| Network::parse(s).map_err(|e| format!("[behaviour] own_servers: {e}")))
            .collect::<Result<_, _>>()?;
        if let Some(m) = self.min_calls {
            n.min_calls = m.max(1);
        }
        if let Some(s) = self.short_call_s {
            if !(s.is_finite() && s > 0.0) {
                return Err("[behaviour] short_call_s must be a positive number".into());
            }
            n.short_call_s = s;
        }
        Ok(n)
    }
}

/// One configured feature.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Which test.
    pub kind: FeatureKind,
    /// Log-odds weight.
    pub weight: f64,
    /// Its threshold.
    pub threshold: f64,
    /// Signatures and features of one group count once.
    pub group: String,
    /// What it means, for analysts.
    pub description: String,
}

/// `[[feature]]` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeatureRepr {
    id: String,
    weight: f64,
    threshold: f64,
    group: Option<String>,
    description: String,
}

impl FeatureRepr {
    pub(crate) fn compile(self) -> Result<Feature, String> {
        let kind = FeatureKind::from_id(&self.id).ok_or_else(|| {
            let known: Vec<&str> = FeatureKind::ALL.iter().map(|(_, id)| *id).collect();
            format!("feature {:?}: unknown id; known: {}", self.id, known.join(", "))
        })?;
        if !(self.weight.is_finite() && self.threshold.is_finite()) {
            return Err(format!("feature {:?}: weight and threshold must be finite numbers", self.id));
        }
        Ok(Feature {
            kind,
            weight: self.weight,
            threshold: self.threshold,
            group: self.group.unwrap_or(self.id),
            description: self.description,
        })
    }
}

/// A feature that fired, with what was observed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureHit {
    /// Index into the configured features.
    pub index: usize,
    /// The observed value, for people.
    pub observed: String,
    /// The rule, for people.
    pub rule: String,
}

struct Pct(f64);

impl fmt::Display for Pct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.0}%", self.0 * 100.0)
    }
}

/// Evaluate every configured feature on one address.
pub fn evaluate(features: &[Feature], numbering: &Numbering, host: &Host) -> Vec<FeatureHit> {
    let b = &host.behaviour;
    let t = &b.terminated;
    let enough = t.calls >= numbering.min_calls;
    let accounts = host.accounts.len() as u64;
    // An operator's SBC or softswitch terminates calls to mobiles as a
    // gateway does: its behaviour says nothing. Its protocol still does.
    let own_server = numbering.is_own_server(host.addr);
    let mut hits = Vec::new();
    for (index, f) in features.iter().enumerate() {
        if own_server && f.kind.id().starts_with("behaviour.") {
            continue;
        }
        // (observed value, its text) or None when the feature cannot be judged.
        let value: Option<(f64, String)> = match f.kind {
            FeatureKind::TerminatesOnly => enough.then(|| {
                let share = t.calls as f64 / (t.calls + b.originated) as f64;
                (share, format!("{} of {} calls received ({})", t.calls, t.calls + b.originated, Pct(share)))
            }),
            FeatureKind::LowAnswerRatio => enough.then(|| {
                let asr = t.answered as f64 / t.calls as f64;
                (asr, format!("{} of {} received calls answered ({})", t.answered, t.calls, Pct(asr)))
            }),
            FeatureKind::ShortCalls => if enough { t.median_talk_s() } else { None }.map(|m| {
                let short = t.short_share(numbering.short_call_s).unwrap_or(0.0);
                let mean = t.mean_talk_s().unwrap_or(0.0);
                (
                    m,
                    format!(
                        "median talk {m:.0} s, mean {mean:.0} s, {} under {:.0} s",
                        Pct(short),
                        numbering.short_call_s
                    ),
                )
            }),
            FeatureKind::DistinctCallees => enough.then(|| {
                let d = t.distinct_callees().min(t.calls);
                let r = d as f64 / t.calls as f64;
                (r, format!("{d} distinct numbers in {} received calls ({:.2} per call)", t.calls, r))
            }),
            FeatureKind::DomesticMobileCallees => enough.then(|| {
                let r = t.domestic_mobile as f64 / t.calls as f64;
                (r, format!("{} of {} dialled numbers are domestic mobiles ({})", t.domestic_mobile, t.calls, Pct(r)))
            }),
            FeatureKind::ForeignPeers => (enough && t.peer_known > 0).then(|| {
                let r = t.from_foreign as f64 / t.peer_known as f64;
                (
                    r,
                    format!(
                        "{} of {} received calls from outside the home networks ({})",
                        t.from_foreign,
                        t.peer_known,
                        Pct(r)
                    ),
                )
            }),
            FeatureKind::LinesAllBusy => (enough && accounts >= 2).then(|| {
                let r = f64::from(b.peak_active) / accounts as f64;
                (r, format!("{} calls at once with {accounts} accounts ({:.2} per account)", b.peak_active, r))
            }),
            FeatureKind::LineOccupancy => match (t.first_setup, t.last_end) {
                (Some(first), Some(last)) if enough && last > first && b.peak_active >= 2 => {
                    let span = (last - first) as f64;
                    let r = t.busy_us as f64 / (span * f64::from(b.peak_active));
                    Some((
                        r,
                        format!(
                            "lines busy {} of the time over {:.0} min at up to {} calls at once",
                            Pct(r.min(1.0)),
                            span / 60e6,
                            b.peak_active
                        ),
                    ))
                }
                _ => None,
            },
            FeatureKind::CappedConcurrency => if enough { b.saturation(SATURATION_MIN_SHARE) } else { None }
                .filter(|(cap, _)| *cap >= 3)
                .map(|(cap, share)| {
                    (
                        share,
                        format!(
                            "{} of busy time at {cap} or {} calls at once, never more for long",
                            Pct(share),
                            cap - 1
                        ),
                    )
                }),
            FeatureKind::GoipControlPlane => (host.goip_keepalives > 0).then(|| {
                let n = host.goip_keepalives as f64;
                let text = format!(
                    "{} keep-alives from {} channels naming {} IMSIs, {} IMEIs, {} ICCIDs",
                    host.goip_keepalives,
                    host.goip_channels.len(),
                    host.imsis.items.len(),
                    host.imeis.items.len(),
                    host.iccids.items.len()
                );
                (n, text)
            }),
            FeatureKind::SimBank => (host.simbank_packets > 0).then(|| {
                (host.simbank_packets as f64, format!("{} SIM-bank packets (magic 0x43215678)", host.simbank_packets))
            }),
            FeatureKind::KeepaliveCadence => keepalive_cadence(host).map(|(mean, cv)| {
                (mean, format!("{} OPTIONS every {mean:.0} s on average (variation {:.0}%)", host.options_sent, cv * 100.0))
            }),
            FeatureKind::BackToBackLines => host.lines.mean_idle_gap_s().filter(|(_, n)| *n >= MIN_LINE_GAPS).map(|(g, n)| {
                (g, format!("the next call starts {g:.1} s after the last ended, on average over {n} calls on its lines"))
            }),
            // Judged after links are known, by `cell_features::evaluate`.
            FeatureKind::CellSimRotation
            | FeatureKind::CellManyImeis
            | FeatureKind::CellCohort
            | FeatureKind::CellStationary
            | FeatureKind::CellOriginatingOnly
            | FeatureKind::CellImeiLuhnInvalid
            | FeatureKind::CellModemTac => None,
            FeatureKind::FastRegistration => (accounts >= 2)
                .then(|| host.lines.mean_refresh_s())
                .flatten()
                .map(|s| (s, format!("{accounts} accounts refreshing every {s:.0} s on average"))),
        };
        let Some((v, observed)) = value else { continue };
        let fires = if f.kind.at_least() { v >= f.threshold } else { v <= f.threshold };
        if fires {
            let rule = format!("{} {} {}", f.kind.id(), if f.kind.at_least() { ">=" } else { "<=" }, f.threshold);
            hits.push(FeatureHit { index, observed, rule });
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::behaviour::CallFacts;

    #[test]
    fn networks() {
        let n = Network::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.200.1.1".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        let n = Network::parse("2001:db8::/32").unwrap();
        assert!(n.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!n.contains("2001:db9::5".parse().unwrap()));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Network::parse("192.0.2.1").unwrap().contains("192.0.2.1".parse().unwrap()));
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("nope").is_err());
    }

    #[test]
    fn domestic_mobile_numbers() {
        let n = Numbering::default();
        for yes in
            ["13812345678", "8613812345678", "+8613812345678", "008613812345678", "138-1234-5678", "13812345678;npdi"]
        {
            assert!(n.is_domestic_mobile(yes), "{yes}");
        }
        for no in ["12812345678", "1381234567", "85512345678", "02112345678", "101", ""] {
            assert!(!n.is_domestic_mobile(no), "{no}");
        }
    }

    fn features() -> Vec<Feature> {
        FeatureKind::ALL
            .iter()
            .map(|(kind, id)| Feature {
                kind: *kind,
                weight: 1.0,
                threshold: match kind {
                    FeatureKind::LowAnswerRatio => 0.5,
                    FeatureKind::ShortCalls => 60.0,
                    FeatureKind::FastRegistration => 180.0,
                    FeatureKind::LinesAllBusy => 0.75,
                    FeatureKind::LineOccupancy => 0.5,
                    FeatureKind::CappedConcurrency => 0.6,
                    FeatureKind::GoipControlPlane | FeatureKind::SimBank => 1.0,
                    FeatureKind::KeepaliveCadence => 120.0,
                    FeatureKind::BackToBackLines => 10.0,
                    _ => 0.9,
                },
                group: id.to_string(),
                description: String::new(),
            })
            .collect()
    }

    #[test]
    fn a_busy_terminating_host_fires_and_a_quiet_one_does_not() {
        let numbering =
            Numbering { home_networks: vec![Network::parse("10.0.0.0/8").unwrap()], ..Numbering::default() };
        let mut h = Host::new("192.0.2.1".parse().unwrap(), 0);
        let mut quiet = h.clone();
        for i in 0..20u64 {
            let number = format!("86138000000{i:02}");
            let answered = (i % 3 == 0).then_some(i * 60_000_000 + 5_000_000);
            h.behaviour.call_started(i * 60_000_000);
            h.behaviour.call_started(i * 60_000_000);
            h.behaviour.terminated.add(&CallFacts {
                setup_ts: i * 60_000_000,
                answer_ts: answered,
                end_ts: i * 60_000_000 + 55_000_000,
                callee_number: &number,
                peer_is_home: numbering.is_home("203.0.113.5".parse().unwrap()),
                callee_is_domestic_mobile: numbering.is_domestic_mobile(&number),
            });
            h.behaviour.call_ended(i * 60_000_000 + 55_000_000);
            h.behaviour.call_ended(i * 60_000_000 + 55_000_000);
        }
        let fired: Vec<&str> =
            evaluate(&features(), &numbering, &h).iter().map(|hit| features()[hit.index].kind.id()).collect();
        for id in [
            "behaviour.terminates_only",
            "behaviour.low_answer_ratio",
            "behaviour.short_calls",
            "behaviour.distinct_callees",
            "behaviour.domestic_mobile_callees",
            "behaviour.foreign_peers",
        ] {
            assert!(fired.contains(&id), "{id} in {fired:?}");
        }
        quiet.behaviour.terminated.add(&CallFacts {
            setup_ts: 0,
            answer_ts: Some(1),
            end_ts: 10,
            callee_number: "13800000000",
            peer_is_home: Some(false),
            callee_is_domestic_mobile: true,
        });
        assert!(evaluate(&features(), &numbering, &quiet).is_empty(), "one call is not enough to judge");

        // The same calls at one of the operator's own servers: behaviour is not judged there.
        let own = Numbering { own_servers: vec![Network::parse("192.0.2.0/28").unwrap()], ..numbering.clone() };
        assert!(own.is_own_server("192.0.2.1".parse().unwrap()));
        assert!(!own.is_own_server("192.0.2.17".parse().unwrap()));
        assert!(evaluate(&features(), &own, &h).is_empty(), "no behaviour feature for an own server");
        h.goip_keepalives = 3;
        let fired: Vec<&str> =
            evaluate(&features(), &own, &h).iter().map(|hit| features()[hit.index].kind.id()).collect();
        assert_eq!(fired, ["goip.control_plane"], "its protocol still counts");
    }

    #[test]
    fn own_servers_are_parsed_and_bad_ones_named() {
        let repr: NumberingRepr = toml::from_str("own_servers = [\"198.51.100.20/32\", \"2001:db8::/48\"]").unwrap();
        let n = repr.compile().unwrap();
        assert!(n.is_own_server("198.51.100.20".parse().unwrap()));
        assert!(n.is_own_server("2001:db8::5".parse().unwrap()));
        let repr: NumberingRepr = toml::from_str("own_servers = [\"198.51.100.300/32\"]").unwrap();
        let e = repr.compile().unwrap_err();
        assert!(e.starts_with("[behaviour] own_servers:"), "{e}");
    }
}
