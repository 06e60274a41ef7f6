//! Grammars of individual header values (RFC 3261 20 and 25.1).
//!
//! Each parser walks one header value (already trimmed, folds still inside)
//! with a [`Cursor`] and reports problems as a [`Bad`] whose offset is
//! relative to that value. The same parsers validate a message while it is
//! parsed and serve the typed accessors of [`super::Message`] afterwards, so a
//! value that passed validation always parses again.
//!
//! List-valued headers (`Via`, `Contact`, `Allow`, ...) are walked element by
//! element (RFC 3261 7.3.1): an element's grammar decides where it ends, so
//! commas inside quoted strings or `<>` never split a value.
//!
//! Messages read by the lenient parser may hold values the grammar rejects.
//! For those the accessors fall back to best-effort readers (`*_loose`):
//! an element ends at the next comma outside quotes and `<>`, addresses are
//! found by their `<>` or scheme, parameters are split on `;` and `=`
//! whatever their characters. A fallback never runs on a value that passed
//! validation, so strictly parsed messages read exactly as the grammar says.

use std::slice;

use super::chars::{
    is_digit, is_lws, is_token, is_word, parse_delta_seconds, parse_u32, trim_lws, unquote, Bad, Cursor,
};
use super::uri::{self, parse_ip, Uri};
use super::{Header, HeaderName, Method};

/// `name-addr` or `addr-spec` with header parameters: From, To, Contact,
/// Route (RFC 3261 20.10, 20.20, 20.39, 25.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name: inside of the quotes for a quoted one (quoted-pairs
    /// left escaped), or the tokens as written.
    pub display: Option<&'a [u8]>,
    /// The address.
    pub uri: Uri<'a>,
    /// The `tag` parameter (RFC 3261 19.3).
    pub tag: Option<&'a [u8]>,
    /// All header parameters after the address, without the first `;`
    /// (LWS around separators kept as on the wire).
    pub params: &'a [u8],
}

impl<'a> NameAddr<'a> {
    /// Each header parameter as `(name, value)`; quoted values keep their quotes.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// The parameter called `name` (case-insensitive): `Some(None)` if it has no value.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        find_param(self.params, name)
    }
}

/// One `via-parm` of a Via header (RFC 3261 20.42, 18.2.1; RFC 3581).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Transport: `UDP`, `TCP`, `TLS`, `SCTP`, or any other token.
    pub transport: &'a [u8],
    /// Host of `sent-by`, with brackets for IPv6.
    pub host: &'a [u8],
    /// Port of `sent-by`.
    pub port: Option<u16>,
    /// The `branch` parameter (RFC 3261 8.1.1.7).
    pub branch: Option<&'a [u8]>,
    /// `rport` (RFC 3581): `Some(None)` when present without a value.
    pub rport: Option<Option<u16>>,
    /// The `received` parameter (brackets kept if sent, RFC 5118 4.5).
    pub received: Option<&'a [u8]>,
    /// All parameters without the first `;`.
    pub params: &'a [u8],
    /// The whole `via-parm`, from the protocol name to the last parameter.
    pub raw: &'a [u8],
}

impl<'a> Via<'a> {
    /// Each parameter as `(name, value)`.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// The parameter called `name` (case-insensitive): `Some(None)` if it has no value.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        find_param(self.params, name)
    }

    /// The `sent-by` host as an IP address, if it is one.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        parse_ip(self.host)
    }
}

/// One value of a Contact header (RFC 3261 20.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *`, used to remove all bindings (RFC 3261 10.2.2).
    Star,
    /// An address with its parameters.
    Addr {
        /// The address.
        addr: NameAddr<'a>,
        /// The `expires` parameter, saturated at `u32::MAX` (RFC 3261 20.10).
        expires: Option<u32>,
    },
}

/// The CSeq header (RFC 3261 20.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Method.
    pub method: Method<'a>,
}

/// Iterator over `;`-separated `name[=value]` parameters (RFC 3261 25.1
/// `generic-param`), skipping LWS around the separators; a `;` inside a
/// quoted value does not split it.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    /// Parameters in `raw`, which does not start with the first `;`.
    pub fn new(raw: &'a [u8]) -> Self {
        Params { rest: raw }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let mut in_quotes = false;
            let mut escaped = false;
            let mut end = self.rest.len();
            for (i, &b) in self.rest.iter().enumerate() {
                if escaped {
                    escaped = false;
                } else if in_quotes && b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_quotes = !in_quotes;
                } else if b == b';' && !in_quotes {
                    end = i;
                    break;
                }
            }
            let item = self.rest.get(..end).unwrap_or_default();
            self.rest = self.rest.get(end + 1..).unwrap_or_default();
            let (name, value) = match item.iter().position(|&b| b == b'=') {
                Some(eq) => {
                    (item.get(..eq).unwrap_or_default(), Some(trim_lws(item.get(eq + 1..).unwrap_or_default())))
                }
                None => (item, None),
            };
            let name = trim_lws(name);
            if !name.is_empty() {
                return Some((name, value));
            }
        }
    }
}

fn find_param<'a>(raw: &'a [u8], name: &[u8]) -> Option<Option<&'a [u8]>> {
    Params::new(raw).find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// `*( SEMI generic-param )` (RFC 3261 25.1). `each` sees every parameter
/// and may reject it; returns the text after the first `;`.
fn params<'a>(
    c: &mut Cursor<'a>,
    mut each: impl FnMut(&'a [u8], Option<&'a [u8]>) -> Result<(), &'static str>,
) -> Result<&'a [u8], Bad> {
    let mut first = None;
    let mut end = c.pos();
    while c.separator(b';') {
        let name_at = c.pos();
        first.get_or_insert(name_at);
        let name = c.token("empty or malformed parameter")?;
        let value = if c.separator(b'=') { Some(gen_value(c)?) } else { None };
        each(name, value).map_err(|reason| Bad { at: name_at, reason })?;
        end = c.pos();
    }
    Ok(first.map_or(&[][..], |f| c.slice(f, end)))
}

