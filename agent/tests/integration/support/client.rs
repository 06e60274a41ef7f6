//! A small HTTPS client for tests and the ingest benchmark (which includes
//! this file with `#[path]`): HTTP/1.1 keep-alive over rustls, trusting only
//! the agent certificate with a given fingerprint.

#![allow(dead_code)]

use std::net::SocketAddr;

use axum::body::Body;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// One keep-alive connection to an agent, reopened when it breaks.
pub struct Client {
    addr: SocketAddr,
    connector: TlsConnector,
    sender: Option<SendRequest<Body>>,
}

/// A response: status and body.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (Null if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl Client {
    /// A client for the agent at `addr` whose certificate has `fingerprint`.
    pub fn new(addr: SocketAddr, fingerprint: &str) -> Result<Client, String> {
        // The probe's own pinning: the same trust a real probe puts in the agent.
        use duanka_probe::uplink::tls::{client_config, Fingerprint, Trust};
        let pin: Fingerprint = fingerprint.parse().map_err(|e: duanka_probe::uplink::UplinkError| e.to_string())?;
        let config = client_config(&Trust::Pinned(pin)).map_err(|e| e.to_string())?;
        Ok(Client { addr, connector: TlsConnector::from(config), sender: None })
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Body>, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let tcp = TcpStream::connect(self.addr).await.map_err(|e| format!("connect {}: {e}", self.addr))?;
            tcp.set_nodelay(true).map_err(|e| e.to_string())?;
            let name = rustls::pki_types::ServerName::try_from("duanka-agent").map_err(|e| e.to_string())?;
            let tls = self.connector.connect(name, tcp).await.map_err(|e| format!("TLS: {e}"))?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| format!("HTTP: {e}"))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| "no connection".to_owned())
    }

    /// Sends a request; an error means no response was received (the request
    /// may or may not have been processed).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "duanka-agent")
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body)).map_err(|e| e.to_string())?;
        let sender = self.connect().await?;
        sender.ready().await.map_err(|e| format!("connection: {e}"))?;
        let result = sender.send_request(request).await;
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                return Err(format!("request: {e}"));
            }
        };
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX).await.map_err(|e| {
            self.sender = None;
            format!("response body: {e}")
        })?;
        Ok(Reply { status, body: body.to_vec() })
    }

    /// `POST /api/v1/reports` with a probe token.
    pub async fn post_batch(&mut self, token: &str, body: Vec<u8>) -> Result<Reply, String> {
        self.request("POST", "/api/v1/reports", Some(token), body).await
    }
}
