//! GSMTAP pseudo-headers (UDP port 4729) and the way from a GSMTAP payload to
//! a layer-3 message.
//!
//! GSMTAP is the capture encapsulation Osmocom tools (gr-gsm, OsmocomBB,
//! osmo-bts, QCSuper, …) use for radio-interface traffic; its definition lives
//! in libosmocore's `include/osmocom/core/gsmtap.h`. Version 2 is a fixed
//! 16-byte header:
//!
//! ```text
//!  0 version  1 hdr_len (32-bit words)  2 type  3 timeslot
//!  4 ARFCN (u16 BE; 0x8000 PCS, 0x4000 uplink, 0x3fff number)
//!  6 signal dBm (i8)  7 SNR dB (i8)
//!  8 frame number (u32 BE)
//! 12 sub-type  13 antenna  14 sub-slot  15 reserved
//! ```
//!
//! The payload starts at `hdr_len × 4`, so a longer header is skipped rather
//! than misread. Only version 2 is read; anything else is
//! [`ErrorKind::Unsupported`] (see [`Version`] for where v3 will go).
//!
//! Contract: [`Packet::new_checked`] verifies the version and that the header
//! it declares fits the buffer; after it no accessor panics. [`l3_of`] turns a
//! checked packet into an L3 message, filler, or "not L3", and never panics on
//! any payload bytes.

mod l2;
pub mod lapdm;

use std::fmt;

pub use l2::{is_dummy_paging, l3_of, Filler, L3Payload, NotL3, BLOCK_LEN, PADDING, SACCH_L1_HEADER_LEN};

use super::wire::{be16, be32, open_enum, put16, put32};

/// The IANA-assigned UDP port of GSMTAP.
pub const UDP_PORT: u16 = 4729;

/// Length of the fixed version-2 header (`hdr_len` = 4 words).
pub const HEADER_LEN: usize = 16;

/// ARFCN flag: PCS 1900 band (as opposed to DCS 1800 on the same numbers).
pub const ARFCN_F_PCS: u16 = 0x8000;
/// ARFCN flag: the burst was sent by the phone.
pub const ARFCN_F_UPLINK: u16 = 0x4000;
/// ARFCN bits that hold the channel number.
pub const ARFCN_MASK: u16 = 0x3fff;

/// Sub-type flag marking the slow associated control channel (SACCH) of a channel.
pub const SUB_TYPE_ACCH: u8 = 0x80;

mod field {
    use std::ops::Range;
    pub const VERSION: usize = 0;
    pub const HDR_LEN: usize = 1;
    pub const TYPE: usize = 2;
    pub const TIMESLOT: usize = 3;
    pub const ARFCN: Range<usize> = 4..6;
    pub const SIGNAL_DBM: usize = 6;
    pub const SNR_DB: usize = 7;
    pub const FRAME_NUMBER: Range<usize> = 8..12;
    pub const SUB_TYPE: usize = 12;
    pub const ANTENNA: usize = 13;
    pub const SUB_SLOT: usize = 14;
    pub const RESERVED: usize = 15;
}

/// Why GSMTAP bytes (header or L2 framing) could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("GSMTAP {kind} at byte {offset}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where, counted from the start of the buffer that was being read (the
    /// GSMTAP packet for header errors, the GSMTAP payload for L2 errors).
    pub offset: usize,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, offset: usize) -> Error {
        Error { kind, offset }
    }
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes end before the header, or before a length they declare:
    /// incomplete input, not invalid input.
    Truncated,
    /// A length or framing field holds a value GSMTAP or LAPDm does not allow.
    Malformed,
    /// A GSMTAP version this parser does not read (everything but 2 today).
    Unsupported(u8),
}

impl ErrorKind {
    /// A stable snake_case name for counters and reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Truncated => "truncated",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Unsupported(_) => "unsupported_version",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Unsupported(v) => write!(f, "unsupported version {v}"),
            other => f.write_str(other.name()),
        }
    }
}

open_enum! {
    /// GSMTAP header versions.
    pub enum Version(u8) {
        /// The 16-byte header read here.
        V2 = 2,
        /// The draft successor (16-bit type and sub-type, TLV metadata).
        V3 = 3,
    }
}

