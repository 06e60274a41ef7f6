//! Information elements shared by GSM layer 3 and EPS NAS, and the identities
//! a subscriber or device is known by (TS 23.003).
//!
//! - BCD digit strings ([`Digits`]), bounded by a capacity checked before each
//!   digit is stored.
//! - Mobile Identity (TS 24.008 §10.5.1.4): octet 1 bits 1–3 type, bit 4
//!   odd/even, bits 5–8 the first digit; then BCD, low nibble first, with a
//!   filler nibble `1111` when the count is even. TMSI: 4 octets after the type
//!   octet.
//! - PLMN and Location Area Identification (§10.5.1.3): MCC and MNC in BCD, MNC
//!   digit 3 = `1111` for a two-digit MNC, then the LAC (u16 BE).
//! - Called and calling party BCD numbers (§10.5.4.7, §10.5.4.9) and the cause
//!   (§10.5.4.11).
//! - A walker over optional IEs (TS 24.007 §11.2.4).
//!
//! Every parser takes the IE's value (after IEI and length) and reports error
//! offsets relative to it; callers shift them to message offsets.

use std::cmp::Ordering;
use std::fmt;

use super::{Error, ErrorKind};
use crate::dissect::wire::{be16, be32, open_enum, put16, put32};

/// Most digits a mobile identity may hold (an IMEISV has 16).
pub const MAX_IDENTITY_DIGITS: usize = 20;
/// Most digits a called or calling party number may hold.
pub const MAX_NUMBER_DIGITS: usize = 40;

/// The digits of an IMSI, IMEI or IMEISV.
pub type IdentityDigits = Digits<MAX_IDENTITY_DIGITS>;
/// The digits of a called or calling party number.
pub type NumberDigits = Digits<MAX_NUMBER_DIGITS>;

/// The BCD alphabet of TS 24.008 table 10.5.118 (nibble values 0 to 14).
const BCD_ALPHABET: &[u8; 15] = b"0123456789*#abc";
/// The end mark / filler nibble.
const FILLER: u8 = 0x0f;

/// A short string of BCD digits, stored inline (a small `Copy` type).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digits<const N: usize> {
    len: u8,
    ascii: [u8; N],
}

impl<const N: usize> Digits<N> {
    /// An empty string.
    pub const fn new() -> Self {
        Digits { len: 0, ascii: [0; N] }
    }

    /// Build from text made of `0-9 * # a b c`; `None` for other characters or more than `N`.
    pub fn from_text(text: &str) -> Option<Self> {
        let mut d = Self::new();
        for c in text.bytes() {
            if !BCD_ALPHABET.contains(&c) || !d.push(c) {
                return None;
            }
        }
        Some(d)
    }

    /// The digits as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.ascii[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when there are no digits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when every digit is 0–9.
    pub fn is_decimal(&self) -> bool {
        self.as_str().bytes().all(|c| c.is_ascii_digit())
    }

    /// Append one character; false when full.
    fn push(&mut self, c: u8) -> bool {
        match self.ascii.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = c;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Append a nibble; `decimal_only` refuses `* # a b c`.
    fn push_nibble(&mut self, nibble: u8, decimal_only: bool, at: usize) -> Result<(), Error> {
        let limit = if decimal_only { 10 } else { BCD_ALPHABET.len() };
        let Some(&c) = BCD_ALPHABET[..limit].get(usize::from(nibble)) else {
            return Err(Error::new(ErrorKind::BadDigit, at));
        };
        if self.push(c) {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::TooLong, at))
        }
    }

    /// The nibble value of the digit at `i`.
    fn nibble(&self, i: usize) -> u8 {
        let c = self.ascii[i];
        BCD_ALPHABET.iter().position(|&x| x == c).map_or(FILLER, |p| p as u8)
    }
}

impl<const N: usize> Default for Digits<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PartialOrd for Digits<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize> Ord for Digits<N> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl<const N: usize> fmt::Display for Digits<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for Digits<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

