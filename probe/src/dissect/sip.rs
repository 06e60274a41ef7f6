//! SIP messages (RFC 3261), parsed zero-copy from one datagram or one framed
//! stream message.
//!
//! Contract:
//! - [`parse_message`] takes the bytes of one message and returns a
//!   [`Message`] whose every field borrows from them, or an [`Error`] whose
//!   kind is counted by [`ErrorKind::name`]. It never panics, allocates one
//!   `Vec` of header entries per message, and checks each limit
//!   ([`MAX_MESSAGE_LEN`], [`MAX_HEADERS`], [`MAX_HEADER_LINE`],
//!   [`MAX_START_LINE`]) before doing the work it bounds.
//! - [`parse_message_lenient`] reads what real devices send: the same
//!   framing and structure, but grammar faults that leave the message
//!   understandable (kinds for which [`ErrorKind::is_recordable`] holds) are
//!   recorded in [`Lenient::faults`] instead of failing it. On every input it
//!   agrees with [`parse_message`]: no faults and an equal message where
//!   that succeeds, the same error where that fails with a fatal kind, and
//!   where that fails with a recordable kind, that same error as the first
//!   fault (or a fatal error found further on, e.g. a header section without
//!   its end).
//! - [`frame_stream`] finds where a message ends on a stream (RFC 3261 18.3)
//!   without parsing it; [`looks_like_sip`] is a first-bytes test cheap
//!   enough for every UDP payload.
//!
//! Grammar (RFC 3261 7 and 25.1): `start-line *message-header CRLF [body]`.
//! Header names may be in compact form (7.3.3) and are expanded to a
//! [`HeaderName`]; a value may be folded over several lines
//! (`LWS = [*WSP CRLF] 1*WSP`, 7.3.1), and list headers may hold several
//! comma-separated values or repeat (7.3.1). Leading CRLFs before the start
//! line are skipped (7.5), and bare LF line ends are accepted as robust
//! parsers do. The body is exactly Content-Length octets; without
//! Content-Length it runs to the end of the datagram (18.3), and octets after
//! the body are ignored (RFC 4475 3.1.1.8).
//!
//! Validation: the start line, every header line, and the values of the
//! headers the probe reads (Via, From, To, Contact, Route, Record-Route,
//! Call-ID, CSeq, Max-Forwards, Content-Length, Content-Type, Date, Warning,
//! Retry-After, Allow, Supported, Require, Proxy-Require, Unsupported) are
//! checked against their grammar, so that the RFC 4475 and RFC 5118 torture
//! tests classify as those RFCs say. Other values are free text. The
//! mandatory headers of RFC 3261 8.1.1 (without Max-Forwards, which RFC 2543
//! peers omit, RFC 4475 3.4.1) must be present.
//!
//! Offsets in [`Header`] and [`Error`] count from the start of the buffer
//! given to the parser; [`Message::offset_of`] maps any slice of a parsed
//! value back to its offset, so evidence can point into the packet.

mod chars;
mod error;
mod header_name;
mod uri;
mod values;

use std::fmt;

use chars::{is_digit, is_token, is_wsp, parse_delta_seconds, trim_lws};

pub use error::{Error, ErrorKind};
pub use header_name::HeaderName;
pub use uri::Uri;
pub use values::{CSeq, Contact, NameAddr, Params, Via};

use super::sdp;

/// Largest message accepted, in octets (one UDP datagram, or one message
/// framed on a stream).
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// Most header lines accepted in one message.
pub const MAX_HEADERS: usize = 256;

/// Longest header line accepted, folds included, in octets.
pub const MAX_HEADER_LINE: usize = 8 * 1024;

/// Longest start line accepted, in octets.
pub const MAX_START_LINE: usize = 8 * 1024;

/// Longest method token accepted (RFC 4475 3.1.1.2's is 43 octets).
pub const MAX_METHOD_LEN: usize = 64;

/// Header entries reserved up front: a typical INVITE has 10 to 20.
const HEADER_CAPACITY: usize = 20;

/// A message read by [`parse_message_lenient`], with the grammar faults
/// recorded on the way instead of rejecting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lenient<'a> {
    /// The message. Faulty values are kept as on the wire; the accessors
    /// read them on a best-effort basis (or give `None`).
    pub message: Message<'a>,
    /// Faults in the order they were found, each of a kind for which
    /// [`ErrorKind::is_recordable`] holds: empty exactly when
    /// [`parse_message`] accepts the input, and allocated only when not.
    /// At most one per header line plus three (version, Request-URI,
    /// missing headers).
    pub faults: Vec<Error>,
}

/// A parsed SIP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// Request line or status line.
    pub start: StartLine<'a>,
    /// Header lines in order of appearance.
    pub headers: Vec<Header<'a>>,
    /// Exactly Content-Length octets, or the rest of the datagram when
    /// Content-Length is absent.
    pub body: &'a [u8],
    /// Octets of the input this message occupies (leading CRLFs, start line,
    /// headers, empty line, body); any octets after it are ignored.
    pub len: usize,
    /// Offset of the body (just after the empty line).
    pub body_offset: usize,
    /// The input octets this message occupies (`&input[..len]`).
    pub raw: &'a [u8],
}

