//! The cell side (`gsmtap`): GSMTAP frames decoded by this test's own decoder (SPEC §3.4:
//! GSMTAP v2 header, UM pseudo-length blocks, raw L3 on ABIS, protocol discriminators,
//! message types masked with 0x3f, mobile identities, LAIs, BCD numbers), dedicated
//! channels followed from their Immediate Assignment to their Channel Release, TMSIs
//! tied to IMSIs by the TMSI Reallocation Commands; then checked against the labels:
//! every SIP↔SIM link, cohorts, cells, SIM rotation, paging, and that the flag leaves
//! the rest of the capture alone.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Duration;

use duanka_hil::sim::{GSMTAP_PORT, SMS_SERVER_PORT};
use duanka_hil::{generate, Role, SimConfig, Truth};
use pcap_file::pcap::PcapReader;

use crate::support::{decode, mixed_preset, sip_messages, Case, Datagram, Sip};

const SENSOR: &str = "192.0.2.250";
const SEC: u64 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Id {
    Imsi(String),
    Imei(String),
    Tmsi(u32),
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Lai {
    mcc: String,
    mnc: String,
    lac: u16,
}

#[derive(Debug, Clone)]
enum L3 {
    Si3 { ci: u16, lai: Lai },
    Si4 { lai: Lai },
    Paging(Vec<Id>),
    Ia { arfcn: u16, ts: u8, sub: u8, ta: u8 },
    PagingResponse(Id),
    ChannelRelease,
    OtherRr,
    LuRequest { lu_type: u8, lai: Lai, id: Id },
    LuAccept(Lai),
    TmsiRealloc { lai: Lai, tmsi: u32 },
    IdentityResponse(Id),
    CmServiceRequest(Id),
    ImsiDetach(Id),
    OtherMm,
    Setup { called: Option<(u8, String)>, calling: Option<(u8, String)> },
    OtherCc,
}

/// One decoded GSMTAP datagram.
#[derive(Debug, Clone)]
struct Frame {
    ts: u64,
    um: bool,
    sub_type: u8,
    arfcn: u16,
    uplink: bool,
    timeslot: u8,
    sub_slot: u8,
    /// Protocol discriminator and (masked) message type.
    pd: u8,
    ty: u8,
    /// N(SD) bits of an MM/CC message type.
    nsd: u8,
    msg: L3,
}

fn digit(n: u8) -> char {
    assert!(n <= 9, "BCD nibble {n:#x}");
    char::from(b'0' + n)
}

/// BCD digits, low nibble first, 0xF only as the last nibble.
fn bcd(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, &x) in b.iter().enumerate() {
        s.push(digit(x & 0x0f));
        if x >> 4 == 0x0f {
            assert_eq!(i, b.len() - 1, "filler before the end");
        } else {
            s.push(digit(x >> 4));
        }
    }
    s
}

/// A Mobile Identity LV at `b`; returns it and the octets used.
fn mobile_identity(b: &[u8]) -> (Id, usize) {
    let len = usize::from(b[0]);
    let v = &b[1..1 + len];
    let id = match v[0] & 7 {
        4 => {
            assert_eq!((len, v[0]), (5, 0xf4), "TMSI identity");
            Id::Tmsi(u32::from_be_bytes([v[1], v[2], v[3], v[4]]))
        }
        0 => {
            assert_eq!(v, [0xf0], "no identity");
            Id::Nothing
        }
        kind @ (1 | 2) => {
            let odd = v[0] & 8 != 0;
            let mut s = String::from(digit(v[0] >> 4));
            s.push_str(&bcd(&v[1..]));
            assert_eq!(s.len() % 2 == 1, odd, "odd/even flag of {s}");
            if kind == 1 {
                Id::Imsi(s)
            } else {
                Id::Imei(s)
            }
        }
        other => panic!("identity type {other}"),
    };
    (id, 1 + len)
}

fn lai(b: &[u8]) -> Lai {
    let d = |x: u8| digit(x & 0x0f);
    let mcc: String = [d(b[0]), d(b[0] >> 4), d(b[1])].into_iter().collect();
    let mut mnc: String = [d(b[2]), d(b[2] >> 4)].into_iter().collect();
    if b[1] >> 4 != 0x0f {
        mnc.push(d(b[1] >> 4));
    }
    Lai { mcc, mnc, lac: u16::from_be_bytes([b[3], b[4]]) }
}

/// TLV information elements of a CC message body, by IEI.
fn ies(mut b: &[u8]) -> HashMap<u8, &[u8]> {
    let mut out = HashMap::new();
    while !b.is_empty() {
        let (iei, len) = (b[0], usize::from(b[1]));
        out.insert(iei, &b[2..2 + len]);
        b = &b[2 + len..];
    }
    out
}

fn number(v: &[u8]) -> (u8, String) {
    assert!(v[0] & 0x80 != 0, "no octet 3a expected");
    (v[0], bcd(&v[1..]))
}