open_enum! {
    /// Mobile identity types (TS 24.008 table 10.5.4).
    pub enum IdentityType(u8) {
        /// No identity.
        NoIdentity = 0,
        /// International mobile subscriber identity.
        Imsi = 1,
        /// International mobile equipment identity.
        Imei = 2,
        /// IMEI with software version.
        Imeisv = 3,
        /// Temporary identity (TMSI, P-TMSI or M-TMSI).
        Tmsi = 4,
        /// Temporary mobile group identity.
        Tmgi = 5,
    }
}

/// A decoded Mobile Identity IE (TS 24.008 §10.5.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MobileIdentity {
    /// "No identity" (dummy paging, or an identity the phone does not have).
    NoIdentity,
    /// IMSI digits.
    Imsi(IdentityDigits),
    /// IMEI digits.
    Imei(IdentityDigits),
    /// IMEISV digits.
    Imeisv(IdentityDigits),
    /// TMSI, P-TMSI or M-TMSI.
    Tmsi(u32),
    /// Another identity type (TMGI, reserved values), not decoded.
    Other(u8),
}

/// Length of a TMSI identity value: the type octet and 4 octets.
const TMSI_VALUE_LEN: usize = 5;

impl MobileIdentity {
    /// Decode the value of a Mobile Identity IE.
    pub fn parse(value: &[u8]) -> Result<MobileIdentity, Error> {
        let Some(&first) = value.first() else {
            return Err(Error::new(ErrorKind::Truncated, 0));
        };
        let kind = IdentityType::from(first & 0x07);
        Ok(match kind {
            IdentityType::NoIdentity => MobileIdentity::NoIdentity,
            IdentityType::Imsi | IdentityType::Imei | IdentityType::Imeisv => {
                let digits = identity_digits(value)?;
                match kind {
                    IdentityType::Imsi => MobileIdentity::Imsi(digits),
                    IdentityType::Imei => MobileIdentity::Imei(digits),
                    _ => MobileIdentity::Imeisv(digits),
                }
            }
            IdentityType::Tmsi => {
                if value.len() < TMSI_VALUE_LEN {
                    return Err(Error::new(ErrorKind::Truncated, value.len()));
                }
                if value.len() > TMSI_VALUE_LEN {
                    return Err(Error::new(ErrorKind::Malformed, TMSI_VALUE_LEN));
                }
                MobileIdentity::Tmsi(be32(value, 1))
            }
            IdentityType::Tmgi | IdentityType::Unknown(_) => MobileIdentity::Other(first & 0x07),
        })
    }

    /// The identity type.
    pub fn identity_type(&self) -> IdentityType {
        match self {
            MobileIdentity::NoIdentity => IdentityType::NoIdentity,
            MobileIdentity::Imsi(_) => IdentityType::Imsi,
            MobileIdentity::Imei(_) => IdentityType::Imei,
            MobileIdentity::Imeisv(_) => IdentityType::Imeisv,
            MobileIdentity::Tmsi(_) => IdentityType::Tmsi,
            MobileIdentity::Other(t) => IdentityType::from(*t),
        }
    }

    /// The subscriber or device identity it names, if any.
    pub fn identity(&self) -> Option<Identity> {
        match *self {
            MobileIdentity::Imsi(d) => Some(Identity::Imsi(d)),
            MobileIdentity::Imei(d) => Some(Identity::Imei(d)),
            MobileIdentity::Imeisv(d) => Some(Identity::Imeisv(d)),
            MobileIdentity::Tmsi(t) => Some(Identity::Tmsi(t)),
            MobileIdentity::NoIdentity | MobileIdentity::Other(_) => None,
        }
    }

    /// Length of the value [`MobileIdentity::emit`] writes.
    pub fn value_len(&self) -> usize {
        match self {
            MobileIdentity::Imsi(d) | MobileIdentity::Imei(d) | MobileIdentity::Imeisv(d) => 1 + d.len() / 2,
            MobileIdentity::Tmsi(_) => TMSI_VALUE_LEN,
            MobileIdentity::NoIdentity | MobileIdentity::Other(_) => 1,
        }
    }

