//! Radio resource management messages (TS 44.018 §9.1).
//!
//! On CCCH/BCCH the L2 pseudo length bounds the message before its rest
//! octets; on Abis the message may run on into rest octets and fill. So the
//! optional IEs decoded here are only the ones at fixed places (the second or
//! third mobile identity of a paging request, IEI 0x17), never a general walk.

use super::ie::{IeFormat, Ies, Lai, MobileIdentity, Reader};
use super::{Error, Message, MessageType, RrType};
use crate::dissect::wire::be32;

/// IEI of an optional Mobile Identity (paging) / Mobile Equipment Identity (ciphering).
const IEI_MOBILE_IDENTITY: u8 = 0x17;

/// Identities a paging request can carry (four TMSIs in a type 3).
pub const MAX_PAGED_IDENTITIES: usize = 4;

/// A Paging Request Type 1, 2 or 3 (§9.1.22–24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagingRequest {
    /// 1, 2 or 3.
    pub request_type: u8,
    /// Page mode (0 normal, 1 extended, 2 reorganisation, 3 same as before).
    pub page_mode: u8,
    /// Channel needed for the first two identities (0 any, 1 SDCCH, 2 TCH/F, 3 TCH/H or F).
    pub channel_needed: [u8; 2],
    /// The paged identities, in order.
    pub identities: [Option<MobileIdentity>; MAX_PAGED_IDENTITIES],
}

/// The 5-bit channel type and TDMA offset of a channel description (§10.5.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// TCH/F with its ACCHs.
    TchF,
    /// TCH/H with its ACCHs, on sub-channel 0 or 1.
    TchH(u8),
    /// SDCCH/4 sub-channel 0–3.
    Sdcch4(u8),
    /// SDCCH/8 sub-channel 0–7.
    Sdcch8(u8),
    /// Another code (packet channels, reserved values).
    Other(u8),
}

impl ChannelKind {
    fn from_code(c: u8) -> ChannelKind {
        match c {
            0b00001 => ChannelKind::TchF,
            c if c & 0b11110 == 0b00010 => ChannelKind::TchH(c & 0b1),
            c if c & 0b11100 == 0b00100 => ChannelKind::Sdcch4(c & 0b11),
            c if c & 0b11000 == 0b01000 => ChannelKind::Sdcch8(c & 0b111),
            other => ChannelKind::Other(other),
        }
    }
}

/// A channel description (§10.5.2.5): which channel the phone is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelDescription {
    /// Channel type and sub-channel.
    pub kind: ChannelKind,
    /// Timeslot number.
    pub timeslot: u8,
    /// Training sequence code.
    pub tsc: u8,
    /// The ARFCN, for a non-hopping channel.
    pub arfcn: Option<u16>,
    /// MAIO and HSN, for a hopping channel.
    pub hopping: Option<(u8, u8)>,
}

impl ChannelDescription {
    /// Decode the 3 octets.
    pub fn parse(b: &[u8; 3]) -> ChannelDescription {
        let hopping = b[1] & 0x10 != 0;
        ChannelDescription {
            kind: ChannelKind::from_code(b[0] >> 3),
            timeslot: b[0] & 0x07,
            tsc: b[1] >> 5,
            arfcn: (!hopping).then(|| (u16::from(b[1] & 0x03) << 8) | u16::from(b[2])),
            hopping: hopping.then(|| (((b[1] & 0x0f) << 2) | (b[2] >> 6), b[2] & 0x3f)),
        }
    }
}

/// The request reference of an Immediate Assignment (§10.5.2.30): the random
/// access reference the phone sent and the frame it sent it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestReference {
    /// The 8-bit random access reference (establishment cause and random bits).
    pub ra: u8,
    /// T1' (frame number div 1326, mod 32).
    pub t1: u8,
    /// T2 (frame number mod 26).
    pub t2: u8,
    /// T3 (frame number mod 51).
    pub t3: u8,
}

