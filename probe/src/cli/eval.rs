//! `duanka-probe eval`: detection quality against labelled captures.
//!
//! Precision, recall and F1 over addresses (a positive is a `simbox`
//! verdict), split by the labelled kind of host, and detection latency (from
//! a gateway's first call to the moment its score crossed the threshold).

use std::collections::{BTreeMap, HashMap};
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
            labels.hosts.insert(address, Label { simbox, kind: kind.to_string() });
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

/// The whole evaluation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalResult {
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
    EvalResult { overall, by_kind, latency, labelled_not_seen, unlabelled_flagged }
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