/// The first line of a message (RFC 3261 7.1, 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `Method SP Request-URI SP SIP-Version`.
    Request {
        /// Method.
        method: Method<'a>,
        /// Parsed Request-URI.
        uri: Uri<'a>,
        /// Request-URI as on the wire.
        uri_raw: &'a [u8],
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`.
    Response {
        /// Status code, 100 to 699.
        code: u16,
        /// Reason phrase as on the wire, possibly empty.
        reason: &'a [u8],
    },
}

/// A request method (RFC 3261 7.1 and the extension RFCs); methods are
/// case-sensitive, and anything else is `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    /// INVITE (RFC 3261).
    Invite,
    /// ACK (RFC 3261).
    Ack,
    /// BYE (RFC 3261).
    Bye,
    /// CANCEL (RFC 3261).
    Cancel,
    /// OPTIONS (RFC 3261).
    Options,
    /// REGISTER (RFC 3261).
    Register,
    /// PRACK (RFC 3262).
    Prack,
    /// UPDATE (RFC 3311).
    Update,
    /// INFO (RFC 6086).
    Info,
    /// MESSAGE (RFC 3428).
    Message,
    /// NOTIFY (RFC 6665).
    Notify,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// REFER (RFC 3515).
    Refer,
    /// PUBLISH (RFC 3903).
    Publish,
    /// Any other token, as on the wire.
    Unknown(&'a [u8]),
}

impl<'a> Method<'a> {
    /// Classifies a method token (case-sensitive, RFC 3261 7.1).
    pub fn parse(token: &'a [u8]) -> Method<'a> {
        match token {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"REGISTER" => Method::Register,
            b"PRACK" => Method::Prack,
            b"UPDATE" => Method::Update,
            b"INFO" => Method::Info,
            b"MESSAGE" => Method::Message,
            b"NOTIFY" => Method::Notify,
            b"SUBSCRIBE" => Method::Subscribe,
            b"REFER" => Method::Refer,
            b"PUBLISH" => Method::Publish,
            other => Method::Unknown(other),
        }
    }

    /// The method token.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Method::Invite => b"INVITE",
            Method::Ack => b"ACK",
            Method::Bye => b"BYE",
            Method::Cancel => b"CANCEL",
            Method::Options => b"OPTIONS",
            Method::Register => b"REGISTER",
            Method::Prack => b"PRACK",
            Method::Update => b"UPDATE",
            Method::Info => b"INFO",
            Method::Message => b"MESSAGE",
            Method::Notify => b"NOTIFY",
            Method::Subscribe => b"SUBSCRIBE",
            Method::Refer => b"REFER",
            Method::Publish => b"PUBLISH",
            Method::Unknown(token) => token,
        }
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// One header line (RFC 3261 7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Name as on the wire (`v`, `VIA`, `Via`...).
    pub name: &'a [u8],
    /// The name, compact forms expanded; `Other` for names not in the table.
    pub kind: HeaderName,
    /// Value with surrounding LWS removed; folds inside stay as on the wire.
    pub value: &'a [u8],
    /// Everything after the colon up to the end of the (last folded) line,
    /// untrimmed, e.g. to see `Content-Length:     0` padding.
    pub raw_value: &'a [u8],
    /// Offset of the header line.
    pub offset: usize,
    /// Offset of `value`.
    pub value_offset: usize,
}

impl<'a> Message<'a> {
    /// The first header of this kind.
    pub fn header(&self, kind: HeaderName) -> Option<&Header<'a>> {
        self.headers.iter().find(|h| h.kind == kind)
    }

    /// Every header with this name, case-insensitively, compact forms
    /// expanded (`b"Via"` finds `v:` lines; `b"X-ACrypt"` finds itself).
    pub fn headers_named<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'s Header<'a>> + 's {
        let kind = HeaderName::from_wire(name);
        self.headers
            .iter()
            .filter(move |h| h.kind == kind && (kind != HeaderName::Other || h.name.eq_ignore_ascii_case(name)))
    }

    /// The Call-ID value.
    pub fn call_id(&self) -> Option<&'a [u8]> {
        self.header(HeaderName::CallId).map(|h| h.value)
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<CSeq<'a>> {
        values::cseq(self.header(HeaderName::CSeq)?.value).ok()
    }

    /// The From address (of the first From line); for a value off the
    /// grammar, a best-effort reading, or `None` if it holds no URI.
    pub fn from(&self) -> Option<NameAddr<'a>> {
        values::from_to_best_effort(self.header(HeaderName::From)?.value)
    }

    /// The To address (of the first To line); for a value off the grammar,
    /// a best-effort reading, or `None` if it holds no URI.
    pub fn to(&self) -> Option<NameAddr<'a>> {
        values::from_to_best_effort(self.header(HeaderName::To)?.value)
    }

    /// Every Via value in order, across all Via lines (topmost first);
    /// values off the grammar are read on a best-effort basis or skipped.
    pub fn vias(&self) -> impl Iterator<Item = Via<'a>> + '_ {
        values::ListIter::new(&self.headers, HeaderName::Via, values::via, values::via_loose)
    }

    /// Every Contact value in order, across all Contact lines; values off
    /// the grammar are read on a best-effort basis or skipped.
    pub fn contacts(&self) -> impl Iterator<Item = Contact<'a>> + '_ {
        values::ListIter::new(&self.headers, HeaderName::Contact, values::contact, values::contact_loose)
    }

    /// The Expires header in seconds, saturated at `u32::MAX`; `None` if
    /// absent or not a number.
    pub fn expires(&self) -> Option<u32> {
        parse_delta_seconds(self.header(HeaderName::Expires)?.value)
    }

    /// The User-Agent value.
    pub fn user_agent(&self) -> Option<&'a [u8]> {
        self.header(HeaderName::UserAgent).map(|h| h.value)
    }

    /// The Server value.
    pub fn server(&self) -> Option<&'a [u8]> {
        self.header(HeaderName::Server).map(|h| h.value)
    }

    /// The Content-Length value.
    pub fn content_length(&self) -> Option<usize> {
        values::content_length(self.header(HeaderName::ContentLength)?.value).ok()
    }

    /// The media type of Content-Type without parameters (e.g.
    /// `application/sdp`); the full value is in [`Message::header`].
    pub fn content_type(&self) -> Option<&'a [u8]> {
        let value = self.header(HeaderName::ContentType)?.value;
        let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
        Some(trim_lws(value.get(..end).unwrap_or_default()))
    }

    /// Each method token of every Allow header.
    pub fn allow(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        values::ListIter::new(&self.headers, HeaderName::Allow, values::allow_token, |_| None)
    }

    /// The `realm` of the first WWW-Authenticate or Proxy-Authenticate
    /// challenge that has one, without quotes.
    pub fn auth_realm(&self) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .filter(|h| matches!(h.kind, HeaderName::WwwAuthenticate | HeaderName::ProxyAuthenticate))
            .find_map(|h| values::auth_realm(h.value))
    }

    /// The Max-Forwards value.
    pub fn max_forwards(&self) -> Option<u8> {
        values::max_forwards(self.header(HeaderName::MaxForwards)?.value).ok()
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method; `None` for a response.
    pub fn method(&self) -> Option<&Method<'a>> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI; `None` for a response.
    pub fn request_uri(&self) -> Option<&Uri<'a>> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code; `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase; `None` for a request.
    pub fn reason(&self) -> Option<&'a [u8]> {
        match self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// The body parsed as SDP (RFC 4566), if Content-Type says it is SDP.
    pub fn sdp(&self) -> Option<Result<sdp::Session<'a>, sdp::Error>> {
        let is_sdp = self.content_type().is_some_and(|t| t.eq_ignore_ascii_case(b"application/sdp"));
        (is_sdp && !self.body.is_empty()).then(|| sdp::parse(self.body))
    }

    /// Offset in the input of a slice borrowed from this message (any
    /// parsed value), or `None` if `part` does not lie inside it.
    pub fn offset_of(&self, part: &[u8]) -> Option<usize> {
        // Address arithmetic only; nothing is dereferenced.
        let base = self.raw.as_ptr() as usize;
        let offset = (part.as_ptr() as usize).checked_sub(base)?;
        (offset.checked_add(part.len())? <= self.raw.len()).then_some(offset)
    }
}

/// How much of a stream buffer the first message takes (RFC 3261 18.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// A whole message of this many octets (leading CRLFs included) starts
    /// the buffer; give exactly those to [`parse_message`].
    Complete(usize),
    /// More octets are needed.
    Incomplete,
    /// The stream cannot be framed (bad start line, bad Content-Length, a
    /// message over [`MAX_MESSAGE_LEN`]); it cannot be resynchronised.
    Invalid(Error),
}

/// Parses one message from a datagram (or from the `n` octets that
/// [`frame_stream`] framed), validating it fully.
///
/// # Errors
///
/// [`ErrorKind::Incomplete`] if the buffer ends before the header section
/// does; any other kind if the message is malformed (see [`ErrorKind`]).
pub fn parse_message(buf: &[u8]) -> Result<Message<'_>, Error> {
    parse(buf, &mut Strict)
}

