//! Character classes of the SIP grammar and a small cursor to walk header values.
//!
//! Each class is one `const fn` named after, and citing, its ABNF rule in
//! RFC 3261 section 25.1 (the collected grammar). The cursor walks an already
//! delimited header value, where a CR or LF can only be part of a line fold, so
//! "LWS" there is simply any run of SP, HTAB, CR and LF (RFC 3261 7.3.1).
//!
//! Nothing here indexes a slice without a check, so no input can panic it.

/// `alphanum = ALPHA / DIGIT` (RFC 3261 25.1).
#[inline]
pub(crate) const fn is_alphanum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// `mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"` (RFC 3261 25.1).
#[inline]
pub(crate) const fn is_mark(b: u8) -> bool {
    matches!(b, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
}

/// `unreserved = alphanum / mark` (RFC 3261 25.1).
#[inline]
pub(crate) const fn is_unreserved(b: u8) -> bool {
    is_alphanum(b) || is_mark(b)
}

/// `reserved = ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / ","` (RFC 3261 25.1).
#[inline]
pub(crate) const fn is_reserved(b: u8) -> bool {
    matches!(b, b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b',')
}

/// One octet of `token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / <backquote> / "'" / "~")`
/// (RFC 3261 25.1).
const fn token_rule(b: u8) -> bool {
    is_alphanum(b) || matches!(b, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
}

/// [`token_rule`] for every octet: header names and list values are
/// scanned with it, so one load beats a chain of comparisons.
static TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = token_rule(i as u8);
        i += 1;
    }
    table
};

/// One octet of `token` (RFC 3261 25.1), by table.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// One octet of `word` (RFC 3261 25.1): token characters plus
/// `( ) < > : \ DQUOTE / [ ] ? { }`; used by Call-ID.
#[inline]
pub(crate) const fn is_word(b: u8) -> bool {
    token_rule(b)
        || matches!(b, b'(' | b')' | b'<' | b'>' | b':' | b'\\' | b'"' | b'/' | b'[' | b']' | b'?' | b'{' | b'}')
}

