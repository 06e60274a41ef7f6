//! RTP media streams (RFC 3550) with RFC 4733 telephone events.
//!
//! A stream sends one packet every ptime: version 2, payload type fixed per stream,
//! sequence number +1 and timestamp +samples per packet from random starting values,
//! a random SSRC, the marker bit on the first packet. A DTMF digit replaces audio for
//! eight packets: five growing-duration event packets (marker on the first) and three
//! end packets, all with the event's start timestamp; the media clock keeps running.
//! Payload bytes come from a fixed noise table so packets cost no random draws.

use std::net::SocketAddr;

/// The RFC 4733 payload type the simulator negotiates.
pub const PT_TELEPHONE_EVENT: u8 = 101;
/// Size of the shared noise table audio payloads are cut from.
pub(crate) const NOISE_LEN: usize = 16_384;
/// Event packets per digit: five updates, three end packets (RFC 4733 §2.5.1.4).
const DTMF_PACKETS: u8 = 8;
const DTMF_UPDATES: u8 = 5;
/// Audio packets between two digits.
const DTMF_GAP: u64 = 10;

/// One direction of media.
#[derive(Debug)]
pub(crate) struct Stream {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// Nominal time of the next packet (capture jitter is added on top).
    pub next_us: u64,
    pub until_us: u64,
    pub ptime_us: u64,
    ssrc: u32,
    seq: u16,
    ts: u32,
    pt: u8,
    samples: u32,
    payload_len: usize,
    slot: u64,
    dtmf_left: u8,
    dtmf_at: u64,
    dtmf_pkt: u8,
    dtmf_ts: u32,
    dtmf_event: u8,
}

/// Random starting values of a stream, drawn by the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamSeed {
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    /// Packet index of the first digit, if any.
    pub dtmf_at: u64,
}

impl Stream {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        src: SocketAddr,
        dst: SocketAddr,
        pt: u8,
        start_us: u64,
        until_us: u64,
        ptime_ms: u32,
        dtmf_digits: u8,
        seed: StreamSeed,
    ) -> Self {
        // G.711 and G.722 both carry 8 bytes and advance 8 clock ticks per ms
        // (G.722's RTP clock is 8000 Hz by RFC 3551's historical error).
        let samples = 8 * ptime_ms;
        Stream {
            src,
            dst,
            next_us: start_us,
            until_us,
            ptime_us: u64::from(ptime_ms) * 1_000,
            ssrc: seed.ssrc,
            seq: seed.seq,
            ts: seed.ts,
            pt,
            samples,
            payload_len: samples as usize,
            slot: 0,
            dtmf_left: dtmf_digits,
            dtmf_at: seed.dtmf_at,
            dtmf_pkt: 0,
            dtmf_ts: 0,
            dtmf_event: 0,
        }
    }

    /// Builds the next packet into `buf` and advances the stream.
    pub(crate) fn packet(&mut self, noise: &[u8], buf: &mut Vec<u8>) {
        buf.clear();
        if self.dtmf_pkt == 0 && self.dtmf_left > 0 && self.slot >= self.dtmf_at {
            self.dtmf_pkt = 1;
            self.dtmf_ts = self.ts;
            self.dtmf_event = ((u64::from(self.ssrc) + self.slot) % 12) as u8;
        }
        let marker = self.slot == 0 || self.dtmf_pkt == 1;
        let (pt, ts) = if self.dtmf_pkt > 0 { (PT_TELEPHONE_EVENT, self.dtmf_ts) } else { (self.pt, self.ts) };
        buf.push(0x80);
        buf.push(pt | if marker { 0x80 } else { 0 });
        buf.extend_from_slice(&self.seq.to_be_bytes());
        buf.extend_from_slice(&ts.to_be_bytes());
        buf.extend_from_slice(&self.ssrc.to_be_bytes());
        if self.dtmf_pkt > 0 {
            let end = self.dtmf_pkt > DTMF_UPDATES;
            let duration = self.samples * u32::from(self.dtmf_pkt.min(DTMF_UPDATES));
            buf.push(self.dtmf_event);
            buf.push(if end { 0x80 } else { 0 } | 10);
            buf.extend_from_slice(&(duration as u16).to_be_bytes());
            self.dtmf_pkt += 1;
            if self.dtmf_pkt > DTMF_PACKETS {
                self.dtmf_pkt = 0;
                self.dtmf_left -= 1;
                self.dtmf_at = self.slot + DTMF_GAP;
            }
        } else {
            let span = noise.len() - self.payload_len;
            let off = (self.slot.wrapping_mul(331) as usize + self.ssrc as usize) % span;
            buf.extend_from_slice(&noise[off..off + self.payload_len]);
        }
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(self.samples);
        self.slot += 1;
        self.next_us += self.ptime_us;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(dtmf: u8) -> Stream {
        Stream::new(
            "192.0.2.1:10000".parse().unwrap(),
            "192.0.2.2:20000".parse().unwrap(),
            8,
            0,
            u64::MAX,
            20,
            dtmf,
            StreamSeed { ssrc: 0x1234_5678, seq: 65_534, ts: 1000, dtmf_at: 3 },
        )
    }

    #[test]
    fn header_fields_advance() {
        let noise = vec![0xd5; NOISE_LEN];
        let mut s = stream(0);
        let mut buf = Vec::new();
        s.packet(&noise, &mut buf);
        assert_eq!(buf.len(), 12 + 160);
        assert_eq!(buf[0], 0x80);
        assert_eq!(buf[1], 0x80 | 8, "marker on the first packet");
        s.packet(&noise, &mut buf);
        assert_eq!(buf[1], 8);
        assert_eq!(&buf[2..4], &65_535u16.to_be_bytes());
        assert_eq!(&buf[4..8], &1160u32.to_be_bytes());
        s.packet(&noise, &mut buf);
        assert_eq!(&buf[2..4], &0u16.to_be_bytes(), "sequence wraps");
        assert_eq!(s.next_us, 60_000);
    }

    #[test]
    fn dtmf_digit_is_eight_event_packets_with_one_timestamp() {
        let noise = vec![0; NOISE_LEN];
        let mut s = stream(1);
        let mut buf = Vec::new();
        let mut events = Vec::new();
        for _ in 0..20 {
            s.packet(&noise, &mut buf);
            if buf[1] & 0x7f == PT_TELEPHONE_EVENT {
                events.push(buf.clone());
            }
        }
        assert_eq!(events.len(), 8);
        assert_eq!(events[0][1] & 0x80, 0x80, "marker on the first event packet");
        let ts: Vec<_> = events.iter().map(|p| p[4..8].to_vec()).collect();
        assert!(ts.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(events[4][13] & 0x80, 0);
        assert!(events[5..].iter().all(|p| p[13] & 0x80 != 0), "end bit");
        assert_eq!(u16::from_be_bytes([events[7][14], events[7][15]]), 800);
    }
}