fn l3(pd: u8, ty: u8, b: &[u8]) -> L3 {
    match (pd, ty) {
        (6, 0x1b) => L3::Si3 { ci: u16::from_be_bytes([b[0], b[1]]), lai: lai(&b[2..7]) },
        (6, 0x1c) => L3::Si4 { lai: lai(&b[..5]) },
        (6, 0x21) => {
            let (first, used) = mobile_identity(&b[1..]);
            let mut ids = vec![first];
            let rest = &b[1 + used..];
            if rest.first() == Some(&0x17) {
                ids.push(mobile_identity(&rest[1..]).0);
            }
            L3::Paging(ids)
        }
        (6, 0x22) => {
            let t = |o: usize| Id::Tmsi(u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]));
            L3::Paging(vec![t(1), t(5)])
        }
        (6, 0x3f) => {
            assert_eq!(b[1] >> 6, 1, "SDCCH/8 channel type");
            let arfcn = u16::from(b[2] & 3) << 8 | u16::from(b[3]);
            L3::Ia { arfcn, ts: b[1] & 7, sub: (b[1] >> 3) & 7, ta: b[7] }
        }
        (6, 0x27) => L3::PagingResponse(mobile_identity(&b[5..]).0),
        (6, 0x0d) => L3::ChannelRelease,
        (6, 0x35 | 0x32) => L3::OtherRr,
        (5, 0x08) => L3::LuRequest { lu_type: b[0] & 3, lai: lai(&b[1..6]), id: mobile_identity(&b[7..]).0 },
        (5, 0x02) => L3::LuAccept(lai(b)),
        (5, 0x1a) => match mobile_identity(&b[5..]).0 {
            Id::Tmsi(tmsi) => L3::TmsiRealloc { lai: lai(b), tmsi },
            other => panic!("TMSI reallocation with {other:?}"),
        },
        (5, 0x19) => L3::IdentityResponse(mobile_identity(b).0),
        (5, 0x24) => {
            assert_eq!(b[0] & 0x0f, 1, "mobile-originating call");
            L3::CmServiceRequest(mobile_identity(&b[1 + 1 + usize::from(b[1])..]).0)
        }
        (5, 0x01) => L3::ImsiDetach(mobile_identity(&b[1..]).0),
        (5, 0x18 | 0x1b | 0x12 | 0x14) => L3::OtherMm,
        (3, 0x05) => {
            let ies = ies(b);
            L3::Setup { called: ies.get(&0x5e).map(|v| number(v)), calling: ies.get(&0x5c).map(|v| number(v)) }
        }
        (3, 0x01 | 0x02 | 0x07 | 0x08 | 0x0f | 0x25 | 0x2a | 0x2d) => L3::OtherCc,
        other => panic!("unexpected message {other:02x?}"),
    }
}

/// Decodes one GSMTAP datagram, asserting its framing.
fn frame(d: &Datagram) -> Frame {
    let p = &d.payload;
    assert!(p.len() > 16, "short GSMTAP");
    assert_eq!((p[0], p[1]), (2, 4), "GSMTAP version 2, 16-byte header");
    let arfcn_field = u16::from_be_bytes([p[4], p[5]]);
    let (kind, sub_type) = (p[2], p[12]);
    let body = &p[usize::from(p[1]) * 4..];
    let um = match kind {
        1 => true,
        2 => false,
        other => panic!("GSMTAP type {other}"),
    };
    let l3b: &[u8] = if um {
        assert!([1, 2, 5].contains(&sub_type), "UM sub-type {sub_type}");
        assert_eq!(body.len(), 23, "BCCH/CCCH block length");
        assert_eq!(body[0] & 3, 1, "pseudo-length low bits");
        let len = usize::from(body[0] >> 2);
        assert!(body[1 + len..].iter().all(|&b| b == 0x2b), "padding after {len} octets");
        &body[1..1 + len]
    } else {
        body
    };
    let pd = l3b[0] & 0x0f;
    let (ty, nsd) = if pd == 6 { (l3b[1], 0) } else { (l3b[1] & 0x3f, l3b[1] >> 6) };
    match pd {
        3 => {}
        5 | 6 => assert_eq!(l3b[0] >> 4, 0, "skip indicator"),
        other => panic!("protocol discriminator {other}"),
    }
    Frame {
        ts: d.ts,
        um,
        sub_type,
        arfcn: arfcn_field & 0x3fff,
        uplink: arfcn_field & 0x4000 != 0,
        timeslot: p[3],
        sub_slot: p[14],
        pd,
        ty,
        nsd,
        msg: l3(pd, ty, &l3b[2..]),
    }
}

