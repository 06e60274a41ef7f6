//! SDP session descriptions (RFC 8866, which obsoletes RFC 4566), as carried
//! in SIP bodies (RFC 3264), parsed zero-copy.
//!
//! Contract: [`parse`] reads `<type>=<value>` lines (RFC 8866 5) ended by
//! CRLF or, for robustness, a bare LF; the last line may lack its end. The
//! first line must be `v=0` (5.1). `o=` (5.2), `c=` (5.7) and `m=` (5.14)
//! must have their fields; `a=rtpmap` (6.6) must be well formed because codec
//! names come from it. Everything else is kept or skipped without judgement:
//! unknown type letters, unknown attributes, blank lines, and the order of
//! lines are not checked, because endpoints in the field bend all of them.
//! Every value borrows from the body; the only allocations are the media,
//! format and attribute lists, each bounded by a named limit.
//!
//! Payload type names not given by `a=rtpmap` come from the static table of
//! RFC 3551 6 ([`static_payload`]).

use std::fmt;

/// Largest SDP body accepted, in octets.
pub const MAX_SDP_LEN: usize = 64 * 1024;

/// Most `m=` sections accepted.
pub const MAX_MEDIA: usize = 32;

/// Most formats accepted on one `m=` line.
pub const MAX_FORMATS: usize = 64;

/// Most `a=` lines accepted in the whole description.
pub const MAX_ATTRIBUTES: usize = 512;

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Session<'a> {
    /// The `o=` line's fields.
    pub origin: Option<Origin<'a>>,
    /// The whole `o=` value (a GoIP fingerprint is `userX 20000001 20000001 IN IP4 ...`).
    pub origin_raw: Option<&'a [u8]>,
    /// The `s=` value, possibly empty.
    pub session_name: Option<&'a [u8]>,
    /// Session-level `c=`.
    pub connection: Option<Connection<'a>>,
    /// The first `t=` value.
    pub timing: Option<&'a [u8]>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// Session-level `a=` lines in order (direction and all others).
    pub attributes: Vec<Attribute<'a>>,
    /// `m=` sections in order.
    pub media: Vec<Media<'a>>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
/// (RFC 8866 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    /// Username, `-` if none.
    pub username: &'a [u8],
    /// Session id.
    pub sess_id: &'a [u8],
    /// Session version.
    pub sess_version: &'a [u8],
    /// Network type, `IN`.
    pub nettype: &'a [u8],
    /// Address type, `IP4` or `IP6`.
    pub addrtype: &'a [u8],
    /// Address or host name.
    pub address: &'a [u8],
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    /// Network type, `IN`.
    pub nettype: &'a [u8],
    /// Address type, `IP4` or `IP6`.
    pub addrtype: &'a [u8],
    /// Address, with `/ttl` and `/count` suffixes as written for multicast.
    pub address: &'a [u8],
}

impl Connection<'_> {
    /// The address as an IP address, suffixes removed, if it is one.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        let end = self.address.iter().position(|&b| b == b'/').unwrap_or(self.address.len());
        std::str::from_utf8(self.address.get(..end)?).ok()?.parse().ok()
    }
}