/// `gen-value = token / host / quoted-string` (RFC 3261 25.1).
fn gen_value<'a>(c: &mut Cursor<'a>) -> Result<&'a [u8], Bad> {
    if c.peek() == Some(b'"') {
        return c.quoted_string();
    }
    let v = c.take_while(|b| is_token(b) || matches!(b, b':' | b'[' | b']'));
    if v.is_empty() {
        Err(c.bad("empty or malformed parameter value"))
    } else {
        Ok(v)
    }
}

/// `(name-addr / addr-spec) *( SEMI param )` (RFC 3261 20.10, 25.1), with
/// the `tag` parameter picked out and `each` called on every parameter.
fn name_addr<'a>(
    c: &mut Cursor<'a>,
    mut each: impl FnMut(&'a [u8], Option<&'a [u8]>) -> Result<(), &'static str>,
) -> Result<NameAddr<'a>, Bad> {
    c.skip_lws();
    let start = c.pos();
    let (display, uri) = match c.peek() {
        Some(b'"') => {
            let quoted = c.quoted_string()?;
            c.skip_lws();
            if c.peek() != Some(b'<') {
                return Err(c.bad("expected '<' after the display name"));
            }
            (Some(unquote(quoted)), bracketed(c)?)
        }
        Some(b'<') => (None, bracketed(c)?),
        _ => {
            let first = c.take_while(is_display_octet);
            if first.is_empty() {
                return Err(c.bad("expected an address"));
            }
            if c.peek() == Some(b':') && first.iter().all(|&b| is_token(b)) {
                // A scheme: this is a bare addr-spec.
                c.reset(start);
                (None, addr_spec(c)?)
            } else {
                // display-name = *(token LWS); RFC 4475 3.1.1.6 asks us to
                // accept it without LWS before '<'.
                let mut end = c.pos();
                loop {
                    c.skip_lws();
                    match c.peek() {
                        Some(b'<') => break,
                        Some(b) if is_display_octet(b) => {
                            c.take_while(is_display_octet);
                            end = c.pos();
                        }
                        Some(_) => return Err(c.bad("character not allowed in an unquoted display name")),
                        None => return Err(c.bad("display name without an address")),
                    }
                }
                (Some(c.slice(start, end)), bracketed(c)?)
            }
        }
    };
    let mut tag = None;
    let params = params(c, |name, value| {
        if name.eq_ignore_ascii_case(b"tag") {
            tag = Some(value.ok_or("tag parameter without a value")?);
        }
        each(name, value)
    })?;
    Ok(NameAddr { display, uri, tag, params })
}

/// An octet of an unquoted display name: a `token` octet (RFC 3261 25.1),
/// or any non-ASCII octet, because user agents in the field send UTF-8 names
/// (e.g. Chinese ones) unquoted. Separators such as `,` stay errors
/// (RFC 4475 3.1.2.15).
fn is_display_octet(b: u8) -> bool {
    is_token(b) || b >= 0x80
}

/// `LAQUOT addr-spec RAQUOT` (RFC 3261 25.1), the cursor on the `<`. No LWS
/// is allowed inside (RFC 4475 3.1.2.14).
fn bracketed<'a>(c: &mut Cursor<'a>) -> Result<Uri<'a>, Bad> {
    c.eat(b'<');
    let at = c.pos();
    let inner = c.take_while(|b| b != b'>');
    if !c.eat(b'>') {
        return Err(c.bad("'<' without a closing '>'"));
    }
    if let Some(i) = inner.iter().position(|&b| is_lws(b)) {
        return Err(Bad { at: at + i, reason: "whitespace inside <> around the address" });
    }
    uri::parse(inner).map_err(|b| Bad { at: at + b.at, reason: b.reason })
}

/// A bare `addr-spec` in a header: it ends at `;`, `,` or LWS, and must not
/// carry `?headers`, which need `<>` (RFC 3261 20.10; RFC 4475 3.1.2.13).
fn addr_spec<'a>(c: &mut Cursor<'a>) -> Result<Uri<'a>, Bad> {
    let at = c.pos();
    let s = c.take_while(|b| !matches!(b, b';' | b',') && !is_lws(b));
    if let Some(i) = s.iter().position(|&b| b == b'?') {
        return Err(Bad { at: at + i, reason: "a URI with headers must be enclosed in <>" });
    }
    uri::parse(s).map_err(|b| Bad { at: at + b.at, reason: b.reason })
}

/// A From or To value: exactly one address (RFC 3261 20.20, 20.39).
pub(crate) fn from_to(value: &[u8]) -> Result<NameAddr<'_>, Bad> {
    let mut c = Cursor::new(value);
    let na = name_addr(&mut c, |_, _| Ok(()))?;
    end_of_single(&mut c)?;
    Ok(na)
}

/// Checks that a single-value header has nothing after its value.
fn end_of_single(c: &mut Cursor<'_>) -> Result<(), Bad> {
    c.skip_lws();
    match c.peek() {
        None => Ok(()),
        Some(b',') => Err(c.bad("more than one value in a single-value header")),
        Some(_) => Err(c.bad("unexpected character after the value")),
    }
}

/// A From or To value for the accessors: [`from_to`], or if the grammar
/// rejects it, [`name_addr_loose`] over the whole value.
pub(crate) fn from_to_best_effort(value: &[u8]) -> Option<NameAddr<'_>> {
    from_to(value).ok().or_else(|| name_addr_loose(value))
}

