//! End-to-end tests of `duanka-probe analyze`: captures are written with the
//! simulator's pcap writer (or by hand for other link types), the real binary
//! runs on them, and the JSON report is checked.

use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use duanka_hil::pcap::PcapOut;
use serde_json::Value;

const GOIP: &str = "192.0.2.10";
const SOFTSWITCH: &str = "203.0.113.5";
const PBX: &str = "198.51.100.20";
const PHONE: &str = "198.51.100.77";
const T0: u64 = 1_793_577_600_000_000; // 2026-11-01T00:00:00Z

fn sa(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().unwrap()
}

fn sa4(ip: &str, port: u16) -> SocketAddrV4 {
    format!("{ip}:{port}").parse().unwrap()
}

/// A SIP message with a correct Content-Length (padded the GoIP way when asked).
fn sip(start: &str, headers: &[&str], body: &str, padded_cl: bool) -> Vec<u8> {
    let mut m = format!("{start}\r\n");
    for h in headers {
        m.push_str(h);
        m.push_str("\r\n");
    }
    if padded_cl {
        m.push_str(&format!("Content-Length: {:>5}\r\n\r\n", body.len()));
    } else {
        m.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    }
    m.push_str(body);
    m.into_bytes()
}

const GOIP_ALLOW: &str = "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REFER, REGISTER, MESSAGE, INFO, SUBSCRIBE";

fn goip_register(line: u32) -> Vec<u8> {
    sip(
        &format!("REGISTER sip:{SOFTSWITCH} SIP/2.0"),
        &[
            &format!("Via: SIP/2.0/UDP {GOIP}:5060;rport;branch=z9hG4bK18042893{line:02}"),
            &format!("From: <sip:goip1_{line}@{SOFTSWITCH}>;tag=2019{line}"),
            &format!("To: <sip:goip1_{line}@{SOFTSWITCH}>"),
            &format!("Call-ID: reg{line}@{GOIP}"),
            "CSeq: 1 REGISTER",
            &format!("Contact: <sip:goip1_{line}@{GOIP}:5060>"),
            "Max-Forwards: 70",
            "User-Agent: dble",
            "Expires: 60",
            GOIP_ALLOW,
        ],
        "",
        true,
    )
}

fn ok_to_register(line: u32) -> Vec<u8> {
    sip(
        "SIP/2.0 200 OK",
        &[
            &format!("Via: SIP/2.0/UDP {GOIP}:5060;rport=5060;branch=z9hG4bK18042893{line:02}"),
            &format!("From: <sip:goip1_{line}@{SOFTSWITCH}>;tag=2019{line}"),
            &format!("To: <sip:goip1_{line}@{SOFTSWITCH}>;tag=ss{line}"),
            &format!("Call-ID: reg{line}@{GOIP}"),
            "CSeq: 1 REGISTER",
            &format!("Contact: <sip:goip1_{line}@{GOIP}:5060>;expires=60"),
        ],
        "",
        false,
    )
}

fn invite_to_goip(n: u32, sdp_padding: usize) -> Vec<u8> {
    let body = format!(
        "v=0\r\no=ss 1 1 IN IP4 {SOFTSWITCH}\r\ns=call\r\nc=IN IP4 {SOFTSWITCH}\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=x-pad:{}\r\n",
        "p".repeat(sdp_padding)
    );
    sip(
        &format!("INVITE sip:86138001380{n:02}@{GOIP}:5060 SIP/2.0"),
        &[
            &format!("Via: SIP/2.0/UDP {SOFTSWITCH}:5060;branch=z9hG4bK-ss-{n}"),
            &format!("From: \"8613900000000\" <sip:85512345{n:03}@{SOFTSWITCH}>;tag=f{n}"),
            &format!("To: <sip:86138001380{n:02}@{GOIP}>"),
            &format!("Call-ID: call{n}@{SOFTSWITCH}"),
            "CSeq: 10 INVITE",
            &format!("Contact: <sip:ss@{SOFTSWITCH}:5060>"),
            "Max-Forwards: 70",
            "User-Agent: VOS3000",
            "Content-Type: application/sdp",
        ],
        &body,
        false,
    )
}

