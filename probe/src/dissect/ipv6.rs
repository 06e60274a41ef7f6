//! IPv6 headers (RFC 8200 section 3) and the walk over extension headers
//! (section 4) to the upper-layer protocol.
//!
//! Hop-by-hop, routing, destination options, mobility and AH headers are
//! skipped; a fragment header (section 4.5) is reported so the datagram can be
//! reassembled. ESP ends the walk: what follows is encrypted.

use std::net::Ipv6Addr;

use super::wire::{be16, be32, put16, WireError};

mod field {
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;
/// Most extension headers walked before the packet is called malformed.
pub const MAX_EXTENSION_HEADERS: usize = 8;

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const AUTH: u8 = 51;
const DEST_OPTS: u8 = 60;
const MOBILITY: u8 = 135;

/// A read-only view of an IPv6 packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer, checking the fixed header and payload length fit.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 6 {
            return Err(WireError::Malformed);
        }
        if b.len() < HEADER_LEN + usize::from(be16(b, field::PAYLOAD_LEN)) {
            return Err(WireError::Truncated);
        }
        Ok(Packet { buffer })
    }

    /// Payload length from the header (extension headers included).
    pub fn payload_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::PAYLOAD_LEN))
    }

    /// The Next Header field of the fixed header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::SRC..field::SRC + 16])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::DST..field::DST + 16])
    }
}

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ipv6Addr::from(a)
}

/// A fragment header's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    /// Fragment offset in bytes.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
    /// Identification.
    pub ident: u32,
}

/// What lies past the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upper<'a> {
    /// The upper-layer protocol number.
    pub protocol: u8,
    /// Its bytes (for a fragment: this fragment's bytes).
    pub payload: &'a [u8],
    /// Set when a fragment header was crossed.
    pub fragment: Option<FragmentHeader>,
}

impl<'a> Packet<&'a [u8]> {
    /// The payload after the fixed header, bounded by the payload length.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[HEADER_LEN..HEADER_LEN + self.payload_len()]
    }

    /// Walk the extension headers to the upper-layer protocol.
    pub fn upper(&self) -> Result<Upper<'a>, WireError> {
        let mut next = self.next_header();
        let mut rest = self.payload();
        let mut fragment = None;
        for _ in 0..MAX_EXTENSION_HEADERS {
            let len = match next {
                HOP_BY_HOP | ROUTING | DEST_OPTS | MOBILITY => {
                    let l = rest.get(1).ok_or(WireError::Truncated)?;
                    (usize::from(*l) + 1) * 8
                }
                AUTH => {
                    let l = rest.get(1).ok_or(WireError::Truncated)?;
                    (usize::from(*l) + 2) * 4
                }
                FRAGMENT => {
                    if rest.len() < 8 {
                        return Err(WireError::Truncated);
                    }
                    let off = be16(rest, 2);
                    fragment = Some(FragmentHeader {
                        offset: usize::from(off & 0xfff8),
                        more: off & 1 != 0,
                        ident: be32(rest, 4),
                    });
                    8
                }
                protocol => return Ok(Upper { protocol, payload: rest, fragment }),
            };
            if rest.len() < len {
                return Err(WireError::Truncated);
            }
            next = rest[0];
            rest = &rest[len..];
        }
        Err(WireError::Malformed)
    }
}

/// Write a fixed header into the start of `buf` (tests, generators).
pub fn emit(buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, payload_len: u16) {
    buf[..HEADER_LEN].fill(0);
    buf[0] = 0x60;
    put16(buf, field::PAYLOAD_LEN, payload_len);
    buf[field::NEXT_HEADER] = next_header;
    buf[field::HOP_LIMIT] = 64;
    buf[field::SRC..field::SRC + 16].copy_from_slice(&src.octets());
    buf[field::DST..field::DST + 16].copy_from_slice(&dst.octets());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(next: u8, ext: &[u8], data: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; HEADER_LEN];
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
        emit(&mut buf, src, dst, next, (ext.len() + data.len()) as u16);
        buf.extend_from_slice(ext);
        buf.extend_from_slice(data);
        buf
    }

    #[test]
    fn plain_udp() {
        let buf = packet(17, &[], b"payload");
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.src_addr().to_string(), "2001:db8::1");
        let up = p.upper().unwrap();
        assert_eq!((up.protocol, up.payload, up.fragment), (17, &b"payload"[..], None));
    }

    #[test]
    fn skips_hop_by_hop_then_reports_fragment() {
        let mut ext = vec![FRAGMENT, 0, 0, 0, 0, 0, 0, 0];
        ext.extend_from_slice(&[17, 0, 0x05, 0x69, 0xde, 0xad, 0xbe, 0xef]);
        let buf = packet(HOP_BY_HOP, &ext, b"x");
        let up = Packet::new_checked(&buf[..]).unwrap().upper().unwrap();
        assert_eq!(up.protocol, 17);
        assert_eq!(up.fragment, Some(FragmentHeader { offset: 0x568, more: true, ident: 0xdeadbeef }));
        assert_eq!(up.payload, b"x");
    }

    #[test]
    fn truncated_extension_and_loops() {
        let buf = packet(HOP_BY_HOP, &[17, 4], b"");
        assert_eq!(Packet::new_checked(&buf[..]).unwrap().upper().unwrap_err(), WireError::Truncated);
        let ext: Vec<u8> = (0..10).flat_map(|_| [DEST_OPTS, 0, 0, 0, 0, 0, 0, 0]).collect();
        let buf = packet(DEST_OPTS, &ext, b"");
        assert_eq!(Packet::new_checked(&buf[..]).unwrap().upper().unwrap_err(), WireError::Malformed);
        let buf = packet(17, &[], b"abc");
        for n in 0..buf.len() {
            assert!(Packet::new_checked(&buf[..n]).is_err());
        }
    }
}
