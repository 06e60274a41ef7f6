//! Subscriber and equipment identifiers, validated on construction.
//!
//! The probe reads these from the wire (a GoIP keep-alive carries the IMEI,
//! IMSI and ICCID of a channel; SIP carries MSISDNs) and the agent stores and
//! shows them. Each type checks its format once, in `parse`, and afterwards
//! is known-good: digits only, the right length, a right check digit where
//! the format has one.
//!
//! | Type         | Format                                              | Reference            |
//! |--------------|-----------------------------------------------------|----------------------|
//! | [`Imsi`]     | MCC (3) + MNC (2 or 3) + MSIN, 14–15 digits         | 3GPP TS 23.003 2.2   |
//! | [`Imei`]     | TAC (8) + SNR (6) + Luhn check digit, 15 digits     | 3GPP TS 23.003 6.2.1 |
//! | [`Iccid`]    | `89` + country + issuer + account (+ Luhn), 18–20   | ITU-T E.118          |
//! | [`Msisdn`]   | E.164 country code + national number, ≤ 15 digits   | ITU-T E.164          |
//! | [`ResidentId`] | 6 region + 8 birth date + 3 sequence + check char | GB 11643-1999        |
//!
//! Every type serialises as a plain string and validates when deserialised
//! (`#[serde(try_from = "String", into = "String")]`). Errors name what was
//! wrong: the length, the first non-digit and its position, or the check digit
//! expected and found ([`IdError`]).
//!
//! Two identifiers come from equipment that SIM-box operators control, and a
//! forged value is itself evidence: GoIP gateways rewrite their IMEIs, often
//! with a wrong check digit. So [`Imei`] and [`Iccid`] have a strict `parse`
//! (rejects a wrong check digit) and a `parse_lenient` (keeps it, and
//! `is_luhn_valid` tells). Deserialisation is lenient for these two so that a
//! recorded forged IMEI survives a round trip through JSON; it still checks
//! length, digits and prefix.
//!
//! No I/O and no clock here: [`ResidentId`] checks that its birth date is a
//! real calendar date in a plausible range, not that it is in the past.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which identifier type an [`IdError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdKind {
    /// [`Imsi`].
    Imsi,
    /// [`Imei`].
    Imei,
    /// [`Iccid`].
    Iccid,
    /// [`Msisdn`].
    Msisdn,
    /// [`ResidentId`].
    ResidentId,
}

impl IdKind {
    /// Display name, e.g. `IMSI`.
    pub fn name(self) -> &'static str {
        match self {
            IdKind::Imsi => "IMSI",
            IdKind::Imei => "IMEI",
            IdKind::Iccid => "ICCID",
            IdKind::Msisdn => "MSISDN",
            IdKind::ResidentId => "resident ID",
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What was wrong with an identifier string. Positions count characters from
/// 0 at the start of the string that was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum IdErrorKind {
    /// The string has the wrong number of characters.
    #[error("{len} characters, expected {expected}")]
    Length {
        /// Characters found.
        len: usize,
        /// What the format allows, for people (e.g. `"14 or 15"`).
        expected: &'static str,
    },
    /// A character that must be a digit is not.
    #[error("{found:?} at position {position} is not a digit")]
    NonDigit {
        /// 0-based character position.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The check digit (or character) disagrees with the others.
    #[error("bad check digit: expected {expected}, got {got}")]
    CheckDigit {
        /// The check digit the other digits call for.
        expected: char,
        /// The check digit the string holds.
        got: char,
    },
    /// The string lacks a prefix the format requires (ICCID: `89`).
    #[error("does not start with {expected}")]
    Prefix {
        /// The required prefix.
        expected: &'static str,
    },
    /// A resident ID's birth date is not a calendar date from 1900 to 2099.
    #[error("implausible birth date {year:04}-{month:02}-{day:02}")]
    BirthDate {
        /// Year as written.
        year: u16,
        /// Month as written.
        month: u8,
        /// Day as written.
        day: u8,
    },
    /// The number fits no numbering rule this module knows (MSISDN).
    #[error("{reason}")]
    Format {
        /// Why, for people.
        reason: &'static str,
    },
}

impl IdErrorKind {
    /// Stable snake_case name, used as a counter key.
    pub fn name(&self) -> &'static str {
        match self {
            IdErrorKind::Length { .. } => "id_length",
            IdErrorKind::NonDigit { .. } => "id_non_digit",
            IdErrorKind::CheckDigit { .. } => "id_check_digit",
            IdErrorKind::Prefix { .. } => "id_prefix",
            IdErrorKind::BirthDate { .. } => "id_birth_date",
            IdErrorKind::Format { .. } => "id_format",
        }
    }
}

/// Why a string is not a valid identifier of some type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("invalid {id}: {kind}")]
pub struct IdError {
    /// The identifier type that was being parsed.
    pub id: IdKind,
    /// What was wrong.
    pub kind: IdErrorKind,
}

/// This module's error type under the house name.
pub type Error = IdError;

impl IdError {
    fn new(id: IdKind, kind: IdErrorKind) -> Self {
        IdError { id, kind }
    }
}

/// Up to `N` ASCII characters stored inline, so identifiers are `Copy` and
/// never allocate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Ascii<const N: usize> {
    buf: [u8; N],
    len: u8,
}

