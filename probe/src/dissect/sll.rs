//! Linux "cooked" capture headers: SLL (link type 113) and SLL2 (link type 276).
//!
//! Layouts from libpcap's `pcap/sll.h`. SLL: packet type (2), ARPHRD type (2),
//! address length (2), address (8), protocol (2) = 16 bytes. SLL2: protocol
//! (2), reserved (2), interface index (4), ARPHRD type (2), packet type (1),
//! address length (1), address (8) = 20 bytes. The protocol is an EtherType.

use super::ethernet::EtherType;
use super::wire::{be16, be32, put16, put32, WireError};

/// Length of an SLL header.
pub const SLL_HEADER_LEN: usize = 16;
/// Length of an SLL2 header.
pub const SLL2_HEADER_LEN: usize = 20;

mod field {
    pub const SLL_PKTTYPE: usize = 0;
    pub const SLL_HATYPE: usize = 2;
    pub const SLL_PROTOCOL: usize = 14;
    pub const SLL2_PROTOCOL: usize = 0;
    pub const SLL2_IFINDEX: usize = 4;
    pub const SLL2_HATYPE: usize = 8;
    pub const SLL2_PKTTYPE: usize = 10;
}

/// Which of the two cooked header versions a view reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Link type 113.
    Sll,
    /// Link type 276.
    Sll2,
}

impl Version {
    fn header_len(self) -> usize {
        match self {
            Version::Sll => SLL_HEADER_LEN,
            Version::Sll2 => SLL2_HEADER_LEN,
        }
    }
}

/// A read-only view of a cooked header and what follows it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    version: Version,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer, checking it holds a whole header of `version`.
    pub fn new_checked(buffer: T, version: Version) -> Result<Self, WireError> {
        if buffer.as_ref().len() < version.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(Packet { buffer, version })
    }

    /// The EtherType of the payload.
    pub fn protocol(&self) -> EtherType {
        let at = match self.version {
            Version::Sll => field::SLL_PROTOCOL,
            Version::Sll2 => field::SLL2_PROTOCOL,
        };
        EtherType::from(be16(self.buffer.as_ref(), at))
    }

    /// Linux packet type (0 to us, 1 broadcast, 2 multicast, 3 other host, 4 outgoing).
    pub fn packet_type(&self) -> u8 {
        let b = self.buffer.as_ref();
        match self.version {
            Version::Sll => be16(b, field::SLL_PKTTYPE) as u8,
            Version::Sll2 => b[field::SLL2_PKTTYPE],
        }
    }

    /// ARPHRD_ hardware type of the interface.
    pub fn hardware_type(&self) -> u16 {
        let at = match self.version {
            Version::Sll => field::SLL_HATYPE,
            Version::Sll2 => field::SLL2_HATYPE,
        };
        be16(self.buffer.as_ref(), at)
    }

    /// Interface index (SLL2 only).
    pub fn interface_index(&self) -> Option<u32> {
        match self.version {
            Version::Sll => None,
            Version::Sll2 => Some(be32(self.buffer.as_ref(), field::SLL2_IFINDEX)),
        }
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.version.header_len()..]
    }
}

/// Write a cooked header for `protocol` into the start of `buf` (tests, generators).
pub fn emit(buf: &mut [u8], version: Version, protocol: EtherType) {
    buf[..version.header_len()].fill(0);
    match version {
        Version::Sll => {
            put16(buf, field::SLL_HATYPE, 1);
            put16(buf, 4, 6);
            put16(buf, field::SLL_PROTOCOL, protocol.into());
        }
        Version::Sll2 => {
            put16(buf, field::SLL2_PROTOCOL, protocol.into());
            put32(buf, field::SLL2_IFINDEX, 2);
            put16(buf, field::SLL2_HATYPE, 1);
            buf[11] = 6;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_versions_round_trip() {
        for version in [Version::Sll, Version::Sll2] {
            let mut buf = vec![0u8; version.header_len() + 2];
            emit(&mut buf, version, EtherType::Ipv6);
            buf[version.header_len()..].copy_from_slice(b"hi");
            let p = Packet::new_checked(&buf[..], version).unwrap();
            assert_eq!(p.protocol(), EtherType::Ipv6);
            assert_eq!(p.hardware_type(), 1);
            assert_eq!(p.payload(), b"hi");
            for n in 0..version.header_len() {
                assert!(Packet::new_checked(&buf[..n], version).is_err());
            }
        }
    }
}
