//! The HTTPS client that posts batches to the agent.
//!
//! HTTP/1.1 on hyper's connection API over tokio-rustls (see [`super::tls`]);
//! one idle connection is kept for the next request. Every failure becomes
//! an [`UplinkError`] whose kind says whether to try again:
//!
//! | what happened | kind | retried |
//! |---|---|---|
//! | DNS, refused, reset, closed before the answer | `Connect` | yes |
//! | connect or exchange over its time | `Timeout` | yes |
//! | 5xx, 408 | `Server` | yes |
//! | 429 | `RateLimited` | yes (after `Retry-After` if given) |
//! | certificate not the pinned one | `FingerprintMismatch` | no |
//! | other TLS failures (untrusted, wrong name) | `Tls` | no |
//! | 401 / 403 / 413 | `Unauthorized` / `Forbidden` / `TooLarge` | no |
//! | 422, other 4xx | `Rejected`, with the agent's `error` text | no |
//! | an answer that is not the expected JSON, 1xx/3xx | `Protocol` | no |
//!
//! A request that fails on a reused connection before any answer is sent
//! again once on a fresh connection within the same attempt (the agent may
//! have closed the idle connection); event ids make that harmless.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use duanka_shared::events::Batch;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::retry::{RetryPolicy, MAX_RETRY_AFTER};
use super::{tls, AgentUrl, ErrorKind, UplinkConfig, UplinkError};

/// Largest answer body read from the agent.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest piece of an agent's answer quoted in an error message.
const MAX_QUOTED_CHARS: usize = 300;

/// What the agent said to a delivered batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOutcome {
    /// Events stored for the first time.
    pub accepted: u64,
    /// Events the agent already had (sent before).
    pub duplicates: u64,
    /// Attempts it took (1 for [`Uplink::send`]).
    pub attempts: u32,
}

/// The agent's answer to a stored batch.
#[derive(Deserialize)]
struct Accepted {
    accepted: u64,
    #[serde(default)]
    duplicates: u64,
}

/// The agent's answer to a refused batch.
#[derive(Deserialize)]
struct Refused {
    error: String,
}

/// Anything a connection can run over (TCP, TLS over TCP).
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

type Sender = SendRequest<Full<Bytes>>;

/// A client for one agent. Cheap to share (`&self` methods; wrap in an `Arc`
/// to use from several tasks). Needs a Tokio runtime with the time and net
/// drivers.
pub struct Uplink {
    url: AgentUrl,
    auth: HeaderValue,
    user_agent: HeaderValue,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    connect_timeout: Duration,
    request_timeout: Duration,
    retry: RetryPolicy,
    idle: Mutex<Option<Sender>>,
}