open_enum! {
    /// What a GSMTAP payload carries (`GSMTAP_TYPE_*`).
    pub enum PayloadType(u8) {
        /// GSM Um MAC blocks: LAPDm frames or CCCH/BCCH blocks.
        Um = 0x01,
        /// GSM Abis: layer-3 messages without an L2 header.
        Abis = 0x02,
        /// Raw Um burst bits.
        UmBurst = 0x03,
        /// ISO 7816 smart-card traffic (APDUs, ATR).
        Sim = 0x04,
        /// TETRA air interface.
        TetraI1 = 0x05,
        /// TETRA bursts.
        TetraI1Burst = 0x06,
        /// WiMAX bursts.
        WimaxBurst = 0x07,
        /// GPRS Gb LLC.
        GbLlc = 0x08,
        /// GPRS Gb SNDCP.
        GbSndcp = 0x09,
        /// GMR-1 satellite Um.
        Gmr1Um = 0x0a,
        /// UMTS RLC/MAC.
        UmtsRlcMac = 0x0b,
        /// UMTS RRC (ASN.1 PER).
        UmtsRrc = 0x0c,
        /// LTE RRC (ASN.1 PER).
        LteRrc = 0x0d,
        /// LTE MAC.
        LteMac = 0x0e,
        /// LTE MAC with a context header.
        LteMacFramed = 0x0f,
        /// libosmocore log messages.
        OsmocoreLog = 0x10,
        /// Qualcomm DIAG frames.
        QcDiag = 0x11,
        /// LTE Non-Access Stratum (TS 24.301).
        LteNas = 0x12,
    }
}

impl PayloadType {
    /// A stable snake_case name for counters and reports.
    pub fn name(self) -> &'static str {
        match self {
            PayloadType::Um => "um",
            PayloadType::Abis => "abis",
            PayloadType::UmBurst => "um_burst",
            PayloadType::Sim => "sim",
            PayloadType::TetraI1 => "tetra_i1",
            PayloadType::TetraI1Burst => "tetra_i1_burst",
            PayloadType::WimaxBurst => "wimax_burst",
            PayloadType::GbLlc => "gb_llc",
            PayloadType::GbSndcp => "gb_sndcp",
            PayloadType::Gmr1Um => "gmr1_um",
            PayloadType::UmtsRlcMac => "umts_rlc_mac",
            PayloadType::UmtsRrc => "umts_rrc",
            PayloadType::LteRrc => "lte_rrc",
            PayloadType::LteMac => "lte_mac",
            PayloadType::LteMacFramed => "lte_mac_framed",
            PayloadType::OsmocoreLog => "osmocore_log",
            PayloadType::QcDiag => "qc_diag",
            PayloadType::LteNas => "lte_nas",
            PayloadType::Unknown(_) => "unknown",
        }
    }
}

open_enum! {
    /// The logical channel of a `Um` payload (`GSMTAP_CHANNEL_*`, without the SACCH flag).
    pub enum Channel(u8) {
        /// No channel given.
        Unspecified = 0x00,
        /// Broadcast control channel (system information).
        Bcch = 0x01,
        /// Common control channel (paging or access grant, not told apart).
        Ccch = 0x02,
        /// Random access channel (uplink access bursts).
        Rach = 0x03,
        /// Access grant channel.
        Agch = 0x04,
        /// Paging channel.
        Pch = 0x05,
        /// Stand-alone dedicated control channel.
        Sdcch = 0x06,
        /// SDCCH/4.
        Sdcch4 = 0x07,
        /// SDCCH/8.
        Sdcch8 = 0x08,
        /// Full-rate traffic channel (FACCH/F when it carries signalling).
        TchF = 0x09,
        /// Half-rate traffic channel (FACCH/H when it carries signalling).
        TchH = 0x0a,
        /// GPRS packet associated control channel.
        Pacch = 0x0b,
        /// Cell broadcast on a 52-multiframe.
        Cbch52 = 0x0c,
        /// GPRS packet data traffic channel.
        Pdtch = 0x0d,
        /// GPRS packet timing advance control channel.
        Ptcch = 0x0e,
        /// Cell broadcast on a 51-multiframe.
        Cbch51 = 0x0f,
        /// Full-rate speech frames (FR, EFR, AMR).
        VoiceF = 0x10,
        /// Half-rate speech frames (HR, AMR).
        VoiceH = 0x11,
    }
}

/// A `Um` sub-type split into its logical channel and the SACCH flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubType {
    /// The logical channel.
    pub channel: Channel,
    /// Set for the channel's slow associated control channel (flag 0x80).
    pub acch: bool,
}

impl From<u8> for SubType {
    fn from(value: u8) -> SubType {
        SubType { channel: Channel::from(value & !SUB_TYPE_ACCH), acch: value & SUB_TYPE_ACCH != 0 }
    }
}

impl From<SubType> for u8 {
    fn from(value: SubType) -> u8 {
        u8::from(value.channel) | if value.acch { SUB_TYPE_ACCH } else { 0 }
    }
}

