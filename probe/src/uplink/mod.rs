//! Uplink: delivering events to the agent (SPEC 4.1 "Uplink", 4.2 "Ingest").
//!
//! The probe posts [`Batch`]es as JSON to `POST <agent>/api/v1/reports` over
//! HTTPS, with its token as `Authorization: Bearer …`. The agent answers
//! `200 {"accepted": n, "duplicates": m}`, or a 4xx with `{"error": "…"}`.
//! Event ids make a resend harmless (the agent keeps each `(probe, id)`
//! once), so delivery is at-least-once: a batch whose answer was lost is
//! simply sent again.
//!
//! - [`tls`]: trust in the agent — a pinned certificate fingerprint or a CA file.
//! - [`transport`]: the HTTPS client ([`Uplink`]): one attempt
//!   ([`Uplink::send`]) or attempts until delivered, refused or out of time
//!   ([`Uplink::deliver`]).
//! - [`retry`]: backoff between attempts.
//!
//! Errors are one type, [`UplinkError`], whose [`ErrorKind`] says whether
//! trying again can help ([`UplinkError::is_retryable`]). The token never
//! appears in an error, a log line or a `Debug` print.
//!
//! The live probe (spool, heartbeats) reuses [`Uplink`] and [`batches`]; the
//! offline `analyze --agent` is the first user.

pub mod retry;
pub mod sender;
pub mod spool;
pub mod tls;
pub mod transport;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use duanka_shared::events::{Batch, Event, EVENTS_SCHEMA_VERSION, MAX_BATCH_EVENTS};

pub use retry::RetryPolicy;
pub use tls::{Fingerprint, Trust};
pub use transport::{SendOutcome, Uplink};

/// The ingest path, appended to the agent's base URL.
pub const REPORTS_PATH: &str = "/api/v1/reports";
/// Largest JSON body [`batches`] builds (a single larger event goes alone).
/// The agent's request size limit must be at least this.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Time to set up TCP and TLS unless configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for one request, connection included, unless configured.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest token accepted (it travels in a header).
pub const MAX_TOKEN_LEN: usize = 4096;

/// What went wrong, and so whether another attempt can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is unusable: URL, token, fingerprint, CA file. Permanent.
    Config,
    /// The agent could not be reached, or the connection broke before it
    /// answered (DNS, refused, reset). Retryable.
    Connect,
    /// Connecting or the exchange took too long. Retryable.
    Timeout,
    /// The TLS handshake failed: certificate not trusted, wrong host name,
    /// no common protocol. Permanent.
    Tls,
    /// The agent's certificate is not the pinned one. Permanent.
    FingerprintMismatch,
    /// The agent failed (5xx) or asked to repeat the request (408). Retryable.
    Server,
    /// The agent asked the probe to slow down (429). Retryable.
    RateLimited,
    /// The token was not accepted (401). Permanent.
    Unauthorized,
    /// The probe may not do this (403, e.g. revoked). Permanent.
    Forbidden,
    /// The batch is over the agent's size limit (413). Permanent.
    TooLarge,
    /// The agent refused the batch as invalid (422, other 4xx), with its reason. Permanent.
    Rejected,
    /// The agent's answer made no sense (unexpected status, body not the
    /// expected JSON, bad HTTP). Permanent.
    Protocol,
}

impl ErrorKind {
    /// Whether another attempt may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Server | ErrorKind::RateLimited)
    }
}

/// An uplink failure: its kind and a message for people.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct UplinkError {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    retry_after: Option<Duration>,
    attempts: u32,
}

impl UplinkError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> UplinkError {
        UplinkError { kind, message: message.into(), status: None, retry_after: None, attempts: 0 }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// The HTTP status the agent answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// How long the agent asked the probe to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Attempts made before giving up (0 when none was: a configuration error).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub(crate) fn with_status(mut self, status: u16, retry_after: Option<Duration>) -> UplinkError {
        self.status = Some(status);
        self.retry_after = retry_after;
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> UplinkError {
        self.attempts = attempts;
        self
    }

    pub(crate) fn context(mut self, prefix: &str) -> UplinkError {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

/// A probe's token. Its `Debug` output hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token: 1 to [`MAX_TOKEN_LEN`] visible ASCII characters (it is sent
    /// in an HTTP header). The error never repeats the token.
    pub fn new(token: impl Into<String>) -> Result<Token, UplinkError> {
        let token = token.into();
        let bad = |why: &str| UplinkError::new(ErrorKind::Config, format!("unusable token: {why}"));
        if token.is_empty() {
            return Err(bad("empty"));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(bad(&format!("longer than {MAX_TOKEN_LEN} bytes")));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("only visible ASCII characters (no spaces) are allowed"));
        }
        Ok(Token(token))
    }

