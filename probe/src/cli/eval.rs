//! `duanka-probe eval`: detection quality against labelled captures.
//!
//! Precision, recall and F1 over addresses (a positive is a `simbox`
//! verdict), split by the labelled kind of host, and detection latency (from
//! a gateway's first call to the moment its score crossed the threshold).
//!
//! When the labels carry the cell side (the simulator's `--gsmtap` truth),
//! also: gateway↔SIM links (precision: linked SIMs that really sat in that
//! gateway; recall: SIMs that carried a call seen on both legs, linked to
//! their gateway) and the SIM-box flags on SIMs and devices (rotation,
//! cohorts: how many fell on SIM-box SIMs, and how many SIM boxes had one).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};
use std::path::Path;

use duanka_shared::report::{AnalysisReport, Verdict};
use serde::Serialize;

/// One labelled host.
#[derive(Debug, Clone)]
pub struct Label {
    /// Whether it is a SIM box.
    pub simbox: bool,
    /// What kind of host it is (e.g. `goip_stripped`, `call_centre`).
    pub kind: String,
}

/// The ground truth, by address.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    /// Address → label.
    pub hosts: HashMap<String, Label>,
    /// Address → every SIM (IMSI) that sat in it during the capture.
    pub sims: HashMap<String, HashSet<String>>,
    /// Address → every module IMEI (first 14 digits) in it.
    pub modules: HashMap<String, HashSet<String>>,
    /// (address, IMSI) of every call seen on both legs: the links to find.
    pub links: HashSet<(String, String)>,
}

impl Labels {
    /// Read a labels file (the simulator's truth JSON).
    pub fn load(path: &Path) -> Result<Labels, String> {
        let name = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
        Self::parse(&text).map_err(|e| format!("{name}: {e}"))
    }

    /// Parse labels JSON.
    pub fn parse(text: &str) -> Result<Labels, String> {
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let hosts = doc.get("gateways").and_then(|g| g.as_array()).ok_or("no `gateways` array")?;
        let mut labels = Labels::default();
        for (i, h) in hosts.iter().enumerate() {
            let field = |k: &str| h.get(k).and_then(|v| v.as_str());
            let address = field("address").ok_or_else(|| format!("gateways[{i}]: no `address`"))?;
            let simbox = match field("label") {
                Some("simbox") => true,
                Some("clean") => false,
                other => {
                    return Err(format!(
                        "gateways[{i}] ({address}): label must be \"simbox\" or \"clean\", got {other:?}"
                    ))
                }
            };
            let kind = field("kind").or_else(|| field("role")).unwrap_or(if simbox { "simbox" } else { "clean" });
            // Addresses are compared in the report's canonical text form.
            let address =
                address.parse::<std::net::IpAddr>().map(|a| a.to_string()).unwrap_or_else(|_| address.to_string());
            let list = |k: &str, digits: usize| -> HashSet<String> {
                h.get(k)
                    .and_then(|v| v.as_array())
                    .map(|a| a.iter().filter_map(|x| x.as_str()).map(|x| x.chars().take(digits).collect()).collect())
                    .unwrap_or_default()
            };
            labels.sims.insert(address.clone(), list("imsis", 15));
            labels.modules.insert(address.clone(), list("imeis", 14));
            labels.hosts.insert(address, Label { simbox, kind: kind.to_string() });
        }
        for (i, l) in
            doc.get("links").and_then(|v| v.as_array()).map(Vec::as_slice).unwrap_or_default().iter().enumerate()
        {
            let field = |k: &str| l.get(k).and_then(|v| v.as_str());
            let (Some(gw), Some(imsi)) = (field("gateway"), field("imsi")) else {
                return Err(format!("links[{i}]: needs `gateway` and `imsi`"));
            };
            let gw = gw.parse::<std::net::IpAddr>().map(|a| a.to_string()).unwrap_or_else(|_| gw.to_string());
            labels.links.insert((gw, imsi.to_string()));
        }
        Ok(labels)
    }
}

/// Counts and rates for one slice of hosts.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Scores {
    /// Hosts in the slice.
    pub hosts: u64,
    /// SIM boxes flagged simbox.
    pub true_positives: u64,
    /// Clean hosts flagged simbox.
    pub false_positives: u64,
    /// SIM boxes not flagged.
    pub false_negatives: u64,
    /// Clean hosts not flagged.
    pub true_negatives: u64,
    /// Clean hosts flagged suspect (not counted as positives).
    pub suspects: u64,
    /// TP / (TP + FP), when anything was flagged.
    pub precision: Option<f64>,
    /// TP / (TP + FN), when the slice has SIM boxes.
    pub recall: Option<f64>,
    /// Harmonic mean of precision and recall.
    pub f1: Option<f64>,
}

