//! Field rules for the registry and CDR files: pure functions from the bytes
//! of one CSV field to a validated value, or a reason for people.
//!
//! | field | rule | stored as |
//! |---|---|---|
//! | `imsi` | exactly 15 digits (3GPP TS 23.003 2.2; every PRC IMSI has 15) | the digits |
//! | `iccid` | 19 or 20 digits, `89` prefix, right Luhn check digit (ITU-T E.118); a trailing `F` filler after 19 digits is dropped | the digits |
//! | `imei` | 14 digits, or 15 with a right Luhn check digit (TS 23.003 6.2.1) | 15 digits (the check digit computed for 14) |
//! | `msisdn` | digits, optionally `+` or `00` first; 7–15 digits once normalised | normalised like `called` |
//! | `called` | normalised as the probe does: digits only, without `00`/`+`, without `86` when an 11-digit number starting with `1` remains; at least one digit | the normalised digits |
//! | `owner_id` | a PRC resident ID (18 characters, GB 11643 MOD 11-2 check character, real birth date), or a passport marked `passport:` (below) | resident: 18 characters, `X` upper case; passport: `passport:[CCC:]NUMBER` upper case |
//! | times | ISO 8601 / RFC 3339 date and time (below) | Unix milliseconds, UTC |
//! | `duration_s` | a non-negative integer (seconds), at most [`MAX_DURATION_S`] | the integer |
//! | text (`carrier`, `owner_name`, `outlet_id`, `outlet_name`, `channel`, `cell`) | non-empty, at most [`MAX_TEXT_BYTES`] bytes, no control characters | trimmed |
//!
//! Every field is trimmed of ASCII spaces and tabs first, and must be UTF-8;
//! an empty field is an error everywhere (every column is required).
//!
//! # Passport owners
//!
//! An owner who is not a PRC resident is written `passport:` followed by the
//! document number, optionally preceded by the issuing state's ICAO
//! three-letter code and a colon: `passport:E12345678`,
//! `passport:PHL:P1234567A`. The number is 5–20 letters and digits. The
//! marker is case-insensitive; the value is stored upper case with the
//! lower-case marker (`passport:PHL:P1234567A`) and `owner_id_kind =
//! 'passport'`, so a passport number can never collide with a resident ID.
//!
//! # Times
//!
//! `YYYY-MM-DD` then `T` (or one space) then `HH:MM` or `HH:MM:SS`, an
//! optional fraction (`.123`, up to 9 digits, kept to the millisecond), and an
//! optional offset: `Z`, `+08:00`, `+0800` or `+08`. A time without an
//! offset is local time at the import's time zone (`--tz`, default `+08:00`,
//! China Standard Time, which has no daylight saving). Leap seconds (`:60`)
//! and dates before 1900 or after 2099 are refused.
//!
//! Messages never repeat an owner's full ID or name: IDs are masked as
//! `ResidentId::masked` does, names are not shown.

use duanka_shared::ids::{Iccid, IdErrorKind, Imei, ResidentId};

/// Longest free-text field accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 256;

/// Longest call accepted, seconds (one week; longer is a broken export).
pub const MAX_DURATION_S: i64 = 7 * 24 * 3600;

/// The default time zone of times without an offset: China Standard Time.
pub const DEFAULT_TZ_OFFSET_S: i32 = 8 * 3600;

/// The kind of an owner's identity document (`registry.owner_id_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerIdKind {
    /// A PRC resident identity card number (GB 11643).
    Resident,
    /// A passport, marked `passport:`.
    Passport,
}

impl OwnerIdKind {
    /// The value stored in `registry.owner_id_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerIdKind::Resident => "resident",
            OwnerIdKind::Passport => "passport",
        }
    }
}

/// Why a field was refused: the reason, without the column name or value
/// (the caller adds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Invalid(reason.into())
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Trims ASCII spaces and tabs from both ends.
pub fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| *c != b' ' && *c != b'\t').unwrap_or(b.len());
    let end = b.iter().rposition(|c| *c != b' ' && *c != b'\t').map_or(start, |i| i + 1);
    b.get(start..end).unwrap_or(&[])
}

