//! URIs in SIP messages: SIP and SIPS URIs in full (RFC 3261 19.1.1, 25.1),
//! `tel` URIs (RFC 3966) and any other `absoluteURI` (RFC 3261 25.1) checked
//! for legal characters only.
//!
//! Hosts keep their IPv6 brackets as on the wire (`host = IPv6reference`);
//! RFC 5118 4.10's three-colon form is tolerated, and an unbracketed IPv6
//! host is rejected because its colons are ambiguous with the port
//! (RFC 5118 4.2). Escapes are checked but not decoded (zero-copy).
//!
//! [`parse_loose`] is the lenient parser's fallback for URIs the grammar
//! rejects: it never fails and reads unbracketed IPv6 hosts.

use std::net::IpAddr;

use super::chars::{
    check_escaped, is_digit, is_hnv, is_host, is_ipv6, is_paramchar, is_password, is_scheme, is_unreserved, is_uric,
    is_user, parse_u32, trim_lws, Bad, Cursor,
};
use super::values::Params;

/// A parsed URI; every field borrows from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    /// Scheme as on the wire (`sip`, `sips`, `tel`, or anything else).
    pub scheme: &'a [u8],
    /// User part (escapes not decoded); for `tel:` the subscriber number.
    pub user: Option<&'a [u8]>,
    /// Password after `user:`, rarely seen and deprecated (RFC 3261 19.1.1).
    pub password: Option<&'a [u8]>,
    /// Host name or address, with brackets for IPv6 (an unbracketed one read
    /// by the lenient parser stays as sent); empty when the scheme has none.
    pub host: &'a [u8],
    /// Explicit port.
    pub port: Option<u16>,
    /// `uri-parameters` without the leading `;` (e.g. `transport=udp;lr`).
    pub params: &'a [u8],
    /// `headers` after the `?`, without it.
    pub headers: Option<&'a [u8]>,
    /// The whole URI.
    pub raw: &'a [u8],
}

impl<'a> Uri<'a> {
    /// Parses and checks a URI; `None` if it is malformed.
    pub fn parse(raw: &'a [u8]) -> Option<Self> {
        parse(raw).ok()
    }

    /// Whether the scheme is `sip` or `sips` (case-insensitive).
    pub fn is_sip(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"sip") || self.scheme.eq_ignore_ascii_case(b"sips")
    }

    /// Each `uri-parameter` as `(name, value)`.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// The parameter called `name` (case-insensitive): `Some(None)` if it has no value.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        self.params().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// The host as an IP address, if it is one (brackets removed).
    pub fn ip(&self) -> Option<IpAddr> {
        parse_ip(self.host)
    }
}

/// Parses an IPv4 address or a (possibly bracketed) IPv6 address.
pub(crate) fn parse_ip(host: &[u8]) -> Option<IpAddr> {
    let host = match host {
        [b'[', inner @ .., b']'] => inner,
        _ => host,
    };
    std::str::from_utf8(host).ok()?.parse().ok()
}

/// Parses a URI, reporting the offending offset within `raw`.
pub(crate) fn parse(raw: &[u8]) -> Result<Uri<'_>, Bad> {
    let mut c = Cursor::new(raw);
    match c.peek() {
        Some(b) if b.is_ascii_alphabetic() => {}
        Some(b'<') => return Err(c.bad("URI must not be enclosed in <> here")),
        _ => return Err(c.bad("URI does not start with a scheme")),
    }
    let scheme = c.take_while(is_scheme);
    if !c.eat(b':') {
        return Err(c.bad("URI has no ':' after its scheme"));
    }
    let uri = Uri { scheme, user: None, password: None, host: b"", port: None, params: b"", headers: None, raw };
    if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
        sip_uri(uri, c)
    } else if scheme.eq_ignore_ascii_case(b"tel") {
        tel_uri(uri, c)
    } else {
        other_uri(uri, c)
    }
}