impl std::fmt::Debug for Uplink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uplink")
            .field("url", &self.url.to_string())
            .field("tls", &self.tls.is_some())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Uplink {
    /// A client for `config.url`: checks the URL and token and loads the
    /// trust (reads the CA file). Refuses `http://` unless
    /// `config.allow_plain_http`. Connects only when first used.
    pub fn new(config: UplinkConfig) -> Result<Uplink, UplinkError> {
        let url = config.url;
        let tls = if url.is_https() {
            let client = tls::client_config(&config.trust)?;
            let name = ServerName::try_from(url.host.clone())
                .map_err(|e| UplinkError::new(ErrorKind::Config, format!("bad agent host {:?}: {e}", url.host)))?;
            Some((TlsConnector::from(client), name))
        } else if config.allow_plain_http {
            None
        } else {
            return Err(UplinkError::new(
                ErrorKind::Config,
                format!("refusing plain http:// for the agent ({url}): use https://"),
            ));
        };
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.token.expose()))
            .map_err(|_| UplinkError::new(ErrorKind::Config, "unusable token"))?;
        auth.set_sensitive(true);
        let user_agent = HeaderValue::from_static(concat!("duanka-probe/", env!("CARGO_PKG_VERSION")));
        Ok(Uplink {
            url,
            auth,
            user_agent,
            tls,
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            retry: config.retry,
            idle: Mutex::new(None),
        })
    }

    /// The agent's URL.
    pub fn url(&self) -> &AgentUrl {
        &self.url
    }

    /// The retry policy [`Uplink::deliver`] follows.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// One attempt to deliver `batch`, within the request timeout.
    pub async fn send(&self, batch: &Batch) -> Result<SendOutcome, UplinkError> {
        let body = encode(batch)?;
        self.attempt(&body, self.request_timeout).await.map_err(|e| e.with_attempts(1))
    }

    /// Delivers `batch`, retrying retryable failures with backoff within the
    /// policy's attempts and deadline.
    pub async fn deliver(&self, batch: &Batch) -> Result<SendOutcome, UplinkError> {
        self.deliver_by(batch, Instant::now() + self.retry.deadline).await
    }

    /// Like [`Uplink::deliver`], but gives up at `give_up_at` (a deadline
    /// shared by several batches); the policy's own deadline is not used.
    /// No attempt runs past `give_up_at`, and no retry starts that could not
    /// begin before it.
    pub async fn deliver_by(&self, batch: &Batch, give_up_at: Instant) -> Result<SendOutcome, UplinkError> {
        let body = encode(batch)?;
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            let remaining = give_up_at.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                let e =
                    UplinkError::new(ErrorKind::Timeout, format!("no time left to reach the agent at {}", self.url));
                return Err(e.with_attempts(attempt));
            }
            attempt += 1;
            let error = match self.attempt(&body, self.request_timeout.min(remaining)).await {
                Ok(outcome) => return Ok(SendOutcome { attempts: attempt, ..outcome }),
                Err(e) if !e.is_retryable() => return Err(e.with_attempts(attempt)),
                Err(e) => e,
            };
            let asked = error.retry_after().unwrap_or_default().min(MAX_RETRY_AFTER);
            let delay = self.retry.random_delay(attempt - 1).max(asked);
            let out_of_attempts = attempt >= self.retry.max_attempts.max(1);
            if out_of_attempts || Instant::now() + delay >= give_up_at {
                let spent = humantime::format_duration(Duration::from_millis(started.elapsed().as_millis() as u64));
                let plural = if attempt == 1 { "" } else { "s" };
                return Err(error
                    .with_attempts(attempt)
                    .context(&format!("gave up after {attempt} attempt{plural} in {spent}")));
            }
            tracing::warn!(
                "attempt {attempt} to deliver {} events failed: {error}; retrying in {}",
                batch.events.len(),
                humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt within `budget`.
    async fn attempt(&self, body: &Bytes, budget: Duration) -> Result<SendOutcome, UplinkError> {
        match tokio::time::timeout(budget, self.exchange(body)).await {
            Ok(result) => result,
            Err(_) => Err(UplinkError::new(
                ErrorKind::Timeout,
                format!("no answer from the agent at {} within {}", self.url, humantime::format_duration(budget)),
            )),
        }
    }

    /// Posts `body` on the idle connection, or a new one, and reads the answer.
    async fn exchange(&self, body: &Bytes) -> Result<SendOutcome, UplinkError> {
        let reused = self.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut sender) = reused {
            if sender.ready().await.is_ok() {
                match self.request(&mut sender, body).await {
                    Ok(answer) => return self.finish(sender, answer),
                    Err(e) if e.kind() == ErrorKind::Connect => {
                        tracing::debug!("idle connection to the agent failed ({e}); reconnecting");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let mut sender = self.connect().await?;
        let answer = self.request(&mut sender, body).await?;
        self.finish(sender, answer)
    }

    /// Keeps the connection for next time if it is still open, then reads the answer.
    fn finish(&self, sender: Sender, answer: Answer) -> Result<SendOutcome, UplinkError> {
        if !sender.is_closed() {
            *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender);
        }
        classify(&answer)
    }

    /// TCP, TLS (for https) and the HTTP/1.1 handshake, within the connect timeout.
    async fn connect(&self) -> Result<Sender, UplinkError> {
        let authority = &self.url.authority;
        let io = tokio::time::timeout(self.connect_timeout, async {
            let tcp = TcpStream::connect((self.url.host.as_str(), self.url.port)).await.map_err(|e| {
                UplinkError::new(ErrorKind::Connect, format!("could not connect to the agent at {authority}: {e}"))
            })?;
            // Small requests and answers: no point waiting for Nagle.
            let _ = tcp.set_nodelay(true);
            let io: Box<dyn Io> = match &self.tls {
                None => Box::new(tcp),
                Some((connector, name)) => {
                    Box::new(connector.connect(name.clone(), tcp).await.map_err(|e| handshake_error(&e, authority))?)
                }
            };
            Ok::<_, UplinkError>(io)
        })
        .await
        .map_err(|_| {
            UplinkError::new(
                ErrorKind::Timeout,
                format!(
                    "could not connect to the agent at {authority} within {}",
                    humantime::format_duration(self.connect_timeout)
                ),
            )
        })??;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| hyper_error(&e, authority))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("agent connection ended: {e}");
            }
        });
        Ok(sender)
    }

    /// Sends the request and reads the whole answer (at most [`MAX_RESPONSE_BYTES`]).
    async fn request(&self, sender: &mut Sender, body: &Bytes) -> Result<Answer, UplinkError> {
        let authority = &self.url.authority;
        let request = Request::post(self.url.path.as_str())
            .header(HOST, authority.as_str())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, self.user_agent.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .body(Full::new(body.clone()))
            .map_err(|e| UplinkError::new(ErrorKind::Config, format!("cannot build the request: {e}")))?;
        let response = sender.send_request(request).await.map_err(|e| hyper_error(&e, authority))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES).collect().await.map_err(|e| {
            match e.downcast::<hyper::Error>() {
                Ok(e) => hyper_error(&e, authority),
                Err(e) => UplinkError::new(ErrorKind::Protocol, format!("the agent's answer could not be read: {e}")),
            }
        })?;
        Ok(Answer { status, retry_after, body: body.to_bytes() })
    }
}

