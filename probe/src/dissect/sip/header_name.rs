//! Header names (RFC 3261 7.3, 20): the full names the probe knows and the
//! one-letter compact forms (RFC 3261 7.3.3 and the IANA "Header Fields"
//! registry), matched case-insensitively (RFC 3261 7.3.1).

/// A header name, compact forms (RFC 3261 7.3.3 and the IANA SIP
/// parameters registry) mapped to their full names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderName {
    /// `Accept`
    Accept,
    /// `Accept-Contact` (compact `a`)
    AcceptContact,
    /// `Accept-Encoding`
    AcceptEncoding,
    /// `Accept-Language`
    AcceptLanguage,
    /// `Alert-Info`
    AlertInfo,
    /// `Allow`
    Allow,
    /// `Allow-Events` (compact `u`)
    AllowEvents,
    /// `Authentication-Info`
    AuthenticationInfo,
    /// `Authorization`
    Authorization,
    /// `Call-ID` (compact `i`)
    CallId,
    /// `Call-Info`
    CallInfo,
    /// `Contact` (compact `m`)
    Contact,
    /// `Content-Disposition`
    ContentDisposition,
    /// `Content-Encoding` (compact `e`)
    ContentEncoding,
    /// `Content-Language`
    ContentLanguage,
    /// `Content-Length` (compact `l`)
    ContentLength,
    /// `Content-Type` (compact `c`)
    ContentType,
    /// `CSeq`
    CSeq,
    /// `Date`
    Date,
    /// `Error-Info`
    ErrorInfo,
    /// `Event` (compact `o`)
    Event,
    /// `Expires`
    Expires,
    /// `From` (compact `f`)
    From,
    /// `Identity` (compact `y`)
    Identity,
    /// `Identity-Info` (compact `n`)
    IdentityInfo,
    /// `In-Reply-To`
    InReplyTo,
    /// `Max-Forwards`
    MaxForwards,
    /// `MIME-Version`
    MimeVersion,
    /// `Min-Expires`
    MinExpires,
    /// `Organization`
    Organization,
    /// `P-Asserted-Identity`
    PAssertedIdentity,
    /// `P-Preferred-Identity`
    PPreferredIdentity,
    /// `Priority`
    Priority,
    /// `Privacy`
    Privacy,
    /// `Proxy-Authenticate`
    ProxyAuthenticate,
    /// `Proxy-Authorization`
    ProxyAuthorization,
    /// `Proxy-Require`
    ProxyRequire,
    /// `RAck`
    RAck,
    /// `Reason`
    Reason,
    /// `Record-Route`
    RecordRoute,
    /// `Refer-To` (compact `r`)
    ReferTo,
    /// `Referred-By` (compact `b`)
    ReferredBy,
    /// `Reject-Contact` (compact `j`)
    RejectContact,
    /// `Reply-To`
    ReplyTo,
    /// `Request-Disposition` (compact `d`)
    RequestDisposition,
    /// `Require`
    Require,
    /// `Retry-After`
    RetryAfter,
    /// `Route`
    Route,
    /// `RSeq`
    RSeq,
    /// `Server`
    Server,
    /// `Session-Expires` (compact `x`)
    SessionExpires,
    /// `Subject` (compact `s`)
    Subject,
    /// `Subscription-State`
    SubscriptionState,
    /// `Supported` (compact `k`)
    Supported,
    /// `Timestamp`
    Timestamp,
    /// `To` (compact `t`)
    To,
    /// `Unsupported`
    Unsupported,
    /// `User-Agent`
    UserAgent,
    /// `Via` (compact `v`)
    Via,
    /// `Warning`
    Warning,
    /// `WWW-Authenticate`
    WwwAuthenticate,
    /// Any other header; compare its wire name.
    Other,
}