/// `user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"` (RFC 3261 25.1).
#[inline]
pub(crate) const fn is_user_unreserved(b: u8) -> bool {
    matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

/// The literal octets of `user = 1*( unreserved / escaped / user-unreserved )`
/// (RFC 3261 25.1); `escaped` is checked separately.
#[inline]
pub(crate) const fn is_user(b: u8) -> bool {
    is_unreserved(b) || is_user_unreserved(b)
}

/// The literal octets of `password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )`
/// (RFC 3261 25.1).
#[inline]
pub(crate) const fn is_password(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

/// `param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"` and the rest of
/// `paramchar` except `escaped` (RFC 3261 25.1).
#[inline]
pub(crate) const fn is_paramchar(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

/// `hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"` plus `unreserved`,
/// the literal octets of `hname` / `hvalue` (RFC 3261 25.1).
#[inline]
pub(crate) const fn is_hnv(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// Octets of `hostname` and `IPv4address` (RFC 3261 25.1: alphanum, "-", ".").
/// `_` is accepted too: it is common in real host names although the grammar
/// excludes it, and nothing is ambiguous because of it.
#[inline]
pub(crate) const fn is_host(b: u8) -> bool {
    is_alphanum(b) || matches!(b, b'-' | b'.' | b'_')
}

/// Octets inside an `IPv6reference` (RFC 3261 25.1: HEXDIG, ":" and the "."
/// of an embedded IPv4 part). The exact shape is not enforced because
/// RFC 5118 4.10 asks parsers to tolerate the grammar's three-colon bug.
#[inline]
pub(crate) const fn is_ipv6(b: u8) -> bool {
    b.is_ascii_hexdigit() || matches!(b, b':' | b'.')
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` after the first octet
/// (RFC 3261 25.1).
#[inline]
pub(crate) const fn is_scheme(b: u8) -> bool {
    is_alphanum(b) || matches!(b, b'+' | b'-' | b'.')
}

/// Octets allowed in an `absoluteURI` of a scheme we do not decode (RFC 3261
/// 25.1: `uric` and `uric-no-slash`, i.e. reserved / unreserved / escaped).
/// `[`, `]` and `#` are accepted too so that IPv6 hosts and fragments in
/// http-like URIs do not make an otherwise sane message invalid.
#[inline]
pub(crate) const fn is_uric(b: u8) -> bool {
    is_reserved(b) || is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'#')
}

/// `WSP = SP / HTAB` (RFC 5234 B.1, used by RFC 3261 25.1).
#[inline]
pub(crate) const fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Any octet of `LWS = [*WSP CRLF] 1*WSP` inside a header value whose line
/// ends were already checked to be folds (RFC 3261 25.1).
#[inline]
pub(crate) const fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `DIGIT` (RFC 5234 B.1).
#[inline]
pub(crate) const fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// `escaped = "%" HEXDIG HEXDIG` (RFC 3261 25.1): checks that every `%` in
/// `s` starts a full escape, and that every other octet satisfies `class`.
/// Returns the index of the first bad octet.
#[inline]
pub(crate) fn check_escaped(s: &[u8], class: fn(u8) -> bool) -> Result<(), usize> {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hex = |j: usize| s.get(j).is_some_and(|h| h.is_ascii_hexdigit());
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(i);
            }
            i += 3;
        } else if class(b) {
            i += 1;
        } else {
            return Err(i);
        }
    }
    Ok(())
}

/// Offset of the first `a` or `b` in `s`. Reads eight octets at a time
/// (the "has zero byte" trick on `v ^ a` and `v ^ b`): header sections are
/// mostly long runs with no line end, and this is the parser's hottest loop.
#[inline]
pub(crate) fn find_either(s: &[u8], a: u8, b: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let (fill_a, fill_b) = (LO * u64::from(a), LO * u64::from(b));
    let mut chunks = s.chunks_exact(8);
    let mut base = 0usize;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let (xa, xb) = (v ^ fill_a, v ^ fill_b);
        // A borrow can flag an octet above a real match, never below one,
        // so the lowest flag is the first match.
        let found = ((xa.wrapping_sub(LO) & !xa) | (xb.wrapping_sub(LO) & !xb)) & HI;
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks.remainder().iter().position(|&c| c == a || c == b).map(|i| base + i)
}

/// Removes LWS (SP, HTAB, CR, LF) from both ends.
#[inline]
pub(crate) fn trim_lws(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_lws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_lws(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// Parses `1*DIGIT` as a `u32`, `None` if empty, not all digits, or too large.
/// Leading zeros are fine (RFC 4475 3.1.1.1 sends `0009`).
#[inline]
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    u32::try_from(parse_u64(s)?).ok()
}

/// Parses `1*DIGIT` as a `u64`, `None` if empty, not all digits, or too large.
#[inline]
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !is_digit(b) {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Parses `1*DIGIT` and saturates at `u32::MAX`, as RFC 3261 20.19 and
/// RFC 4475 3.1.2.4 ask for over-large `delta-seconds`; `None` if not digits.
#[inline]
pub(crate) fn parse_delta_seconds(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(|&b| is_digit(b)) {
        return None;
    }
    Some(parse_u32(s).unwrap_or(u32::MAX))
}

/// Removes one pair of surrounding double quotes, if present.
#[inline]
pub(crate) fn unquote(s: &[u8]) -> &[u8] {
    match s {
        [b'"', inner @ .., b'"'] => inner,
        _ => s,
    }
}

/// A problem found inside a value: where (relative to the value) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bad {
    /// Offset of the offending octet, relative to the slice being parsed.
    pub at: usize,
    /// What is wrong, for people.
    pub reason: &'static str,
}

/// A read position inside one header value (or one URI).
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `s`.
    #[inline]
    pub fn new(s: &'a [u8]) -> Self {
        Cursor { s, pos: 0 }
    }

    /// Current offset from the start of the slice.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back to an offset returned by [`Cursor::pos`].
    #[inline]
    pub fn reset(&mut self, pos: usize) {
        self.pos = pos.min(self.s.len());
    }

    /// The octet under the cursor.
    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Whether everything was consumed.
    #[inline]
    pub fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Consumes and returns the next octet.
    #[inline]
    pub fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Consumes `b` if it is next.
    #[inline]
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes octets while `f` holds and returns them.
    #[inline]
    pub fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        let rest = self.s.get(start..).unwrap_or_default();
        let n = rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        self.pos = start + n;
        rest.get(..n).unwrap_or_default()
    }

    /// Skips LWS; true if anything was skipped.
    #[inline]
    pub fn skip_lws(&mut self) -> bool {
        !self.take_while(is_lws).is_empty()
    }

    /// The octets between two offsets of this cursor.
    #[inline]
    pub fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        self.s.get(from..to).unwrap_or_default()
    }

    /// Everything not consumed yet.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.s.get(self.pos..).unwrap_or_default()
    }

    /// A problem at the cursor.
    #[inline]
    pub fn bad(&self, reason: &'static str) -> Bad {
        Bad { at: self.pos, reason }
    }

    /// Consumes a `token` (RFC 3261 25.1), failing with `reason` if empty.
    #[inline]
    pub fn token(&mut self, reason: &'static str) -> Result<&'a [u8], Bad> {
        let t = self.take_while(is_token);
        if t.is_empty() {
            Err(self.bad(reason))
        } else {
            Ok(t)
        }
    }

    /// Consumes `SWS sep SWS` (RFC 3261 25.1: SLASH, COLON, EQUAL, SEMI...)
    /// if `sep` comes next after optional LWS; otherwise leaves the cursor.
    #[inline]
    pub fn separator(&mut self, sep: u8) -> bool {
        let save = self.pos;
        self.skip_lws();
        if self.eat(sep) {
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes a `quoted-string` (RFC 3261 25.1) starting at the DQUOTE and
    /// returns it with its quotes. A `quoted-pair` may escape any octet but
    /// CR and LF (the grammar's `%x00-09 / %x0B-0C / %x0E-7F`, widened to
    /// non-ASCII for robustness); LWS inside is a fold and allowed.
    #[inline]
    pub fn quoted_string(&mut self) -> Result<&'a [u8], Bad> {
        let start = self.pos;
        if !self.eat(b'"') {
            return Err(self.bad("expected a quoted string"));
        }
        loop {
            match self.peek() {
                None => return Err(Bad { at: start, reason: "unterminated quoted string" }),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(self.slice(start, self.pos));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'\r' | b'\n') | None => return Err(self.bad("quoted-pair escapes a line end")),
                        Some(_) => self.pos += 1,
                    }
                }
                // qdtext excludes the other controls, but they are harmless to
                // a reader and the RFC 4475 corpus only tests them escaped.
                Some(_) => self.pos += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_rfc3261_examples() {
        for b in b"abcXYZ019-.!%*_+`'~" {
            assert!(is_token(*b), "{}", *b as char);
        }
        for b in b"()<>@,;:\\\"/[]?={} \t" {
            assert!(!is_token(*b), "{}", *b as char);
        }
        assert!(is_word(b'"') && is_word(b'{') && !is_word(b'@') && !is_word(b' '));
        assert!(is_user(b';') && is_user(b'?') && !is_user(b'@') && !is_user(b':'));
        assert!(is_password(b',') && !is_password(b':'));
        assert!(is_scheme(b'.') && !is_scheme(b':'));
    }

    #[test]
    fn find_either_matches_a_plain_search() {
        let mut s = vec![b'x'; 40];
        assert_eq!(find_either(&s, b'\r', b'\n'), None);
        for i in 0..40 {
            for (c, later) in [(b'\r', b'\n'), (b'\n', b'\r'), (0x8d, b'\n')] {
                s.fill(b'x');
                s[i] = c;
                if let Some(l) = s.get_mut(i + 1) {
                    *l = later;
                }
                let want = s.iter().position(|&b| b == b'\r' || b == b'\n');
                assert_eq!(find_either(&s, b'\r', b'\n'), want, "{i} {c}");
            }
        }
        assert_eq!(find_either(b"\x0e\x0d\x0c", b'\r', b'\r'), Some(1));
    }

    #[test]
    fn escapes() {
        assert_eq!(check_escaped(b"null-%00-null", is_user), Ok(()));
        assert_eq!(check_escaped(b"a%4", is_user), Err(1));
        assert_eq!(check_escaped(b"a%zz", is_user), Err(1));
        assert_eq!(check_escaped(b"a b", is_user), Err(1));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"0009"), Some(9));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u64(b"36893488147419103232"), None);
        assert_eq!(parse_delta_seconds(b"280297596632815"), Some(u32::MAX));
        assert_eq!(parse_delta_seconds(b"60"), Some(60));
        assert_eq!(parse_delta_seconds(b"6x"), None);
    }

    #[test]
    fn quoted_strings() {
        let mut c = Cursor::new(br#""J Rosenberg \\\"" <"#);
        assert_eq!(c.quoted_string().unwrap(), br#""J Rosenberg \\\"""#);
        assert_eq!(c.rest(), b" <");
        let mut c = Cursor::new(b"\"NUL:\\\x00 DEL:\\\x7f\"");
        assert!(c.quoted_string().is_ok());
        let mut c = Cursor::new(b"\"Mr. J. User <sip:j.user@example.com>");
        assert_eq!(c.quoted_string().unwrap_err().reason, "unterminated quoted string");
        let mut c = Cursor::new(b"\"a\\");
        assert!(c.quoted_string().is_err());
    }

    #[test]
    fn trimming_and_separators() {
        assert_eq!(trim_lws(b" \r\n a b \t"), b"a b");
        assert_eq!(trim_lws(b" \r\n "), b"");
        let mut c = Cursor::new(b"  /\r\n UDP");
        assert!(c.separator(b'/'));
        assert_eq!(c.rest(), b"UDP");
        assert!(!c.separator(b'/'));
        assert_eq!(unquote(b"\"goip\""), b"goip");
        assert_eq!(unquote(b"\""), b"\"");
    }
}
