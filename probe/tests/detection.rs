//! Detection quality on the simulator's labelled mixed scenario: 22 gateways
//! (6 stripped of every fingerprint) among 200+ benign hosts including call
//! centres, PBX trunks, carriers and overseas-VoIP users. The real binary runs
//! `eval` on the capture and its labels; the targets are asserted.

use std::process::Command;

use duanka_hil::sim::{write_scenario, SimConfig};
use serde_json::Value;

fn eval_seed(seed: u64) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("mixed.pcap");
    let labels = dir.path().join("labels.json");
    let cfg = SimConfig { seed, rtp: false, ..SimConfig::mixed() };
    let truth = write_scenario(&cfg, std::fs::File::create(&cap).unwrap()).unwrap();
    std::fs::write(&labels, serde_json::to_vec(&truth).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_duanka-probe"))
        .args(["eval", "--json", "--labels", labels.to_str().unwrap(), cap.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn mixed_scenario_meets_the_targets() {
    for seed in [1, 2] {
        let r = eval_seed(seed);
        let o = &r["overall"];
        assert!(o["true_positives"].as_u64().unwrap() >= 20, "seed {seed}: at least 20 gateways found: {r:#}");
        assert!(o["precision"].as_f64().unwrap() >= 0.99, "seed {seed}: precision: {r:#}");
        assert!(o["recall"].as_f64().unwrap() >= 0.98, "seed {seed}: recall: {r:#}");
        assert!(r["by_kind"]["goip_stripped"]["recall"].as_f64().unwrap() >= 0.90, "seed {seed}: stripped: {r:#}");
        for negative in ["call_centre", "pbx_trunk"] {
            assert_eq!(r["by_kind"][negative]["false_positives"], 0, "seed {seed}: {negative} flagged: {r:#}");
            assert!(r["by_kind"][negative]["hosts"].as_u64().unwrap() >= 3, "seed {seed}: {negative} present");
        }
        assert!(r["latency"]["p50_s"].as_f64().unwrap() <= 300.0, "seed {seed}: median latency: {r:#}");

        // The cell side: gateway↔SIM links and the SIM-box flags.
        let c = &r["cell"];
        let links = &c["links"];
        assert!(links["expected"].as_u64().unwrap() >= 100, "seed {seed}: links to find: {c:#}");
        assert!(links["precision"].as_f64().unwrap() >= 0.99, "seed {seed}: link precision: {c:#}");
        assert!(links["recall"].as_f64().unwrap() >= 0.95, "seed {seed}: link recall: {c:#}");
        let flag = |name: &str| &c["flags"][name];
        // SIM rotation: the SIM-bank gateways' modules carry several SIMs, and nothing else does.
        assert!(flag("sim_rotation")["on_simboxes"].as_u64().unwrap() >= 1, "seed {seed}: rotation: {c:#}");
        assert_eq!(flag("sim_rotation")["precision"], 1.0, "seed {seed}: rotation: {c:#}");
        // Cohorts: every gateway powers its modules on together.
        let boxes = c["simboxes_on_air"].as_u64().unwrap();
        assert!(boxes >= 20, "seed {seed}: {c:#}");
        assert_eq!(flag("attach_cohort")["simboxes_with_flag"].as_u64().unwrap(), boxes, "seed {seed}: {c:#}");
        assert!(flag("attach_cohort")["precision"].as_f64().unwrap() >= 0.9, "seed {seed}: {c:#}");
        assert!(flag("detach_cohort")["simboxes_with_flag"].as_u64().unwrap() >= 1, "seed {seed}: {c:#}");
    }
}
