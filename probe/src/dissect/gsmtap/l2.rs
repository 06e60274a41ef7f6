//! From a GSMTAP payload to the layer-3 message it carries.
//!
//! How the L3 message is framed depends on the GSMTAP type and `Um` sub-type:
//!
//! - `Um` BCCH / CCCH / AGCH / PCH: a 23-octet block whose first octet is the
//!   L2 pseudo length `(L << 2) | 0b01` (TS 44.006 §2.1 format Bbis, TS 44.018
//!   §10.5.2.19); the message is the next L octets, the rest octets and `0x2b`
//!   fill after them are not part of it.
//! - `Um` SDCCH (and FACCH on TCH/F, TCH/H): a LAPDm frame
//!   ([`super::lapdm`]); I, UI and SABM frames carry L3, a UA frame echoes the
//!   SABM's message (contention resolution, TS 44.006), S and other U
//!   frames carry none.
//! - `Um` with the SACCH flag (0x80): the 2-octet SACCH L1 header (ordered
//!   power and timing advance, TS 44.004 §7), then LAPDm (format B or B4).
//! - `Abis`: the L3 message itself, possibly followed by fill.
//! - `LteNas`: an EPS NAS message (see [`crate::dissect::lte_nas`]).
//!
//! Idle filling is reported as [`Filler`], not as an error: blocks of `0x2b`,
//! the dummy paging `15 06 21 00 01 f0 2b…` (a Paging Request Type 1 that
//! pages "no identity", sent when there is nobody to page), and LAPDm UI fill
//! frames with length 0 (TS 44.006).
//!
//! Stateless limits: segmented LAPDm messages (M bit) are reported as
//! [`NotL3::Segment`]; reassembly needs state and belongs in `track/`. The last
//! segment of such a message (M = 0) cannot be told from a whole one here.

use super::lapdm::{Control, Frame};
use super::{Channel, Error, ErrorKind, Packet, PayloadType, SubType};

/// Length of a GSM MAC block (23 octets: one LAPDm frame or CCCH block).
pub const BLOCK_LEN: usize = 23;

/// The fill octet of GSM L2 blocks (TS 44.006).
pub const PADDING: u8 = 0x2b;

/// Octets of L1 header in front of a SACCH LAPDm frame (TS 44.004 §7).
pub const SACCH_L1_HEADER_LEN: usize = 2;

/// Protocol discriminator of radio resource management (TS 24.007 §11.2.3.1.1).
const PD_RR: u8 = 0x06;
/// Paging Request Type 1 (TS 44.018 §9.1.22).
const MT_PAGING_REQUEST_1: u8 = 0x21;
/// IEI of the optional second mobile identity in a Paging Request Type 1.
const IEI_MOBILE_IDENTITY_2: u8 = 0x17;

/// What a GSMTAP payload holds, as far as layer 3 is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L3Payload<'a> {
    /// A GSM layer-3 message (TS 24.007 framing), bounded by its L2 length
    /// where the framing gives one.
    L3(&'a [u8]),
    /// The phone's initial L3 message as echoed by the network in a LAPDm UA
    /// frame: on a downlink-only capture this is the only copy of it.
    Echo(&'a [u8]),
    /// An EPS NAS message (TS 24.301).
    Nas(&'a [u8]),
    /// Idle filling: no message at all.
    Filler(Filler),
    /// A payload that carries no L3 message this dissector reads.
    NotL3(NotL3),
}

/// The kinds of idle filling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Filler {
    /// A block of `0x2b` fill, or a pseudo length of 0.
    Padding,
    /// A Paging Request Type 1 for "no identity".
    DummyPaging,
    /// A LAPDm UI frame with an empty information field.
    LapdmFill,
}

impl Filler {
    /// A stable snake_case name for counters and reports.
    pub fn name(self) -> &'static str {
        match self {
            Filler::Padding => "padding",
            Filler::DummyPaging => "dummy_paging",
            Filler::LapdmFill => "lapdm_fill",
        }
    }
}