    /// Write the IE value into the start of `buf` (at least [`MobileIdentity::value_len`]
    /// bytes); returns its length. Digits outside the BCD alphabet are written as filler.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let kind = u8::from(self.identity_type());
        match self {
            MobileIdentity::Imsi(d) | MobileIdentity::Imei(d) | MobileIdentity::Imeisv(d) => {
                let odd = d.len() % 2 == 1;
                let first = if d.is_empty() { FILLER } else { d.nibble(0) };
                buf[0] = (first << 4) | (u8::from(odd) << 3) | kind;
                for (k, slot) in buf[1..self.value_len()].iter_mut().enumerate() {
                    let lo = d.nibble(1 + 2 * k);
                    let hi = if 2 + 2 * k < d.len() { d.nibble(2 + 2 * k) } else { FILLER };
                    *slot = (hi << 4) | lo;
                }
            }
            MobileIdentity::Tmsi(t) => {
                buf[0] = 0xf0 | kind;
                put32(buf, 1, *t);
            }
            MobileIdentity::NoIdentity | MobileIdentity::Other(_) => buf[0] = 0xf0 | kind,
        }
        self.value_len()
    }
}

/// The BCD digits of an IMSI/IMEI/IMEISV value: the first digit in the high
/// nibble of the type octet, then low nibble first; with an even count the
/// last high nibble is filler (its value is not checked).
pub(crate) fn identity_digits(value: &[u8]) -> Result<IdentityDigits, Error> {
    let Some(&first) = value.first() else {
        return Err(Error::new(ErrorKind::Truncated, 0));
    };
    let odd = first & 0x08 != 0;
    let slots = 2 * value.len() - 1;
    let count = if odd { slots } else { slots - 1 };
    let mut digits = IdentityDigits::new();
    for i in 0..count {
        // Slot 0 is octet 0's high nibble; octet k then gives slot 2k-1 (low
        // nibble) and slot 2k (high nibble).
        let octet = i.div_ceil(2);
        let nibble = if i % 2 == 1 { value[octet] & 0x0f } else { value[octet] >> 4 };
        digits.push_nibble(nibble, true, octet)?;
    }
    if digits.is_empty() {
        return Err(Error::new(ErrorKind::Malformed, 0));
    }
    Ok(digits)
}

/// A public land mobile network: MCC and MNC (TS 24.008 §10.5.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Plmn {
    /// Mobile country code, 0–999.
    pub mcc: u16,
    /// Mobile network code, 0–999.
    pub mnc: u16,
    /// True when the MNC has three digits (`001-002` is not `001-02`).
    pub three_digit_mnc: bool,
}

/// Encoded length of a PLMN.
pub const PLMN_LEN: usize = 3;

impl Plmn {
    /// Decode the 3 BCD octets.
    pub fn parse(b: &[u8]) -> Result<Plmn, Error> {
        if b.len() < PLMN_LEN {
            return Err(Error::new(ErrorKind::Truncated, b.len()));
        }
        let digit = |nibble: u8, at: usize| {
            if nibble < 10 {
                Ok(u16::from(nibble))
            } else {
                Err(Error::new(ErrorKind::BadDigit, at))
            }
        };
        let mcc = digit(b[0] & 0x0f, 0)? * 100 + digit(b[0] >> 4, 0)? * 10 + digit(b[1] & 0x0f, 1)?;
        let mnc12 = digit(b[2] & 0x0f, 2)? * 10 + digit(b[2] >> 4, 2)?;
        let mnc3 = b[1] >> 4;
        Ok(if mnc3 == FILLER {
            Plmn { mcc, mnc: mnc12, three_digit_mnc: false }
        } else {
            Plmn { mcc, mnc: mnc12 * 10 + digit(mnc3, 1)?, three_digit_mnc: true }
        })
    }