fn luhn(n: &str) -> bool {
    let sum: u32 = n
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                (2 * d) / 10 + (2 * d) % 10
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// A mobile-originating CC Setup as the cell side shows it.
#[derive(Debug, Clone)]
struct MoSetup {
    ts: u64,
    /// The identity the phone gave on the channel, and the IMSI behind it if known.
    who: Id,
    imsi: Option<String>,
    called: String,
    ton: u8,
    cell: usize,
}

/// Something a subscriber did on a dedicated channel.
#[derive(Debug, Clone)]
struct Act {
    /// The identity it gave (a TMSI from before the capture stays unresolved).
    who: Id,
    imsi: Option<String>,
    cell: usize,
    ta: u8,
    what: &'static str,
}

/// The cell side of a capture, followed channel by channel.
#[derive(Debug, Default)]
struct CellSide {
    frames: Vec<Frame>,
    setups: Vec<MoSetup>,
    acts: Vec<Act>,
    /// (IMSI, IMEI) from Identity Responses on a channel whose subscriber is known.
    imeis: Vec<(String, String)>,
    /// IMSI-attach location updates: (time, IMSI, cell).
    attaches: Vec<(u64, String, usize)>,
    /// IMSI detaches by a known subscriber: (time, IMSI).
    detaches: Vec<(u64, String)>,
    /// Identities paged.
    paged: Vec<Id>,
    /// Paging responses: the identity given.
    answered: Vec<Id>,
    dummy_pages: usize,
    tmsi_imsi: HashMap<u32, String>,
}

fn cell_side(case: &Case) -> CellSide {
    let t = &case.truth;
    let cell_of: HashMap<u16, usize> =
        t.cells.iter().enumerate().flat_map(|(i, c)| c.arfcns.iter().map(move |&a| (a, i))).collect();
    let mut out = CellSide::default();
    // Per channel: cell, timing advance, and the subscriber once it has said who it is
    // (the identity given, the IMSI behind it when known).
    type Chan = (usize, u8, Option<Id>, Option<String>);
    let mut chans: HashMap<(u16, u8, u8), Chan> = HashMap::new();
    for d in case.decoded.udp.iter().filter(|d| d.dst.port() == GSMTAP_PORT) {
        assert_eq!(d.src.ip().to_string(), SENSOR);
        let f = frame(d);
        let cell = *cell_of.get(&f.arfcn).unwrap_or_else(|| panic!("ARFCN {} of no cell", f.arfcn));
        if f.um {
            assert!(!f.uplink && f.timeslot == 0);
            assert_eq!(t.cells[cell].arfcns[0], f.arfcn, "BCCH/CCCH on the BCCH carrier");
            match &f.msg {
                L3::Si3 { ci, lai } => {
                    assert_eq!(f.sub_type, 1);
                    assert_eq!((*ci, lai.lac), (t.cells[cell].cell_id, t.cells[cell].lac));
                    assert_eq!(
                        (lai.mcc.as_str(), lai.mnc.as_str()),
                        (t.cells[cell].mcc.as_str(), t.cells[cell].mnc.as_str())
                    );
                }
                L3::Si4 { lai } => assert_eq!(lai.lac, t.cells[cell].lac),
                L3::Paging(ids) => {
                    assert_eq!(f.sub_type, 5);
                    if ids == &[Id::Nothing] {
                        out.dummy_pages += 1;
                    } else {
                        out.paged.extend(ids.iter().cloned());
                    }
                }
                L3::Ia { arfcn, ts, sub, ta } => {
                    assert_eq!(f.sub_type, 2);
                    assert_eq!(cell_of.get(arfcn), Some(&cell), "assigned a carrier of another cell");
                    // A new phone on the channel (the last one released it, or lost it
                    // to a power-off).
                    chans.insert((*arfcn, *ts, *sub), (cell, *ta, None, None));
                }
                other => panic!("{other:?} on a UM block"),
            }
            out.frames.push(f);
            continue;
        }
        let key = (f.arfcn, f.timeslot, f.sub_slot);
        let (ccell, ta, mut who, imsi) =
            chans.get(&key).cloned().unwrap_or_else(|| panic!("{f:?} on an unassigned channel"));
        assert_eq!(ccell, cell);
        let resolve = |id: &Id, map: &HashMap<u32, String>| match id {
            Id::Imsi(s) => Some(s.clone()),
            Id::Tmsi(x) => map.get(x).cloned(),
            _ => None,
        };
        let mut known = imsi.clone();
        let mut what = "";
        match &f.msg {
            L3::LuRequest { lu_type, lai, id } => {
                assert!(f.uplink);
                who = Some(id.clone());
                known = resolve(id, &out.tmsi_imsi);
                if *lu_type == 2 {
                    assert!(matches!(id, Id::Imsi(_)), "IMSI attach by IMSI");
                    out.attaches.push((f.ts, known.clone().unwrap(), cell));
                }
                assert_eq!(lai.mcc, "460");
                what = "lu";
            }
            L3::CmServiceRequest(id) | L3::PagingResponse(id) => {
                assert!(f.uplink);
                who = Some(id.clone());
                known = resolve(id, &out.tmsi_imsi);
                if let L3::PagingResponse(_) = &f.msg {
                    out.answered.push(id.clone());
                }
                what = "service";
            }
            L3::ImsiDetach(id) => {
                who = Some(id.clone());
                known = resolve(id, &out.tmsi_imsi);
                if let Some(i) = &known {
                    out.detaches.push((f.ts, i.clone()));
                }
                what = "detach";
            }
            L3::IdentityResponse(Id::Imsi(s)) => known = Some(s.clone()),
            L3::IdentityResponse(Id::Imei(e)) => {
                assert!(e.len() == 15 && luhn(e), "IMEI {e}");
                if let Some(i) = &known {
                    out.imeis.push((i.clone(), e.clone()));
                }
            }
            L3::TmsiRealloc { lai, tmsi } => {
                assert!(!f.uplink);
                assert_eq!(lai.lac, t.cells[cell].lac);
                if let Some(i) = &known {
                    let prev = out.tmsi_imsi.insert(*tmsi, i.clone());
                    assert!(prev.is_none_or(|p| &p == i), "TMSI {tmsi:#x} of two IMSIs");
                }
            }
            L3::LuAccept(lai) => assert_eq!(lai.lac, t.cells[cell].lac),
            L3::Setup { called: Some((ton, called)), calling: None } => {
                assert!(f.uplink && f.pd == 3);
                let who = who.clone().expect("a Setup before the phone said who it is");
                out.setups.push(MoSetup {
                    ts: f.ts,
                    who,
                    imsi: known.clone(),
                    called: called.clone(),
                    ton: *ton,
                    cell,
                });
                what = "setup";
            }
            L3::Setup { called: None, calling: Some(_) } => assert!(!f.uplink),
            L3::Setup { .. } => panic!("a Setup with neither or both numbers"),
            L3::ChannelRelease => {
                assert!(!f.uplink);
                chans.remove(&key);
            }
            _ => {}
        }
        if let Some(i) = &known {
            assert!(i.len() == 15 && i.starts_with("460"), "IMSI {i}");
        }
        if let (false, Some(w)) = (what.is_empty(), &who) {
            out.acts.push(Act { who: w.clone(), imsi: known.clone(), cell, ta, what });
        }
        if let Some(c) = chans.get_mut(&key) {
            (c.2, c.3) = (who, known);
        }
        out.frames.push(f);
    }
    out
}

fn cells_of_mixed() -> &'static CellSide {
    static SIDE: OnceLock<CellSide> = OnceLock::new();
    SIDE.get_or_init(|| cell_side(mixed_preset()))
}

