//! The cell-signalling dissectors end to end (GSMTAP → L2 → GSM L3 / EPS NAS)
//! on published vectors (`tests/data/gsm/gsmtap_vectors.txt`, origins in its
//! README), plus round trips and property tests: whatever the bytes, nothing
//! panics.

use duanka_probe::dissect::gsm_l3::{self, Identity, Lai, Message, MobileIdentity, Plmn};
use duanka_probe::dissect::gsmtap::{self, lapdm, L3Payload, PayloadType, Repr};
use duanka_probe::dissect::lte_nas::{self, EpsMobileIdentity, Nas};
use proptest::prelude::*;

const VECTORS: &str = include_str!("data/gsm/gsmtap_vectors.txt");

/// `(name, bytes)` for every vector line.
fn vectors() -> Vec<(&'static str, Vec<u8>)> {
    VECTORS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, hex) = l.split_once('\t').expect("NAME<TAB>HEX");
            let bytes = hex.split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("hex byte")).collect();
            (name, bytes)
        })
        .collect()
}

fn ids<'a>(ids: impl Iterator<Item = Identity> + 'a) -> String {
    ids.map(|i| format!(" {}:{i}", i.kind())).collect()
}

/// A one-line summary of what the dissectors make of a GSMTAP packet.
fn describe(bytes: &[u8]) -> String {
    let packet = gsmtap::Packet::new_checked(bytes).expect("GSMTAP header");
    match gsmtap::l3_of(&packet).expect("L2 framing") {
        L3Payload::L3(l3) => gsm(l3),
        L3Payload::Echo(l3) => format!("echo {}", gsm(l3)),
        L3Payload::Nas(nas) => {
            let n = lte_nas::parse(nas).expect("NAS");
            format!("{}{}", n.key(), ids(n.identities()))
        }
        L3Payload::Filler(f) => format!("filler.{}", f.name()),
        L3Payload::NotL3(n) => format!("not_l3.{}", n.name()),
    }
}

fn gsm(l3: &[u8]) -> String {
    let packet = gsm_l3::Packet::new_checked(l3).expect("L3 header");
    let m = Message::parse(&packet).expect("L3 body");
    let detail = match &m {
        Message::SystemInformation3(s) => format!(" cell=0x{:04x} lai={}", s.cell_id, s.lai),
        Message::ImmediateAssignment(ia) => format!(
            " ra=0x{:02x} ts={} arfcn={:?} tbf={} fn={}",
            ia.request.ra,
            ia.channel.timeslot,
            ia.channel.arfcn,
            ia.tbf,
            ia.request.frame_number_mod_42432()
        ),
        Message::LocationUpdatingRequest { update_type, lai, .. } => format!(" {} lai={lai}", update_type.name()),
        Message::Setup(s) => format!(
            " called={} calling={}",
            s.called.map_or("-".into(), |n| n.to_e164_string()),
            s.calling.map_or("-".into(), |n| n.to_e164_string())
        ),
        Message::Disconnect { cause } => format!(" cause={}", cause.value),
        _ => String::new(),
    };
    format!("{}{}{}", packet.message_type(), detail, ids(m.identities()))
}

