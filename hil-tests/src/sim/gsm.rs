//! GSMTAP v2 framing and GSM layer-3 encodings for the simulator's cell side
//! (SPEC §3.4; 3GPP TS 44.018 for RR, TS 24.008 for MM and CC, TS 24.007 for the
//! header octets).
//!
//! GSMTAP header (16 bytes): version 2, header length 4 (32-bit words), type, timeslot,
//! ARFCN (u16 BE, 0x4000 = uplink), signal dBm (i8), SNR dB (i8), frame number (u32
//! BE), sub-type, antenna, sub-slot, reserved. Two payload shapes are written:
//! - type UM ([`TYPE_UM`]) on BCCH, CCCH and PCH: a 23-byte block, byte 0 the L2
//!   pseudo-length `(len << 2) | 1` (the L3 octets before any rest octets), then the L3
//!   message, padded with `0x2b`;
//! - type ABIS ([`TYPE_ABIS`]): the raw L3 message of a dedicated channel, no L2 header.
//!
//! Layer 3: the first octet is the protocol discriminator (low nibble: CC 3, MM 5, RR 6)
//! with the skip indicator (MM, RR: 0) or the transaction identifier (CC: flag in bit
//! 8, value in bits 5–7) above it; the second the message type. Messages a phone sends
//! in MM and CC carry the send sequence number N(SD) in bits 7–8 of the message type
//! (TS 24.007 §11.2.3.2.3, modulo 4), so readers mask it with `0x3f`.
//!
//! Identities: Mobile Identity (TS 24.008 §10.5.1.4) — octet 1 = first digit << 4 |
//! odd << 3 | type (IMSI 1, IMEI 2, TMSI 4), then BCD digits low nibble first, `0xF`
//! filler; a TMSI is `0xF4` and 4 bytes. LAI (§10.5.1.3): MCC/MNC in BCD (MNC digit 3 =
//! `0xF` for a two-digit MNC), LAC u16 BE. An IMEI is sent whole, 15 digits with its
//! Luhn check digit (older MSs send 0 in its place; the simulated ones do not).

/// The UDP port GSMTAP is sent to.
pub const GSMTAP_PORT: u16 = 4729;
/// GSMTAP type: GSM Um interface (radio blocks with their L2).
pub(crate) const TYPE_UM: u8 = 0x01;
/// GSMTAP type: Abis (raw GSM L3 of a dedicated channel).
pub(crate) const TYPE_ABIS: u8 = 0x02;
/// GSMTAP sub-types of the UM type.
pub(crate) const SUB_BCCH: u8 = 1;
pub(crate) const SUB_CCCH: u8 = 2;
pub(crate) const SUB_PCH: u8 = 5;
/// ARFCN flag: sent by the phone.
const ARFCN_UPLINK: u16 = 0x4000;
/// Bytes of a BCCH/CCCH block.
pub(crate) const BLOCK_LEN: usize = 23;
/// Padding of unused block octets.
pub(crate) const PAD: u8 = 0x2b;
/// Frames in a GSM hyperframe (frame numbers wrap here).
pub(crate) const HYPERFRAME: u32 = 2_715_648;

const PD_CC: u8 = 0x03;
const PD_MM: u8 = 0x05;
const PD_RR: u8 = 0x06;

/// The header fields of one GSMTAP datagram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tap {
    pub kind: u8,
    pub timeslot: u8,
    pub arfcn: u16,
    pub uplink: bool,
    pub signal_dbm: i8,
    pub snr_db: i8,
    pub frame: u32,
    pub sub_type: u8,
    pub sub_slot: u8,
}

/// A GSMTAP datagram: the header, then `payload`.
pub(crate) fn gsmtap(tap: &Tap, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + payload.len());
    v.extend_from_slice(&[2, 4, tap.kind, tap.timeslot]);
    let arfcn = (tap.arfcn & 0x3fff) | if tap.uplink { ARFCN_UPLINK } else { 0 };
    v.extend_from_slice(&arfcn.to_be_bytes());
    v.push(tap.signal_dbm as u8);
    v.push(tap.snr_db as u8);
    v.extend_from_slice(&(tap.frame % HYPERFRAME).to_be_bytes());
    v.extend_from_slice(&[tap.sub_type, 0, tap.sub_slot, 0]);
    v.extend_from_slice(payload);
    v
}