impl RequestReference {
    /// Decode the 3 octets.
    pub fn parse(b: &[u8; 3]) -> RequestReference {
        RequestReference { ra: b[0], t1: b[1] >> 3, t3: ((b[1] & 0x07) << 3) | (b[2] >> 5), t2: b[2] & 0x1f }
    }

    /// The access burst's frame number modulo 42432 (TS 44.018 §10.5.2.38).
    pub fn frame_number_mod_42432(&self) -> u32 {
        let (t1, t2, t3) = (u32::from(self.t1), u32::from(self.t2), u32::from(self.t3));
        51 * ((t3 + 26 - t2 % 26) % 26) + t3 + 51 * 26 * t1
    }

    /// What the phone asked for, read with the cell's NECI setting.
    pub fn cause(&self, neci: bool) -> EstablishmentCause {
        EstablishmentCause::from_ra(self.ra, neci)
    }
}

/// Why a phone asked for a channel (TS 44.018 table 9.1.8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EstablishmentCause {
    /// Emergency call.
    Emergency,
    /// Call re-establishment.
    CallReestablishment,
    /// Answer to paging.
    AnswerToPaging,
    /// Originating call (or, without NECI, any procedure on SDCCH).
    OriginatingCall,
    /// Originating speech call on TCH/H (NECI set).
    OriginatingSpeechTchH,
    /// Originating data call on TCH/H (NECI set).
    OriginatingDataTchH,
    /// Location updating.
    LocationUpdating,
    /// Other procedures completed on SDCCH, or an answer to paging for SDCCH (NECI set).
    OtherSdcch,
    /// One-phase packet access.
    PacketAccess,
    /// Single-block packet access.
    SinglePacketBlock,
    /// A reserved code.
    Reserved,
}

impl EstablishmentCause {
    /// Decode an 8-bit random access reference; `neci` is the cell's "new
    /// establishment causes" flag (System Information 3/4).
    pub fn from_ra(ra: u8, neci: bool) -> EstablishmentCause {
        use EstablishmentCause::*;
        match ra {
            0xa0..=0xbf => Emergency,
            0xc0..=0xdf => CallReestablishment,
            0x80..=0x9f | 0x20..=0x3f => AnswerToPaging,
            0xe0..=0xff => OriginatingCall,
            0x68..=0x6f if neci => CallReestablishment,
            0x40..=0x4f if neci => OriginatingSpeechTchH,
            0x50..=0x5f if neci => OriginatingDataTchH,
            0x00..=0x0f if neci => LocationUpdating,
            0x10..=0x1f if neci => OtherSdcch,
            0x00..=0x1f => LocationUpdating,
            0x78..=0x7f => PacketAccess,
            0x70..=0x77 => SinglePacketBlock,
            _ => Reserved,
        }
    }
}

/// Immediate Assignment (§9.1.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImmediateAssignment {
    /// Page mode.
    pub page_mode: u8,
    /// True when it assigns a GPRS TBF rather than a dedicated channel.
    pub tbf: bool,
    /// The assigned channel (a packet channel description when `tbf`).
    pub channel: ChannelDescription,
    /// The access request it answers.
    pub request: RequestReference,
    /// Timing advance (distance to the BTS, in 550 m steps).
    pub timing_advance: u8,
}

/// System Information Type 3 (§9.1.35).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SystemInformation3 {
    /// Cell identity.
    pub cell_id: u16,
    /// Location area.
    pub lai: Lai,
    /// ATT: phones shall use IMSI attach and detach in this cell.
    pub attach_detach: bool,
    /// NECI: new establishment causes are supported.
    pub neci: bool,
    /// CELL_BAR_ACCESS: the cell is barred.
    pub cell_barred: bool,
}