fn goip_response(n: u32, status: &str, with_sdp: bool) -> Vec<u8> {
    let body = if with_sdp {
        format!(
            "v=0\r\no=userX 20000001 20000001 IN IP4 {GOIP}\r\ns=DBL Session\r\nc=IN IP4 {GOIP}\r\nt=0 0\r\nm=audio 10000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
        )
    } else {
        String::new()
    };
    let mut headers = vec![
        format!("Via: SIP/2.0/UDP {SOFTSWITCH}:5060;branch=z9hG4bK-ss-{n}"),
        format!("From: \"8613900000000\" <sip:85512345{n:03}@{SOFTSWITCH}>;tag=f{n}"),
        format!("To: <sip:86138001380{n:02}@{GOIP}>;tag=g{n}"),
        format!("Call-ID: call{n}@{SOFTSWITCH}"),
        "CSeq: 10 INVITE".to_string(),
        "User-Agent: dble".to_string(),
        GOIP_ALLOW.to_string(),
    ];
    if with_sdp {
        headers.push("Content-Type: application/sdp".to_string());
    }
    let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    sip(&format!("SIP/2.0 {status}"), &refs, &body, true)
}

fn ack_or_bye(n: u32, method: &str, cseq: u32) -> Vec<u8> {
    sip(
        &format!("{method} sip:86138001380{n:02}@{GOIP}:5060 SIP/2.0"),
        &[
            &format!("Via: SIP/2.0/UDP {SOFTSWITCH}:5060;branch=z9hG4bK-ss-{n}-{method}"),
            &format!("From: <sip:85512345{n:03}@{SOFTSWITCH}>;tag=f{n}"),
            &format!("To: <sip:86138001380{n:02}@{GOIP}>;tag=g{n}"),
            &format!("Call-ID: call{n}@{SOFTSWITCH}"),
            &format!("CSeq: {cseq} {method}"),
            "Max-Forwards: 70",
        ],
        "",
        false,
    )
}

fn phone_register() -> Vec<u8> {
    sip(
        &format!("REGISTER sip:{PBX} SIP/2.0"),
        &[
            &format!("Via: SIP/2.0/UDP {PHONE}:5062;branch=z9hG4bK-a8f3c2;rport"),
            &format!("From: <sip:101@{PBX}>;tag=x1"),
            &format!("To: <sip:101@{PBX}>"),
            &format!("Call-ID: phone-reg@{PHONE}"),
            "CSeq: 20 REGISTER",
            &format!("Contact: <sip:101@{PHONE}:5062>;expires=3600"),
            "Max-Forwards: 70",
            "User-Agent: Linphone/5.2.5 (belle-sip/5.2.0)",
            "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO, UPDATE",
        ],
        "",
        false,
    )
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Writes the reference scenario over UDP; returns the frame numbers of the
/// GoIP's first REGISTER and its first 200 OK with SDP.
fn write_udp_scenario(path: &Path) -> (u64, u64) {
    let mut out = PcapOut::new(std::fs::File::create(path).unwrap()).unwrap();
    let mut ts = T0;
    let mut step = |out: &mut PcapOut<std::fs::File>, src: SocketAddr, dst: SocketAddr, msg: &[u8]| {
        ts += 10_000;
        out.udp(ts, src, dst, msg).unwrap();
        out.packets()
    };
    let (g, s) = (sa(GOIP, 5060), sa(SOFTSWITCH, 5060));
    let first_register = step(&mut out, g, s, &goip_register(1));
    step(&mut out, s, g, &ok_to_register(1));
    step(&mut out, g, s, &goip_register(2));
    step(&mut out, s, g, &ok_to_register(2));
    step(&mut out, sa(PHONE, 5062), sa(PBX, 5060), &phone_register());
    let mut first_ok = 0;
    for n in 0..3 {
        step(&mut out, s, g, &invite_to_goip(n, 0));
        step(&mut out, g, s, &goip_response(n, "100 Trying", false));
        if n == 2 {
            step(&mut out, g, s, &goip_response(n, "480 Remote Busy", false));
            step(&mut out, s, g, &ack_or_bye(n, "ACK", 10));
            continue;
        }
        step(&mut out, g, s, &goip_response(n, "183 Session Progress", true));
        let ok = step(&mut out, g, s, &goip_response(n, "200 OK", true));
        if first_ok == 0 {
            first_ok = ok;
        }
        step(&mut out, s, g, &ack_or_bye(n, "ACK", 10));
        step(&mut out, g, s, &ack_or_bye(n, "BYE", 11));
    }
    out.finish().unwrap();
    (first_register, first_ok)
}

fn probe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_duanka-probe"))
}