/// Twenty minutes of a small scenario with the cell side: time for phones to move and
/// call their favourites again.
fn long_cells() -> &'static (Case, CellSide) {
    static CASE: OnceLock<(Case, CellSide)> = OnceLock::new();
    CASE.get_or_init(|| {
        let case = Case::new(&SimConfig {
            seed: 5,
            duration: Duration::from_secs(1_200),
            gateways: 1,
            lines: Some(4),
            stripped: 1,
            phones: 2,
            rtp: false,
            gsmtap: true,
            ..SimConfig::default()
        });
        let side = cell_side(&case);
        (case, side)
    })
}

/// Gateway address by IMSI (every IMSI that sat in a gateway).
fn gateway_of_imsi(t: &Truth) -> HashMap<&str, &str> {
    t.simboxes().flat_map(|h| h.imsis.iter().map(move |i| (i.as_str(), h.address.as_str()))).collect()
}

fn capture_end(t: &Truth) -> u64 {
    t.start_unix * SEC + (t.duration_s * SEC as f64) as u64
}

#[test]
fn gsmtap_frames_decode() {
    let case = mixed_preset();
    let side = cells_of_mixed();
    let t = &case.truth;
    assert_eq!(side.frames.len() as u64, t.gsmtap_packets);
    assert!(t.gsmtap_packets > 10_000, "{} GSMTAP packets", t.gsmtap_packets);
    assert!((6..=12).contains(&t.cells.len()), "{} cells", t.cells.len());
    let mut kinds: BTreeMap<(u8, u8), usize> = BTreeMap::new();
    for f in &side.frames {
        *kinds.entry((f.pd, f.ty)).or_default() += 1;
    }
    let expected = [
        (6, 0x1b),
        (6, 0x1c),
        (6, 0x21),
        (6, 0x22),
        (6, 0x3f),
        (6, 0x27),
        (6, 0x35),
        (6, 0x32),
        (6, 0x0d),
        (5, 0x08),
        (5, 0x02),
        (5, 0x1a),
        (5, 0x1b),
        (5, 0x18),
        (5, 0x19),
        (5, 0x12),
        (5, 0x14),
        (5, 0x24),
        (5, 0x01),
        (3, 0x05),
        (3, 0x02),
        (3, 0x01),
        (3, 0x08),
        (3, 0x07),
        (3, 0x0f),
        (3, 0x25),
        (3, 0x2d),
        (3, 0x2a),
    ];
    for k in expected {
        assert!(kinds.contains_key(&k), "no message {k:02x?}: {kinds:02x?}");
    }
    // Every cell broadcasts its System Information every few seconds.
    for (i, c) in t.cells.iter().enumerate() {
        assert_eq!(c.mcc, "460");
        assert!(["00", "01"].contains(&c.mnc.as_str()));
        let si3: Vec<u64> = side
            .frames
            .iter()
            .filter(|f| matches!(&f.msg, L3::Si3 { ci, .. } if *ci == c.cell_id))
            .map(|f| f.ts)
            .collect();
        assert!(si3.len() as f64 > t.duration_s / 5.0, "cell {i}: {} SI3", si3.len());
        assert!(si3.windows(2).all(|w| w[1] - w[0] <= 5 * SEC), "cell {i}: SI3 gaps");
    }
    // Phones send N(SD) in MM/CC message types; readers must mask it.
    assert!(side.frames.iter().any(|f| f.uplink && f.pd == 5 && f.nsd > 0));
    assert!(side.frames.iter().any(|f| f.uplink && f.pd == 3 && f.nsd > 1));
    assert!(side.dummy_pages > 100);
    for f in &side.frames {
        if let L3::LuRequest { lai, .. } = &f.msg {
            assert!(["00", "01"].contains(&lai.mnc.as_str()));
        }
    }
}