/// Parses one message as [`parse_message`] does, but records the grammar
/// faults that do not stop it being understood, and goes on:
///
/// - a SIP-Version other than 2.0 ([`ErrorKind::Version`]);
/// - a malformed Request-URI ([`ErrorKind::RequestUri`]): `uri_raw` stays as
///   on the wire and `uri` is a best-effort reading (`<>` and LWS removed,
///   an unbracketed IPv6 host read as an address, see [`Uri`]);
/// - a header value off its grammar ([`ErrorKind::HeaderValue`]), a CSeq
///   method that is not the request's ([`ErrorKind::CSeqMismatch`]), a
///   repeated single-value header ([`ErrorKind::DuplicateHeader`]; the first
///   one is the one read, the repeat is not checked further), missing
///   mandatory headers ([`ErrorKind::MissingHeader`]): every line stays in
///   `headers`, and the accessors read faulty values on a best-effort basis.
///
/// # Errors
///
/// The other kinds still fail the message: [`ErrorKind::Incomplete`], a bad
/// start line or status code, a bad header line, Content-Length framing,
/// and the size limits.
pub fn parse_message_lenient(buf: &[u8]) -> Result<Lenient<'_>, Error> {
    let mut faults = Vec::new();
    let message = parse(buf, &mut faults)?;
    Ok(Lenient { message, faults })
}

/// What the parse loop does with a grammar fault: strict parsing fails on
/// the first, lenient parsing records it and goes on with a best-effort
/// value. One loop serves both, so they cannot drift apart: up to the first
/// fault they take the same steps.
trait Faults {
    /// `Err` ends the parse with this error; `Ok` goes on.
    fn fault(&mut self, e: Error) -> Result<(), Error>;
}

/// [`parse_message`]: every fault ends the parse.
struct Strict;

impl Faults for Strict {
    #[inline]
    fn fault(&mut self, e: Error) -> Result<(), Error> {
        Err(e)
    }
}

/// [`parse_message_lenient`]: recordable faults are kept, the rest end the
/// parse.
impl Faults for Vec<Error> {
    fn fault(&mut self, e: Error) -> Result<(), Error> {
        if e.kind.is_recordable() {
            self.push(e);
            Ok(())
        } else {
            Err(e)
        }
    }
}

/// The parse loop of [`parse_message`] and [`parse_message_lenient`].
fn parse<'a>(buf: &'a [u8], faults: &mut impl Faults) -> Result<Message<'a>, Error> {
    if buf.len() > MAX_MESSAGE_LEN {
        return Err(Error::new(ErrorKind::TooLarge, MAX_MESSAGE_LEN, "message longer than MAX_MESSAGE_LEN"));
    }
    let first = skip_line_ends(buf);
    let (end, mut pos) = line_end(buf, first, MAX_START_LINE)?;
    let start = start_line(buf, first, end, faults)?;
    let mut headers = Vec::with_capacity(HEADER_CAPACITY);
    let mut checks = Checks::new(&start);
    let body_offset = loop {
        match header_line(buf, pos)? {
            Line::Blank { next } => break next,
            Line::Header { header, next } => {
                if headers.len() >= MAX_HEADERS {
                    return Err(Error::new(
                        ErrorKind::TooManyHeaders,
                        header.offset,
                        "more than MAX_HEADERS header lines",
                    ));
                }
                checks.header(&header, faults)?;
                headers.push(header);
                pos = next;
            }
        }
    };
    checks.finish(&start, body_offset, faults)?;
    let rest = buf.get(body_offset..).unwrap_or_default();
    let body = match checks.content_length {
        None => rest,
        Some((n, at)) => rest.get(..n).ok_or_else(|| {
            Error::with_reason(
                ErrorKind::ContentLength,
                at,
                format!("Content-Length {n} exceeds the {} body octets present", rest.len()),
            )
            .in_header(HeaderName::ContentLength)
        })?,
    };
    let len = body_offset + body.len();
    Ok(Message { start, headers, body, len, body_offset, raw: buf.get(..len).unwrap_or_default() })
}

/// Finds the end of the first message in a stream buffer, reading only the
/// start line's first octets, line ends and Content-Length (absent means an
/// empty body on a stream, RFC 3261 18.3). Does not validate the message.
pub fn frame_stream(buf: &[u8]) -> Framing {
    match frame(buf) {
        Ok(Some(n)) => Framing::Complete(n),
        Ok(None) if buf.len() >= MAX_MESSAGE_LEN => Framing::Invalid(Error::new(
            ErrorKind::TooLarge,
            MAX_MESSAGE_LEN,
            "no complete message within MAX_MESSAGE_LEN",
        )),
        Ok(None) => Framing::Incomplete,
        Err(e) => Framing::Invalid(e),
    }
}

/// Whether a payload starts like a SIP message: `SIP/<digit>`, or a method
/// token, SP, and ` SIP/` later on the first line. Malformed SIP (extra
/// spaces, `<>` around the URI) still counts, so that its errors get counted.
/// Leading CRLFs are skipped. RTP, RTCP, STUN and DTLS (first octet below
/// 0x20 or above 0x7e) are rejected by the first comparison.
pub fn looks_like_sip(buf: &[u8]) -> bool {
    match buf.first() {
        Some(&b) if is_token(b) => {}
        Some(b'\r' | b'\n') => {}
        _ => return false,
    }
    let rest = buf.get(skip_line_ends(buf)..).unwrap_or_default();
    let head = rest.get(..MAX_START_LINE).unwrap_or(rest);
    let line_len = chars::find_either(head, b'\r', b'\n').unwrap_or(head.len());
    looks_like_start_line(rest.get(..line_len).unwrap_or_default())
}

/// The cheap start-line test shared by [`looks_like_sip`] and [`frame_stream`].
fn looks_like_start_line(line: &[u8]) -> bool {
    // SIP-Version is case-insensitive (RFC 3261 7.1).
    if let [s, i, p, b'/', d, ..] = line {
        if [*s, *i, *p].eq_ignore_ascii_case(b"SIP") {
            return is_digit(*d);
        }
    }
    let Some(sp) = line.iter().take(MAX_METHOD_LEN + 1).position(|&b| !is_token(b)) else {
        return false;
    };
    sp > 0
        && line.get(sp) == Some(&b' ')
        && line
            .get(sp + 1..)
            .unwrap_or_default()
            .windows(5)
            .rev() // the version ends a request line
            .any(|w| w.first() == Some(&b' ') && w.get(1..).is_some_and(|v| v.eq_ignore_ascii_case(b"SIP/")))
}