    /// Write the 3 BCD octets into the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        let d = |v: u16, p: u16| (v / p % 10) as u8;
        buf[0] = (d(self.mcc, 10) << 4) | d(self.mcc, 100);
        let (mnc1, mnc2, mnc3) = if self.three_digit_mnc {
            (d(self.mnc, 100), d(self.mnc, 10), d(self.mnc, 1))
        } else {
            (d(self.mnc, 10), d(self.mnc, 1), FILLER)
        };
        buf[1] = (mnc3 << 4) | d(self.mcc, 1);
        buf[2] = (mnc2 << 4) | mnc1;
    }
}

impl fmt::Display for Plmn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.three_digit_mnc {
            write!(f, "{:03}-{:03}", self.mcc, self.mnc)
        } else {
            write!(f, "{:03}-{:02}", self.mcc, self.mnc)
        }
    }
}

/// Location Area Identification (TS 24.008 §10.5.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lai {
    /// The network.
    pub plmn: Plmn,
    /// Location area code.
    pub lac: u16,
}

/// Encoded length of a LAI.
pub const LAI_LEN: usize = 5;

impl Lai {
    /// Decode the 5 octets.
    pub fn parse(b: &[u8]) -> Result<Lai, Error> {
        if b.len() < LAI_LEN {
            return Err(Error::new(ErrorKind::Truncated, b.len()));
        }
        Ok(Lai { plmn: Plmn::parse(b)?, lac: be16(b, PLMN_LEN) })
    }

    /// Write the 5 octets into the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        self.plmn.emit(buf);
        put16(buf, PLMN_LEN, self.lac);
    }
}

impl fmt::Display for Lai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.plmn, self.lac)
    }
}

/// An EPS globally unique temporary identity (TS 23.003 §2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guti {
    /// The network.
    pub plmn: Plmn,
    /// MME group identity.
    pub mme_group_id: u16,
    /// MME code.
    pub mme_code: u8,
    /// M-TMSI.
    pub m_tmsi: u32,
}

impl fmt::Display for Guti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}-0x{:08x}", self.plmn, self.mme_group_id, self.mme_code, self.m_tmsi)
    }
}

/// A subscriber or device identity, whatever message or RAT it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    /// Subscriber (SIM) identity.
    Imsi(IdentityDigits),
    /// Device identity.
    Imei(IdentityDigits),
    /// Device identity with software version.
    Imeisv(IdentityDigits),
    /// Temporary identity: TMSI, P-TMSI or M-TMSI.
    Tmsi(u32),
    /// EPS temporary identity.
    Guti(Guti),
}

impl Identity {
    /// `imsi`, `imei`, `imeisv`, `tmsi` or `guti`.
    pub fn kind(&self) -> &'static str {
        match self {
            Identity::Imsi(_) => "imsi",
            Identity::Imei(_) => "imei",
            Identity::Imeisv(_) => "imeisv",
            Identity::Tmsi(_) => "tmsi",
            Identity::Guti(_) => "guti",
        }
    }
}

impl fmt::Display for Identity {
    /// Digits for IMSI/IMEI/IMEISV, `0x`-hex for TMSI, `MCC-MNC-MMEGI-MMEC-0xMTMSI` for GUTI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Imsi(d) | Identity::Imei(d) | Identity::Imeisv(d) => f.write_str(d.as_str()),
            Identity::Tmsi(t) => write!(f, "0x{t:08x}"),
            Identity::Guti(g) => g.fmt(f),
        }
    }
}

open_enum! {
    /// Type of number of a BCD number (TS 24.008 §10.5.4.7).
    pub enum TypeOfNumber(u8) {
        /// Unknown: the digits are dialled as is.
        Unspecified = 0,
        /// International number (E.164, country code first).
        International = 1,
        /// National number.
        National = 2,
        /// Network-specific number.
        NetworkSpecific = 3,
        /// Dedicated access, short code.
        DedicatedAccess = 4,
    }
}

