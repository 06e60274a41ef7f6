//! An independent decoder for the simulator's output: parses every frame back with
//! pcap-file's reader, checks lengths and checksums as it goes (panicking with the
//! frame number on the first fault), reassembles IPv4 fragments and TCP streams, and
//! extracts SIP messages and RTP packets.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use duanka_hil::{generate, SimConfig, Truth};
use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;

/// A UDP datagram (reassembled when it came in fragments).
#[derive(Debug, Clone)]
pub struct Datagram {
    pub ts: u64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
    pub fragments: usize,
}

/// A TCP segment.
#[derive(Debug, Clone)]
pub struct Segment {
    pub ts: u64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: Vec<u8>,
}

/// Everything decoded from one capture.
#[derive(Debug, Default)]
pub struct Decoded {
    pub frames: u64,
    pub vlan_frames: u64,
    pub ipv6_frames: u64,
    pub fragment_frames: u64,
    pub udp: Vec<Datagram>,
    pub tcp: Vec<Segment>,
}

/// A SIP message as found in the capture.
#[derive(Debug, Clone)]
pub struct Sip {
    pub ts: u64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub tcp: bool,
    pub text: String,
}

impl Sip {
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    pub fn is_request(&self, method: &str) -> bool {
        self.first_line().starts_with(&format!("{method} "))
    }