/// Why a payload holds no L3 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotL3 {
    /// Access burst contents (RACH): the random access reference, no message.
    Rach,
    /// GPRS RLC/MAC blocks (PACCH, PDTCH, PTCCH).
    RlcMac,
    /// Cell broadcast (CBCH).
    CellBroadcast,
    /// Speech or data frames on a traffic channel.
    Traffic,
    /// A LAPDm supervisory or unnumbered frame without L3 information.
    LapdmControl,
    /// One segment of an L3 message split over several LAPDm frames.
    Segment,
    /// A `Um` sub-type without a known framing.
    UnknownChannel(u8),
    /// A GSMTAP type outside GSM L3 and EPS NAS (UMTS/LTE RRC, SIM, bursts, …).
    OtherType(PayloadType),
}

impl NotL3 {
    /// A stable snake_case name for counters and reports.
    pub fn name(self) -> &'static str {
        match self {
            NotL3::Rach => "rach",
            NotL3::RlcMac => "rlc_mac",
            NotL3::CellBroadcast => "cell_broadcast",
            NotL3::Traffic => "traffic",
            NotL3::LapdmControl => "lapdm_control",
            NotL3::Segment => "segment",
            NotL3::UnknownChannel(_) => "unknown_channel",
            NotL3::OtherType(_) => "other_type",
        }
    }
}

/// Find the L3 message (or filler) in a checked GSMTAP packet.
///
/// Error offsets count from the start of the GSMTAP payload.
pub fn l3_of<'a>(packet: &Packet<&'a [u8]>) -> Result<L3Payload<'a>, Error> {
    let payload = packet.payload();
    match packet.payload_type() {
        PayloadType::Um => um(packet.um_sub_type(), payload),
        PayloadType::Abis => abis(payload),
        PayloadType::LteNas if payload.is_empty() => Err(Error::new(ErrorKind::Truncated, 0)),
        PayloadType::LteNas => Ok(L3Payload::Nas(payload)),
        other => Ok(L3Payload::NotL3(NotL3::OtherType(other))),
    }
}

fn um(sub: SubType, data: &[u8]) -> Result<L3Payload<'_>, Error> {
    if sub.acch {
        let Some(frame) = data.get(SACCH_L1_HEADER_LEN..) else {
            return Err(Error::new(ErrorKind::Truncated, data.len()));
        };
        return lapdm(frame, true).map_err(|e| Error::new(e.kind, e.offset + SACCH_L1_HEADER_LEN));
    }
    match sub.channel {
        Channel::Bcch | Channel::Ccch | Channel::Agch | Channel::Pch => pseudo_length_block(data),
        Channel::Sdcch | Channel::Sdcch4 | Channel::Sdcch8 => lapdm(data, false),
        // Older senders put speech frames on these sub-types too (newer ones
        // use VoiceF/VoiceH): FACCH signalling is a 23-octet LAPDm block with a
        // valid address and length octet, which no speech codec frame has.
        Channel::TchF | Channel::TchH => {
            if data.len() == BLOCK_LEN && data[0] & 0x01 == 1 && data[2] & 0x01 == 1 {
                lapdm(data, false)
            } else {
                Ok(L3Payload::NotL3(NotL3::Traffic))
            }
        }
        Channel::VoiceF | Channel::VoiceH => Ok(L3Payload::NotL3(NotL3::Traffic)),
        Channel::Rach => Ok(L3Payload::NotL3(NotL3::Rach)),
        Channel::Pacch | Channel::Pdtch | Channel::Ptcch => Ok(L3Payload::NotL3(NotL3::RlcMac)),
        Channel::Cbch52 | Channel::Cbch51 => Ok(L3Payload::NotL3(NotL3::CellBroadcast)),
        Channel::Unspecified | Channel::Unknown(_) => Ok(L3Payload::NotL3(NotL3::UnknownChannel(sub.channel.into()))),
    }
}

