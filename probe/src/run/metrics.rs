//! The Prometheus endpoint: `GET /metrics` in the text exposition format
//! (version 0.0.4). Anything else is a 404. One small request per
//! connection; the endpoint is meant for loopback.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::capture::live::SourceStats;
use crate::uplink::sender::{SenderStats, SharedState};
use crate::uplink::spool::Spool;

/// Everything the endpoint reads.
#[derive(Debug, Clone)]
pub struct Health {
    /// Source counters.
    pub sources: Arc<SourceStats>,
    /// Decode errors by kind, as the pipeline last published them.
    pub decode_errors: Arc<Mutex<BTreeMap<String, u64>>>,
    /// Detection events emitted.
    pub detections: Arc<std::sync::atomic::AtomicU64>,
    /// The spool.
    pub spool: Arc<Mutex<Spool>>,
    /// Uplink state.
    pub uplink: Arc<SharedState>,
    /// Sender counters.
    pub sender: Arc<SenderStats>,
}

impl Health {
    /// The metrics page.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        let s = &self.sources;
        gauge("duanka_packets_total", "counter", "Frames and datagrams received.", s.received.load(Ordering::Relaxed));
        gauge(
            "duanka_drops_total",
            "counter",
            "Inputs dropped because the pipeline was behind.",
            s.queue_drops.load(Ordering::Relaxed),
        );
        gauge(
            "duanka_kernel_packets_total",
            "counter",
            "Frames the kernel offered to the capture sockets (PACKET_STATISTICS), drops included.",
            s.kernel_packets.load(Ordering::Relaxed),
        );
        gauge(
            "duanka_kernel_drops_total",
            "counter",
            "Frames the kernel dropped because a capture socket's buffer was full.",
            s.kernel_drops.load(Ordering::Relaxed),
        );
        gauge(
            "duanka_gsmtap_oversized_total",
            "counter",
            "GSMTAP datagrams too large to be GSMTAP, dropped.",
            s.gsmtap_oversized.load(Ordering::Relaxed),
        );
        gauge(
            "duanka_detections_total",
            "counter",
            "Detection events emitted.",
            self.detections.load(Ordering::Relaxed),
        );
        let (depth, dead, dropped) = self
            .spool
            .lock()
            .map(|s| (s.depth().unwrap_or(0), s.dead().unwrap_or(0), s.dropped().unwrap_or(0)))
            .unwrap_or_default();
        gauge("duanka_spool_depth", "gauge", "Events waiting in the spool.", depth);
        gauge("duanka_spool_dead", "gauge", "Events the agent refused, parked.", dead);
        gauge("duanka_spool_dropped_total", "counter", "Observations dropped under the spool cap.", dropped);
        gauge(
            "duanka_uplink_delivered_total",
            "counter",
            "Events the agent acknowledged.",
            self.sender.delivered.load(Ordering::Relaxed),
        );
        let state = self.uplink.get().as_str();
        let _ = writeln!(
            out,
            "# HELP duanka_uplink_state Uplink state (1 for the current one).\n# TYPE duanka_uplink_state gauge"
        );
        for st in ["up", "backoff", "down"] {
            let _ = writeln!(out, "duanka_uplink_state{{state=\"{st}\"}} {}", u8::from(st == state));
        }
        let _ = writeln!(
            out,
            "# HELP duanka_decode_errors_total Decode errors by kind.\n# TYPE duanka_decode_errors_total counter"
        );
        if let Ok(errors) = self.decode_errors.lock() {
            for (kind, n) in errors.iter() {
                let kind: String = kind.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let _ = writeln!(out, "duanka_decode_errors_total{{kind=\"{kind}\"}} {n}");
            }
        }
        out
    }
}

/// Serves `/metrics` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, health: Health) {
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else { continue };
        let health = health.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            let mut n = 0;
            // Read the request head (bounded); the body, if any, is ignored.
            while n < buf.len() {
                match tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read(&mut buf[n..])).await {
                    Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
                    Ok(Ok(k)) => n += k,
                }
                if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let head = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = match head.split_whitespace().take(2).collect::<Vec<_>>().as_slice() {
                ["GET", "/metrics"] => ("200 OK", health.render()),
                _ => ("404 Not Found", "not found\n".to_string()),
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tcp.write_all(reply.as_bytes()).await;
            let _ = tcp.shutdown().await;
        });
    }
}