/// System Information Type 4 (§9.1.36).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SystemInformation4 {
    /// Location area.
    pub lai: Lai,
    /// NECI: new establishment causes are supported.
    pub neci: bool,
    /// CELL_BAR_ACCESS: the cell is barred.
    pub cell_barred: bool,
}

pub(super) fn parse(t: RrType, msg: &[u8]) -> Result<Message, Error> {
    let mut r = Reader::new(msg, super::HEADER_LEN);
    Ok(match t {
        RrType::PagingRequest1 | RrType::PagingRequest2 | RrType::PagingRequest3 => {
            Message::PagingRequest(paging_request(t, &mut r)?)
        }
        RrType::ImmediateAssignment => {
            let modes = r.u8()?;
            let channel = ChannelDescription::parse(&three(r.take(3)?));
            let request = RequestReference::parse(&three(r.take(3)?));
            let timing_advance = r.u8()? & 0x3f;
            Message::ImmediateAssignment(ImmediateAssignment {
                page_mode: modes & 0x03,
                tbf: modes & 0x10 != 0,
                channel,
                request,
                timing_advance,
            })
        }
        RrType::SystemInformation3 => {
            let cell_id = u16::from_be_bytes([r.u8()?, r.u8()?]);
            let lai = r.lai()?;
            let control_channel = r.take(3)?;
            let _cell_options = r.u8()?;
            let selection = r.take(2)?;
            let rach = r.take(3)?;
            Message::SystemInformation3(SystemInformation3 {
                cell_id,
                lai,
                attach_detach: control_channel[0] & 0x40 != 0,
                neci: selection[1] & 0x40 != 0,
                cell_barred: rach[0] & 0x02 != 0,
            })
        }
        RrType::SystemInformation4 => {
            let lai = r.lai()?;
            let selection = r.take(2)?;
            let rach = r.take(3)?;
            Message::SystemInformation4(SystemInformation4 {
                lai,
                neci: selection[1] & 0x40 != 0,
                cell_barred: rach[0] & 0x02 != 0,
            })
        }
        RrType::PagingResponse => {
            let cksn = r.u8()? & 0x07;
            let _classmark2 = r.lv()?;
            Message::PagingResponse { cksn, identity: r.mobile_identity()? }
        }
        RrType::CipheringModeComplete => {
            let mut imeisv = None;
            for ie in Ies::new(msg, r.pos(), IeFormat::TLV) {
                if ie.iei == IEI_MOBILE_IDENTITY {
                    imeisv = Some(MobileIdentity::parse(ie.value).map_err(|e| e.shifted(ie.offset))?);
                }
            }
            Message::CipheringModeComplete { imeisv }
        }
        other => Message::Other(MessageType::Rr(other)),
    })
}

fn three(b: &[u8]) -> [u8; 3] {
    [b[0], b[1], b[2]]
}

