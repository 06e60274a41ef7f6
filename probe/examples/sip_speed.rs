//! Micro-benchmark of the SIP and SDP parsers on a typical GoIP INVITE.
//!
//! `cargo run --release -p duanka-probe --example sip_speed`
//! Prints nanoseconds per call; it asserts nothing (figures vary by machine).

use std::hint::black_box;
use std::time::Instant;

use duanka_probe::dissect::sdp;
use duanka_probe::dissect::sip::{frame_stream, looks_like_sip, parse_message, parse_message_lenient};

fn main() {
    let msg: &[u8] = b"INVITE sip:8613800138000@10.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1804289383;rport\r\n\
From: \"1001\" <sip:1001@10.0.0.1>;tag=846930886\r\n\
To: <sip:8613800138000@10.0.0.1>\r\n\
Call-ID: 1681692777@10.0.0.2\r\n\
CSeq: 20 INVITE\r\n\
Contact: <sip:1001@10.0.0.2:5060>\r\n\
Max-Forwards: 70\r\n\
User-Agent: dble\r\n\
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REFER, REGISTER, MESSAGE, INFO, SUBSCRIBE\r\n\
Content-Type: application/sdp\r\n\
Content-Length:   221\r\n\
\r\n\
v=0\r\n\
o=userX 20000001 20000001 IN IP4 10.0.0.2\r\n\
s=DBL Session\r\n\
c=IN IP4 10.0.0.2\r\n\
t=0 0\r\n\
m=audio 10000 RTP/AVP 8 0 18 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";
    assert!(parse_message(msg).is_ok(), "{:?}", parse_message(msg).err());
    let rtp = [0x80u8, 0x08, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0];
    let n = 200_000u32;
    let t = Instant::now();
    for _ in 0..n {
        black_box(parse_message(black_box(msg)).is_ok());
    }
    let sip_ns = t.elapsed().as_nanos() / u128::from(n);
    let t = Instant::now();
    for _ in 0..n {
        black_box(frame_stream(black_box(msg)));
    }
    let frame_ns = t.elapsed().as_nanos() / u128::from(n);
    let body = parse_message(msg).unwrap().body;
    let t = Instant::now();
    for _ in 0..n {
        black_box(sdp::parse(black_box(body)).is_ok());
    }
    let sdp_ns = t.elapsed().as_nanos() / u128::from(n);
    let t = Instant::now();
    for _ in 0..n {
        black_box(looks_like_sip(black_box(&rtp)));
        black_box(looks_like_sip(black_box(msg)));
    }
    let looks_ns = t.elapsed().as_nanos() / u128::from(n);
    let t = Instant::now();
    for _ in 0..n {
        black_box(parse_message_lenient(black_box(msg)).is_ok());
    }
    let lenient_ns = t.elapsed().as_nanos() / u128::from(n);
    println!(
            "{} octets: parse_message {sip_ns} ns, parse_message_lenient {lenient_ns} ns, frame_stream {frame_ns} ns, sdp::parse {sdp_ns} ns ({} octets), looks_like_sip (RTP + SIP) {looks_ns} ns",
            msg.len(),
            body.len()
        );
}