/// One `m=` section with the attributes that follow it (RFC 8866 5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media<'a> {
    /// Media type: `audio`, `video`, `image`, ...
    pub kind: &'a [u8],
    /// Transport port (0 means the stream is rejected or disabled, RFC 3264 6).
    pub port: u16,
    /// `/<number of ports>` when given.
    pub port_count: Option<u16>,
    /// Transport protocol: `RTP/AVP`, `RTP/SAVP`, `udptl`, ...
    pub proto: &'a [u8],
    /// Formats (payload types for RTP) in order of preference.
    pub formats: Vec<&'a [u8]>,
    /// `a=rtpmap` lines.
    pub rtpmaps: Vec<RtpMap<'a>>,
    /// `a=fmtp` lines with a numeric format, as `(payload type, parameters)`.
    pub fmtps: Vec<(u8, &'a [u8])>,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// Media-level direction attribute.
    pub direction: Option<Direction>,
    /// Media-level `c=`.
    pub connection: Option<Connection<'a>>,
    /// All media-level `a=` lines in order.
    pub attributes: Vec<Attribute<'a>>,
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]` (RFC 8866 6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMap<'a> {
    /// Payload type, 0 to 127.
    pub payload_type: u8,
    /// Encoding name as written (`PCMU`, `telephone-event`, ...).
    pub encoding: &'a [u8],
    /// Clock rate in Hz; 0 when the line gives none (RFC 4475's torture
    /// tests send `a=rtpmap:31 LPC`).
    pub clock_rate: u32,
    /// Channels (audio only).
    pub channels: Option<u8>,
}

/// One `a=` line: `a=<name>` or `a=<name>:<value>` (RFC 8866 5.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Attribute name.
    pub name: &'a [u8],
    /// Value after the colon.
    pub value: Option<&'a [u8]>,
}

/// Media direction attributes (RFC 8866 6.7; RFC 3264 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    fn from_attribute(name: &[u8]) -> Option<Direction> {
        match name {
            b"sendrecv" => Some(Direction::SendRecv),
            b"sendonly" => Some(Direction::SendOnly),
            b"recvonly" => Some(Direction::RecvOnly),
            b"inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// An RTP/AVP static payload type (RFC 3551 6, tables 4 and 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticPayload {
    /// Encoding name.
    pub name: &'static str,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels; `None` for video.
    pub channels: Option<u8>,
}

/// The RFC 3551 static assignment of a payload type, if it has one.
pub fn static_payload(pt: u8) -> Option<StaticPayload> {
    let (name, clock_rate, channels) = match pt {
        0 => ("PCMU", 8000, Some(1)),
        3 => ("GSM", 8000, Some(1)),
        4 => ("G723", 8000, Some(1)),
        5 => ("DVI4", 8000, Some(1)),
        6 => ("DVI4", 16000, Some(1)),
        7 => ("LPC", 8000, Some(1)),
        8 => ("PCMA", 8000, Some(1)),
        9 => ("G722", 8000, Some(1)),
        10 => ("L16", 44100, Some(2)),
        11 => ("L16", 44100, Some(1)),
        12 => ("QCELP", 8000, Some(1)),
        13 => ("CN", 8000, Some(1)),
        14 => ("MPA", 90000, None),
        15 => ("G728", 8000, Some(1)),
        16 => ("DVI4", 11025, Some(1)),
        17 => ("DVI4", 22050, Some(1)),
        18 => ("G729", 8000, Some(1)),
        25 => ("CelB", 90000, None),
        26 => ("JPEG", 90000, None),
        28 => ("nv", 90000, None),
        31 => ("H261", 90000, None),
        32 => ("MPV", 90000, None),
        33 => ("MP2T", 90000, None),
        34 => ("H263", 90000, None),
        _ => return None,
    };
    Some(StaticPayload { name, clock_rate, channels })
}

impl<'a> Media<'a> {
    /// Whether the transport is an RTP profile (`RTP/AVP`, `RTP/SAVP`, ...),
    /// whose formats are payload types.
    pub fn is_rtp(&self) -> bool {
        self.proto.split(|&b| b == b'/').any(|p| p.eq_ignore_ascii_case(b"RTP"))
    }

    /// The `a=rtpmap` for a payload type.
    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap<'a>> {
        self.rtpmaps.iter().find(|r| r.payload_type == payload_type)
    }

    /// Each format in `m=` order, named by its `a=rtpmap` or else the
    /// RFC 3551 static table; a format with neither (or any format of a
    /// non-RTP transport) is given as written.
    pub fn codec_names(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let rtp = self.is_rtp();
        self.formats.iter().map(move |&format| {
            let pt = parse_number(format).and_then(|n| u8::try_from(n).ok());
            let named = pt.filter(|_| rtp).and_then(|pt| {
                self.rtpmap(pt).map(|r| r.encoding).or_else(|| static_payload(pt).map(|s| s.name.as_bytes()))
            });
            named.unwrap_or(format)
        })
    }
}

/// What kind of problem made a description unparseable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A line is not `<letter>=<value>` (RFC 8866 5).
    Syntax,
    /// The description does not start with `v=0` (RFC 8866 5.1).
    Version,
    /// The `o=` line lacks fields (RFC 8866 5.2).
    Origin,
    /// A `c=` line lacks fields (RFC 8866 5.7).
    Connection,
    /// An `m=` line is malformed (RFC 8866 5.14).
    Media,
    /// An `a=rtpmap` is malformed (RFC 8866 6.6).
    Attribute,
    /// The body is longer than [`MAX_SDP_LEN`].
    TooLarge,
    /// More media, formats or attributes than the limits allow.
    TooMany,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Syntax,
        ErrorKind::Version,
        ErrorKind::Origin,
        ErrorKind::Connection,
        ErrorKind::Media,
        ErrorKind::Attribute,
        ErrorKind::TooLarge,
        ErrorKind::TooMany,
    ];

    /// Stable snake_case name, used as a counter key in reports.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::Syntax => "sdp_syntax",
            ErrorKind::Version => "sdp_version",
            ErrorKind::Origin => "sdp_origin",
            ErrorKind::Connection => "sdp_connection",
            ErrorKind::Media => "sdp_media",
            ErrorKind::Attribute => "sdp_attribute",
            ErrorKind::TooLarge => "sdp_too_large",
            ErrorKind::TooMany => "sdp_too_many",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An SDP parse failure: its kind, the 1-based line, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// 1-based line number (0 when the whole body is at fault).
    pub line: usize,
    reason: &'static str,
}

impl Error {
    fn new(kind: ErrorKind, line: usize, reason: &'static str) -> Self {
        Error { kind, line, reason }
    }

    /// Why the description was rejected, for people.
    pub fn reason(&self) -> &str {
        self.reason
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SDP line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for Error {}

/// Parses an SDP body.
///
/// # Errors
///
/// An [`Error`] with the 1-based line at fault if a line is not
/// `<letter>=<value>`, the description does not start with `v=0`, an `o=`,
/// `c=`, `m=` or `a=rtpmap` line lacks its fields, or a limit is exceeded.
pub fn parse(body: &[u8]) -> Result<Session<'_>, Error> {
    if body.len() > MAX_SDP_LEN {
        return Err(Error::new(ErrorKind::TooLarge, 0, "SDP body longer than MAX_SDP_LEN"));
    }
    let mut session = Session::default();
    let mut seen_version = false;
    let mut attributes = 0usize;
    let lines = body.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    for (index, line) in lines.enumerate() {
        let n = index + 1;
        let err = |kind, reason| Err(Error::new(kind, n, reason));
        if line.is_empty() {
            continue;
        }
        let (kind, value) = match line {
            [t @ b'a'..=b'z', b'=', value @ ..] => (*t, value),
            _ => return err(ErrorKind::Syntax, "line is not <letter>=<value>"),
        };
        if !seen_version {
            if kind != b'v' {
                return err(ErrorKind::Version, "description does not start with v=");
            }
            if value != b"0" {
                return err(ErrorKind::Version, "SDP version is not 0");
            }
            seen_version = true;
            continue;
        }
        match kind {
            b'v' => return err(ErrorKind::Syntax, "second v= line"),
            b'o' => {
                let origin = origin(value).ok_or(Error::new(ErrorKind::Origin, n, "o= does not have six fields"))?;
                session.origin.get_or_insert(origin);
                session.origin_raw.get_or_insert(value);
            }
            b's' => {
                session.session_name.get_or_insert(value);
            }
            b't' => {
                session.timing.get_or_insert(value);
            }
            b'c' => {
                let c =
                    connection(value).ok_or(Error::new(ErrorKind::Connection, n, "c= does not have three fields"))?;
                match session.media.last_mut() {
                    Some(m) => {
                        m.connection.get_or_insert(c);
                    }
                    None => {
                        session.connection.get_or_insert(c);
                    }
                }
            }
            b'm' => {
                if session.media.len() >= MAX_MEDIA {
                    return err(ErrorKind::TooMany, "more than MAX_MEDIA m= lines");
                }
                session.media.push(media(value, n)?);
            }
            b'a' => {
                attributes += 1;
                if attributes > MAX_ATTRIBUTES {
                    return err(ErrorKind::TooMany, "more than MAX_ATTRIBUTES a= lines");
                }
                let a = attribute(value);
                if a.name.is_empty() {
                    return err(ErrorKind::Attribute, "a= line without a name");
                }
                match session.media.last_mut() {
                    Some(m) => media_attribute(m, a, n)?,
                    None => {
                        if let Some(d) = Direction::from_attribute(a.name) {
                            session.direction = Some(d);
                        }
                        session.attributes.push(a);
                    }
                }
            }
            // i, u, e, p, b, r, z, k and unknown letters carry nothing the
            // probe reads (RFC 8866 5.3-5.12).
            _ => {}
        }
    }
    if !seen_version {
        return Err(Error::new(ErrorKind::Version, 0, "empty SDP body"));
    }
    Ok(session)
}

/// Space-separated fields; runs of spaces count as one separator.
fn fields(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b' ').filter(|f| !f.is_empty())
}

/// `o=` (RFC 8866 5.2): exactly six fields.
fn origin(value: &[u8]) -> Option<Origin<'_>> {
    let mut f = fields(value);
    let origin = Origin {
        username: f.next()?,
        sess_id: f.next()?,
        sess_version: f.next()?,
        nettype: f.next()?,
        addrtype: f.next()?,
        address: f.next()?,
    };
    f.next().is_none().then_some(origin)
}

/// `c=` (RFC 8866 5.7): exactly three fields.
fn connection(value: &[u8]) -> Option<Connection<'_>> {
    let mut f = fields(value);
    let c = Connection { nettype: f.next()?, addrtype: f.next()?, address: f.next()? };
    f.next().is_none().then_some(c)
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` (RFC 8866 5.14).
fn media(value: &[u8], n: usize) -> Result<Media<'_>, Error> {
    let err = |reason| Error::new(ErrorKind::Media, n, reason);
    let mut f = fields(value);
    let kind = f.next().ok_or(err("m= is empty"))?;
    let ports = f.next().ok_or(err("m= has no port"))?;
    let proto = f.next().ok_or(err("m= has no transport protocol"))?;
    let (port, count) = match ports.iter().position(|&b| b == b'/') {
        Some(i) => (ports.get(..i).unwrap_or_default(), ports.get(i + 1..)),
        None => (ports, None),
    };
    let port = parse_u16(port).ok_or(err("m= port is not a number from 0 to 65535"))?;
    let port_count = match count {
        Some(c) => Some(parse_u16(c).ok_or(err("m= port count is not a number"))?),
        None => None,
    };
    let mut formats = Vec::new();
    for format in f {
        if formats.len() >= MAX_FORMATS {
            return Err(Error::new(ErrorKind::TooMany, n, "more than MAX_FORMATS formats"));
        }
        formats.push(format);
    }
    Ok(Media {
        kind,
        port,
        port_count,
        proto,
        formats,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        direction: None,
        connection: None,
        attributes: Vec::new(),
    })
}