/// An HTTP answer, read whole.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Bytes,
}

fn encode(batch: &Batch) -> Result<Bytes, UplinkError> {
    serde_json::to_vec(batch)
        .map(Bytes::from)
        .map_err(|e| UplinkError::new(ErrorKind::Config, format!("cannot encode the batch: {e}")))
}

/// What the agent's answer means; see the module docs.
fn classify(answer: &Answer) -> Result<SendOutcome, UplinkError> {
    let status = answer.status;
    if status.is_success() {
        return match serde_json::from_slice::<Accepted>(&answer.body) {
            Ok(a) => Ok(SendOutcome { accepted: a.accepted, duplicates: a.duplicates, attempts: 1 }),
            Err(_) => Err(UplinkError::new(
                ErrorKind::Protocol,
                format!(
                    "the agent answered {status} but not with {{\"accepted\": n, \"duplicates\": m}}: {}",
                    quote(&answer.body)
                ),
            )
            .with_status(status.as_u16(), None)),
        };
    }
    let (kind, what) = match status.as_u16() {
        401 => (ErrorKind::Unauthorized, "the agent did not accept the probe's token"),
        403 => (ErrorKind::Forbidden, "the agent refused this probe"),
        413 => (ErrorKind::TooLarge, "the batch is over the agent's size limit"),
        429 => (ErrorKind::RateLimited, "the agent asks the probe to slow down"),
        408 | 500..=599 => (ErrorKind::Server, "the agent could not take the batch"),
        400..=499 => (ErrorKind::Rejected, "the agent rejected the batch"),
        _ => (ErrorKind::Protocol, "unexpected answer from the agent"),
    };
    let reason = match serde_json::from_slice::<Refused>(&answer.body) {
        Ok(r) => format!(": {}", sanitize(&r.error)),
        Err(_) if answer.body.is_empty() => String::new(),
        Err(_) => format!(": {}", quote(&answer.body)),
    };
    Err(UplinkError::new(kind, format!("{what} ({status}){reason}")).with_status(status.as_u16(), answer.retry_after))
}

/// Some of a body, printable.
fn quote(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".to_string();
    }
    sanitize(&String::from_utf8_lossy(body))
}

/// Control characters replaced, cut to [`MAX_QUOTED_CHARS`].
fn sanitize(text: &str) -> String {
    let mut out: String = text.chars().take(MAX_QUOTED_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().count() > MAX_QUOTED_CHARS {
        out.push('…');
    }
    out
}

/// A failed TLS handshake: a pin mismatch, another TLS failure, or the
/// connection breaking.
fn handshake_error(e: &std::io::Error, authority: &str) -> UplinkError {
    let rustls_error = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(r) => match tls::fingerprint_mismatch(r) {
            Some(m) => UplinkError::new(ErrorKind::FingerprintMismatch, format!("{m} (agent at {authority})")),
            None => {
                UplinkError::new(ErrorKind::Tls, format!("TLS handshake with the agent at {authority} failed: {r}"))
            }
        },
        None => {
            UplinkError::new(ErrorKind::Connect, format!("TLS handshake with the agent at {authority} broke off: {e}"))
        }
    }
}