#[test]
fn every_link_has_its_cc_setup_from_its_sim() {
    let case = mixed_preset();
    let side = cells_of_mixed();
    let t = &case.truth;
    // First INVITE of each call, by Call-ID.
    let mut invites: HashMap<&str, &Sip> = HashMap::new();
    for m in case.sip.iter().filter(|m| m.is_request("INVITE")) {
        invites.entry(m.header("Call-ID").unwrap()).or_insert(m);
    }
    let setups: HashMap<u64, Vec<&MoSetup>> = side.setups.iter().fold(HashMap::new(), |mut acc, s| {
        acc.entry(s.ts).or_default().push(s);
        acc
    });
    let by_imsi = gateway_of_imsi(t);
    assert!(t.links.len() > 500, "{} links", t.links.len());
    for l in &t.links {
        let gw = t.host(&l.gateway).unwrap();
        assert!(gw.role.is_simbox());
        assert!(gw.imsis.contains(&l.imsi) && gw.imeis.contains(&l.imei), "{l:?}");
        let inv = invites[l.sip_call_id.as_str()];
        assert_eq!((inv.ts, inv.dst.ip().to_string()), (l.sip_invite_at, l.gateway.clone()), "{l:?}");
        let ruri = Sip::uri_user(inv.first_line().split_whitespace().nth(1).unwrap());
        let national = ruri.trim_start_matches('+').strip_prefix("86").filter(|n| n.len() == 11).unwrap_or(ruri);
        assert_eq!(national, l.called_number);
        let delay = l.gsm_setup_at - l.sip_invite_at;
        assert!((SEC..=5 * SEC).contains(&delay), "setup {} ms after the INVITE: {l:?}", delay / 1000);
        let s = setups.get(&l.gsm_setup_at).and_then(|v| v.iter().find(|s| s.called == l.called_number));
        let s = s.unwrap_or_else(|| panic!("no CC Setup for {l:?}"));
        assert_eq!(s.imsi.as_deref(), Some(l.imsi.as_str()), "the Setup's SIM");
        assert_eq!(s.ton, 0x81);
        assert_eq!(Some(&s.cell), t.cells.iter().position(|c| Some(c) == gw.cell.as_ref()).as_ref());
    }
    // Conversely every gateway SIM's Setup is a link, and nearly every gateway call
    // away from the end has one.
    let gw_setups = side.setups.iter().filter(|s| s.imsi.as_deref().is_some_and(|i| by_imsi.contains_key(i))).count();
    assert_eq!(gw_setups, t.links.len());
    let linked: HashSet<&str> = t.links.iter().map(|l| l.sip_call_id.as_str()).collect();
    let simboxes: HashSet<String> = t.simboxes().map(|h| h.address.clone()).collect();
    let cutoff = capture_end(t) - 20 * SEC;
    let mut calls = 0;
    let mut with_leg = 0;
    for (id, inv) in &invites {
        let to_gateway = simboxes.contains(&inv.dst.ip().to_string());
        if !to_gateway {
            // A softphone, PBX or dialler call has no GSM leg.
            assert!(!linked.contains(id), "{id}: a link for a non-gateway call");
        } else if inv.ts < cutoff {
            calls += 1;
            with_leg += usize::from(linked.contains(id));
        }
    }
    assert!(calls > 500 && with_leg as f64 >= 0.98 * calls as f64, "{with_leg} of {calls} gateway calls linked");
}

