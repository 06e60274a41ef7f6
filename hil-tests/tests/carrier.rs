//! The carrier records `duanka-sim registry` makes import cleanly into the
//! agent, and the owners truth agrees with them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use duanka_agent::import::{self, ImportOptions};
use duanka_agent::store::Store;
use duanka_hil::carrier::{self, scale, scenario};
use duanka_hil::{generate, SimConfig};

fn mixed_truth() -> duanka_hil::Truth {
    let cfg = SimConfig { duration: Duration::from_secs(60), rtp: false, ..SimConfig::mixed() };
    generate(&cfg).expect("generate the mixed scenario").1
}

#[test]
fn scenario_records_import_cleanly_and_match_the_truth() {
    let truth = mixed_truth();
    let rec = scenario::from_truth(&truth, &scenario::ScenarioConfig { seed: 4, background_owners: 50 });
    let dir = tempfile::tempdir().unwrap();
    let (reg, cdr) = (dir.path().join("reg.csv"), dir.path().join("cdr.csv"));
    carrier::write_registry(&rec.registry, std::fs::File::create(&reg).unwrap()).unwrap();
    carrier::write_cdrs(&rec.cdrs, std::fs::File::create(&cdr).unwrap()).unwrap();
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    let o = import::registry::import(&mut store, &reg, ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.rejection()));
    assert_eq!(o.rows as usize, rec.registry.len());
    assert_eq!(o.inserted, o.rows);
    let o = import::cdr::import(&mut store, &cdr, ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.rejection()));
    assert_eq!(o.rows as usize, rec.cdrs.len());

    // Every IMSI of the scenario has a registry row; every link a CDR.
    let imsis: HashSet<&str> = rec.registry.iter().map(|r| r.imsi.as_str()).collect();
    assert_eq!(imsis.len(), rec.registry.len(), "one row per IMSI");
    for h in truth.simboxes() {
        for i in &h.imsis {
            assert!(imsis.contains(i.as_str()), "gateway {} IMSI {i} not in the registry", h.address);
        }
    }
    for h in &truth.handsets {
        assert!(imsis.contains(h.imsi.as_str()));
    }
    assert!(!truth.links.is_empty(), "the mixed scenario has SIP-SIM links");
    for l in truth.links.iter().take(50) {
        let n: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM cdrs WHERE imsi = ?1 AND called = ?2 AND started_at = ?3",
                (&l.imsi, &l.called_number, (l.gsm_setup_at / 1000) as i64),
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "CDR of link {l:?}");
    }

    // The owners truth agrees with the registry.
    let t = &rec.owners;
    assert_eq!(t.registry_rows, rec.registry.len());
    let mut per_carrier: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in &rec.registry {
        *per_carrier.entry((r.owner_id.as_str(), r.carrier)).or_default() += 1;
    }
    assert!(!t.owners_over_limit.is_empty(), "some owners are over the limit");
    for o in &t.owners_over_limit {
        assert_eq!(per_carrier[&(o.owner_id.as_str(), o.carrier.as_str())], o.cards);
        assert!(o.cards > scenario::LIMIT_PER_CARRIER);
    }
    let over_pairs = per_carrier.values().filter(|n| **n > scenario::LIMIT_PER_CARRIER).count();
    assert_eq!(over_pairs, t.owners_over_limit.len());
    assert!(!t.owners_in_several_gateways.is_empty());
    assert!(t.gateways.iter().any(|g| !g.bursts.is_empty()), "some bursts");
    assert!(t.gateways.iter().any(|g| !g.insider_outlets.is_empty()), "some insiders");
    let by_imsi: HashMap<&str, &carrier::RegistryRow> = rec.registry.iter().map(|r| (r.imsi.as_str(), r)).collect();
    for g in &t.gateways {
        let host = truth.host(&g.gateway).expect("gateway in the truth");
        let owned: usize = g.owners.iter().map(|o| o.cards).sum();
        assert_eq!(owned, g.cards);
        assert!(g.cards <= host.imsis.len().max(g.cards));
        for b in &g.bursts {
            let at_outlet: Vec<_> = host
                .imsis
                .iter()
                .filter_map(|i| by_imsi.get(i.as_str()))
                .filter(|r| r.outlet_id == b.outlet_id)
                .collect();
            assert!(at_outlet.len() >= b.cards, "burst {b:?}");
            assert!(b.from <= b.to);
        }
        for i in &g.insider_outlets {
            assert!(i.share > 0.3 && i.share <= 0.5 + 1e-9, "{i:?}");
            assert!(i.owners >= 1);
        }
    }
}

#[test]
fn scenario_records_are_deterministic() {
    let truth = mixed_truth();
    let cfg = scenario::ScenarioConfig::default();
    assert_eq!(scenario::from_truth(&truth, &cfg), scenario::from_truth(&truth, &cfg));
    let other = scenario::from_truth(&truth, &scenario::ScenarioConfig { seed: 2, ..cfg });
    assert_ne!(other.registry, scenario::from_truth(&truth, &scenario::ScenarioConfig::default()).registry);
}

#[test]
fn scale_records_and_the_cli_import_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, cdr, ev) = (dir.path().join("r.csv"), dir.path().join("c.csv"), dir.path().join("e.jsonl"));
    let out = Command::new(env!("CARGO_BIN_EXE_duanka-sim"))
        .args([
            "registry",
            "--synthetic-rows",
            "20000",
            "--synthetic-cdrs",
            "15000",
            "--gateways",
            "40",
            "--imsis",
            "2000",
        ])
        .arg("--registry")
        .arg(&reg)
        .arg("--cdr")
        .arg(&cdr)
        .arg("--events")
        .arg(&ev)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut store = Store::open(&dir.path().join("data")).unwrap();
    let o = import::registry::import(&mut store, &reg, ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.rejection()));
    assert_eq!(o.rows, 20_000);
    let o = import::cdr::import(&mut store, &cdr, ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.rejection()));
    assert_eq!(o.rows, 15_000);
    // Every linked IMSI is in the registry; every SIP call has its CDR.
    let text = std::fs::read_to_string(&ev).unwrap();
    let mut linked = 0;
    let mut calls = 0;
    for line in text.lines() {
        let batch: duanka_shared::events::Batch = serde_json::from_str(line).unwrap();
        for e in batch.events {
            match e.body {
                duanka_shared::events::EventBody::Link(l) => {
                    let n: i64 = store
                        .conn()
                        .query_row("SELECT count(*) FROM registry WHERE imsi = ?1", [&l.value], |r| r.get(0))
                        .unwrap();
                    assert_eq!(n, 1, "{}", l.value);
                    linked += 1;
                }
                duanka_shared::events::EventBody::Calls { calls: cs, .. } => {
                    for c in cs {
                        let t = duanka_agent::store::rfc3339_to_ms(&c.start).unwrap() + 2000;
                        let n: i64 = store
                            .conn()
                            .query_row(
                                "SELECT count(*) FROM cdrs WHERE called = ?1 AND started_at = ?2",
                                (&c.called, t),
                                |r| r.get(0),
                            )
                            .unwrap();
                        assert_eq!(n, 1, "{c:?}");
                        calls += 1;
                    }
                }
                _ => {}
            }
        }
    }
    assert_eq!(linked, 2000);
    assert_eq!(calls as u64, 2000 * scale::CALLS_PER_SIM);
}
