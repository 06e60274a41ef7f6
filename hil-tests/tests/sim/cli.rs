//! The `duanka-sim` binary: help, exit codes, outputs.

use std::process::Command;

use duanka_hil::Truth;

use crate::support::decode;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_duanka-sim"))
}

#[test]
fn help_explains_generate() {
    let out = sim().arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("generate"));
    let out = sim().args(["generate", "--help"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--out",
        "--seed",
        "--duration",
        "--gateways",
        "--lines",
        "--stripped",
        "--phones",
        "--packets",
        "--truth",
        "--no-rtp",
        "--tcp-share",
        "--preset",
        "--softphones",
        "--call-centres",
        "--pbx-sites",
        "--overseas-voip",
        "--control-plane",
        "--simbank-share",
    ] {
        assert!(text.contains(flag), "help lacks {flag}");
    }
}

#[test]
fn generate_writes_capture_truth_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, json) = (dir.path().join("a.pcap"), dir.path().join("a.json"));
    let out = sim()
        .args(["generate", "--duration", "20s", "--seed", "3", "--gateways", "1", "--lines", "4", "--out"])
        .arg(&pcap)
        .arg("--truth")
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one summary line: {stderr}");
    assert!(stderr.contains("packets") && stderr.contains("SIP messages") && stderr.contains("gateways"));
    let truth: Truth = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let bytes = std::fs::read(&pcap).unwrap();
    assert_eq!(decode(&bytes).frames, truth.packets);
    assert_eq!(truth.seed, 3);
}

#[test]
fn mixed_preset_writes_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, json) = (dir.path().join("m.pcap"), dir.path().join("m.json"));
    let out = sim()
        .args(["generate", "--preset", "mixed", "--duration", "15s", "--no-rtp", "--seed", "4", "--out"])
        .arg(&pcap)
        .arg("--truth")
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("preset mixed"));
    let text = std::fs::read_to_string(&json).unwrap();
    for key in
        ["\"kind\": \"goip_stripped\"", "\"kind\": \"call_centre\"", "\"first_call_at\": 1", "\"uses_simbank\": true"]
    {
        assert!(text.contains(key), "labels lack {key}");
    }
    let truth: Truth = serde_json::from_str(&text).unwrap();
    assert_eq!(truth.scenario, "mixed");
    assert_eq!(decode(&std::fs::read(&pcap).unwrap()).frames, truth.packets);
}

#[test]
fn packets_flag_sets_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("p.pcap");
    let out = sim().args(["generate", "--packets", "2500", "--quiet", "--out"]).arg(&pcap).output().unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty());
    let frames = decode(&std::fs::read(&pcap).unwrap()).frames;
    assert!((2500..2516).contains(&frames), "{frames}");
}

#[test]
fn usage_errors_exit_2() {
    let cases: [&[&str]; 6] = [
        &["generate"],
        &["generate", "--out", "x.pcap", "--lines", "0"],
        &["generate", "--out", "x.pcap", "--duration", "5x"],
        &["generate", "--out", "x.pcap", "--tcp-share", "2"],
        &["generate", "--out", "x.pcap", "--bogus"],
        &["frobnicate"],
    ];
    let dir = tempfile::tempdir().unwrap();
    for args in cases {
        let out = sim().current_dir(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    assert!(!dir.path().join("x.pcap").exists());
}

#[test]
fn io_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/x.pcap");
    let out = sim().args(["generate", "--duration", "5s", "--out"]).arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = sim()
        .args(["generate", "--duration", "5s", "--out"])
        .arg(dir.path().join("ok.pcap"))
        .arg("--truth")
        .arg(dir.path().join("no/such/truth.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