/// `Ok(Some(n))`: a message of `n` octets; `Ok(None)`: need more.
fn frame(buf: &[u8]) -> Result<Option<usize>, Error> {
    let first = skip_line_ends(buf);
    match buf.get(first) {
        None => return Ok(None),
        Some(&b) if !is_token(b) => {
            return Err(Error::new(ErrorKind::StartLine, first, "stream does not start with a SIP start line"))
        }
        Some(_) => {}
    }
    let Some(mut pos) = next_lf(buf, first) else {
        if buf.len() - first > MAX_START_LINE {
            return Err(Error::new(ErrorKind::TooLarge, first, "start line longer than MAX_START_LINE"));
        }
        return Ok(None);
    };
    let start = buf.get(first..pos).unwrap_or_default();
    if !looks_like_start_line(start.strip_suffix(b"\r").unwrap_or(start)) {
        return Err(Error::new(ErrorKind::StartLine, first, "stream does not start with a SIP start line"));
    }
    pos += 1;
    let mut content_length: Option<usize> = None;
    // Value start of a Content-Length header whose value may still be folded.
    let mut pending: Option<usize> = None;
    let mut prev_end = pos;
    let mut lines = 0usize;
    let body_offset = loop {
        let Some(lf) = next_lf(buf, pos) else {
            return Ok(None);
        };
        let raw = buf.get(pos..lf).unwrap_or_default();
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let folded = line.first().is_some_and(|&b| is_wsp(b));
        if !folded {
            if let Some(value_start) = pending.take() {
                let value = trim_lws(buf.get(value_start..prev_end).unwrap_or_default());
                let n = values::content_length(value).map_err(|b| {
                    Error::new(ErrorKind::ContentLength, value_start, b.reason).in_header(HeaderName::ContentLength)
                })?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(Error::new(ErrorKind::ContentLength, value_start, "conflicting Content-Length values")
                        .in_header(HeaderName::ContentLength));
                }
                content_length = Some(n);
            }
        }
        if line.is_empty() {
            break lf + 1;
        }
        if !folded {
            lines += 1;
            if lines > MAX_HEADERS {
                return Err(Error::new(ErrorKind::TooManyHeaders, pos, "more than MAX_HEADERS header lines"));
            }
            if matches!(line.first(), Some(b'C' | b'c' | b'L' | b'l')) {
                let name_len = line.iter().position(|&b| !is_token(b)).unwrap_or(line.len());
                let name = line.get(..name_len).unwrap_or_default();
                let after = line.get(name_len..).unwrap_or_default();
                let colon = after.iter().position(|&b| !is_wsp(b));
                if HeaderName::from_wire(name) == HeaderName::ContentLength {
                    if let Some(c) = colon.filter(|&c| after.get(c) == Some(&b':')) {
                        pending = Some(pos + name_len + c + 1);
                    }
                }
            }
        }
        prev_end = pos + line.len();
        pos = lf + 1;
    };
    let total = body_offset.saturating_add(content_length.unwrap_or(0));
    if total > MAX_MESSAGE_LEN {
        return Err(Error::new(ErrorKind::TooLarge, first, "message longer than MAX_MESSAGE_LEN"));
    }
    Ok((buf.len() >= total).then_some(total))
}

/// Offset of the next LF at or after `from`.
fn next_lf(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    chars::find_either(rest, b'\n', b'\n').map(|i| from + i)
}

/// Offset of the first octet that is not CR or LF (RFC 3261 7.5).
fn skip_line_ends(buf: &[u8]) -> usize {
    buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(buf.len())
}

/// The physical line starting at `from`: `(content_end, next_line_start)`.
/// CRLF and bare LF both end a line; a CR elsewhere is an error.
fn line_end(buf: &[u8], from: usize, limit: usize) -> Result<(usize, usize), Error> {
    let rest = buf.get(from..).unwrap_or_default();
    let Some(i) = chars::find_either(rest, b'\n', b'\r') else {
        return Err(if rest.len() > limit {
            Error::new(ErrorKind::TooLarge, from, "line longer than its limit")
        } else {
            Error::new(ErrorKind::Incomplete, buf.len(), "message ends inside a line")
        });
    };
    if i > limit {
        return Err(Error::new(ErrorKind::TooLarge, from, "line longer than its limit"));
    }
    let end = from + i;
    match (rest.get(i), rest.get(i + 1)) {
        (Some(b'\n'), _) => Ok((end, end + 1)),
        (_, Some(b'\n')) => Ok((end, end + 2)),
        (_, None) => Err(Error::new(ErrorKind::Incomplete, buf.len(), "message ends inside a line end")),
        (_, Some(_)) => Err(Error::new(ErrorKind::HeaderSyntax, end, "CR not followed by LF")),
    }
}

/// A logical line of the header section.
enum Line<'a> {
    /// The empty line ending the header section; the body starts at `next`.
    Blank { next: usize },
    /// A header (with its folds); the next line starts at `next`.
    Header { header: Header<'a>, next: usize },
}

/// Reads the header line at `pos`, with its continuation lines
/// (RFC 3261 7.3.1: `header-name HCOLON header-value`, `HCOLON = *WSP ":" SWS`).
fn header_line(buf: &[u8], pos: usize) -> Result<Line<'_>, Error> {
    let (mut end, mut next) = line_end(buf, pos, MAX_HEADER_LINE)?;
    if end == pos {
        return Ok(Line::Blank { next });
    }
    let first = buf.get(pos..end).unwrap_or_default();
    let name_len = first.iter().position(|&b| !is_token(b)).unwrap_or(first.len());
    if name_len == 0 {
        let reason = if first.first().is_some_and(|&b| is_wsp(b)) {
            "continuation line without a header before it"
        } else {
            "header line does not start with a header name"
        };
        return Err(Error::new(ErrorKind::HeaderSyntax, pos, reason));
    }
    let after_name = first.get(name_len..).unwrap_or_default();
    let colon = after_name.iter().position(|&b| !is_wsp(b));
    let Some(colon) = colon.filter(|&c| after_name.get(c) == Some(&b':')) else {
        return Err(Error::new(ErrorKind::HeaderSyntax, pos + name_len, "header name not followed by ':'"));
    };
    let value_start = pos + name_len + colon + 1;
    loop {
        match buf.get(next) {
            Some(b' ' | b'\t') => {
                (end, next) = line_end(buf, next, MAX_HEADER_LINE)?;
                if end - pos > MAX_HEADER_LINE {
                    return Err(Error::new(ErrorKind::TooLarge, pos, "header line longer than MAX_HEADER_LINE"));
                }
            }
            Some(_) => break,
            None => {
                return Err(Error::new(ErrorKind::Incomplete, buf.len(), "header section not ended by an empty line"))
            }
        }
    }
    let name = buf.get(pos..pos + name_len).unwrap_or_default();
    let raw_value = buf.get(value_start..end).unwrap_or_default();
    let lead = raw_value.iter().position(|&b| !chars::is_lws(b)).unwrap_or(raw_value.len());
    Ok(Line::Header {
        header: Header {
            name,
            kind: HeaderName::from_wire(name),
            value: trim_lws(raw_value),
            raw_value,
            offset: pos,
            value_offset: value_start + lead,
        },
        next,
    })
}

/// Parses the start line `buf[from..end]` (RFC 3261 7.1, 7.2, 25.1).
fn start_line<'a>(buf: &'a [u8], from: usize, end: usize, faults: &mut impl Faults) -> Result<StartLine<'a>, Error> {
    let line = buf.get(from..end).unwrap_or_default();
    let err = |kind, at: usize, reason| Err(Error::new(kind, from + at, reason));
    if line.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/")) {
        return status_line(line, from, faults);
    }
    // Request-Line = Method SP Request-URI SP SIP-Version
    let Some(sp1) = line.iter().position(|&b| b == b' ') else {
        return err(ErrorKind::StartLine, 0, "start line has no SP");
    };
    let method = line.get(..sp1).unwrap_or_default();
    if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
        return err(ErrorKind::StartLine, 0, "method is not a token");
    }
    if method.len() > MAX_METHOD_LEN {
        return err(ErrorKind::StartLine, 0, "method longer than MAX_METHOD_LEN");
    }
    if line.last().is_some_and(|&b| is_wsp(b)) {
        return err(ErrorKind::StartLine, line.len() - 1, "whitespace after the SIP-Version");
    }
    let sp2 = line.iter().rposition(|&b| b == b' ').unwrap_or(sp1);
    if sp2 == sp1 {
        return err(ErrorKind::StartLine, sp1, "request line has no SIP-Version");
    }
    check_version(line.get(sp2 + 1..).unwrap_or_default(), from + sp2 + 1).or_else(|e| faults.fault(e))?;
    let uri_raw = line.get(sp1 + 1..sp2).unwrap_or_default();
    if uri_raw.first().is_none_or(|&b| is_wsp(b)) || uri_raw.last().is_some_and(|&b| is_wsp(b)) {
        return err(ErrorKind::StartLine, sp1, "more than one SP between request-line elements");
    }
    let uri = request_uri(uri_raw, from + sp1 + 1, faults)?;
    Ok(StartLine::Request { method: Method::parse(method), uri, uri_raw })
}