/// A field's bytes as trimmed, non-empty UTF-8.
pub fn utf8(b: &[u8]) -> Result<&str, Invalid> {
    let b = trim(b);
    if b.is_empty() {
        return Err(Invalid::new("empty"));
    }
    std::str::from_utf8(b).map_err(|e| {
        let at = e.valid_up_to();
        Invalid(format!("not valid UTF-8 (byte 0x{:02x} at offset {at})", b.get(at).copied().unwrap_or(0)))
    })
}

/// `n` digits exactly?
fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The first non-digit and its character position.
fn non_digit(s: &str) -> Invalid {
    match s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, c)) => Invalid(format!("{c:?} at position {} is not a digit", i + 1)),
        None => Invalid::new("not a number"),
    }
}

/// Reason text for a shared identifier error, in this module's words.
fn id_reason(kind: IdErrorKind) -> Invalid {
    match kind {
        IdErrorKind::CheckDigit { expected, got } => Invalid(format!("check digit is {got}, expected {expected}")),
        IdErrorKind::Length { len, expected } => Invalid(format!("{len} characters, expected {expected}")),
        IdErrorKind::NonDigit { position, found } => {
            Invalid(format!("{found:?} at position {} is not a digit", position + 1))
        }
        other => Invalid(other.to_string()),
    }
}

/// An IMSI: exactly 15 digits.
pub fn imsi(s: &str) -> Result<&str, Invalid> {
    if !all_digits(s) {
        return Err(non_digit(s));
    }
    if s.len() != 15 {
        return Err(Invalid(format!("{} digits, expected 15", s.len())));
    }
    Ok(s)
}

/// An ICCID: 19 or 20 digits with `89` first and a right Luhn check digit.
pub fn iccid(s: &str) -> Result<Iccid, Invalid> {
    let digits = s.strip_suffix(['F', 'f']).filter(|d| d.len() == 19).unwrap_or(s);
    if !all_digits(digits) {
        return Err(non_digit(digits));
    }
    if !(19..=20).contains(&digits.len()) {
        return Err(Invalid(format!("{} digits, expected 19 or 20", digits.len())));
    }
    Iccid::parse(digits).map_err(|e| id_reason(e.kind))
}

/// An IMEI: 14 digits, or 15 with a right Luhn check digit.
pub fn imei(s: &str) -> Result<Imei, Invalid> {
    if !all_digits(s) {
        return Err(non_digit(s));
    }
    if !(14..=15).contains(&s.len()) {
        return Err(Invalid(format!("{} digits, expected 14 or 15", s.len())));
    }
    Imei::parse(s).map_err(|e| id_reason(e.kind))
}

/// A dialled number in the form the probe and the correlation compare
/// ([`duanka_shared::ids::normalise_dialled`]). Written into `out`.
pub fn normalise_number<'o>(n: &str, out: &'o mut String) -> &'o str {
    duanka_shared::ids::normalise_dialled(n, out)
}

/// A called number: normalised (see [`normalise_number`]); at least one digit.
pub fn called<'o>(s: &str, out: &'o mut String) -> Result<&'o str, Invalid> {
    if normalise_number(s, out).is_empty() {
        return Err(Invalid::new("no digits"));
    }
    Ok(out.as_str())
}

/// An MSISDN: digits with an optional leading `+`, normalised like a called
/// number (national form for PRC mobiles), 7–15 digits.
pub fn msisdn<'o>(s: &str, out: &'o mut String) -> Result<&'o str, Invalid> {
    let body = s.strip_prefix('+').unwrap_or(s);
    if !all_digits(body) {
        return Err(non_digit(body));
    }
    let n = normalise_number(body, out).len();
    if !(7..=15).contains(&n) {
        return Err(Invalid(format!("{n} digits, expected 7 to 15")));
    }
    Ok(out.as_str())
}

/// A masked form of an owner id for messages: the first and last four
/// characters of a long value, nothing of a short one.
pub fn mask_owner_id(s: &str) -> String {
    let n = s.chars().count();
    if n >= 12 {
        let head: String = s.chars().take(4).collect();
        let tail: String = s.chars().skip(n - 4).collect();
        format!("{head}{}{tail}", "*".repeat(n - 8))
    } else {
        format!("({n} characters)")
    }
}

