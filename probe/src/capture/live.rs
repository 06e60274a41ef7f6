//! Live sources for `duanka-probe run`: interfaces captured with pnet
//! (AF_PACKET, promiscuous) and a GSMTAP UDP listener (SPEC 3.4). Each
//! source runs on its own thread and hands owned [`Input`]s to the pipeline
//! through a bounded channel; when the pipeline falls behind, inputs are
//! dropped and counted rather than queued without limit.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Micros;

/// Longest GSMTAP datagram accepted: a GSMTAP header and the largest GSM or
/// LTE signalling message fit well inside; anything longer is not GSMTAP.
pub const MAX_GSMTAP_DATAGRAM: usize = 2_048;
/// How long a source blocks before it looks at the stop flag.
pub const POLL: Duration = Duration::from_millis(200);

/// One unit of work for the pipeline.
#[derive(Debug)]
pub enum Input {
    /// An Ethernet frame from an interface.
    Frame {
        /// Capture time.
        ts: Micros,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A GSMTAP datagram's payload.
    Gsmtap {
        /// Arrival time.
        ts: Micros,
        /// Sender.
        src: SocketAddr,
        /// The listener's address.
        local: SocketAddr,
        /// The UDP payload.
        data: Vec<u8>,
    },
}

/// Counters the sources keep.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Frames and datagrams received.
    pub received: AtomicU64,
    /// Dropped because the pipeline was behind.
    pub queue_drops: AtomicU64,
    /// GSMTAP datagrams over [`MAX_GSMTAP_DATAGRAM`], dropped.
    pub gsmtap_oversized: AtomicU64,
    /// Receive errors.
    pub errors: AtomicU64,
}

/// Now, in microseconds since the epoch.
pub fn now_micros() -> Micros {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

fn hand_over(tx: &SyncSender<Input>, input: Input, stats: &SourceStats) -> bool {
    stats.received.fetch_add(1, Ordering::Relaxed);
    match tx.try_send(input) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            stats.queue_drops.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}

/// Why a live source could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(String);

/// Opens `name` for promiscuous capture; the returned closure runs the
/// capture loop until `stop` (call it on its own thread).
pub fn open_interface(
    name: &str,
    tx: SyncSender<Input>,
    stop: Arc<AtomicBool>,
    stats: Arc<SourceStats>,
) -> Result<impl FnOnce() + Send + 'static, SourceError> {
    let iface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == name)
        .ok_or_else(|| SourceError(format!("capture.interfaces: no interface named {name:?}")))?;
    let config = pnet_datalink::Config {
        read_timeout: Some(POLL),
        promiscuous: true,
        read_buffer_size: 1 << 16,
        ..Default::default()
    };
    let mut rx = match pnet_datalink::channel(&iface, config) {
        Ok(pnet_datalink::Channel::Ethernet(_tx, rx)) => rx,
        Ok(_) => return Err(SourceError(format!("capture.interfaces: {name}: not an Ethernet channel"))),
        Err(e) => {
            return Err(SourceError(format!("capture.interfaces: cannot capture on {name}: {e} (needs CAP_NET_RAW)")))
        }
    };
    let name = name.to_string();
    Ok(move || {
        tracing::info!(interface = %name, "capturing");
        while !stop.load(Ordering::Relaxed) {
            match rx.next() {
                Ok(frame) => {
                    if !hand_over(&tx, Input::Frame { ts: now_micros(), data: frame.to_vec() }, &stats) {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(interface = %name, "capture error: {e}");
                    std::thread::sleep(POLL);
                }
            }
        }
        tracing::info!(interface = %name, "capture stopped");
    })
}

/// Binds the GSMTAP listener; the returned closure runs it until `stop`.
pub fn open_gsmtap(
    addr: SocketAddr,
    tx: SyncSender<Input>,
    stop: Arc<AtomicBool>,
    stats: Arc<SourceStats>,
) -> Result<(SocketAddr, impl FnOnce() + Send + 'static), SourceError> {
    let sock = UdpSocket::bind(addr).map_err(|e| SourceError(format!("gsmtap.listen: cannot bind {addr}: {e}")))?;
    sock.set_read_timeout(Some(POLL)).map_err(|e| SourceError(format!("gsmtap.listen: {e}")))?;
    let local = sock.local_addr().map_err(|e| SourceError(format!("gsmtap.listen: {e}")))?;
    Ok((local, move || {
        // One byte more than the largest accepted datagram tells oversized ones apart.
        let mut buf = vec![0u8; 65_536];
        while !stop.load(Ordering::Relaxed) {
            match sock.recv_from(&mut buf) {
                Ok((n, src)) => {
                    if n > MAX_GSMTAP_DATAGRAM {
                        stats.received.fetch_add(1, Ordering::Relaxed);
                        stats.gsmtap_oversized.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let input = Input::Gsmtap { ts: now_micros(), src, local, data: buf[..n].to_vec() };
                    if !hand_over(&tx, input, &stats) {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("gsmtap receive error: {e}");
                }
            }
        }
    }))
}