/// A called or calling party BCD number (TS 24.008 §10.5.4.7, §10.5.4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BcdNumber {
    /// Type of number.
    pub type_of_number: TypeOfNumber,
    /// Numbering plan identification (1 = ISDN/E.164).
    pub numbering_plan: u8,
    /// Presentation indicator (calling party octet 3a), when present.
    pub presentation: Option<u8>,
    /// The digits (`0-9 * # a b c`).
    pub digits: NumberDigits,
}

impl BcdNumber {
    /// Decode the value of a called/calling party BCD number IE.
    pub fn parse(value: &[u8]) -> Result<BcdNumber, Error> {
        let Some(&octet3) = value.first() else {
            return Err(Error::new(ErrorKind::Truncated, 0));
        };
        let mut pos = 1;
        let mut presentation = None;
        // Extension bit 0: octet 3a (presentation and screening) follows.
        if octet3 & 0x80 == 0 {
            let Some(&octet3a) = value.get(1) else {
                return Err(Error::new(ErrorKind::Truncated, 1));
            };
            presentation = Some((octet3a >> 5) & 0x03);
            pos = 2;
        }
        let mut digits = NumberDigits::new();
        let bcd = &value[pos..];
        for (k, &octet) in bcd.iter().enumerate() {
            let at = pos + k;
            digits.push_nibble(octet & 0x0f, false, at)?;
            let hi = octet >> 4;
            // The end mark may only close the number, in the last nibble.
            if hi == FILLER && k + 1 == bcd.len() {
                break;
            }
            digits.push_nibble(hi, false, at)?;
        }
        Ok(BcdNumber {
            type_of_number: TypeOfNumber::from((octet3 >> 4) & 0x07),
            numbering_plan: octet3 & 0x0f,
            presentation,
            digits,
        })
    }

    /// The number with a leading `+` when it is international.
    pub fn to_e164_string(&self) -> String {
        match self.type_of_number {
            TypeOfNumber::International => format!("+{}", self.digits),
            _ => self.digits.to_string(),
        }
    }
}

/// A call control cause (TS 24.008 §10.5.4.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cause {
    /// Coding standard (0 = ITU-T Q.931).
    pub coding: u8,
    /// Where the cause was generated (0 user, 1 private network near the user, …).
    pub location: u8,
    /// The cause value (16 normal call clearing, 17 user busy, …).
    pub value: u8,
}

impl Cause {
    /// Decode the value of a cause IE.
    pub fn parse(value: &[u8]) -> Result<Cause, Error> {
        let Some(&octet3) = value.first() else {
            return Err(Error::new(ErrorKind::Truncated, 0));
        };
        // Extension bit 0: octet 3a (recommendation) follows before the cause value.
        let at = if octet3 & 0x80 == 0 { 2 } else { 1 };
        let Some(&octet4) = value.get(at) else {
            return Err(Error::new(ErrorKind::Truncated, value.len()));
        };
        Ok(Cause { coding: (octet3 >> 5) & 0x03, location: octet3 & 0x0f, value: octet4 & 0x7f })
    }
}

/// An optional information element found by [`Ies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ie<'a> {
    /// The IEI octet (for a half-octet IEI, the whole octet, value included).
    pub iei: u8,
    /// The value: empty for single-octet IEs, the fixed part after the IEI for
    /// TV IEs, the contents after the length for TLV and TLV-E IEs.
    pub value: &'a [u8],
    /// Offset of `value` in the message.
    pub offset: usize,
}

/// How the optional IEs of one message are coded where the IEI alone does not tell.
#[derive(Debug, Clone, Copy)]
pub struct IeFormat {
    /// IEIs below 0x80 that are TV with a fixed total length (IEI included).
    pub tv: &'static [(u8, usize)],
    /// True for EPS NAS, where IEIs 0x70–0x7f are TLV-E (16-bit length).
    pub tlv_e: bool,
}

impl IeFormat {
    /// All IEIs below 0x80 are TLV.
    pub const TLV: IeFormat = IeFormat { tv: &[], tlv_e: false };
}