fn paging_request(t: RrType, r: &mut Reader<'_>) -> Result<PagingRequest, Error> {
    let modes = r.u8()?;
    let mut p = PagingRequest {
        request_type: match t {
            RrType::PagingRequest1 => 1,
            RrType::PagingRequest2 => 2,
            _ => 3,
        },
        page_mode: modes & 0x03,
        channel_needed: [(modes >> 4) & 0x03, (modes >> 6) & 0x03],
        identities: [None; MAX_PAGED_IDENTITIES],
    };
    // Type 1: an LV identity; types 2 and 3: fixed 4-octet TMSIs (§10.5.2.42).
    let fixed_tmsis = match p.request_type {
        1 => {
            p.identities[0] = Some(r.mobile_identity()?);
            0
        }
        2 => 2,
        _ => 4,
    };
    for slot in p.identities.iter_mut().take(fixed_tmsis) {
        *slot = Some(MobileIdentity::Tmsi(be32(r.take(4)?, 0)));
    }
    // Type 1's second identity or type 2's third: an optional TLV, then rest octets.
    if p.request_type != 3 && r.peek() == Some(IEI_MOBILE_IDENTITY) {
        r.u8()?;
        let next = if p.request_type == 1 { 1 } else { 2 };
        p.identities[next] = Some(r.mobile_identity()?);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::super::ie::{IdentityDigits, Plmn};
    use super::super::ErrorKind;
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn imsi(s: &str) -> MobileIdentity {
        MobileIdentity::Imsi(IdentityDigits::from_text(s).unwrap())
    }

    #[test]
    fn paging_requests() {
        // IMSI-catcher README (grgsm_livemon output), pseudo length stripped.
        let m = Message::from_bytes(&hex("06 21 00 05 f4 f8 68 03 26")).unwrap();
        let Message::PagingRequest(p) = m else { panic!("{m:?}") };
        assert_eq!((p.request_type, p.page_mode), (1, 0));
        assert_eq!(p.identities, [Some(MobileIdentity::Tmsi(0xf868_0326)), None, None, None]);
        // Type 1 with an IMSI and a second identity (TMSI), then P1 rest octets.
        let m = Message::from_bytes(&hex("06 21 40 08 99 10 07 00 00 00 64 02 17 05 f4 03 02 01 00 2b")).unwrap();
        let Message::PagingRequest(p) = m else { panic!("{m:?}") };
        assert_eq!(p.channel_needed, [0, 1]);
        assert_eq!(p.identities[..2], [Some(imsi("901700000004620")), Some(MobileIdentity::Tmsi(0x0302_0100))]);
        // Type 2: two TMSIs, then an IMSI as identity 3.
        let m = Message::from_bytes(&hex("06 22 00 11111111 22222222 17 08 99 10 07 00 00 00 64 02")).unwrap();
        let Message::PagingRequest(p) = m else { panic!("{m:?}") };
        assert_eq!(
            p.identities,
            [
                Some(MobileIdentity::Tmsi(0x1111_1111)),
                Some(MobileIdentity::Tmsi(0x2222_2222)),
                Some(imsi("901700000004620")),
                None
            ]
        );
        // Type 3: four TMSIs and rest octets.
        let m = Message::from_bytes(&hex("06 24 00 00000001 00000002 00000003 00000004 2b")).unwrap();
        let Message::PagingRequest(p) = m else { panic!("{m:?}") };
        assert_eq!(p.identities[3], Some(MobileIdentity::Tmsi(4)));
        assert_eq!(Message::from_bytes(&hex("06 24 00 00000001 000000")).unwrap_err().kind, ErrorKind::Truncated);
    }

    #[test]
    fn immediate_assignment_published_vector() {
        // gr-gsm user's GSMTAP dump (pseudo length 0x2d stripped): a TBF on TS 6,
        // ARFCN 1017, answering RA 0x7e sent in FN 13294 (mod 42432).
        let m = Message::from_bytes(&hex("06 3f 10 0e 83 f9 7e 54 48 01 00 c6 94 aa 34")).unwrap();
        let Message::ImmediateAssignment(ia) = m else { panic!("{m:?}") };
        assert!(ia.tbf);
        assert_eq!((ia.channel.timeslot, ia.channel.tsc, ia.channel.arfcn), (6, 4, Some(1017)));
        assert_eq!(ia.request, RequestReference { ra: 0x7e, t1: 10, t2: 8, t3: 34 });
        assert_eq!(ia.request.frame_number_mod_42432(), 13294);
        assert_eq!(ia.request.cause(true), EstablishmentCause::PacketAccess);
        assert_eq!(ia.timing_advance, 1);
        // A dedicated SDCCH/8 sub-channel 2 on TS 1, hopping (MAIO 1, HSN 11).
        let cd = ChannelDescription::parse(&[0x51, 0x70, 0x4b]);
        assert_eq!((cd.kind, cd.timeslot, cd.arfcn, cd.hopping), (ChannelKind::Sdcch8(2), 1, None, Some((1, 11))));
        assert_eq!(ChannelKind::from_code(0b00011), ChannelKind::TchH(1));
        assert_eq!(ChannelKind::from_code(0b00110), ChannelKind::Sdcch4(2));
    }

    #[test]
    fn establishment_causes() {
        assert_eq!(EstablishmentCause::from_ra(0xa5, false), EstablishmentCause::Emergency);
        assert_eq!(EstablishmentCause::from_ra(0xe3, true), EstablishmentCause::OriginatingCall);
        assert_eq!(EstablishmentCause::from_ra(0x05, true), EstablishmentCause::LocationUpdating);
        assert_eq!(EstablishmentCause::from_ra(0x15, true), EstablishmentCause::OtherSdcch);
        assert_eq!(EstablishmentCause::from_ra(0x15, false), EstablishmentCause::LocationUpdating);
        assert_eq!(EstablishmentCause::from_ra(0x45, true), EstablishmentCause::OriginatingSpeechTchH);
        assert_eq!(EstablishmentCause::from_ra(0x45, false), EstablishmentCause::Reserved);
        assert_eq!(EstablishmentCause::from_ra(0x85, false), EstablishmentCause::AnswerToPaging);
    }

    #[test]
    fn system_information_3_and_4() {
        // IMSI-catcher README: SI3 of cell 0x95cc in 208-20, LAC 412.
        let si3 = hex("06 1b 95 cc 02 f8 02 01 9c c8 03 1e 57 a5 01 79 00 00");
        let Message::SystemInformation3(s) = Message::from_bytes(&si3).unwrap() else { panic!() };
        let plmn = Plmn { mcc: 208, mnc: 20, three_digit_mnc: false };
        assert_eq!((s.cell_id, s.lai), (0x95cc, Lai { plmn, lac: 412 }));
        assert_eq!((s.attach_detach, s.neci, s.cell_barred), (true, false, false));
        for n in 0..si3.len() {
            assert!(Message::from_bytes(&si3[..n]).is_err(), "prefix {n}");
        }
        let si4 = hex("06 1c 02 f8 02 01 9c a5 41 7b 00 00");
        let Message::SystemInformation4(s) = Message::from_bytes(&si4).unwrap() else { panic!() };
        assert_eq!((s.lai.lac, s.neci, s.cell_barred), (412, true, true));
    }

    #[test]
    fn paging_response_and_ciphering_mode_complete() {
        // osmo-msc msc_vlr_test_no_authen: Paging Response with IMSI, then with TMSI.
        let m = Message::from_bytes(&hex("06 27 07 03 30 58 82 08 99 10 07 00 00 00 64 02")).unwrap();
        assert_eq!(m, Message::PagingResponse { cksn: 7, identity: imsi("901700000004620") });
        let m = Message::from_bytes(&hex("06 27 07 03 30 58 82 05 f4 03 02 01 00")).unwrap();
        assert_eq!(m, Message::PagingResponse { cksn: 7, identity: MobileIdentity::Tmsi(0x0302_0100) });
        // Ciphering Mode Complete with an IMEISV (made-up digits, TS 24.008 coding).
        let m = Message::from_bytes(&hex("06 32 17 09 33 15 32 54 76 98 10 32 f4")).unwrap();
        let imeisv = MobileIdentity::Imeisv(IdentityDigits::from_text("3512345678901234").unwrap());
        assert_eq!(m, Message::CipheringModeComplete { imeisv: Some(imeisv) });
        assert_eq!(Message::from_bytes(&hex("06 32")), Ok(Message::CipheringModeComplete { imeisv: None }));
        // Nibble-swapped bytes put 0xF in a digit slot: a bad digit, located in the message.
        let err = Message::from_bytes(&hex("06 32 17 09 33 51 23 45 67 89 01 23 4f")).unwrap_err();
        assert_eq!(err, Error::new(ErrorKind::BadDigit, 12));
    }
}