/// A best-effort reading of a URI that [`parse`] may reject, for lenient
/// parsing: it never fails, checks no characters, and fills in what can be
/// told apart.
///
/// - LWS around the URI and one pair of `<>` around it are removed.
/// - A SIP or SIPS URI is split as [`parse`] splits it: the userinfo ends at
///   the first `@`, parameters start at the first `;` after it and headers
///   at the first `?`; the host and port are read by [`hostport_loose`].
/// - A `tel` URI keeps its number and parameters; any other scheme only its
///   scheme. Text without a scheme gives an empty one.
pub(crate) fn parse_loose(raw: &[u8]) -> Uri<'_> {
    let raw = trim_lws(raw);
    let raw = match raw {
        [b'<', inner @ .., b'>'] => trim_lws(inner),
        _ => raw,
    };
    if let Ok(uri) = parse(raw) {
        return uri;
    }
    let mut uri =
        Uri { scheme: b"", user: None, password: None, host: b"", port: None, params: b"", headers: None, raw };
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return uri;
    };
    let scheme = raw.get(..colon).unwrap_or_default();
    if !scheme.first().is_some_and(u8::is_ascii_alphabetic) || !scheme.iter().all(|&b| is_scheme(b)) {
        return uri;
    }
    uri.scheme = scheme;
    let rest = raw.get(colon + 1..).unwrap_or_default();
    if scheme.eq_ignore_ascii_case(b"tel") {
        let (number, params) = split_once(rest, b';');
        uri.user = Some(number);
        uri.params = params.unwrap_or_default();
        return uri;
    }
    if !uri.is_sip() {
        return uri;
    }
    let hostpart = match rest.iter().position(|&b| b == b'@') {
        Some(at) => {
            let (user, password) = split_once(rest.get(..at).unwrap_or_default(), b':');
            uri.user = Some(user);
            uri.password = password;
            rest.get(at + 1..).unwrap_or_default()
        }
        None => rest,
    };
    let (hostpart, headers) = split_once(hostpart, b'?');
    let (hostport, params) = split_once(hostpart, b';');
    (uri.host, uri.port) = hostport_loose(hostport);
    uri.params = params.unwrap_or_default();
    uri.headers = headers;
    uri
}

/// `host[:port]` read without the grammar, for [`parse_loose`] and lenient
/// Via values. A bracketed IPv6 host and a host with one colon are read as
/// usual (a port that is not a number is dropped). With more colons the host
/// is an unbracketed IPv6 address, which RFC 5118 4.2 calls invalid but
/// phones send: the whole text is the host if it is an IPv6 address
/// (`2001:db8::10`), else the text before the last colon if that is one and
/// the rest is a port (`fec0:0:0:0:216:d3ff:fe0d:22c:5060` has nine groups,
/// so `5060` can only be a port), else the whole text without a port.
pub(crate) fn hostport_loose(s: &[u8]) -> (&[u8], Option<u16>) {
    let port = |p: &[u8]| parse_u32(p).and_then(|n| u16::try_from(n).ok());
    if s.first() == Some(&b'[') {
        return match s.iter().position(|&b| b == b']') {
            Some(close) => {
                let after = s.get(close + 1..).unwrap_or_default();
                (s.get(..=close).unwrap_or_default(), after.strip_prefix(b":").and_then(port))
            }
            None => (s, None),
        };
    }
    let Some(last) = s.iter().rposition(|&b| b == b':') else {
        return (s, None);
    };
    let (head, tail) = (s.get(..last).unwrap_or_default(), s.get(last + 1..).unwrap_or_default());
    if !head.contains(&b':') {
        return (head, port(tail));
    }
    let is_v6 = |h: &[u8]| matches!(parse_ip(h), Some(IpAddr::V6(_)));
    match port(tail) {
        Some(p) if !is_v6(s) && is_v6(head) => (head, Some(p)),
        _ => (s, None),
    }
}

/// `s` split at the first `sep`: the part before, and the part after if
/// `sep` occurs.
fn split_once(s: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == sep) {
        Some(i) => (s.get(..i).unwrap_or_default(), s.get(i + 1..)),
        None => (s, None),
    }
}

