//! Cell-side features of an address (SPEC 3.4): what the SIMs and devices
//! linked to a gateway did on the air. They are judged once the links are
//! known — after the SIP and GSM legs of its calls were matched, or its
//! control plane named its SIMs — and add evidence like any other feature.
//!
//! A SIM counts as linked when its link confidence reaches
//! [`MIN_LINK_CONFIDENCE`]; a device when a linked SIM was seen in it, or the
//! gateway's control plane announced it.

use std::collections::{BTreeSet, HashMap};

use duanka_shared::report::{DeviceReport, GatewayReport, SubscriberReport};

use super::features::{Feature, FeatureHit, FeatureKind};
use super::signatures::ModemTac;

/// Links below this confidence do not bring a SIM's cell-side record to the gateway.
pub const MIN_LINK_CONFIDENCE: f64 = 0.5;
/// SIMs with a cell-side record needed before shares (stationary) are judged.
const MIN_SIMS_FOR_SHARE: usize = 2;
/// Examples named in an observed value.
const EXAMPLES: usize = 3;

/// The cell side, indexed for lookups.
#[derive(Debug)]
pub struct CellIndex<'a> {
    subscribers: HashMap<&'a str, &'a SubscriberReport>,
    devices: HashMap<&'a str, &'a DeviceReport>,
    /// Devices by the IMSIs seen in them.
    devices_of: HashMap<&'a str, Vec<&'a DeviceReport>>,
}

impl<'a> CellIndex<'a> {
    /// Index the report's subscribers and devices.
    pub fn new(subscribers: &'a [SubscriberReport], devices: &'a [DeviceReport]) -> Self {
        let mut devices_of: HashMap<&str, Vec<&DeviceReport>> = HashMap::new();
        for d in devices {
            for imsi in &d.imsis {
                devices_of.entry(imsi.as_str()).or_default().push(d);
            }
        }
        CellIndex {
            subscribers: subscribers.iter().map(|s| (s.imsi.as_str(), s)).collect(),
            devices: devices.iter().map(|d| (d.imei.as_str(), d)).collect(),
            devices_of,
        }
    }
}

/// Over-the-air IMEIs carry 14 digits (no check digit); compare on those.
fn imei14(imei: &str) -> &str {
    imei.get(..14).unwrap_or(imei)
}