/// Full header names by length, for a lookup that touches a handful of
/// candidates at most.
static BY_LEN: [&[(&[u8], HeaderName)]; 21] = [
    &[],
    &[],
    &[(b"To", HeaderName::To)],
    &[(b"Via", HeaderName::Via)],
    &[
        (b"CSeq", HeaderName::CSeq),
        (b"Date", HeaderName::Date),
        (b"From", HeaderName::From),
        (b"RAck", HeaderName::RAck),
        (b"RSeq", HeaderName::RSeq),
    ],
    &[(b"Allow", HeaderName::Allow), (b"Event", HeaderName::Event), (b"Route", HeaderName::Route)],
    &[(b"Accept", HeaderName::Accept), (b"Reason", HeaderName::Reason), (b"Server", HeaderName::Server)],
    &[
        (b"Call-ID", HeaderName::CallId),
        (b"Contact", HeaderName::Contact),
        (b"Expires", HeaderName::Expires),
        (b"Privacy", HeaderName::Privacy),
        (b"Require", HeaderName::Require),
        (b"Subject", HeaderName::Subject),
        (b"Warning", HeaderName::Warning),
    ],
    &[
        (b"Identity", HeaderName::Identity),
        (b"Priority", HeaderName::Priority),
        (b"Refer-To", HeaderName::ReferTo),
        (b"Reply-To", HeaderName::ReplyTo),
    ],
    &[
        (b"Call-Info", HeaderName::CallInfo),
        (b"Supported", HeaderName::Supported),
        (b"Timestamp", HeaderName::Timestamp),
    ],
    &[
        (b"Alert-Info", HeaderName::AlertInfo),
        (b"Error-Info", HeaderName::ErrorInfo),
        (b"User-Agent", HeaderName::UserAgent),
    ],
    &[
        (b"In-Reply-To", HeaderName::InReplyTo),
        (b"Min-Expires", HeaderName::MinExpires),
        (b"Referred-By", HeaderName::ReferredBy),
        (b"Retry-After", HeaderName::RetryAfter),
        (b"Unsupported", HeaderName::Unsupported),
    ],
    &[
        (b"Allow-Events", HeaderName::AllowEvents),
        (b"Content-Type", HeaderName::ContentType),
        (b"Max-Forwards", HeaderName::MaxForwards),
        (b"MIME-Version", HeaderName::MimeVersion),
        (b"Organization", HeaderName::Organization),
        (b"Record-Route", HeaderName::RecordRoute),
    ],
    &[
        (b"Authorization", HeaderName::Authorization),
        (b"Identity-Info", HeaderName::IdentityInfo),
        (b"Proxy-Require", HeaderName::ProxyRequire),
    ],
    &[
        (b"Accept-Contact", HeaderName::AcceptContact),
        (b"Content-Length", HeaderName::ContentLength),
        (b"Reject-Contact", HeaderName::RejectContact),
    ],
    &[
        (b"Accept-Encoding", HeaderName::AcceptEncoding),
        (b"Accept-Language", HeaderName::AcceptLanguage),
        (b"Session-Expires", HeaderName::SessionExpires),
    ],
    &[
        (b"Content-Encoding", HeaderName::ContentEncoding),
        (b"Content-Language", HeaderName::ContentLanguage),
        (b"WWW-Authenticate", HeaderName::WwwAuthenticate),
    ],
    &[],
    &[(b"Proxy-Authenticate", HeaderName::ProxyAuthenticate), (b"Subscription-State", HeaderName::SubscriptionState)],
    &[
        (b"Authentication-Info", HeaderName::AuthenticationInfo),
        (b"Content-Disposition", HeaderName::ContentDisposition),
        (b"P-Asserted-Identity", HeaderName::PAssertedIdentity),
        (b"Proxy-Authorization", HeaderName::ProxyAuthorization),
        (b"Request-Disposition", HeaderName::RequestDisposition),
    ],
    &[(b"P-Preferred-Identity", HeaderName::PPreferredIdentity)],
];

impl HeaderName {
    /// Classifies a wire name, case-insensitively, expanding compact forms.
    pub fn from_wire(name: &[u8]) -> HeaderName {
        if let [c] = name {
            return Self::compact(*c);
        }
        BY_LEN
            .get(name.len())
            .and_then(|names| names.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map_or(HeaderName::Other, |&(_, kind)| kind)
    }

    /// The full name of a one-letter compact form (RFC 3261 7.3.3, 20; IANA).
    fn compact(c: u8) -> HeaderName {
        match c.to_ascii_lowercase() {
            b'a' => HeaderName::AcceptContact,
            b'b' => HeaderName::ReferredBy,
            b'c' => HeaderName::ContentType,
            b'd' => HeaderName::RequestDisposition,
            b'e' => HeaderName::ContentEncoding,
            b'f' => HeaderName::From,
            b'i' => HeaderName::CallId,
            b'j' => HeaderName::RejectContact,
            b'k' => HeaderName::Supported,
            b'l' => HeaderName::ContentLength,
            b'm' => HeaderName::Contact,
            b'n' => HeaderName::IdentityInfo,
            b'o' => HeaderName::Event,
            b'r' => HeaderName::ReferTo,
            b's' => HeaderName::Subject,
            b't' => HeaderName::To,
            b'u' => HeaderName::AllowEvents,
            b'v' => HeaderName::Via,
            b'x' => HeaderName::SessionExpires,
            b'y' => HeaderName::Identity,
            _ => HeaderName::Other,
        }
    }

    /// The canonical full name; `None` for `Other`.
    pub fn as_str(&self) -> Option<&'static str> {
        BY_LEN
            .iter()
            .flat_map(|names| names.iter())
            .find(|(_, kind)| kind == self)
            .and_then(|(name, _)| std::str::from_utf8(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_forms() {
        let table: [(&[u8], HeaderName); 22] = [
            (b"i", HeaderName::CallId),
            (b"m", HeaderName::Contact),
            (b"e", HeaderName::ContentEncoding),
            (b"l", HeaderName::ContentLength),
            (b"L", HeaderName::ContentLength),
            (b"c", HeaderName::ContentType),
            (b"f", HeaderName::From),
            (b"s", HeaderName::Subject),
            (b"k", HeaderName::Supported),
            (b"t", HeaderName::To),
            (b"v", HeaderName::Via),
            (b"o", HeaderName::Event),
            (b"r", HeaderName::ReferTo),
            (b"b", HeaderName::ReferredBy),
            (b"u", HeaderName::AllowEvents),
            (b"x", HeaderName::SessionExpires),
            (b"a", HeaderName::AcceptContact),
            (b"j", HeaderName::RejectContact),
            (b"d", HeaderName::RequestDisposition),
            (b"y", HeaderName::Identity),
            (b"n", HeaderName::IdentityInfo),
            (b"z", HeaderName::Other),
        ];
        for (wire, kind) in table {
            assert_eq!(HeaderName::from_wire(wire), kind, "{}", wire[0] as char);
        }
        assert_eq!(HeaderName::from_wire(b"mAx-FoRwArDs"), HeaderName::MaxForwards);
        assert_eq!(HeaderName::from_wire(b"www-authenticate"), HeaderName::WwwAuthenticate);
        assert_eq!(HeaderName::from_wire(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_wire(b""), HeaderName::Other);
        assert_eq!(HeaderName::CallId.as_str(), Some("Call-ID"));
        assert_eq!(HeaderName::Other.as_str(), None);
    }
}
