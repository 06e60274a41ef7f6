//! A stand-in for the agent's ingest endpoint: HTTPS (rustls, ring) with an
//! rcgen certificate, on 127.0.0.1, in its own thread and runtime. It checks
//! the token, records every request, answers from a script first (a 429
//! with `Retry-After: 1`) and then as
//! the agent does: `200 {"accepted": n, "duplicates": m}`, keeping each event
//! id once.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use duanka_shared::events::Batch;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The token the stand-in accepts.
pub const TOKEN: &str = "probe-token-0123456789";

/// A server certificate, its key, and the CA that issued it (if any).
pub struct ServerCert {
    /// DER of the end-entity certificate.
    pub der: CertificateDer<'static>,
    key: Vec<u8>,
    /// PEM of the issuing CA, for CA-file trust.
    pub ca_pem: Option<String>,
}

impl ServerCert {
    /// A self-signed certificate for `localhost` and 127.0.0.1.
    pub fn self_signed() -> ServerCert {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        ServerCert { der: cert.der().clone(), key: key.serialize_der(), ca_pem: None }
    }

    /// A certificate for `localhost` only, issued by a fresh test CA.
    pub fn issued_by_test_ca() -> ServerCert {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Each CA its own name: a stranger CA must look unknown, not forged.
        static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ca.distinguished_name.push(DnType::CommonName, format!("duanka test CA {n}"));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, &ca_key);
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        ServerCert { der: cert.der().clone(), key: key.serialize_der(), ca_pem: Some(ca_cert.pem()) }
    }

    /// SHA-256 of the DER certificate, lowercase hex.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.der.as_ref()))
    }
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request path.
    pub path: String,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// The batch, when the body parsed as one.
    pub batch: Option<Batch>,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<(u16, String)>,
    seen: HashSet<String>,
}

/// The running stand-in; stops when dropped.
pub struct TestAgent {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestAgent {
    /// Starts a stand-in serving `cert` over HTTPS.
    pub fn start(cert: &ServerCert) -> TestAgent {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der.clone()], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone())))
            .unwrap();
        Self::spawn(Some(TlsAcceptor::from(Arc::new(config))))
    }

    /// Starts a stand-in speaking plain HTTP.
    pub fn start_plain() -> TestAgent {
        Self::spawn(None)
    }

    fn spawn(tls: Option<TlsAcceptor>) -> TestAgent {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    let (tcp, _) = tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => match accepted {
                            Ok(a) => a,
                            Err(_) => continue,
                        },
                    };
                    let state = shared.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| handle(state.clone(), req));
                        let builder = hyper::server::conn::http1::Builder::new();
                        match tls {
                            Some(acceptor) => {
                                // A refused handshake is the client's business.
                                if let Ok(stream) = acceptor.accept(tcp).await {
                                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                                }
                            }
                            None => {
                                let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                            }
                        }
                    });
                }
            });
        });
        TestAgent { addr, state, stop: Some(stop), thread: Some(thread) }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url_ip(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// `https://localhost:PORT`.
    pub fn url_localhost(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Answers the next requests with these statuses and bodies, in order.
    pub fn script(&self, answers: &[(u16, &str)]) {
        let mut s = self.state.lock().unwrap();
        s.script.extend(answers.iter().map(|(code, body)| (*code, (*body).to_string())));
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The batches it stored (answered 200), in order.
    pub fn stored_batches(&self) -> Vec<Batch> {
        self.received().into_iter().filter_map(|r| r.batch).collect()
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_string();
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = req.into_body().collect().await?.to_bytes();
    let batch: Option<Batch> = serde_json::from_slice(&body).ok();
    // A 429 asks for one second, as an agent under load would.
    let answer = |code: u16, body: &str| {
        let retry_after = if code == 429 { "1" } else { "0" };
        Response::builder()
            .status(StatusCode::from_u16(code).unwrap())
            .header("retry-after", retry_after)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    };
    let mut s = state.lock().unwrap();
    let index = s.received.len();
    s.received.push(Received { path: path.clone(), authorization: authorization.clone(), batch: None });
    if let Some((code, body)) = s.script.pop_front() {
        return Ok(answer(code, &body));
    }
    if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return Ok(answer(401, r#"{"error": "unknown or revoked token"}"#));
    }
    if path != "/api/v1/reports" {
        return Ok(answer(404, r#"{"error": "no such endpoint"}"#));
    }
    let Some(batch) = batch else {
        return Ok(answer(422, r#"{"error": "body is not a batch"}"#));
    };
    let (mut accepted, mut duplicates) = (0, 0);
    for e in &batch.events {
        if s.seen.insert(e.id.clone()) {
            accepted += 1;
        } else {
            duplicates += 1;
        }
    }
    s.received[index].batch = Some(batch);
    Ok(answer(200, &format!(r#"{{"accepted": {accepted}, "duplicates": {duplicates}}}"#)))
}