/// Splits `a=` into name and value at the first colon (RFC 8866 5.13).
fn attribute(value: &[u8]) -> Attribute<'_> {
    match value.iter().position(|&b| b == b':') {
        Some(i) => Attribute { name: value.get(..i).unwrap_or_default(), value: value.get(i + 1..) },
        None => Attribute { name: value, value: None },
    }
}

/// Records a media-level attribute, decoding the ones the probe reads.
fn media_attribute<'a>(m: &mut Media<'a>, a: Attribute<'a>, n: usize) -> Result<(), Error> {
    match (a.name, a.value) {
        (b"rtpmap", Some(v)) => {
            let r = rtpmap(v).ok_or(Error::new(
                ErrorKind::Attribute,
                n,
                "a=rtpmap is not <pt> <encoding>/<clock rate>[/<channels>]",
            ))?;
            m.rtpmaps.push(r);
        }
        (b"fmtp", Some(v)) => {
            let (format, params) = split_once_space(v);
            if let Some(pt) = parse_number(format).and_then(|p| u8::try_from(p).ok()) {
                m.fmtps.push((pt, params));
            }
        }
        (b"ptime", Some(v)) => {
            // Some stacks write "20.0"; the integer part is what matters.
            let int = v.split(|&b| b == b'.').next().unwrap_or_default();
            m.ptime = parse_number(int);
        }
        (name, None) => {
            if let Some(d) = Direction::from_attribute(name) {
                m.direction = Some(d);
            }
        }
        _ => {}
    }
    m.attributes.push(a);
    Ok(())
}

