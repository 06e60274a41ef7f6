//! Live sources for `duanka-probe run`: interfaces captured with pnet
//! (AF_PACKET, promiscuous, on a socket of ours: [`super::socket`]) and a
//! GSMTAP UDP listener (SPEC 3.4). Each source runs on its own thread and
//! hands owned [`Input`]s to the pipeline through a bounded channel; when the
//! pipeline falls behind, inputs are dropped and counted rather than queued
//! without limit.
//!
//! An interface's frames travel in [`FrameBatch`]es: one buffer for up to
//! [`BATCH_FRAMES`] frames, handed over when full or [`BATCH_AGE`] after its
//! first frame, so that the cost of the channel and of allocation is paid
//! per batch, not per frame. The kernel's counters for each capture socket
//! (frames offered, frames dropped for want of buffer) are read every
//! [`KERNEL_STATS_EVERY`] and added to [`SourceStats`].

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::socket::{KernelStats, PacketSocket, Ring, RingFrame};
use super::Micros;

/// Longest GSMTAP datagram accepted: a GSMTAP header and the largest GSM or
/// LTE signalling message fit well inside; anything longer is not GSMTAP.
pub const MAX_GSMTAP_DATAGRAM: usize = 2_048;
/// How long a source blocks before it looks at the stop flag.
pub const POLL: Duration = Duration::from_millis(200);
/// Most frames in one [`FrameBatch`].
pub const BATCH_FRAMES: usize = 256;
/// Longest a frame waits in a batch that is not full (checked at each frame
/// and at each [`POLL`] timeout).
pub const BATCH_AGE: Duration = Duration::from_millis(20);
/// How often the kernel's counters of a capture socket are read.
pub const KERNEL_STATS_EVERY: Duration = Duration::from_millis(500);
/// Default kernel receive buffer of a capture socket, bytes.
pub const DEFAULT_SOCKET_BUFFER: usize = 64 << 20;

/// Frames captured on one interface, in one buffer.
#[derive(Debug, Default)]
pub struct FrameBatch {
    data: Vec<u8>,
    frames: Vec<(Micros, u32, u32)>,
}

impl FrameBatch {
    fn with_capacity(frames: usize) -> Self {
        FrameBatch { data: Vec::with_capacity(frames * 256), frames: Vec::with_capacity(frames) }
    }

    fn push(&mut self, ts: Micros, frame: &[u8]) {
        self.push_parts(ts, &[frame]);
    }

    /// One frame written from `parts`, in order (no intermediate copy).
    fn push_parts(&mut self, ts: Micros, parts: &[&[u8]]) {
        // A batch holds at most one ring block (256 KiB) or 256 frames of at
        // most 64 KiB: offsets fit in 32 bits.
        let start = self.data.len();
        for part in parts {
            self.data.extend_from_slice(part);
        }
        self.frames.push((ts, start as u32, (self.data.len() - start) as u32));
    }

    /// Frames in the batch.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the batch holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The frames with their capture times, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (Micros, &[u8])> {
        self.frames.iter().map(|&(ts, start, len)| (ts, &self.data[start as usize..(start + len) as usize]))
    }
}

/// One unit of work for the pipeline.
#[derive(Debug)]
pub enum Input {
    /// Ethernet frames from an interface.
    Frames(FrameBatch),
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
    /// Frames the kernel offered to the capture sockets (drops included).
    pub kernel_packets: AtomicU64,
    /// Frames the kernel dropped because a capture socket's buffer was full.
    pub kernel_drops: AtomicU64,
    /// GSMTAP datagrams over [`MAX_GSMTAP_DATAGRAM`], dropped.
    pub gsmtap_oversized: AtomicU64,
    /// Receive errors.
    pub errors: AtomicU64,
}

/// Now, in microseconds since the epoch.
pub fn now_micros() -> Micros {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

impl SourceStats {
    /// Everything dropped: by the kernel, by the queue, oversized datagrams.
    pub fn drops(&self) -> u64 {
        self.kernel_drops.load(Ordering::Relaxed)
            + self.queue_drops.load(Ordering::Relaxed)
            + self.gsmtap_oversized.load(Ordering::Relaxed)
    }
}

/// Hands `input` (`count` frames or datagrams) to the pipeline; `false` once it has gone.
fn hand_over(tx: &SyncSender<Input>, input: Input, count: u64, stats: &SourceStats) -> bool {
    stats.received.fetch_add(count, Ordering::Relaxed);
    match tx.try_send(input) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            stats.queue_drops.fetch_add(count, Ordering::Relaxed);
            true
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}

/// Why a live source could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(String);

/// How an interface is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A TPACKET_V3 ring ([`Ring`]), falling back to pnet if it cannot be set up.
    Ring,
    /// pnet, one `recvfrom` per frame ([`PacketSocket`]).
    Pnet,
}