/// A walker over the optional IEs of a message (TS 24.007 §11.2.4): IEIs with
/// bit 8 set are one octet (types 1 and 2), listed TV IEIs have a fixed length,
/// the rest are TLV (or TLV-E).
///
/// An IE cut short ends the walk (radio captures often carry padding after the
/// last IE); [`Ies::truncated_at`] tells where.
#[derive(Debug, Clone)]
pub struct Ies<'a> {
    msg: &'a [u8],
    pos: usize,
    format: IeFormat,
    truncated_at: Option<usize>,
}

impl<'a> Ies<'a> {
    /// Walk `msg` from `start`.
    pub fn new(msg: &'a [u8], start: usize, format: IeFormat) -> Ies<'a> {
        Ies { msg, pos: start, format, truncated_at: None }
    }

    /// Where an IE ran past the end of the message, if one did.
    pub fn truncated_at(&self) -> Option<usize> {
        self.truncated_at
    }
}

impl<'a> Iterator for Ies<'a> {
    type Item = Ie<'a>;

    fn next(&mut self) -> Option<Ie<'a>> {
        let start = self.pos;
        let &iei = self.msg.get(start)?;
        let (value_at, value_len) = if iei & 0x80 != 0 {
            (start + 1, 0)
        } else if let Some(&(_, total)) = self.format.tv.iter().find(|(i, _)| *i == iei) {
            (start + 1, total.saturating_sub(1))
        } else if self.format.tlv_e && iei & 0xf0 == 0x70 {
            match self.msg.get(start + 1..start + 3) {
                Some(l) => (start + 3, usize::from(be16(l, 0))),
                None => (self.msg.len() + 1, 0),
            }
        } else {
            match self.msg.get(start + 1) {
                Some(&l) => (start + 2, usize::from(l)),
                None => (self.msg.len() + 1, 0),
            }
        };
        match self.msg.get(value_at..value_at + value_len) {
            Some(value) => {
                self.pos = value_at + value_len;
                Some(Ie { iei, value, offset: value_at })
            }
            None => {
                self.truncated_at = Some(start);
                self.pos = self.msg.len();
                None
            }
        }
    }
}