/// Parses the Request-URI `raw`, found at offset `at` (RFC 3261 7.1,
/// 19.1.1); after a fault, a best-effort reading.
fn request_uri<'a>(raw: &'a [u8], at: usize, faults: &mut impl Faults) -> Result<Uri<'a>, Error> {
    let fault = if raw.first() == Some(&b'<') {
        Error::new(ErrorKind::RequestUri, at, "Request-URI enclosed in <>")
    } else if let Some(i) = raw.iter().position(|&b| is_wsp(b)) {
        Error::new(ErrorKind::RequestUri, at + i, "whitespace inside the Request-URI")
    } else {
        match uri::parse(raw) {
            Ok(uri) if uri.is_sip() && uri.headers.is_some() => {
                // RFC 3261 19.1.1 table 1: headers are not allowed in a
                // Request-URI; the URI is readable all the same.
                faults.fault(Error::new(
                    ErrorKind::RequestUri,
                    at,
                    "escaped headers are not allowed in a Request-URI",
                ))?;
                return Ok(uri);
            }
            Ok(uri) => return Ok(uri),
            Err(b) => Error::new(ErrorKind::RequestUri, at + b.at, b.reason),
        }
    };
    faults.fault(fault)?;
    Ok(uri::parse_loose(raw))
}

/// `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase` (RFC 3261 7.2).
/// A missing SP before an empty reason phrase is tolerated.
fn status_line<'a>(line: &'a [u8], from: usize, faults: &mut impl Faults) -> Result<StartLine<'a>, Error> {
    let err = |kind, at: usize, reason| Err(Error::new(kind, from + at, reason));
    let sp1 = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    check_version(line.get(..sp1).unwrap_or_default(), from).or_else(|e| faults.fault(e))?;
    let rest = line.get(sp1 + 1..).unwrap_or_default();
    let code_len = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    let code = rest.get(..code_len).unwrap_or_default();
    let code_at = sp1 + 1;
    if code.is_empty() {
        return err(ErrorKind::StartLine, code_at, "status line has no status code");
    }
    if !code.iter().all(|&b| is_digit(b)) {
        return err(ErrorKind::StatusCode, code_at, "status code is not a number");
    }
    let value = chars::parse_u32(code).and_then(|c| u16::try_from(c).ok());
    let Some(code) = value.filter(|c| code.len() == 3 && (100..=699).contains(c)) else {
        return err(ErrorKind::StatusCode, code_at, "status code is not three digits from 100 to 699");
    };
    let reason = rest.get(code_len + 1..).unwrap_or_default();
    // Reason-Phrase: anything printable, UTF-8 included (RFC 4475 3.1.1.12).
    if let Some(i) = reason.iter().position(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return err(ErrorKind::StartLine, code_at + code_len + 1 + i, "control character in the reason phrase");
    }
    Ok(StartLine::Response { code, reason })
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; only 2.0 is supported
/// (RFC 3261 7.1, 8.2.2.1 sends 505 for others).
fn check_version(v: &[u8], at: usize) -> Result<(), Error> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    let number = v.get(4..).unwrap_or_default();
    let well_formed = v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
        && number.split(|&b| b == b'.').count() == 2
        && number.split(|&b| b == b'.').all(|part| !part.is_empty() && part.iter().all(|&b| is_digit(b)));
    if well_formed {
        Err(Error::new(ErrorKind::Version, at, "unsupported SIP version (only SIP/2.0)"))
    } else {
        Err(Error::new(ErrorKind::StartLine, at, "not a SIP-Version"))
    }
}

/// Message-level checks run as each header is read.
struct Checks<'a> {
    /// Request method, to compare with the CSeq method.
    method: Option<Method<'a>>,
    /// Content-Length value and the offset of its header.
    content_length: Option<(usize, usize)>,
    /// Which of the single-value, mandatory headers were seen.
    seen: [bool; SINGLE.len()],
    via: bool,
}

/// Headers that must appear exactly once (RFC 3261 7.3.1, 8.1.1; RFC 4475
/// 3.3.8); all but Max-Forwards are mandatory.
const SINGLE: [HeaderName; 5] =
    [HeaderName::CallId, HeaderName::CSeq, HeaderName::From, HeaderName::To, HeaderName::MaxForwards];

impl<'a> Checks<'a> {
    fn new(start: &StartLine<'a>) -> Self {
        let method = match start {
            StartLine::Request { method, .. } => Some(*method),
            StartLine::Response { .. } => None,
        };
        Checks { method, content_length: None, seen: [false; SINGLE.len()], via: false }
    }

    fn header(&mut self, h: &Header<'a>, faults: &mut impl Faults) -> Result<(), Error> {
        let err = |kind, b: chars::Bad| Error::new(kind, h.value_offset + b.at, b.reason).in_header(h.kind);
        if let Some(i) = SINGLE.iter().position(|&k| k == h.kind) {
            if let Some(seen) = self.seen.get_mut(i) {
                if *seen {
                    faults.fault(
                        Error::new(ErrorKind::DuplicateHeader, h.offset, "single-value header appears more than once")
                            .in_header(h.kind),
                    )?;
                    // The first one is the one read; the repeat is not checked.
                    return Ok(());
                }
                *seen = true;
            }
        }
        match h.kind {
            HeaderName::ContentLength => {
                let n = values::content_length(h.value).map_err(|b| err(ErrorKind::ContentLength, b))?;
                match self.content_length {
                    Some((m, _)) if m != n => {
                        return Err(Error::with_reason(
                            ErrorKind::ContentLength,
                            h.offset,
                            format!("conflicting Content-Length values {m} and {n}"),
                        )
                        .in_header(h.kind))
                    }
                    Some(_) => {}
                    None => self.content_length = Some((n, h.offset)),
                }
            }
            HeaderName::CSeq => match values::cseq(h.value) {
                Err(b) => faults.fault(err(ErrorKind::HeaderValue, b))?,
                Ok(cseq) => {
                    // RFC 3261 8.1.1.5; an ACK or CANCEL carries its own
                    // method too (17.1.1.3, 9.1).
                    if let Some(method) = self.method.filter(|m| m.as_bytes() != cseq.method.as_bytes()) {
                        faults.fault(
                            Error::with_reason(
                                ErrorKind::CSeqMismatch,
                                h.value_offset,
                                format!(
                                    "CSeq method {} does not match request method {}",
                                    short(cseq.method.as_bytes()),
                                    short(method.as_bytes())
                                ),
                            )
                            .in_header(h.kind),
                        )?;
                    }
                }
            },
            kind => {
                if kind == HeaderName::Via {
                    self.via = true;
                }
                if let Err(b) = values::check(kind, h.value) {
                    faults.fault(err(ErrorKind::HeaderValue, b))?;
                }
            }
        }
        Ok(())
    }