impl Scores {
    fn add(&mut self, truth: bool, verdict: Verdict) {
        self.hosts += 1;
        let flagged = verdict == Verdict::Simbox;
        match (truth, flagged) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (true, false) => self.false_negatives += 1,
            (false, false) => self.true_negatives += 1,
        }
        if !truth && verdict == Verdict::Suspect {
            self.suspects += 1;
        }
    }

    fn finish(&mut self) {
        let (tp, fp, fneg) = (self.true_positives as f64, self.false_positives as f64, self.false_negatives as f64);
        self.precision = (tp + fp > 0.0).then(|| tp / (tp + fp));
        self.recall = (tp + fneg > 0.0).then(|| tp / (tp + fneg));
        self.f1 = match (self.precision, self.recall) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
            _ => None,
        };
    }
}

/// Percentiles of detection latency, seconds of gateway activity.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Detected gateways with a known first call.
    pub samples: u64,
    /// Median.
    pub p50_s: Option<f64>,
    /// 90th percentile.
    pub p90_s: Option<f64>,
    /// Largest.
    pub max_s: Option<f64>,
}

/// Gateway↔SIM links against the truth.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LinkScores {
    /// Links reported (confidence ≥ the cell features' minimum).
    pub reported: u64,
    /// Reported links to a SIM that really sat in that gateway.
    pub correct: u64,
    /// Links the truth holds (SIMs with a call seen on both legs).
    pub expected: u64,
    /// Of those, reported.
    pub found: u64,
    /// correct / reported.
    pub precision: Option<f64>,
    /// found / expected.
    pub recall: Option<f64>,
}

/// One SIM-box flag on SIMs or devices against the truth.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FlagScores {
    /// SIMs (or devices) carrying the flag.
    pub flagged: u64,
    /// Of those, SIMs (devices) of labelled SIM boxes.
    pub on_simboxes: u64,
    /// on_simboxes / flagged.
    pub precision: Option<f64>,
    /// SIM boxes with at least one flagged SIM (device).
    pub simboxes_with_flag: u64,
}

/// The cell side against the truth.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CellScores {
    /// Labelled SIM boxes with SIMs on the cell side.
    pub simboxes_on_air: u64,
    /// Gateway↔SIM links.
    pub links: LinkScores,
    /// Flags by name (`sim_rotation`, `attach_cohort`, `detach_cohort`, …).
    pub flags: BTreeMap<String, FlagScores>,
}