fn run_json(files: &[&Path], extra: &[&str]) -> (Value, Output) {
    let mut cmd = probe();
    cmd.arg("analyze").arg("--json").args(extra);
    for f in files {
        cmd.arg(f);
    }
    let out = cmd.output().unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (doc, out)
}

fn gateway<'a>(doc: &'a Value, addr: &str) -> &'a Value {
    doc["gateways"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["address"] == addr)
        .unwrap_or_else(|| panic!("{addr} not in the report: {doc:#}"))
}

fn evidence_ids(g: &Value) -> Vec<String> {
    g["evidence"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn goip_over_udp_is_a_simbox_with_evidence_pointing_at_frames() {
    let dir = tmp();
    let path = dir.path().join("udp.pcap");
    let (first_register, first_ok) = write_udp_scenario(&path);
    let (doc, out) = run_json(&[&path], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let g = gateway(&doc, GOIP);
    assert_eq!(g["verdict"], "simbox", "{g:#}");
    assert_eq!(g["vendor"], "DBL/Hybertone GoIP");
    assert!(g["score"].as_f64().unwrap() >= 6.0);
    let mut accounts: Vec<&str> = g["accounts"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    accounts.sort();
    assert_eq!(accounts, vec![format!("goip1_1@{SOFTSWITCH}"), format!("goip1_2@{SOFTSWITCH}")]);
    assert_eq!(g["calls"], 3);
    assert_eq!(g["calls_in"], 3);
    assert_eq!(g["calls_answered"], 2);
    let ids = evidence_ids(g);
    for id in [
        "dbl.user_agent.dble",
        "dbl.sdp_session.dbl",
        "libosip2.sdp_origin.userx",
        "dbl.response.remote_busy",
        "dbl.via_branch.decimal",
        "dbl.content_length.padded",
        "dbl.allow.goip_set",
        "goip.register_expires.short",
    ] {
        assert!(ids.contains(&id.to_string()), "missing {id} in {ids:?}");
    }
    let ua = g["evidence"].as_array().unwrap().iter().find(|e| e["id"] == "dbl.user_agent.dble").unwrap();
    assert_eq!(ua["kind"], "signature");
    assert_eq!(ua["observed"], "dble");
    assert_eq!(ua["frames"][0], first_register, "the UA evidence points at the first REGISTER");
    assert_eq!(ua["file"], path.display().to_string());
    let dbl = g["evidence"].as_array().unwrap().iter().find(|e| e["id"] == "dbl.sdp_session.dbl").unwrap();
    assert_eq!(dbl["frames"][0], first_ok - 1, "183 with SDP comes just before the 200");
    assert!(dbl["detail"].as_str().unwrap().contains("DBL Session"));

    for clean in [SOFTSWITCH, PHONE, PBX] {
        assert_eq!(gateway(&doc, clean)["verdict"], "clean", "{clean}");
    }
    assert_eq!(gateway(&doc, SOFTSWITCH)["calls_out"], 3);
    assert_eq!(doc["sip"]["messages"], doc["packets"]);
    assert_eq!(doc["sip"]["invalid"], 0);
    assert_eq!(doc["sip"]["calls"], 3);
    assert_eq!(doc["sip"]["registrations"], 3);
    assert!(doc["decode_errors"].as_object().unwrap().is_empty());
}

#[test]
fn table_output_lists_the_gateway_and_the_summary() {
    let dir = tmp();
    let path = dir.path().join("udp.pcap");
    write_udp_scenario(&path);
    let out = probe().args(["analyze", path.to_str().unwrap()]).env("COLUMNS", "200").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(GOIP) && text.contains("simbox"), "{text}");
    assert!(text.contains("dbl.user_agent.dble"), "{text}");
    assert!(text.contains("3 clean address(es) not shown"), "{text}");
    assert!(text.contains("Summary: "), "{text}");
}

#[test]
fn sip_over_tcp_split_coalesced_and_retransmitted() {
    let dir = tmp();
    let path = dir.path().join("tcp.pcap");
    let mut out = PcapOut::new(std::fs::File::create(&path).unwrap()).unwrap();
    let (g, s) = (sa(GOIP, 40000), sa(SOFTSWITCH, 5060));
    let mut ts = T0;
    out.tcp_connect(ts, g, s).unwrap();
    // One REGISTER split over 7-byte segments.
    ts += 1000;
    out.tcp_send(ts, g, s, &goip_register(1), 7).unwrap();
    ts += 1000;
    out.tcp_segment(ts, s, g, &ok_to_register(1)).unwrap();
    // Two REGISTERs in one segment, then that segment retransmitted.
    let mut two = goip_register(2);
    two.extend_from_slice(&goip_register(3));
    ts += 1000;
    let seq = out.tcp_segment(ts, g, s, &two).unwrap();
    ts += 1000;
    out.tcp_resend(ts, g, s, seq, &two).unwrap();
    ts += 1000;
    out.tcp_close(ts, g, s).unwrap();
    out.finish().unwrap();

    let (doc, run) = run_json(&[&path], &[]);
    assert!(run.status.success());
    assert_eq!(doc["sip"]["messages"], 4, "{doc:#}");
    assert_eq!(doc["sip"]["over_tcp"], 4);
    assert_eq!(doc["sip"]["invalid"], 0);
    let g = gateway(&doc, GOIP);
    assert_eq!(g["registrations"], 3, "the retransmitted segment does not count twice");
    assert_eq!(g["accounts"].as_array().unwrap().len(), 3);
    assert!(evidence_ids(g).contains(&"dbl.user_agent.dble".to_string()));
}

#[test]
fn fragmented_invite_is_reassembled() {
    let dir = tmp();
    let path = dir.path().join("frag.pcap");
    let mut out = PcapOut::new(std::fs::File::create(&path).unwrap()).unwrap();
    let invite = invite_to_goip(1, 3000);
    assert!(invite.len() > 3000);
    let frags = out.udp_fragmented(T0, sa4(SOFTSWITCH, 5060), sa4(GOIP, 5060), &invite, 1500).unwrap();
    assert!(frags >= 3);
    out.udp(T0 + 1000, sa(GOIP, 5060), sa(SOFTSWITCH, 5060), &goip_response(1, "480 Remote Busy", false)).unwrap();
    out.finish().unwrap();
    let (doc, _) = run_json(&[&path], &[]);
    assert_eq!(doc["sip"]["messages"], 2, "{doc:#}");
    assert_eq!(doc["sip"]["calls"], 1);
    assert_eq!(gateway(&doc, GOIP)["calls_in"], 1);
}

#[test]
fn vlan_and_ipv6_traffic_is_decoded() {
    let dir = tmp();
    let path = dir.path().join("v6.pcap");
    let mut out = PcapOut::new(std::fs::File::create(&path).unwrap()).unwrap();
    let g6: std::net::SocketAddrV6 = "[2001:db8::10]:5060".parse().unwrap();
    let s6: std::net::SocketAddrV6 = "[2001:db8::5]:5060".parse().unwrap();
    out.udp_v6(T0, g6, s6, &goip_register(1)).unwrap();
    out.udp_vlan(T0 + 1, sa(GOIP, 5060), sa(SOFTSWITCH, 5060), &goip_register(2), 42).unwrap();
    out.finish().unwrap();
    let (doc, _) = run_json(&[&path], &[]);
    assert_eq!(doc["sip"]["messages"], 2, "{doc:#}");
    assert!(evidence_ids(gateway(&doc, "2001:db8::10")).contains(&"dbl.user_agent.dble".to_string()));
    assert!(evidence_ids(gateway(&doc, GOIP)).contains(&"dbl.user_agent.dble".to_string()));
}

/// A pcap with another link type, frames built with the probe's own emitters.
fn write_linktype(path: &Path, linktype: u32, frames: &[Vec<u8>]) {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let header = PcapHeader { datalink: pcap_file::DataLink::from(linktype), ..PcapHeader::default() };
    let mut w = PcapWriter::with_header(std::fs::File::create(path).unwrap(), header).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let ts = std::time::Duration::from_micros(T0 + i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f)).unwrap();
    }
}

fn ipv4_udp(src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
    use duanka_probe::dissect::{ipv4, udp};
    let mut buf = vec![0u8; 28];
    ipv4::Repr {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        protocol: 17,
        payload_len: 8 + payload.len(),
        ident: 9,
        frag_offset: 0,
        more_frags: false,
        ttl: 64,
    }
    .emit(&mut buf);
    udp::emit(&mut buf[20..], 5060, 5060, payload.len());
    buf.extend_from_slice(payload);
    buf
}

#[test]
fn linux_cooked_and_raw_ip_link_types() {
    use duanka_probe::dissect::ethernet::EtherType;
    use duanka_probe::dissect::sll;
    let ip = ipv4_udp(GOIP, SOFTSWITCH, &goip_register(1));
    let dir = tmp();
    for (linktype, header) in
        [(113u32, Some(sll::Version::Sll)), (276, Some(sll::Version::Sll2)), (101, None), (228, None)]
    {
        let frame = match header {
            Some(v) => {
                let len = if v == sll::Version::Sll { sll::SLL_HEADER_LEN } else { sll::SLL2_HEADER_LEN };
                let mut f = vec![0u8; len];
                sll::emit(&mut f, v, EtherType::Ipv4);
                f.extend_from_slice(&ip);
                f
            }
            None => ip.clone(),
        };
        let path = dir.path().join(format!("lt{linktype}.pcap"));
        write_linktype(&path, linktype, &[frame]);
        let (doc, _) = run_json(&[&path], &[]);
        assert_eq!(doc["sip"]["messages"], 1, "link type {linktype}: {doc:#}");
        assert_eq!(gateway(&doc, GOIP)["registrations"], 1, "link type {linktype}");
    }
    let path = dir.path().join("lt147.pcap");
    write_linktype(&path, 147, &[ip]);
    let (doc, _) = run_json(&[&path], &[]);
    assert_eq!(doc["decode_errors"]["link_type_unsupported"], 1);
}

#[test]
fn garbage_frames_are_counted_not_fatal() {
    let dir = tmp();
    let path = dir.path().join("garbage.pcap");
    let mut frames: Vec<Vec<u8>> = vec![vec![0xff; 5], vec![0u8; 14]];
    let mut bad_ip = vec![0u8; 14];
    bad_ip[12] = 0x08;
    bad_ip.extend_from_slice(&[0x45, 0, 0xff, 0xff, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    frames.push(bad_ip);
    let mut ip = vec![0u8; 14];
    ip[12] = 0x08;
    let mut not_sip = ip.clone();
    ip.extend_from_slice(&ipv4_udp(PHONE, PBX, b"INVITE sip:1@x SIP/2.0\r\nContent-Length: -5\r\n\r\n"));
    frames.push(ip);
    not_sip.extend_from_slice(&ipv4_udp(PHONE, PBX, b"\x16\x03\x01 hello, not SIP"));
    frames.push(not_sip);
    write_linktype(&path, 1, &frames);
    let (doc, out) = run_json(&[&path], &[]);
    assert!(out.status.success());
    assert_eq!(doc["packets"], 5);
    assert_eq!(doc["decode_errors"]["udp_sip_port_not_sip"], 1, "{doc:#}");
    assert_eq!(doc["decode_errors"]["ethernet_truncated"], 1, "{doc:#}");
    assert_eq!(doc["decode_errors"]["ipv4_truncated"], 1, "{doc:#}");
    assert_eq!(doc["sip"]["invalid"], 1);
}

#[test]
fn cut_off_file_keeps_results_and_warns_with_the_frame_number() {
    let dir = tmp();
    let full = dir.path().join("full.pcap");
    write_udp_scenario(&full);
    let bytes = std::fs::read(&full).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let (doc, out) = run_json(&[&cut], &[]);
    assert!(out.status.success(), "a cut-off file is a warning, not a failure");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let frames = doc["packets"].as_u64().unwrap();
    assert!(stderr.contains(&format!("at frame {}", frames + 1)), "{stderr}");
    assert!(stderr.contains("cut.pcap"), "{stderr}");
    assert_eq!(gateway(&doc, GOIP)["verdict"], "simbox", "results before the cut are kept");
    assert!(doc["files"][0]["warning"].as_str().unwrap().contains("cut off"));
}

#[test]
fn unreadable_input_exits_1_naming_the_file_and_still_reports_the_rest() {
    let dir = tmp();
    let good = dir.path().join("good.pcap");
    write_udp_scenario(&good);
    let missing: PathBuf = dir.path().join("missing.pcap");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a capture").unwrap();
    let (doc, out) = run_json(&[&missing, &good, &text], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.pcap") && stderr.contains("notes.txt"), "{stderr}");
    assert_eq!(gateway(&doc, GOIP)["verdict"], "simbox");
}

#[test]
fn usage_errors_exit_2_and_help_explains() {
    let out = probe().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = probe().args(["analyze"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = probe().args(["analyze", "--bogus", "x.pcap"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = probe().args(["analyze", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--json") && help.contains("--signatures") && help.contains("Exit status"), "{help}");
}

#[test]
fn signatures_can_be_replaced_without_recompiling() {
    let dir = tmp();
    let cap = dir.path().join("udp.pcap");
    write_udp_scenario(&cap);
    let db = dir.path().join("sigs.toml");
    std::fs::write(
        &db,
        r#"
version = "local-1"
[verdict]
simbox = 4.0
suspect = 1.0
[[signature]]
id = "local.linphone"
vendor = "Lab"
weight = 4.5
field = "user_agent"
pattern = '^Linphone/'
description = "lab phones are under test"
"#,
    )
    .unwrap();
    let (doc, out) = run_json(&[&cap], &["--signatures", db.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(doc["signatures_version"], "local-1");
    assert_eq!(gateway(&doc, PHONE)["verdict"], "simbox");
    assert_eq!(gateway(&doc, GOIP)["verdict"], "clean", "the built-in GoIP signatures were replaced");

    std::fs::write(&db, "version = 1\n").unwrap();
    let out = probe().args(["analyze", "--signatures", db.to_str().unwrap(), cap.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sigs.toml"));

    let out = probe().args(["signatures", "--json"]).output().unwrap();
    assert!(out.status.success());
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(list["signatures"].as_array().unwrap().iter().any(|s| s["id"] == "dbl.user_agent.dble"));
}

#[test]
fn json_contract_field_names() {
    let dir = tmp();
    let path = dir.path().join("udp.pcap");
    write_udp_scenario(&path);
    let (doc, _) = run_json(&[&path], &[]);
    for key in ["packets", "decode_errors", "sip", "gateways"] {
        assert!(doc.get(key).is_some(), "top-level {key}");
    }
    assert!(doc["sip"]["messages"].is_u64() && doc["sip"]["invalid"].is_u64());
    for g in doc["gateways"].as_array().unwrap() {
        for key in ["address", "verdict", "score", "vendor", "accounts", "calls", "evidence"] {
            assert!(g.get(key).is_some(), "gateways[].{key}");
        }
        for e in g["evidence"].as_array().unwrap() {
            for key in ["kind", "weight", "detail", "frames"] {
                assert!(e.get(key).is_some(), "evidence[].{key}");
            }
        }
    }
}

/// Synthetic identities with correct check digits (MCC 460); not real cards.
const IMEI: &str = "860000000000009";
const IMSI: &str = "460001234567890";
const ICCID: &str = "89860012345678901238";

#[test]
fn goip_keepalive_identities_attach_to_the_gateway_and_the_password_never_shows() {
    assert!(
        duanka_shared::ids::Imei::parse(IMEI).is_ok() && duanka_shared::ids::Iccid::parse(ICCID).is_ok(),
        "fixture identities must be well formed"
    );
    let dir = tmp();
    let path = dir.path().join("goip-ctl.pcap");
    let mut out = PcapOut::new(std::fs::File::create(&path).unwrap()).unwrap();
    let keepalive = format!(
        "req:12;id:goip1;pass:SeCrEt-PaSs;num:;signal:25;gsm_status:LOGIN;voip_status:LOGIN;voip_state:IDLE;imei:{IMEI};imsi:{IMSI};iccid:{ICCID};pro:CHINA MOBILE;idle:3;disable_status:0;SMS_LOGIN:N;SMS_STATE:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;"
    );
    out.udp(T0, sa(GOIP, 5062), sa("203.0.113.44", 44444), keepalive.as_bytes()).unwrap();
    out.udp(T0 + 1000, sa("203.0.113.44", 44444), sa(GOIP, 5062), b"reg:12;status:200;").unwrap();
    out.udp(T0 + 30_000_000, sa(GOIP, 5062), sa("203.0.113.44", 44444), keepalive.as_bytes()).unwrap();
    let mut simbank = 0x4321_5678u32.to_be_bytes().to_vec();
    simbank.extend_from_slice(&[0x5a; 40]);
    out.udp(T0 + 31_000_000, sa(GOIP, 40001), sa("203.0.113.45", 56011), &simbank).unwrap();
    out.finish().unwrap();

    let (doc, run) = run_json(&[&path], &[]);
    assert!(run.status.success());
    let g = gateway(&doc, GOIP);
    assert_eq!(g["goip_keepalives"], 2);
    assert_eq!(g["simbank_packets"], 1);
    for (field, value) in [("imsis", IMSI), ("imeis", IMEI), ("iccids", ICCID)] {
        let ids = g[field].as_array().unwrap();
        assert_eq!(ids.len(), 1, "{field}: {g:#}");
        let key = if field == "imsis" { "imsi" } else { "value" };
        assert_eq!(ids[0][key], value);
        assert_eq!(ids[0]["valid"], true);
        assert_eq!(ids[0]["channel"], "goip1");
        assert_eq!(ids[0]["frames"], serde_json::json!([1, 3]));
    }
    // An announced SIM is a link of full confidence.
    assert_eq!(g["imsis"][0]["confidence"], 1.0);
    assert_eq!(g["imsis"][0]["sources"], serde_json::json!(["control_plane"]));
    assert_eq!(g["verdict"], "simbox", "control-plane and SIM-bank evidence: {g:#}");
    let ids = evidence_ids(g);
    assert!(ids.contains(&"goip.control_plane".to_string()) && ids.contains(&"goip.simbank".to_string()), "{ids:?}");
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(!text.contains("SeCrEt"), "the pass: credential leaked into the report");
    let table = probe().args(["analyze", "--all", path.to_str().unwrap()]).output().unwrap();
    assert!(!String::from_utf8_lossy(&table.stdout).contains("SeCrEt"));
}

#[test]
fn eval_scores_a_labelled_capture() {
    let dir = tmp();
    let cap = dir.path().join("udp.pcap");
    write_udp_scenario(&cap);
    let labels = dir.path().join("labels.json");
    std::fs::write(
        &labels,
        format!(
            r#"{{"gateways":[
            {{"address":"{GOIP}","label":"simbox","kind":"goip_fingerprinted"}},
            {{"address":"{SOFTSWITCH}","label":"clean","kind":"softswitch"}},
            {{"address":"{PHONE}","label":"clean","kind":"softphone"}},
            {{"address":"{PBX}","label":"clean","kind":"pbx"}}]}}"#
        ),
    )
    .unwrap();
    let out =
        probe().args(["eval", "--json", "--labels", labels.to_str().unwrap(), cap.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["overall"]["true_positives"], 1);
    assert_eq!(r["overall"]["false_positives"], 0);
    assert_eq!(r["overall"]["precision"], 1.0);
    assert_eq!(r["overall"]["recall"], 1.0);
    assert_eq!(r["by_kind"]["softphone"]["true_negatives"], 1);
    let out = probe()
        .args(["eval", "--labels", labels.to_str().unwrap(), "--min-recall", "1.01", cap.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "a target that is not met exits 3");
    assert!(String::from_utf8_lossy(&out.stdout).contains("OVERALL"));
}

/// Regression: calls still open when a capture ended (or timed out together)
/// were accounted in hash-table order, so the behaviour figures — and scores —
/// of one capture differed from run to run.
#[test]
fn the_same_capture_gives_the_same_report_every_run() {
    let dir = tmp();
    let cap = dir.path().join("cut.pcap");
    // A short cut of the basic scenario leaves dozens of calls open at the end.
    let cfg =
        duanka_hil::sim::SimConfig { seed: 4, target_packets: Some(120_000), ..duanka_hil::sim::SimConfig::default() };
    duanka_hil::sim::write_scenario(&cfg, std::fs::File::create(&cap).unwrap()).unwrap();
    let first = run_json(&[&cap], &[]).0;
    assert!(first["gateways"].as_array().unwrap().len() >= 5);
    for run in 2..=5 {
        let again = run_json(&[&cap], &[]).0;
        assert!(again == first, "run {run} differs from run 1");
    }
}