/// A read-only view of a GSMTAP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer, checking the version and that the header it declares fits.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        let Some(&version) = b.first() else {
            return Err(Error::new(ErrorKind::Truncated, 0));
        };
        match Version::from(version) {
            Version::V2 => {}
            // v3 is a different layout (8-byte base header, 16-bit type and
            // sub-type, TLV metadata): it needs its own view, added here when
            // captures carrying it turn up. Until then it is reported, not guessed at.
            Version::V3 | Version::Unknown(_) => {
                return Err(Error::new(ErrorKind::Unsupported(version), field::VERSION))
            }
        }
        if b.len() < HEADER_LEN {
            return Err(Error::new(ErrorKind::Truncated, b.len()));
        }
        let header_len = usize::from(b[field::HDR_LEN]) * 4;
        if header_len < HEADER_LEN {
            return Err(Error::new(ErrorKind::Malformed, field::HDR_LEN));
        }
        if header_len > b.len() {
            return Err(Error::new(ErrorKind::Truncated, b.len()));
        }
        Ok(Packet { buffer })
    }

    /// The header version (always [`Version::V2`] once checked).
    pub fn version(&self) -> Version {
        Version::from(self.buffer.as_ref()[field::VERSION])
    }

    /// Header length in bytes, extra header words included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::HDR_LEN]) * 4
    }

    /// What the payload carries.
    pub fn payload_type(&self) -> PayloadType {
        PayloadType::from(self.buffer.as_ref()[field::TYPE])
    }

    /// Timeslot (0..7 on Um).
    pub fn timeslot(&self) -> u8 {
        self.buffer.as_ref()[field::TIMESLOT]
    }

    /// The raw ARFCN field, flags included.
    pub fn arfcn_field(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ARFCN.start)
    }

    /// The channel number, without flags.
    pub fn arfcn(&self) -> u16 {
        self.arfcn_field() & ARFCN_MASK
    }

    /// True when the phone sent it.
    pub fn is_uplink(&self) -> bool {
        self.arfcn_field() & ARFCN_F_UPLINK != 0
    }

    /// True for the PCS 1900 band.
    pub fn is_pcs(&self) -> bool {
        self.arfcn_field() & ARFCN_F_PCS != 0
    }

    /// Received signal level in dBm.
    pub fn signal_dbm(&self) -> i8 {
        self.buffer.as_ref()[field::SIGNAL_DBM] as i8
    }

    /// Signal-to-noise ratio in dB.
    pub fn snr_db(&self) -> i8 {
        self.buffer.as_ref()[field::SNR_DB] as i8
    }

    /// GSM TDMA frame number.
    pub fn frame_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::FRAME_NUMBER.start)
    }

    /// The raw sub-type (its meaning depends on [`Packet::payload_type`]).
    pub fn sub_type(&self) -> u8 {
        self.buffer.as_ref()[field::SUB_TYPE]
    }

    /// The sub-type read as a `Um` channel.
    pub fn um_sub_type(&self) -> SubType {
        SubType::from(self.sub_type())
    }

    /// Antenna number.
    pub fn antenna(&self) -> u8 {
        self.buffer.as_ref()[field::ANTENNA]
    }

    /// Sub-slot within the timeslot (SDCCH/4, SDCCH/8, TCH/H sub-channel).
    pub fn sub_slot(&self) -> u8 {
        self.buffer.as_ref()[field::SUB_SLOT]
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload, from `hdr_len × 4` to the end.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len()..]
    }
}

/// The owned form of a version-2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// What the payload carries.
    pub payload_type: PayloadType,
    /// Timeslot.
    pub timeslot: u8,
    /// Channel number (14 bits).
    pub arfcn: u16,
    /// PCS band flag.
    pub pcs: bool,
    /// Uplink flag.
    pub uplink: bool,
    /// Signal level in dBm.
    pub signal_dbm: i8,
    /// Signal-to-noise ratio in dB.
    pub snr_db: i8,
    /// TDMA frame number.
    pub frame_number: u32,
    /// Raw sub-type.
    pub sub_type: u8,
    /// Antenna number.
    pub antenna: u8,
    /// Sub-slot.
    pub sub_slot: u8,
}