/// `SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ]` (RFC 3261 25.1).
fn sip_uri<'a>(mut uri: Uri<'a>, mut c: Cursor<'a>) -> Result<Uri<'a>, Bad> {
    let rest_at = c.pos();
    let rest = c.rest();
    // `@` cannot appear unescaped after the userinfo (no class but `user`'s
    // neighbours allow it), so the first one ends the userinfo.
    if let Some(at) = rest.iter().position(|&b| b == b'@') {
        let userinfo = rest.get(..at).unwrap_or_default();
        let (user, password) = match userinfo.iter().position(|&b| b == b':') {
            Some(i) => (userinfo.get(..i).unwrap_or_default(), Some(userinfo.get(i + 1..).unwrap_or_default())),
            None => (userinfo, None),
        };
        if user.is_empty() {
            return Err(Bad { at: rest_at, reason: "empty user part before '@'" });
        }
        // `#` is not legal unescaped (RFC 3261 19.1.2), but gateways and
        // phones send dial strings like `*97#` as they are; it is harmless here.
        check_escaped(user, |b| is_user(b) || b == b'#')
            .map_err(|i| Bad { at: rest_at + i, reason: "character not allowed in the URI user part" })?;
        if let Some(p) = password {
            check_escaped(p, is_password).map_err(|i| Bad {
                at: rest_at + user.len() + 1 + i,
                reason: "character not allowed in the URI password",
            })?;
        }
        uri.user = Some(user);
        uri.password = password;
        c.reset(rest_at + at + 1);
    }
    let (host, port) = hostport(&mut c)?;
    uri.host = host;
    uri.port = port;
    if c.eat(b';') {
        let at = c.pos();
        uri.params = c.take_while(|b| b != b'?');
        check_params(uri.params, at)?;
    }
    if c.eat(b'?') {
        let at = c.pos();
        let headers = c.take_while(|_| true);
        check_headers(headers, at)?;
        uri.headers = Some(headers);
    }
    if !c.at_end() {
        return Err(c.bad("unexpected character in SIP URI"));
    }
    Ok(uri)
}

/// `hostport = host [ ":" port ]`, `host = hostname / IPv4address / IPv6reference`
/// (RFC 3261 25.1).
pub(crate) fn hostport<'a>(c: &mut Cursor<'a>) -> Result<(&'a [u8], Option<u16>), Bad> {
    let start = c.pos();
    let host = host(c)?;
    if !c.eat(b':') {
        return Ok((host, None));
    }
    let after = c.rest();
    port(c).map(|p| (host, Some(p))).map_err(|e| {
        let rest = after.split(|&b| b == b';' || b == b'?').next().unwrap_or_default();
        if host.iter().all(u8::is_ascii_hexdigit) && rest.iter().all(|&b| is_ipv6(b)) {
            Bad { at: start, reason: "IPv6 address not enclosed in [] (RFC 5118 4.2)" }
        } else {
            e
        }
    })
}

/// `host` (RFC 3261 25.1), brackets kept for an `IPv6reference`.
pub(crate) fn host<'a>(c: &mut Cursor<'a>) -> Result<&'a [u8], Bad> {
    let start = c.pos();
    if c.eat(b'[') {
        let inner = c.take_while(is_ipv6);
        if !c.eat(b']') {
            return Err(c.bad("IPv6 reference without a closing ']'"));
        }
        if !inner.contains(&b':') {
            return Err(Bad { at: start, reason: "bracketed host is not an IPv6 address" });
        }
        return Ok(c.slice(start, c.pos()));
    }
    let h = c.take_while(is_host);
    if h.is_empty() {
        return Err(c.bad("missing host"));
    }
    Ok(h)
}

/// `port = 1*DIGIT`, which must fit 16 bits.
pub(crate) fn port(c: &mut Cursor<'_>) -> Result<u16, Bad> {
    let at = c.pos();
    let digits = c.take_while(is_digit);
    if digits.is_empty() {
        return Err(c.bad("port is not a number"));
    }
    parse_u32(digits).and_then(|p| u16::try_from(p).ok()).ok_or(Bad { at, reason: "port out of range" })
}

/// `uri-parameter = pname [ "=" pvalue ]` separated by `;` (RFC 3261 25.1);
/// `at` is the offset of `params` in the URI.
fn check_params(params: &[u8], at: usize) -> Result<(), Bad> {
    let mut off = at;
    for p in params.split(|&b| b == b';') {
        let (name, value) = match p.iter().position(|&b| b == b'=') {
            Some(i) => (p.get(..i).unwrap_or_default(), p.get(i + 1..)),
            None => (p, None),
        };
        if name.is_empty() {
            return Err(Bad { at: off, reason: "empty URI parameter" });
        }
        check_escaped(name, is_paramchar)
            .map_err(|i| Bad { at: off + i, reason: "character not allowed in a URI parameter" })?;
        if let Some(v) = value {
            check_escaped(v, is_paramchar).map_err(|i| Bad {
                at: off + name.len() + 1 + i,
                reason: "character not allowed in a URI parameter value",
            })?;
        }
        off += p.len() + 1;
    }
    Ok(())
}