fn examples<'b>(items: impl IntoIterator<Item = &'b str>) -> String {
    let v: Vec<&str> = items.into_iter().collect();
    let shown: Vec<&str> = v.iter().take(EXAMPLES).copied().collect();
    let more = v.len().saturating_sub(EXAMPLES);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Evaluate the configured cell-side features on one gateway.
pub fn evaluate(
    features: &[Feature],
    modem_tacs: &HashMap<String, ModemTac>,
    gateway: &GatewayReport,
    cell: &CellIndex<'_>,
) -> Vec<FeatureHit> {
    let sims: BTreeSet<&str> =
        gateway.imsis.iter().filter(|l| l.confidence >= MIN_LINK_CONFIDENCE).map(|l| l.imsi.as_str()).collect();
    let subs: Vec<&SubscriberReport> = sims.iter().filter_map(|i| cell.subscribers.get(i).copied()).collect();
    let mut devices: BTreeSet<&str> = BTreeSet::new();
    for imsi in &sims {
        for d in cell.devices_of.get(imsi).into_iter().flatten() {
            devices.insert(d.imei.as_str());
        }
    }
    for announced in gateway.imeis.iter().filter(|i| i.valid) {
        let key = imei14(&announced.value);
        if let Some(d) = cell.devices.get(key).or_else(|| cell.devices.get(announced.value.as_str())) {
            devices.insert(d.imei.as_str());
        }
    }
    let devs: Vec<&DeviceReport> = devices.iter().filter_map(|i| cell.devices.get(i).copied()).collect();
    let flagged = |flag: &str| -> Vec<&str> {
        subs.iter().filter(|s| s.flags.iter().any(|f| f == flag)).map(|s| s.imsi.as_str()).collect()
    };

    let mut hits = Vec::new();
    for (index, f) in features.iter().enumerate() {
        let value: Option<(f64, String)> = match f.kind {
            FeatureKind::CellSimRotation => devs.iter().max_by_key(|d| d.imsis.len()).map(|d| {
                let n = d.imsis.len();
                (
                    n as f64,
                    format!("device {} carried {n} SIMs: {}", d.imei, examples(d.imsis.iter().map(String::as_str))),
                )
            }),
            FeatureKind::CellManyImeis => subs.iter().max_by_key(|s| s.imeis.len()).map(|s| {
                let n = s.imeis.len();
                (n as f64, format!("SIM {} was seen in {n} devices", s.imsi))
            }),
            FeatureKind::CellCohort => {
                let attach = flagged("attach_cohort");
                let detach = flagged("detach_cohort");
                let mut all: BTreeSet<&str> = attach.iter().copied().collect();
                all.extend(detach.iter().copied());
                (!all.is_empty()).then(|| {
                    (
                        all.len() as f64,
                        format!(
                            "{} of its {} SIMs attached ({}) or detached ({}) together with others at one cell: {}",
                            all.len(),
                            subs.len(),
                            attach.len(),
                            detach.len(),
                            examples(all.iter().copied())
                        ),
                    )
                })
            }
            FeatureKind::CellStationary => (subs.len() >= MIN_SIMS_FOR_SHARE).then(|| {
                let n = flagged("stationary").len();
                let share = n as f64 / subs.len() as f64;
                (share, format!("{n} of its {} SIMs never left one location area", subs.len()))
            }),
            FeatureKind::CellOriginatingOnly => {
                let v = flagged("originating_only_many_callees");
                (!v.is_empty()).then(|| {
                    (
                        v.len() as f64,
                        format!(
                            "{} of its SIMs only placed calls, each to many numbers, and never answered a page: {}",
                            v.len(),
                            examples(v.iter().copied())
                        ),
                    )
                })
            }
            FeatureKind::CellImeiLuhnInvalid => {
                let bad: Vec<&str> =
                    devs.iter().filter(|d| d.luhn_valid == Some(false)).map(|d| d.imei.as_str()).collect();
                (!bad.is_empty()).then(|| {
                    (
                        bad.len() as f64,
                        format!("{} IMEIs with a wrong check digit: {}", bad.len(), examples(bad.iter().copied())),
                    )
                })
            }
            FeatureKind::CellModemTac => {
                let modems: Vec<(&str, &ModemTac)> =
                    devs.iter().filter_map(|d| modem_tacs.get(&d.tac).map(|m| (d.imei.as_str(), m))).collect();
                (!modems.is_empty()).then(|| {
                    let models: BTreeSet<String> =
                        modems.iter().map(|(_, m)| format!("{} {}", m.vendor, m.model)).collect();
                    (
                        modems.len() as f64,
                        format!(
                            "{} of its devices are modem modules ({}): {}",
                            modems.len(),
                            models.into_iter().collect::<Vec<_>>().join(", "),
                            examples(modems.iter().map(|(i, _)| *i))
                        ),
                    )
                })
            }
            _ => None,
        };
        let Some((v, observed)) = value else { continue };
        if v >= f.threshold {
            hits.push(FeatureHit { index, observed, rule: format!("{} >= {}", f.kind.id(), f.threshold) });
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use duanka_shared::report::{SimLink, Verdict};

    use super::*;
    use crate::detect::SignatureDb;

    fn link(imsi: &str, confidence: f64) -> SimLink {
        SimLink {
            imsi: imsi.into(),
            confidence,
            sources: vec!["call_match".into()],
            valid: true,
            channel: None,
            imei: None,
            calls_matched: 3,
            calls_ambiguous: 0,
            occurrences: 0,
            frames: vec![],
            sip_frames: vec![1],
            gsm_frames: vec![2],
            file: None,
        }
    }

    fn sub(imsi: &str, flags: &[&str]) -> SubscriberReport {
        SubscriberReport {
            imsi: imsi.into(),
            tmsis: vec![],
            location_areas: vec!["460-00-9633".into()],
            imeis: vec![],
            attaches: 1,
            location_updates: 1,
            detaches: 0,
            setups: 6,
            distinct_called: 6,
            paging_responses: 0,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            first_seen: String::new(),
            last_seen: String::new(),
        }
    }

    fn device(imei: &str, imsis: &[&str], luhn_valid: Option<bool>) -> DeviceReport {
        DeviceReport {
            imei: imei.into(),
            tac: imei[..8].into(),
            imsis: imsis.iter().map(|s| s.to_string()).collect(),
            luhn_valid,
            flags: vec![],
        }
    }

    const A: &str = "460001111111111";
    const B: &str = "460002222222222";
    const C: &str = "460003333333333";
    const D: &str = "460004444444444";

    fn ids(hits: &[FeatureHit], db: &SignatureDb) -> Vec<&'static str> {
        hits.iter().map(|h| db.features[h.index].kind.id()).collect()
    }

    #[test]
    fn a_rotating_module_and_a_cohort_fire_on_the_linked_gateway_only() {
        let mut db = SignatureDb::builtin();
        db.modem_tacs
            .insert("86190402".into(), ModemTac { tac: "86190402".into(), vendor: "Test".into(), model: "M1".into() });
        let subs: Vec<SubscriberReport> = [A, B, C, D].iter().map(|i| sub(i, &["attach_cohort"])).collect();
        let devs = vec![device("86190402000001", &[A, B, C], None), device("35298711000002", &[D], Some(false))];
        let index = CellIndex::new(&subs, &devs);
        let gw = GatewayReport {
            address: "198.51.100.10".into(),
            imsis: vec![link(A, 0.8), link(B, 0.8), link(C, 0.8), link(D, 0.8)],
            ..GatewayReport::default()
        };
        let hits = evaluate(&db.features, &db.modem_tacs, &gw, &index);
        let fired = ids(&hits, &db);
        for id in ["cell.sim_rotation", "cell.cohort", "cell.imei_luhn_invalid", "cell.modem_tac"] {
            assert!(fired.contains(&id), "{id} missing from {fired:?}");
        }
        assert!(!fired.contains(&"cell.stationary"), "{fired:?}");
        let rotation = &hits[fired.iter().position(|i| *i == "cell.sim_rotation").unwrap()];
        assert!(rotation.observed.contains("carried 3 SIMs"), "{}", rotation.observed);

        // Weak links bring nothing; an unlinked gateway gets nothing.
        let weak = GatewayReport { imsis: vec![link(A, 0.3), link(B, 0.3)], ..gw.clone() };
        assert!(evaluate(&db.features, &db.modem_tacs, &weak, &index).is_empty());
        let none = GatewayReport { address: "198.51.100.11".into(), ..GatewayReport::default() };
        assert!(evaluate(&db.features, &db.modem_tacs, &none, &index).is_empty());
    }

    #[test]
    fn cell_evidence_is_scored_and_can_raise_the_verdict() {
        let db = SignatureDb::builtin();
        let subs: Vec<SubscriberReport> =
            [A, B, C, D].iter().map(|i| sub(i, &["attach_cohort", "originating_only_many_callees"])).collect();
        let devs = vec![device("86190402000001", &[A, B, C], None)];
        let mut gws = vec![GatewayReport {
            address: "198.51.100.10".into(),
            score: 3.0,
            verdict: Verdict::Suspect,
            imsis: [A, B, C, D].iter().map(|i| link(i, 0.9)).collect(),
            ..GatewayReport::default()
        }];
        crate::detect::score::add_cell_evidence(&mut gws, &subs, &devs, &db);
        let g = &gws[0];
        // 3.0 + rotation 3.0 + cohort 2.0 + originating-only 1.5.
        assert_eq!(g.score, 9.5, "{:#?}", g.evidence);
        assert_eq!(g.verdict, Verdict::Simbox);
        assert!(g.evidence.iter().all(|e| e.counted && e.frames == vec![2]), "{:#?}", g.evidence);
    }
}
