//! Same seed, same bytes; another seed, other bytes.

use std::time::Duration;

use duanka_hil::{generate, SimConfig};

fn cfg(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        duration: Duration::from_secs(45),
        gateways: 2,
        lines: Some(4),
        tcp_share: 0.5,
        fragment_share: 0.3,
        ..SimConfig::default()
    }
}

#[test]
fn same_seed_gives_identical_bytes_and_truth() {
    let (a, ta) = generate(&cfg(42)).unwrap();
    let (b, tb) = generate(&cfg(42)).unwrap();
    assert!(a == b, "captures differ for the same seed");
    assert_eq!(ta, tb);
}

#[test]
fn different_seeds_give_different_captures() {
    let (a, ta) = generate(&cfg(1)).unwrap();
    let (b, tb) = generate(&cfg(2)).unwrap();
    assert!(a != b);
    assert_ne!(ta.packets, 0);
    assert_ne!(tb.packets, 0);
}

#[test]
fn write_scenario_to_a_file_matches_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.pcap");
    let truth = duanka_hil::write_scenario(&cfg(3), std::fs::File::create(&path).unwrap()).unwrap();
    let (mem, mem_truth) = generate(&cfg(3)).unwrap();
    assert!(std::fs::read(&path).unwrap() == mem);
    assert_eq!(truth, mem_truth);
}

/// FNV-1a, 64 bits: a fingerprint of a capture without a hashing crate.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Regression guard: adding the mixed scenario's traffic must not change how the basic
/// scenario is drawn. The constant is the FNV-1a of this capture as written by the
/// simulator before the mixed scenario existed (commit 0175a43).
#[test]
fn basic_scenario_bytes_are_unchanged() {
    let cfg = SimConfig { duration: Duration::from_secs(30), ..SimConfig::default() };
    let (pcap, _) = generate(&cfg).unwrap();
    assert_eq!(pcap.len(), 5_139_617);
    assert_eq!(fnv1a(&pcap), 0x48ca_da5c_451b_a869);
}

/// The same guard for the mixed preset with the cell side off: adding `gsmtap` must not
/// change a byte of it. The constant is the FNV-1a of this capture as written before the
/// cell side existed (commit c09780f).
#[test]
fn mixed_scenario_without_gsmtap_bytes_are_unchanged() {
    let cfg = SimConfig { duration: Duration::from_secs(60), rtp: false, gsmtap: false, ..SimConfig::mixed() };
    let (pcap, truth) = generate(&cfg).unwrap();
    assert_eq!(pcap.len(), 1_615_764);
    assert_eq!(fnv1a(&pcap), 0x1034_492a_789b_4170);
    assert_eq!(truth.gsmtap_packets, 0);
}
