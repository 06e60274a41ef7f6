//! From an address's tracked state and evidence to its score and verdict.
//!
//! One function, [`assess`], turns signature matches and behaviour features
//! into scored evidence; it serves both the online check while a capture
//! plays (to time the detection) and the final report.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, UNIX_EPOCH};

use duanka_shared::report::{
    link_source, BehaviourSummary, CellReport, CellSeen, DeviceReport, Evidence, EvidenceKind, GatewayReport,
    IdentityReport, LineReport, RtpSummary, SimLink, SubscriberReport, Verdict,
};

use std::collections::HashMap;

use super::features;
use super::signatures::{SignatureDb, Thresholds};
use crate::capture::Micros;
use crate::track::cell::CellTracker;
use crate::track::host::{EvidenceSource, Host, IdentityList};
use crate::track::links::Linker;

/// The verdict a score earns.
pub fn verdict(score: f64, t: &Thresholds) -> Verdict {
    if score >= t.simbox {
        Verdict::Simbox
    } else if score >= t.suspect {
        Verdict::Suspect
    } else {
        Verdict::Clean
    }
}

/// RFC 3339 text of a capture time.
pub fn rfc3339(ts: Micros) -> String {
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_micros(ts)).to_string()
}

/// An address's scored evidence.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// Sum of the counted weights.
    pub score: f64,
    /// The verdict for that score.
    pub verdict: Verdict,
    /// Vendor with the most counted weight, once the address is not clean.
    pub vendor: Option<String>,
    /// Every item, strongest first.
    pub evidence: Vec<Evidence>,
}

/// Score one address. `files` names the inputs by index (for frame references).
pub fn assess(host: &Host, db: &SignatureDb, files: &[String]) -> Assessment {
    let file = |i: u32| files.get(i as usize).cloned();
    let mut items: Vec<(Evidence, &str)> = host
        .evidence
        .iter()
        .filter_map(|acc| {
            let EvidenceSource::Signature(i) = acc.source;
            let sig = db.signatures.get(i)?;
            let item = Evidence {
                kind: EvidenceKind::Signature,
                id: sig.id.clone(),
                weight: sig.weight,
                detail: sig.description.clone(),
                observed: acc.observed.clone(),
                threshold: format!("{} ~ {}", sig.field, sig.rule_text),
                vendor: sig.vendor.clone(),
                counted: false,
                occurrences: acc.occurrences,
                frames: acc.frames.clone(),
                file: file(acc.file),
            };
            Some((item, sig.group.as_str()))
        })
        .collect();
    let call_file = host.call_frames.first().map(|f| f.file);
    let call_frames: Vec<u64> =
        host.call_frames.iter().filter(|f| Some(f.file) == call_file).map(|f| f.number).collect();
    for hit in features::evaluate(&db.features, &db.numbering, host) {
        let f = &db.features[hit.index];
        // Control-plane features point at their own packets; behaviour at the calls.
        let own = match f.kind {
            features::FeatureKind::GoipControlPlane => Some(&host.goip_frames),
            features::FeatureKind::SimBank => Some(&host.simbank_frames),
            _ => None,
        };
        let (frames, frames_file) = match own {
            Some(refs) => {
                let f0 = refs.first().map(|f| f.file);
                (refs.iter().filter(|f| Some(f.file) == f0).map(|f| f.number).collect(), f0.and_then(file))
            }
            None => (call_frames.clone(), call_file.and_then(file)),
        };
        let item = Evidence {
            kind: EvidenceKind::Feature,
            id: f.kind.id().to_string(),
            weight: f.weight,
            detail: f.description.clone(),
            observed: hit.observed,
            threshold: hit.rule,
            vendor: None,
            counted: false,
            occurrences: host.behaviour.terminated.calls,
            frames,
            file: frames_file,
        };
        items.push((item, f.group.as_str()));
    }
    items.sort_by(|a, b| b.0.weight.total_cmp(&a.0.weight).then_with(|| a.0.id.cmp(&b.0.id)));
    let mut groups = HashSet::new();
    let mut score = 0.0;
    for (e, group) in &mut items {
        if groups.insert(*group) {
            e.counted = true;
            score += e.weight;
        }
    }
    let score = (score * 1000.0).round() / 1000.0;
    let verdict = verdict(score, &db.thresholds);
    // A vendor guess only means something once the address is not clean.
    let vendor =
        if verdict == Verdict::Clean { None } else { best_vendor(items.iter().map(|(e, _)| e).filter(|e| e.counted)) };
    Assessment { score, verdict, vendor, evidence: items.into_iter().map(|(e, _)| e).collect() }
}