    pub fn status(&self) -> Option<u16> {
        self.first_line().strip_prefix("SIP/2.0 ").and_then(|r| r.get(..3)).and_then(|c| c.parse().ok())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head().lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn head(&self) -> &str {
        self.text.split_once("\r\n\r\n").map_or(&self.text, |(h, _)| h)
    }

    pub fn body(&self) -> &str {
        self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    pub fn cseq_method(&self) -> &str {
        self.header("CSeq").and_then(|c| c.split_whitespace().nth(1)).unwrap_or("")
    }

    /// The user part of a URI header value or request URI.
    pub fn uri_user(value: &str) -> &str {
        let after = value.split_once("sip:").map_or(value, |(_, r)| r);
        after.split('@').next().unwrap_or("")
    }
}

fn ones(data: &[u8], mut acc: u64) -> u64 {
    let mut it = data.chunks_exact(2);
    for w in &mut it {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [b] = it.remainder() {
        acc += u64::from(*b) << 8;
    }
    acc
}

fn folded(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u64 {
    let mut acc = 0;
    for ip in [src, dst] {
        acc = match ip {
            IpAddr::V4(a) => ones(&a.octets(), acc),
            IpAddr::V6(a) => ones(&a.octets(), acc),
        };
    }
    acc + u64::from(proto) + len as u64
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[derive(Default)]
struct FragBuf {
    ts: u64,
    pieces: BTreeMap<usize, Vec<u8>>,
    total: Option<usize>,
}

/// Decodes a capture, asserting every frame is well formed.
pub fn decode(pcap: &[u8]) -> Decoded {
    let mut reader = PcapReader::new(pcap).expect("pcap header");
    assert_eq!(reader.header().datalink, DataLink::ETHERNET);
    let mut d = Decoded::default();
    let mut frags: HashMap<(IpAddr, IpAddr, u16), FragBuf> = HashMap::new();
    let mut last_ts = 0;
    while let Some(p) = reader.next_packet() {
        let p = p.expect("packet record");
        d.frames += 1;
        let n = d.frames;
        let ts = p.timestamp.as_micros() as u64;
        assert!(ts >= last_ts, "frame {n}: timestamps go backwards");
        last_ts = ts;
        let f = &p.data[..];
        assert!(f.len() >= 60, "frame {n}: shorter than the Ethernet minimum");
        let mut off = 12;
        let mut et = be16(f, off);
        if et == 0x8100 {
            d.vlan_frames += 1;
            off += 4;
            et = be16(f, off);
        }
        off += 2;
        let ip = &f[off..];
        let (src, dst, proto, l4): (IpAddr, IpAddr, u8, &[u8]) = match et {
            0x0800 => {
                assert_eq!(ip[0], 0x45, "frame {n}: IPv4 version/IHL");
                assert_eq!(folded(ones(&ip[..20], 0)), 0xffff, "frame {n}: IPv4 header checksum");
                let total = usize::from(be16(ip, 2));
                assert!(total <= ip.len(), "frame {n}: IPv4 total length past frame end");
                let (s, t) = (
                    IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
                    IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19])),
                );
                let word = be16(ip, 6);
                let (offset, more) = (usize::from(word & 0x1fff) * 8, word & 0x2000 != 0);
                if offset != 0 || more {
                    d.fragment_frames += 1;
                    assert_eq!(ip[9], 17, "frame {n}: only UDP is fragmented");
                    let buf = frags.entry((s, t, be16(ip, 4))).or_default();
                    if offset == 0 {
                        buf.ts = ts;
                    }
                    let data = ip[20..total].to_vec();
                    if !more {
                        buf.total = Some(offset + data.len());
                    } else {
                        assert_eq!(data.len() % 8, 0, "frame {n}: non-final fragment not a multiple of 8");
                    }
                    assert!(buf.pieces.insert(offset, data).is_none(), "frame {n}: duplicate fragment");
                    let complete = buf.total.is_some_and(|tot| {
                        let mut next = 0;
                        for (o, p) in &buf.pieces {
                            if *o != next {
                                return false;
                            }
                            next += p.len();
                        }
                        next == tot
                    });
                    if complete {
                        let buf = frags.remove(&(s, t, be16(ip, 4))).unwrap();
                        let pieces = buf.pieces.len();
                        let whole: Vec<u8> = buf.pieces.into_values().flatten().collect();
                        d.udp.push(udp(n, buf.ts, s, t, &whole, pieces));
                    }
                    continue;
                }
                (s, t, ip[9], &ip[20..total])
            }
            0x86dd => {
                d.ipv6_frames += 1;
                assert_eq!(ip[0] >> 4, 6, "frame {n}: IPv6 version");
                let plen = usize::from(be16(ip, 4));
                assert!(40 + plen <= ip.len(), "frame {n}: IPv6 payload length past frame end");
                let mut s = [0u8; 16];
                let mut t = [0u8; 16];
                s.copy_from_slice(&ip[8..24]);
                t.copy_from_slice(&ip[24..40]);
                (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(t)), ip[6], &ip[40..40 + plen])
            }
            other => panic!("frame {n}: unexpected EtherType {other:#06x}"),
        };
        match proto {
            17 => d.udp.push(udp(n, ts, src, dst, l4, 1)),
            6 => {
                assert_eq!(folded(ones(l4, pseudo(src, dst, 6, l4.len()))), 0xffff, "frame {n}: TCP checksum");
                let hl = usize::from(l4[12] >> 4) * 4;
                d.tcp.push(Segment {
                    ts,
                    src: SocketAddr::new(src, be16(l4, 0)),
                    dst: SocketAddr::new(dst, be16(l4, 2)),
                    seq: be32(l4, 4),
                    ack: be32(l4, 8),
                    flags: l4[13],
                    payload: l4[hl..].to_vec(),
                });
            }
            other => panic!("frame {n}: unexpected IP protocol {other}"),
        }
    }
    assert!(frags.is_empty(), "incomplete fragment sets left over");
    d
}

fn udp(n: u64, ts: u64, src: IpAddr, dst: IpAddr, l4: &[u8], fragments: usize) -> Datagram {
    assert!(l4.len() >= 8, "frame {n}: short UDP");
    assert_eq!(usize::from(be16(l4, 4)), l4.len(), "frame {n}: UDP length");
    if be16(l4, 6) != 0 || src.is_ipv6() {
        assert_eq!(folded(ones(l4, pseudo(src, dst, 17, l4.len()))), 0xffff, "frame {n}: UDP checksum");
    }
    Datagram {
        ts,
        src: SocketAddr::new(src, be16(l4, 0)),
        dst: SocketAddr::new(dst, be16(l4, 2)),
        payload: l4[8..].to_vec(),
        fragments,
    }
}

const METHODS: [&str; 9] =
    ["INVITE ", "ACK ", "BYE ", "CANCEL ", "OPTIONS ", "REGISTER ", "INFO ", "NOTIFY ", "SIP/2.0 "];

pub fn looks_like_sip(b: &[u8]) -> bool {
    METHODS.iter().any(|m| b.starts_with(m.as_bytes()))
}

/// Splits a byte stream into SIP messages by Content-Length; returns the messages
/// and the number of bytes consumed.
pub fn frame_sip(stream: &[u8]) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let rest = &stream[at..];
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
            break;
        };
        let head = std::str::from_utf8(&rest[..end]).expect("SIP head is UTF-8");
        let cl: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length:"))
            .expect("Content-Length present")
            .trim()
            .parse()
            .expect("Content-Length number");
        let len = end + 4 + cl;
        if rest.len() < len {
            break;
        }
        out.push(String::from_utf8(rest[..len].to_vec()).unwrap());
        at += len;
    }
    (out, at)
}

/// TCP per direction: bytes in order, with retransmissions checked and dropped.
#[derive(Debug, Default)]
pub struct TcpReport {
    pub retransmissions: u64,
    pub split_messages: u64,
    pub coalesced_segments: u64,
    pub handshakes: u64,
}