/// A hyper failure: garbage from the server is `Protocol`, the rest `Connect`.
fn hyper_error(e: &hyper::Error, authority: &str) -> UplinkError {
    let detail = match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    };
    if e.is_parse() || e.is_parse_status() {
        UplinkError::new(ErrorKind::Protocol, format!("the agent at {authority} did not answer in HTTP/1.1: {detail}"))
    } else if e.is_timeout() {
        UplinkError::new(ErrorKind::Timeout, format!("the connection to the agent at {authority} timed out: {detail}"))
    } else {
        UplinkError::new(ErrorKind::Connect, format!("the connection to the agent at {authority} failed: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status: StatusCode::from_u16(status).unwrap(), retry_after: None, body: Bytes::from(body.to_string()) }
    }

    #[test]
    fn success_answers() {
        let o = classify(&answer(200, r#"{"accepted": 7, "duplicates": 3}"#)).unwrap();
        assert_eq!((o.accepted, o.duplicates), (7, 3));
        let o = classify(&answer(202, r#"{"accepted": 7}"#)).unwrap();
        assert_eq!((o.accepted, o.duplicates), (7, 0));
        for body in ["", "<html>ok</html>", r#"{"duplicates": 1}"#] {
            let e = classify(&answer(200, body)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol, "{body:?}");
            assert!(!e.is_retryable());
        }
    }

    #[test]
    fn refusals_by_status() {
        let table = [
            (400, ErrorKind::Rejected, false),
            (401, ErrorKind::Unauthorized, false),
            (403, ErrorKind::Forbidden, false),
            (404, ErrorKind::Rejected, false),
            (408, ErrorKind::Server, true),
            (413, ErrorKind::TooLarge, false),
            (422, ErrorKind::Rejected, false),
            (429, ErrorKind::RateLimited, true),
            (500, ErrorKind::Server, true),
            (502, ErrorKind::Server, true),
            (503, ErrorKind::Server, true),
            (301, ErrorKind::Protocol, false),
        ];
        for (status, kind, retryable) in table {
            let e = classify(&answer(status, r#"{"error": "schema 9 is unknown"}"#)).unwrap_err();
            assert_eq!((e.kind(), e.is_retryable(), e.status()), (kind, retryable, Some(status)), "{status}");
            assert!(e.to_string().contains("schema 9 is unknown"), "{status}: {e}");
            assert!(e.to_string().contains(&status.to_string()), "{status}: {e}");
        }
    }

    #[test]
    fn agent_messages_are_quoted_safely() {
        let e = classify(&answer(422, "{\"error\": \"bad\\u001b[31m id\"}")).unwrap_err();
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
        let long = "x".repeat(5_000);
        let e = classify(&answer(500, &long)).unwrap_err();
        assert!(e.to_string().len() < 500, "{}", e.to_string().len());
        assert!(e.to_string().ends_with('…'));
        let e = classify(&answer(503, "")).unwrap_err();
        assert_eq!(e.to_string(), "the agent could not take the batch (503 Service Unavailable)");
    }

    #[test]
    fn retry_after_is_kept() {
        let mut a = answer(429, "");
        a.retry_after = Some(Duration::from_secs(3));
        assert_eq!(classify(&a).unwrap_err().retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn handshake_errors_are_told_apart() {
        let pin: tls::Fingerprint = "00".repeat(32).parse().unwrap();
        let mismatch = tls::FingerprintMismatch { expected: pin, got: tls::Fingerprint::of_der(b"x") };
        let wrapped = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let e = handshake_error(
            &wrapped(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
                std::sync::Arc::new(mismatch),
            )))),
            "agent:443",
        );
        assert_eq!(e.kind(), ErrorKind::FingerprintMismatch);
        assert!(e.to_string().starts_with("certificate fingerprint mismatch: expected 0000"), "{e}");
        let e = handshake_error(
            &wrapped(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)),
            "a:1",
        );
        assert_eq!(e.kind(), ErrorKind::Tls);
        let e = handshake_error(&std::io::Error::from(std::io::ErrorKind::ConnectionReset), "a:1");
        assert_eq!(e.kind(), ErrorKind::Connect);
        assert!(e.is_retryable());
    }

    #[test]
    fn plain_http_is_refused_unless_allowed() {
        let cfg = UplinkConfig::new(
            "http://127.0.0.1:9".parse().unwrap(),
            super::super::Token::new("t").unwrap(),
            super::super::Trust::Pinned(tls::Fingerprint::of_der(b"")),
        );
        let e = Uplink::new(cfg.clone()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("refusing plain http://"), "{e}");
        assert!(Uplink::new(UplinkConfig { allow_plain_http: true, ..cfg }).is_ok());
    }
}