/// `<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`
/// (RFC 8866 6.6); a missing clock rate is tolerated.
fn rtpmap(v: &[u8]) -> Option<RtpMap<'_>> {
    let (pt, rest) = split_once_space(v);
    let payload_type = parse_number(pt).and_then(|p| u8::try_from(p).ok())?;
    if payload_type > 127 {
        return None;
    }
    let mut parts = rest.splitn(3, |&b| b == b'/');
    let encoding = parts.next().filter(|e| !e.is_empty() && !e.contains(&b' '))?;
    let clock_rate = match parts.next() {
        Some(c) => parse_number(c)?,
        None => 0,
    };
    let channels = match parts.next() {
        Some(c) => Some(parse_number(c).and_then(|c| u8::try_from(c).ok())?),
        None => None,
    };
    Some(RtpMap { payload_type, encoding, clock_rate, channels })
}

/// Splits at the first run of spaces.
fn split_once_space(v: &[u8]) -> (&[u8], &[u8]) {
    match v.iter().position(|&b| b == b' ') {
        Some(i) => {
            let rest = v.get(i..).unwrap_or_default();
            let skip = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
            (v.get(..i).unwrap_or_default(), rest.get(skip..).unwrap_or_default())
        }
        None => (v, b""),
    }
}

/// `1*DIGIT` as a `u32` (trailing spaces tolerated).
fn parse_number(s: &[u8]) -> Option<u32> {
    let s = s.strip_suffix(b" ").unwrap_or(s);
    if s.is_empty() || s.len() > 10 {
        return None;
    }
    let mut n: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(n)
}