/// `headers = "?" header *( "&" header )`, `header = hname "=" hvalue`
/// (RFC 3261 25.1); `at` is the offset of `headers` in the URI.
fn check_headers(headers: &[u8], at: usize) -> Result<(), Bad> {
    let mut off = at;
    for h in headers.split(|&b| b == b'&') {
        let Some(eq) = h.iter().position(|&b| b == b'=') else {
            return Err(Bad { at: off, reason: "URI header without '='" });
        };
        let (name, value) = (h.get(..eq).unwrap_or_default(), h.get(eq + 1..).unwrap_or_default());
        if name.is_empty() {
            return Err(Bad { at: off, reason: "empty URI header name" });
        }
        check_escaped(name, is_hnv)
            .and_then(|()| check_escaped(value, is_hnv).map_err(|i| name.len() + 1 + i))
            .map_err(|i| Bad { at: off + i, reason: "character not allowed in a URI header" })?;
        off += h.len() + 1;
    }
    Ok(())
}

/// `telephone-uri = "tel:" telephone-subscriber` (RFC 3966 3): the number
/// goes in `user`, parameters in `params`.
fn tel_uri<'a>(mut uri: Uri<'a>, mut c: Cursor<'a>) -> Result<Uri<'a>, Bad> {
    let at = c.pos();
    let number = c.take_while(|b| b != b';');
    if number.is_empty() {
        return Err(c.bad("empty telephone number"));
    }
    check_escaped(number, |b| is_unreserved(b) || matches!(b, b'+' | b'#' | b'*'))
        .map_err(|i| Bad { at: at + i, reason: "character not allowed in a telephone number" })?;
    uri.user = Some(number);
    if c.eat(b';') {
        let at = c.pos();
        uri.params = c.take_while(|_| true);
        check_params(uri.params, at)?;
    }
    Ok(uri)
}