#[test]
fn gateway_sims_attach_together_in_one_cell_and_never_move() {
    let case = mixed_preset();
    let side = cells_of_mixed();
    let t = &case.truth;
    let by_imsi = gateway_of_imsi(t);
    let cell_index = |c: &duanka_hil::TruthCell| t.cells.iter().position(|x| x == c).unwrap();
    let mut first_setup: HashMap<&str, u64> = HashMap::new();
    for l in &t.links {
        let e = first_setup.entry(l.gateway.as_str()).or_insert(l.gsm_setup_at);
        *e = (*e).min(l.gsm_setup_at);
    }
    for h in t.simboxes() {
        let cell = cell_index(h.cell.as_ref().expect("a gateway's cell"));
        assert_eq!(h.imeis.len() as u32, h.lines, "{}: one module per line", h.address);
        assert!(h.imsis.len() as u32 >= h.lines, "{}", h.address);
        // The power-on cohort: its first `lines` attaches, within a few seconds.
        let mut att: Vec<u64> = side
            .attaches
            .iter()
            .filter(|(_, i, _)| by_imsi.get(i.as_str()) == Some(&h.address.as_str()))
            .map(|a| a.0)
            .collect();
        att.sort_unstable();
        assert!(att.len() as u32 >= h.lines, "{}: {} attaches for {} lines", h.address, att.len(), h.lines);
        let cohort = &att[..h.lines as usize];
        let span = cohort[cohort.len() - 1] - cohort[0];
        assert!(span <= 3 * SEC, "{}: power-on attaches spread over {} ms", h.address, span / 1000);
        assert!(cohort[0] < t.start_unix * SEC + 40 * SEC, "{}: powered on late", h.address);
        if let Some(&s) = first_setup.get(h.address.as_str()) {
            assert!(cohort[0] < s, "{}: a call before the SIMs attached", h.address);
        }
        // Every move its SIMs make is in its cell, at one timing advance.
        let acts: Vec<&Act> = side
            .acts
            .iter()
            .filter(|a| a.imsi.as_deref().and_then(|i| by_imsi.get(i)) == Some(&h.address.as_str()))
            .collect();
        assert!(acts.len() > 2 * h.lines as usize);
        assert!(acts.iter().all(|a| a.cell == cell), "{}: a SIM outside its cell", h.address);
        let tas: BTreeSet<u8> = acts.iter().map(|a| a.ta).collect();
        assert_eq!(tas.len(), 1, "{}: timing advances {tas:?}", h.address);
        assert!(acts.iter().any(|a| a.what == "setup"));
    }
}

#[test]
fn phones_move_between_cells() {
    let (case, side) = long_cells();
    let t = &case.truth;
    let by_imsi = gateway_of_imsi(t);
    // Ordinary phones move: some are seen in two cells (by IMSI, or by a TMSI from
    // before the capture), some re-register in a new location area. Every identity
    // not a gateway's is a phone's: gateway SIMs attach in the capture by IMSI.
    let mut cells: HashMap<&Id, BTreeSet<usize>> = HashMap::new();
    for a in side.acts.iter().filter(|a| a.imsi.as_deref().is_none_or(|i| !by_imsi.contains_key(i))) {
        if let Some(i) = &a.imsi {
            assert!(t.handsets.iter().any(|h| &h.imsi == i), "{i}: neither a gateway's nor a phone's");
        }
        cells.entry(&a.who).or_default().insert(a.cell);
    }
    assert!(cells.values().filter(|c| c.len() >= 2).count() >= 3, "phones that moved: {cells:?}");
    let normal_lus = side.frames.iter().filter(|f| matches!(f.msg, L3::LuRequest { lu_type: 0, .. })).count();
    assert!(normal_lus >= 3);
}

#[test]
fn powered_off_gateways_detach_together() {
    let case = mixed_preset();
    let side = cells_of_mixed();
    let t = &case.truth;
    let by_imsi = gateway_of_imsi(t);
    let end = capture_end(t);
    // Detaches near the end that no attach of the same gateway follows (a SIM swap's
    // detach is followed by the new SIM's attach within a second or two).
    let mut off: HashMap<&str, Vec<u64>> = HashMap::new();
    for (ts, imsi) in side.detaches.iter().filter(|(ts, _)| (end - 16 * SEC..end - 4 * SEC).contains(ts)) {
        let Some(gw) = by_imsi.get(imsi.as_str()) else { continue };
        let swapped = side
            .attaches
            .iter()
            .any(|(at, i, _)| (*ts..ts + 3 * SEC).contains(at) && by_imsi.get(i.as_str()) == Some(gw));
        if !swapped {
            off.entry(gw).or_default().push(*ts);
        }
    }
    assert!(!off.is_empty(), "no gateway powered off at the end");
    for (gw, times) in &off {
        let h = t.host(gw).unwrap();
        assert_eq!(times.len() as u32, h.lines, "{gw}: every SIM detaches");
        let span = times.iter().max().unwrap() - times.iter().min().unwrap();
        assert!(span <= 2 * SEC, "{gw}: detaches over {} ms", span / 1000);
        let first = *times.iter().min().unwrap();
        assert!(t.links.iter().all(|l| &l.gateway != gw || l.gsm_setup_at < first), "{gw}: a call after power-off");
    }
}