impl<const N: usize> Ascii<N> {
    /// Copies at most `N` bytes; callers pass validated ASCII.
    fn new(bytes: &[u8]) -> Self {
        let mut buf = [0u8; N];
        let len = bytes.len().min(N);
        buf[..len].copy_from_slice(&bytes[..len]);
        Ascii { buf, len: len as u8 }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    fn as_str(&self) -> &str {
        // Only ASCII is ever stored, so this cannot fail.
        std::str::from_utf8(self.bytes()).unwrap_or("")
    }

    fn slice(&self, from: usize, to: usize) -> &str {
        self.as_str().get(from..to).unwrap_or("")
    }
}

/// Checks the character count, then that every character is an ASCII digit;
/// returns the digits as bytes.
fn digits<'a>(
    id: IdKind,
    s: &'a str,
    lens: std::ops::RangeInclusive<usize>,
    expected: &'static str,
) -> Result<&'a [u8], IdError> {
    let len = s.chars().count();
    if !lens.contains(&len) {
        return Err(IdError::new(id, IdErrorKind::Length { len, expected }));
    }
    first_non_digit(id, s, 0)?;
    Ok(s.as_bytes())
}

/// Fails on the first non-digit, reporting its character position plus `base`.
fn first_non_digit(id: IdKind, s: &str, base: usize) -> Result<(), IdError> {
    match s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, found)) => Err(IdError::new(id, IdErrorKind::NonDigit { position: base + i, found })),
        None => Ok(()),
    }
}

/// The Luhn (ISO/IEC 7812-1 annex B) check digit for `payload`, which must be
/// ASCII digits: double every second digit from the right, starting with the
/// rightmost, sum the digits of the results.
fn luhn_check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| {
            let d = u32::from(c.wrapping_sub(b'0') % 10);
            if i % 2 == 0 {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    b'0' + ((10 - sum % 10) % 10) as u8
}

/// Whether the last digit of `full` is the Luhn check digit of the rest.
fn luhn_valid(full: &[u8]) -> bool {
    match full.split_last() {
        Some((&last, payload)) => luhn_check_digit(payload) == last,
        None => false,
    }
}

/// Implements Display, FromStr, TryFrom<String> and From<T> for String.
macro_rules! string_id {
    ($ty:ident, $from_str:path, $serde_from:path) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $from_str(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                $serde_from(&s)
            }
        }

        impl From<$ty> for String {
            fn from(id: $ty) -> String {
                id.as_str().to_owned()
            }
        }
    };
}

// ---------------------------------------------------------------------------
// IMSI

/// MCCs whose networks use three-digit MNCs (ITU-T E.212 assignments as
/// published in the ITU Operational Bulletin): Canada, USA (310–316), Mexico,
/// the Caribbean NANP members, India's 405 range, Honduras, Argentina,
/// Colombia and the Falklands. A few of these ranges (405, 732) also hold
/// some two-digit MNCs; the IMSI alone cannot tell (the SIM says, in EF_AD),
/// so this table is a best effort and errs towards three digits there.
const THREE_DIGIT_MNC_MCCS: &[u16] = &[
    302, 310, 311, 312, 313, 314, 315, 316, 334, 338, 342, 344, 346, 348, 352, 354, 356, 358, 360, 365, 366, 376, 405,
    708, 722, 732, 750,
];

/// China's mobile network codes (MCC 460, all two digits) and their operators.
const CHINA_MNCS: &[(&str, &str)] = &[
    ("00", "China Mobile"),
    ("01", "China Unicom"),
    ("02", "China Mobile"),
    ("03", "China Telecom"),
    ("05", "China Telecom"),
    ("06", "China Unicom"),
    ("07", "China Mobile"),
    ("08", "China Mobile"),
    ("09", "China Unicom"),
    ("11", "China Telecom"),
    ("15", "China Broadnet"),
    ("20", "China Tietong"),
];

/// An International Mobile Subscriber Identity (3GPP TS 23.003 2.2):
/// MCC (3 digits) + MNC (2 or 3) + MSIN, 14 or 15 digits in all.
///
/// The MNC length is not encoded in the IMSI. [`Imsi::mnc`] uses two digits
/// for China (460, every assigned MNC is two digits) and for every MCC not in
/// a small table of countries known to use three (302, 310–316, 334, 338, the
/// Caribbean 342–376, 405, 708, 722, 732, 750).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Imsi(Ascii<15>);

impl Imsi {
    /// Shortest IMSI accepted.
    pub const MIN_LEN: usize = 14;
    /// Longest IMSI (TS 23.003 2.2: at most 15 digits).
    pub const MAX_LEN: usize = 15;