/// Best-effort `name-addr` / `addr-spec` with parameters, for a value the
/// grammar rejected (e.g. a tag with `&` in it, LWS inside `<>`, an
/// unquoted display name with a comma, an unbracketed IPv6 host). With a
/// `<` outside quotes and no `:` or `;` before it, the display name is what
/// precedes the `<` (without its quotes; an unterminated quote is dropped)
/// and the URI runs to `>`; otherwise the URI ends at `;`, `,` or LWS.
/// Parameters are whatever follows the next `;`. `None` if there is no URI
/// with a scheme.
fn name_addr_loose(value: &[u8]) -> Option<NameAddr<'_>> {
    let v = trim_lws(value);
    let angle = find_unquoted(v, |b| b == b'<')
        .filter(|&i| find_unquoted(v.get(..i).unwrap_or_default(), |b| b == b':' || b == b';').is_none());
    let (display, uri_text, rest) = match angle {
        Some(lt) => {
            let inner = v.get(lt + 1..).unwrap_or_default();
            let (uri_text, rest) = match inner.iter().position(|&b| b == b'>') {
                Some(gt) => (inner.get(..gt).unwrap_or_default(), inner.get(gt + 1..).unwrap_or_default()),
                None => (inner, &[][..]),
            };
            let display = match trim_lws(v.get(..lt).unwrap_or_default()) {
                [b'"', inner @ .., b'"'] => inner,
                [b'"', inner @ ..] => trim_lws(inner),
                d => d,
            };
            ((!display.is_empty()).then_some(display), uri_text, rest)
        }
        None => {
            let end = v.iter().position(|&b| matches!(b, b';' | b',') || is_lws(b)).unwrap_or(v.len());
            (None, v.get(..end).unwrap_or_default(), v.get(end..).unwrap_or_default())
        }
    };
    let uri = uri::parse_loose(uri_text);
    if uri.scheme.is_empty() {
        return None;
    }
    let params = after_semi(rest.get(..element_end(rest)).unwrap_or_default());
    let tag = find_param(params, b"tag").flatten();
    Some(NameAddr { display, uri, tag, params })
}

/// What follows the first `;` of `s`, without surrounding LWS: the
/// parameters of a best-effort reading. Empty without a `;`.
fn after_semi(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == b';').map_or(&[][..], |i| trim_lws(s.get(i + 1..).unwrap_or_default()))
}

/// Length of the first element of a list value: up to the first comma
/// outside a quoted string and outside `<>` (RFC 3261 7.3.1), or all of `s`.
/// An unterminated quote or `<` is taken as a literal octet.
fn element_end(s: &[u8]) -> usize {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b',' => return i,
            b'"' => i = quoted_end(s, i).unwrap_or(i),
            b'<' => i = s.get(i..).and_then(|r| r.iter().position(|&c| c == b'>')).map_or(i, |j| i + j),
            _ => {}
        }
        i += 1;
    }
    s.len()
}

/// Offset of the DQUOTE that closes the quoted string opening at `open`
/// (quoted-pairs skipped), if it is closed.
fn quoted_end(s: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while let Some(&b) = s.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Offset of the first octet for which `pred` holds, outside closed quoted
/// strings.
fn find_unquoted(s: &[u8], pred: impl Fn(u8) -> bool) -> Option<usize> {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'"' {
            if let Some(close) = quoted_end(s, i) {
                i = close + 1;
                continue;
            }
        }
        if pred(b) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Best-effort Contact element for [`ListIter`]: `*`, or an address read
/// by [`name_addr_loose`] with its `expires` parameter if that is a number.
pub(crate) fn contact_loose(element: &[u8]) -> Option<Contact<'_>> {
    if trim_lws(element) == b"*" {
        return Some(Contact::Star);
    }
    let addr = name_addr_loose(element)?;
    let expires = addr.param(b"expires").flatten().and_then(parse_delta_seconds);
    Some(Contact::Addr { addr, expires })
}

/// Best-effort `via-parm` for [`ListIter`], for one the grammar rejected
/// (stray `;`, odd parameter values, an unbracketed IPv6 `sent-by`): the
/// `sent-protocol` must still be three tokens, `sent-by` runs to `;` or LWS
/// and is read by [`uri::hostport_loose`], parameters are whatever follows
/// the next `;`. `None` if there is no `sent-protocol` or host.
pub(crate) fn via_loose(element: &[u8]) -> Option<Via<'_>> {
    let mut c = Cursor::new(element);
    c.skip_lws();
    let start = c.pos();
    c.token("").ok()?;
    if !c.separator(b'/') {
        return None;
    }
    c.token("").ok()?;
    if !c.separator(b'/') {
        return None;
    }
    let transport = c.token("").ok()?;
    c.skip_lws();
    let (host, port) = uri::hostport_loose(c.take_while(|b| b != b';' && !is_lws(b)));
    if host.is_empty() {
        return None;
    }
    let params = after_semi(c.rest());
    let rport = find_param(params, b"rport").map(|v| v.and_then(|p| parse_u32(p).and_then(|n| u16::try_from(n).ok())));
    let raw = trim_lws(element.get(start..).unwrap_or_default());
    Some(Via {
        transport,
        host,
        port,
        branch: find_param(params, b"branch").flatten(),
        rport,
        received: find_param(params, b"received").flatten(),
        params,
        raw,
    })
}

