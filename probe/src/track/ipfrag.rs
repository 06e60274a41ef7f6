//! IP fragment reassembly (RFC 791 section 3.2 for IPv4, RFC 8200 section 4.5
//! for IPv6), keyed by (source, destination, protocol, identification).
//!
//! Bounded: at most [`MAX_DATAGRAMS`] datagrams in flight, each at most 64 KiB,
//! each dropped [`TIMEOUT`] after its first fragment. Overlapping fragments
//! are accepted (later bytes win) except where they would grow a datagram
//! past its declared end.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::anomaly::{Anomaly, Counters};
use crate::capture::Micros;
use crate::dissect::layers::{Fragment, IpPacket};

/// Datagrams reassembled at once; more are counted and dropped.
pub const MAX_DATAGRAMS: usize = 4096;
/// Largest datagram payload (the IPv4 total length limit).
pub const MAX_DATAGRAM_LEN: usize = 65_535;
/// Time a datagram may wait for its missing fragments (RFC 791 suggests 15 s,
/// Linux uses 30 s).
pub const TIMEOUT: Micros = 30_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    ident: u32,
}

#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    /// Received byte ranges, sorted and merged.
    have: Vec<(usize, usize)>,
    /// Known once the last fragment (more = false) arrived.
    total: Option<usize>,
    first_ts: Micros,
}

impl Pending {
    fn complete(&self) -> bool {
        matches!((self.total, self.have.as_slice()), (Some(t), [(0, end)]) if *end == t)
    }

    fn insert(&mut self, start: usize, end: usize) {
        self.have.push((start, end));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
    }
}

/// A whole datagram put back together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol.
    pub protocol: u8,
    /// The reassembled upper-layer bytes.
    pub payload: Vec<u8>,
}

/// The fragment table.
#[derive(Debug, Default)]
pub struct Reassembler {
    pending: HashMap<Key, Pending>,
}

impl Reassembler {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Datagrams waiting for fragments.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Add one fragment; returns the datagram when it is complete.
    pub fn add(
        &mut self,
        ts: Micros,
        packet: &IpPacket<'_>,
        frag: Fragment,
        counters: &mut Counters,
    ) -> Option<Datagram> {
        let key = Key { src: packet.src, dst: packet.dst, protocol: packet.protocol, ident: frag.ident };
        let start = frag.offset;
        let end = start + packet.payload.len();
        if end > MAX_DATAGRAM_LEN || (frag.more && packet.payload.len() % 8 != 0) {
            counters.add(Anomaly::FragmentMalformed);
            self.pending.remove(&key);
            return None;
        }
        if !self.pending.contains_key(&key) && self.pending.len() >= MAX_DATAGRAMS {
            counters.add(Anomaly::FragmentTableFull);
            return None;
        }
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            data: Vec::new(),
            have: Vec::new(),
            total: None,
            first_ts: ts,
        });
        let beyond_end = p.total.is_some_and(|t| end > t);
        let conflicting_end =
            !frag.more && (p.total.is_some_and(|t| t != end) || p.have.last().is_some_and(|l| l.1 > end));
        if beyond_end || conflicting_end {
            counters.add(Anomaly::FragmentMalformed);
            self.pending.remove(&key);
            return None;
        }
        if !frag.more {
            p.total = Some(end);
        }
        if p.data.len() < end {
            p.data.resize(end, 0);
        }
        p.data[start..end].copy_from_slice(packet.payload);
        p.insert(start, end);
        if !p.complete() {
            return None;
        }
        let p = self.pending.remove(&key)?;
        Some(Datagram { src: key.src, dst: key.dst, protocol: key.protocol, payload: p.data })
    }

    /// Drop datagrams older than the timeout, counting each.
    pub fn expire(&mut self, now: Micros, counters: &mut Counters) {
        self.pending.retain(|_, p| {
            let keep = now.saturating_sub(p.first_ts) < TIMEOUT;
            if !keep {
                counters.add(Anomaly::FragmentIncomplete);
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag<'a>(payload: &'a [u8], offset: usize, more: bool) -> (IpPacket<'a>, Fragment) {
        let p = IpPacket {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            protocol: 17,
            payload,
            fragment: None,
        };
        (p, Fragment { ident: 7, offset, more })
    }

    #[test]
    fn any_order_reassembles() {
        let data: Vec<u8> = (0..100u8).collect();
        let parts = [(&data[0..40], 0, true), (&data[40..80], 40, true), (&data[80..], 80, false)];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut r = Reassembler::new();
            let mut c = Counters::default();
            let mut out = None;
            for i in order {
                let (p, f) = frag(parts[i].0, parts[i].1, parts[i].2);
                out = r.add(0, &p, f, &mut c).or(out);
            }
            assert_eq!(out.unwrap().payload, data, "order {order:?}");
            assert!(r.is_empty());
        }
    }

    #[test]
    fn duplicate_fragment_is_harmless() {
        let data = [9u8; 16];
        let mut r = Reassembler::new();
        let mut c = Counters::default();
        let (p, f) = frag(&data[..8], 0, true);
        assert!(r.add(0, &p, f, &mut c).is_none());
        assert!(r.add(0, &p, f, &mut c).is_none());
        let (p, f) = frag(&data[8..], 8, false);
        assert_eq!(r.add(0, &p, f, &mut c).unwrap().payload.len(), 16);
    }

    #[test]
    fn oversize_and_conflicting_ends_are_malformed() {
        let mut r = Reassembler::new();
        let mut c = Counters::default();
        let big = [0u8; 16];
        let (p, f) = frag(&big, 65_528, false);
        assert!(r.add(0, &p, f, &mut c).is_none());
        let (p, f) = frag(&big, 0, false);
        let (p2, f2) = frag(&big[..8], 32, false);
        let (p3, f3) = frag(&big[..8], 64, true);
        assert!(r.add(0, &p3, f3, &mut c).is_none());
        assert!(r.add(0, &p2, f2, &mut c).is_none(), "last fragment before data already held");
        assert!(r.add(0, &p, f, &mut c).is_some(), "a fresh datagram after the bad one was dropped");
        assert_eq!(c.get(Anomaly::FragmentMalformed), 2);
    }

    #[test]
    fn table_cap_and_timeout() {
        let mut r = Reassembler::new();
        let mut c = Counters::default();
        let data = [0u8; 8];
        for ident in 0..(MAX_DATAGRAMS as u32 + 10) {
            let (p, mut f) = frag(&data, 0, true);
            f.ident = ident;
            r.add(0, &p, f, &mut c);
        }
        assert_eq!(r.len(), MAX_DATAGRAMS);
        assert_eq!(c.get(Anomaly::FragmentTableFull), 10);
        r.expire(TIMEOUT + 1, &mut c);
        assert!(r.is_empty());
        assert_eq!(c.get(Anomaly::FragmentIncomplete), MAX_DATAGRAMS as u64);
    }
}
