//! The decode chain from a captured frame to an IP packet: link layer
//! (Ethernet with VLAN tags, Linux SLL/SLL2, raw IP, BSD loopback), then IPv4
//! or IPv6, unwrapping IP-in-IP (RFC 2003, RFC 2473) and GRE (RFC 2784/2890)
//! including ERSPAN types II and III, as carriers mirror traffic with it.
//!
//! Pure functions over borrowed bytes: fragments are reported, not
//! reassembled (that needs state, see `track::ipfrag`).

use std::net::IpAddr;

use super::ethernet::{self, EtherType};
use super::wire::{be16, WireError};
use super::{ipv4, ipv6, sll, tcp, udp};
use crate::anomaly::Anomaly;

/// Link-layer header types the probe decodes (tcpdump.org LINKTYPE_ values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_LINUX_SLL (113).
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276).
    LinuxSll2,
    /// LINKTYPE_RAW (101) and the DLT_RAW values 12/14: IPv4 or IPv6 by version nibble.
    RawIp,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_NULL (0) and LINKTYPE_LOOP (108): a 4-byte address family.
    Null,
    /// Anything else.
    Unsupported(u32),
}

impl LinkType {
    /// Map a LINKTYPE_ number from a pcap or pcapng header.
    pub fn from_number(n: u32) -> LinkType {
        match n {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            101 | 12 | 14 => LinkType::RawIp,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            0 | 108 => LinkType::Null,
            other => LinkType::Unsupported(other),
        }
    }
}

/// IP protocol numbers the chain acts on.
pub mod proto {
    /// IPv4 encapsulated in IP.
    pub const IPIP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulated in IP.
    pub const IPV6: u8 = 41;
    /// GRE.
    pub const GRE: u8 = 47;
}

/// Deepest nesting of tunnels unwrapped before a frame is called malformed.
pub const MAX_TUNNEL_DEPTH: usize = 4;

/// A fragment's place in its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// IPv4 identification or IPv6 fragment identification.
    pub ident: u32,
    /// Offset of this fragment's data in bytes.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
}

/// An IP packet reduced to what the upper layers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol number.
    pub protocol: u8,
    /// Upper-layer bytes (for a fragment, this fragment's bytes).
    pub payload: &'a [u8],
    /// Set when the packet is a fragment.
    pub fragment: Option<Fragment>,
}

/// Decode a frame of `link` type to its (innermost) IP packet.
///
/// `Ok(None)` is a frame that carries no IP (ARP, LLDP, …): not an error.
pub fn decode_frame(link: LinkType, data: &[u8]) -> Result<Option<IpPacket<'_>>, Anomaly> {
    match link {
        LinkType::Ethernet => decode_ethernet(data, 0),
        LinkType::LinuxSll | LinkType::LinuxSll2 => {
            let version = if link == LinkType::LinuxSll { sll::Version::Sll } else { sll::Version::Sll2 };
            let p = sll::Packet::new_checked(data, version).map_err(|_| Anomaly::SllTruncated)?;
            decode_ethertype(p.protocol(), p.payload(), 0)
        }
        LinkType::RawIp => decode_ip(data, 0),
        LinkType::Ipv4 => decode_ipv4(data, 0).map(Some),
        LinkType::Ipv6 => decode_ipv6(data, 0).map(Some),
        LinkType::Null => {
            if data.len() < 4 {
                return Err(Anomaly::NullTruncated);
            }
            // The family is in the writer's byte order; IPv4 is 2 everywhere and
            // IPv6 is 10, 24, 28 or 30 by OS, so the version nibble decides.
            decode_ip(&data[4..], 0)
        }
        LinkType::Unsupported(_) => Err(Anomaly::LinkTypeUnsupported),
    }
}

fn decode_ethernet(data: &[u8], depth: usize) -> Result<Option<IpPacket<'_>>, Anomaly> {
    let frame = ethernet::Frame::new_checked(data).map_err(|_| Anomaly::EthernetTruncated)?;
    decode_ethertype(frame.ethertype(), frame.payload(), depth)
}

fn decode_ethertype(
    mut ethertype: EtherType,
    mut payload: &[u8],
    depth: usize,
) -> Result<Option<IpPacket<'_>>, Anomaly> {
    let mut tags = 0;
    while ethertype.is_vlan_tag() {
        tags += 1;
        if tags > ethernet::MAX_VLAN_TAGS {
            return Err(Anomaly::VlanMalformed);
        }
        let tag = ethernet::VlanTag::new_checked(payload).map_err(|_| Anomaly::VlanMalformed)?;
        ethertype = tag.ethertype();
        payload = tag.payload();
    }
    match ethertype {
        EtherType::Ipv4 => decode_ipv4(payload, depth).map(Some),
        EtherType::Ipv6 => decode_ipv6(payload, depth).map(Some),
        _ => Ok(None),
    }
}