/// One Contact value (RFC 3261 20.10); `*` only as a whole header value.
pub(crate) fn contact<'a>(c: &mut Cursor<'a>) -> Result<Contact<'a>, Bad> {
    c.skip_lws();
    if c.eat(b'*') {
        return Ok(Contact::Star);
    }
    let mut expires = None;
    let addr = name_addr(c, |name, value| {
        if name.eq_ignore_ascii_case(b"expires") {
            let v = value.ok_or("expires parameter without a value")?;
            expires = Some(parse_delta_seconds(v).ok_or("expires parameter is not a number")?);
        } else if name.eq_ignore_ascii_case(b"q") {
            let v = value.ok_or("q parameter without a value")?;
            if !v.iter().all(|&b| is_digit(b) || b == b'.') {
                return Err("q parameter is not a number");
            }
        }
        Ok(())
    })?;
    Ok(Contact::Addr { addr, expires })
}

/// One Route or Record-Route value (RFC 3261 20.30, 20.34).
fn route<'a>(c: &mut Cursor<'a>) -> Result<NameAddr<'a>, Bad> {
    name_addr(c, |_, _| Ok(()))
}

/// One `via-parm` (RFC 3261 20.42, 25.1):
/// `sent-protocol LWS sent-by *( SEMI via-params )`, where every separator
/// may be surrounded by LWS (RFC 4475 3.1.1.1).
pub(crate) fn via<'a>(c: &mut Cursor<'a>) -> Result<Via<'a>, Bad> {
    c.skip_lws();
    let start = c.pos();
    c.token("expected the protocol name (SIP)")?;
    if !c.separator(b'/') {
        return Err(c.bad("expected '/' after the protocol name"));
    }
    c.token("expected the protocol version")?;
    if !c.separator(b'/') {
        return Err(c.bad("expected '/' after the protocol version"));
    }
    let transport = c.token("expected the transport")?;
    if !c.skip_lws() {
        return Err(c.bad("expected whitespace before sent-by"));
    }
    let host = uri::host(c)?;
    let port = if c.separator(b':') { Some(uri::port(c)?) } else { None };
    let (mut branch, mut rport, mut received) = (None, None, None);
    let params = params(c, |name, value| {
        if name.eq_ignore_ascii_case(b"branch") {
            branch = Some(value.ok_or("branch parameter without a value")?);
        } else if name.eq_ignore_ascii_case(b"rport") {
            rport = Some(match value {
                None => None,
                Some(v) => Some(parse_u32(v).and_then(|p| u16::try_from(p).ok()).ok_or("rport is not a port number")?),
            });
        } else if name.eq_ignore_ascii_case(b"received") {
            let v = value.ok_or("received parameter without a value")?;
            // IPv4address / IPv6address, brackets tolerated (RFC 5118 4.5).
            if !v.iter().all(|&b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'[' | b']')) {
                return Err("received is not an IP address");
            }
            received = Some(v);
        } else if name.eq_ignore_ascii_case(b"ttl") {
            let v = value.ok_or("ttl parameter without a value")?;
            if parse_u32(v).is_none_or(|t| t > 255) {
                return Err("ttl is not a number from 0 to 255");
            }
        }
        Ok(())
    })?;
    Ok(Via { transport, host, port, branch, rport, received, params, raw: c.slice(start, c.pos()) })
}

/// `CSeq = 1*DIGIT LWS Method` (RFC 3261 20.16); the number must fit 32
/// bits (RFC 4475 3.1.2.4, 3.1.2.5).
pub(crate) fn cseq(value: &[u8]) -> Result<CSeq<'_>, Bad> {
    let mut c = Cursor::new(value);
    c.skip_lws();
    let at = c.pos();
    let digits = c.take_while(is_digit);
    if digits.is_empty() {
        return Err(c.bad("CSeq does not start with a number"));
    }
    let seq = parse_u32(digits).ok_or(Bad { at, reason: "CSeq number exceeds 2^32-1" })?;
    if !c.skip_lws() {
        return Err(c.bad("expected whitespace after the CSeq number"));
    }
    let method = Method::parse(c.token("expected a method after the CSeq number")?);
    c.skip_lws();
    if !c.at_end() {
        return Err(c.bad("unexpected character after the CSeq method"));
    }
    Ok(CSeq { seq, method })
}

/// `Call-ID = word [ "@" word ]` (RFC 3261 20.8).
fn call_id(value: &[u8]) -> Result<(), Bad> {
    let mut c = Cursor::new(value);
    if c.take_while(is_word).is_empty() {
        return Err(c.bad("Call-ID is empty or starts with an illegal character"));
    }
    if c.eat(b'@') && c.take_while(is_word).is_empty() {
        return Err(c.bad("nothing after '@' in Call-ID"));
    }
    if !c.at_end() {
        return Err(c.bad("character not allowed in Call-ID"));
    }
    Ok(())
}

/// `Content-Length = 1*DIGIT` (RFC 3261 20.14).
pub(crate) fn content_length(value: &[u8]) -> Result<usize, Bad> {
    match value.first() {
        None => Err(Bad { at: 0, reason: "empty Content-Length" }),
        Some(b'-') => Err(Bad { at: 0, reason: "negative Content-Length" }),
        Some(_) if !value.iter().all(|&b| is_digit(b)) => Err(Bad { at: 0, reason: "Content-Length is not a number" }),
        Some(_) => super::chars::parse_u64(value)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(Bad { at: 0, reason: "Content-Length is too large" }),
    }
}

/// `Max-Forwards = 1*DIGIT`, at most 255 (RFC 3261 20.22, 25.1; RFC 4475 3.1.2.4).
pub(crate) fn max_forwards(value: &[u8]) -> Result<u8, Bad> {
    if value.is_empty() || !value.iter().all(|&b| is_digit(b)) {
        return Err(Bad { at: 0, reason: "Max-Forwards is not a number" });
    }
    parse_u32(value).and_then(|n| u8::try_from(n).ok()).ok_or(Bad { at: 0, reason: "Max-Forwards exceeds 255" })
}