/// A BCCH/CCCH block: pseudo-length over `l3`, `l3`, `rest` (rest octets), padding.
fn block(l3: &[u8], rest: &[u8]) -> Vec<u8> {
    debug_assert!(1 + l3.len() + rest.len() <= BLOCK_LEN);
    let mut v = Vec::with_capacity(BLOCK_LEN);
    v.push(((l3.len() as u8) << 2) | 1);
    v.extend_from_slice(l3);
    v.extend_from_slice(rest);
    v.resize(BLOCK_LEN, PAD);
    v
}

/// Packs ASCII digits as BCD, low nibble first, `0xF` filling an odd count.
fn push_bcd(out: &mut Vec<u8>, digits: &[u8]) {
    for pair in digits.chunks(2) {
        let lo = pair[0] - b'0';
        let hi = pair.get(1).map_or(0xf, |d| d - b'0');
        out.push((hi << 4) | lo);
    }
}

/// A mobile identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mi<'a> {
    Imsi(&'a str),
    Imei(&'a str),
    Tmsi(u32),
    /// "No identity" (dummy paging).
    None,
}

/// A Mobile Identity as LV (length, value).
fn push_mi(out: &mut Vec<u8>, mi: Mi<'_>) {
    match mi {
        Mi::Tmsi(t) => {
            out.extend_from_slice(&[5, 0xf4]);
            out.extend_from_slice(&t.to_be_bytes());
        }
        Mi::None => out.extend_from_slice(&[1, 0xf0]),
        Mi::Imsi(d) | Mi::Imei(d) => {
            let kind = if matches!(mi, Mi::Imsi(_)) { 1 } else { 2 };
            let d = d.as_bytes();
            let odd = d.len() % 2;
            out.push((d.len() / 2 + 1) as u8);
            out.push(((d[0] - b'0') << 4) | (odd as u8) << 3 | kind);
            push_bcd(out, &d[1..]);
        }
    }
}

/// A location area: PLMN (MCC 3 digits, MNC 2 or 3) and LAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lai {
    pub mcc: &'static str,
    pub mnc: &'static str,
    pub lac: u16,
}

impl Lai {
    fn push(&self, out: &mut Vec<u8>) {
        let c = self.mcc.as_bytes();
        let n = self.mnc.as_bytes();
        let d = |b: u8| b - b'0';
        let mnc3 = n.get(2).map_or(0xf, |&b| d(b));
        out.push((d(c[1]) << 4) | d(c[0]));
        out.push((mnc3 << 4) | d(c[2]));
        out.push((d(n[1]) << 4) | d(n[0]));
        out.extend_from_slice(&self.lac.to_be_bytes());
    }
}

/// A dedicated channel: SDCCH/8 sub-channel `sub` on timeslot `ts` of carrier `arfcn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chan {
    pub arfcn: u16,
    pub ts: u8,
    pub sub: u8,
}

// ---- RR on BCCH / CCCH (23-byte blocks) ----

/// System Information Type 3: cell identity, LAI, control channel description (ATT
/// set: IMSI attach/detach in use; T3212 in deci-hours), cell options, selection and
/// RACH parameters; rest octets all absent.
pub(crate) fn si3(cell_id: u16, lai: &Lai, t3212: u8) -> Vec<u8> {
    let mut l3 = vec![PD_RR, 0x1b];
    l3.extend_from_slice(&cell_id.to_be_bytes());
    lai.push(&mut l3);
    // MSCR 1, ATT 1, BS_AG_BLKS_RES 1, CCCH_CONF 0; BS_PA_MFRMS 3 (5 multiframes); T3212.
    l3.extend_from_slice(&[0xc8, 0x03, t3212]);
    // Cell options: PWRC 0, DTX 10 (shall not use), radio link timeout 7 (32 SACCH blocks).
    l3.push(0x27);
    // Cell selection: reselect hysteresis 2 (4 dB), MS_TXPWR_MAX_CCH 7; ACS 0, NECI 1, RXLEV_ACCESS_MIN 0.
    l3.extend_from_slice(&[0x47, 0x40]);
    // RACH control: max retrans 4, Tx-integer 9, CELL_BAR_ACCESS 0, RE 1; all access classes allowed.
    l3.extend_from_slice(&[0xe5, 0x00, 0x00]);
    block(&l3, &[])
}

