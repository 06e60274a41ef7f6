//! A writer of synthetic frames into a classic pcap file.
//!
//! Contract: every frame is Ethernet II (optionally one 802.1Q tag) carrying IPv4 or
//! IPv6, then UDP or TCP. Lengths and checksums are right: the IPv4 header checksum
//! (RFC 791), the UDP checksum over the pseudo-header (RFC 768; over the whole datagram
//! when it is fragmented), the TCP checksum (RFC 9293). Frames shorter than the Ethernet
//! minimum are zero-padded to 60 bytes, as a receiving NIC delivers them, so decoders
//! must trust the IP length rather than the frame length.
//!
//! The file is little-endian, microsecond timestamps, link type Ethernet (1), whatever
//! the host, so the same calls give byte-identical files everywhere. Timestamps are
//! microseconds since the Unix epoch; the writer does not reorder frames.
//!
//! MAC addresses are derived from IP addresses (locally administered `02:…`), IPv4
//! identifications come from one counter, TCP initial sequence numbers from a hash of
//! the two endpoints: nothing here is random.
//!
//! TCP: [`PcapOut::tcp_segment`] keeps per-connection sequence and acknowledgement
//! numbers and opens the connection (SYN, SYN-ACK, ACK) the first time a pair is used.
//! Callers split a message by calling it several times, coalesce messages by passing
//! them concatenated, and repeat a segment with [`PcapOut::tcp_resend`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use pcap_file::pcap::{PcapHeader, PcapWriter, RawPcapPacket};
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::error::{Error, ErrorKind};

/// Snapshot length written in the file header (tcpdump's default).
pub const SNAPLEN: u32 = 262_144;
/// The MTU the simulator fragments at.
pub const ETHERNET_MTU: usize = 1500;
/// Maximum TCP segment payload the simulator sends (1500 − 20 − 20).
pub const TCP_MSS: usize = 1460;
/// Largest UDP payload in one IPv4 datagram (65535 − 20 − 8).
pub const MAX_UDP_PAYLOAD: usize = 65_507;
/// Largest TCP payload one IPv4/IPv6 packet can carry here (65535 − 40 − 20).
pub const MAX_TCP_PAYLOAD: usize = 65_475;

/// Ethernet frames shorter than this (without FCS) are padded.
const ETH_MIN_FRAME: usize = 60;

mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
}

mod proto {
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
}

/// TCP flag bits (RFC 9293 §3.1).
mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// IPv4 "more fragments" flag, in the flags/offset word.
const IPV4_MF: u16 = 0x2000;
/// IPv4 "don't fragment" flag.
const IPV4_DF: u16 = 0x4000;
const TCP_WINDOW: u16 = 64_240;

/// The locally administered MAC address the writer gives an IP address.
pub fn mac_for(ip: IpAddr) -> [u8; 6] {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            [0x02, 0x00, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [0x02, 0x06, o[12], o[13], o[14], o[15]]
        }
    }
}

/// Sequence state of one TCP connection, keyed by its two endpoints in sorted order.
#[derive(Debug)]
struct TcpFlow {
    /// The lower-sorting endpoint; `next[0]` is its next sequence number.
    low: SocketAddr,
    next: [u32; 2],
}

impl TcpFlow {
    fn dir(&self, src: SocketAddr) -> usize {
        usize::from(src != self.low)
    }
}

fn flow_key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Deterministic initial sequence number: FNV-1a over the two endpoints.
fn isn(src: SocketAddr, dst: SocketAddr) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    for a in [src, dst] {
        match a.ip() {
            IpAddr::V4(ip) => eat(&ip.octets()),
            IpAddr::V6(ip) => eat(&ip.octets()),
        }
        eat(&a.port().to_be_bytes());
    }
    h
}

/// Adds `data` as big-endian 16-bit words to a one's-complement accumulator.
fn ones_sum(data: &[u8], mut acc: u64) -> u64 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds and complements an accumulator into an Internet checksum (RFC 1071).
fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The Internet checksum of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    fold(ones_sum(data, 0))
}