/// `Content-Type = m-type SLASH m-subtype *(SEMI m-parameter)` (RFC 3261 20.15).
fn content_type(value: &[u8]) -> Result<(), Bad> {
    let mut c = Cursor::new(value);
    c.token("expected a media type")?;
    if !c.separator(b'/') {
        return Err(c.bad("expected '/' in the media type"));
    }
    c.token("expected a media subtype")?;
    params(&mut c, |_, _| Ok(()))?;
    end_of_single(&mut c)
}

/// `rfc1123-date = wkday "," SP date1 SP time SP "GMT"` (RFC 3261 20.17;
/// RFC 4475 3.1.2.12 rejects other zones).
fn date(value: &[u8]) -> Result<(), Bad> {
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let bad = |at, reason| Err(Bad { at, reason });
    // "Fri, 01 Jan 2010 16:00:00 GMT" is 29 octets, every one in a fixed place.
    let [d0, d1, d2, b',', b' ', day @ .., b' ', g, m, t] = value else {
        return bad(0, "Date is not an RFC 1123 date");
    };
    if !DAYS.iter().any(|d| d.eq_ignore_ascii_case(&[*d0, *d1, *d2])) {
        return bad(0, "Date has no valid weekday");
    }
    if ![*g, *m, *t].eq_ignore_ascii_case(b"GMT") {
        return bad(value.len().saturating_sub(3), "Date is not in GMT");
    }
    let [a, b, b' ', m0, m1, m2, b' ', y0, y1, y2, y3, b' ', h0, h1, b':', n0, n1, b':', s0, s1] = day else {
        return bad(5, "Date is not `DD Mon YYYY HH:MM:SS`");
    };
    let digits = [a, b, y0, y1, y2, y3, h0, h1, n0, n1, s0, s1];
    if !digits.iter().all(|d| is_digit(**d)) {
        return bad(5, "Date has a non-digit where a digit belongs");
    }
    if !MONTHS.iter().any(|mo| mo.eq_ignore_ascii_case(&[*m0, *m1, *m2])) {
        return bad(8, "Date has no valid month");
    }
    Ok(())
}

/// `warning-value = warn-code SP warn-agent SP warn-text`, `warn-code = 3DIGIT`
/// (RFC 3261 20.43; RFC 4475 3.1.2.5).
fn warning<'a>(c: &mut Cursor<'a>) -> Result<(), Bad> {
    c.skip_lws();
    let at = c.pos();
    if c.take_while(is_digit).len() != 3 {
        return Err(Bad { at, reason: "warn-code is not three digits" });
    }
    if !c.eat(b' ') {
        return Err(c.bad("expected SP after the warn-code"));
    }
    if c.take_while(|b| !is_lws(b) && !matches!(b, b'"' | b',')).is_empty() {
        return Err(c.bad("missing warn-agent"));
    }
    if !c.eat(b' ') {
        return Err(c.bad("expected SP after the warn-agent"));
    }
    c.quoted_string()?;
    Ok(())
}

/// `Retry-After = delta-seconds [ comment ] *( SEMI retry-param )`
/// (RFC 3261 20.33); the number must fit 32 bits (RFC 4475 3.1.2.5).
fn retry_after(value: &[u8]) -> Result<(), Bad> {
    let mut c = Cursor::new(value);
    let digits = c.take_while(is_digit);
    if digits.is_empty() {
        return Err(c.bad("Retry-After is not a number"));
    }
    if parse_u32(digits).is_none() {
        return Err(Bad { at: 0, reason: "Retry-After exceeds 2^32-1" });
    }
    let save = c.pos();
    c.skip_lws();
    if c.peek() == Some(b'(') {
        comment(&mut c)?;
    } else {
        c.reset(save);
    }
    params(&mut c, |_, _| Ok(()))?;
    end_of_single(&mut c)
}

/// `comment = LPAREN *(ctext / quoted-pair / comment) RPAREN` (RFC 3261 25.1),
/// the cursor on the `(`.
fn comment(c: &mut Cursor<'_>) -> Result<(), Bad> {
    let at = c.pos();
    let mut depth = 0usize;
    while let Some(b) = c.bump() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(());
                }
            }
            b'\\' => {
                c.bump();
            }
            _ => {}
        }
    }
    Err(Bad { at, reason: "unterminated comment" })
}

/// One `token` of a list such as Allow or Supported (RFC 3261 20.5, 20.37).
fn list_token<'a>(c: &mut Cursor<'a>) -> Result<&'a [u8], Bad> {
    c.skip_lws();
    c.token("expected a token")
}

/// `element *(COMMA element)` (RFC 3261 7.3.1): checks a whole list value.
/// `may_be_empty` for headers whose grammar allows no elements at all.
pub(crate) fn check_list<'a, T>(
    value: &'a [u8],
    may_be_empty: bool,
    element: fn(&mut Cursor<'a>) -> Result<T, Bad>,
) -> Result<usize, Bad> {
    let mut c = Cursor::new(value);
    c.skip_lws();
    if c.at_end() {
        return if may_be_empty { Ok(0) } else { Err(c.bad("empty value")) };
    }
    let mut n = 0usize;
    loop {
        element(&mut c)?;
        n += 1;
        c.skip_lws();
        if c.at_end() {
            return Ok(n);
        }
        if !c.eat(b',') {
            return Err(c.bad("unexpected character after a value"));
        }
        c.skip_lws();
        if c.at_end() || c.peek() == Some(b',') {
            return Err(c.bad("empty value in a comma-separated list"));
        }
    }
}