/// System Information Type 4: LAI, selection and RACH parameters.
pub(crate) fn si4(lai: &Lai) -> Vec<u8> {
    let mut l3 = vec![PD_RR, 0x1c];
    lai.push(&mut l3);
    l3.extend_from_slice(&[0x47, 0x40, 0xe5, 0x00, 0x00]);
    block(&l3, &[])
}

/// Paging Request Type 1 for one or two identities.
pub(crate) fn paging1(first: Mi<'_>, second: Option<Mi<'_>>) -> Vec<u8> {
    // Page mode normal paging, channel needed "any channel" for both.
    let mut l3 = vec![PD_RR, 0x21, 0x00];
    push_mi(&mut l3, first);
    if let Some(mi) = second {
        l3.push(0x17);
        push_mi(&mut l3, mi);
    }
    block(&l3, &[])
}

/// Paging Request Type 2 for two TMSIs.
pub(crate) fn paging2(a: u32, b: u32) -> Vec<u8> {
    let mut l3 = vec![PD_RR, 0x22, 0x00];
    l3.extend_from_slice(&a.to_be_bytes());
    l3.extend_from_slice(&b.to_be_bytes());
    block(&l3, &[])
}

/// The dummy paging a cell sends when it has nobody to page: `15 06 21 00 01 f0 2b…`.
pub(crate) fn dummy_paging() -> Vec<u8> {
    paging1(Mi::None, None)
}

/// Immediate Assignment of SDCCH/8 `chan` to the phone that sent random-access byte
/// `ra` in frame `fn_`, with timing advance `ta`; training sequence `tsc`.
pub(crate) fn immediate_assignment(chan: Chan, tsc: u8, ra: u8, fn_: u32, ta: u8) -> Vec<u8> {
    // Dedicated mode, normal paging.
    let mut l3 = vec![PD_RR, 0x3f, 0x00];
    // Channel description: type SDCCH/8 + SACCH/C8 (01 + 3-bit sub-channel), TN; TSC,
    // H = 0 (single RF channel), ARFCN.
    l3.push(((0x08 | (chan.sub & 7)) << 3) | (chan.ts & 7));
    l3.push(((tsc & 7) << 5) | ((chan.arfcn >> 8) & 3) as u8);
    l3.push(chan.arfcn as u8);
    // Request reference: RA, then T1' (5 bits), T3 (6 bits), T2 (5 bits) of its frame.
    let (t1, t3, t2) = ((fn_ / 1326) % 32, fn_ % 51, fn_ % 26);
    l3.push(ra);
    l3.push(((t1 << 3) | (t3 >> 3)) as u8);
    l3.push((((t3 & 7) << 5) | t2) as u8);
    l3.push(ta & 0x3f);
    // Mobile allocation: empty.
    l3.push(0);
    block(&l3, &[])
}

// ---- RR on a dedicated channel ----

/// Paging Response: CKSN, MS classmark 2, mobile identity.
pub(crate) fn paging_response(cksn: u8, classmark2: [u8; 3], mi: Mi<'_>) -> Vec<u8> {
    let mut v = vec![PD_RR, 0x27, cksn & 7, 3];
    v.extend_from_slice(&classmark2);
    push_mi(&mut v, mi);
    v
}

/// Ciphering Mode Command: start ciphering with A5/1, no IMEISV asked.
pub(crate) fn ciphering_mode_command() -> Vec<u8> {
    vec![PD_RR, 0x35, 0x01]
}

/// Ciphering Mode Complete.
pub(crate) fn ciphering_mode_complete() -> Vec<u8> {
    vec![PD_RR, 0x32]
}

/// Channel Release, cause normal event.
pub(crate) fn channel_release() -> Vec<u8> {
    vec![PD_RR, 0x0d, 0x00]
}

// ---- MM ----

