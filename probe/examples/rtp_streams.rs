//! Lists the RTP streams in capture files the way `tshark -q -z rtp,streams`
//! does, for comparing the probe's stream tracker with Wireshark's:
//!
//!     cargo run --release -p duanka-probe --example rtp_streams -- FILE...
//!
//! SDP in SIP over UDP announces media (as the analyzer will); everything
//! else is found by the tracker's heuristic. IP fragments are not reassembled.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use duanka_probe::anomaly::Counters;
use duanka_probe::capture::file::CaptureFile;
use duanka_probe::dissect::layers::{decode_frame, decode_transport, Transport};
use duanka_probe::dissect::{sdp, sip};
use duanka_probe::track::rtp::{RtpTracker, StreamReport};

const SWEEP: u64 = 5_000_000;

fn announce(tracker: &mut RtpTracker, now: u64, payload: &[u8], counters: &mut Counters) {
    let Ok(msg) = sip::parse_message(payload) else { return };
    let Some(Ok(session)) = msg.sdp() else { return };
    let call = msg.call_id().map_or(0, |id| {
        let mut h = DefaultHasher::new();
        id.hash(&mut h);
        h.finish()
    });
    for m in session.media.iter().filter(|m| m.is_rtp()) {
        let Some(ip) = m.connection.or(session.connection).and_then(|c| c.ip()) else { continue };
        let codecs: Vec<(u8, String, u32)> = m
            .formats
            .iter()
            .filter_map(|f| std::str::from_utf8(f).ok()?.parse::<u8>().ok())
            .filter_map(|pt| match m.rtpmap(pt) {
                Some(r) => Some((pt, String::from_utf8_lossy(r.encoding).into_owned(), r.clock_rate)),
                None => sdp::static_payload(pt).map(|s| (pt, s.name.to_string(), s.clock_rate)),
            })
            .collect();
        tracker.expect(now, SocketAddr::new(ip, m.port), call, &codecs, counters);
    }
}

fn run(path: &str) -> Result<Vec<StreamReport>, Box<dyn std::error::Error>> {
    let file = CaptureFile::open(path)?;
    let mut tracker = RtpTracker::new();
    let mut counters = Counters::default();
    let mut next_sweep = 0;
    let mut reports = Vec::new();
    file.read(
        |frame| {
            if frame.ts >= next_sweep {
                tracker.expire(frame.ts);
                reports.append(&mut tracker.take_finished());
                next_sweep = frame.ts + SWEEP;
            }
            let Ok(Some(ip)) = decode_frame(frame.link, frame.data) else { return };
            if ip.fragment.is_some() {
                return;
            }
            let Ok(Transport::Udp { src_port, dst_port, payload }) = decode_transport(ip.protocol, ip.payload) else {
                return;
            };
            let (src, dst) = (SocketAddr::new(ip.src, src_port), SocketAddr::new(ip.dst, dst_port));
            if !tracker.datagram(frame.ts, src, dst, payload, &mut counters) && sip::looks_like_sip(payload) {
                announce(&mut tracker, frame.ts, payload, &mut counters);
            }
        },
        |_| {},
    )?;
    for (kind, n) in tracker.counters().iter().filter(|(_, n)| *n > 0) {
        eprintln!("{path}: {} {n}", kind.name());
    }
    reports.append(&mut tracker.finish());
    Ok(reports)
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: rtp_streams FILE...");
        std::process::exit(2);
    }
    for path in &paths {
        let reports = match run(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        println!("== {path}: {} streams", reports.len());
        println!(
            "{:>22} {:>22} {:>10} {:>16} {:>6} {:>6} {:>9} {:>9} {:>6} {:>5} {:>4} {:>3} {:>3} {:>8} sr/rr call",
            "src",
            "dst",
            "ssrc",
            "payload",
            "pkts",
            "lost",
            "jitter",
            "maxjit",
            "ptime",
            "gaps",
            "mark",
            "dup",
            "ooo",
            "dtmf"
        );
        for s in &reports {
            let codec = s.codec.clone().unwrap_or_else(|| format!("PT{}", s.payload_type));
            println!(
                "{:>22} {:>22} 0x{:08X} {:>16} {:>6} {:>6} {:>9} {:>9} {:>6} {:>5} {:>4} {:>3} {:>3} {:>8} {}/{} {}",
                s.src.to_string(),
                s.dst.to_string(),
                s.ssrc,
                codec,
                s.packets,
                s.lost,
                opt(s.jitter_ms),
                opt(s.max_jitter_ms),
                opt(s.ptime_ms),
                s.silence_gaps,
                s.markers,
                s.duplicates,
                s.out_of_order,
                if s.dtmf_digits.is_empty() { "-" } else { s.dtmf_digits.as_str() },
                s.rtcp_sr,
                s.rtcp_rr,
                s.call.map_or_else(|| "-".into(), |c| format!("{:04x}", c & 0xffff)),
            );
        }
    }
}
