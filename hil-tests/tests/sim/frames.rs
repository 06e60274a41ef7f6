//! Frames parse back: checksums and lengths (checked by `support::decode` on every
//! frame), fragments reassemble, TCP sequence numbers are continuous, RTP counters run.

use std::collections::HashMap;

use duanka_hil::pcap::PcapOut;

use crate::support::{decode, frame_sip, looks_like_sip, mixed, sip_messages};

#[test]
fn every_frame_decodes_and_transport_variety_is_present() {
    let case = mixed();
    let d = &case.decoded;
    assert_eq!(d.frames, case.truth.packets);
    assert!(d.vlan_frames > 0, "no 802.1Q frames");
    assert!(d.ipv6_frames > 0, "no IPv6 frames");
    assert!(!d.tcp.is_empty(), "no TCP");
    assert!(d.fragment_frames > 0, "no IPv4 fragments");
}

#[test]
fn fragments_reassemble_into_whole_sip_invites() {
    let case = mixed();
    let reassembled: Vec<_> = case.decoded.udp.iter().filter(|u| u.fragments > 1).collect();
    assert_eq!(reassembled.len() as u64, case.truth.fragmented_datagrams);
    for u in reassembled {
        assert!(u.payload.len() + 28 > 1500, "fragmented although it fits");
        assert!(looks_like_sip(&u.payload));
        let (msgs, used) = frame_sip(&u.payload);
        assert_eq!(msgs.len(), 1);
        assert_eq!(used, u.payload.len());
        assert!(msgs[0].starts_with("INVITE ") || msgs[0].starts_with("SIP/2.0 "));
    }
}

#[test]
fn tcp_streams_are_continuous_with_splits_coalescing_and_retransmissions() {
    let case = mixed();
    // sip_messages() asserts continuity and acknowledgements while reassembling.
    let t = &case.tcp;
    assert!(t.handshakes >= 1);
    assert_eq!(t.retransmissions, case.truth.tcp_retransmissions);
    assert!(t.retransmissions >= 1, "no retransmission");
    assert!(t.split_messages >= 1, "no message split over segments");
    assert!(t.coalesced_segments >= 1, "no segment with two messages");
    assert!(case.sip.iter().any(|m| m.tcp && m.header("Via").unwrap().contains("SIP/2.0/TCP")));
}

#[test]
fn rtp_streams_count_sequence_and_timestamp() {
    let case = mixed();
    // Per SSRC: sequence +1 per packet; audio timestamps +160 per packet.
    let mut last: HashMap<u32, (u16, u32, u8)> = HashMap::new();
    let mut events = 0;
    for u in case.decoded.udp.iter().filter(|u| !looks_like_sip(&u.payload)) {
        let p = &u.payload;
        assert_eq!(p[0], 0x80, "RTP version 2, no padding/extension/CSRC");
        let pt = p[1] & 0x7f;
        assert!([0, 8, 9, 101].contains(&pt), "payload type {pt}");
        let seq = u16::from_be_bytes([p[2], p[3]]);
        let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
        if pt == 101 {
            assert_eq!(p.len(), 16);
            events += 1;
        } else {
            assert_eq!(p.len(), 12 + 160);
        }
        if let Some((s, t, lpt)) = last.get(&ssrc) {
            assert_eq!(seq, s.wrapping_add(1), "SSRC {ssrc:#x} sequence");
            if pt != 101 && *lpt != 101 {
                assert_eq!(ts, t.wrapping_add(160), "SSRC {ssrc:#x} timestamp");
            }
        }
        last.insert(ssrc, (seq, ts, pt));
    }
    assert!(last.len() > 10, "few RTP streams");
    assert!(events > 0, "no RFC 4733 events");
}

#[test]
fn hand_built_fixture_round_trips() {
    let mut out = PcapOut::new(Vec::new()).unwrap();
    let (a, b) = ("192.0.2.1:5060".parse().unwrap(), "192.0.2.2:5060".parse().unwrap());
    let msg = b"OPTIONS sip:192.0.2.2 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
    out.udp(1, a, b, msg).unwrap();
    out.udp_vlan(2, a, b, msg, 300).unwrap();
    out.udp_v6(3, "[2001:db8::1]:5060".parse().unwrap(), "[2001:db8::2]:5060".parse().unwrap(), msg).unwrap();
    let big: Vec<u8> = [&b"INVITE sip:x@192.0.2.2 SIP/2.0\r\nContent-Length: 4000\r\n\r\n"[..], &[b'a'; 4000]].concat();
    let n = out
        .udp_fragmented(4, "192.0.2.1:5060".parse().unwrap(), "192.0.2.2:5060".parse().unwrap(), &big, 1500)
        .unwrap();
    assert_eq!(n, 3);
    let (c, s) = ("192.0.2.1:40000".parse().unwrap(), "192.0.2.2:5060".parse().unwrap());
    out.tcp_segment(5, c, s, &msg[..10]).unwrap();
    let seq = out.tcp_segment(5, c, s, &msg[10..]).unwrap();
    out.tcp_resend(6, c, s, seq, &msg[10..]).unwrap();
    out.tcp_segment(7, s, c, &[&msg[..], &msg[..]].concat()).unwrap();
    let bytes = out.finish().unwrap();
    let d = decode(&bytes);
    assert_eq!(d.frames, 3 + 3 + 3 + 4);
    assert_eq!(d.vlan_frames, 1);
    assert_eq!(d.ipv6_frames, 1);
    let (sip, tcp) = sip_messages(&d);
    assert_eq!(sip.len(), 3 + 1 + 3);
    assert_eq!(tcp.retransmissions, 1);
    assert_eq!(tcp.split_messages, 1);
    assert_eq!(tcp.coalesced_segments, 1);
}
