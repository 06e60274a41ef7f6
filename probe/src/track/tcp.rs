//! TCP stream reassembly, just enough for SIP over TCP (RFC 3261 section 18.3):
//! each direction's bytes put back in order, retransmissions and overlaps
//! trimmed, out-of-order segments held briefly, and the byte stream cut into
//! messages by Content-Length framing. Several messages in one segment and
//! one message over many segments both come out as whole messages.
//!
//! Only streams that carry SIP are followed: a stream is adopted when its
//! first data looks like a SIP start line, or from its SYN on a SIP port.
//! Bounded: [`MAX_STREAMS`] directions, [`MAX_REORDER_BYTES`] held out of
//! order per direction, idle streams dropped after [`IDLE_TIMEOUT`].

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::anomaly::{Anomaly, Counters};
use crate::capture::Micros;
use crate::dissect::sip::{self, Framing};
use crate::dissect::tcp;

/// Stream directions followed at once.
pub const MAX_STREAMS: usize = 16_384;
/// Out-of-order bytes held per direction before the gap is given up.
pub const MAX_REORDER_BYTES: usize = 64 * 1024;
/// Out-of-order segments held per direction.
pub const MAX_REORDER_SEGMENTS: usize = 64;
/// A direction with no segment for this long is forgotten.
pub const IDLE_TIMEOUT: Micros = 300_000_000;
/// Well-known SIP ports: a SYN to one of these starts following the stream.
pub const SIP_PORTS: [u16; 2] = [5060, 5061];

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
}

#[derive(Debug, Default)]
struct Direction {
    /// Sequence number of the next byte expected; None until a SYN or the first data.
    next_seq: Option<u32>,
    /// In-order bytes not yet framed into a message.
    buf: Vec<u8>,
    /// Segments that arrived ahead of `next_seq`.
    ahead: Vec<(u32, Vec<u8>)>,
    ahead_bytes: usize,
    /// Bytes are being skipped until a segment starts with a SIP start line.
    lost_sync: bool,
    last_ts: Micros,
}

/// Counts that are not anomalies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Segments whose data had all been seen already.
    pub retransmissions: u64,
    /// SIP messages framed.
    pub messages: u64,
}

/// The stream table.
#[derive(Debug, Default)]
pub struct Reassembler {
    streams: HashMap<FlowKey, Direction>,
    /// Non-anomaly counters.
    pub stats: Stats,
}

impl Reassembler {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Directions followed now.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// True when no stream is followed.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Feed one segment; every SIP message it completes goes to `on_message`.
    pub fn segment(
        &mut self,
        ts: Micros,
        key: FlowKey,
        seg: &tcp::Packet<&[u8]>,
        counters: &mut Counters,
        mut on_message: impl FnMut(&[u8]),
    ) {
        let flags = seg.flags();
        let payload = seg.payload();
        if !self.streams.contains_key(&key) {
            let syn_to_sip =
                flags & tcp::SYN != 0 && (SIP_PORTS.contains(&key.dst.port()) || SIP_PORTS.contains(&key.src.port()));
            let sip_data = !payload.is_empty() && sip::looks_like_sip(payload);
            if !(syn_to_sip || sip_data) {
                return;
            }
            if self.streams.len() >= MAX_STREAMS {
                counters.add(Anomaly::TcpStreamTableFull);
                return;
            }
            self.streams.insert(key, Direction::default());
        }
        let Some(dir) = self.streams.get_mut(&key) else { return };
        dir.last_ts = ts;
        if flags & tcp::RST != 0 {
            self.streams.remove(&key);
            return;
        }
        if flags & tcp::SYN != 0 {
            *dir = Direction { next_seq: Some(seg.seq().wrapping_add(1)), last_ts: ts, ..Direction::default() };
        }
        if !payload.is_empty() {
            let next = *dir.next_seq.get_or_insert(seg.seq());
            self.stats.retransmissions += u64::from(dir.accept(seg.seq(), next, payload, counters));
            self.stats.messages += dir.frame(counters, &mut on_message);
        }
        if flags & tcp::FIN != 0 {
            self.streams.remove(&key);
        }
    }