/// Checks a Contact value: `*` alone, or a list of addresses (RFC 3261 20.10).
fn contact_list(value: &[u8]) -> Result<(), Bad> {
    if value == b"*" {
        return Ok(());
    }
    check_list(value, false, |c| match contact(c)? {
        Contact::Star => Err(c.bad("'*' must be the only Contact value")),
        addr => Ok(addr),
    })
    .map(|_| ())
}

/// Validates the value of a header whose grammar this parser knows, apart
/// from Content-Length and CSeq, which the message parser handles itself.
/// Headers whose values are free text or rarely matter are not checked.
pub(crate) fn check(kind: HeaderName, value: &[u8]) -> Result<(), Bad> {
    match kind {
        HeaderName::Via => check_list(value, false, via).map(|_| ()),
        HeaderName::From | HeaderName::To => from_to(value).map(|_| ()),
        HeaderName::Contact => contact_list(value),
        HeaderName::Route | HeaderName::RecordRoute => check_list(value, false, route).map(|_| ()),
        HeaderName::CallId => call_id(value),
        HeaderName::MaxForwards => max_forwards(value).map(|_| ()),
        HeaderName::ContentType => content_type(value),
        HeaderName::Date => date(value),
        HeaderName::Warning => check_list(value, false, warning).map(|_| ()),
        HeaderName::RetryAfter => retry_after(value),
        HeaderName::Allow | HeaderName::Supported => check_list(value, true, list_token).map(|_| ()),
        HeaderName::Require | HeaderName::ProxyRequire | HeaderName::Unsupported => {
            check_list(value, false, list_token).map(|_| ())
        }
        _ => Ok(()),
    }
}

/// Iterator over the elements of every header of one kind, in order
/// (RFC 3261 7.3.1: several lines of a list header form one list). An
/// element the grammar rejects, or one followed by something other than a
/// comma, is read again up to the next comma outside quotes and `<>` by the
/// fallback, which may skip it; the walk then goes on after that comma.
#[derive(Debug, Clone)]
pub(crate) struct ListIter<'m, 'a, T> {
    headers: slice::Iter<'m, Header<'a>>,
    kind: HeaderName,
    cur: Option<Cursor<'a>>,
    element: fn(&mut Cursor<'a>) -> Result<T, Bad>,
    fallback: fn(&'a [u8]) -> Option<T>,
}

impl<'m, 'a, T> ListIter<'m, 'a, T> {
    pub(crate) fn new(
        headers: &'m [Header<'a>],
        kind: HeaderName,
        element: fn(&mut Cursor<'a>) -> Result<T, Bad>,
        fallback: fn(&'a [u8]) -> Option<T>,
    ) -> Self {
        ListIter { headers: headers.iter(), kind, cur: None, element, fallback }
    }
}

impl<'a, T> Iterator for ListIter<'_, 'a, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        loop {
            let Some(c) = &mut self.cur else {
                let kind = self.kind;
                let h = self.headers.find(|h| h.kind == kind)?;
                self.cur = Some(Cursor::new(h.value));
                continue;
            };
            c.skip_lws();
            if c.at_end() {
                self.cur = None;
                continue;
            }
            let start = c.pos();
            if let Ok(item) = (self.element)(c) {
                c.skip_lws();
                if c.at_end() || c.eat(b',') {
                    return Some(item);
                }
            }
            c.reset(start);
            let rest = c.rest();
            let end = element_end(rest);
            // Past the comma; `reset` stops at the end of the value.
            c.reset(start + end + 1);
            if let Some(item) = (self.fallback)(rest.get(..end).unwrap_or_default()) {
                return Some(item);
            }
        }
    }
}

/// One Allow token.
pub(crate) fn allow_token<'a>(c: &mut Cursor<'a>) -> Result<&'a [u8], Bad> {
    list_token(c)
}