impl Repr {
    /// Read the owned form from a checked packet (extra header words are not kept).
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            payload_type: p.payload_type(),
            timeslot: p.timeslot(),
            arfcn: p.arfcn(),
            pcs: p.is_pcs(),
            uplink: p.is_uplink(),
            signal_dbm: p.signal_dbm(),
            snr_db: p.snr_db(),
            frame_number: p.frame_number(),
            sub_type: p.sub_type(),
            antenna: p.antenna(),
            sub_slot: p.sub_slot(),
        }
    }

    /// Write a 16-byte version-2 header into the start of `buf` (at least [`HEADER_LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..HEADER_LEN].fill(0);
        buf[field::VERSION] = 2;
        buf[field::HDR_LEN] = (HEADER_LEN / 4) as u8;
        buf[field::TYPE] = self.payload_type.into();
        buf[field::TIMESLOT] = self.timeslot;
        let mut arfcn = self.arfcn & ARFCN_MASK;
        if self.pcs {
            arfcn |= ARFCN_F_PCS;
        }
        if self.uplink {
            arfcn |= ARFCN_F_UPLINK;
        }
        put16(buf, field::ARFCN.start, arfcn);
        buf[field::SIGNAL_DBM] = self.signal_dbm as u8;
        buf[field::SNR_DB] = self.snr_db as u8;
        put32(buf, field::FRAME_NUMBER.start, self.frame_number);
        buf[field::SUB_TYPE] = self.sub_type;
        buf[field::ANTENNA] = self.antenna;
        buf[field::SUB_SLOT] = self.sub_slot;
        buf[field::RESERVED] = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header of gr-gsm's `qa_message_printer` paging vector: CCCH on ARFCN 0,
    /// -55 dBm, FN 0x1d3ce5, sub-slot 1.
    const GRGSM_PCH_HEADER: [u8; 16] = [2, 4, 1, 0, 0, 0, 0xc9, 0, 0, 0x1d, 0x3c, 0xe5, 2, 0, 1, 0];

    fn sample() -> Repr {
        Repr {
            payload_type: PayloadType::Um,
            timeslot: 3,
            arfcn: 1017,
            pcs: false,
            uplink: true,
            signal_dbm: -31,
            snr_db: -4,
            frame_number: 0x0006_07ba,
            sub_type: u8::from(SubType { channel: Channel::Sdcch8, acch: true }),
            antenna: 1,
            sub_slot: 5,
        }
    }

    #[test]
    fn reads_a_published_header() {
        let p = Packet::new_checked(&GRGSM_PCH_HEADER[..]).unwrap();
        assert_eq!(p.version(), Version::V2);
        assert_eq!(p.payload_type(), PayloadType::Um);
        assert_eq!((p.arfcn(), p.is_uplink(), p.is_pcs()), (0, false, false));
        assert_eq!((p.signal_dbm(), p.snr_db()), (-55, 0));
        assert_eq!(p.frame_number(), 0x1d3ce5);
        assert_eq!(p.um_sub_type(), SubType { channel: Channel::Ccch, acch: false });
        assert_eq!(p.sub_slot(), 1);
        assert!(p.payload().is_empty());
    }

    #[test]
    fn round_trip_with_flags_and_signed_levels() {
        let repr = sample();
        let mut buf = [0u8; HEADER_LEN + 2];
        repr.emit(&mut buf);
        buf[HEADER_LEN..].copy_from_slice(&[0xaa, 0xbb]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Repr::parse(&p), repr);
        assert_eq!(p.arfcn_field(), 0x4000 | 1017);
        assert_eq!(p.payload(), &[0xaa, 0xbb]);
        assert_eq!(p.um_sub_type(), SubType { channel: Channel::Sdcch8, acch: true });
    }

    #[test]
    fn longer_header_is_skipped() {
        let mut buf = vec![0u8; 24];
        sample().emit(&mut buf);
        buf[1] = 5; // 20-byte header: 4 extra bytes before the payload
        buf[16..20].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        buf[20..].copy_from_slice(b"L3!!");
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.payload(), b"L3!!");
    }

    #[test]
    fn growing_prefix_and_bad_fields() {
        let mut buf = [0u8; HEADER_LEN];
        sample().emit(&mut buf);
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&buf[..n]).unwrap_err().kind, ErrorKind::Truncated, "prefix {n}");
        }
        let mut bad = buf;
        bad[1] = 3;
        assert_eq!(Packet::new_checked(&bad[..]).unwrap_err(), Error::new(ErrorKind::Malformed, 1));
        bad[1] = 6;
        assert_eq!(Packet::new_checked(&bad[..]).unwrap_err().kind, ErrorKind::Truncated);
        for v in [0u8, 1, 3, 0xff] {
            let mut bad = buf;
            bad[0] = v;
            assert_eq!(Packet::new_checked(&bad[..]).unwrap_err().kind, ErrorKind::Unsupported(v));
        }
    }

    #[test]
    fn open_enums_keep_unknown_values() {
        assert_eq!(PayloadType::from(0x12), PayloadType::LteNas);
        assert_eq!(PayloadType::from(0x42), PayloadType::Unknown(0x42));
        assert_eq!(u8::from(PayloadType::Unknown(0x42)), 0x42);
        assert_eq!(SubType::from(0x86), SubType { channel: Channel::Sdcch, acch: true });
        assert_eq!(SubType::from(0x3f).channel, Channel::Unknown(0x3f));
        for v in 0..=255u8 {
            assert_eq!(u8::from(SubType::from(v)), v);
        }
    }
}