/// Location updating types.
pub(crate) const LU_NORMAL: u8 = 0;
pub(crate) const LU_PERIODIC: u8 = 1;
pub(crate) const LU_IMSI_ATTACH: u8 = 2;

/// MM message type from the phone, with its send sequence number.
fn mm_up(ty: u8, nsd: u8) -> [u8; 2] {
    [PD_MM, ty | (nsd & 3) << 6]
}

/// Location Updating Request: type, CKSN, the LAI the SIM last registered in, MS
/// classmark 1, identity.
pub(crate) fn lu_request(nsd: u8, lu_type: u8, cksn: u8, old: &Lai, classmark1: u8, mi: Mi<'_>) -> Vec<u8> {
    let mut v = mm_up(0x08, nsd).to_vec();
    v.push(((cksn & 7) << 4) | (lu_type & 3));
    old.push(&mut v);
    v.push(classmark1);
    push_mi(&mut v, mi);
    v
}

/// Location Updating Accept.
pub(crate) fn lu_accept(lai: &Lai) -> Vec<u8> {
    let mut v = vec![PD_MM, 0x02];
    lai.push(&mut v);
    v
}

/// TMSI Reallocation Command: the LAI and the new TMSI.
pub(crate) fn tmsi_reallocation_command(lai: &Lai, tmsi: u32) -> Vec<u8> {
    let mut v = vec![PD_MM, 0x1a];
    lai.push(&mut v);
    push_mi(&mut v, Mi::Tmsi(tmsi));
    v
}

/// TMSI Reallocation Complete.
pub(crate) fn tmsi_reallocation_complete(nsd: u8) -> Vec<u8> {
    mm_up(0x1b, nsd).to_vec()
}

/// Identity Request for an IMSI (1) or IMEI (2).
pub(crate) fn identity_request(kind: u8) -> Vec<u8> {
    vec![PD_MM, 0x18, kind & 7]
}

/// Identity Response.
pub(crate) fn identity_response(nsd: u8, mi: Mi<'_>) -> Vec<u8> {
    let mut v = mm_up(0x19, nsd).to_vec();
    push_mi(&mut v, mi);
    v
}

/// Authentication Request: CKSN and the 16-byte RAND.
pub(crate) fn authentication_request(cksn: u8, rand: &[u8; 16]) -> Vec<u8> {
    let mut v = vec![PD_MM, 0x12, cksn & 7];
    v.extend_from_slice(rand);
    v
}

/// Authentication Response: SRES.
pub(crate) fn authentication_response(nsd: u8, sres: [u8; 4]) -> Vec<u8> {
    let mut v = mm_up(0x14, nsd).to_vec();
    v.extend_from_slice(&sres);
    v
}

/// CM Service Request for a mobile-originating call: CKSN, MS classmark 2, identity.
pub(crate) fn cm_service_request(nsd: u8, cksn: u8, classmark2: [u8; 3], mi: Mi<'_>) -> Vec<u8> {
    let mut v = mm_up(0x24, nsd).to_vec();
    v.push(((cksn & 7) << 4) | 0x01);
    v.push(3);
    v.extend_from_slice(&classmark2);
    push_mi(&mut v, mi);
    v
}

/// IMSI Detach Indication: MS classmark 1, identity.
pub(crate) fn imsi_detach(nsd: u8, classmark1: u8, mi: Mi<'_>) -> Vec<u8> {
    let mut v = mm_up(0x01, nsd).to_vec();
    v.push(classmark1);
    push_mi(&mut v, mi);
    v
}

// ---- CC ----

/// A call's transaction identifier: its value (0–6) and whether the phone allocated it
/// (mobile-originating call).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ti {
    pub value: u8,
    pub mobile_originated: bool,
}

impl Ti {
    /// The first octet of a CC message in this direction: the TI flag is 0 from the side
    /// that allocated the TI, 1 towards it.
    fn octet(self, uplink: bool) -> u8 {
        let flag = u8::from(uplink != self.mobile_originated);
        (flag << 7) | ((self.value & 7) << 4) | PD_CC
    }

    /// The two header octets of a CC message; N(SD) only on the uplink.
    fn head(self, ty: u8, uplink: bool, nsd: u8) -> Vec<u8> {
        let ty = if uplink { ty | (nsd & 3) << 6 } else { ty };
        vec![self.octet(uplink), ty]
    }
}