    /// Parses 14 or 15 digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let d = digits(IdKind::Imsi, s, Self::MIN_LEN..=Self::MAX_LEN, "14 or 15")?;
        Ok(Imsi(Ascii::new(d)))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Mobile Country Code: the first three digits.
    pub fn mcc(&self) -> &str {
        self.0.slice(0, 3)
    }

    /// The MCC as a number.
    pub fn mcc_number(&self) -> u16 {
        self.mcc().parse().unwrap_or(0)
    }

    /// How many digits the MNC has, by country (see the type docs).
    pub fn mnc_len(&self) -> usize {
        if THREE_DIGIT_MNC_MCCS.contains(&self.mcc_number()) {
            3
        } else {
            2
        }
    }

    /// Mobile Network Code: two or three digits after the MCC.
    pub fn mnc(&self) -> &str {
        self.0.slice(3, 3 + self.mnc_len())
    }

    /// Mobile Subscriber Identification Number: the rest.
    pub fn msin(&self) -> &str {
        self.0.slice(3 + self.mnc_len(), usize::from(self.0.len))
    }

    /// The Chinese operator for MCC 460 and a known MNC.
    pub fn cn_operator(&self) -> Option<&'static str> {
        if self.mcc() != "460" {
            return None;
        }
        CHINA_MNCS.iter().find(|(mnc, _)| *mnc == self.mnc()).map(|(_, name)| *name)
    }
}

impl fmt::Debug for Imsi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Imsi({})", self.as_str())
    }
}

string_id!(Imsi, Imsi::parse, Imsi::parse);

// ---------------------------------------------------------------------------
// IMEI

/// An International Mobile Equipment Identity (3GPP TS 23.003 6.2.1): Type
/// Allocation Code (8 digits) + serial number (6) + Luhn check digit.
///
/// [`Imei::parse`] is strict; [`Imei::parse_lenient`] and deserialisation
/// keep a wrong check digit, which [`Imei::is_luhn_valid`] then reports
/// (gateways that rewrite their IMEI often get it wrong).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Imei(Ascii<15>);

impl Imei {
    /// Digits in an IMEI with its check digit.
    pub const LEN: usize = 15;

    /// Parses 15 digits with a right check digit, or 14 digits (the check
    /// digit is computed and appended).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let imei = Self::parse_lenient(s)?;
        if !imei.is_luhn_valid() {
            let b = imei.0.bytes();
            let expected = char::from(luhn_check_digit(&b[..14]));
            let got = char::from(b[14]);
            return Err(IdError::new(IdKind::Imei, IdErrorKind::CheckDigit { expected, got }));
        }
        Ok(imei)
    }

    /// Like [`Imei::parse`] but keeps a wrong check digit.
    pub fn parse_lenient(s: &str) -> Result<Self, IdError> {
        let d = digits(IdKind::Imei, s, 14..=15, "14 or 15")?;
        Ok(Self::from_digits(d))
    }

    /// Splits an IMEISV (TAC + SNR + 2-digit software version, 16 digits, no
    /// check digit; TS 23.003 6.2.2) into the IMEI (check digit computed) and
    /// the software version number.
    pub fn from_imeisv(s: &str) -> Result<(Self, u8), IdError> {
        let d = digits(IdKind::Imei, s, 16..=16, "16 (IMEISV)")?;
        let svn = (d[14] - b'0') * 10 + (d[15] - b'0');
        Ok((Self::from_digits(&d[..14]), svn))
    }

    /// From 14 or 15 validated digits.
    fn from_digits(d: &[u8]) -> Self {
        let mut buf = [0u8; 15];
        let n = d.len().min(15);
        buf[..n].copy_from_slice(&d[..n]);
        if n == 14 {
            buf[14] = luhn_check_digit(&d[..14]);
        }
        Imei(Ascii { buf, len: 15 })
    }

    /// The 15 digits.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Type Allocation Code: the first 8 digits (identifies make and model).
    pub fn tac(&self) -> &str {
        self.0.slice(0, 8)
    }

    /// Serial number: digits 9 to 14.
    pub fn serial(&self) -> &str {
        self.0.slice(8, 14)
    }

    /// The check digit as held.
    pub fn check_digit(&self) -> char {
        char::from(self.0.buf[14])
    }

    /// Whether the check digit is the Luhn digit of the first 14.
    pub fn is_luhn_valid(&self) -> bool {
        luhn_valid(self.0.bytes())
    }
}

impl fmt::Debug for Imei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Imei({})", self.as_str())
    }
}

string_id!(Imei, Imei::parse, Imei::parse_lenient);

// ---------------------------------------------------------------------------
// ICCID

/// An Integrated Circuit Card Identifier (ITU-T E.118): `89` (telecom) +
/// country code + issuer + account number, ending in a Luhn check digit.
///
/// Variants accepted:
/// - 20 digits: 19 + Luhn check digit over all 20 (the common modern form);
/// - 19 digits: 18 + Luhn check digit; also written with a trailing `F`
///   filler, as stored BCD-padded on the card, which is dropped;
/// - 18 digits: older cards without a check digit; no Luhn check.
///
/// [`Iccid::parse`] checks the Luhn digit of 19- and 20-digit ICCIDs;
/// [`Iccid::parse_lenient`] and deserialisation do not (some issuers' cards
/// fail it), and [`Iccid::is_luhn_valid`] reports.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iccid(Ascii<20>);