/// The vendor with the most counted weight (ties: the first by name).
fn best_vendor<'a>(counted: impl Iterator<Item = &'a Evidence>) -> Option<String> {
    let mut by_vendor: BTreeMap<&str, f64> = BTreeMap::new();
    for e in counted {
        if let Some(v) = &e.vendor {
            *by_vendor.entry(v.as_str()).or_default() += e.weight;
        }
    }
    by_vendor.into_iter().max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0))).map(|(v, _)| v.to_string())
}

fn sorted_text<'a>(items: impl Iterator<Item = &'a Box<[u8]>>) -> Vec<String> {
    let mut v: Vec<String> = items.map(|b| String::from_utf8_lossy(b).into_owned()).collect();
    v.sort_unstable();
    v
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| ((n as f64 / d as f64) * 1000.0).round() / 1000.0)
}

fn identities(list: &IdentityList, files: &[String]) -> Vec<IdentityReport> {
    list.items
        .iter()
        .map(|i| IdentityReport {
            value: i.value.to_string(),
            valid: i.valid,
            channel: i.channel.as_deref().map(str::to_string),
            occurrences: i.occurrences,
            frames: i.frames.clone(),
            file: files.get(i.file as usize).cloned(),
        })
        .collect()
}

/// The SIMs a gateway's control plane announced, as links.
fn announced_sims(list: &IdentityList, files: &[String]) -> Vec<SimLink> {
    list.items
        .iter()
        .map(|i| SimLink {
            imsi: i.value.to_string(),
            // The gateway names the SIM itself; a malformed IMSI names nothing.
            confidence: if i.valid { 1.0 } else { 0.0 },
            sources: vec![link_source::CONTROL_PLANE.to_string()],
            valid: i.valid,
            channel: i.channel.as_deref().map(str::to_string),
            imei: None,
            calls_matched: 0,
            calls_ambiguous: 0,
            occurrences: i.occurrences,
            frames: i.frames.clone(),
            sip_frames: Vec::new(),
            gsm_frames: Vec::new(),
            file: files.get(i.file as usize).cloned(),
        })
        .collect()
}