    /// RFC 3261 8.1.1: Call-ID, CSeq, From, To and Via are mandatory.
    fn finish(&self, start: &StartLine<'_>, at: usize, faults: &mut impl Faults) -> Result<(), Error> {
        let mut missing: Vec<&str> = SINGLE
            .iter()
            .zip(self.seen)
            .filter(|(&kind, seen)| !seen && kind != HeaderName::MaxForwards)
            .filter_map(|(kind, _)| kind.as_str())
            .collect();
        if !self.via {
            missing.push("Via");
        }
        if missing.is_empty() {
            return Ok(());
        }
        let what = if matches!(start, StartLine::Request { .. }) { "request" } else { "response" };
        faults.fault(Error::with_reason(ErrorKind::MissingHeader, at, format!("{what} lacks {}", missing.join(", "))))
    }
}

/// Input octets for an error message: lossy UTF-8, at most 32 characters.
fn short(s: &[u8]) -> String {
    String::from_utf8_lossy(s).chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOIP_INVITE: &[u8] = b"INVITE sip:8613800138000@10.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1804289383;rport\r\n\
From: <sip:1001@10.0.0.1>;tag=846930886\r\n\
To: <sip:8613800138000@10.0.0.1>\r\n\
Call-ID: 1681692777@10.0.0.2\r\n\
CSeq: 20 INVITE\r\n\
Contact: <sip:1001@10.0.0.2:5060>\r\n\
Max-Forwards: 70\r\n\
User-Agent: dble\r\n\
X-ACrypt: RC4:abcd\r\n\
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REFER, REGISTER, MESSAGE, INFO, SUBSCRIBE\r\n\
Content-Type: application/sdp\r\n\
Content-Length:   159\r\n\
\r\n\
v=0\r\n\
o=userX 20000001 20000001 IN IP4 10.0.0.2\r\n\
s=DBL Session\r\n\
c=IN IP4 10.0.0.2\r\n\
t=0 0\r\n\
m=audio 10000 RTP/SAVP 8 0 18 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

    const GOIP_401: &[u8] = b"SIP/2.0 401 Unauthorized\r\n\
Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK42;rport=5060;received=192.0.2.7\r\n\
From: <sip:2001@10.0.0.2>;tag=1\r\n\
To: <sip:8613800138000@10.0.0.2>;tag=2\r\n\
Call-ID: abc@10.0.0.9\r\n\
CSeq: 1 INVITE\r\n\
WWW-Authenticate: Digest realm=\"goip\", nonce=\"7b3a\", algorithm=MD5\r\n\
Server: dble\r\n\
Content-Length:     0\r\n\
\r\n";

    const BUSY: &[u8] = b"SIP/2.0 480 Remote Busy\r\n\
v: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK42\r\n\
f: <sip:2001@10.0.0.2>;tag=1\r\n\
t: <sip:8613800138000@10.0.0.2>;tag=2\r\n\
i: abc@10.0.0.9\r\n\
CSeq: 1 INVITE\r\n\
l: 0\r\n\
\r\n";

    fn parse(buf: &[u8]) -> Message<'_> {
        match parse_message(buf) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn goip_invite() {
        let m = parse(GOIP_INVITE);
        assert_eq!(m.len, GOIP_INVITE.len());
        assert_eq!(m.method(), Some(&Method::Invite));
        let uri = m.request_uri().unwrap();
        assert_eq!(uri.user, Some(&b"8613800138000"[..]));
        assert_eq!(m.user_agent(), Some(&b"dble"[..]));
        let x: Vec<_> = m.headers_named(b"x-acrypt").map(|h| h.value).collect();
        assert_eq!(x, [&b"RC4:abcd"[..]]);
        let via = m.vias().next().unwrap();
        assert_eq!(via.branch, Some(&b"z9hG4bK1804289383"[..]));
        assert_eq!(via.rport, Some(None));
        assert_eq!(via.port, Some(5060));
        assert_eq!(m.allow().count(), 11);
        assert_eq!(m.allow().nth(10), Some(&b"SUBSCRIBE"[..]));
        assert_eq!(m.cseq(), Some(CSeq { seq: 20, method: Method::Invite }));
        assert_eq!(m.from().unwrap().tag, Some(&b"846930886"[..]));
        assert_eq!(m.to().unwrap().tag, None);
        assert_eq!(m.content_type(), Some(&b"application/sdp"[..]));
        assert_eq!(m.content_length(), Some(159));
        assert_eq!(m.max_forwards(), Some(70));
        let sdp = m.sdp().unwrap().unwrap();
        assert_eq!(sdp.session_name, Some(&b"DBL Session"[..]));
        assert_eq!(m.offset_of(m.body), Some(m.body_offset));
        assert_eq!(m.offset_of(b"elsewhere"), None);
        let cl = m.header(HeaderName::ContentLength).unwrap();
        assert_eq!((cl.raw_value, cl.value), (&b"   159"[..], &b"159"[..]));
        assert_eq!(&GOIP_INVITE[cl.value_offset..cl.value_offset + 3], b"159");
    }

    #[test]
    fn goip_responses() {
        let m = parse(GOIP_401);
        assert_eq!(m.status(), Some(401));
        assert_eq!(m.auth_realm(), Some(&b"goip"[..]));
        assert_eq!(m.server(), Some(&b"dble"[..]));
        let cl = m.header(HeaderName::ContentLength).unwrap();
        assert_eq!(cl.raw_value, b"     0");
        let via = m.vias().next().unwrap();
        assert_eq!((via.rport, via.received), (Some(Some(5060)), Some(&b"192.0.2.7"[..])));
        assert!(m.sdp().is_none());

        let m = parse(BUSY);
        assert_eq!(m.reason(), Some(&b"Remote Busy"[..]));
        assert_eq!(m.status(), Some(480));
        assert_eq!(m.call_id(), Some(&b"abc@10.0.0.9"[..]));
        assert_eq!(m.headers_named(b"Via").count(), 1);
        assert_eq!(m.headers_named(b"v").count(), 1);
        assert_eq!(m.headers_named(b"Content-Length").next().unwrap().name, b"l");
    }

    #[test]
    fn folding_and_bare_lf() {
        let msg = b"OPTIONS sip:a@b SIP/2.0\n\
Via: SIP/2.0/UDP h\n ;branch=z9hG4bK1\n\
f: <sip:c@d>;tag=1\nt: sip:a@b\ni: x\nCSeq: 1\n\tOPTIONS\n\
Subject: one\n  two\n\n";
        let m = parse(msg);
        assert_eq!(m.len, msg.len());
        assert_eq!(m.header(HeaderName::Subject).unwrap().value, b"one\n  two");
        assert_eq!(m.cseq().unwrap().seq, 1);
        assert_eq!(m.vias().next().unwrap().branch, Some(&b"z9hG4bK1"[..]));
    }

    #[test]
    fn leading_crlf_and_trailing_octets() {
        let mut msg = b"\r\n\r\n".to_vec();
        msg.extend_from_slice(BUSY);
        msg.extend_from_slice(b"garbage");
        let m = parse(&msg);
        assert_eq!(m.len, 4 + BUSY.len());
        assert_eq!(m.headers[0].offset, 4 + BUSY.iter().position(|&b| b == b'\n').unwrap() + 1);
        assert_eq!(frame_stream(&msg), Framing::Complete(4 + BUSY.len()));
    }

    /// Via, From, To and Call-ID of a valid request.
    const HEAD: &str = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: 1\r\n";

    /// (message, expected kind); each is a minimal change to a valid request.
    fn invalid_cases() -> Vec<(String, ErrorKind)> {
        vec![
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\n"), ErrorKind::Incomplete),
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 ACK\r\n\r\n"), ErrorKind::CSeqMismatch),
            (format!("ACK sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::CSeqMismatch),
            (format!("invite sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::CSeqMismatch),
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}\r\n"), ErrorKind::MissingHeader),
            (
                format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\nCall-ID: 2\r\n\r\n"),
                ErrorKind::DuplicateHeader,
            ),
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\nbad line\r\n\r\n"), ErrorKind::HeaderSyntax),
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\nX: a\rb\r\n\r\n"), ErrorKind::HeaderSyntax),
            (format!("INVITE sip:a@b SIP/2.0\r\n {HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::HeaderSyntax),
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\nl: 5\r\n\r\nabc"), ErrorKind::ContentLength),
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\nl: x\r\n\r\n"), ErrorKind::ContentLength),
            (
                format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\nMax-Forwards: 256\r\n\r\n"),
                ErrorKind::HeaderValue,
            ),
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 4294967296 INVITE\r\n\r\n"), ErrorKind::HeaderValue),
            (format!("INVITE sip:a@b SIP/2.1\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::Version),
            (format!("INVITE sip:a@b HTTP/1.1\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StartLine),
            (format!("INVITE sip:a@b\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StartLine),
            (format!("INVITE\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StartLine),
            (format!("IN<VITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StartLine),
            (format!("INVITE sip:a@b;x=a b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::RequestUri),
            (format!("INVITE a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::RequestUri),
            (format!("SIP/2.0 99 Low\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StatusCode),
            (format!("SIP/2.0 700 High\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StatusCode),
            (format!("SIP/2.0 2x0 Odd\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StatusCode),
            (format!("SIP/2.0 200 O\x01K\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StartLine),
            (format!("SIP/3.0 200 OK\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::Version),
            (format!("SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StartLine),
            (
                format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\nX: {}\r\n\r\n", "y".repeat(MAX_HEADER_LINE)),
                ErrorKind::TooLarge,
            ),
            (
                format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\n{}\r\n", "X: y\r\n".repeat(MAX_HEADERS)),
                ErrorKind::TooManyHeaders,
            ),
            (
                format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n{}", "b".repeat(MAX_MESSAGE_LEN)),
                ErrorKind::TooLarge,
            ),
        ]
    }

    #[test]
    fn invalid_messages() {
        for (msg, kind) in invalid_cases() {
            let err = parse_message(msg.as_bytes()).unwrap_err();
            assert_eq!(err.kind, kind, "{msg:?}: {err}");
            assert!(!err.reason().is_empty());
            assert!(err.offset <= msg.len(), "{msg:?}: {err}");
        }
    }

    /// The lenient parser on the same cases: a recordable fault becomes the
    /// first fault of a message equal in shape, anything else the same error.
    #[test]
    fn lenient_on_invalid_messages() {
        for (msg, _) in invalid_cases() {
            let strict = parse_message(msg.as_bytes()).unwrap_err();
            match parse_message_lenient(msg.as_bytes()) {
                Ok(l) => {
                    assert!(strict.kind.is_recordable(), "{msg:?}: {strict}");
                    assert_eq!(l.faults, [strict], "{msg:?}");
                    assert_eq!(l.message.len, msg.len(), "{msg:?}");
                }
                Err(e) => {
                    assert!(!strict.kind.is_recordable(), "{msg:?}: {strict}");
                    assert_eq!(e, strict, "{msg:?}");
                }
            }
        }
    }

    #[test]
    fn lenient_agrees_on_valid_messages() {
        for msg in [GOIP_INVITE, GOIP_401, BUSY] {
            let l = parse_message_lenient(msg).unwrap();
            assert!(l.faults.is_empty());
            assert_eq!(l.message, parse(msg));
        }
    }

    /// Several faults in one message, each recorded in order, the message
    /// read as well as it can be.
    #[test]
    fn lenient_records_every_fault() {
        let msg = "OPTIONS <sip:a@b> SIP/2.1\r\nVia: SIP/2.0/UDP h;;branch=z9hG4bK7\r\n\
From: Bell, Alexander <sip:a@b>;tag=x&y\r\nFrom: <sip:z@z>;tag=2\r\nMax-Forwards: 300\r\n\
CSeq: 4 INVITE\r\nContact: <sip:c@[2001:db8::1]:5070>, junk, *\r\n\r\n";
        let l = parse_message_lenient(msg.as_bytes()).unwrap();
        let faults: Vec<_> = l.faults.iter().map(|f| (f.kind, f.header)).collect();
        assert_eq!(
            faults,
            [
                (ErrorKind::Version, None),
                (ErrorKind::RequestUri, None),
                (ErrorKind::HeaderValue, Some(HeaderName::Via)),
                (ErrorKind::HeaderValue, Some(HeaderName::From)),
                (ErrorKind::DuplicateHeader, Some(HeaderName::From)),
                (ErrorKind::HeaderValue, Some(HeaderName::MaxForwards)),
                (ErrorKind::CSeqMismatch, Some(HeaderName::CSeq)),
                (ErrorKind::HeaderValue, Some(HeaderName::Contact)),
                (ErrorKind::MissingHeader, None),
            ]
        );
        // The version is checked before the Request-URI, so offsets are not in order there.
        assert!(l.faults[1..].windows(2).all(|w| w[0].offset <= w[1].offset));
        assert_eq!(l.faults[8].reason(), "request lacks Call-ID, To");
        let m = &l.message;
        assert_eq!(m.request_uri().map(|u| u.host), Some(&b"b"[..]));
        assert!(matches!(m.start, StartLine::Request { uri_raw: b"<sip:a@b>", .. }));
        let from = m.from().unwrap();
        assert_eq!((from.display, from.tag), (Some(&b"Bell, Alexander"[..]), Some(&b"x&y"[..])));
        assert_eq!(m.headers_named(b"From").count(), 2);
        assert_eq!(m.vias().next().map(|v| v.branch), Some(Some(&b"z9hG4bK7"[..])));
        assert_eq!(m.max_forwards(), None);
        assert_eq!(m.cseq(), Some(CSeq { seq: 4, method: Method::Invite }));
        let contacts: Vec<_> = m.contacts().collect();
        assert_eq!(contacts.len(), 2, "{contacts:?}");
        assert!(matches!(contacts[0], Contact::Addr { addr, .. } if addr.uri.port == Some(5070)));
        assert_eq!(contacts[1], Contact::Star);
        assert_eq!((m.call_id(), m.to()), (None, None));
    }

    /// A fatal fault after recordable ones still fails the message.
    #[test]
    fn lenient_stops_at_fatal_faults() {
        for (msg, kind) in [
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 ACK\r\nl: -1\r\n\r\n"), ErrorKind::ContentLength),
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 ACK\r\nl: 9\r\n\r\nabc"), ErrorKind::ContentLength),
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}CSeq: 1 ACK\r\nbad line\r\n\r\n"), ErrorKind::HeaderSyntax),
            (format!("INVITE sip:a@b SIP/2.0\r\n{HEAD}Max-Forwards: x\r\n"), ErrorKind::Incomplete),
            (format!("INVITE sip:a@b SIP/7.0 \r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StartLine),
            (format!("INVITE  sip:a@b SIP/7.0\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StartLine),
            (format!("SIP/7.0 1000 Big\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"), ErrorKind::StatusCode),
        ] {
            let strict = parse_message(msg.as_bytes()).unwrap_err();
            let e = parse_message_lenient(msg.as_bytes()).unwrap_err();
            assert_eq!(e.kind, kind, "{msg:?}: {e}");
            assert!(!e.kind.is_recordable());
            if !strict.kind.is_recordable() {
                assert_eq!(e, strict);
            }
        }
    }

    #[test]
    fn recordable_kinds() {
        let recordable: Vec<_> = ErrorKind::ALL.iter().filter(|k| k.is_recordable()).collect();
        assert_eq!(
            recordable,
            [
                &ErrorKind::Version,
                &ErrorKind::RequestUri,
                &ErrorKind::HeaderValue,
                &ErrorKind::MissingHeader,
                &ErrorKind::DuplicateHeader,
                &ErrorKind::CSeqMismatch
            ]
        );
    }

    #[test]
    fn lenient_growing_prefixes() {
        let faulty = format!("SIP/2.0 200 OK\r\n{HEAD}CSeq: 1 INVITE\r\nTo: x\r\nDate: now\r\nl: 3\r\n\r\nabc");
        for msg in [GOIP_INVITE, GOIP_401, BUSY, faulty.as_bytes()] {
            let full = parse_message_lenient(msg).unwrap();
            assert_eq!(full.message.len, msg.len());
            for n in 0..msg.len() {
                match parse_message_lenient(&msg[..n]) {
                    Ok(_) => panic!("prefix of {n} octets parsed"),
                    Err(e) => {
                        assert!(matches!(e.kind, ErrorKind::Incomplete | ErrorKind::ContentLength), "prefix {n}: {e}")
                    }
                }
            }
        }
    }

    #[test]
    fn error_messages() {
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: 1\r\nCSeq: 8 INVITE\r\n\r\n";
        let err = parse_message(msg).unwrap_err();
        assert_eq!(err.kind.name(), "sip_cseq_mismatch");
        assert_eq!(
            err.to_string(),
            format!("CSeq: CSeq method INVITE does not match request method OPTIONS (at byte {})", err.offset)
        );
        let names: std::collections::HashSet<_> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert!(names.iter().all(|n| n.starts_with("sip_")));
    }

    #[test]
    fn growing_prefixes() {
        for msg in [GOIP_INVITE, GOIP_401, BUSY] {
            for n in 0..msg.len() {
                let prefix = &msg[..n];
                match parse_message(prefix) {
                    Ok(_) => panic!("prefix of {n} octets parsed"),
                    Err(e) => {
                        assert!(matches!(e.kind, ErrorKind::Incomplete | ErrorKind::ContentLength), "prefix {n}: {e}")
                    }
                }
                assert_eq!(frame_stream(prefix), Framing::Incomplete, "prefix {n}");
            }
            assert!(parse_message(msg).is_ok());
            assert_eq!(frame_stream(msg), Framing::Complete(msg.len()));
        }
    }

    #[test]
    fn stream_framing() {
        let mut two = GOIP_INVITE.to_vec();
        two.extend_from_slice(BUSY);
        assert_eq!(frame_stream(&two), Framing::Complete(GOIP_INVITE.len()));
        assert_eq!(frame_stream(&two[GOIP_INVITE.len()..]), Framing::Complete(BUSY.len()));
        // No Content-Length on a stream: no body.
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\nextra";
        assert_eq!(frame_stream(msg), Framing::Complete(msg.len() - 5));
        let folded = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n 3\r\n\r\nabcdef";
        assert_eq!(frame_stream(folded), Framing::Complete(folded.len() - 3));
        for (bad, kind) in [
            (&b"\x16\x03\x01\x02\x00"[..], ErrorKind::StartLine),
            (b"GET / HTTP/1.1\r\n\r\n", ErrorKind::StartLine),
            (b"OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n", ErrorKind::ContentLength),
            (b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n", ErrorKind::ContentLength),
            (b"OPTIONS sip:a@b SIP/2.0\r\nl: 99999\r\n\r\n", ErrorKind::TooLarge),
        ] {
            match frame_stream(bad) {
                Framing::Invalid(e) => assert_eq!(e.kind, kind, "{}", String::from_utf8_lossy(bad)),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(bad)),
            }
        }
        let mut huge = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
        huge.resize(MAX_MESSAGE_LEN, b'x');
        assert!(matches!(frame_stream(&huge), Framing::Invalid(e) if e.kind == ErrorKind::TooLarge));
        assert_eq!(frame_stream(b""), Framing::Incomplete);
        assert_eq!(frame_stream(b"\r\n"), Framing::Incomplete);
    }

    #[test]
    fn sip_detection() {
        for yes in [
            GOIP_INVITE,
            BUSY,
            b"\r\nREGISTER sip:x SIP/2.0\r\n",
            b"SIP/7.0 200 OK\r\n",
            b"sip/2.0 200 OK\r\n",
            b"OPTIONS sip:a@b sip/2.0\r\n",
            b"!interesting-Method0123456789_*+`.%indeed'~ sip:x SIP/2.0\r\n",
            b"INVITE <sip:user@example.com> SIP/2.0\r\n",
            b"OPTIONS sip:truncated@exa SIP/2",
            b"INVITE  sip:x  SIP/2.0",
        ] {
            assert!(looks_like_sip(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [
            &b""[..],
            b"\x80\x08\x12\x34",
            b"\x00\x01\x00\x00\x21\x12\xa4\x42",
            b"GET / HTTP/1.1\r\n",
            b"INVITE sip:x\r\n SIP/2.0",
            b"INVITE\tsip:x SIP/2.0",
            b"SIP/x",
            b"\r\n\r\n",
        ] {
            assert!(!looks_like_sip(no), "{}", String::from_utf8_lossy(no));
        }
    }

    #[test]
    fn methods() {
        for m in [
            Method::Invite,
            Method::Ack,
            Method::Bye,
            Method::Cancel,
            Method::Options,
            Method::Register,
            Method::Prack,
            Method::Update,
            Method::Info,
            Method::Message,
            Method::Notify,
            Method::Subscribe,
            Method::Refer,
            Method::Publish,
        ] {
            assert_eq!(Method::parse(m.as_bytes()), m);
        }
        assert_eq!(Method::parse(b"RE%47IST%45R"), Method::Unknown(b"RE%47IST%45R"));
        assert_eq!(Method::parse(b"invite"), Method::Unknown(b"invite"));
        assert_eq!(Method::Invite.to_string(), "INVITE");
    }
}