fn parse_u16(s: &[u8]) -> Option<u16> {
    parse_number(s).and_then(|n| u16::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOIP: &[u8] = b"v=0\r\n\
o=userX 20000001 20000001 IN IP4 10.0.0.2\r\n\
s=DBL Session\r\n\
c=IN IP4 10.0.0.2\r\n\
t=0 0\r\n\
m=audio 10000 RTP/SAVP 8 0 18 4 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd\r\n";

    #[test]
    fn goip_offer() {
        let s = parse(GOIP).unwrap();
        let o = s.origin.unwrap();
        assert_eq!(
            (o.username, o.sess_id, o.sess_version, o.address),
            (&b"userX"[..], &b"20000001"[..], &b"20000001"[..], &b"10.0.0.2"[..])
        );
        assert_eq!(s.origin_raw, Some(&b"userX 20000001 20000001 IN IP4 10.0.0.2"[..]));
        assert_eq!(s.session_name, Some(&b"DBL Session"[..]));
        assert_eq!(s.connection.unwrap().ip(), Some("10.0.0.2".parse().unwrap()));
        assert_eq!(s.timing, Some(&b"0 0"[..]));
        let m = &s.media[0];
        assert_eq!((m.kind, m.port, m.proto), (&b"audio"[..], 10000, &b"RTP/SAVP"[..]));
        let names: Vec<_> = m.codec_names().collect();
        assert_eq!(names, [&b"PCMA"[..], b"PCMU", b"G729", b"G723", b"telephone-event"]);
        assert_eq!(m.fmtps, [(101, &b"0-15"[..])]);
        assert_eq!(m.ptime, Some(20));
        assert_eq!(m.direction, Some(Direction::SendRecv));
        assert_eq!(m.attributes.len(), 6);
        assert_eq!(m.attributes[5].name, b"crypto");
        assert_eq!(
            m.rtpmap(101),
            Some(&RtpMap { payload_type: 101, encoding: b"telephone-event", clock_rate: 8000, channels: None })
        );
    }

    #[test]
    fn per_media_connections_and_lf() {
        let s = parse(b"v=0\no=bob 1 2 IN IP4 h\ns=\nt=0 0\nm=audio 22334 RTP/AVP 0\nc=IN IP4 192.0.2.1\nm=video 6024/2 RTP/AVP 107\nc=IN IP6 2001:db8::1\na=rtpmap:107 H263-1998/90000\na=inactive").unwrap();
        assert_eq!(s.session_name, Some(&b""[..]));
        assert_eq!(s.connection, None);
        assert_eq!(s.media[0].connection.unwrap().address, b"192.0.2.1");
        assert_eq!(s.media[1].connection.unwrap().addrtype, b"IP6");
        assert_eq!(s.media[1].port_count, Some(2));
        assert_eq!(s.media[1].direction, Some(Direction::Inactive));
        assert_eq!(s.media[1].codec_names().collect::<Vec<_>>(), [&b"H263-1998"[..]]);
    }

    #[test]
    fn session_attributes_and_unknown_lines() {
        let s = parse(b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nb=AS:64\r\nx=unknown\r\na=sendonly\r\na=tool:x\r\nt=0 0\r\nm=image 5000 udptl t38\r\n\r\n").unwrap();
        assert_eq!(s.direction, Some(Direction::SendOnly));
        assert_eq!(s.attributes.len(), 2);
        assert_eq!(s.attributes[1], Attribute { name: b"tool", value: Some(b"x") });
        assert!(!s.media[0].is_rtp());
        assert_eq!(s.media[0].codec_names().collect::<Vec<_>>(), [&b"t38"[..]]);
    }

    #[test]
    fn errors() {
        let cases: [(&[u8], ErrorKind, usize); 12] = [
            (b"", ErrorKind::Version, 0),
            (b"o=- 1 1 IN IP4 h\r\n", ErrorKind::Version, 1),
            (b"v=1\r\n", ErrorKind::Version, 1),
            (b"v=0\r\nv=0\r\n", ErrorKind::Syntax, 2),
            (b"v=0\r\nm =video 3227 RTP/AVP 31\r\n", ErrorKind::Syntax, 2),
            (b"v=0\r\nX=1\r\n", ErrorKind::Syntax, 2),
            (b"v=0\r\no=- 1 IN IP4 h\r\n", ErrorKind::Origin, 2),
            (b"v=0\r\nc=IN IP4\r\n", ErrorKind::Connection, 2),
            (b"v=0\r\nm=audio 70000 RTP/AVP 0\r\n", ErrorKind::Media, 2),
            (b"v=0\r\nm=audio\r\n", ErrorKind::Media, 2),
            (b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:200 X/8000\r\n", ErrorKind::Attribute, 3),
            (b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU/x\r\n", ErrorKind::Attribute, 3),
        ];
        for (body, kind, line) in cases {
            let e = parse(body).unwrap_err();
            assert_eq!((e.kind, e.line), (kind, line), "{}: {e}", String::from_utf8_lossy(body));
            assert!(!e.reason().is_empty());
        }
        let many = format!("v=0\r\n{}", "m=audio 1 RTP/AVP 0\r\n".repeat(MAX_MEDIA + 1));
        assert_eq!(parse(many.as_bytes()).unwrap_err().kind, ErrorKind::TooMany);
        let formats = format!("v=0\r\nm=audio 1 RTP/AVP{}\r\n", " 0".repeat(MAX_FORMATS + 1));
        assert_eq!(parse(formats.as_bytes()).unwrap_err().kind, ErrorKind::TooMany);
        assert_eq!(parse(&vec![b'v'; MAX_SDP_LEN + 1]).unwrap_err().kind, ErrorKind::TooLarge);
        assert!(ErrorKind::ALL.iter().all(|k| k.name().starts_with("sdp_")));
    }

    #[test]
    fn growing_prefixes() {
        for n in 0..GOIP.len() {
            // Every prefix either parses or fails cleanly (a cut rtpmap).
            let _ = parse(&GOIP[..n]);
        }
    }

    /// RFC 4475's SDP bodies carry `a=rtpmap:31 LPC` with no clock rate;
    /// the first version rejected them and so failed valid messages.
    #[test]
    fn rtpmap_without_clock_rate() {
        let s = parse(b"v=0\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n").unwrap();
        assert_eq!(s.media[0].rtpmaps, [RtpMap { payload_type: 31, encoding: b"LPC", clock_rate: 0, channels: None }]);
    }

    #[test]
    fn static_table() {
        assert_eq!(static_payload(0).unwrap().name, "PCMU");
        assert_eq!(static_payload(8).unwrap().name, "PCMA");
        assert_eq!(static_payload(18).unwrap().name, "G729");
        assert_eq!(static_payload(13).unwrap().name, "CN");
        assert_eq!(static_payload(9).unwrap().clock_rate, 8000);
        assert_eq!(static_payload(96), None);
    }
}