fn line_reports(host: &Host) -> Vec<LineReport> {
    let mut v: Vec<LineReport> = host
        .lines
        .map
        .iter()
        .map(|(id, l)| LineReport {
            id: id.to_string(),
            registrations: l.registrations,
            expires: l.expires,
            mean_refresh_s: (l.refreshes > 0)
                .then(|| (l.refresh_sum_us as f64 / l.refreshes as f64 / 1e5).round() / 10.0),
            calls: l.calls,
            mean_idle_gap_s: (l.gaps > 0).then(|| (l.gap_sum_us as f64 / l.gaps as f64 / 1e5).round() / 10.0),
        })
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

fn rtp_summary(host: &Host) -> RtpSummary {
    let r = &host.rtp;
    let round = |v: f64| (v * 100.0).round() / 100.0;
    RtpSummary {
        streams: r.streams,
        linked_to_calls: r.linked,
        packets: r.packets,
        lost: r.lost,
        mean_jitter_ms: (r.jitter_n > 0).then(|| round(r.jitter_sum_ms / r.jitter_n as f64)),
        max_jitter_ms: r.max_jitter_ms.map(round),
        ptimes_ms: r.ptimes.clone(),
        codecs: r.codecs.clone(),
        streams_with_rtcp: r.with_rtcp,
        dtmf_events: r.dtmf_events,
        silence_gaps: r.silence_gaps,
    }
}

fn behaviour_summary(host: &Host) -> BehaviourSummary {
    let b = &host.behaviour;
    let t = &b.terminated;
    let round = |v: f64| (v * 10.0).round() / 10.0;
    BehaviourSummary {
        calls_terminated: t.calls,
        calls_originated: b.originated,
        answer_ratio: ratio(t.answered, t.calls),
        median_talk_s: t.median_talk_s().map(round),
        mean_talk_s: t.mean_talk_s().map(round),
        distinct_callees_per_call: ratio(t.distinct_callees().min(t.calls), t.calls),
        domestic_mobile_share: ratio(t.domestic_mobile, t.calls),
        foreign_peer_share: ratio(t.from_foreign, t.peer_known),
        peak_concurrent_calls: b.peak_active,
        mean_refresh_s: host.lines.mean_refresh_s().map(round),
        options_interval_s: (host.options_gaps > 0).then(|| round(host.options_gap_sum / host.options_gaps as f64)),
        mean_line_idle_gap_s: host.lines.mean_idle_gap_s().map(|(g, _)| round(g)),
    }
}

/// Build the report entry for one address. `files` names the inputs by index.
pub fn gateway_report(host: &Host, db: &SignatureDb, files: &[String]) -> GatewayReport {
    let a = assess(host, db, files);
    let mut sip_ports: Vec<u16> = host.sip_ports.iter().copied().collect();
    sip_ports.sort_unstable();
    let mut register_expires: Vec<u32> = host.register_expires.iter().copied().collect();
    register_expires.sort_unstable();
    let latency = match (host.first_call_ts, host.detected_at) {
        (Some(first), Some(det)) => Some(det.saturating_sub(first) as f64 / 1e6),
        _ => None,
    };
    GatewayReport {
        address: host.addr.to_string(),
        verdict: a.verdict,
        score: a.score,
        vendor: a.vendor,
        accounts: sorted_text(host.accounts.iter()),
        calls: host.calls_in + host.calls_out,
        calls_in: host.calls_in,
        calls_out: host.calls_out,
        calls_answered: host.calls_answered,
        registrations: host.registrations,
        register_expires,
        options_sent: host.options_sent,
        requests_sent: host.requests_sent,
        requests_received: host.requests_received,
        user_agents: sorted_text(host.user_agents.iter()),
        sip_ports,
        first_seen: Some(rfc3339(host.first_ts)),
        last_seen: Some(rfc3339(host.last_ts)),
        detected_at: host.detected_at.map(rfc3339),
        first_call_at: host.first_call_ts.map(rfc3339),
        detection_latency_s: latency,
        behaviour: behaviour_summary(host),
        imsis: announced_sims(&host.imsis, files),
        imeis: identities(&host.imeis, files),
        iccids: identities(&host.iccids, files),
        rtp: rtp_summary(host),
        lines: line_reports(host),
        call_log: host.call_log.clone(),
        goip_keepalives: host.goip_keepalives,
        simbank_packets: host.simbank_packets,
        evidence: a.evidence,
    }
}

/// Merge each gateway's SIM links from matched call legs into its `imsis`
/// (beside the SIMs its control plane announced), most confident first.
pub fn attach_links(gateways: &mut [GatewayReport], linker: &Linker, files: &[String]) {
    let mut by_gateway: HashMap<String, Vec<(&String, &crate::track::links::Link)>> = HashMap::new();
    for ((gw, imsi), l) in &linker.links {
        by_gateway.entry(gw.to_string()).or_default().push((imsi, l));
    }
    for g in gateways {
        for (imsi, l) in by_gateway.remove(&g.address).unwrap_or_default() {
            let confidence = l.confidence();
            let sip_frames: Vec<u64> = l.frames.iter().map(|(s, _)| s.number).collect();
            let gsm_frames: Vec<u64> = l.frames.iter().map(|(_, f)| f.number).collect();
            let file = l.frames.first().and_then(|(s, _)| files.get(s.file as usize).cloned());
            match g.imsis.iter_mut().find(|s| &s.imsi == imsi) {
                Some(s) => {
                    s.confidence = s.confidence.max(confidence);
                    s.sources.push(link_source::CALL_MATCH.to_string());
                    s.imei = s.imei.take().or_else(|| l.imei.clone());
                    s.calls_matched = l.matched;
                    s.calls_ambiguous = l.ambiguous;
                    s.sip_frames = sip_frames;
                    s.gsm_frames = gsm_frames;
                    s.file = s.file.take().or(file);
                }
                None => g.imsis.push(SimLink {
                    imsi: imsi.clone(),
                    confidence,
                    sources: vec![link_source::CALL_MATCH.to_string()],
                    valid: duanka_shared::ids::Imsi::parse(imsi).is_ok(),
                    channel: None,
                    imei: l.imei.clone(),
                    calls_matched: l.matched,
                    calls_ambiguous: l.ambiguous,
                    occurrences: 0,
                    frames: Vec::new(),
                    sip_frames,
                    gsm_frames,
                    file,
                }),
            }
        }
        g.imsis.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then_with(|| b.calls_matched.cmp(&a.calls_matched))
                .then_with(|| a.imsi.cmp(&b.imsi))
        });
    }
}

