//! Correlation quality end to end: the simulator's mixed scenario is analysed
//! by the probe (library), its findings stored through the agent's ingest,
//! the carrier records generated for the same scenario imported, and
//! `correlate::full` run; the cases are then scored against the owners truth
//! (who opened the gateways' cards, where, and in which bursts).

use std::collections::{BTreeSet, HashMap};

use duanka_agent::import::{self, ImportOptions};
use duanka_agent::store::Store;
use duanka_hil::carrier::scenario::{from_truth, ScenarioConfig};
use duanka_hil::carrier::{write_cdrs, write_registry};
use duanka_hil::sim::{write_scenario, SimConfig};
use duanka_hil::Label;
use duanka_probe::analyze::Analyzer;
use duanka_probe::capture::file::CaptureFile;
use duanka_probe::detect::SignatureDb;
use duanka_shared::events::{events_from_report, Batch, EVENTS_SCHEMA_VERSION};

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        1.0
    } else {
        n as f64 / d as f64
    }
}

#[test]
fn cases_name_the_owners_bursts_and_insiders_behind_the_gateways() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("mixed.pcap");
    let cfg = SimConfig { seed: 1, rtp: false, ..SimConfig::mixed() };
    let truth = write_scenario(&cfg, std::fs::File::create(&cap).unwrap()).unwrap();

    // The probe's findings, as an offline upload would send them.
    let db = SignatureDb::builtin();
    let mut analyzer = Analyzer::new(&db);
    let file = CaptureFile::open(&cap).unwrap();
    analyzer.begin_file("mixed.pcap", file.format().name(), file.len());
    let outcome = file.read(|frame| analyzer.frame(frame), |_| {}).unwrap();
    analyzer.end_file(&outcome);
    let report = analyzer.report();
    let events = events_from_report(&report, "0123456789abcdef", "2026-11-01T00:00:00Z");

    let mut store = Store::open(&dir.path().join("agent")).unwrap();
    duanka_agent::auth::enrol_probe(store.conn(), "site-1").unwrap();
    for chunk in events.chunks(1000) {
        let batch = Batch { schema: EVENTS_SCHEMA_VERSION, probe_version: "test".into(), events: chunk.to_vec() };
        duanka_agent::ingest::store_batch(store.conn_mut(), 1, &batch).unwrap();
    }

    // The carriers' records for the same people and calls.
    let records = from_truth(&truth, &ScenarioConfig { seed: 1, ..ScenarioConfig::default() });
    let (reg, cdr) = (dir.path().join("registry.csv"), dir.path().join("cdr.csv"));
    write_registry(&records.registry, std::fs::File::create(&reg).unwrap()).unwrap();
    write_cdrs(&records.cdrs, std::fs::File::create(&cdr).unwrap()).unwrap();
    import::registry::import(&mut store, &reg, ImportOptions::default()).unwrap();
    import::cdr::import(&mut store, &cdr, ImportOptions::default()).unwrap();

    let out = duanka_agent::correlate::full(store.conn_mut(), &duanka_agent::correlate::Config::default()).unwrap();
    assert!(out.cdr_links > 0, "CDR matching named no SIM: {out:?}");
    let cases = duanka_agent::cases::list(store.conn(), &Default::default()).unwrap();
    let mut by_gateway = HashMap::new();
    for c in &cases {
        for g in &c.gateways {
            by_gateway.insert(g.clone(), duanka_agent::cases::show(store.conn(), c.id, true).unwrap());
        }
    }

    let simboxes: Vec<&str> =
        truth.gateways.iter().filter(|g| g.label == Label::Simbox).map(|g| g.address.as_str()).collect();
    let in_cases = simboxes.iter().filter(|a| by_gateway.contains_key(**a)).count();
    assert_eq!(in_cases, simboxes.len(), "every SIM box is in a case");
    let clean_in_cases =
        truth.gateways.iter().filter(|g| g.label == Label::Clean && by_gateway.contains_key(&g.address)).count();
    assert_eq!(clean_in_cases, 0, "no clean host is in a case");

    // Owners over the limit: every one a case flags is truly over; most are found.
    let truly_over: BTreeSet<&str> = records.owners.owners_over_limit.iter().map(|o| o.owner_id.as_str()).collect();
    let (mut expected, mut found, mut flagged, mut right) = (0, 0, 0, 0);
    let (mut bursts_expected, mut bursts_found, mut insiders_expected, mut insiders_found) = (0, 0, 0, 0);
    let (mut insiders_flagged, mut insiders_explained) = (0, 0);
    for g in &records.owners.gateways {
        let Some(case) = by_gateway.get(&g.gateway) else { continue };
        let case_over: BTreeSet<&str> =
            case.owners.iter().filter(|o| o.over_limit).map(|o| o.owner_id.as_str()).collect();
        let case_owners: BTreeSet<&str> = case.owners.iter().map(|o| o.owner_id.as_str()).collect();
        flagged += case_over.len();
        right += case_over.iter().filter(|o| truly_over.contains(*o)).count();
        // Owners over the limit whose cards in this gateway were linked.
        for o in g.owners_over_limit.iter().filter(|o| case_owners.contains(o.as_str())) {
            expected += 1;
            found += usize::from(case_over.contains(o.as_str()));
        }
        // Bursts and insiders big enough for the agent's rules (5 cards).
        let burst_outlets: BTreeSet<&str> = case.bursts.iter().map(|b| b.outlet_id.as_str()).collect();
        for b in g.bursts.iter().filter(|b| b.cards >= 5) {
            bursts_expected += 1;
            bursts_found += usize::from(burst_outlets.contains(b.outlet_id.as_str()));
        }
        let insiders: BTreeSet<&str> =
            case.outlets.iter().filter(|o| o.possible_insider).map(|o| o.outlet_id.as_str()).collect();
        for i in g.insider_outlets.iter().filter(|i| i.cards >= 5) {
            insiders_expected += 1;
            insiders_found += usize::from(insiders.contains(i.outlet_id.as_str()));
        }
        // An outlet flagged as a possible insider is a true insider or a recruiter's burst outlet.
        let explained: BTreeSet<&str> = g
            .insider_outlets
            .iter()
            .map(|i| i.outlet_id.as_str())
            .chain(g.bursts.iter().map(|b| b.outlet_id.as_str()))
            .collect();
        insiders_flagged += insiders.len();
        insiders_explained += insiders.iter().filter(|o| explained.contains(*o)).count();
    }
    let summary = format!(
        "over limit: {right}/{flagged} right, {found}/{expected} found; bursts {bursts_found}/{bursts_expected}; \
         insiders {insiders_found}/{insiders_expected} (flagged outlets explained {insiders_explained}/{insiders_flagged}); {} cases",
        cases.len()
    );
    eprintln!("{summary}");
    assert!(expected >= 5 && bursts_expected >= 3 && insiders_expected >= 1, "too little to score: {summary}");
    assert_eq!(ratio(insiders_explained, insiders_flagged), 1.0, "{summary}");
    assert_eq!(ratio(right, flagged), 1.0, "{summary}");
    assert!(ratio(found, expected) >= 0.9, "{summary}");
    assert!(ratio(bursts_found, bursts_expected) >= 0.8, "{summary}");
    assert!(ratio(insiders_found, insiders_expected) >= 0.8, "{summary}");
}