/// Decode IPv4 or IPv6 by the version nibble.
pub fn decode_ip(data: &[u8], depth: usize) -> Result<Option<IpPacket<'_>>, Anomaly> {
    match data.first().map(|b| b >> 4) {
        Some(4) => decode_ipv4(data, depth).map(Some),
        Some(6) => decode_ipv6(data, depth).map(Some),
        Some(_) => Err(Anomaly::Ipv4Malformed),
        None => Err(Anomaly::Ipv4Truncated),
    }
}

fn decode_ipv4(data: &[u8], depth: usize) -> Result<IpPacket<'_>, Anomaly> {
    let p = ipv4::Packet::new_checked(data).map_err(|e| match e {
        WireError::Truncated => Anomaly::Ipv4Truncated,
        WireError::Malformed => Anomaly::Ipv4Malformed,
    })?;
    let fragment = p.is_fragment().then(|| Fragment {
        ident: u32::from(p.ident()),
        offset: p.frag_offset(),
        more: p.more_frags(),
    });
    let packet = IpPacket {
        src: IpAddr::V4(p.src_addr()),
        dst: IpAddr::V4(p.dst_addr()),
        protocol: p.protocol(),
        payload: p.payload(),
        fragment,
    };
    unwrap_tunnel(packet, depth)
}

fn decode_ipv6(data: &[u8], depth: usize) -> Result<IpPacket<'_>, Anomaly> {
    let map = |e| match e {
        WireError::Truncated => Anomaly::Ipv6Truncated,
        WireError::Malformed => Anomaly::Ipv6Malformed,
    };
    let p = ipv6::Packet::new_checked(data).map_err(map)?;
    let upper = p.upper().map_err(map)?;
    let packet = IpPacket {
        src: IpAddr::V6(p.src_addr()),
        dst: IpAddr::V6(p.dst_addr()),
        protocol: upper.protocol,
        payload: upper.payload,
        fragment: upper.fragment.map(|f| Fragment { ident: f.ident, offset: f.offset, more: f.more }),
    };
    unwrap_tunnel(packet, depth)
}

/// If `packet` is an unfragmented tunnel, decode what it carries instead.
fn unwrap_tunnel(packet: IpPacket<'_>, depth: usize) -> Result<IpPacket<'_>, Anomaly> {
    if packet.fragment.is_some() {
        return Ok(packet);
    }
    let inner = match packet.protocol {
        proto::IPIP | proto::IPV6 | proto::GRE if depth >= MAX_TUNNEL_DEPTH => return Err(Anomaly::TunnelTooDeep),
        proto::IPIP => decode_ipv4(packet.payload, depth + 1)?,
        proto::IPV6 => decode_ipv6(packet.payload, depth + 1)?,
        proto::GRE => match decode_gre(packet.payload, depth + 1) {
            Some(Ok(Some(inner))) => inner,
            Some(Err(e)) => return Err(e),
            // GRE carrying something else (PPP, MPLS, keep-alives): keep the outer packet.
            Some(Ok(None)) | None => return Ok(packet),
        },
        _ => return Ok(packet),
    };
    Ok(inner)
}

/// GRE (RFC 2784, key and sequence fields from RFC 2890) and the ERSPAN
/// headers that Cisco-style port mirroring puts inside it.
fn decode_gre(data: &[u8], depth: usize) -> Option<Result<Option<IpPacket<'_>>, Anomaly>> {
    if data.len() < 4 {
        return None;
    }
    let flags = be16(data, 0);
    if flags & 0x0007 != 0 {
        // Version 1 is PPTP's enhanced GRE: not a mirror.
        return None;
    }
    let mut len = 4;
    if flags & 0x8000 != 0 {
        len += 4;
    }
    if flags & 0x2000 != 0 {
        len += 4;
    }
    let has_seq = flags & 0x1000 != 0;
    if has_seq {
        len += 4;
    }
    let payload = data.get(len..)?;
    match be16(data, 2) {
        0x0800 | 0x86dd => Some(decode_ip(payload, depth)),
        0x6558 => Some(decode_ethernet(payload, depth)),
        // ERSPAN type II: an 8-byte header (sequenced GRE); type I has none.
        0x88be => {
            let skip = if has_seq { 8 } else { 0 };
            Some(decode_ethernet(payload.get(skip..)?, depth))
        }
        // ERSPAN type III: 12 bytes, plus an 8-byte platform subheader when O is set.
        0x22eb => {
            let hdr = payload.get(..12)?;
            let skip = if hdr[11] & 0x01 != 0 { 20 } else { 12 };
            Some(decode_ethernet(payload.get(skip..)?, depth))
        }
        _ => None,
    }
}

/// The transport layer of a whole (unfragmented or reassembled) datagram.
#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    /// A UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Payload.
        payload: &'a [u8],
    },
    /// A TCP segment.
    Tcp(tcp::Packet<&'a [u8]>),
    /// Another protocol, by number.
    Other(u8),
}