#[test]
fn published_vectors_decode_as_expected() {
    let expected = [
        ("grgsm_ccch_dummy_paging", "filler.dummy_paging"),
        ("grgsm_bcch_si2", "rr.system_information_2"),
        ("oros42_bcch_si3", "rr.system_information_3 cell=0x619d lai=208-20-412"),
        ("oros42_ccch_imm_ass_tbf", "rr.immediate_assignment ra=0x7b ts=6 arfcn=Some(991) tbf=true fn=27057"),
        ("oros42_ccch_imm_ass_sdcch8_arfcn9", "rr.immediate_assignment ra=0x00 ts=1 arfcn=Some(9) tbf=false fn=641"),
        (
            "oros42_ccch_imm_ass_sdcch8_arfcn991",
            "rr.immediate_assignment ra=0x92 ts=1 arfcn=Some(991) tbf=false fn=40986",
        ),
        ("oros42_pch_paging_tmsi", "rr.paging_request_1 tmsi:0xf8680326"),
        ("oros42_bcch_si3_livemon", "rr.system_information_3 cell=0x95cc lai=208-20-412"),
        ("osmo_msc_lu_request_in_sabm", "mm.location_updating_request imsi_attach lai=001-868-1 imsi:901700000004620"),
        (
            "osmo_msc_lu_request_ua_echo",
            "echo mm.location_updating_request imsi_attach lai=001-868-1 imsi:901700000004620",
        ),
        ("osmo_msc_identity_request_i", "mm.identity_request"),
        ("osmo_msc_identity_response_i", "mm.identity_response imei:423423423423420"),
        ("osmo_msc_disconnect_facch", "cc.disconnect cause=16"),
        ("osmo_msc_cm_service_request_abis", "mm.cm_service_request imsi:901700000010650"),
        ("osmo_msc_cc_setup_mo_abis", "cc.setup called=123 calling=-"),
        ("osmo_msc_cc_release_abis", "cc.release"),
        ("osmo_msc_paging_response_tmsi_abis", "rr.paging_response tmsi:0x03020100"),
        ("osmo_msc_imsi_detach_tmsi_abis", "mm.imsi_detach_indication tmsi:0x07060504"),
        ("osmo_msc_sms_cp_ack_abis", "sms.cp_ack"),
        ("lapdm_ui_fill_sdcch", "filler.lapdm_fill"),
        ("lapdm_rr_supervisory_sdcch", "not_l3.lapdm_control"),
        ("sacch_downlink_si6", "rr.system_information_6"),
        ("sacch_uplink_measurement_report", "rr.measurement_report"),
        ("pch_paging_request_2", "rr.paging_request_2 tmsi:0x11111111 tmsi:0x22222222 tmsi:0x33333333"),
        ("pch_paging_request_3", "rr.paging_request_3 tmsi:0x00000001 tmsi:0x00000002 tmsi:0x00000003 tmsi:0x00000004"),
        ("pch_paging_request_1_imsi", "rr.paging_request_1 imsi:901700000004620"),
        ("abis_lu_accept_new_tmsi", "mm.location_updating_accept tmsi:0xdeadbeef"),
        ("abis_tmsi_reallocation_command", "mm.tmsi_reallocation_command tmsi:0x12345678"),
        ("abis_ciphering_mode_complete_imeisv", "rr.ciphering_mode_complete imeisv:3512345678901234"),
        ("abis_cc_setup_mt_calling", "cc.setup called=12345 calling=+447785016005"),
        ("open5gs_attach_request", "emm.attach_request guti:001-01-2-1-0x030003e6"),
        ("open5gs_attach_accept", "emm.attach_accept guti:417-99-9029-225-0x00000456 tmsi:0x00e102d4"),
        ("open5gs_identity_request", "emm.identity_request"),
        ("open5gs_identity_response", "emm.identity_response imsi:001010123456815"),
        ("open5gs_service_request", "emm.service_request"),
    ];
    let vectors = vectors();
    assert_eq!(vectors.len(), expected.len(), "one expectation per vector");
    for ((name, bytes), (want_name, want)) in vectors.iter().zip(expected) {
        assert_eq!(*name, want_name, "vectors and expectations in the same order");
        assert_eq!(describe(bytes), want, "{name}");
    }
}

#[test]
fn every_prefix_of_every_vector_is_handled() {
    for (name, bytes) in vectors() {
        for n in 0..bytes.len() {
            exercise(&bytes[..n]);
        }
        // The L3/NAS part alone, cut everywhere as well.
        let packet = gsmtap::Packet::new_checked(&bytes[..]).unwrap();
        let inner = match gsmtap::l3_of(&packet).unwrap() {
            L3Payload::L3(b) | L3Payload::Echo(b) | L3Payload::Nas(b) => b,
            _ => continue,
        };
        for n in 0..inner.len() {
            let _ = Message::from_bytes(&inner[..n]);
            let _ = lte_nas::parse(&inner[..n]);
        }
        assert!(!inner.is_empty(), "{name}");
    }
}

/// Run every top-level parser over `bytes`.
fn exercise(bytes: &[u8]) {
    if let Ok(p) = gsmtap::Packet::new_checked(bytes) {
        let _ = Repr::parse(&p);
        match gsmtap::l3_of(&p) {
            Ok(L3Payload::L3(b) | L3Payload::Echo(b)) => {
                if let Ok(m) = Message::from_bytes(b) {
                    let _ = m.identities().count();
                }
            }
            Ok(L3Payload::Nas(b)) => {
                let _ = lte_nas::message_key(b);
                if let Ok(n) = lte_nas::parse(b) {
                    let _ = n.identities().count();
                }
            }
            _ => {}
        }
    }
    let _ = Message::from_bytes(bytes);
    let _ = lte_nas::parse(bytes);
    let _ = lte_nas::message_key(bytes);
    let _ = MobileIdentity::parse(bytes);
    let _ = EpsMobileIdentity::parse(bytes);
    let _ = Lai::parse(bytes);
    let _ = gsm_l3::BcdNumber::parse(bytes);
    let _ = gsm_l3::Cause::parse(bytes);
    let _ = lapdm::Frame::new_checked(bytes, true).map(|f| f.info());
    let _ = lapdm::Frame::new_checked(bytes, false).map(|f| (f.info(), f.control()));
    if let [a, b, c, ..] = *bytes {
        let _ = gsm_l3::ChannelDescription::parse(&[a, b, c]);
        let _ = gsm_l3::RequestReference::parse(&[a, b, c]).frame_number_mod_42432();
    }
}