/// The `realm` auth-param of a challenge, unquoted (RFC 3261 20.44, 25.1:
/// `challenge = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge`).
pub(crate) fn auth_realm(value: &[u8]) -> Option<&[u8]> {
    let mut c = Cursor::new(value);
    c.token("").ok()?;
    c.skip_lws();
    loop {
        c.skip_lws();
        let name = c.token("").ok()?;
        if !c.separator(b'=') {
            return None;
        }
        let v =
            if c.peek() == Some(b'"') { c.quoted_string().ok()? } else { c.take_while(|b| !is_lws(b) && b != b',') };
        if name.eq_ignore_ascii_case(b"realm") {
            return Some(unquote(v));
        }
        if !c.separator(b',') {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_via(v: &[u8]) -> Via<'_> {
        let mut c = Cursor::new(v);
        via(&mut c).unwrap()
    }

    #[test]
    fn via_values() {
        let v = one_via(b"SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1804289383;rport");
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"10.0.0.2");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch, Some(&b"z9hG4bK1804289383"[..]));
        assert_eq!(v.rport, Some(None));
        assert_eq!(v.params, b"branch=z9hG4bK1804289383;rport");
        assert_eq!(v.ip(), Some("10.0.0.2".parse().unwrap()));

        let v = one_via(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw");
        assert_eq!((v.transport, v.host), (&b"UDP"[..], &b"192.0.2.2"[..]));
        let v = one_via(b"SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];rport=5061");
        assert_eq!(v.received, Some(&b"[2001:db8::9:255]"[..]));
        assert_eq!(v.rport, Some(Some(5061)));
        assert_eq!(v.host, b"[2001:db8::9:1]");
        let v = one_via(b"SIP/2.0/TCP spindle.example.com : 5061 ; branch = z9hG4bK9ikj8");
        assert_eq!((v.port, v.branch), (Some(5061), Some(&b"z9hG4bK9ikj8"[..])));
    }

    #[test]
    fn via_errors() {
        for bad in [
            &b"SIP/2.0/UDP 192.0.2.15;;,;,,"[..],
            b"SIP/2.0 192.0.2.15",
            b"SIP/2.0/UDP",
            b"SIP/2.0/UDP host;rport=x",
            b"SIP/2.0/UDP host;received=example.com",
            b"SIP/2.0/UDP host, ",
            b"SIP/2.0/UDP host:70000",
        ] {
            assert!(check(HeaderName::Via, bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(check_list(b"SIP/2.0/UDP a, SIP/2.0/TCP b", false, via), Ok(2));
    }

    #[test]
    fn name_addrs() {
        let na =
            from_to(b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8").unwrap();
        assert_eq!(na.display, Some(&br#"J Rosenberg \\\""#[..]));
        assert_eq!(na.uri.host, b"example.com");
        assert_eq!(na.tag, Some(&b"98asjd8"[..]));
        let na = from_to(b"caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(na.display, Some(&b"caller"[..]));
        let na = from_to(b"A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe").unwrap();
        assert_eq!(na.display, Some(&b"A. Bell"[..]));
        let na = from_to(b"sip:user@example.com;tag=1;x=\"a;b\"").unwrap();
        assert_eq!((na.display, na.tag), (None, Some(&b"1"[..])));
        assert_eq!(na.param(b"x"), Some(Some(&b"\"a;b\""[..])));
        assert_eq!(na.params().count(), 2);
        let na = from_to("张三 <sip:100@10.0.0.1>;tag=9".as_bytes()).unwrap();
        assert_eq!(na.display, Some("张三".as_bytes()));
        let na = from_to(b"isbn:2983792873").unwrap();
        assert_eq!(na.uri.scheme, b"isbn");
    }

    #[test]
    fn name_addr_errors() {
        let cases: [(&[u8], &str); 7] = [
            (b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43", "character not allowed in an unquoted display name"),
            (b"\"Mr. J. User <sip:j.user@example.com>", "unterminated quoted string"),
            (b"\"Watson, Thomas\" < sip:t.watson@example.org >", "whitespace inside <> around the address"),
            (b"sip:user@example.com?Route=%3Csip:sip.example.com%3E", "a URI with headers must be enclosed in <>"),
            (b"sip:a@b, sip:c@d", "more than one value in a single-value header"),
            (b"<sip:a@b>;tag", "tag parameter without a value"),
            (b"Bob", "display name without an address"),
        ];
        for (value, reason) in cases {
            assert_eq!(from_to(value).unwrap_err().reason, reason, "{}", String::from_utf8_lossy(value));
        }
    }

    #[test]
    fn loose_name_addrs() {
        // (value, display, URI, tag, params); `None` for the URI: nothing read.
        type Row<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a [u8]>, Option<&'a [u8]>, &'a [u8]);
        let rows: [Row<'_>; 9] = [
            (
                b"<sip:2002@192.0.2.20>;tag=00E4EF38-z9hG4bK-5af571e&Sy",
                None,
                Some(b"sip:2002@192.0.2.20"),
                Some(b"00E4EF38-z9hG4bK-5af571e&Sy"),
                b"tag=00E4EF38-z9hG4bK-5af571e&Sy",
            ),
            (
                b"\"Watson, Thomas\" < sip:t.watson@example.org >",
                Some(b"Watson, Thomas"),
                Some(b"sip:t.watson@example.org"),
                None,
                b"",
            ),
            (
                b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
                Some(b"Bell, Alexander"),
                Some(b"sip:a.g.bell@example.com"),
                Some(b"43"),
                b"tag=43",
            ),
            (
                b"\"Mr. J. User <sip:j.user@example.com>",
                Some(b"Mr. J. User"),
                Some(b"sip:j.user@example.com"),
                None,
                b"",
            ),
            (b"sip:user@example.com?Route=x;tag=1 ", None, Some(b"sip:user@example.com?Route=x"), Some(b"1"), b"tag=1"),
            (b"sip:a@b, sip:c@d;tag=2", None, Some(b"sip:a@b"), None, b""),
            (b"<sip:a@b>;tag;;x=\"a;b\"", None, Some(b"sip:a@b"), None, b"tag;;x=\"a;b\""),
            (b"Bob", None, None, None, b""),
            (b"<junk>", None, None, None, b""),
        ];
        for (value, display, uri, tag, params) in rows {
            let na = name_addr_loose(value);
            let got = na.map(|na| (na.display, na.uri.raw, na.tag, na.params));
            let want = uri.map(|u| (display, u, tag, params));
            assert_eq!(got, want, "{}", String::from_utf8_lossy(value));
        }
        // Values the grammar accepts are read by it.
        let good = b"\"A\" <sip:a@b>;tag=1";
        assert_eq!(from_to_best_effort(good), from_to(good).ok());
    }

    #[test]
    fn loose_vias() {
        let v = via_loose(b" SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0:5060;branch=z9hG4bK-1&2;rport;;received=x ")
            .unwrap();
        assert_eq!((v.transport, v.host, v.port), (&b"UDP"[..], &b"fe80:0:0:0:21a:a0ff:fe07:32e0"[..], Some(5060)));
        assert_eq!((v.branch, v.rport, v.received), (Some(&b"z9hG4bK-1&2"[..]), Some(None), Some(&b"x"[..])));
        assert_eq!(v.raw, b"SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0:5060;branch=z9hG4bK-1&2;rport;;received=x");
        assert_eq!(
            via_loose(b"SIP/2.0/UDP 192.0.2.15;;").map(|v| (v.host, v.params)),
            Some((&b"192.0.2.15"[..], &b";"[..]))
        );
        assert_eq!(via_loose(b"SIP/2.0/UDP h;rport=99999").unwrap().rport, Some(None));
        for bad in [&b""[..], b";", b"SIP/2.0 h", b"SIP/2.0/UDP", b"SIP/2.0/UDP ;branch=1"] {
            assert_eq!(via_loose(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    /// The list walk goes past an element the grammar rejects instead of
    /// dropping the rest of its line.
    #[test]
    fn lists_with_faulty_elements() {
        let header = |value: &'static [u8]| Header {
            name: b"Contact",
            kind: HeaderName::Contact,
            value,
            raw_value: value,
            offset: 0,
            value_offset: 0,
        };
        let headers = [
            header(b"<sip:a@b>;x=1&2, ,\"c, d\" <sip:c@d> , <sip:e@[::1]:70>;expires=9, junk"),
            header(b"*"),
            header(b""),
            header(b",,<sip:f@g"),
        ];
        let contacts: Vec<_> = ListIter::new(&headers, HeaderName::Contact, contact, contact_loose)
            .map(|c| match c {
                Contact::Star => (&b"*"[..], None),
                Contact::Addr { addr, expires } => (addr.uri.raw, expires),
            })
            .collect();
        assert_eq!(
            contacts,
            [
                (&b"sip:a@b"[..], None),
                (b"sip:c@d", None),
                (b"sip:e@[::1]:70", Some(9)),
                (b"*", None),
                (b"sip:f@g", None)
            ]
        );
        let tokens: Vec<_> = ListIter::new(&headers, HeaderName::Contact, list_token, |_| None).collect();
        assert_eq!(tokens, [&b"junk"[..], b"*"]);
    }

    #[test]
    fn contacts_and_lists() {
        let mut c = Cursor::new(&b"<sip:a@b>;expires=60, \"x, y\" <sip:c@d>;expires=280297596632815"[..]);
        let Contact::Addr { expires, .. } = contact(&mut c).unwrap() else { panic!("not an address") };
        assert_eq!(expires, Some(60));
        assert!(c.separator(b','));
        let Contact::Addr { addr, expires } = contact(&mut c).unwrap() else { panic!("not an address") };
        assert_eq!((addr.display, expires), (Some(&b"x, y"[..]), Some(u32::MAX)));
        assert!(check(HeaderName::Contact, b"*").is_ok());
        assert!(check(HeaderName::Contact, b"<sip:a@b>, *").is_err());
        assert!(check(HeaderName::Contact, b"\"Joe\" <sip:joe@example.org>;;;;").is_err());
        assert!(check(HeaderName::Allow, b"").is_ok());
        assert!(check(HeaderName::Allow, b"INVITE, ACK,BYE").is_ok());
        assert!(check(HeaderName::Allow, b"INVITE,,ACK").is_err());
        assert!(check(HeaderName::Require, b"").is_err());
    }

    #[test]
    fn scalars() {
        assert_eq!(cseq(b"0009\r\n  INVITE").unwrap(), CSeq { seq: 9, method: Method::Invite });
        assert_eq!(cseq(b"36893488147419103232 REGISTER").unwrap_err().reason, "CSeq number exceeds 2^32-1");
        assert!(cseq(b"1INVITE").is_err());
        assert!(cseq(b"1 INVITE x").is_err());
        assert_eq!(max_forwards(b"0068"), Ok(68));
        assert!(max_forwards(b"300").is_err());
        assert_eq!(content_length(b"0"), Ok(0));
        assert_eq!(content_length(b"-999").unwrap_err().reason, "negative Content-Length");
        assert!(content_length(b"99999999999999999999999").is_err());
        assert!(call_id(b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(call_id(b"a b").is_err());
        assert!(call_id(b"a@").is_err());
        assert!(retry_after(b"949302838503028349304023988").is_err());
        assert!(retry_after(b"18000 (in five hours);duration=3600").is_ok());
        assert!(check(HeaderName::Warning, b"1812 overture \"In Progress\"").is_err());
        assert!(check(HeaderName::Warning, b"370 devnull \"Choose a bigger pipe\", 307 isi.edu \"x\"").is_ok());
        assert!(content_type(b"multipart/mixed;boundary=7a9cbec02ceef655").is_ok());
        assert!(content_type(b"application").is_err());
    }

    #[test]
    fn dates() {
        assert!(date(b"Sat, 15 Oct 2005 04:44:56 GMT").is_ok());
        assert_eq!(date(b"Fri, 01 Jan 2010 16:00:00 EST").unwrap_err().reason, "Date is not in GMT");
        assert!(date(b"Fri, 1 Jan 2010 16:00:00 GMT").is_err());
        assert!(date(b"Fri, 01 Foo 2010 16:00:00 GMT").is_err());
        assert!(date(b"").is_err());
    }

    #[test]
    fn realms() {
        assert_eq!(auth_realm(b"Digest realm=\"goip\", nonce=\"abc\", algorithm=MD5"), Some(&b"goip"[..]));
        assert_eq!(auth_realm(b"Digest nonce=\"a,b\", realm=pbx"), Some(&b"pbx"[..]));
        assert_eq!(auth_realm(b"Digest nonce=\"abc\""), None);
        assert_eq!(auth_realm(b""), None);
    }

    #[test]
    fn params_iterator() {
        let p: Vec<_> = Params::new(b" tag = 98asjd8 ;\r\n lr; x=\"a;b\";;").collect();
        assert_eq!(
            p,
            vec![(&b"tag"[..], Some(&b"98asjd8"[..])), (&b"lr"[..], None), (&b"x"[..], Some(&b"\"a;b\""[..]))]
        );
    }
}