fn pseudo_header_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u64 {
    let mut acc = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = ones_sum(&s.octets(), acc);
            acc = ones_sum(&d.octets(), acc);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            acc = ones_sum(&s.octets(), acc);
            acc = ones_sum(&d.octets(), acc);
        }
        _ => unreachable!("address families checked by the caller"),
    }
    acc + u64::from(proto) + len as u64
}

/// Writes synthetic Ethernet frames into a pcap stream.
#[derive(Debug)]
pub struct PcapOut<W: Write> {
    writer: PcapWriter<W>,
    frame: Vec<u8>,
    scratch: Vec<u8>,
    ip_id: u16,
    vlans: Vec<(IpAddr, u16)>,
    tcp: HashMap<(SocketAddr, SocketAddr), TcpFlow>,
    packets: u64,
    bytes: u64,
}

impl<W: Write> PcapOut<W> {
    /// Writes the pcap file header and returns the writer.
    pub fn new(writer: W) -> Result<Self, Error> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::Little,
        };
        let writer = PcapWriter::with_header(writer, header).map_err(Error::pcap)?;
        Ok(PcapOut {
            writer,
            frame: Vec::with_capacity(2048),
            scratch: Vec::new(),
            ip_id: 1,
            vlans: Vec::new(),
            tcp: HashMap::new(),
            packets: 0,
            bytes: 24,
        })
    }

    /// Frames written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Bytes written so far, file header and record headers included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Tags every later frame from or to `ip` with 802.1Q VLAN `vlan` (the source's
    /// tag wins when both ends have one), as a tap on a trunk port sees that host.
    pub fn set_host_vlan(&mut self, ip: IpAddr, vlan: u16) {
        self.vlans.retain(|(i, _)| *i != ip);
        self.vlans.push((ip, vlan & 0x0fff));
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, Error> {
        let mut w = self.writer.into_writer();
        w.flush().map_err(|e| Error::io("flushing pcap", e))?;
        Ok(w)
    }

    /// One UDP datagram in one frame, over IPv4 or IPv6 according to the addresses.
    pub fn udp(&mut self, ts_us: u64, src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Result<(), Error> {
        let vlan = self.host_vlan(src.ip(), dst.ip());
        self.udp_frame(ts_us, src, dst, payload, vlan)
    }

    /// One UDP datagram over IPv4 whose IP identification the caller gives: a sender
    /// with its own counter, which leaves the shared one (and so every other frame's
    /// bytes) as it would be without this sender.
    pub fn udp_with_ip_id(
        &mut self,
        ts_us: u64,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
        ip_id: u16,
    ) -> Result<(), Error> {
        let vlan = self.host_vlan(IpAddr::V4(*src.ip()), IpAddr::V4(*dst.ip()));
        self.udp_frame_id(ts_us, src.into(), dst.into(), payload, vlan, Some(ip_id))
    }

    /// One UDP datagram with an explicit 802.1Q tag.
    pub fn udp_vlan(
        &mut self,
        ts_us: u64,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        vlan: u16,
    ) -> Result<(), Error> {
        self.udp_frame(ts_us, src, dst, payload, Some(vlan & 0x0fff))
    }

    /// One UDP datagram over IPv6 (the typed twin of [`PcapOut::udp`]).
    pub fn udp_v6(&mut self, ts_us: u64, src: SocketAddrV6, dst: SocketAddrV6, payload: &[u8]) -> Result<(), Error> {
        self.udp(ts_us, src.into(), dst.into(), payload)
    }

    /// One UDP datagram over IPv4, cut into fragments that fit `mtu` (IP header
    /// included), each its own frame, in order. Returns the number of frames; a
    /// datagram that fits is written whole (1 frame).
    pub fn udp_fragmented(
        &mut self,
        ts_us: u64,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
        mtu: usize,
    ) -> Result<usize, Error> {
        if payload.len() > MAX_UDP_PAYLOAD {
            return Err(Error::new(ErrorKind::Frame, format!("UDP payload of {} bytes", payload.len())));
        }
        let chunk = mtu.saturating_sub(20) / 8 * 8;
        if chunk < 8 {
            return Err(Error::new(ErrorKind::Frame, format!("MTU {mtu} too small")));
        }
        let (s, d) = (SocketAddr::V4(src), SocketAddr::V4(dst));
        let vlan = self.host_vlan(s.ip(), d.ip());
        if payload.len() + 8 <= chunk {
            self.udp_frame(ts_us, s, d, payload, vlan)?;
            return Ok(1);
        }
        let mut dgram = std::mem::take(&mut self.scratch);
        dgram.clear();
        let udp_len = 8 + payload.len();
        dgram.extend_from_slice(&src.port().to_be_bytes());
        dgram.extend_from_slice(&dst.port().to_be_bytes());
        dgram.extend_from_slice(&(udp_len as u16).to_be_bytes());
        dgram.extend_from_slice(&[0, 0]);
        dgram.extend_from_slice(payload);
        let sum = fold(ones_sum(&dgram, pseudo_header_sum(s.ip(), d.ip(), proto::UDP, udp_len)));
        dgram[6..8].copy_from_slice(&nonzero(sum).to_be_bytes());

        let id = self.next_ip_id();
        let mut frames = 0;
        let mut result = Ok(());
        for (i, part) in dgram.chunks(chunk).enumerate() {
            let offset = i * chunk;
            let more = offset + part.len() < dgram.len();
            let frag = (offset / 8) as u16 | if more { IPV4_MF } else { 0 };
            self.begin(s.ip(), d.ip(), vlan);
            self.push_ipv4(*src.ip(), *dst.ip(), proto::UDP, id, frag, part.len());
            self.frame.extend_from_slice(part);
            result = self.emit(ts_us);
            if result.is_err() {
                break;
            }
            frames += 1;
        }
        self.scratch = dgram;
        result.map(|()| frames)
    }

    /// Opens a TCP connection: SYN from `client`, SYN-ACK, ACK, all at `ts_us`.
    /// Does nothing if the pair already has a connection.
    pub fn tcp_connect(&mut self, ts_us: u64, client: SocketAddr, server: SocketAddr) -> Result<(), Error> {
        check_families(client, server)?;
        let key = flow_key(client, server);
        if self.tcp.contains_key(&key) {
            return Ok(());
        }
        let (ci, si) = (isn(client, server), isn(server, client));
        self.tcp_frame(ts_us, client, server, ci, 0, tcp_flags::SYN, &[])?;
        self.tcp_frame(ts_us, server, client, si, ci.wrapping_add(1), tcp_flags::SYN | tcp_flags::ACK, &[])?;
        self.tcp_frame(ts_us, client, server, ci.wrapping_add(1), si.wrapping_add(1), tcp_flags::ACK, &[])?;
        let mut flow = TcpFlow { low: key.0, next: [0; 2] };
        let cd = flow.dir(client);
        flow.next[cd] = ci.wrapping_add(1);
        flow.next[1 - cd] = si.wrapping_add(1);
        self.tcp.insert(key, flow);
        Ok(())
    }

    /// One TCP data segment (PSH, ACK) from `src` to `dst` carrying `payload`, with
    /// the connection's next sequence number and the peer's next as acknowledgement.
    /// Opens the connection first (with `src` as client) if needed. Returns the
    /// segment's sequence number, for [`PcapOut::tcp_resend`].
    pub fn tcp_segment(&mut self, ts_us: u64, src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Result<u32, Error> {
        if payload.len() > MAX_TCP_PAYLOAD {
            return Err(Error::new(ErrorKind::Frame, format!("TCP payload of {} bytes", payload.len())));
        }
        self.tcp_connect(ts_us, src, dst)?;
        let flow = &self.tcp[&flow_key(src, dst)];
        let d = flow.dir(src);
        let (seq, ack) = (flow.next[d], flow.next[1 - d]);
        self.tcp_frame(ts_us, src, dst, seq, ack, tcp_flags::PSH | tcp_flags::ACK, payload)?;
        if let Some(flow) = self.tcp.get_mut(&flow_key(src, dst)) {
            flow.next[d] = seq.wrapping_add(payload.len() as u32);
        }
        Ok(seq)
    }

    /// Several segments of at most `mss` bytes carrying `payload` back to back.
    /// Returns the number of segments.
    pub fn tcp_send(
        &mut self,
        ts_us: u64,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        mss: usize,
    ) -> Result<usize, Error> {
        let mss = mss.clamp(1, MAX_TCP_PAYLOAD);
        let mut n = 0;
        for part in payload.chunks(mss) {
            self.tcp_segment(ts_us, src, dst, part)?;
            n += 1;
        }
        Ok(n)
    }

    /// Repeats data already sent (a retransmission): `payload` at sequence `seq`, with
    /// the current acknowledgement number. The connection's state does not move.
    pub fn tcp_resend(
        &mut self,
        ts_us: u64,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        payload: &[u8],
    ) -> Result<(), Error> {
        let Some(flow) = self.tcp.get(&flow_key(src, dst)) else {
            return Err(Error::new(ErrorKind::Frame, format!("no TCP connection {src} -> {dst} to retransmit on")));
        };
        let ack = flow.next[1 - flow.dir(src)];
        self.tcp_frame(ts_us, src, dst, seq, ack, tcp_flags::PSH | tcp_flags::ACK, payload)
    }

    /// Closes a connection: FIN-ACK from `src`, FIN-ACK back, final ACK; forgets it.
    pub fn tcp_close(&mut self, ts_us: u64, src: SocketAddr, dst: SocketAddr) -> Result<(), Error> {
        let Some(flow) = self.tcp.remove(&flow_key(src, dst)) else {
            return Ok(());
        };
        let d = flow.dir(src);
        let (a, b) = (flow.next[d], flow.next[1 - d]);
        let fin = tcp_flags::FIN | tcp_flags::ACK;
        self.tcp_frame(ts_us, src, dst, a, b, fin, &[])?;
        self.tcp_frame(ts_us, dst, src, b, a.wrapping_add(1), fin, &[])?;
        self.tcp_frame(ts_us, src, dst, a.wrapping_add(1), b.wrapping_add(1), tcp_flags::ACK, &[])
    }

    fn host_vlan(&self, src: IpAddr, dst: IpAddr) -> Option<u16> {
        if self.vlans.is_empty() {
            return None;
        }
        let find = |ip: IpAddr| self.vlans.iter().find(|(i, _)| *i == ip).map(|(_, v)| *v);
        find(src).or_else(|| find(dst))
    }

    fn next_ip_id(&mut self) -> u16 {
        let id = self.ip_id;
        self.ip_id = self.ip_id.wrapping_add(1);
        id
    }

    fn udp_frame(
        &mut self,
        ts_us: u64,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        vlan: Option<u16>,
    ) -> Result<(), Error> {
        self.udp_frame_id(ts_us, src, dst, payload, vlan, None)
    }

    /// A UDP frame; `ip_id` overrides the shared IPv4 identification counter.
    fn udp_frame_id(
        &mut self,
        ts_us: u64,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        vlan: Option<u16>,
        ip_id: Option<u16>,
    ) -> Result<(), Error> {
        check_families(src, dst)?;
        if payload.len() > MAX_UDP_PAYLOAD {
            return Err(Error::new(ErrorKind::Frame, format!("UDP payload of {} bytes", payload.len())));
        }
        let udp_len = 8 + payload.len();
        self.begin(src.ip(), dst.ip(), vlan);
        match (src.ip(), dst.ip(), ip_id) {
            (IpAddr::V4(s), IpAddr::V4(d), Some(id)) => self.push_ipv4(s, d, proto::UDP, id, 0, udp_len),
            _ => self.push_ip(src.ip(), dst.ip(), proto::UDP, 0, udp_len),
        }
        let l4 = self.frame.len();
        self.frame.extend_from_slice(&src.port().to_be_bytes());
        self.frame.extend_from_slice(&dst.port().to_be_bytes());
        self.frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
        self.frame.extend_from_slice(&[0, 0]);
        self.frame.extend_from_slice(payload);
        let sum = fold(ones_sum(&self.frame[l4..], pseudo_header_sum(src.ip(), dst.ip(), proto::UDP, udp_len)));
        self.frame[l4 + 6..l4 + 8].copy_from_slice(&nonzero(sum).to_be_bytes());
        self.emit(ts_us)
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp_frame(
        &mut self,
        ts_us: u64,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) -> Result<(), Error> {
        // SYNs carry one option, MSS; everything else a bare 20-byte header.
        let syn = flags & tcp_flags::SYN != 0;
        let hdr_len = if syn { 24 } else { 20 };
        let seg_len = hdr_len + payload.len();
        let vlan = self.host_vlan(src.ip(), dst.ip());
        self.begin(src.ip(), dst.ip(), vlan);
        self.push_ip(src.ip(), dst.ip(), proto::TCP, IPV4_DF, seg_len);
        let l4 = self.frame.len();
        let f = &mut self.frame;
        f.extend_from_slice(&src.port().to_be_bytes());
        f.extend_from_slice(&dst.port().to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.push(((hdr_len / 4) as u8) << 4);
        f.push(flags);
        f.extend_from_slice(&TCP_WINDOW.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]);
        if syn {
            f.extend_from_slice(&[2, 4]);
            f.extend_from_slice(&(TCP_MSS as u16).to_be_bytes());
        }
        f.extend_from_slice(payload);
        let sum = fold(ones_sum(&self.frame[l4..], pseudo_header_sum(src.ip(), dst.ip(), proto::TCP, seg_len)));
        self.frame[l4 + 16..l4 + 18].copy_from_slice(&sum.to_be_bytes());
        self.emit(ts_us)
    }

    /// Starts a frame: Ethernet header, optional 802.1Q tag, EtherType.
    fn begin(&mut self, src: IpAddr, dst: IpAddr, vlan: Option<u16>) {
        self.frame.clear();
        self.frame.extend_from_slice(&mac_for(dst));
        self.frame.extend_from_slice(&mac_for(src));
        if let Some(v) = vlan {
            self.frame.extend_from_slice(&ethertype::VLAN.to_be_bytes());
            self.frame.extend_from_slice(&(v & 0x0fff).to_be_bytes());
        }
        let et = if src.is_ipv4() { ethertype::IPV4 } else { ethertype::IPV6 };
        self.frame.extend_from_slice(&et.to_be_bytes());
    }

    /// An unfragmented IP header for `payload_len` bytes of `proto`.
    fn push_ip(&mut self, src: IpAddr, dst: IpAddr, proto: u8, flags: u16, payload_len: usize) {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let id = self.next_ip_id();
                self.push_ipv4(s, d, proto, id, flags, payload_len);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => self.push_ipv6(s, d, proto, payload_len),
            _ => unreachable!("address families checked by the caller"),
        }
    }

    fn push_ipv4(&mut self, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, id: u16, flags_frag: u16, payload_len: usize) {
        let start = self.frame.len();
        let total = (20 + payload_len) as u16;
        let f = &mut self.frame;
        f.extend_from_slice(&[0x45, 0x00]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
        f.extend_from_slice(&flags_frag.to_be_bytes());
        f.extend_from_slice(&[64, proto, 0, 0]);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&dst.octets());
        let sum = internet_checksum(&f[start..start + 20]);
        f[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
    }

    fn push_ipv6(&mut self, src: Ipv6Addr, dst: Ipv6Addr, proto: u8, payload_len: usize) {
        let f = &mut self.frame;
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(payload_len as u16).to_be_bytes());
        f.extend_from_slice(&[proto, 64]);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&dst.octets());
    }

    /// Pads and writes the frame being built.
    fn emit(&mut self, ts_us: u64) -> Result<(), Error> {
        if self.frame.len() < ETH_MIN_FRAME {
            self.frame.resize(ETH_MIN_FRAME, 0);
        }
        let len = self.frame.len() as u32;
        let packet = RawPcapPacket {
            ts_sec: (ts_us / 1_000_000) as u32,
            ts_frac: (ts_us % 1_000_000) as u32,
            incl_len: len,
            orig_len: len,
            data: Cow::Borrowed(&self.frame),
        };
        self.writer.write_raw_packet(&packet).map_err(Error::pcap)?;
        self.packets += 1;
        self.bytes += 16 + u64::from(len);
        Ok(())
    }
}

/// UDP sends checksum 0 as "none"; a computed 0 goes on the wire as 0xffff (RFC 768).
fn nonzero(sum: u16) -> u16 {
    if sum == 0 {
        0xffff
    } else {
        sum
    }
}

fn check_families(a: SocketAddr, b: SocketAddr) -> Result<(), Error> {
    if a.is_ipv4() == b.is_ipv4() {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::Frame, format!("mixed address families {a} -> {b}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::PcapReader;

    fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut r = PcapReader::new(bytes).unwrap();
        let mut v = Vec::new();
        while let Some(p) = r.next_packet() {
            v.push(p.unwrap().data.into_owned());
        }
        v
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3 example: words 0001 f203 f4f5 f6f7 sum to ddf2, complement 220d.
        assert_eq!(internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
    }

    #[test]
    fn udp_v4_frame_layout() {
        let mut out = PcapOut::new(Vec::new()).unwrap();
        out.udp(1_000_000, sa("192.0.2.1:5060"), sa("192.0.2.2:5061"), b"hi").unwrap();
        let w = out.finish().unwrap();
        let f = &frames(&w)[0];
        assert_eq!(f.len(), 60, "padded to the Ethernet minimum");
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(&f[0..6], &mac_for("192.0.2.2".parse().unwrap()));
        let ip = &f[14..34];
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 20 + 8 + 2);
        assert_eq!(internet_checksum(ip), 0, "header checksum verifies");
        assert_eq!(&f[34..36], &5060u16.to_be_bytes());
        assert_eq!(u16::from_be_bytes([f[38], f[39]]), 10);
        assert_eq!(&f[42..44], b"hi");
        let udp_sum = fold(ones_sum(&f[34..44], pseudo_header_sum(ip_of(&f[26..30]), ip_of(&f[30..34]), 17, 10)));
        assert_eq!(udp_sum, 0, "UDP checksum verifies");
    }

    fn ip_of(b: &[u8]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }

    #[test]
    fn vlan_tag_inserted() {
        let mut out = PcapOut::new(Vec::new()).unwrap();
        out.udp_vlan(0, sa("10.0.0.1:1"), sa("10.0.0.2:2"), &[0; 100], 42).unwrap();
        let w = out.finish().unwrap();
        let f = &frames(&w)[0];
        assert_eq!(&f[12..16], &[0x81, 0x00, 0x00, 42]);
        assert_eq!(&f[16..18], &[0x08, 0x00]);
        assert_eq!(f.len(), 18 + 20 + 8 + 100);
    }

    #[test]
    fn host_vlan_applies_both_directions() {
        let mut out = PcapOut::new(Vec::new()).unwrap();
        out.set_host_vlan("10.0.0.1".parse().unwrap(), 7);
        out.udp(0, sa("10.0.0.1:1"), sa("10.0.0.2:2"), b"a").unwrap();
        out.udp(0, sa("10.0.0.2:2"), sa("10.0.0.1:1"), b"b").unwrap();
        out.udp(0, sa("10.0.0.3:2"), sa("10.0.0.2:1"), b"c").unwrap();
        let w = out.finish().unwrap();
        let fs = frames(&w);
        assert_eq!(&fs[0][12..16], &[0x81, 0, 0, 7]);
        assert_eq!(&fs[1][12..16], &[0x81, 0, 0, 7]);
        assert_eq!(&fs[2][12..14], &[0x08, 0x00]);
    }

    #[test]
    fn udp_v6_frame_layout() {
        let mut out = PcapOut::new(Vec::new()).unwrap();
        let payload = [7u8; 33];
        out.udp(0, sa("[2001:db8::1]:5060"), sa("[2001:db8::2]:5060"), &payload).unwrap();
        let w = out.finish().unwrap();
        let f = &frames(&w)[0];
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!(u16::from_be_bytes([f[18], f[19]]), 8 + 33);
        assert_eq!(f[20], 17);
        assert_ne!(&f[60..62], &[0, 0], "IPv6 UDP checksum is mandatory");
        assert_eq!(f.len(), 14 + 40 + 8 + 33);
    }

    #[test]
    fn mixed_families_rejected() {
        let mut out = PcapOut::new(Vec::new()).unwrap();
        let e = out.udp(0, sa("10.0.0.1:1"), sa("[2001:db8::2]:2"), b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Frame);
    }

    #[test]
    fn fragments_cover_the_datagram() {
        let mut out = PcapOut::new(Vec::new()).unwrap();
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let n = out
            .udp_fragmented(0, "192.0.2.1:5060".parse().unwrap(), "192.0.2.2:5060".parse().unwrap(), &payload, 1500)
            .unwrap();
        assert_eq!(n, 3);
        let w = out.finish().unwrap();
        let mut whole = Vec::new();
        for (i, f) in frames(&w).iter().enumerate() {
            let ip = &f[14..34];
            assert_eq!(internet_checksum(ip), 0);
            let word = u16::from_be_bytes([ip[6], ip[7]]);
            assert_eq!(usize::from(word & 0x1fff) * 8, whole.len());
            assert_eq!(word & IPV4_MF != 0, i < 2);
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            assert!(total <= 1500);
            whole.extend_from_slice(&f[34..14 + total]);
        }
        assert_eq!(whole.len(), 8 + 3000);
        assert_eq!(&whole[8..], &payload[..]);
    }

    #[test]
    fn tcp_sequence_advances_and_acks_peer() {
        let (c, s) = (sa("10.0.0.1:40000"), sa("10.0.0.2:5060"));
        let mut out = PcapOut::new(Vec::new()).unwrap();
        let a = out.tcp_segment(0, c, s, b"hello").unwrap();
        let b = out.tcp_segment(0, c, s, b"world!").unwrap();
        assert_eq!(b, a.wrapping_add(5));
        let r = out.tcp_segment(0, s, c, b"ok").unwrap();
        out.tcp_resend(0, c, s, b, b"world!").unwrap();
        let w = out.finish().unwrap();
        let fs = frames(&w);
        assert_eq!(fs.len(), 3 + 4, "handshake then four segments");
        assert_eq!(fs[0][47], tcp_flags::SYN);
        assert_eq!(fs[1][47], tcp_flags::SYN | tcp_flags::ACK);
        let seq = |f: &Vec<u8>| u32::from_be_bytes([f[38], f[39], f[40], f[41]]);
        let ack = |f: &Vec<u8>| u32::from_be_bytes([f[42], f[43], f[44], f[45]]);
        assert_eq!(seq(&fs[2]), a);
        assert_eq!(ack(&fs[5]), b.wrapping_add(6), "server acks all client data");
        assert_eq!(seq(&fs[5]), r);
        assert_eq!(seq(&fs[6]), b, "retransmission repeats the sequence number");
        assert_eq!(ack(&fs[6]), r.wrapping_add(2));
    }
}