/// A cursor over the mandatory part of a message; errors carry message offsets.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(msg: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { msg, pos }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.msg.get(self.pos).copied()
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        let b = self.peek().ok_or(Error::new(ErrorKind::Truncated, self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let v = self.msg.get(self.pos..self.pos + n).ok_or(Error::new(ErrorKind::Truncated, self.msg.len()))?;
        self.pos += n;
        Ok(v)
    }

    /// An LV element: returns the value and its offset.
    pub(crate) fn lv(&mut self) -> Result<(&'a [u8], usize), Error> {
        let len = usize::from(self.u8()?);
        let at = self.pos;
        Ok((self.take(len)?, at))
    }

    /// An LV-E element (16-bit length).
    pub(crate) fn lv_e(&mut self) -> Result<(&'a [u8], usize), Error> {
        let len = usize::from(be16(self.take(2)?, 0));
        let at = self.pos;
        Ok((self.take(len)?, at))
    }

    /// An LV mobile identity.
    pub(crate) fn mobile_identity(&mut self) -> Result<MobileIdentity, Error> {
        let (value, at) = self.lv()?;
        MobileIdentity::parse(value).map_err(|e| e.shifted(at))
    }

    /// A 5-octet LAI.
    pub(crate) fn lai(&mut self) -> Result<Lai, Error> {
        let at = self.pos;
        Lai::parse(self.take(LAI_LEN)?).map_err(|e| e.shifted(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn digits(s: &str) -> IdentityDigits {
        IdentityDigits::from_text(s).unwrap()
    }

    /// libosmocore `tests/gsm0408/gsm0408_test.c` mobile identity vectors (TLV
    /// hex with IEI 0x17 and length) and osmo-msc's test IMSI.
    #[test]
    fn mobile_identity_published_vectors() {
        let cases = [
            ("17081932547698103254", MobileIdentity::Imsi(digits("123456789012345"))),
            ("170811325476981032f4", MobileIdentity::Imsi(digits("12345678901234"))),
            ("1704413224f3", MobileIdentity::Imsi(digits("423423"))),
            ("170449322453", MobileIdentity::Imsi(digits("4234235"))),
            ("17081a32547698103254", MobileIdentity::Imei(digits("123456789012345"))),
            ("170892785634129078f6", MobileIdentity::Imei(digits("98765432109876"))),
            ("17089a78563412907856", MobileIdentity::Imei(digits("987654321098765"))),
            ("170a937856341290785634f2", MobileIdentity::Imeisv(digits("987654321098765432"))),
            ("1705f412345678", MobileIdentity::Tmsi(0x1234_5678)),
            ("1705f400c0ffee", MobileIdentity::Tmsi(0x00c0_ffee)),
            ("1705f400000000", MobileIdentity::Tmsi(0)),
            ("17089910070000006402", MobileIdentity::Imsi(digits("901700000004620"))),
        ];
        for (tlv, want) in cases {
            let b = hex(tlv);
            assert_eq!(usize::from(b[1]), b.len() - 2, "{tlv}");
            assert_eq!(MobileIdentity::parse(&b[2..]), Ok(want), "{tlv}");
            let mut out = vec![0u8; want.value_len()];
            assert_eq!(want.emit(&mut out), b.len() - 2);
            assert_eq!(out, &b[2..], "emit {tlv}");
        }
    }

    #[test]
    fn mobile_identity_bad_digits_and_lengths() {
        // An even-count IMEISV whose last digit slot holds 0xF (nibble-swapped bytes).
        let v = hex("33512345678901234f");
        assert_eq!(MobileIdentity::parse(&v), Err(Error::new(ErrorKind::BadDigit, 8)));
        assert_eq!(MobileIdentity::parse(&hex("19a1")), Err(Error::new(ErrorKind::BadDigit, 1)));
        assert_eq!(MobileIdentity::parse(&[]), Err(Error::new(ErrorKind::Truncated, 0)));
        assert_eq!(MobileIdentity::parse(&hex("f4123456")), Err(Error::new(ErrorKind::Truncated, 4)));
        assert_eq!(MobileIdentity::parse(&hex("f412345678aa")), Err(Error::new(ErrorKind::Malformed, 5)));
        assert_eq!(MobileIdentity::parse(&hex("01")), Err(Error::new(ErrorKind::Malformed, 0)));
        assert_eq!(MobileIdentity::parse(&[0x19; 11]), Err(Error::new(ErrorKind::TooLong, 10)));
        assert_eq!(MobileIdentity::parse(&hex("f0")), Ok(MobileIdentity::NoIdentity));
        assert_eq!(MobileIdentity::parse(&hex("f5aabbcc")), Ok(MobileIdentity::Other(5)));
    }

    #[test]
    fn plmn_and_lai_published_vectors() {
        // libosmocore gsm0408_test: gsm48_generate_lai2() encodings.
        let cases = [
            ("701721029a", Plmn { mcc: 77, mnc: 121, three_digit_mnc: true }, 666),
            ("80f489000b", Plmn { mcc: 84, mnc: 98, three_digit_mnc: false }, 11),
            ("00f0000000", Plmn { mcc: 0, mnc: 0, three_digit_mnc: false }, 0),
            ("0000000000", Plmn { mcc: 0, mnc: 0, three_digit_mnc: true }, 0),
            ("999999ffff", Plmn { mcc: 999, mnc: 999, three_digit_mnc: true }, 65535),
            ("00f1200017", Plmn { mcc: 1, mnc: 2, three_digit_mnc: false }, 23),
            ("0021000017", Plmn { mcc: 1, mnc: 2, three_digit_mnc: true }, 23),
            ("10f2430038", Plmn { mcc: 12, mnc: 34, three_digit_mnc: false }, 56),
            ("1042300017", Plmn { mcc: 12, mnc: 34, three_digit_mnc: true }, 23),
            ("2163540017", Plmn { mcc: 123, mnc: 456, three_digit_mnc: true }, 23),
        ];
        for (h, plmn, lac) in cases {
            let b = hex(h);
            let lai = Lai { plmn, lac };
            assert_eq!(Lai::parse(&b), Ok(lai), "{h}");
            let mut out = [0u8; LAI_LEN];
            lai.emit(&mut out);
            assert_eq!(out[..], b[..], "emit {h}");
        }
        assert_eq!(Plmn { mcc: 1, mnc: 2, three_digit_mnc: true }.to_string(), "001-002");
        assert_eq!(Plmn { mcc: 208, mnc: 10, three_digit_mnc: false }.to_string(), "208-10");
        assert_eq!(Plmn::parse(&hex("0af120")), Err(Error::new(ErrorKind::BadDigit, 0)));
        assert_eq!(Lai::parse(&hex("00f12000")), Err(Error::new(ErrorKind::Truncated, 4)));
    }

    #[test]
    fn bcd_numbers() {
        // osmo-msc msc_vlr_test_call: called party "5e 03 81 21 f3" = "123", unknown type, ISDN.
        let n = BcdNumber::parse(&hex("8121f3")).unwrap();
        assert_eq!((n.type_of_number, n.numbering_plan, n.digits.as_str()), (TypeOfNumber::Unspecified, 1, "123"));
        // The end mark anywhere but in the last nibble is a bad digit.
        assert_eq!(BcdNumber::parse(&hex("9144775801060f")), Err(Error::new(ErrorKind::BadDigit, 6)));
        let n = BcdNumber::parse(&hex("91447758100650")).unwrap();
        assert_eq!((n.type_of_number, n.to_e164_string().as_str()), (TypeOfNumber::International, "+447785016005"));
        // Calling party with octet 3a (presentation restricted).
        let n = BcdNumber::parse(&hex("21a3103254")).unwrap();
        assert_eq!((n.type_of_number, n.presentation, n.digits.as_str()), (TypeOfNumber::National, Some(1), "012345"));
        assert_eq!(BcdNumber::parse(&hex("a1ba")).unwrap().digits.as_str(), "*#");
        assert_eq!(BcdNumber::parse(&hex("21")).unwrap_err(), Error::new(ErrorKind::Truncated, 1));
    }

    #[test]
    fn cause_values() {
        assert_eq!(Cause::parse(&hex("e090")), Ok(Cause { coding: 3, location: 0, value: 16 }));
        assert_eq!(Cause::parse(&hex("60029f")), Ok(Cause { coding: 3, location: 0, value: 31 }));
        assert_eq!(Cause::parse(&hex("e0")), Err(Error::new(ErrorKind::Truncated, 1)));
    }

    #[test]
    fn ie_walker() {
        // Half-octet, TV (0x34, 2 octets), TLV, then an IE cut short.
        let msg = hex("0000a134015e038121f31502");
        let format = IeFormat { tv: &[(0x34, 2)], tlv_e: false };
        let mut ies = Ies::new(&msg, 2, format);
        let got: Vec<(u8, Vec<u8>, usize)> = ies.by_ref().map(|ie| (ie.iei, ie.value.to_vec(), ie.offset)).collect();
        assert_eq!(got, vec![(0xa1, vec![], 3), (0x34, vec![0x01], 4), (0x5e, hex("8121f3"), 7)]);
        assert_eq!(ies.truncated_at(), Some(10));
        let msg = hex("78000201027b00");
        let got: Vec<u8> = Ies::new(&msg, 0, IeFormat { tv: &[], tlv_e: true }).map(|ie| ie.iei).collect();
        assert_eq!(got, vec![0x78]);
    }

    #[test]
    fn digits_order_and_capacity() {
        let a = IdentityDigits::from_text("9").unwrap();
        let b = IdentityDigits::from_text("10").unwrap();
        assert!(b < a, "ordered as text, not by length");
        assert!(IdentityDigits::from_text("123456789012345678901").is_none());
        assert!(IdentityDigits::from_text("12x").is_none());
        assert_eq!(format!("{:?}", b), "\"10\"");
    }
}
