//! IPv4 headers (RFC 791 section 3.1).
//!
//! `new_checked` verifies version, header length and total length against the
//! buffer; the payload is bounded by the total length, so Ethernet padding is
//! never taken for data. Checksums are not verified: captures taken on the
//! sending host carry offloaded (blank) checksums.

use std::net::Ipv4Addr;

use super::wire::{be16, put16, WireError};

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// A read-only view of an IPv4 packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer, checking the header and total length fit.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(WireError::Malformed);
        }
        let header_len = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        let total_len = usize::from(be16(b, field::TOTAL_LEN));
        if header_len < MIN_HEADER_LEN || total_len < header_len {
            return Err(WireError::Malformed);
        }
        if b.len() < total_len {
            return Err(WireError::Truncated);
        }
        Ok(Packet { buffer })
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Total length from the header.
    pub fn total_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::TOTAL_LEN))
    }

    /// Identification field (fragment reassembly key).
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }

    /// The more-fragments flag.
    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & 0x2000 != 0
    }

    /// The don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & 0x4000 != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::FLG_OFF) & 0x1fff) * 8
    }

    /// True when this packet is one fragment of a larger datagram.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The protocol number of the payload (RFC 790 / IANA).
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[field::SRC], b[field::SRC + 1], b[field::SRC + 2], b[field::SRC + 3])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[field::DST], b[field::DST + 1], b[field::DST + 2], b[field::DST + 3])
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload, bounded by the total length.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len()..self.total_len()]
    }
}

/// The owned form of an IPv4 header without options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Payload protocol number.
    pub protocol: u8,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Identification.
    pub ident: u16,
    /// Fragment offset in bytes (a multiple of 8).
    pub frag_offset: usize,
    /// More fragments follow.
    pub more_frags: bool,
    /// Time to live.
    pub ttl: u8,
}

impl Repr {
    /// Read the owned form from a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            src: p.src_addr(),
            dst: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: p.total_len() - p.header_len(),
            ident: p.ident(),
            frag_offset: p.frag_offset(),
            more_frags: p.more_frags(),
            ttl: p.ttl(),
        }
    }

    /// Write a 20-byte header with a correct checksum into the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..MIN_HEADER_LEN].fill(0);
        buf[field::VER_IHL] = 0x45;
        let total = (MIN_HEADER_LEN + self.payload_len).min(usize::from(u16::MAX)) as u16;
        put16(buf, field::TOTAL_LEN, total);
        put16(buf, field::IDENT, self.ident);
        let flags = if self.more_frags { 0x2000 } else { 0 };
        put16(buf, field::FLG_OFF, flags | ((self.frag_offset / 8) as u16 & 0x1fff));
        buf[field::TTL] = self.ttl;
        buf[field::PROTOCOL] = self.protocol;
        buf[field::SRC..field::SRC + 4].copy_from_slice(&self.src.octets());
        buf[field::DST..field::DST + 4].copy_from_slice(&self.dst.octets());
        let sum = checksum(&buf[..MIN_HEADER_LEN]);
        put16(buf, field::CHECKSUM, sum);
    }
}

/// The RFC 1071 Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Repr {
        Repr {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(198, 51, 100, 7),
            protocol: 17,
            payload_len: 4,
            ident: 0x1234,
            frag_offset: 1480,
            more_frags: true,
            ttl: 64,
        }
    }

    #[test]
    fn round_trip_and_checksum() {
        let repr = sample();
        let mut buf = vec![0u8; MIN_HEADER_LEN + 4 + 6];
        repr.emit(&mut buf);
        buf[20..24].copy_from_slice(b"data");
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Repr::parse(&p), repr);
        assert_eq!(p.payload(), b"data", "Ethernet padding after total length is not payload");
        assert_eq!(checksum(&buf[..20]), 0, "a header with its checksum sums to zero");
        assert!(p.is_fragment());
    }

    #[test]
    fn growing_prefix_and_bad_fields() {
        let mut buf = vec![0u8; 24];
        sample().emit(&mut buf);
        for n in 0..24 {
            assert_eq!(Packet::new_checked(&buf[..n]).unwrap_err(), WireError::Truncated);
        }
        let mut bad = buf.clone();
        bad[0] = 0x65;
        assert_eq!(Packet::new_checked(&bad[..]).unwrap_err(), WireError::Malformed);
        let mut bad = buf.clone();
        bad[0] = 0x44;
        assert_eq!(Packet::new_checked(&bad[..]).unwrap_err(), WireError::Malformed);
        let mut bad = buf;
        put16(&mut bad, 2, 10);
        assert_eq!(Packet::new_checked(&bad[..]).unwrap_err(), WireError::Malformed);
    }
}