/// Type of number / numbering plan octets: unknown (national dialling) or international,
/// ISDN/telephony plan.
pub(crate) const TON_NATIONAL: u8 = 0x81;
pub(crate) const TON_INTERNATIONAL: u8 = 0x91;

/// A BCD number IE (TLV): called (0x5e) or calling (0x5c) party.
fn push_number(out: &mut Vec<u8>, iei: u8, ton: u8, digits: &str) {
    out.push(iei);
    out.push((1 + digits.len().div_ceil(2)) as u8);
    out.push(ton);
    push_bcd(out, digits.as_bytes());
}

/// Bearer capability for speech, full rate only.
const SPEECH_BC: [u8; 3] = [0x04, 0x01, 0xa0];

/// CC Setup from the phone: bearer capability, called party BCD number, CC capabilities.
pub(crate) fn setup_mo(ti: Ti, nsd: u8, ton: u8, called: &str) -> Vec<u8> {
    let mut v = ti.head(0x05, true, nsd);
    v.extend_from_slice(&SPEECH_BC);
    push_number(&mut v, 0x5e, ton, called);
    // CC capabilities: DTMF.
    v.extend_from_slice(&[0x15, 0x02, 0x01, 0x00]);
    v
}

/// CC Setup to the phone (mobile-terminating call): bearer capability, calling party
/// BCD number.
pub(crate) fn setup_mt(ti: Ti, ton: u8, calling: &str) -> Vec<u8> {
    let mut v = ti.head(0x05, false, 0);
    v.extend_from_slice(&SPEECH_BC);
    push_number(&mut v, 0x5c, ton, calling);
    v
}

/// A CC message without information elements: Call Proceeding 0x02, Alerting 0x01,
/// Call Confirmed 0x08, Connect 0x07, Connect Acknowledge 0x0f, Release Complete 0x2a.
pub(crate) fn cc(ti: Ti, ty: u8, uplink: bool, nsd: u8) -> Vec<u8> {
    ti.head(ty, uplink, nsd)
}

/// Cause values.
pub(crate) const CAUSE_NORMAL: u8 = 16;
pub(crate) const CAUSE_BUSY: u8 = 17;
pub(crate) const CAUSE_NO_ANSWER: u8 = 19;

/// Disconnect with a cause (coding GSM, location public network serving the local user).
pub(crate) fn disconnect(ti: Ti, uplink: bool, nsd: u8, cause: u8) -> Vec<u8> {
    let mut v = ti.head(0x25, uplink, nsd);
    v.extend_from_slice(&[0x02, 0xe2, 0x80 | cause]);
    v
}