/// Opens `name` for promiscuous capture with `buffer` bytes of kernel
/// buffer (ring or socket buffer); the returned closure runs the capture
/// loop until `stop` (call it on its own thread).
pub fn open_interface(
    name: &str,
    method: Method,
    buffer: usize,
    tx: SyncSender<Input>,
    stop: Arc<AtomicBool>,
    stats: Arc<SourceStats>,
) -> Result<Box<dyn FnOnce() + Send + 'static>, SourceError> {
    let iface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == name)
        .ok_or_else(|| SourceError(format!("capture.interfaces: no interface named {name:?}")))?;
    if method == Method::Ring {
        match Ring::open(iface.index, buffer) {
            Ok(ring) => return Ok(Box::new(move || ring_loop(&iface.name, ring, &tx, &stop, &stats))),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(SourceError(format!(
                    "capture.interfaces: cannot capture on {name}: {e} (needs CAP_NET_RAW)"
                )))
            }
            Err(e) => tracing::warn!(interface = %name, "no TPACKET_V3 ring ({e}); capturing with pnet instead"),
        }
    }
    let socket = PacketSocket::open(buffer).map_err(|e| {
        SourceError(format!("capture.interfaces: cannot open a capture socket for {name}: {e} (needs CAP_NET_RAW)"))
    })?;
    let config = pnet_datalink::Config {
        read_timeout: Some(POLL),
        promiscuous: true,
        read_buffer_size: 1 << 16,
        socket_fd: Some(socket.raw_fd()),
        ..Default::default()
    };
    let rx = match pnet_datalink::channel(&iface, config) {
        Ok(pnet_datalink::Channel::Ethernet(_tx, rx)) => rx,
        Ok(_) => return Err(SourceError(format!("capture.interfaces: {name}: not an Ethernet channel"))),
        Err(e) => {
            return Err(SourceError(format!("capture.interfaces: cannot capture on {name}: {e} (needs CAP_NET_RAW)")))
        }
    };
    Ok(Box::new(move || pnet_loop(&iface.name, socket, rx, &tx, &stop, &stats)))
}

fn add_kernel_stats(stats: &SourceStats, read: std::io::Result<KernelStats>) {
    match read {
        Ok(k) => {
            stats.kernel_packets.fetch_add(k.packets, Ordering::Relaxed);
            stats.kernel_drops.fetch_add(k.drops, Ordering::Relaxed);
        }
        Err(e) => tracing::debug!("cannot read the kernel's capture counters: {e}"),
    }
}

/// Puts back an 802.1Q tag the kernel took off: after the two MAC addresses.
fn push_frame(batch: &mut FrameBatch, f: &RingFrame<'_>) {
    match f.vlan {
        Some((tpid, tci)) if f.data.len() >= 12 => {
            let (macs, rest) = f.data.split_at(12);
            batch.push_parts(f.ts, &[macs, &tpid.to_be_bytes(), &tci.to_be_bytes(), rest]);
        }
        _ => batch.push(f.ts, f.data),
    }
}

fn ring_loop(name: &str, mut ring: Ring, tx: &SyncSender<Input>, stop: &AtomicBool, stats: &SourceStats) {
    tracing::info!(interface = %name, ring_bytes = ring.size, "capturing (TPACKET_V3 ring)");
    let mut stats_read = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut batch = FrameBatch::with_capacity(BATCH_FRAMES);
        match ring.next_block(POLL, |f| push_frame(&mut batch, &f)) {
            Ok(_) => {}
            Err(e) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(interface = %name, "capture error: {e}");
                std::thread::sleep(POLL);
            }
        }
        if !batch.is_empty() {
            let n = batch.len() as u64;
            if !hand_over(tx, Input::Frames(batch), n, stats) {
                break;
            }
        }
        if stats_read.elapsed() >= KERNEL_STATS_EVERY {
            add_kernel_stats(stats, ring.stats());
            stats_read = Instant::now();
        }
    }
    add_kernel_stats(stats, ring.stats());
    tracing::info!(interface = %name, "capture stopped");
}

fn pnet_loop(
    name: &str,
    socket: PacketSocket,
    mut rx: Box<dyn pnet_datalink::DataLinkReceiver>,
    tx: &SyncSender<Input>,
    stop: &AtomicBool,
    stats: &SourceStats,
) {
    tracing::info!(interface = %name, kernel_buffer = socket.buffer, "capturing (pnet)");
    // Frames queued before the socket was bound to the interface are not ours to count.
    let _ = socket.stats();
    let mut batch = FrameBatch::with_capacity(BATCH_FRAMES);
    let mut batch_started = Instant::now();
    let mut stats_read = Instant::now();
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let mut flush = stopping;
        if !stopping {
            match rx.next() {
                Ok(frame) => {
                    if batch.is_empty() {
                        batch_started = Instant::now();
                    }
                    batch.push(now_micros(), frame);
                    flush = batch.len() >= BATCH_FRAMES || batch_started.elapsed() >= BATCH_AGE;
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock => {
                    flush = true;
                }
                Err(e) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(interface = %name, "capture error: {e}");
                    std::thread::sleep(POLL);
                    flush = true;
                }
            }
        }
        if flush && !batch.is_empty() {
            let n = batch.len() as u64;
            let full = std::mem::replace(&mut batch, FrameBatch::with_capacity(BATCH_FRAMES));
            if !hand_over(tx, Input::Frames(full), n, stats) {
                break;
            }
        }
        if stopping || stats_read.elapsed() >= KERNEL_STATS_EVERY {
            add_kernel_stats(stats, socket.stats());
            stats_read = Instant::now();
        }
        if stopping {
            break;
        }
    }
    tracing::info!(interface = %name, "capture stopped");
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
                    if !hand_over(&tx, input, 1, &stats) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_the_kernel_took_off_goes_back_after_the_mac_addresses() {
        let frame: Vec<u8> = (0u8..20).collect();
        let mut batch = FrameBatch::default();
        push_frame(&mut batch, &RingFrame { ts: 7, data: &frame, wire_len: 20, vlan: Some((0x8100, 42)) });
        push_frame(&mut batch, &RingFrame { ts: 8, data: &frame, wire_len: 20, vlan: None });
        let got: Vec<(Micros, Vec<u8>)> = batch.iter().map(|(ts, d)| (ts, d.to_vec())).collect();
        let mut tagged = frame[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 42]);
        tagged.extend_from_slice(&frame[12..]);
        assert_eq!(got, vec![(7, tagged), (8, frame)]);
    }
}
