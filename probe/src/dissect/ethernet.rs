//! Ethernet II frames and IEEE 802.1Q / 802.1ad (QinQ) VLAN tags.
//!
//! IEEE 802.3 clause 3.2: destination (6), source (6), EtherType (2), payload.
//! A VLAN tag (IEEE 802.1Q clause 9.6) is TCI (2) then the inner EtherType (2).

use super::wire::{be16, open_enum, put16, WireError};

open_enum! {
    /// EtherType values the probe acts on.
    pub enum EtherType(u16) {
        /// IPv4.
        Ipv4 = 0x0800,
        /// ARP.
        Arp = 0x0806,
        /// IEEE 802.1Q customer VLAN tag.
        Vlan = 0x8100,
        /// IPv6.
        Ipv6 = 0x86dd,
        /// IEEE 802.1ad service VLAN tag (QinQ outer tag).
        QinQ = 0x88a8,
        /// Pre-standard QinQ tag used by some switches.
        QinQLegacy = 0x9100,
    }
}

impl EtherType {
    /// True for the tag types that carry a VLAN header.
    pub fn is_vlan_tag(self) -> bool {
        matches!(self, EtherType::Vlan | EtherType::QinQ | EtherType::QinQLegacy)
    }
}

mod field {
    use std::ops::{Range, RangeFrom};
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const PAYLOAD: RangeFrom<usize> = 14..;
    pub const VLAN_TCI: usize = 0;
    pub const VLAN_ETHERTYPE: usize = 2;
    pub const VLAN_PAYLOAD: RangeFrom<usize> = 4..;
}

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Length of one VLAN tag.
pub const VLAN_TAG_LEN: usize = 4;

/// A read-only view of an Ethernet II frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wrap a buffer, checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Frame { buffer })
    }

    /// Destination MAC address.
    pub fn dst_addr(&self) -> [u8; 6] {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::DESTINATION]);
        a
    }

    /// Source MAC address.
    pub fn src_addr(&self) -> [u8; 6] {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::SOURCE]);
        a
    }

    /// The EtherType of the payload.
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(be16(self.buffer.as_ref(), field::ETHERTYPE))
    }
}

impl<'a> Frame<&'a [u8]> {
    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[field::PAYLOAD]
    }
}

/// A read-only view of one 802.1Q / 802.1ad tag (the 4 bytes after a tag EtherType).
#[derive(Debug, Clone, Copy)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    /// Wrap a buffer, checking it holds a whole tag.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < VLAN_TAG_LEN {
            return Err(WireError::Truncated);
        }
        Ok(VlanTag { buffer })
    }

    /// The 12-bit VLAN identifier.
    pub fn vlan_id(&self) -> u16 {
        be16(self.buffer.as_ref(), field::VLAN_TCI) & 0x0fff
    }

    /// The 3-bit priority code point.
    pub fn priority(&self) -> u8 {
        (be16(self.buffer.as_ref(), field::VLAN_TCI) >> 13) as u8
    }

    /// The EtherType of what follows the tag.
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(be16(self.buffer.as_ref(), field::VLAN_ETHERTYPE))
    }
}

impl<'a> VlanTag<&'a [u8]> {
    /// The bytes after the tag.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[field::VLAN_PAYLOAD]
    }
}

/// The owned form of an Ethernet header with its VLAN tags, for tests and generators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// Destination MAC.
    pub dst: [u8; 6],
    /// Source MAC.
    pub src: [u8; 6],
    /// VLAN ids, outermost first.
    pub vlans: Vec<u16>,
    /// EtherType of the payload after the last tag.
    pub ethertype: EtherType,
}

impl Repr {
    /// Parse the header and any VLAN tags; returns the payload too.
    pub fn parse(buf: &[u8]) -> Result<(Repr, &[u8]), WireError> {
        let frame = Frame::new_checked(buf)?;
        let mut ethertype = frame.ethertype();
        let mut payload = frame.payload();
        let mut vlans = Vec::new();
        while ethertype.is_vlan_tag() {
            if vlans.len() >= MAX_VLAN_TAGS {
                return Err(WireError::Malformed);
            }
            let tag = VlanTag::new_checked(payload)?;
            vlans.push(tag.vlan_id());
            ethertype = tag.ethertype();
            payload = tag.payload();
        }
        Ok((Repr { dst: frame.dst_addr(), src: frame.src_addr(), vlans, ethertype }, payload))
    }

    /// Bytes `emit` writes.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + VLAN_TAG_LEN * self.vlans.len()
    }

    /// Write the header (and tags) into the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::DESTINATION].copy_from_slice(&self.dst);
        buf[field::SOURCE].copy_from_slice(&self.src);
        let mut at = field::ETHERTYPE;
        for (i, id) in self.vlans.iter().enumerate() {
            let tpid = if i + 1 < self.vlans.len() { EtherType::QinQ } else { EtherType::Vlan };
            put16(buf, at, tpid.into());
            put16(buf, at + 2, id & 0x0fff);
            at += VLAN_TAG_LEN;
        }
        put16(buf, at, self.ethertype.into());
    }
}

/// Most VLAN tags accepted in one frame; real networks stack two (QinQ).
pub const MAX_VLAN_TAGS: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_qinq() {
        let repr = Repr { dst: [1; 6], src: [2; 6], vlans: vec![100, 200], ethertype: EtherType::Ipv4 };
        let mut buf = vec![0u8; repr.header_len() + 3];
        repr.emit(&mut buf);
        buf[repr.header_len()..].copy_from_slice(b"abc");
        let (parsed, payload) = Repr::parse(&buf).unwrap();
        assert_eq!(parsed, repr);
        assert_eq!(payload, b"abc");
    }

    #[test]
    fn growing_prefix_never_panics() {
        let repr = Repr { dst: [1; 6], src: [2; 6], vlans: vec![7], ethertype: EtherType::Ipv6 };
        let mut buf = vec![0u8; repr.header_len()];
        repr.emit(&mut buf);
        for n in 0..buf.len() {
            assert_eq!(Repr::parse(&buf[..n]).unwrap_err(), WireError::Truncated, "prefix {n}");
        }
        assert!(Repr::parse(&buf).is_ok());
    }

    #[test]
    fn too_many_tags_is_malformed() {
        let mut buf = vec![0u8; 12];
        for _ in 0..6 {
            buf.extend_from_slice(&[0x81, 0x00, 0x00, 0x01]);
        }
        buf.extend_from_slice(&[0x08, 0x00]);
        assert_eq!(Repr::parse(&buf).unwrap_err(), WireError::Malformed);
    }

    #[test]
    fn unknown_ethertype_is_kept() {
        assert_eq!(EtherType::from(0x1234), EtherType::Unknown(0x1234));
        assert_eq!(u16::from(EtherType::Unknown(0x1234)), 0x1234);
    }
}