/// Release with a cause.
pub(crate) fn release(ti: Ti, uplink: bool, nsd: u8, cause: u8) -> Vec<u8> {
    let mut v = ti.head(0x2d, uplink, nsd);
    v.extend_from_slice(&[0x08, 0x02, 0xe2, 0x80 | cause]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAI: Lai = Lai { mcc: "460", mnc: "00", lac: 0x25a1 };

    #[test]
    fn dummy_paging_is_the_well_known_block() {
        let b = dummy_paging();
        assert_eq!(b.len(), BLOCK_LEN);
        assert_eq!(&b[..6], &[0x15, 0x06, 0x21, 0x00, 0x01, 0xf0]);
        assert!(b[6..].iter().all(|&x| x == PAD));
    }

    #[test]
    fn lai_and_si3_layout() {
        let mut v = Vec::new();
        LAI.push(&mut v);
        assert_eq!(v, [0x64, 0xf0, 0x00, 0x25, 0xa1]);
        let mut v = Vec::new();
        Lai { mcc: "460", mnc: "01", lac: 1 }.push(&mut v);
        assert_eq!(v, [0x64, 0xf0, 0x10, 0x00, 0x01]);
        let si = si3(0x0c3d, &LAI, 20);
        assert_eq!(si.len(), BLOCK_LEN);
        // 18 octets of L3 before the rest octets: pseudo-length 0x49, as on real cells.
        assert_eq!(&si[..5], &[0x49, 0x06, 0x1b, 0x0c, 0x3d]);
        assert_eq!(&si[5..10], &[0x64, 0xf0, 0x00, 0x25, 0xa1]);
        assert_eq!(si4(&LAI)[..3], [0x31, 0x06, 0x1c]);
    }

    #[test]
    fn mobile_identities() {
        let mut v = Vec::new();
        push_mi(&mut v, Mi::Imsi("460001234567890"));
        assert_eq!(v, [8, 0x49, 0x06, 0x00, 0x21, 0x43, 0x65, 0x87, 0x09]);
        let mut v = Vec::new();
        push_mi(&mut v, Mi::Imei("490154203237518"));
        assert_eq!(v, [8, 0x4a, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81]);
        let mut v = Vec::new();
        push_mi(&mut v, Mi::Tmsi(0xdead_beef));
        assert_eq!(v, [5, 0xf4, 0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn called_number_and_transaction_flags() {
        let mo = Ti { value: 2, mobile_originated: true };
        let s = setup_mo(mo, 1, TON_NATIONAL, "13812345678");
        assert_eq!(&s[..2], &[0x23, 0x45], "TI value 2 from the originator, N(SD) 1");
        assert_eq!(&s[2..5], &SPEECH_BC);
        assert_eq!(&s[5..14], &[0x5e, 7, 0x81, 0x31, 0x18, 0x32, 0x54, 0x76, 0xf8]);
        assert_eq!(cc(mo, 0x07, false, 3), [0xa3, 0x07], "network side: TI flag set, no N(SD)");
        let mt = Ti { value: 0, mobile_originated: false };
        assert_eq!(cc(mt, 0x07, true, 2), [0x83, 0x87]);
        assert_eq!(setup_mt(mt, TON_NATIONAL, "01012345678")[..2], [0x03, 0x05]);
        assert_eq!(disconnect(mo, true, 0, CAUSE_BUSY)[2..], [0x02, 0xe2, 0x91]);
    }

    #[test]
    fn location_update_and_service_request() {
        let lu = lu_request(0, LU_IMSI_ATTACH, 7, &LAI, 0x57, Mi::Imsi("460001234567890"));
        assert_eq!(&lu[..3], &[0x05, 0x08, 0x72]);
        assert_eq!(&lu[3..8], &[0x64, 0xf0, 0x00, 0x25, 0xa1]);
        assert_eq!(lu[8], 0x57);
        assert_eq!(lu[9], 8);
        let cm = cm_service_request(0, 3, [0x57, 0x58, 0xa6], Mi::Tmsi(1));
        assert_eq!(cm, [0x05, 0x24, 0x31, 0x03, 0x57, 0x58, 0xa6, 0x05, 0xf4, 0, 0, 0, 1]);
        assert_eq!(imsi_detach(1, 0x57, Mi::Tmsi(1))[..3], [0x05, 0x41, 0x57]);
    }

    #[test]
    fn immediate_assignment_describes_the_channel() {
        let chan = Chan { arfcn: 0x123, ts: 1, sub: 5 };
        let b = immediate_assignment(chan, 3, 0xe7, 1326 * 3 + 51 * 2 + 10, 4);
        assert_eq!(b[0], (11 << 2) | 1);
        assert_eq!(&b[1..4], &[0x06, 0x3f, 0x00]);
        assert_eq!(b[4], (13 << 3) | 1);
        assert_eq!(b[5], (3 << 5) | 1);
        assert_eq!(b[6], 0x23);
        assert_eq!(b[7], 0xe7);
        let tap = Tap {
            kind: TYPE_UM,
            timeslot: 0,
            arfcn: 0x123,
            uplink: true,
            signal_dbm: -70,
            snr_db: 12,
            frame: HYPERFRAME + 5,
            sub_type: SUB_CCCH,
            sub_slot: 0,
        };
        let d = gsmtap(&tap, &b);
        assert_eq!(&d[..8], &[2, 4, 1, 0, 0x41, 0x23, 0xba, 12]);
        assert_eq!(&d[8..12], &5u32.to_be_bytes());
        assert_eq!(d[12], SUB_CCCH);
        assert_eq!(d.len(), 16 + BLOCK_LEN);
    }
}