/// An owner's id: a resident ID, or a passport marked `passport:` (module
/// docs). Written, normalised, into `out`.
pub fn owner_id<'o>(s: &str, out: &'o mut String) -> Result<(&'o str, OwnerIdKind), Invalid> {
    out.clear();
    let marker = "passport:";
    if s.len() >= marker.len() && s.is_char_boundary(marker.len()) && s[..marker.len()].eq_ignore_ascii_case(marker) {
        let rest = &s[marker.len()..];
        let (state, number) = match rest.split_once(':') {
            Some((st, num)) => (Some(st), num),
            None => (None, rest),
        };
        if let Some(st) = state {
            if st.len() != 3 || !st.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(Invalid::new("passport issuing state must be a 3-letter ICAO code (passport:CCC:NUMBER)"));
            }
        }
        if !(5..=20).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Invalid::new("passport number must be 5 to 20 letters and digits"));
        }
        out.push_str(marker);
        if let Some(st) = state {
            out.extend(st.chars().map(|c| c.to_ascii_uppercase()));
            out.push(':');
        }
        out.extend(number.chars().map(|c| c.to_ascii_uppercase()));
        return Ok((out.as_str(), OwnerIdKind::Passport));
    }
    if s.contains(':') {
        return Err(Invalid::new("unknown id marker (a passport is written passport:NUMBER)"));
    }
    let id = ResidentId::parse(s).map_err(|e| match e.kind {
        IdErrorKind::Length { .. } => {
            Invalid::new("not a resident ID (18 characters); mark a passport as passport:NUMBER")
        }
        other => id_reason(other),
    })?;
    out.push_str(id.as_str());
    Ok((out.as_str(), OwnerIdKind::Resident))
}

/// A non-negative whole number of seconds, at most [`MAX_DURATION_S`].
pub fn duration(s: &str) -> Result<i64, Invalid> {
    if !all_digits(s) {
        return Err(Invalid::new("not a non-negative whole number of seconds"));
    }
    match s.parse::<i64>() {
        Ok(v) if v <= MAX_DURATION_S => Ok(v),
        _ => Err(Invalid(format!("longer than {MAX_DURATION_S} s"))),
    }
}

/// Free text: at most [`MAX_TEXT_BYTES`] bytes, no control characters.
pub fn text(s: &str) -> Result<&str, Invalid> {
    if s.len() > MAX_TEXT_BYTES {
        return Err(Invalid(format!("{} bytes, at most {MAX_TEXT_BYTES}", s.len())));
    }
    // Printable ASCII, the usual case, needs no decoding.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(s);
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(Invalid(format!("control character {c:?}")));
    }
    Ok(s)
}

/// Parses a time offset: `Z`, `UTC`, `+08:00`, `+0800`, `+08`, `-05:30`.
/// Returns seconds east of UTC.
pub fn parse_offset(s: &str) -> Option<i32> {
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &b[1..];
    let (h, m) = match rest.len() {
        2 => (num2(rest, 0)?, 0),
        4 => (num2(rest, 0)?, num2(rest, 2)?),
        5 if rest[2] == b':' => (num2(rest, 0)?, num2(rest, 3)?),
        _ => return None,
    };
    if h > 18 || m > 59 || (h == 18 && m > 0) {
        return None;
    }
    Some(sign * (h as i32 * 3600 + m as i32 * 60))
}