/// Decode the transport header of a whole datagram carrying `protocol`.
pub fn decode_transport(protocol: u8, payload: &[u8]) -> Result<Transport<'_>, Anomaly> {
    match protocol {
        proto::UDP => {
            let p = udp::Packet::new_checked(payload).map_err(|e| match e {
                WireError::Truncated => Anomaly::UdpTruncated,
                WireError::Malformed => Anomaly::UdpMalformed,
            })?;
            Ok(Transport::Udp { src_port: p.src_port(), dst_port: p.dst_port(), payload: p.payload() })
        }
        proto::TCP => {
            let p = tcp::Packet::new_checked(payload).map_err(|e| match e {
                WireError::Truncated => Anomaly::TcpTruncated,
                WireError::Malformed => Anomaly::TcpMalformed,
            })?;
            Ok(Transport::Tcp(p))
        }
        other => Ok(Transport::Other(other)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ipv4_udp(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 28];
        let repr = ipv4::Repr {
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            protocol: proto::UDP,
            payload_len: 8 + payload.len(),
            ident: 1,
            frag_offset: 0,
            more_frags: false,
            ttl: 64,
        };
        repr.emit(&mut buf);
        udp::emit(&mut buf[20..], 5060, 5060, payload.len());
        buf.extend_from_slice(payload);
        buf
    }

    fn ethernet(ethertype: EtherType, vlans: Vec<u16>, inner: &[u8]) -> Vec<u8> {
        let repr = ethernet::Repr { dst: [2; 6], src: [4; 6], vlans, ethertype };
        let mut buf = vec![0u8; repr.header_len()];
        repr.emit(&mut buf);
        buf.extend_from_slice(inner);
        buf
    }

    #[test]
    fn ethernet_qinq_ipv4_udp() {
        let frame = ethernet(EtherType::Ipv4, vec![10, 20], &ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], b"hello"));
        let ip = decode_frame(LinkType::Ethernet, &frame).unwrap().unwrap();
        assert_eq!(ip.src.to_string(), "10.0.0.1");
        match decode_transport(ip.protocol, ip.payload).unwrap() {
            Transport::Udp { src_port, payload, .. } => assert_eq!((src_port, payload), (5060, &b"hello"[..])),
            other => panic!("expected UDP, got {other:?}"),
        }
    }

    #[test]
    fn ip_in_ip_and_gre_are_unwrapped() {
        let inner = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], b"x");
        let mut outer = vec![0u8; 20];
        ipv4::Repr {
            src: Ipv4Addr::new(1, 1, 1, 1),
            dst: Ipv4Addr::new(2, 2, 2, 2),
            protocol: proto::IPIP,
            payload_len: inner.len(),
            ident: 2,
            frag_offset: 0,
            more_frags: false,
            ttl: 64,
        }
        .emit(&mut outer);
        outer.extend_from_slice(&inner);
        let ip = decode_frame(LinkType::RawIp, &outer).unwrap().unwrap();
        assert_eq!(ip.src.to_string(), "10.0.0.1");

        // GRE with ERSPAN II (sequence flag set, 8-byte ERSPAN header) around Ethernet.
        let mut gre = vec![0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1];
        gre.extend_from_slice(&[0u8; 8]);
        gre.extend_from_slice(&ethernet(EtherType::Ipv4, vec![], &inner));
        let mut outer = vec![0u8; 20];
        ipv4::Repr {
            src: Ipv4Addr::new(1, 1, 1, 1),
            dst: Ipv4Addr::new(2, 2, 2, 2),
            protocol: proto::GRE,
            payload_len: gre.len(),
            ident: 3,
            frag_offset: 0,
            more_frags: false,
            ttl: 64,
        }
        .emit(&mut outer);
        outer.extend_from_slice(&gre);
        let ip = decode_frame(LinkType::RawIp, &outer).unwrap().unwrap();
        assert_eq!(ip.dst.to_string(), "10.0.0.2");
    }

    #[test]
    fn every_prefix_of_a_frame_decodes_or_errs_without_panic() {
        let frame = ethernet(EtherType::Ipv4, vec![7], &ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], b"abcdef"));
        for n in 0..frame.len() {
            if let Ok(Some(ip)) = decode_frame(LinkType::Ethernet, &frame[..n]) {
                let _ = decode_transport(ip.protocol, ip.payload);
            }
        }
        assert_eq!(decode_frame(LinkType::Ethernet, &frame[..5]), Err(Anomaly::EthernetTruncated));
        assert_eq!(decode_frame(LinkType::Ethernet, &frame[..30]), Err(Anomaly::Ipv4Truncated));
    }

    #[test]
    fn non_ip_and_unsupported_links() {
        let arp = ethernet(EtherType::Arp, vec![], &[0u8; 28]);
        assert_eq!(decode_frame(LinkType::Ethernet, &arp), Ok(None));
        assert_eq!(decode_frame(LinkType::from_number(147), &arp), Err(Anomaly::LinkTypeUnsupported));
    }
}