impl Iccid {
    /// Shortest ICCID accepted.
    pub const MIN_LEN: usize = 18;
    /// Longest ICCID accepted.
    pub const MAX_LEN: usize = 20;

    /// Parses an ICCID, checking the Luhn digit of 19- and 20-digit forms.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let iccid = Self::parse_lenient(s)?;
        if iccid.is_luhn_valid() == Some(false) {
            let b = iccid.0.bytes();
            let (last, payload) = b.split_last().unwrap_or((&b'0', &[]));
            let expected = char::from(luhn_check_digit(payload));
            return Err(IdError::new(IdKind::Iccid, IdErrorKind::CheckDigit { expected, got: char::from(*last) }));
        }
        Ok(iccid)
    }

    /// Like [`Iccid::parse`] but accepts any final digit.
    pub fn parse_lenient(s: &str) -> Result<Self, IdError> {
        // A 19-digit ICCID padded to 20 with the BCD filler F.
        let s = match s.strip_suffix(['F', 'f']) {
            Some(rest) if rest.chars().count() == 19 => rest,
            _ => s,
        };
        let d = digits(IdKind::Iccid, s, Self::MIN_LEN..=Self::MAX_LEN, "18 to 20")?;
        if !d.starts_with(b"89") {
            return Err(IdError::new(IdKind::Iccid, IdErrorKind::Prefix { expected: "89" }));
        }
        Ok(Iccid(Ascii::new(d)))
    }

    /// The digits (without any `F` filler).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the last digit is the Luhn digit of the rest; `None` for
    /// 18-digit ICCIDs, which carry no check digit.
    pub fn is_luhn_valid(&self) -> Option<bool> {
        match self.0.len {
            19 | 20 => Some(luhn_valid(self.0.bytes())),
            _ => None,
        }
    }

    /// Whether the issuer is in China (`8986…`).
    pub fn is_cn(&self) -> bool {
        self.as_str().starts_with("8986")
    }
}

impl fmt::Debug for Iccid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iccid({})", self.as_str())
    }
}

string_id!(Iccid, Iccid::parse, Iccid::parse_lenient);

// ---------------------------------------------------------------------------
// MSISDN

/// The country code numbers without one are assumed to belong to.
const DEFAULT_CC: &str = "86";

/// A phone number in E.164 form: country code + national number, at most 15
/// digits, held without the `+`.
///
/// [`Msisdn::parse`] normalises, with China as the home country:
/// - `+CC…` and `00CC…` are international (7 to 15 digits after the prefix);
/// - `86` + 11 digits starting with `1` is a Chinese mobile number written
///   without `+`;
/// - 11 digits starting with `1` is a Chinese mobile number in national form
///   (becomes `86…`);
/// - `0` + area code + number (10 to 12 digits in all) is a Chinese fixed
///   number in national form (the trunk `0` is dropped, `86` prepended);
/// - any other 7 to 15 digits are taken as E.164 written without `+`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Msisdn(Ascii<15>);

impl Msisdn {
    /// Fewest digits in an E.164 number accepted.
    pub const MIN_LEN: usize = 7;
    /// Most digits in an E.164 number (ITU-T E.164 6.1).
    pub const MAX_LEN: usize = 15;

    /// Parses and normalises a number (see the type docs).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let (body, base, international) = if let Some(rest) = s.strip_prefix('+') {
            (rest, 1, true)
        } else if let Some(rest) = s.strip_prefix("00") {
            (rest, 2, true)
        } else {
            (s, 0, false)
        };
        let len = body.chars().count();
        if len == 0 {
            return Err(IdError::new(
                IdKind::Msisdn,
                IdErrorKind::Length { len: s.chars().count(), expected: "7 to 15 digits" },
            ));
        }
        first_non_digit(IdKind::Msisdn, body, base)?;
        let b = body.as_bytes();
        // `86` + 11 digits written without `+` falls in the last case.
        let (cc, national): (&[u8], &[u8]) = if international {
            (b"", b)
        } else if b.len() == 11 && b[0] == b'1' {
            (DEFAULT_CC.as_bytes(), b)
        } else if (10..=12).contains(&b.len()) && b[0] == b'0' && b[1] != b'0' {
            (DEFAULT_CC.as_bytes(), &b[1..])
        } else {
            (b"", b)
        };
        let len = cc.len() + national.len();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(IdError::new(
                IdKind::Msisdn,
                IdErrorKind::Length { len: s.chars().count(), expected: "7 to 15 digits" },
            ));
        }
        let mut e164 = [0u8; 15];
        e164[..cc.len()].copy_from_slice(cc);
        e164[cc.len()..len].copy_from_slice(national);
        if e164[0] == b'0' {
            return Err(IdError::new(
                IdKind::Msisdn,
                IdErrorKind::Format { reason: "country code cannot start with 0" },
            ));
        }
        Ok(Msisdn(Ascii::new(&e164[..len])))
    }

    /// The E.164 digits without `+`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The number with a leading `+`.
    pub fn to_e164(&self) -> String {
        format!("+{}", self.as_str())
    }

    /// The national number when the country code is 86 (China).
    pub fn cn_national(&self) -> Option<&str> {
        self.as_str().strip_prefix(DEFAULT_CC)
    }

    /// Whether this is a Chinese mobile number: `86` then `1[3-9]` and nine
    /// more digits.
    pub fn is_cn_mobile(&self) -> bool {
        match self.cn_national() {
            Some(n) => {
                let b = n.as_bytes();
                b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
            }
            None => false,
        }
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.as_str())
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msisdn(+{})", self.as_str())
    }
}