    /// Forget directions idle for longer than [`IDLE_TIMEOUT`].
    pub fn expire(&mut self, now: Micros) {
        self.streams.retain(|_, d| now.saturating_sub(d.last_ts) < IDLE_TIMEOUT);
    }
}

/// Signed distance from `b` to `a` in sequence space (RFC 9293 section 3.4).
fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl Direction {
    /// Place a segment's data; returns true when it was a pure retransmission.
    fn accept(&mut self, seq: u32, next: u32, payload: &[u8], counters: &mut Counters) -> bool {
        let diff = seq_diff(seq, next);
        if diff > 0 {
            let full = self.ahead.len() >= MAX_REORDER_SEGMENTS || self.ahead_bytes + payload.len() > MAX_REORDER_BYTES;
            if !full {
                self.ahead_bytes += payload.len();
                self.ahead.push((seq, payload.to_vec()));
                return false;
            }
            // The hole will not be filled: restart at this segment.
            counters.add(Anomaly::TcpReorderBufferFull);
            counters.add(Anomaly::TcpStreamGap);
            self.buf.clear();
            self.ahead.clear();
            self.ahead_bytes = 0;
            self.lost_sync = true;
            self.next_seq = Some(seq);
            self.append(seq, payload);
            return false;
        }
        let skip = usize::try_from(-diff).unwrap_or(usize::MAX);
        if skip >= payload.len() {
            return true;
        }
        self.append(seq.wrapping_add(skip as u32), &payload[skip..]);
        false
    }

    /// Append in-order bytes starting at `seq` (== next_seq), then drain held segments.
    fn append(&mut self, seq: u32, data: &[u8]) {
        self.push_in_order(data);
        let mut next = seq.wrapping_add(data.len() as u32);
        while let Some(i) = self.ahead.iter().position(|(s, _)| seq_diff(*s, next) <= 0) {
            let (s, d) = self.ahead.swap_remove(i);
            self.ahead_bytes -= d.len();
            let skip = usize::try_from(seq_diff(next, s)).unwrap_or(0);
            if skip < d.len() {
                self.push_in_order(&d[skip..]);
                next = next.wrapping_add((d.len() - skip) as u32);
            }
        }
        self.next_seq = Some(next);
    }

    fn push_in_order(&mut self, data: &[u8]) {
        if self.lost_sync {
            if !sip::looks_like_sip(data) {
                return;
            }
            self.lost_sync = false;
            self.buf.clear();
        }
        self.buf.extend_from_slice(data);
    }

    /// Cut whole messages off the front of the buffer; returns how many.
    fn frame(&mut self, counters: &mut Counters, on_message: &mut impl FnMut(&[u8])) -> u64 {
        let mut start = 0;
        let mut framed = 0;
        loop {
            // CRLF keep-alives (RFC 5626 section 3.5.1) sit between messages.
            while matches!(self.buf.get(start), Some(b'\r' | b'\n')) {
                start += 1;
            }
            let rest = &self.buf[start..];
            if rest.is_empty() {
                break;
            }
            match sip::frame_stream(rest) {
                Framing::Complete(n) if n > 0 && n <= rest.len() => {
                    on_message(&rest[..n]);
                    framed += 1;
                    start += n;
                }
                Framing::Incomplete if rest.len() <= sip::MAX_MESSAGE_LEN => break,
                Framing::Incomplete => {
                    counters.add(Anomaly::TcpSipTooLarge);
                    self.lose_sync();
                    return framed;
                }
                Framing::Complete(_) | Framing::Invalid(_) => {
                    counters.add(Anomaly::TcpSipUnframed);
                    self.lose_sync();
                    return framed;
                }
            }
        }
        self.buf.drain(..start);
        framed
    }

    fn lose_sync(&mut self) {
        self.buf.clear();
        self.lost_sync = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:13800138000@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:a@10.0.0.1>;tag=1\r\nTo: <sip:13800138000@10.0.0.2>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 4\r\n\r\nbody";
    const BYE: &[u8] = b"BYE sip:13800138000@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK2\r\nFrom: <sip:a@10.0.0.1>;tag=1\r\nTo: <sip:13800138000@10.0.0.2>;tag=2\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    fn key() -> FlowKey {
        FlowKey { src: "10.0.0.1:40000".parse().unwrap(), dst: "10.0.0.2:5060".parse().unwrap() }
    }

    fn seg(seq: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; tcp::MIN_HEADER_LEN];
        tcp::emit(&mut b, 40000, 5060, seq, 0, flags);
        b.extend_from_slice(data);
        b
    }

    fn feed(r: &mut Reassembler, c: &mut Counters, segs: &[(u32, u8, &[u8])]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (seq, flags, data) in segs {
            let bytes = seg(*seq, *flags, data);
            let p = tcp::Packet::new_checked(&bytes[..]).unwrap();
            r.segment(0, key(), &p, c, |m| out.push(m.to_vec()));
        }
        out
    }

    #[test]
    fn split_coalesced_and_retransmitted() {
        let mut r = Reassembler::new();
        let mut c = Counters::default();
        let mut both = INVITE.to_vec();
        both.extend_from_slice(BYE);
        let (a, b) = both.split_at(100);
        let out = feed(
            &mut r,
            &mut c,
            &[(999, tcp::SYN, b""), (1000, tcp::ACK, a), (1000, tcp::ACK, a), (1100, tcp::ACK, b)],
        );
        assert_eq!(out, vec![INVITE.to_vec(), BYE.to_vec()]);
        assert_eq!(r.stats.retransmissions, 1);
    }

    #[test]
    fn out_of_order_segments_are_held() {
        let mut r = Reassembler::new();
        let mut c = Counters::default();
        let (a, rest) = INVITE.split_at(10);
        let (b, d) = rest.split_at(50);
        // The SYN adopts the stream: a 10-byte first segment is too short to look like SIP.
        let out =
            feed(&mut r, &mut c, &[(u32::MAX, tcp::SYN, b""), (0, tcp::ACK, a), (60, tcp::ACK, d), (10, tcp::ACK, b)]);
        assert_eq!(out, vec![INVITE.to_vec()]);
    }

    #[test]
    fn non_sip_stream_is_ignored_and_garbage_resyncs() {
        let mut r = Reassembler::new();
        let mut c = Counters::default();
        assert!(feed(&mut r, &mut c, &[(0, tcp::ACK, b"GET / HTTP/1.1\r\n\r\n")]).is_empty());
        assert!(r.is_empty());
        let mut junk = b"INVITE sip:x SIP/2.0\r\nContent-Length: -5\r\n\r\n".to_vec();
        let n = junk.len() as u32;
        junk.extend_from_slice(b"more junk");
        let out = feed(&mut r, &mut c, &[(0, tcp::ACK, &junk), (n + 9, tcp::ACK, BYE)]);
        assert_eq!(out, vec![BYE.to_vec()]);
        assert_eq!(c.get(Anomaly::TcpSipUnframed), 1);
    }

    #[test]
    fn sequence_wraparound() {
        let mut r = Reassembler::new();
        let mut c = Counters::default();
        let (a, b) = INVITE.split_at(20);
        let start = u32::MAX - 9;
        let out = feed(
            &mut r,
            &mut c,
            &[(start - 1, tcp::SYN, b""), (start, tcp::ACK, a), (start.wrapping_add(20), tcp::ACK, b)],
        );
        assert_eq!(out, vec![INVITE.to_vec()]);
    }

    #[test]
    fn stream_cap() {
        let mut r = Reassembler::new();
        let mut c = Counters::default();
        for i in 0..(MAX_STREAMS + 3) {
            let k = FlowKey { src: SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 40000)), dst: key().dst };
            let bytes = seg(0, tcp::ACK, BYE);
            let p = tcp::Packet::new_checked(&bytes[..]).unwrap();
            r.segment(0, k, &p, &mut c, |_| {});
        }
        assert_eq!(r.len(), MAX_STREAMS);
        assert_eq!(c.get(Anomaly::TcpStreamTableFull), 3);
        r.expire(IDLE_TIMEOUT);
        assert!(r.is_empty());
    }
}