/// A BCCH/CCCH block: L2 pseudo length, message, rest octets.
fn pseudo_length_block(data: &[u8]) -> Result<L3Payload<'_>, Error> {
    let Some(&first) = data.first() else {
        return Err(Error::new(ErrorKind::Truncated, 0));
    };
    if data.iter().all(|&b| b == PADDING) {
        return Ok(L3Payload::Filler(Filler::Padding));
    }
    if first & 0x03 != 0x01 {
        return Err(Error::new(ErrorKind::Malformed, 0));
    }
    let len = usize::from(first >> 2);
    if len == 0 {
        return Ok(L3Payload::Filler(Filler::Padding));
    }
    let Some(l3) = data.get(1..1 + len) else {
        return Err(Error::new(ErrorKind::Truncated, data.len()));
    };
    Ok(if is_dummy_paging(l3) { L3Payload::Filler(Filler::DummyPaging) } else { L3Payload::L3(l3) })
}

/// A LAPDm frame on SDCCH, FACCH or (with `sacch`) SACCH.
fn lapdm(data: &[u8], sacch: bool) -> Result<L3Payload<'_>, Error> {
    let frame = Frame::new_checked(data, sacch)?;
    let info = frame.info();
    let control = frame.control();
    if info.is_empty() {
        return Ok(match control {
            Control::Ui { .. } => L3Payload::Filler(Filler::LapdmFill),
            _ => L3Payload::NotL3(NotL3::LapdmControl),
        });
    }
    if frame.more() {
        return Ok(L3Payload::NotL3(NotL3::Segment));
    }
    Ok(match control {
        Control::I { .. } | Control::Ui { .. } | Control::Sabm { .. } => L3Payload::L3(info),
        Control::Ua { .. } => L3Payload::Echo(info),
        Control::S { .. } | Control::Disc { .. } | Control::Dm { .. } | Control::OtherU(_) => {
            L3Payload::NotL3(NotL3::LapdmControl)
        }
    })
}

/// Abis: the L3 message as is.
fn abis(data: &[u8]) -> Result<L3Payload<'_>, Error> {
    if data.is_empty() {
        return Err(Error::new(ErrorKind::Truncated, 0));
    }
    if data.iter().all(|&b| b == PADDING) {
        return Ok(L3Payload::Filler(Filler::Padding));
    }
    Ok(if is_dummy_paging(data) { L3Payload::Filler(Filler::DummyPaging) } else { L3Payload::L3(data) })
}

