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
    }
}