impl FromStr for Msisdn {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Msisdn::parse(s)
    }
}

impl TryFrom<String> for Msisdn {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Msisdn::parse(&s)
    }
}

impl From<Msisdn> for String {
    fn from(m: Msisdn) -> String {
        m.to_e164()
    }
}

// ---------------------------------------------------------------------------
// PRC resident ID

/// ISO 7064 MOD 11-2 weights, 2^(17-i) mod 11 (GB 11643-1999 7.3).
const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each weighted sum mod 11.
const RESIDENT_ID_CHECK: &[u8; 11] = b"10X98765432";
/// Earliest birth year accepted.
const MIN_BIRTH_YEAR: u16 = 1900;
/// Latest birth year accepted (no clock here to say "not in the future").
const MAX_BIRTH_YEAR: u16 = 2099;

/// A citizen identity number of the People's Republic of China (GB
/// 11643-1999): 6-digit region code, 8-digit birth date `YYYYMMDD`, 3-digit
/// sequence, and a check character `0`–`9` or `X` (ISO 7064 MOD 11-2).
///
/// Personal data: `Debug` shows only [`ResidentId::masked`]; `Display` and
/// serialisation give the full number (they must round-trip).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResidentId(Ascii<18>);

impl ResidentId {
    /// Characters in a resident ID.
    pub const LEN: usize = 18;

    /// Parses and checks length, digits, birth date and check character. A
    /// lowercase `x` is accepted and stored as `X`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let id = IdKind::ResidentId;
        let len = s.chars().count();
        if len != Self::LEN {
            return Err(IdError::new(id, IdErrorKind::Length { len, expected: "18" }));
        }
        let b = s.as_bytes();
        // 18 chars that are all ASCII would be 18 bytes; check digits first so
        // a multi-byte character is reported by position.
        first_non_digit(id, s.get(..17).unwrap_or(s), 0)?;
        let last = s.chars().nth(17).unwrap_or('?');
        let check = match last {
            '0'..='9' | 'X' => last as u8,
            'x' => b'X',
            found => return Err(IdError::new(id, IdErrorKind::NonDigit { position: 17, found })),
        };
        let sum: u32 = b[..17].iter().zip(RESIDENT_ID_WEIGHTS).map(|(&c, w)| u32::from(c - b'0') * w).sum();
        let expected = RESIDENT_ID_CHECK[(sum % 11) as usize];
        if expected != check {
            return Err(IdError::new(
                id,
                IdErrorKind::CheckDigit { expected: char::from(expected), got: char::from(check) },
            ));
        }
        let num = |r: std::ops::Range<usize>| b[r].iter().fold(0u16, |n, &c| n * 10 + u16::from(c - b'0'));
        let (year, month, day) = (num(6..10), num(10..12) as u8, num(12..14) as u8);
        if !(MIN_BIRTH_YEAR..=MAX_BIRTH_YEAR).contains(&year) || !is_calendar_date(year, month, day) {
            return Err(IdError::new(id, IdErrorKind::BirthDate { year, month, day }));
        }
        let mut buf = [0u8; 18];
        buf[..17].copy_from_slice(&b[..17]);
        buf[17] = check;
        Ok(ResidentId(Ascii { buf, len: 18 }))
    }

    /// The full 18 characters.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The administrative region code (first 6 digits).
    pub fn region_code(&self) -> &str {
        self.0.slice(0, 6)
    }

    /// The birth date as (year, month, day).
    pub fn birth_date(&self) -> (u16, u8, u8) {
        let s = self.as_str();
        let n = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<u16>().ok()).unwrap_or(0);
        (n(6, 10), n(10, 12) as u8, n(12, 14) as u8)
    }

    /// The first 4 and last 4 characters with the 10 between as `*`, e.g.
    /// `3701**********1234`: enough to tell records apart, not to identify.
    pub fn masked(&self) -> String {
        format!("{}**********{}", self.0.slice(0, 4), self.0.slice(14, 18))
    }
}