/// A Paging Request Type 1 whose only identity is "no identity": RR, skip
/// indicator 0, type 0x21, page mode, mobile identity 1 of length 1 and type 0,
/// and no mobile identity 2 after it.
pub fn is_dummy_paging(l3: &[u8]) -> bool {
    matches!(l3, [PD_RR, MT_PAGING_REQUEST_1, _, 0x01, mi, rest @ ..]
        if mi & 0x07 == 0 && rest.first() != Some(&IEI_MOBILE_IDENTITY_2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::gsmtap::{Repr, HEADER_LEN};

    fn gsmtap(payload_type: PayloadType, sub_type: u8, payload: &[u8]) -> Vec<u8> {
        let repr = Repr {
            payload_type,
            timeslot: 0,
            arfcn: 1,
            pcs: false,
            uplink: false,
            signal_dbm: -60,
            snr_db: 10,
            frame_number: 1,
            sub_type,
            antenna: 0,
            sub_slot: 0,
        };
        let mut buf = vec![0u8; HEADER_LEN];
        repr.emit(&mut buf);
        buf.extend_from_slice(payload);
        buf
    }

    fn block(bytes: &[u8]) -> Vec<u8> {
        let mut b = bytes.to_vec();
        b.resize(BLOCK_LEN, PADDING);
        b
    }

    /// [`L3Payload`] with the borrowed bytes copied out, so tests can build
    /// the GSMTAP packet inside the helper.
    #[derive(Debug, PartialEq)]
    enum Owned {
        L3(Vec<u8>),
        Echo(Vec<u8>),
        Nas(Vec<u8>),
        Filler(Filler),
        NotL3(NotL3),
    }

    fn l3(payload_type: PayloadType, sub_type: u8, payload: &[u8]) -> Result<Owned, Error> {
        let buf = gsmtap(payload_type, sub_type, payload);
        Ok(match l3_of(&Packet::new_checked(&buf[..]).unwrap())? {
            L3Payload::L3(b) => Owned::L3(b.to_vec()),
            L3Payload::Echo(b) => Owned::Echo(b.to_vec()),
            L3Payload::Nas(b) => Owned::Nas(b.to_vec()),
            L3Payload::Filler(f) => Owned::Filler(f),
            L3Payload::NotL3(n) => Owned::NotL3(n),
        })
    }

    #[test]
    fn ccch_pseudo_length_and_filler() {
        // gr-gsm qa_message_printer: dummy paging on CCCH.
        let dummy = block(&[0x15, 0x06, 0x21, 0x00, 0x01, 0xf0]);
        assert_eq!(l3(PayloadType::Um, 2, &dummy), Ok(Owned::Filler(Filler::DummyPaging)));
        // IMSI-catcher README: a Paging Request Type 1 for TMSI f8680326 with P1 rest octets.
        let paging = block(&[0x25, 0x06, 0x21, 0x00, 0x05, 0xf4, 0xf8, 0x68, 0x03, 0x26, 0x23]);
        assert_eq!(l3(PayloadType::Um, 5, &paging), Ok(Owned::L3(paging[1..10].to_vec())));
        assert_eq!(l3(PayloadType::Um, 2, &[PADDING; BLOCK_LEN]), Ok(Owned::Filler(Filler::Padding)));
        assert_eq!(l3(PayloadType::Um, 1, &block(&[0x01])), Ok(Owned::Filler(Filler::Padding)));
        assert_eq!(l3(PayloadType::Um, 1, &block(&[0x4a])).unwrap_err().kind, ErrorKind::Malformed);
        assert_eq!(l3(PayloadType::Um, 1, &[0x49, 0x06, 0x1b]).unwrap_err().kind, ErrorKind::Truncated);
    }

    #[test]
    fn sdcch_lapdm_frames() {
        // I frame carrying MM Identity Request (IMEI).
        let i = block(&[0x01, 0x20, 0x0d, 0x05, 0x18, 0x02]);
        assert_eq!(l3(PayloadType::Um, 7, &i), Ok(Owned::L3(i[3..6].to_vec())));
        // SABM with the initial message, and the network's UA echo of it.
        let sabm = block(&[0x01, 0x3f, 0x0d, 0x05, 0x01, 0x30]);
        assert_eq!(l3(PayloadType::Um, 8, &sabm), Ok(Owned::L3(sabm[3..6].to_vec())));
        let ua = block(&[0x01, 0x73, 0x0d, 0x05, 0x01, 0x30]);
        assert_eq!(l3(PayloadType::Um, 8, &ua), Ok(Owned::Echo(ua[3..6].to_vec())));
        // UI fill frame, RR (receive ready), DISC, segment.
        assert_eq!(l3(PayloadType::Um, 6, &block(&[0x01, 0x03, 0x01])), Ok(Owned::Filler(Filler::LapdmFill)));
        assert_eq!(l3(PayloadType::Um, 6, &block(&[0x01, 0x21, 0x01])), Ok(Owned::NotL3(NotL3::LapdmControl)));
        assert_eq!(l3(PayloadType::Um, 6, &block(&[0x01, 0x53, 0x01])), Ok(Owned::NotL3(NotL3::LapdmControl)));
        assert_eq!(
            l3(PayloadType::Um, 6, &block(&[0x01, 0x00, 0x0b, 0x03, 0x05, 0x04])),
            Ok(Owned::NotL3(NotL3::Segment))
        );
    }

    #[test]
    fn sacch_skips_the_l1_header() {
        // L1 header, UI frame, B format, RR Measurement Report (truncated body).
        let mr = block(&[0x05, 0x01, 0x01, 0x03, 0x09, 0x06, 0x15]);
        assert_eq!(l3(PayloadType::Um, 0x86, &mr), Ok(Owned::L3(mr[5..7].to_vec())));
        // Format B4: the information field runs to the end of the block.
        let b4 = [0x05, 0x01, 0x03, 0x03, 0x06, 0x1d, 0x00];
        assert_eq!(l3(PayloadType::Um, 0x88, &b4), Ok(Owned::L3(b4[4..].to_vec())));
        assert_eq!(l3(PayloadType::Um, 0x88, &[0x05]).unwrap_err().kind, ErrorKind::Truncated);
    }

    #[test]
    fn other_channels_and_types() {
        assert_eq!(l3(PayloadType::Um, 3, &[0x7e]), Ok(Owned::NotL3(NotL3::Rach)));
        assert_eq!(l3(PayloadType::Um, 11, &[0x40; 23]), Ok(Owned::NotL3(NotL3::RlcMac)));
        assert_eq!(l3(PayloadType::Um, 9, &[0xd0; 33]), Ok(Owned::NotL3(NotL3::Traffic)));
        assert_eq!(l3(PayloadType::Um, 0x10, &block(&[0x01, 0x03, 0x01])), Ok(Owned::NotL3(NotL3::Traffic)));
        assert_eq!(l3(PayloadType::Um, 0, &[0x00]), Ok(Owned::NotL3(NotL3::UnknownChannel(0))));
        assert_eq!(l3(PayloadType::Sim, 0, &[0xa0]), Ok(Owned::NotL3(NotL3::OtherType(PayloadType::Sim))));
        assert_eq!(l3(PayloadType::LteNas, 0, &[0x07, 0x45]), Ok(Owned::Nas(vec![0x07, 0x45])));
        assert_eq!(l3(PayloadType::LteNas, 0, &[]).unwrap_err().kind, ErrorKind::Truncated);
    }

    #[test]
    fn abis_is_raw_l3_with_fill() {
        let mut dummy = vec![0x06, 0x21, 0x00, 0x01, 0xf0];
        dummy.resize(22, PADDING);
        assert_eq!(l3(PayloadType::Abis, 0, &dummy), Ok(Owned::Filler(Filler::DummyPaging)));
        let lu = [0x05, 0x08, 0x02, 0x00, 0x81, 0x68];
        assert_eq!(l3(PayloadType::Abis, 0, &lu), Ok(Owned::L3(lu[..].to_vec())));
        // "No identity" followed by a real second identity is a real paging.
        let two = [0x06, 0x21, 0x00, 0x01, 0xf0, 0x17, 0x05, 0xf4, 1, 2, 3, 4];
        assert_eq!(l3(PayloadType::Abis, 0, &two), Ok(Owned::L3(two[..].to_vec())));
        assert_eq!(l3(PayloadType::Abis, 0, &[]).unwrap_err().kind, ErrorKind::Truncated);
    }

    #[test]
    fn every_prefix_of_every_framing_is_handled() {
        let cases: [(PayloadType, u8, Vec<u8>); 5] = [
            (PayloadType::Um, 2, block(&[0x25, 0x06, 0x21, 0x00, 0x05, 0xf4, 0xf8, 0x68, 0x03, 0x26])),
            (PayloadType::Um, 8, block(&[0x01, 0x3f, 0x0d, 0x05, 0x01, 0x30])),
            (PayloadType::Um, 0x86, block(&[0x05, 0x01, 0x01, 0x03, 0x09, 0x06, 0x15])),
            (PayloadType::Um, 9, block(&[0x01, 0x20, 0x0d, 0x05, 0x18, 0x02])),
            (PayloadType::Abis, 0, vec![0x06, 0x21, 0x00, 0x01, 0xf0]),
        ];
        for (t, sub, payload) in cases {
            for n in 0..=payload.len() {
                let _ = l3(t, sub, &payload[..n]);
            }
        }
    }
}