/// Two ASCII digits at `at`.
fn num2(b: &[u8], at: usize) -> Option<u32> {
    let d = b.get(at..at + 2)?;
    if d[0].is_ascii_digit() && d[1].is_ascii_digit() {
        Some(u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0'))
    } else {
        None
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

const TIME_SHAPE: &str = "not an ISO 8601 date and time (e.g. 2024-03-01T10:00:00+08:00)";

/// An ISO 8601 / RFC 3339 date and time (module docs) as Unix milliseconds;
/// `tz_offset_s` applies when the text has no offset.
pub fn time(s: &str, tz_offset_s: i32) -> Result<i64, Invalid> {
    let b = s.as_bytes();
    let shape = || Invalid::new(TIME_SHAPE);
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        if b.len() == 10 && b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-') {
            return Err(Invalid::new("a date without a time of day"));
        }
        return Err(shape());
    }
    let year = i64::from(num2(b, 0).ok_or_else(shape)? * 100 + num2(b, 2).ok_or_else(shape)?);
    let month = num2(b, 5).ok_or_else(shape)?;
    let day = num2(b, 8).ok_or_else(shape)?;
    let hour = num2(b, 11).ok_or_else(shape)?;
    if b[13] != b':' {
        return Err(shape());
    }
    let minute = num2(b, 14).ok_or_else(shape)?;
    let mut i = 16;
    let mut second = 0;
    if b.get(i) == Some(&b':') {
        second = num2(b, i + 1).ok_or_else(shape)?;
        i += 3;
    }
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 9 {
            return Err(shape());
        }
        for _ in n..3 {
            millis *= 10;
        }
    }
    let offset = match s.get(i..) {
        Some("") => tz_offset_s,
        Some(rest) => parse_offset(rest).ok_or_else(shape)?,
        None => return Err(shape()),
    };
    if !(1900..=2099).contains(&year) {
        return Err(Invalid(format!("year {year} outside 1900-2099")));
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(Invalid(format!("no such date {year:04}-{month:02}-{day:02}")));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(Invalid(format!("no such time of day {hour:02}:{minute:02}:{second:02}")));
    }
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second)
        - i64::from(offset);
    Ok(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_millis()
    }

    #[test]
    fn trim_and_utf8() {
        assert_eq!(trim(b"  a b\t"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(trim(b""), b"");
        assert_eq!(utf8(b" x ").unwrap(), "x");
        assert_eq!(utf8(b"  ").unwrap_err().0, "empty");
        assert_eq!(utf8(b"ab\xffc").unwrap_err().0, "not valid UTF-8 (byte 0xff at offset 2)");
        assert_eq!(utf8("张三".as_bytes()).unwrap(), "张三");
    }

    #[test]
    fn imsi_table() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("460001234567890", Ok("460001234567890")),
            ("46000123456789", Err("14 digits, expected 15")),
            ("4600012345678901", Err("16 digits, expected 15")),
            ("46000123456789a", Err("'a' at position 15 is not a digit")),
            ("460-01234567890", Err("'-' at position 4 is not a digit")),
        ];
        for (input, want) in cases {
            assert_eq!(imsi(input).map_err(|e| e.0), want.map_err(str::to_owned), "{input}");
        }
    }

    #[test]
    fn iccid_table() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("89860012345678901238", Ok("89860012345678901238")),
            ("8986001234567890120", Ok("8986001234567890120")),
            ("8986001234567890120F", Ok("8986001234567890120")),
            ("89860012345678901239", Err("check digit is 9, expected 8")),
            ("898600123456789012", Err("18 digits, expected 19 or 20")),
            ("898600123456789012345", Err("21 digits, expected 19 or 20")),
            ("98860012345678901238", Err("does not start with 89")),
            ("8986001234567890123X", Err("'X' at position 20 is not a digit")),
        ];
        for (input, want) in cases {
            let got = iccid(input).map(|i| i.as_str().to_owned()).map_err(|e| e.0);
            assert_eq!(got, want.map(str::to_owned).map_err(str::to_owned), "{input}");
        }
    }

    #[test]
    fn imei_table() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("860000123456781", Ok("860000123456781")),
            ("86000012345678", Ok("860000123456781")),
            ("860000123456782", Err("check digit is 2, expected 1")),
            ("8600001234567", Err("13 digits, expected 14 or 15")),
            ("8600001234567810", Err("16 digits, expected 14 or 15")),
            ("86000012345678X", Err("'X' at position 15 is not a digit")),
        ];
        for (input, want) in cases {
            let got = imei(input).map(|i| i.as_str().to_owned()).map_err(|e| e.0);
            assert_eq!(got, want.map(str::to_owned).map_err(str::to_owned), "{input}");
        }
    }

    #[test]
    fn numbers_normalise_like_the_probe() {
        // The probe's own table (probe/src/track/links.rs) plus edge cases.
        let mut buf = String::new();
        for (a, b) in [
            ("8613812345678", "13812345678"),
            ("+8613812345678", "13812345678"),
            ("008613812345678", "13812345678"),
            ("13812345678;npdi", "13812345678"),
            ("02112345678", "02112345678"),
            ("+442071234567", "442071234567"),
            ("00442071234567", "442071234567"),
            ("862112345678", "862112345678"),
            ("86 138-1234-5678", "13812345678"),
            ("10086", "10086"),
            ("00", ""),
        ] {
            assert_eq!(normalise_number(a, &mut buf), b, "{a}");
        }
        assert_eq!(called("abc", &mut buf).unwrap_err().0, "no digits");
        assert_eq!(called("+86 13812345678", &mut buf).unwrap(), "13812345678");
    }

    #[test]
    fn msisdn_table() {
        let mut buf = String::new();
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("13812345678", Ok("13812345678")),
            ("+8613812345678", Ok("13812345678")),
            ("008613812345678", Ok("13812345678")),
            ("8613812345678", Ok("13812345678")),
            ("1064812345678", Ok("1064812345678")),
            ("+442071234567", Ok("442071234567")),
            ("138 1234 5678", Err("' ' at position 4 is not a digit")),
            ("12345", Err("5 digits, expected 7 to 15")),
            ("1234567890123456", Err("16 digits, expected 7 to 15")),
        ];
        for (input, want) in cases {
            let got = msisdn(input, &mut buf).map(str::to_owned).map_err(|e| e.0);
            assert_eq!(got, want.map(str::to_owned).map_err(str::to_owned), "{input}");
        }
    }

    #[test]
    fn owner_id_table() {
        use OwnerIdKind::*;
        let mut buf = String::new();
        type Case<'a> = (&'a str, Result<(&'a str, OwnerIdKind), &'a str>);
        let cases: &[Case] = &[
            ("110101199003071233", Ok(("110101199003071233", Resident))),
            ("37010219851231001x", Ok(("37010219851231001X", Resident))),
            ("passport:E12345678", Ok(("passport:E12345678", Passport))),
            ("PASSPORT:phl:p1234567a", Ok(("passport:PHL:P1234567A", Passport))),
            ("110101199003071234", Err("check digit is 4, expected 3")),
            ("11010119900307123", Err("not a resident ID (18 characters); mark a passport as passport:NUMBER")),
            ("E12345678", Err("not a resident ID (18 characters); mark a passport as passport:NUMBER")),
            ("110101199013071237", Err("implausible birth date 1990-13-07")),
            ("passport:E1", Err("passport number must be 5 to 20 letters and digits")),
            ("passport:E12-345678", Err("passport number must be 5 to 20 letters and digits")),
            ("passport:PH:P1234567", Err("passport issuing state must be a 3-letter ICAO code (passport:CCC:NUMBER)")),
            ("hkmo:H12345678", Err("unknown id marker (a passport is written passport:NUMBER)")),
        ];
        for (input, want) in cases {
            let got = owner_id(input, &mut buf).map(|(s, k)| (s.to_owned(), k)).map_err(|e| e.0);
            let want = want.map(|(s, k)| (s.to_owned(), k)).map_err(str::to_owned);
            assert_eq!(got, want, "{input}");
        }
        assert_eq!(mask_owner_id("110101199003071234"), "1101**********1234");
        assert_eq!(mask_owner_id("E1234"), "(5 characters)");
    }

    #[test]
    fn duration_and_text() {
        assert_eq!(duration("0"), Ok(0));
        assert_eq!(duration("65"), Ok(65));
        assert_eq!(duration("-1").unwrap_err().0, "not a non-negative whole number of seconds");
        assert_eq!(duration("1.5").unwrap_err().0, "not a non-negative whole number of seconds");
        assert_eq!(duration("99999999999999999999").unwrap_err().0, "longer than 604800 s");
        assert_eq!(duration("604801").unwrap_err().0, "longer than 604800 s");
        assert_eq!(text("营业厅 1"), Ok("营业厅 1"));
        assert_eq!(text("a\u{7}b").unwrap_err().0, "control character '\\u{7}'");
        assert!(text(&"x".repeat(MAX_TEXT_BYTES + 1)).is_err());
    }

    #[test]
    fn offsets() {
        for (s, v) in
            [("Z", 0), ("utc", 0), ("+08:00", 28_800), ("+0800", 28_800), ("+08", 28_800), ("-05:30", -19_800)]
        {
            assert_eq!(parse_offset(s), Some(v), "{s}");
        }
        for s in ["", "8", "+8", "+19:00", "+08:60", "08:00", "+08:0"] {
            assert_eq!(parse_offset(s), None, "{s}");
        }
    }

    #[test]
    fn time_table() {
        let cst = DEFAULT_TZ_OFFSET_S;
        let ok = [
            ("2024-03-01T10:00:00+08:00", "2024-03-01T02:00:00Z"),
            ("2024-03-01T02:00:00Z", "2024-03-01T02:00:00Z"),
            ("2024-03-01t02:00:00z", "2024-03-01T02:00:00Z"),
            ("2024-03-01T10:00:00", "2024-03-01T02:00:00Z"),
            ("2024-03-01 10:00:00", "2024-03-01T02:00:00Z"),
            ("2024-03-01T10:00", "2024-03-01T02:00:00Z"),
            ("2024-03-01T10:00:00.5+08:00", "2024-03-01T02:00:00.500Z"),
            ("2024-03-01T10:00:00.123456789+0800", "2024-03-01T02:00:00.123Z"),
            ("2024-02-29T23:59:59-05:00", "2024-03-01T04:59:59Z"),
            ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
            ("2000-01-01T00:00:00+08", "1999-12-31T16:00:00Z"),
        ];
        for (s, want) in ok {
            assert_eq!(time(s, cst), Ok(ms(want)), "{s}");
        }
        assert_eq!(time("2024-03-01T10:00:00", 0), Ok(ms("2024-03-01T10:00:00Z")));
        let bad = [
            ("2024-03-01", "a date without a time of day"),
            ("2023-02-29T10:00:00Z", "no such date 2023-02-29"),
            ("2024-13-01T10:00:00Z", "no such date 2024-13-01"),
            ("2024-03-01T24:00:00Z", "no such time of day 24:00:00"),
            ("2024-03-01T10:00:60Z", "no such time of day 10:00:60"),
            ("1899-12-31T10:00:00Z", "year 1899 outside 1900-2099"),
            ("2024-03-01T10:00:00+8", TIME_SHAPE),
            ("2024-03-01T10:00:00.Z", TIME_SHAPE),
            ("2024/03/01 10:00:00", TIME_SHAPE),
            ("1709258400", TIME_SHAPE),
            ("2024-03-01T10:00:00 +08:00", TIME_SHAPE),
            ("２024-03-01T10:00:00Z", TIME_SHAPE),
            ("2024-03-01T10:0０:00Z", TIME_SHAPE),
        ];
        for (s, want) in bad {
            assert_eq!(time(s, cst).unwrap_err().0, want, "{s}");
        }
    }

    /// Random strings never make a rule panic.
    #[test]
    fn random_input_never_panics() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let alphabet: Vec<char> = "0123456789+-:.TZ passport:X８é张\u{0}F".chars().collect();
        let mut buf = String::new();
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 32) as usize;
            let s: String =
                (0..len).map(|i| alphabet[((x >> (i % 50)) as usize).wrapping_add(i * 7) % alphabet.len()]).collect();
            let _ = imsi(&s);
            let _ = iccid(&s);
            let _ = imei(&s);
            let _ = msisdn(&s, &mut buf);
            let _ = called(&s, &mut buf);
            let _ = owner_id(&s, &mut buf);
            let _ = duration(&s);
            let _ = text(&s);
            let _ = time(&s, 0);
            let _ = parse_offset(&s);
            let _ = mask_owner_id(&s);
            let _ = utf8(s.as_bytes());
        }
    }
}
