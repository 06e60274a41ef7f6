//! Why a buffer is not a well-formed SIP message.
//!
//! One error type for the SIP parser: a documented, `#[non_exhaustive]` kind
//! (counted by [`ErrorKind::name`] in reports), the byte offset the problem was
//! found at, and a reason for people. `Incomplete` (more bytes could fix it) is
//! kept apart from every other kind (no amount of bytes will), and
//! [`ErrorKind::is_recordable`] splits the rest into faults a lenient parse
//! records and goes past, and faults no parse can go past.

use std::borrow::Cow;
use std::fmt;

use super::HeaderName;

/// What kind of problem made a message unparseable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The buffer ends before the start line or the header section does
    /// (RFC 3261 7: the header section ends with an empty line).
    Incomplete,
    /// The start line is not `Method SP Request-URI SP SIP-Version` or
    /// `SIP-Version SP Status-Code SP Reason-Phrase` (RFC 3261 7.1, 7.2), e.g.
    /// extra or trailing spaces (RFC 4475 3.1.2.9, 3.1.2.10).
    StartLine,
    /// A SIP-Version other than `SIP/2.0` (RFC 3261 7.1; RFC 4475 3.1.2.16).
    Version,
    /// The Request-URI is malformed: enclosed in `<>`, holds LWS or escaped
    /// headers, an unbracketed IPv6 host (RFC 3261 19.1.1; RFC 4475 3.1.2.7,
    /// 3.1.2.8, 3.1.2.11; RFC 5118 4.2).
    RequestUri,
    /// The Status-Code is not three digits from 100 to 699 (RFC 3261 7.2, 21;
    /// RFC 4475 3.1.2.19).
    StatusCode,
    /// A header line is not `token *WSP ":" value`, or a line end is broken
    /// (RFC 3261 7.3.1).
    HeaderSyntax,
    /// A known header's value does not follow its grammar (RFC 3261 20, 25.1).
    HeaderValue,
    /// A request or response lacks Call-ID, CSeq, From, To or Via
    /// (RFC 3261 8.1.1; RFC 4475 3.3.1).
    MissingHeader,
    /// A header that may appear once appears again (RFC 3261 7.3.1, 20;
    /// RFC 4475 3.3.8).
    DuplicateHeader,
    /// Content-Length is not a number, disagrees with another Content-Length,
    /// or promises more body than the datagram holds (RFC 3261 18.3, 20.14;
    /// RFC 4475 3.1.2.2, 3.1.2.3, 3.3.9).
    ContentLength,
    /// The CSeq method is not the request's method (RFC 3261 8.1.1.5;
    /// RFC 4475 3.1.2.17, 3.1.2.18).
    CSeqMismatch,
    /// The message, a line, or a Content-Length is over a size limit.
    TooLarge,
    /// More than [`super::MAX_HEADERS`] header lines.
    TooManyHeaders,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Incomplete,
        ErrorKind::StartLine,
        ErrorKind::Version,
        ErrorKind::RequestUri,
        ErrorKind::StatusCode,
        ErrorKind::HeaderSyntax,
        ErrorKind::HeaderValue,
        ErrorKind::MissingHeader,
        ErrorKind::DuplicateHeader,
        ErrorKind::ContentLength,
        ErrorKind::CSeqMismatch,
        ErrorKind::TooLarge,
        ErrorKind::TooManyHeaders,
    ];

    /// Whether [`super::parse_message_lenient`] records a fault of this kind
    /// and goes on (`Version`, `RequestUri`, `HeaderValue`, `MissingHeader`,
    /// `DuplicateHeader`, `CSeqMismatch`: the message can still be read), or
    /// gives up on the message as [`super::parse_message`] does (the start
    /// line, header lines, framing and limits: what is left could not be
    /// trusted to be the message that was sent).
    pub fn is_recordable(&self) -> bool {
        match self {
            ErrorKind::Version
            | ErrorKind::RequestUri
            | ErrorKind::HeaderValue
            | ErrorKind::MissingHeader
            | ErrorKind::DuplicateHeader
            | ErrorKind::CSeqMismatch => true,
            ErrorKind::Incomplete
            | ErrorKind::StartLine
            | ErrorKind::StatusCode
            | ErrorKind::HeaderSyntax
            | ErrorKind::ContentLength
            | ErrorKind::TooLarge
            | ErrorKind::TooManyHeaders => false,
        }
    }

    /// Stable snake_case name, used as a counter key in reports.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::Incomplete => "sip_incomplete",
            ErrorKind::StartLine => "sip_start_line",
            ErrorKind::Version => "sip_version",
            ErrorKind::RequestUri => "sip_request_uri",
            ErrorKind::StatusCode => "sip_status_code",
            ErrorKind::HeaderSyntax => "sip_header_syntax",
            ErrorKind::HeaderValue => "sip_header_value",
            ErrorKind::MissingHeader => "sip_missing_header",
            ErrorKind::DuplicateHeader => "sip_duplicate_header",
            ErrorKind::ContentLength => "sip_content_length",
            ErrorKind::CSeqMismatch => "sip_cseq_mismatch",
            ErrorKind::TooLarge => "sip_too_large",
            ErrorKind::TooManyHeaders => "sip_too_many_headers",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A SIP parse failure: its kind, where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// Offset of the offending octet (or line) from the start of the buffer.
    pub offset: usize,
    /// The header the problem is in, if it is in a known header.
    pub header: Option<HeaderName>,
    reason: Cow<'static, str>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.header.and_then(|h| h.as_str()) {
            write!(f, "{name}: ")?;
        }
        write!(f, "{} (at byte {})", self.reason, self.offset)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// An error with a fixed reason.
    pub(crate) fn new(kind: ErrorKind, offset: usize, reason: &'static str) -> Self {
        Error { kind, offset, header: None, reason: Cow::Borrowed(reason) }
    }

    /// An error whose reason is built from the input.
    pub(crate) fn with_reason(kind: ErrorKind, offset: usize, reason: String) -> Self {
        Error { kind, offset, header: None, reason: Cow::Owned(reason) }
    }

    /// The same error, attributed to a header.
    pub(crate) fn in_header(mut self, header: HeaderName) -> Self {
        if header != HeaderName::Other {
            self.header = Some(header);
        }
        self
    }

    /// Whether more input could turn this into a success.
    pub fn is_incomplete(&self) -> bool {
        self.kind == ErrorKind::Incomplete
    }

    /// Why the message was rejected, for people (without the offset).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}