fn rate(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// Score the cell side: links and flags.
fn evaluate_cell(labels: &Labels, report: &AnalysisReport) -> Option<CellScores> {
    if labels.links.is_empty() && report.subscribers.is_empty() {
        return None;
    }
    let min = crate::detect::cell_features::MIN_LINK_CONFIDENCE;
    let mut links = LinkScores { expected: labels.links.len() as u64, ..LinkScores::default() };
    for g in &report.gateways {
        let truth = labels.sims.get(&g.address);
        for l in g.imsis.iter().filter(|l| l.confidence >= min) {
            links.reported += 1;
            links.correct += u64::from(truth.is_some_and(|t| t.contains(&l.imsi)));
            links.found += u64::from(labels.links.contains(&(g.address.clone(), l.imsi.clone())));
        }
    }
    links.precision = rate(links.correct, links.reported);
    links.recall = rate(links.found, links.expected);

    let simboxes: Vec<&String> = labels
        .hosts
        .iter()
        .filter(|(a, l)| l.simbox && labels.sims.get(*a).is_some_and(|s| !s.is_empty()))
        .map(|(a, _)| a)
        .collect();
    let owner_of_sim = |imsi: &str| simboxes.iter().find(|a| labels.sims[**a].contains(imsi)).copied();
    let owner_of_module =
        |imei: &str| simboxes.iter().find(|a| labels.modules.get(**a).is_some_and(|m| m.contains(imei))).copied();
    let mut flags: BTreeMap<String, (FlagScores, HashSet<&String>)> = BTreeMap::new();
    for s in &report.subscribers {
        for f in &s.flags {
            let (scores, boxes) = flags.entry(f.clone()).or_default();
            scores.flagged += 1;
            if let Some(a) = owner_of_sim(&s.imsi) {
                scores.on_simboxes += 1;
                boxes.insert(a);
            }
        }
    }
    for d in &report.devices {
        for f in &d.flags {
            let (scores, boxes) = flags.entry(f.clone()).or_default();
            scores.flagged += 1;
            if let Some(a) = owner_of_module(d.imei.get(..14).unwrap_or(&d.imei)) {
                scores.on_simboxes += 1;
                boxes.insert(a);
            }
        }
    }
    let flags = flags
        .into_iter()
        .map(|(k, (mut s, boxes))| {
            s.precision = rate(s.on_simboxes, s.flagged);
            s.simboxes_with_flag = boxes.len() as u64;
            (k, s)
        })
        .collect();
    Some(CellScores { simboxes_on_air: simboxes.len() as u64, links, flags })
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalResult {
    /// The cell side, when the labels and the capture have one.
    pub cell: Option<CellScores>,
    /// Over every labelled host (and unlabelled ones flagged simbox, as false positives).
    pub overall: Scores,
    /// By labelled kind.
    pub by_kind: BTreeMap<String, Scores>,
    /// Detection latency of true positives.
    pub latency: Latency,
    /// Labelled hosts the capture never showed on SIP.
    pub labelled_not_seen: Vec<String>,
    /// Addresses flagged simbox that the labels do not know.
    pub unlabelled_flagged: Vec<String>,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(i).copied()
}

/// Compare a report with the labels.
pub fn evaluate(labels: &Labels, report: &AnalysisReport) -> EvalResult {
    let mut overall = Scores::default();
    let mut by_kind: BTreeMap<String, Scores> = BTreeMap::new();
    let mut latencies = Vec::new();
    let mut unlabelled_flagged = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for g in &report.gateways {
        seen.insert(g.address.as_str());
        match labels.hosts.get(&g.address) {
            Some(l) => {
                overall.add(l.simbox, g.verdict);
                by_kind.entry(l.kind.clone()).or_default().add(l.simbox, g.verdict);
                if l.simbox && g.verdict == Verdict::Simbox {
                    if let Some(s) = g.detection_latency_s {
                        latencies.push(s);
                    }
                }
            }
            None if g.verdict == Verdict::Simbox => {
                overall.add(false, g.verdict);
                by_kind.entry("unlabelled".into()).or_default().add(false, g.verdict);
                unlabelled_flagged.push(g.address.clone());
            }
            None => {}
        }
    }
    // A labelled SIM box the analyzer never saw is missed all the same.
    let mut labelled_not_seen: Vec<String> =
        labels.hosts.keys().filter(|a| !seen.contains(a.as_str())).cloned().collect();
    labelled_not_seen.sort();
    for a in &labelled_not_seen {
        let l = &labels.hosts[a];
        if l.simbox {
            overall.add(true, Verdict::Clean);
            by_kind.entry(l.kind.clone()).or_default().add(true, Verdict::Clean);
        }
    }
    overall.finish();
    by_kind.values_mut().for_each(Scores::finish);
    latencies.sort_by(f64::total_cmp);
    let latency = Latency {
        samples: latencies.len() as u64,
        p50_s: percentile(&latencies, 0.5),
        p90_s: percentile(&latencies, 0.9),
        max_s: latencies.last().copied(),
    };
    let cell = evaluate_cell(labels, report);
    EvalResult { cell, overall, by_kind, latency, labelled_not_seen, unlabelled_flagged }
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

/// Print the evaluation for people.
pub fn write_table(out: &mut impl Write, r: &EvalResult) -> io::Result<()> {
    writeln!(
        out,
        "{:<22} {:>6} {:>5} {:>5} {:>5} {:>6} {:>8} {:>9} {:>7} {:>7}",
        "kind", "hosts", "TP", "FP", "FN", "TN", "suspect", "precision", "recall", "F1"
    )?;
    let mut row = |name: &str, s: &Scores| {
        writeln!(
            out,
            "{:<22} {:>6} {:>5} {:>5} {:>5} {:>6} {:>8} {:>9} {:>7} {:>7}",
            name,
            s.hosts,
            s.true_positives,
            s.false_positives,
            s.false_negatives,
            s.true_negatives,
            s.suspects,
            opt(s.precision),
            opt(s.recall),
            opt(s.f1)
        )
    };
    for (k, s) in &r.by_kind {
        row(k, s)?;
    }
    row("OVERALL", &r.overall)?;
    writeln!(
        out,
        "\nDetection latency (first call → simbox verdict), {} gateways: median {} s, p90 {} s, max {} s",
        r.latency.samples,
        opt(r.latency.p50_s),
        opt(r.latency.p90_s),
        opt(r.latency.max_s)
    )?;
    if !r.unlabelled_flagged.is_empty() {
        writeln!(out, "Flagged but not in the labels: {}", r.unlabelled_flagged.join(", "))?;
    }
    if !r.labelled_not_seen.is_empty() {
        writeln!(out, "Labelled but never seen on SIP: {}", r.labelled_not_seen.len())?;
    }
    if let Some(c) = &r.cell {
        let l = &c.links;
        writeln!(
            out,
            "\nGateway↔SIM links: {} reported, {} correct (precision {}); {} of {} expected found (recall {})",
            l.reported,
            l.correct,
            opt(l.precision),
            l.found,
            l.expected,
            opt(l.recall)
        )?;
        writeln!(
            out,
            "{:<32} {:>8} {:>11} {:>9} {:>14}",
            "cell-side flag", "flagged", "on simboxes", "precision", "simboxes hit"
        )?;
        for (k, f) in &c.flags {
            writeln!(
                out,
                "{:<32} {:>8} {:>11} {:>9} {:>9} of {:<3}",
                k,
                f.flagged,
                f.on_simboxes,
                opt(f.precision),
                f.simboxes_with_flag,
                c.simboxes_on_air
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use duanka_shared::report::{BehaviourSummary, GatewayReport};

    fn gw(addr: &str, verdict: Verdict, latency: Option<f64>) -> GatewayReport {
        GatewayReport {
            address: addr.into(),
            verdict,
            score: 0.0,
            vendor: None,
            accounts: vec![],
            calls: 0,
            calls_in: 0,
            calls_out: 0,
            calls_answered: 0,
            registrations: 0,
            register_expires: vec![],
            options_sent: 0,
            requests_sent: 0,
            requests_received: 0,
            user_agents: vec![],
            sip_ports: vec![],
            first_seen: None,
            last_seen: None,
            detected_at: None,
            first_call_at: None,
            detection_latency_s: latency,
            behaviour: BehaviourSummary::default(),
            imsis: vec![],
            imeis: vec![],
            iccids: vec![],
            rtp: Default::default(),
            lines: vec![],
            call_log: Vec::new(),
            goip_keepalives: 0,
            simbank_packets: 0,
            evidence: vec![],
        }
    }

    #[test]
    fn precision_recall_by_kind_and_latency() {
        let labels = Labels::parse(
            r#"{"gateways":[
              {"address":"10.0.0.1","label":"simbox","kind":"goip_fingerprinted"},
              {"address":"10.0.0.2","label":"simbox","kind":"goip_stripped"},
              {"address":"10.0.0.3","label":"clean","role":"call_centre"},
              {"address":"10.0.0.4","label":"clean","kind":"softphone"},
              {"address":"10.0.0.5","label":"simbox","kind":"goip_stripped"}]}"#,
        )
        .unwrap();
        let mut report: AnalysisReport = serde_json::from_str(
            r#"{"schema":1,"probe_version":"t","signatures_version":"t","files":[],"packets":0,"bytes":0,
                "decode_errors":{},"limits":{},"sip":{"messages":0,"requests":0,"responses":0,"invalid":0,
                "invalid_by_kind":{},"over_tcp":0,"methods":{},"registrations":0,"calls":0,"calls_answered":0},"gateways":[]}"#,
        )
        .unwrap();
        report.gateways = vec![
            gw("10.0.0.1", Verdict::Simbox, Some(30.0)),
            gw("10.0.0.2", Verdict::Suspect, None),
            gw("10.0.0.3", Verdict::Simbox, Some(5.0)),
            gw("10.0.0.4", Verdict::Clean, None),
            gw("10.0.0.9", Verdict::Simbox, None),
        ];
        let r = evaluate(&labels, &report);
        assert_eq!((r.overall.true_positives, r.overall.false_positives, r.overall.false_negatives), (1, 2, 2));
        assert_eq!(r.overall.precision, Some(1.0 / 3.0));
        assert_eq!(r.overall.recall, Some(1.0 / 3.0));
        assert_eq!(r.by_kind["call_centre"].false_positives, 1);
        assert_eq!(r.by_kind["goip_stripped"].false_negatives, 2, "one weak, one never seen");
        assert_eq!(r.labelled_not_seen, vec!["10.0.0.5".to_string()]);
        assert_eq!(r.unlabelled_flagged, vec!["10.0.0.9".to_string()]);
        assert_eq!((r.latency.samples, r.latency.p50_s), (1, Some(30.0)));
    }

    #[test]
    fn bad_labels_are_refused() {
        assert!(Labels::parse("[]").unwrap_err().contains("gateways"));
        assert!(Labels::parse(r#"{"gateways":[{"address":"1.2.3.4","label":"maybe"}]}"#)
            .unwrap_err()
            .contains("label must be"));
    }
}