/// Add the cell-side evidence of each gateway (what its linked SIMs and
/// devices did on the air, [`super::cell_features`]) and re-score it. Runs
/// after [`attach_links`], on the finished report.
pub fn add_cell_evidence(
    gateways: &mut [GatewayReport],
    subscribers: &[SubscriberReport],
    devices: &[DeviceReport],
    db: &SignatureDb,
) {
    if subscribers.is_empty() && devices.is_empty() {
        return;
    }
    let index = super::cell_features::CellIndex::new(subscribers, devices);
    for g in gateways {
        let hits = super::cell_features::evaluate(&db.features, &db.modem_tacs, g, &index);
        if hits.is_empty() {
            continue;
        }
        // The GSM call set-ups that tied the SIMs to it are the packets behind the evidence.
        let (frames, file) = g
            .imsis
            .iter()
            .find(|l| !l.gsm_frames.is_empty())
            .map(|l| (l.gsm_frames.clone(), l.file.clone()))
            .unwrap_or_default();
        let mut groups: HashSet<String> = g.evidence.iter().filter(|e| e.counted).map(|e| e.id.clone()).collect();
        for hit in hits {
            let f = &db.features[hit.index];
            let counted = groups.insert(f.group.clone());
            if counted {
                g.score += f.weight;
            }
            g.evidence.push(Evidence {
                kind: EvidenceKind::Feature,
                id: f.kind.id().to_string(),
                weight: f.weight,
                detail: f.description.clone(),
                observed: hit.observed,
                threshold: hit.rule,
                vendor: None,
                counted,
                occurrences: g.imsis.len() as u64,
                frames: frames.clone(),
                file: file.clone(),
            });
        }
        g.score = (g.score * 1000.0).round() / 1000.0;
        g.evidence.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.id.cmp(&b.id)));
        g.verdict = verdict(g.score, &db.thresholds);
        if g.verdict != Verdict::Clean && g.vendor.is_none() {
            g.vendor = best_vendor(g.evidence.iter().filter(|e| e.counted));
        }
    }
}

/// The cell side of a report: totals, message counts, cells, SIMs, devices.
#[derive(Debug, Clone, Default)]
pub struct CellSide {
    /// Totals.
    pub summary: CellReport,
    /// Messages by type.
    pub messages: std::collections::BTreeMap<String, u64>,
    /// Cells heard.
    pub cells: Vec<CellSeen>,
    /// SIMs.
    pub subscribers: Vec<SubscriberReport>,
    /// Devices.
    pub devices: Vec<DeviceReport>,
}