#[test]
fn sim_rotation_attaches_a_new_imsi_from_the_same_module() {
    let case = mixed_preset();
    let side = cells_of_mixed();
    let t = &case.truth;
    let by_imsi = gateway_of_imsi(t);
    let mut imsis_of_imei: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut imeis_of_imsi: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (imsi, imei) in &side.imeis {
        imsis_of_imei.entry(imei).or_default().insert(imsi);
        imeis_of_imsi.entry(imsi).or_default().insert(imei);
    }
    for (imsi, imeis) in &imeis_of_imsi {
        assert_eq!(imeis.len(), 1, "{imsi} in several modules: {imeis:?}");
    }
    let mut rotated = 0;
    for (imei, imsis) in &imsis_of_imei {
        let gws: BTreeSet<&str> = imsis.iter().filter_map(|i| by_imsi.get(i).copied()).collect();
        if gws.is_empty() {
            // An ordinary phone: one SIM, a handset TAC.
            assert_eq!(imsis.len(), 1);
            assert!(t.handsets.iter().any(|h| &h.imei == imei && imsis.contains(h.imsi.as_str())));
            continue;
        }
        assert_eq!(gws.len(), 1, "{imei} in two gateways");
        let h = t.host(gws.first().unwrap()).unwrap();
        assert!(h.imeis.iter().any(|e| e == imei), "{imei} not a module of {}", h.address);
        if h.uses_simbank {
            rotated += usize::from(imsis.len() >= 2);
        } else {
            assert_eq!(imsis.len(), 1, "{imei}: SIM changed without a SIM bank");
        }
    }
    assert!(rotated >= 3, "only {rotated} modules showed a second IMSI");
    // A swap: the old SIM detaches and the new one attaches right after, in the same
    // module: the new SIM's IMEI check shows the IMEI the old SIM's calls were made from.
    let imei_of: HashMap<&str, &str> = t.links.iter().map(|l| (l.imsi.as_str(), l.imei.as_str())).collect();
    let mut swaps = 0;
    for (at, new, _) in &side.attaches {
        let Some(gw) = by_imsi.get(new.as_str()) else { continue };
        let old =
            side.detaches.iter().rev().find(|(d, i)| d < at && at - d < 2 * SEC && by_imsi.get(i.as_str()) == Some(gw));
        let Some((_, old)) = old else { continue };
        assert!(t.host(gw).unwrap().uses_simbank, "{gw}: a SIM swap without a SIM bank");
        let shown = imeis_of_imsi.get(new.as_str()).expect("a swapped-in SIM's IMEI is checked");
        if let Some(before) = imei_of.get(old.as_str()) {
            assert!(shown.contains(before), "{old} → {new}: {before} became {shown:?}");
            swaps += 1;
        }
    }
    assert!(swaps >= 5, "{swaps} SIM swaps seen");
    for h in t.gateways.iter().filter(|h| h.uses_simbank) {
        assert!(h.imsis.len() as u32 > h.lines);
    }
    // The truth's IMSIs are those the capture shows: keep-alives and attaches.
    let mut seen: HashMap<String, BTreeSet<String>> = HashMap::new();
    for d in case.decoded.udp.iter().filter(|d| d.dst.port() == SMS_SERVER_PORT && d.payload.starts_with(b"req:")) {
        let text = std::str::from_utf8(&d.payload).unwrap();
        let imsi = text.split(';').find_map(|f| f.strip_prefix("imsi:")).unwrap();
        seen.entry(d.src.ip().to_string()).or_default().insert(imsi.to_owned());
        // The keep-alive's cell is the gateway's.
        let cell = t.host(&d.src.ip().to_string()).unwrap().cell.clone().unwrap();
        let info = format!("CELLINFO:LAC:{:04X},CELL ID:{:04X};", cell.lac, cell.cell_id);
        assert!(text.contains(&info), "{text} vs {info}");
    }
    let attached: HashSet<&str> = side.attaches.iter().map(|a| a.1.as_str()).collect();
    for h in t.simboxes() {
        let mut expect = seen.remove(&h.address).unwrap_or_default();
        expect.extend(h.imsis.iter().filter(|i| attached.contains(i.as_str())).cloned());
        let truth: BTreeSet<String> = h.imsis.iter().cloned().collect();
        assert_eq!(truth, expect, "{}", h.address);
    }
}