/// A version-2 GSMTAP header of a type and sub-type that reach the L2/L3
/// decoders, followed by random bytes.
fn plausible_gsmtap() -> impl Strategy<Value = Vec<u8>> {
    let types = prop_oneof![Just(0x01u8), Just(0x02), Just(0x12)];
    let subs = prop_oneof![0u8..=0x11, (0u8..=0x11).prop_map(|s| s | 0x80)];
    (types, subs, any::<bool>(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(t, sub, uplink, tail)| {
        let repr = Repr {
            payload_type: PayloadType::from(t),
            timeslot: 0,
            arfcn: 1,
            pcs: false,
            uplink,
            signal_dbm: -70,
            snr_db: 3,
            frame_number: 42,
            sub_type: sub,
            antenna: 0,
            sub_slot: 0,
        };
        let mut buf = vec![0u8; gsmtap::HEADER_LEN];
        repr.emit(&mut buf);
        buf.extend_from_slice(&tail);
        buf
    })
}

/// A plausible L3 or NAS header (known PD and type) followed by random bytes.
fn plausible_l3() -> impl Strategy<Value = Vec<u8>> {
    let pd = prop_oneof![Just(0x03u8), Just(0x05), Just(0x06), Just(0x08), Just(0x07), Just(0x17), Just(0x02)];
    (pd, any::<u8>(), prop::collection::vec(any::<u8>(), 0..48)).prop_map(|(pd, t, tail)| {
        let mut b = vec![pd, t];
        b.extend_from_slice(&tail);
        b
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        exercise(&bytes);
    }

    #[test]
    fn plausible_gsmtap_never_panics(bytes in plausible_gsmtap()) {
        exercise(&bytes);
    }

    #[test]
    fn plausible_l3_never_panics(bytes in plausible_l3()) {
        exercise(&bytes);
        // Also as the payload of an Abis packet and inside a 6-octet NAS security header.
        let mut nas = vec![0x17, 1, 2, 3, 4, 5];
        nas.extend_from_slice(&bytes);
        exercise(&nas);
    }

    #[test]
    fn gsmtap_header_round_trips(
        t in any::<u8>(), ts in any::<u8>(), arfcn in 0u16..0x4000, pcs in any::<bool>(), uplink in any::<bool>(),
        signal in any::<i8>(), snr in any::<i8>(), fnr in any::<u32>(), sub in any::<u8>(), ant in any::<u8>(), ss in any::<u8>(),
    ) {
        let repr = Repr {
            payload_type: PayloadType::from(t), timeslot: ts, arfcn, pcs, uplink, signal_dbm: signal, snr_db: snr,
            frame_number: fnr, sub_type: sub, antenna: ant, sub_slot: ss,
        };
        let mut buf = [0u8; gsmtap::HEADER_LEN];
        repr.emit(&mut buf);
        let p = gsmtap::Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Repr::parse(&p), repr);
    }

    #[test]
    fn mobile_identity_round_trips(digits in "[0-9]{1,19}", kind in 1u8..=3, tmsi in any::<u32>()) {
        let d = gsm_l3::IdentityDigits::from_text(&digits).unwrap();
        let id = match kind {
            1 => MobileIdentity::Imsi(d),
            2 => MobileIdentity::Imei(d),
            _ => MobileIdentity::Imeisv(d),
        };
        for id in [id, MobileIdentity::Tmsi(tmsi)] {
            let mut buf = vec![0u8; id.value_len()];
            prop_assert_eq!(id.emit(&mut buf), buf.len());
            prop_assert_eq!(MobileIdentity::parse(&buf), Ok(id));
        }
    }

    #[test]
    fn lai_round_trips(mcc in 0u16..1000, mnc in 0u16..1000, three in any::<bool>(), lac in any::<u16>()) {
        let lai = Lai { plmn: Plmn { mcc, mnc: if three { mnc } else { mnc % 100 }, three_digit_mnc: three }, lac };
        let mut buf = [0u8; 5];
        lai.emit(&mut buf);
        prop_assert_eq!(Lai::parse(&buf), Ok(lai));
    }
}

/// A NAS transport carries an SMS CP message that decodes as GSM L3.
#[test]
fn nas_transport_container_is_gsm_l3() {
    let nas = [0x07, 0x63, 0x02, 0x89, 0x04];
    let Ok(Nas::Emm(m)) = lte_nas::parse(&nas) else { panic!() };
    let lte_nas::EmmBody::NasTransport { container } = m.body else { panic!() };
    let inner = gsm_l3::Packet::new_checked(&nas[container]).unwrap();
    assert_eq!(inner.message_type().to_string(), "sms.cp_ack");
}