/// The cell side in figures.
pub fn cell_report(cells: &CellTracker) -> CellSide {
    let flags = cells.subscriber_flags();
    let mut subscribers: Vec<SubscriberReport> = cells
        .subscribers
        .iter()
        .map(|(imsi, s)| SubscriberReport {
            imsi: imsi.clone(),
            tmsis: s.tmsis.iter().map(|t| format!("{t:08x}")).collect(),
            location_areas: s.cells.iter().map(|c| format!("{}-{:02}-{}", c.mcc, c.mnc, c.lac)).collect(),
            imeis: s.imeis.clone(),
            attaches: s.attaches,
            location_updates: s.location_updates,
            detaches: s.detaches,
            setups: s.setups,
            distinct_called: s.called.len() as u64,
            paging_responses: s.paging_responses,
            flags: flags.get(imsi.as_str()).map(|f| f.iter().map(|x| (*x).to_string()).collect()).unwrap_or_default(),
            first_seen: rfc3339(s.first_ts),
            last_seen: rfc3339(s.last_ts),
        })
        .collect();
    subscribers.sort_by(|a, b| a.imsi.cmp(&b.imsi));
    let mut devices: Vec<DeviceReport> = cells
        .devices
        .iter()
        .map(|(imei, d)| {
            let luhn_valid = (imei.len() == 15).then(|| duanka_shared::ids::Imei::parse(imei).is_ok());
            let mut flags = Vec::new();
            if d.imsis.len() >= crate::track::cell::MANY {
                flags.push("sim_rotation".to_string());
            }
            if luhn_valid == Some(false) {
                flags.push("luhn_invalid".to_string());
            }
            DeviceReport {
                imei: imei.clone(),
                tac: imei.chars().take(8).collect(),
                imsis: d.imsis.clone(),
                luhn_valid,
                flags,
            }
        })
        .collect();
    devices.sort_by(|a, b| a.imei.cmp(&b.imei));
    CellSide {
        summary: CellReport {
            gsmtap_packets: cells.packets,
            filler: cells.filler,
            errors: cells.errors.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
            setups: cells.setups_seen,
        },
        messages: cells.messages(),
        cells: cells
            .cells
            .iter()
            .map(|(c, arfcn)| CellSeen { mcc: c.mcc, mnc: c.mnc, lac: c.lac, cell_id: c.cell, arfcn: *arfcn })
            .collect(),
        subscribers,
        devices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::host::FrameRef;

    fn db() -> SignatureDb {
        SignatureDb::from_toml(
            r#"
version = "t1"
[verdict]
simbox = 6.0
suspect = 2.0
[[signature]]
id = "ua.a"
vendor = "A"
group = "ua"
weight = 5.0
field = "user_agent"
pattern = "a"
description = "ua a"
[[signature]]
id = "ua.b"
vendor = "B"
group = "ua"
weight = 3.0
field = "user_agent"
pattern = "b"
description = "ua b"
[[signature]]
id = "sdp"
vendor = "B"
weight = 1.5
field = "sdp_session"
pattern = "s"
description = "sdp"
"#,
            "t",
        )
        .unwrap()
    }

    #[test]
    fn a_group_counts_once_and_the_sum_decides() {
        let db = db();
        let mut h = Host::new("10.0.0.9".parse().unwrap(), 0);
        let f = FrameRef { file: 0, number: 4 };
        h.record(EvidenceSource::Signature(1), b"b", f);
        h.record(EvidenceSource::Signature(0), b"a", f);
        h.record(EvidenceSource::Signature(2), b"s", f);
        let r = gateway_report(&h, &db, &["x.pcap".into()]);
        assert_eq!(r.score, 6.5);
        assert_eq!(r.verdict, Verdict::Simbox);
        let counted: Vec<(&str, bool)> = r.evidence.iter().map(|e| (e.id.as_str(), e.counted)).collect();
        assert_eq!(counted, vec![("ua.a", true), ("ua.b", false), ("sdp", true)]);
        assert_eq!(r.vendor.as_deref(), Some("A"));
        assert_eq!(r.evidence[0].frames, vec![4]);
        assert_eq!(r.evidence[0].file.as_deref(), Some("x.pcap"));
    }

    #[test]
    fn thresholds() {
        let t = Thresholds { simbox: 6.0, suspect: 2.5 };
        assert_eq!(verdict(0.0, &t), Verdict::Clean);
        assert_eq!(verdict(2.5, &t), Verdict::Suspect);
        assert_eq!(verdict(6.0, &t), Verdict::Simbox);
    }

    #[test]
    fn clean_hosts_get_no_vendor() {
        let mut h = Host::new("10.0.0.9".parse().unwrap(), 0);
        h.record(EvidenceSource::Signature(2), b"s", FrameRef { file: 0, number: 1 });
        let r = gateway_report(&h, &db(), &[]);
        assert_eq!((r.verdict, r.vendor), (Verdict::Clean, None));
        assert_eq!(rfc3339(1_700_000_000_123_456), "2023-11-14T22:13:20.123456Z");
    }
}