#[test]
fn phones_are_paged_and_gateways_never() {
    let (case, side) = long_cells();
    let t = &case.truth;
    let by_imsi = gateway_of_imsi(t);
    let gw_tmsis: HashSet<u32> =
        side.tmsi_imsi.iter().filter(|(_, i)| by_imsi.contains_key(i.as_str())).map(|(x, _)| *x).collect();
    let handsets: HashSet<&str> = t.handsets.iter().map(|h| h.imsi.as_str()).collect();
    assert!(t.handsets.len() >= 50);
    let paged: HashSet<&Id> = side.paged.iter().collect();
    for p in &side.paged {
        match p {
            Id::Imsi(i) => assert!(!by_imsi.contains_key(i.as_str()), "gateway SIM {i} paged"),
            Id::Tmsi(x) => assert!(!gw_tmsis.contains(x), "gateway TMSI {x:#x} paged"),
            other => panic!("paged {other:?}"),
        }
    }
    // Paging responses answer pages, and never come from a gateway SIM.
    assert!(side.answered.len() >= 5);
    for id in &side.answered {
        assert!(paged.contains(id), "{id:?} answered no page");
        match id {
            Id::Imsi(i) => assert!(handsets.contains(i.as_str())),
            Id::Tmsi(x) => assert!(!gw_tmsis.contains(x)),
            other => panic!("{other:?}"),
        }
    }
    for h in &t.handsets {
        assert!(!by_imsi.contains_key(h.imsi.as_str()));
        assert!(h.imei.len() == 15 && luhn(&h.imei));
    }
    let modules: HashSet<&str> = t.simboxes().flat_map(|h| h.imeis.iter().map(|e| &e[..8])).collect();
    assert!(t.handsets.iter().all(|h| !modules.contains(&h.imei[..8])), "a handset with a module TAC");
    // Phones call their favourites: repeated numbers.
    let mut called: HashMap<&Id, Vec<&str>> = HashMap::new();
    for s in side.setups.iter().filter(|s| s.imsi.as_deref().is_none_or(|i| !by_imsi.contains_key(i))) {
        called.entry(&s.who).or_default().push(&s.called);
    }
    let repeats = called.values().filter(|c| c.iter().collect::<HashSet<_>>().len() < c.len()).count();
    assert!(repeats >= 2, "{called:?}");
}

/// Frames of a capture as (timestamp, bytes).
fn raw_frames(pcap: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut r = PcapReader::new(pcap).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        out.push((p.timestamp.as_micros() as u64, p.data.into_owned()));
    }
    out
}

#[test]
fn the_flag_only_adds_gsmtap() {
    let cfg = SimConfig { duration: Duration::from_secs(60), rtp: false, ..SimConfig::mixed() };
    assert!(cfg.gsmtap);
    let (on, ton) = generate(&cfg).unwrap();
    let (off, toff) = generate(&SimConfig { gsmtap: false, ..cfg }).unwrap();
    assert_eq!((toff.gsmtap_packets, toff.links.len(), toff.cells.len()), (0, 0, 0));
    assert!(toff.gateways.iter().all(|h| h.cell.is_none()));
    let sensor = [192, 0, 2, 250];
    let on: Vec<(u64, Vec<u8>)> = raw_frames(&on).into_iter().filter(|(_, f)| f[26..30] != sensor).collect();
    let off = raw_frames(&off);
    assert_eq!(on.len() as u64, ton.packets - ton.gsmtap_packets);
    assert_eq!(on.len(), off.len());
    let mut cellinfo = 0;
    for (a, b) in on.iter().zip(&off) {
        if a == b {
            continue;
        }
        // Only the keep-alives' CELLINFO (same length) and so the UDP checksum differ.
        assert_eq!((a.0, a.1.len()), (b.0, b.1.len()));
        let at = a.1.windows(13).position(|w| w == b"CELLINFO:LAC:").expect("a difference outside CELLINFO");
        let l3 = if a.1[12..14] == [0x81, 0x00] { 18 } else { 14 };
        let mask = |f: &[u8]| {
            let mut f = f.to_vec();
            f[l3 + 26..l3 + 28].fill(0);
            for x in &mut f[at..at + 32] {
                if x.is_ascii_hexdigit() {
                    *x = b'0';
                }
            }
            f
        };
        assert_eq!(mask(&a.1), mask(&b.1));
        cellinfo += 1;
    }
    assert!(cellinfo > 50);
}

#[test]
fn basic_preset_with_gsmtap_gives_every_gateway_sims() {
    let cfg = SimConfig { duration: Duration::from_secs(90), rtp: false, gsmtap: true, ..SimConfig::default() };
    let (pcap, truth) = generate(&cfg).unwrap();
    let decoded = decode(&pcap);
    let (sip, tcp) = sip_messages(&decoded);
    let case = Case { pcap, truth, decoded, sip, tcp };
    let side = cell_side(&case);
    let t = &case.truth;
    assert_eq!(side.frames.len() as u64, t.gsmtap_packets);
    for h in t.simboxes() {
        // No control plane here: the SIMs come from the cell side alone.
        assert!(h.iccids.is_empty());
        assert_eq!((h.imsis.len() as u32, h.imeis.len() as u32), (h.lines, h.lines), "{}", h.address);
        assert!(t.links.iter().any(|l| l.gateway == h.address));
        if h.role == Role::GoipStripped {
            assert!(h.cell.is_some());
        }
    }
    let by_imsi = gateway_of_imsi(t);
    let attached: HashSet<&str> = side.attaches.iter().map(|a| a.1.as_str()).collect();
    assert!(by_imsi.keys().all(|i| attached.contains(i)));
    let json = serde_json::to_value(t).unwrap();
    for key in ["gsmtap_packets", "cells", "links", "handsets"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let link = &json["links"][0];
    for key in ["gateway", "imsi", "imei", "sip_call_id", "called_number", "sip_invite_at", "gsm_setup_at"] {
        assert!(link.get(key).is_some(), "links[0].{key}");
    }
}