/// All SIP messages of a capture (UDP and reassembled TCP), in time order, plus what
/// the TCP reassembly saw. Asserts TCP sequence continuity and acknowledgements.
pub fn sip_messages(d: &Decoded) -> (Vec<Sip>, TcpReport) {
    let mut msgs = Vec::new();
    for u in &d.udp {
        if looks_like_sip(&u.payload) {
            let (m, used) = frame_sip(&u.payload);
            assert_eq!(m.len(), 1, "one SIP message per UDP datagram");
            assert_eq!(used, u.payload.len(), "UDP SIP Content-Length matches body");
            msgs.push(Sip { ts: u.ts, src: u.src, dst: u.dst, tcp: false, text: m.into_iter().next().unwrap() });
        }
    }
    let mut report = TcpReport::default();
    // Per direction: next expected sequence number, bytes seen, pending bytes.
    struct Dir {
        next: u32,
        isn: u32,
        sent: Vec<u8>,
        pending: Vec<u8>,
    }
    let mut dirs: HashMap<(SocketAddr, SocketAddr), Dir> = HashMap::new();
    for s in &d.tcp {
        let key = (s.src, s.dst);
        if s.flags & 0x02 != 0 {
            if s.flags & 0x10 == 0 {
                report.handshakes += 1;
            } else {
                let peer = dirs.get(&(s.dst, s.src)).expect("SYN-ACK after SYN");
                assert_eq!(s.ack, peer.next, "SYN-ACK acknowledges the SYN");
            }
            dirs.insert(
                key,
                Dir { next: s.seq.wrapping_add(1), isn: s.seq.wrapping_add(1), sent: Vec::new(), pending: Vec::new() },
            );
            continue;
        }
        let peer_next = dirs.get(&(s.dst, s.src)).expect("data after handshake").next;
        assert_eq!(s.ack, peer_next, "segment acknowledges all the peer's data");
        let dir = dirs.get_mut(&key).expect("data after handshake");
        if s.payload.is_empty() {
            continue;
        }
        if s.seq != dir.next {
            // A retransmission: old sequence space, same bytes as first sent.
            let from = s.seq.wrapping_sub(dir.isn) as usize;
            assert!(from + s.payload.len() <= dir.sent.len(), "segment beyond the stream: a gap");
            assert_eq!(&dir.sent[from..from + s.payload.len()], &s.payload[..], "retransmission differs");
            report.retransmissions += 1;
            continue;
        }
        dir.next = dir.next.wrapping_add(s.payload.len() as u32);
        dir.sent.extend_from_slice(&s.payload);
        let had_pending = !dir.pending.is_empty();
        dir.pending.extend_from_slice(&s.payload);
        let (m, used) = frame_sip(&dir.pending);
        if had_pending && !m.is_empty() {
            report.split_messages += 1;
        }
        if m.len() > 1 {
            report.coalesced_segments += 1;
        }
        for text in m {
            msgs.push(Sip { ts: s.ts, src: s.src, dst: s.dst, tcp: true, text });
        }
        dir.pending.drain(..used);
    }
    msgs.sort_by_key(|m| m.ts);
    (msgs, report)
}

/// A generated scenario and its decoded form, built once per test binary.
pub struct Case {
    pub pcap: Vec<u8>,
    pub truth: Truth,
    pub decoded: Decoded,
    pub sip: Vec<Sip>,
    pub tcp: TcpReport,
}

impl Case {
    pub fn new(cfg: &SimConfig) -> Case {
        let (pcap, truth) = generate(cfg).expect("generate");
        let decoded = decode(&pcap);
        let (sip, tcp) = sip_messages(&decoded);
        Case { pcap, truth, decoded, sip, tcp }
    }

    /// SIP messages sent from this IP address.
    pub fn sent_by<'a>(&'a self, ip: &'a str) -> impl Iterator<Item = &'a Sip> + 'a {
        self.sip.iter().filter(move |m| m.src.ip().to_string() == ip)
    }
}

/// A scenario with every transport feature turned up, used by most tests.
pub fn mixed() -> &'static Case {
    static CASE: OnceLock<Case> = OnceLock::new();
    CASE.get_or_init(|| {
        Case::new(&SimConfig {
            seed: 7,
            duration: std::time::Duration::from_secs(240),
            gateways: 3,
            lines: Some(4),
            stripped: 2,
            phones: 6,
            tcp_share: 0.5,
            fragment_share: 0.2,
            ..SimConfig::default()
        })
    })
}

/// The mixed preset, shortened to four minutes and without RTP: every host kind, the
/// control plane and SIM rotation, cheap enough for a debug build. (The hosts do not
/// depend on the duration: the full preset has the same population.)
pub fn mixed_preset() -> &'static Case {
    static CASE: OnceLock<Case> = OnceLock::new();
    CASE.get_or_init(|| {
        Case::new(&SimConfig { duration: std::time::Duration::from_secs(240), rtp: false, ..SimConfig::mixed() })
    })
}

/// A longer SIP-only scenario for behaviour statistics.
pub fn long_sip_only() -> &'static Case {
    static CASE: OnceLock<Case> = OnceLock::new();
    CASE.get_or_init(|| {
        Case::new(&SimConfig {
            seed: 11,
            duration: std::time::Duration::from_secs(3 * 3600),
            gateways: 2,
            lines: Some(8),
            stripped: 1,
            phones: 12,
            rtp: false,
            ..SimConfig::default()
        })
    })
}