/// Whether `day` exists in `month` of `year` (Gregorian).
fn is_calendar_date(year: u16, month: u8, day: u8) -> bool {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

string_id!(ResidentId, ResidentId::parse, ResidentId::parse);

/// A dialled number in the form both legs of a call are compared in (the
/// probe's SIP ↔ GSM matching, the agent's SIP ↔ CDR matching): digits only,
/// without an international prefix (`00`; `+` and separators drop out with
/// the non-digits) or China's country code when what remains is an 11-digit
/// mobile number; a `;parameter` tail is ignored. Written into `out`, which
/// is reused to avoid an allocation per row.
pub fn normalise_dialled<'o>(n: &str, out: &'o mut String) -> &'o str {
    out.clear();
    let n = n.split(';').next().unwrap_or_default();
    out.extend(n.chars().filter(char::is_ascii_digit));
    let mut skip = 0;
    if out.starts_with("00") {
        skip = 2;
    }
    let rest = out.get(skip..).unwrap_or_default();
    if rest.len() == 13 && rest.starts_with("861") {
        skip += 2;
    }
    out.drain(..skip);
    out.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    // All numbers below are synthetic: made up for these tests, check digits
    // computed by hand (and by the code under test's independent twin in
    // `luhn_reference`).

    /// A textbook Luhn, written differently from the one under test.
    fn luhn_reference(payload: &str) -> char {
        let mut sum = 0;
        for (i, c) in payload.chars().rev().enumerate() {
            let mut d = c.to_digit(10).unwrap();
            if i % 2 == 0 {
                d *= 2;
                if d > 9 {
                    d -= 9;
                }
            }
            sum += d;
        }
        char::from_digit((10 - sum % 10) % 10, 10).unwrap()
    }

    fn kind(r: Result<impl fmt::Debug, IdError>) -> IdErrorKind {
        r.expect_err("should fail").kind
    }

    #[test]
    fn luhn_matches_reference() {
        for p in ["86000012345678", "49015420323751", "35209900176148", "0", "", "8986001234567890123"] {
            assert_eq!(char::from(luhn_check_digit(p.as_bytes())), luhn_reference(p), "{p}");
        }
    }

    #[test]
    fn imsi_table() {
        let ok = [
            ("460001234567890", "460", "00", "1234567890", Some("China Mobile")),
            ("460011234567890", "460", "01", "1234567890", Some("China Unicom")),
            ("460111234567890", "460", "11", "1234567890", Some("China Telecom")),
            ("46015123456789", "460", "15", "123456789", Some("China Broadnet")),
            ("310150123456789", "310", "150", "123456789", None),
            ("722070123456789", "722", "070", "123456789", None),
            ("405025123456789", "405", "025", "123456789", None),
            ("262011234567890", "262", "01", "1234567890", None),
            ("460991234567890", "460", "99", "1234567890", None),
        ];
        for (s, mcc, mnc, msin, op) in ok {
            let imsi = Imsi::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!((imsi.mcc(), imsi.mnc(), imsi.msin(), imsi.cn_operator()), (mcc, mnc, msin, op), "{s}");
            assert_eq!(imsi.to_string(), s);
        }
        assert_eq!(kind(Imsi::parse("4600012345678")), IdErrorKind::Length { len: 13, expected: "14 or 15" });
        assert_eq!(kind(Imsi::parse("4600012345678901")), IdErrorKind::Length { len: 16, expected: "14 or 15" });
        assert_eq!(kind(Imsi::parse("46000123456789a")), IdErrorKind::NonDigit { position: 14, found: 'a' });
        assert_eq!(kind(Imsi::parse("46000 23456789")), IdErrorKind::NonDigit { position: 5, found: ' ' });
        assert_eq!(kind(Imsi::parse("46000１234567890")), IdErrorKind::NonDigit { position: 5, found: '１' });
        assert_eq!(kind(Imsi::parse("")), IdErrorKind::Length { len: 0, expected: "14 or 15" });
    }

    #[test]
    fn imei_table() {
        for s in ["860000123456781", "490154203237518", "352099001761481", "012345678901237"] {
            let imei = Imei::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(imei.is_luhn_valid());
            assert_eq!(imei.as_str(), s);
            assert_eq!(imei.tac(), &s[..8]);
            assert_eq!(imei.serial(), &s[8..14]);
        }
        // 14 digits: the check digit is computed.
        let imei = Imei::parse("86000012345678").unwrap();
        assert_eq!(imei.as_str(), "860000123456781");
        assert_eq!(imei.check_digit(), '1');
        // Wrong check digit: strict rejects, naming both digits; lenient keeps.
        let err = Imei::parse("860000123456782").unwrap_err();
        assert_eq!(err.kind, IdErrorKind::CheckDigit { expected: '1', got: '2' });
        assert_eq!(err.to_string(), "invalid IMEI: bad check digit: expected 1, got 2");
        let forged = Imei::parse_lenient("860000123456782").unwrap();
        assert!(!forged.is_luhn_valid());
        assert_eq!(kind(Imei::parse("8600001234567")), IdErrorKind::Length { len: 13, expected: "14 or 15" });
        assert_eq!(kind(Imei::parse("86000012345678X")), IdErrorKind::NonDigit { position: 14, found: 'X' });
    }

    #[test]
    fn imei_from_imeisv() {
        let (imei, svn) = Imei::from_imeisv("8600001234567842").unwrap();
        assert_eq!((imei.as_str(), svn), ("860000123456781", 42));
        assert!(imei.is_luhn_valid());
        assert_eq!(
            kind(Imei::from_imeisv("860000123456781")),
            IdErrorKind::Length { len: 15, expected: "16 (IMEISV)" }
        );
        assert_eq!(kind(Imei::from_imeisv("86000012345678-1")), IdErrorKind::NonDigit { position: 14, found: '-' });
    }

    #[test]
    fn iccid_table() {
        let ok = [
            ("89860012345678901238", Some(true)),
            ("8986001234567890120", Some(true)),
            ("8986001234567890120F", Some(true)),
            ("89441100000000000017", Some(true)),
            ("898600123456789012", None),
        ];
        for (s, luhn) in ok {
            let iccid = Iccid::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(iccid.is_luhn_valid(), luhn, "{s}");
            assert_eq!(iccid.as_str(), s.trim_end_matches('F'));
        }
        assert!(Iccid::parse("89860012345678901238").unwrap().is_cn());
        assert!(!Iccid::parse("89441100000000000017").unwrap().is_cn());
        assert_eq!(kind(Iccid::parse("89860012345678901239")), IdErrorKind::CheckDigit { expected: '8', got: '9' });
        assert_eq!(Iccid::parse_lenient("89860012345678901239").unwrap().is_luhn_valid(), Some(false));
        assert_eq!(kind(Iccid::parse("98860012345678901238")), IdErrorKind::Prefix { expected: "89" });
        assert_eq!(kind(Iccid::parse("89860012345678901")), IdErrorKind::Length { len: 17, expected: "18 to 20" });
        assert_eq!(kind(Iccid::parse("898600123456789012345")), IdErrorKind::Length { len: 21, expected: "18 to 20" });
        // The filler only pads 19 digits; elsewhere an F is a non-digit.
        assert_eq!(kind(Iccid::parse("898600123456789012F")), IdErrorKind::NonDigit { position: 18, found: 'F' });
        assert_eq!(kind(Iccid::parse("8986001234567890123F")), IdErrorKind::CheckDigit { expected: '0', got: '3' });
    }

    #[test]
    fn msisdn_table() {
        let ok = [
            ("+8613812345678", "8613812345678", true),
            ("008613812345678", "8613812345678", true),
            ("8613812345678", "8613812345678", true),
            ("13812345678", "8613812345678", true),
            ("19912345678", "8619912345678", true),
            ("12012345678", "8612012345678", false),
            ("01012345678", "861012345678", false),
            ("+4420123456789", "4420123456789", false),
            ("+12025550123", "12025550123", false),
            ("447700900123", "447700900123", false),
        ];
        for (s, e164, mobile) in ok {
            let m = Msisdn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(m.as_str(), e164, "{s}");
            assert_eq!(m.is_cn_mobile(), mobile, "{s}");
            assert_eq!(m.to_string(), format!("+{e164}"));
            assert_eq!(Msisdn::parse(&m.to_string()).unwrap(), m, "Display parses back");
        }
        assert_eq!(kind(Msisdn::parse("+86138a2345678")), IdErrorKind::NonDigit { position: 6, found: 'a' });
        // Ten digits fit no Chinese national form: taken as E.164 without `+`.
        assert_eq!(Msisdn::parse("4930123456").unwrap().as_str(), "4930123456");
        assert_eq!(kind(Msisdn::parse("+")), IdErrorKind::Length { len: 1, expected: "7 to 15 digits" });
        assert_eq!(kind(Msisdn::parse("12345")), IdErrorKind::Length { len: 5, expected: "7 to 15 digits" });
        assert_eq!(
            kind(Msisdn::parse("+1234567890123456")),
            IdErrorKind::Length { len: 17, expected: "7 to 15 digits" }
        );
        assert_eq!(
            kind(Msisdn::parse("0001234567")),
            IdErrorKind::Format { reason: "country code cannot start with 0" }
        );
        assert_eq!(Msisdn::parse("+8613812345678").unwrap().cn_national(), Some("13812345678"));
    }

    #[test]
    fn resident_id_table() {
        let ok = [
            ("110101199003071233", (1990, 3, 7)),
            ("37010219851231001X", (1985, 12, 31)),
            ("37010219851231001x", (1985, 12, 31)),
            ("440304200002294568", (2000, 2, 29)),
            ("110101201211111519", (2012, 11, 11)),
        ];
        for (s, date) in ok {
            let id = ResidentId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(id.birth_date(), date);
            assert_eq!(id.as_str(), s.to_ascii_uppercase());
            assert_eq!(id.region_code(), &s[..6]);
        }
        assert_eq!(ResidentId::parse("37010219851231001X").unwrap().masked(), "3701**********001X");
        assert_eq!(ResidentId::parse("110101199003071233").unwrap().masked(), "1101**********1233");
        assert_eq!(kind(ResidentId::parse("110101199003071234")), IdErrorKind::CheckDigit { expected: '3', got: '4' });
        assert_eq!(kind(ResidentId::parse("11010119900307123")), IdErrorKind::Length { len: 17, expected: "18" });
        assert_eq!(kind(ResidentId::parse("1101011990030712X3")), IdErrorKind::NonDigit { position: 16, found: 'X' });
        assert_eq!(kind(ResidentId::parse("11010119900307123Y")), IdErrorKind::NonDigit { position: 17, found: 'Y' });
        // A right check character over an impossible date: 1990-02-30.
        assert_eq!(
            kind(ResidentId::parse(&with_check("11010119900230123"))),
            IdErrorKind::BirthDate { year: 1990, month: 2, day: 30 }
        );
        // Not a leap year.
        assert_eq!(
            kind(ResidentId::parse(&with_check("11010119000229123"))),
            IdErrorKind::BirthDate { year: 1900, month: 2, day: 29 }
        );
        assert_eq!(
            kind(ResidentId::parse(&with_check("11010118991231123"))),
            IdErrorKind::BirthDate { year: 1899, month: 12, day: 31 }
        );
        assert_eq!(
            kind(ResidentId::parse(&with_check("11010119901301123"))),
            IdErrorKind::BirthDate { year: 1990, month: 13, day: 1 }
        );
    }

    /// Appends the MOD 11-2 check character, computed independently.
    fn with_check(first17: &str) -> String {
        let sum: u32 =
            first17.chars().enumerate().map(|(i, c)| c.to_digit(10).unwrap() * ((1u32 << (17 - i)) % 11)).sum();
        let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
        format!("{first17}{check}")
    }

    #[test]
    fn resident_id_weights_are_powers_of_two_mod_11() {
        for (i, w) in RESIDENT_ID_WEIGHTS.iter().enumerate() {
            assert_eq!(*w, (1u32 << (17 - i)) % 11);
        }
    }

    #[test]
    fn resident_id_debug_is_masked() {
        let id = ResidentId::parse("110101199003071233").unwrap();
        let dbg = format!("{id:?}");
        assert!(!dbg.contains("19900307"), "{dbg}");
        assert_eq!(dbg, "ResidentId(1101**********1233)");
    }

    #[test]
    fn serde_round_trips() {
        fn round<T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug>(v: T, json: &str) {
            assert_eq!(serde_json::to_string(&v).unwrap(), json);
            assert_eq!(serde_json::from_str::<T>(json).unwrap(), v);
        }
        round(Imsi::parse("460001234567890").unwrap(), "\"460001234567890\"");
        round(Imei::parse("860000123456781").unwrap(), "\"860000123456781\"");
        round(Imei::parse_lenient("860000123456782").unwrap(), "\"860000123456782\"");
        round(Iccid::parse("8986001234567890120F").unwrap(), "\"8986001234567890120\"");
        round(Iccid::parse_lenient("89860012345678901239").unwrap(), "\"89860012345678901239\"");
        round(Msisdn::parse("13812345678").unwrap(), "\"+8613812345678\"");
        round(ResidentId::parse("37010219851231001x").unwrap(), "\"37010219851231001X\"");
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<Imsi>("\"46000\"").is_err());
        assert!(serde_json::from_str::<Imei>("\"86000012345678A\"").is_err());
        assert!(serde_json::from_str::<Iccid>("\"99860012345678901238\"").is_err());
        assert!(serde_json::from_str::<Msisdn>("\"+86abc\"").is_err());
        assert!(serde_json::from_str::<ResidentId>("\"110101199003071234\"").is_err());
        let err = serde_json::from_str::<ResidentId>("\"110101199003071234\"").unwrap_err().to_string();
        assert!(err.contains("bad check digit: expected 3, got 4"), "{err}");
    }

    #[test]
    fn from_str_matches_parse() {
        assert_eq!("460001234567890".parse::<Imsi>(), Imsi::parse("460001234567890"));
        assert_eq!("860000123456782".parse::<Imei>().unwrap_err().kind.name(), "id_check_digit");
        assert!("8986001234567890120".parse::<Iccid>().is_ok());
        assert!("+8613812345678".parse::<Msisdn>().is_ok());
        assert!("110101199003071233".parse::<ResidentId>().is_ok());
    }

    /// Random strings (from a seeded generator; this crate has no proptest)
    /// never make a parser panic.
    #[test]
    fn random_strings_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet: Vec<char> = "0123456789+Xx F-８é\u{0}".chars().collect();
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let s: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            let _ = Imsi::parse(&s).map(|v| (v.mcc().len(), v.mnc().len(), v.msin().len(), v.cn_operator()));
            let _ = Imei::parse(&s);
            let _ = Imei::parse_lenient(&s).map(|v| (v.tac().len(), v.is_luhn_valid()));
            let _ = Imei::from_imeisv(&s);
            let _ = Iccid::parse(&s);
            let _ = Iccid::parse_lenient(&s).map(|v| v.is_luhn_valid());
            let _ = Msisdn::parse(&s).map(|v| v.is_cn_mobile());
            let _ = ResidentId::parse(&s).map(|v| (v.masked(), v.birth_date()));
        }
    }
}