    /// The secret, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The agent's address: `https://host[:port][/prefix]`. The ingest path
/// [`REPORTS_PATH`] is appended unless the URL already ends with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentUrl {
    /// Whether TLS is used (`https`).
    pub(crate) tls: bool,
    /// Host name or IP address, without IPv6 brackets.
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
    /// `host[:port]` as given, for the `Host` header.
    pub(crate) authority: String,
    /// Path of the ingest endpoint.
    pub(crate) path: String,
    /// The URL as given, for messages.
    given: String,
}

impl AgentUrl {
    /// Whether the URL is `https://`.
    pub fn is_https(&self) -> bool {
        self.tls
    }

    /// The endpoint batches are posted to.
    pub fn endpoint(&self) -> String {
        format!("{}://{}{}", if self.tls { "https" } else { "http" }, self.authority, self.path)
    }
}

impl fmt::Display for AgentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.given)
    }
}

/// Parses `http(s)://host[:port][/path]`; no user info, query or fragment.
impl FromStr for AgentUrl {
    type Err = UplinkError;

    fn from_str(s: &str) -> Result<AgentUrl, UplinkError> {
        let bad = |why: &str| UplinkError::new(ErrorKind::Config, format!("bad agent URL {s:?}: {why}"));
        let uri: hyper::Uri = s.parse().map_err(|e| bad(&format!("{e}")))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some(other) => return Err(bad(&format!("scheme {other:?} is not https"))),
            None => return Err(bad("expected https://HOST[:PORT]")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user info is not allowed in the URL (the probe authenticates with its token)"));
        }
        if uri.query().is_some() || s.contains('#') {
            return Err(bad("a query or fragment is not allowed"));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let prefix = uri.path().trim_end_matches('/');
        let path = if prefix.ends_with(REPORTS_PATH) { prefix.to_string() } else { format!("{prefix}{REPORTS_PATH}") };
        Ok(AgentUrl { tls, host, port, authority: authority.as_str().to_string(), path, given: s.to_string() })
    }
}

/// Everything [`Uplink::new`] needs.
#[derive(Debug, Clone)]
pub struct UplinkConfig {
    /// Where the agent is.
    pub url: AgentUrl,
    /// The probe's token.
    pub token: Token,
    /// How the agent's certificate is trusted (ignored for `http://`).
    pub trust: Trust,
    /// Time to set up TCP and TLS.
    pub connect_timeout: Duration,
    /// Time for one attempt, connecting included.
    pub request_timeout: Duration,
    /// How hard [`Uplink::deliver`] tries.
    pub retry: RetryPolicy,
    /// Tests only: accept an `http://` URL (no TLS: the token and the data
    /// travel in clear). [`Uplink::new`] refuses `http://` otherwise.
    pub allow_plain_http: bool,
}

impl UplinkConfig {
    /// A configuration with the default timeouts and retry policy.
    pub fn new(url: AgentUrl, token: Token, trust: Trust) -> UplinkConfig {
        UplinkConfig {
            url,
            token,
            trust,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            allow_plain_http: false,
        }
    }
}

/// Splits events into batches of at most [`MAX_BATCH_EVENTS`] events and
/// about [`MAX_BATCH_BYTES`] of JSON, keeping their order.
pub fn batches(events: Vec<Event>, probe_version: &str) -> Vec<Batch> {
    batches_within(events, probe_version, MAX_BATCH_EVENTS, MAX_BATCH_BYTES)
}

fn batches_within(events: Vec<Event>, probe_version: &str, max_events: usize, max_bytes: usize) -> Vec<Batch> {
    // `{"schema":1,"probe_version":"…","events":[…]}` around the events.
    let envelope = 48 + probe_version.len();
    let new = || Batch { schema: EVENTS_SCHEMA_VERSION, probe_version: probe_version.to_string(), events: Vec::new() };
    let mut out = Vec::new();
    let mut current = new();
    let mut bytes = envelope;
    for event in events {
        let size = serde_json::to_vec(&event).map_or(0, |v| v.len()) + 1;
        let full = current.events.len() >= max_events || bytes + size > max_bytes;
        if full && !current.events.is_empty() {
            out.push(std::mem::replace(&mut current, new()));
            bytes = envelope;
        }
        bytes += size;
        current.events.push(event);
    }
    if !current.events.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use duanka_shared::events::{Alarm, EventBody};

    fn event(n: usize, detail_len: usize) -> Event {
        Event {
            id: format!("e{n}"),
            at: "2026-11-01T00:00:00Z".into(),
            body: EventBody::Alarm { alarm: Alarm { kind: "tamper".into(), detail: "x".repeat(detail_len) } },
        }
    }

    #[test]
    fn errors_are_classified() {
        let retryable = [ErrorKind::Connect, ErrorKind::Timeout, ErrorKind::Server, ErrorKind::RateLimited];
        let permanent = [
            ErrorKind::Config,
            ErrorKind::Tls,
            ErrorKind::FingerprintMismatch,
            ErrorKind::Unauthorized,
            ErrorKind::Forbidden,
            ErrorKind::TooLarge,
            ErrorKind::Rejected,
            ErrorKind::Protocol,
        ];
        assert!(retryable.iter().all(|k| k.is_retryable()));
        assert!(permanent.iter().all(|k| !k.is_retryable()));
    }

    #[test]
    fn tokens_are_checked_and_never_shown() {
        let t = Token::new("s3cr3t-token_value").unwrap();
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
        for bad in ["", "has space", "tab\there", "é"] {
            let e = Token::new(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(bad.is_empty() || !e.to_string().contains(bad), "{e}");
        }
        assert!(Token::new("x".repeat(MAX_TOKEN_LEN + 1)).is_err());
        let config =
            UplinkConfig::new("https://agent.example".parse().unwrap(), t, Trust::Pinned(Fingerprint::of_der(b"cert")));
        assert!(!format!("{config:?}").contains("s3cr3t"), "{config:?}");
    }

    #[test]
    fn agent_urls() {
        let table = [
            ("https://agent.example", true, "agent.example", 443, "/api/v1/reports"),
            ("https://agent.example:8443/", true, "agent.example", 8443, "/api/v1/reports"),
            ("https://10.0.0.1:8443/duanka", true, "10.0.0.1", 8443, "/duanka/api/v1/reports"),
            ("https://[::1]:8443/api/v1/reports", true, "::1", 8443, "/api/v1/reports"),
            ("http://127.0.0.1:8080", false, "127.0.0.1", 8080, "/api/v1/reports"),
        ];
        for (input, tls, host, port, path) in table {
            let u: AgentUrl = input.parse().unwrap();
            assert_eq!((u.tls, u.host.as_str(), u.port, u.path.as_str()), (tls, host, port, path), "{input}");
            assert_eq!(u.to_string(), input);
        }
        assert_eq!("https://[::1]:8443".parse::<AgentUrl>().unwrap().endpoint(), "https://[::1]:8443/api/v1/reports");
        for (input, why) in [
            ("agent.example", "https://"),
            ("ftp://agent.example", "not https"),
            ("https://user:pw@agent.example", "user info"),
            ("https://agent.example/?x=1", "query"),
            ("https://", ""),
        ] {
            let e = input.parse::<AgentUrl>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{input}");
            assert!(e.to_string().contains(why), "{input}: {e}");
            assert!(!e.to_string().contains("pw@") || input.contains("pw@"));
        }
    }

    #[test]
    fn batches_respect_count_and_size() {
        let events: Vec<Event> = (0..2_500).map(|n| event(n, 10)).collect();
        let b = batches(events.clone(), "0.1.0");
        assert_eq!(b.iter().map(|b| b.events.len()).collect::<Vec<_>>(), vec![1_000, 1_000, 500]);
        assert!(b.iter().all(|b| b.schema == EVENTS_SCHEMA_VERSION && b.probe_version == "0.1.0"));
        let back: Vec<Event> = b.into_iter().flat_map(|b| b.events).collect();
        assert_eq!(back, events, "order and content kept");

        // By size: ~1 KiB events, 10 KiB budget.
        let events: Vec<Event> = (0..30).map(|n| event(n, 1_000)).collect();
        let b = batches_within(events, "0.1.0", 1_000, 10 * 1024);
        assert!(b.len() >= 3, "{}", b.len());
        for batch in &b {
            assert!(serde_json::to_vec(batch).unwrap().len() <= 10 * 1024);
        }
        assert_eq!(b.iter().map(|b| b.events.len()).sum::<usize>(), 30);

        // An event over the budget goes alone; nothing is dropped.
        let events = vec![event(0, 10), event(1, 50_000), event(2, 10)];
        let b = batches_within(events, "0.1.0", 1_000, 10 * 1024);
        assert_eq!(b.iter().map(|b| b.events.len()).collect::<Vec<_>>(), vec![1, 1, 1]);
        assert!(batches(vec![], "0.1.0").is_empty());
    }
}
