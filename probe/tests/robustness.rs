//! Property tests: whatever the bytes, the pipeline never panics and every
//! bad frame is counted somewhere.

use duanka_probe::analyze::Analyzer;
use duanka_probe::capture::Frame;
use duanka_probe::detect::SignatureDb;
use duanka_probe::dissect::layers::LinkType;
use proptest::prelude::*;

fn link() -> impl Strategy<Value = LinkType> {
    prop_oneof![
        Just(LinkType::Ethernet),
        Just(LinkType::LinuxSll),
        Just(LinkType::LinuxSll2),
        Just(LinkType::RawIp),
        Just(LinkType::Ipv4),
        Just(LinkType::Ipv6),
        Just(LinkType::Null),
    ]
}

/// An Ethernet + IPv4 + UDP/TCP header prefix with random fields, so random
/// tails reach the transport and SIP layers rather than dying at layer 2.
fn plausible_frame() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), any::<[u8; 8]>(), prop::collection::vec(any::<u8>(), 0..600)).prop_map(|(tcp, seed, tail)| {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + tail.len()) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[seed[0], seed[1], seed[2] & 0x3f, seed[3], 64, if tcp { 6 } else { 17 }, 0, 0]);
        f.extend_from_slice(&[10, 0, 0, seed[4]]);
        f.extend_from_slice(&[10, 0, 0, seed[5]]);
        f.extend_from_slice(&tail);
        f
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_frames_never_panic(frames in prop::collection::vec((link(), prop::collection::vec(any::<u8>(), 0..200)), 1..40)) {
        let db = SignatureDb::builtin();
        let mut a = Analyzer::new(&db);
        a.begin_file("random", "pcap", 0);
        for (i, (link, data)) in frames.iter().enumerate() {
            a.frame(&Frame { number: i as u64 + 1, ts: i as u64 * 1_000_000, link: *link, data, orig_len: data.len() as u32 });
        }
        let report = a.report();
        prop_assert_eq!(report.packets, frames.len() as u64);
    }

    #[test]
    fn plausible_frames_never_panic(frames in prop::collection::vec(plausible_frame(), 1..40)) {
        let db = SignatureDb::builtin();
        let mut a = Analyzer::new(&db);
        a.begin_file("plausible", "pcap", 0);
        for (i, data) in frames.iter().enumerate() {
            a.frame(&Frame { number: i as u64 + 1, ts: 1_700_000_000_000_000 + i as u64 * 7_000_000, link: LinkType::Ethernet, data, orig_len: data.len() as u32 });
        }
        let _ = a.report();
    }
}