/// Any other `absoluteURI` (RFC 3261 25.1): only its characters are checked;
/// for a `scheme://authority` form the host and port are filled in when they
/// can be read.
fn other_uri<'a>(mut uri: Uri<'a>, c: Cursor<'a>) -> Result<Uri<'a>, Bad> {
    let at = c.pos();
    let rest = c.rest();
    if rest.is_empty() {
        return Err(c.bad("URI has nothing after its scheme"));
    }
    check_escaped(rest, is_uric).map_err(|i| Bad { at: at + i, reason: "character not allowed in URI" })?;
    if let Some(hier) = rest.strip_prefix(b"//") {
        let end = hier.iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(hier.len());
        let authority = hier.get(..end).unwrap_or_default();
        let hostport_part = match authority.iter().rposition(|&b| b == b'@') {
            Some(i) => {
                uri.user = authority.get(..i);
                authority.get(i + 1..).unwrap_or_default()
            }
            None => authority,
        };
        let mut hc = Cursor::new(hostport_part);
        if let Ok(h) = host(&mut hc) {
            uri.host = h;
            if hc.eat(b':') {
                uri.port = port(&mut hc).ok();
            }
        }
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uris() {
        let u = parse(b"sip:alice:secret@example.com:5070;transport=udp;lr?Subject=hi&x=").unwrap();
        assert_eq!(u.scheme, b"sip");
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.password, Some(&b"secret"[..]));
        assert_eq!(u.host, b"example.com");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.params, b"transport=udp;lr");
        assert_eq!(u.param(b"TRANSPORT"), Some(Some(&b"udp"[..])));
        assert_eq!(u.param(b"lr"), Some(None));
        assert_eq!(u.headers, Some(&b"Subject=hi&x="[..]));

        assert_eq!(parse(b"sip:*97#@10.0.0.1").unwrap().user, Some(&b"*97#"[..]));
        let u = parse(b"sip:8613800138000@10.0.0.1").unwrap();
        assert_eq!(u.user, Some(&b"8613800138000"[..]));
        assert_eq!(u.ip(), Some("10.0.0.1".parse().unwrap()));

        // RFC 4475 3.1.1.9: `;` and escaped `@` in the user part.
        let u = parse(b"sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some(&b"user;par=u%40example.net"[..]));
        assert_eq!(u.host, b"example.com");

        // RFC 4475 3.1.1.2: every legal user and password character.
        let u = parse(b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").unwrap();
        assert_eq!(u.password, Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..]));
    }

    #[test]
    fn ipv6_hosts() {
        let u = parse(b"sip:[2001:db8::10]:5070").unwrap();
        assert_eq!((u.host, u.port), (&b"[2001:db8::10]"[..], Some(5070)));
        assert_eq!(u.ip(), Some("2001:db8::10".parse().unwrap()));
        let u = parse(b"sip:[2001:db8::10:5070]").unwrap();
        assert_eq!((u.host, u.port), (&b"[2001:db8::10:5070]"[..], None));
        assert!(parse(b"sip:user@[2001:db8:::192.0.2.1]").is_ok());
        let bad = parse(b"sip:2001:db8::10").unwrap_err();
        assert_eq!(bad.reason, "IPv6 address not enclosed in [] (RFC 5118 4.2)");
        assert_eq!(parse(b"sip:host:x").unwrap_err().reason, "port is not a number");
        assert!(parse(b"sip:[2001:db8::10").is_err());
        assert!(parse(b"sip:[example.com]").is_err());
    }

    #[test]
    fn other_schemes() {
        let u = parse(b"tel:+86-138-0013-8000;phone-context=example.com").unwrap();
        assert_eq!(u.user, Some(&b"+86-138-0013-8000"[..]));
        assert_eq!(u.param(b"phone-context"), Some(Some(&b"example.com"[..])));
        let u = parse(b"soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!((u.host, u.port), (&b"192.0.2.103"[..], Some(3002)));
        assert!(parse(b"nobodyKnowsThisScheme:totallyopaquecontent").is_ok());
        assert!(parse(b"isbn:2983792873").is_ok());
        assert!(parse(b"name:John_Smith").is_ok());
        assert!(parse(b"http:").is_err());
    }

    #[test]
    fn loose_uris() {
        // (URI, scheme, user, host, port, params, headers)
        type Row<'a> = (&'a [u8], &'a [u8], Option<&'a [u8]>, &'a [u8], Option<u16>, &'a [u8], Option<&'a [u8]>);
        let rows: [Row<'_>; 12] = [
            (
                b"sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060",
                b"sip",
                Some(b"4321"),
                b"fec0:0:0:0:216:d3ff:fe0d:22c",
                Some(5060),
                b"",
                None,
            ),
            (b"sip:2001:db8::10", b"sip", None, b"2001:db8::10", None, b"", None),
            (b"sip:u@2001:db8::10:5070;lr", b"sip", Some(b"u"), b"2001:db8::10:5070", None, b"lr", None),
            (b"sip:u@1:2:3", b"sip", Some(b"u"), b"1:2:3", None, b"", None),
            (b"<sip:user@example.com>", b"sip", Some(b"user"), b"example.com", None, b"", None),
            (b" sip:user@example.com; lr", b"sip", Some(b"user"), b"example.com", None, b" lr", None),
            (b"sips:a b@h:x?X=1", b"sips", Some(b"a b"), b"h", None, b"", Some(b"X=1")),
            (b"sip:u@[2001:db8::1]:5070;x", b"sip", Some(b"u"), b"[2001:db8::1]", Some(5070), b"x", None),
            (b"sip:u@[2001:db8::1", b"sip", Some(b"u"), b"[2001:db8::1", None, b"", None),
            (b"tel:+86 138;x=y", b"tel", Some(b"+86 138"), b"", None, b"x=y", None),
            (b"http://ex ample", b"http", None, b"", None, b"", None),
            (b"user@host", b"", None, b"", None, b"", None),
        ];
        for (raw, scheme, user, host, port, params, headers) in rows {
            let u = parse_loose(raw);
            let got = (u.scheme, u.user, u.host, u.port, u.params, u.headers);
            assert_eq!(got, (scheme, user, host, port, params, headers), "{}", String::from_utf8_lossy(raw));
        }
        let u = parse_loose(b"sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060");
        assert_eq!(u.ip(), Some("fec0::216:d3ff:fe0d:22c".parse().unwrap()));
        // A URI the grammar accepts reads exactly as `parse` reads it.
        for good in
            [&b"sip:alice:secret@example.com:5070;transport=udp?Subject=hi"[..], b"tel:+1-555", b"isbn:2983792873"]
        {
            assert_eq!(parse_loose(good), parse(good).unwrap());
        }
        assert_eq!(parse_loose(b"").raw, b"");
    }

    #[test]
    fn malformed() {
        for bad in [
            &b"<sip:user@example.com>"[..],
            b"sip:user@example.com; lr",
            b"sip:@example.com",
            b"sip:user@",
            b"sip:user@host:99999",
            b"sip:user@host;;lr",
            b"sip:user@host?Route",
            b"sip:us%zzer@host",
            b"user@host",
            b"sip",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
