//! Rendering of SIP messages (RFC 3261) and SDP bodies (RFC 8866).
//!
//! A call, a registration round or a keep-alive is rendered whole when it starts: the
//! result is a list of messages with their time offsets (and, for calls, the RTP
//! streams to run), which the engine schedules. Dialog rules followed: responses copy
//! Via/From/To/Call-ID/CSeq, fill `rport` (RFC 3581), add the To tag; an ACK for a
//! non-2xx response and a CANCEL reuse the INVITE's branch, an ACK for a 2xx and a BYE
//! take a new one; the side that sends BYE uses its own CSeq space.

use std::fmt::{Display, Write as _};
use std::net::{IpAddr, SocketAddr};

use rand::rngs::SmallRng;
use rand::Rng;

use super::flavor::Flavor;
use super::ids::{alnum, hex};

/// One message (or several coalesced into one send) to put on the wire.
#[derive(Debug)]
pub(crate) struct SipSend {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub tcp: bool,
    pub bytes: Vec<u8>,
    /// How many SIP messages `bytes` holds.
    pub messages: u32,
    /// Set on a call's first INVITE: (caller host, callee host) to count the call.
    pub call: Option<(u32, u32)>,
}

/// A message being built: start line and headers; `finish` adds Content-Length.
struct Msg(String);

impl Msg {
    fn request(method: &str, uri: &str) -> Self {
        let mut s = String::with_capacity(1024);
        let _ = write!(s, "{method} {uri} SIP/2.0\r\n");
        Msg(s)
    }

    fn response(code: u16, reason: &str) -> Self {
        let mut s = String::with_capacity(1024);
        let _ = write!(s, "SIP/2.0 {code} {reason}\r\n");
        Msg(s)
    }

    fn h(&mut self, name: &str, value: impl Display) -> &mut Self {
        let _ = write!(self.0, "{name}: {value}\r\n");
        self
    }

    fn opt(&mut self, name: &str, value: Option<impl Display>) -> &mut Self {
        if let Some(v) = value {
            self.h(name, v);
        }
        self
    }

    fn finish(mut self, flavor: Flavor, sdp: Option<&str>) -> Vec<u8> {
        let len = sdp.map_or(0, str::len);
        if sdp.is_some() {
            self.h("Content-Type", "application/sdp");
        }
        if flavor.padded_content_length() {
            let _ = write!(self.0, "Content-Length: {len:>5}\r\n\r\n");
        } else {
            let _ = write!(self.0, "Content-Length: {len}\r\n\r\n");
        }
        if let Some(body) = sdp {
            self.0.push_str(body);
        }
        self.0.into_bytes()
    }
}

/// A URI host: IPv6 addresses in brackets (RFC 3261 §25.1).
pub(crate) fn host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

fn transport(tcp: bool) -> &'static str {
    if tcp {
        "TCP"
    } else {
        "UDP"
    }
}

fn uri_params(tcp: bool) -> &'static str {
    if tcp {
        ";transport=tcp"
    } else {
        ""
    }
}

fn via(flavor: Flavor, at: SocketAddr, tcp: bool, branch: &str) -> String {
    let rport = if flavor.rport() { ";rport" } else { "" };
    format!("SIP/2.0/{} {at};branch={branch}{rport}", transport(tcp))
}

/// The Via a response carries: the request's, with `rport` filled in.
fn response_via(via: &str, sender: SocketAddr) -> String {
    match via.strip_suffix(";rport") {
        Some(v) => format!("{v};rport={};received={}", sender.port(), sender.ip()),
        None => via.to_owned(),
    }
}

fn digest(user: &str, realm: &str, nonce: &str, uri: &str, rng: &mut SmallRng) -> String {
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{}\", algorithm=MD5",
        hex(rng, 32)
    )
}

fn rtpmap(pt: u8) -> Option<&'static str> {
    Some(match pt {
        0 => "PCMU/8000",
        3 => "GSM/8000",
        4 => "G723/8000",
        8 => "PCMA/8000",
        9 => "G722/8000",
        18 => "G729/8000",
        96 => "opus/48000/2",
        97 => "iLBC/8000",
        98 => "speex/8000",
        101 => "telephone-event/8000",
        _ => return None,
    })
}

/// What a side offers or answers.
struct Media<'a> {
    ip: IpAddr,
    port: u16,
    savp: bool,
    pts: &'a [u8],
    ptime: u32,
}

fn sdp(flavor: Flavor, origin: &(String, u64, u64), m: &Media<'_>, extra: &str) -> String {
    let fam = if m.ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut s = String::with_capacity(512);
    let _ = write!(
        s,
        "v=0\r\no={} {} {} IN {fam} {}\r\ns={}\r\nc=IN {fam} {}\r\nt=0 0\r\nm=audio {} {} ",
        origin.0,
        origin.1,
        origin.2,
        m.ip,
        flavor.sdp_session(),
        m.ip,
        m.port,
        if m.savp { "RTP/SAVP" } else { "RTP/AVP" },
    );
    let pts: Vec<String> = m.pts.iter().map(u8::to_string).collect();
    s.push_str(&pts.join(" "));
    s.push_str("\r\n");
    for &pt in m.pts {
        if let Some(map) = rtpmap(pt) {
            let _ = write!(s, "a=rtpmap:{pt} {map}\r\n");
        }
        match pt {
            18 => s.push_str("a=fmtp:18 annexb=no\r\n"),
            96 => s.push_str("a=fmtp:96 useinbandfec=1\r\n"),
            97 => s.push_str("a=fmtp:97 mode=30\r\n"),
            101 => s.push_str("a=fmtp:101 0-15\r\n"),
            _ => {}
        }
    }
    let _ = write!(s, "a=ptime:{}\r\n", m.ptime);
    s.push_str(extra);
    s.push_str("a=sendrecv\r\n");
    s
}

/// ICE candidates and a video stream: a softphone's INVITE that no longer fits one
/// Ethernet frame, the classic cause of fragmented SIP over UDP.
fn ice_and_video(rng: &mut SmallRng, ip: IpAddr, port: u16) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "a=rtcp-fb:* trr-int 1000\r\na=rtcp-fb:* ccm tmmbr\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\n",
        alnum(rng, 8),
        alnum(rng, 24)
    );
    let relay = "198.51.100.250";
    for (i, (addr, kind)) in [
        (ip.to_string(), "host"),
        (ip.to_string(), "host"),
        ("192.0.2.254".to_string(), "srflx"),
        ("192.0.2.254".to_string(), "srflx"),
        (relay.to_string(), "relay"),
        (relay.to_string(), "relay"),
    ]
    .iter()
    .enumerate()
    {
        let comp = 1 + i % 2;
        let prio = 2_130_706_431u32 - (i as u32) * 16_777_216;
        let _ = write!(s, "a=candidate:{} {comp} UDP {prio} {addr} {} typ {kind}\r\n", i + 1, port + (comp as u16 - 1));
    }
    let _ = write!(
        s,
        "m=video {} RTP/AVP 96 97 98\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=42801F;packetization-mode=1\r\na=rtpmap:98 AV1/90000\r\na=rtcp-fb:* trr-int 1000\r\na=rtcp-fb:* ccm tmmbr\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 ccm fir\r\na=rtcp-fb:97 nack pli\r\na=rtcp-fb:97 ccm fir\r\na=rtcp-fb:98 nack pli\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\n",
        port + 2,
        alnum(rng, 8),
        alnum(rng, 24)
    );
    s
}

/// One side of a call.
#[derive(Debug, Clone)]
pub(crate) struct Party {
    pub host: u32,
    pub flavor: Flavor,
    /// Where its SIP messages come from and go to.
    pub sip: SocketAddr,
    pub tcp: bool,
    /// From user (caller) or Contact user (callee, e.g. the gateway line's account).
    pub user: String,
    pub rtp_port: u16,
}

/// How the callee challenges the first INVITE, if it does.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    None,
    /// 401 (`WWW-Authenticate`, a UA) or 407 (`Proxy-Authenticate`, a proxy or PBX).
    Challenge {
        code: u16,
        user: String,
    },
}

/// How a call ends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    /// 200 OK after `ring_us` of ringing, BYE after `talk_us`.
    Answer { ring_us: u64, talk_us: u64, bye_from_callee: bool },
    /// A final error response `code` after `after_us` of ringing.
    Reject { code: u16, after_us: u64 },
    /// The caller gives up after `after_us`: CANCEL, 200, 487, ACK.
    Cancel { after_us: u64 },
}

/// Everything needed to render one call.
#[derive(Debug, Clone)]
pub(crate) struct CallSpec {
    pub caller: Party,
    pub callee: Party,
    /// The number dialled: Request-URI user part.
    pub ruri_user: String,
    /// The To user part (usually the same number).
    pub to_user: String,
    /// Host part of the From URI.
    pub from_domain: String,
    pub display: Option<String>,
    pub auth: Auth,
    /// 183 with SDP and early media instead of a bare 180.
    pub early_media: bool,
    pub progress_delay_us: u64,
    /// Request-to-response delay seen at the capture point.
    pub lat_us: u64,
    pub outcome: Outcome,
    pub offer_pts: &'static [u8],
    pub pt: u8,
    /// `X-ACrypt` key: the GoIP's RC4 voice encryption, SDP `RTP/SAVP`.
    pub crypt: Option<String>,
    /// Pad the INVITE beyond one Ethernet frame.
    pub large: bool,
    /// Send the callee's 100 Trying and 180 Ringing in one write (TCP coalescing).
    pub coalesce_provisional: bool,
    pub dtmf_digits: u8,
    pub ptime_ms: u32,
}

/// One RTP stream a call runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamPlan {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub pt: u8,
    pub start_us: u64,
    pub until_us: u64,
    pub dtmf_digits: u8,
}

/// A rendered call: messages at offsets from the first INVITE, streams, end offset.
#[derive(Debug)]
pub(crate) struct CallScript {
    pub sends: Vec<(u64, SipSend)>,
    pub streams: Vec<StreamPlan>,
    pub end_us: u64,
    pub times: CallTimes,
}

/// When a rendered call's milestones happen, offsets from the first INVITE (what the
/// cell side of a gateway call is timed against).
#[derive(Debug, Clone)]
pub(crate) struct CallTimes {
    pub call_id: String,
    /// The INVITE the callee accepts (the one with credentials after a challenge).
    pub invite_us: u64,
    /// The callee's 180/183.
    pub progress_us: u64,
    /// The callee's 200 OK, if answered.
    pub answer_us: Option<u64>,
    /// The BYE, the callee's final error response, or the CANCEL.
    pub hangup_us: u64,
    /// Whether the callee ended it (its BYE or error response).
    pub hangup_by_callee: bool,
    /// The callee's final error response code, if it rejected the call.
    pub reject_code: Option<u16>,
}

const MS: u64 = 1_000;

/// Renders a whole call.
pub(crate) fn render_call(rng: &mut SmallRng, spec: &CallSpec) -> CallScript {
    let (a, b) = (&spec.caller, &spec.callee);
    let lat = spec.lat_us.max(MS);
    let call_id = a.flavor.call_id(rng, a.sip.ip());
    let from_tag = a.flavor.tag(rng);
    let to_tag = b.flavor.tag(rng);
    let ruri = format!("sip:{}@{}{}", spec.ruri_user, b.sip, uri_params(b.tcp));
    let from_uri = format!("<sip:{}@{}>", a.user, spec.from_domain);
    let from = match &spec.display {
        Some(d) => format!("\"{d}\" {from_uri};tag={from_tag}"),
        None => format!("{from_uri};tag={from_tag}"),
    };
    let to = format!("<sip:{}@{}>", spec.to_user, host(b.sip.ip()));
    let to_tagged = format!("{to};tag={to_tag}");
    let a_contact = format!("<sip:{}@{}{}>", a.user, a.sip, uri_params(a.tcp));
    let b_contact_uri = format!("sip:{}@{}{}", b.user, b.sip, uri_params(b.tcp));
    let b_contact = format!("<{b_contact_uri}>");
    let a_contact_uri = &a_contact[1..a_contact.len() - 1];

    let large_proxy = spec.large && a.flavor == Flavor::Softswitch;
    let large_ice = spec.large && !large_proxy;
    let record_route: Vec<String> = if large_proxy {
        (0..8)
            .map(|i| {
                format!(
                    "<sip:10.{}.{}.{};lr;ftag={from_tag};did={}.{}>",
                    rng.gen_range(1..255),
                    i + 1,
                    rng.gen_range(1..255),
                    hex(rng, 3),
                    hex(rng, 8)
                )
            })
            .collect()
    } else {
        Vec::new()
    };

    let savp = spec.crypt.is_some();
    let mut offer_pts: Vec<u8> = spec.offer_pts.to_vec();
    if large_proxy {
        offer_pts = vec![8, 0, 18, 4, 3, 97, 98, 101];
    }
    let offer_origin = a.flavor.sdp_origin(rng, &a.user);
    let extra = if large_ice {
        ice_and_video(rng, a.sip.ip(), a.rtp_port)
    } else if large_proxy {
        format!("a=rtcp:{}\r\na=maxptime:60\r\n", a.rtp_port + 1)
    } else {
        String::new()
    };
    let offer = sdp(
        a.flavor,
        &offer_origin,
        &Media { ip: a.sip.ip(), port: a.rtp_port, savp, pts: &offer_pts, ptime: spec.ptime_ms },
        &extra,
    );
    let answer_pts: Vec<u8> = if offer_pts.contains(&101) { vec![spec.pt, 101] } else { vec![spec.pt] };
    let answer_origin = b.flavor.sdp_origin(rng, &b.user);
    let declined_video = if large_ice { "m=video 0 RTP/AVP 96\r\n" } else { "" };
    let answer = sdp(
        b.flavor,
        &answer_origin,
        &Media { ip: b.sip.ip(), port: b.rtp_port, savp, pts: &answer_pts, ptime: spec.ptime_ms },
        declined_video,
    );

    let to_b = |bytes: Vec<u8>| SipSend { src: a.sip, dst: b.sip, tcp: a.tcp, bytes, messages: 1, call: None };
    let to_a = |bytes: Vec<u8>| SipSend { src: b.sip, dst: a.sip, tcp: b.tcp, bytes, messages: 1, call: None };
    let mut sends: Vec<(u64, SipSend)> = Vec::with_capacity(12);
    let mut cseq: u32 = rng.gen_range(1..200);

    let invite = |rng: &mut SmallRng, cseq: u32, branch: &str, auth: Option<(u16, &str, &str)>| {
        let mut m = Msg::request("INVITE", &ruri);
        m.h("Via", via(a.flavor, a.sip, a.tcp, branch));
        for rr in &record_route {
            m.h("Record-Route", rr);
        }
        m.h("Max-Forwards", 70)
            .h("From", &from)
            .h("To", &to)
            .h("Call-ID", &call_id)
            .h("CSeq", format!("{cseq} INVITE"))
            .h("Contact", &a_contact);
        if large_proxy {
            m.h("P-Asserted-Identity", format!("<sip:{}@{}>", a.user, spec.from_domain))
                .h(
                    "Remote-Party-ID",
                    format!("\"{}\" <sip:{}@{}>;party=calling;screen=no;privacy=off", a.user, a.user, spec.from_domain),
                )
                .h("Diversion", format!("<sip:{}@{}>;reason=unconditional;counter=1", a.user, spec.from_domain));
        }
        if let Some((code, realm, user)) = auth {
            let name = if code == 407 { "Proxy-Authorization" } else { "Authorization" };
            let nonce = hex(rng, 32);
            m.h(name, digest(user, realm, &nonce, &ruri, rng));
        }
        m.opt("User-Agent", a.flavor.user_agent())
            .opt("Allow", a.flavor.allow())
            .opt("X-ACrypt", spec.crypt.as_ref().map(|k| format!("RC4:{k}")));
        m.finish(a.flavor, Some(&offer))
    };

    let mut branch = a.flavor.branch(rng);
    let mut first = to_b(invite(rng, cseq, &branch, None));
    first.call = Some((a.host, b.host));
    sends.push((0, first));
    let mut t = 0;

    // A response from the callee to the current INVITE transaction.
    let respond = |code: u16,
                   to_hdr: &str,
                   cseq: u32,
                   branch: &str,
                   method: &str,
                   body: Option<&str>,
                   extra: &[(&str, String)]| {
        let mut m = Msg::response(code, b.flavor.reason(code));
        m.h("Via", response_via(&via(a.flavor, a.sip, a.tcp, branch), a.sip));
        if method == "INVITE" && (180..300).contains(&code) {
            for rr in &record_route {
                m.h("Record-Route", rr);
            }
        }
        m.h("From", &from).h("To", to_hdr).h("Call-ID", &call_id).h("CSeq", format!("{cseq} {method}"));
        if method == "INVITE" && (180..300).contains(&code) {
            m.h("Contact", &b_contact);
        }
        m.opt(b.flavor.response_agent_header(), b.flavor.user_agent());
        if method == "INVITE" && code == 200 {
            m.opt("Allow", b.flavor.allow());
        }
        for (name, value) in extra {
            m.h(name, value);
        }
        if method == "INVITE" && (183..300).contains(&code) {
            m.opt("X-ACrypt", spec.crypt.as_ref().map(|k| format!("RC4:{k}")));
        }
        m.finish(b.flavor, body)
    };

    // ACK for a non-2xx final response: same branch as the INVITE (RFC 3261 §17.1.1.3).
    let ack_error = |cseq: u32, branch: &str, to_hdr: &str| {
        let mut m = Msg::request("ACK", &ruri);
        m.h("Via", via(a.flavor, a.sip, a.tcp, branch))
            .h("Max-Forwards", 70)
            .h("From", &from)
            .h("To", to_hdr)
            .h("Call-ID", &call_id)
            .h("CSeq", format!("{cseq} ACK"))
            .opt("User-Agent", a.flavor.user_agent());
        m.finish(a.flavor, None)
    };

    if let Auth::Challenge { code, user } = &spec.auth {
        let realm = b.flavor.realm(b.sip.ip());
        let nonce = hex(rng, 32);
        let challenge_to = format!("{to};tag={}", b.flavor.tag(rng));
        let header = if *code == 407 { "Proxy-Authenticate" } else { "WWW-Authenticate" };
        t += lat;
        let value = format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm=MD5");
        sends.push((t, to_a(respond(*code, &challenge_to, cseq, &branch, "INVITE", None, &[(header, value)]))));
        t += lat;
        sends.push((t, to_b(ack_error(cseq, &branch, &challenge_to))));
        t += rng.gen_range(MS..5 * MS);
        cseq += 1;
        branch = a.flavor.branch(rng);
        sends.push((t, to_b(invite(rng, cseq, &branch, Some((*code, &realm, user))))));
    }

    let progress_at = t + spec.progress_delay_us.max(2 * lat);
    let progress_code = if spec.early_media { 183 } else { 180 };
    let progress =
        respond(progress_code, &to_tagged, cseq, &branch, "INVITE", spec.early_media.then_some(answer.as_str()), &[]);
    let trying = respond(100, &to, cseq, &branch, "INVITE", None, &[]);
    if spec.coalesce_provisional {
        let mut bytes = trying;
        bytes.extend_from_slice(&progress);
        let mut s = to_a(bytes);
        s.messages = 2;
        sends.push((progress_at, s));
    } else {
        sends.push((t + lat, to_a(trying)));
        sends.push((progress_at, to_a(progress)));
    }

    let media_a = SocketAddr::new(a.sip.ip(), a.rtp_port);
    let media_b = SocketAddr::new(b.sip.ip(), b.rtp_port);
    let stream = |from_callee: bool, start_us: u64, until_us: u64, dtmf_digits: u8| {
        let (src, dst) = if from_callee { (media_b, media_a) } else { (media_a, media_b) };
        StreamPlan { src, dst, pt: spec.pt, start_us, until_us, dtmf_digits }
    };
    let early_start = progress_at + 20 * MS;
    let mut streams = Vec::with_capacity(2);

    let mut times = CallTimes {
        call_id: call_id.clone(),
        invite_us: t,
        progress_us: progress_at,
        answer_us: None,
        hangup_us: 0,
        hangup_by_callee: false,
        reject_code: None,
    };
    let end_us = match spec.outcome {
        Outcome::Answer { ring_us, talk_us, bye_from_callee } => {
            let answer_at = progress_at + ring_us.max(lat);
            sends.push((answer_at, to_a(respond(200, &to_tagged, cseq, &branch, "INVITE", Some(&answer), &[]))));
            let ack_at = answer_at + lat;
            let mut m = Msg::request("ACK", &b_contact_uri);
            m.h("Via", via(a.flavor, a.sip, a.tcp, &a.flavor.branch(rng)));
            for rr in &record_route {
                m.h("Route", rr);
            }
            m.h("Max-Forwards", 70)
                .h("From", &from)
                .h("To", &to_tagged)
                .h("Call-ID", &call_id)
                .h("CSeq", format!("{cseq} ACK"))
                .opt("User-Agent", a.flavor.user_agent());
            sends.push((ack_at, to_b(m.finish(a.flavor, None))));

            let bye_at = answer_at + talk_us.max(2 * lat);
            times.answer_us = Some(answer_at);
            times.hangup_us = bye_at;
            times.hangup_by_callee = bye_from_callee;
            let callee_start = if spec.early_media { early_start } else { answer_at + 10 * MS };
            streams.push(stream(true, callee_start, bye_at, 0));
            streams.push(stream(false, ack_at + 5 * MS, bye_at, spec.dtmf_digits));

            let bye_branch;
            let (bye, ok) = if bye_from_callee {
                bye_branch = b.flavor.branch(rng);
                let bye_cseq: u32 = rng.gen_range(1..200);
                let b_via = via(b.flavor, b.sip, b.tcp, &bye_branch);
                let mut m = Msg::request("BYE", a_contact_uri);
                m.h("Via", &b_via);
                for rr in record_route.iter().rev() {
                    m.h("Route", rr);
                }
                m.h("Max-Forwards", 70)
                    .h("From", &to_tagged)
                    .h("To", &from)
                    .h("Call-ID", &call_id)
                    .h("CSeq", format!("{bye_cseq} BYE"))
                    .opt("User-Agent", b.flavor.user_agent());
                let bye = to_a(m.finish(b.flavor, None));
                let mut r = Msg::response(200, "OK");
                r.h("Via", response_via(&b_via, b.sip))
                    .h("From", &to_tagged)
                    .h("To", &from)
                    .h("Call-ID", &call_id)
                    .h("CSeq", format!("{bye_cseq} BYE"))
                    .opt(a.flavor.response_agent_header(), a.flavor.user_agent());
                (bye, to_b(r.finish(a.flavor, None)))
            } else {
                bye_branch = a.flavor.branch(rng);
                let a_via = via(a.flavor, a.sip, a.tcp, &bye_branch);
                let mut m = Msg::request("BYE", &b_contact_uri);
                m.h("Via", &a_via);
                for rr in &record_route {
                    m.h("Route", rr);
                }
                m.h("Max-Forwards", 70)
                    .h("From", &from)
                    .h("To", &to_tagged)
                    .h("Call-ID", &call_id)
                    .h("CSeq", format!("{} BYE", cseq + 1))
                    .opt("User-Agent", a.flavor.user_agent());
                let bye = to_b(m.finish(a.flavor, None));
                let mut r = Msg::response(200, "OK");
                r.h("Via", response_via(&a_via, a.sip))
                    .h("From", &from)
                    .h("To", &to_tagged)
                    .h("Call-ID", &call_id)
                    .h("CSeq", format!("{} BYE", cseq + 1))
                    .opt(b.flavor.response_agent_header(), b.flavor.user_agent());
                (bye, to_a(r.finish(b.flavor, None)))
            };
            sends.push((bye_at, bye));
            sends.push((bye_at + lat, ok));
            bye_at + lat
        }
        Outcome::Reject { code, after_us } => {
            let final_at = progress_at + after_us.max(lat);
            (times.hangup_us, times.hangup_by_callee, times.reject_code) = (final_at, true, Some(code));
            sends.push((final_at, to_a(respond(code, &to_tagged, cseq, &branch, "INVITE", None, &[]))));
            sends.push((final_at + lat, to_b(ack_error(cseq, &branch, &to_tagged))));
            if spec.early_media {
                streams.push(stream(true, early_start, final_at, 0));
            }
            final_at + lat
        }
        Outcome::Cancel { after_us } => {
            let cancel_at = progress_at + after_us.max(lat);
            times.hangup_us = cancel_at;
            let mut m = Msg::request("CANCEL", &ruri);
            m.h("Via", via(a.flavor, a.sip, a.tcp, &branch))
                .h("Max-Forwards", 70)
                .h("From", &from)
                .h("To", &to)
                .h("Call-ID", &call_id)
                .h("CSeq", format!("{cseq} CANCEL"))
                .opt("User-Agent", a.flavor.user_agent());
            sends.push((cancel_at, to_b(m.finish(a.flavor, None))));
            sends.push((cancel_at + lat, to_a(respond(200, &to_tagged, cseq, &branch, "CANCEL", None, &[]))));
            sends.push((cancel_at + lat + MS, to_a(respond(487, &to_tagged, cseq, &branch, "INVITE", None, &[]))));
            sends.push((cancel_at + 2 * lat + MS, to_b(ack_error(cseq, &branch, &to_tagged))));
            if spec.early_media {
                streams.push(stream(true, early_start, cancel_at, 0));
            }
            cancel_at + 2 * lat + MS
        }
    };

    CallScript { sends, streams, end_us, times }
}

/// A SIP client's registration binding, refreshed for the whole run.
#[derive(Debug)]
pub(crate) struct Registration {
    pub client_host: u32,
    pub flavor: Flavor,
    pub server_flavor: Flavor,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub tcp: bool,
    pub account: String,
    pub expires: u32,
    /// Time between refreshes.
    pub refresh_us: u64,
    pub call_id: String,
    pub from_tag: String,
    pub cseq: u32,
    /// Set once the server has challenged; later refreshes carry credentials at once.
    pub nonce: Option<String>,
}

/// Renders one registration round: REGISTER (401, REGISTER with credentials) 200 OK.
pub(crate) fn render_register(rng: &mut SmallRng, reg: &mut Registration, lat_us: u64) -> Vec<(u64, SipSend)> {
    let lat = lat_us.max(MS);
    let server_host = host(reg.server.ip());
    let server_uri = if reg.server.port() == 5060 {
        format!("sip:{server_host}{}", uri_params(reg.tcp))
    } else {
        format!("sip:{}{}", reg.server, uri_params(reg.tcp))
    };
    let aor = format!("<sip:{}@{server_host}>", reg.account);
    let from = format!("{aor};tag={}", reg.from_tag);
    let to_tagged = format!("{aor};tag={}", reg.server_flavor.tag(rng));
    let contact = format!("<sip:{}@{}{}>", reg.account, reg.client, uri_params(reg.tcp));
    let realm = reg.server_flavor.realm(reg.server.ip());

    let up = |bytes| SipSend { src: reg.client, dst: reg.server, tcp: reg.tcp, bytes, messages: 1, call: None };
    let down = |bytes| SipSend { src: reg.server, dst: reg.client, tcp: reg.tcp, bytes, messages: 1, call: None };

    let mut out = Vec::with_capacity(4);
    let mut t = 0;
    let request = |rng: &mut SmallRng, cseq: u32, nonce: Option<&str>| {
        let v = via(reg.flavor, reg.client, reg.tcp, &reg.flavor.branch(rng));
        let mut m = Msg::request("REGISTER", &server_uri);
        m.h("Via", &v)
            .h("From", &from)
            .h("To", &aor)
            .h("Call-ID", &reg.call_id)
            .h("CSeq", format!("{cseq} REGISTER"))
            .h("Contact", &contact);
        if let Some(n) = nonce {
            m.h("Authorization", digest(&reg.account, &realm, n, &server_uri, rng));
        }
        m.h("Max-Forwards", 70)
            .opt("User-Agent", reg.flavor.user_agent())
            .h("Expires", reg.expires)
            .opt("Allow", reg.flavor.allow());
        (v, m.finish(reg.flavor, None))
    };
    let response = |code: u16, v: &str, cseq: u32, extra: Option<(&str, String)>| {
        let mut m = Msg::response(code, reg.server_flavor.reason(code));
        m.h("Via", response_via(v, reg.client))
            .h("From", &from)
            .h("To", &to_tagged)
            .h("Call-ID", &reg.call_id)
            .h("CSeq", format!("{cseq} REGISTER"));
        if code == 200 {
            m.h("Contact", format!("{contact};expires={}", reg.expires));
        }
        if let Some((name, value)) = extra {
            m.h(name, value);
        }
        m.opt(reg.server_flavor.response_agent_header(), reg.server_flavor.user_agent());
        m.finish(reg.server_flavor, None)
    };

    if reg.nonce.is_none() {
        reg.cseq += 1;
        let (v, req) = request(rng, reg.cseq, None);
        out.push((t, up(req)));
        let nonce = hex(rng, 32);
        t += lat;
        let challenge = format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm=MD5");
        out.push((t, down(response(401, &v, reg.cseq, Some(("WWW-Authenticate", challenge))))));
        t += lat;
        reg.nonce = Some(nonce);
    }
    reg.cseq += 1;
    let nonce = reg.nonce.clone();
    let (v, req) = request(rng, reg.cseq, nonce.as_deref());
    out.push((t, up(req)));
    out.push((t + lat, down(response(200, &v, reg.cseq, None))));
    out
}

/// A periodic OPTIONS ping (a GoIP's keep-alive, a PBX's `qualify`).
#[derive(Debug)]
pub(crate) struct KeepAlive {
    pub flavor: Flavor,
    pub peer_flavor: Flavor,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub tcp: bool,
    pub user: String,
    pub interval_us: u64,
    pub cseq: u32,
}

/// Renders one OPTIONS and its 200 OK.
pub(crate) fn render_options(rng: &mut SmallRng, ka: &mut KeepAlive, lat_us: u64) -> Vec<(u64, SipSend)> {
    ka.cseq += 1;
    let peer = host(ka.to.ip());
    let uri = format!("sip:{peer}:{}{}", ka.to.port(), uri_params(ka.tcp));
    let from = format!("<sip:{}@{}>;tag={}", ka.user, host(ka.from.ip()), ka.flavor.tag(rng));
    let to = format!("<sip:{peer}>");
    let call_id = ka.flavor.call_id(rng, ka.from.ip());
    let v = via(ka.flavor, ka.from, ka.tcp, &ka.flavor.branch(rng));
    let mut m = Msg::request("OPTIONS", &uri);
    m.h("Via", &v)
        .h("From", &from)
        .h("To", &to)
        .h("Call-ID", &call_id)
        .h("CSeq", format!("{} OPTIONS", ka.cseq))
        .h("Contact", format!("<sip:{}@{}{}>", ka.user, ka.from, uri_params(ka.tcp)))
        .h("Max-Forwards", 70)
        .opt("User-Agent", ka.flavor.user_agent());
    let req = m.finish(ka.flavor, None);
    let mut r = Msg::response(200, "OK");
    r.h("Via", response_via(&v, ka.from))
        .h("From", &from)
        .h("To", format!("{to};tag={}", ka.peer_flavor.tag(rng)))
        .h("Call-ID", &call_id)
        .h("CSeq", format!("{} OPTIONS", ka.cseq))
        .opt(ka.peer_flavor.response_agent_header(), ka.peer_flavor.user_agent())
        .opt("Allow", ka.peer_flavor.allow())
        .h("Accept", "application/sdp");
    let resp = r.finish(ka.peer_flavor, None);
    let send = |src, dst, bytes| SipSend { src, dst, tcp: ka.tcp, bytes, messages: 1, call: None };
    vec![(0, send(ka.from, ka.to, req)), (lat_us.max(MS), send(ka.to, ka.from, resp))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn party(flavor: Flavor, sip: &str, user: &str) -> Party {
        Party { host: 0, flavor, sip: sip.parse().unwrap(), tcp: false, user: user.into(), rtp_port: 10_000 }
    }

    fn goip_call(outcome: Outcome) -> CallSpec {
        CallSpec {
            caller: party(Flavor::Softswitch, "203.0.113.10:5060", "85261234567"),
            callee: party(Flavor::Dble, "198.51.100.10:5060", "goip1_1"),
            ruri_user: "8613812345678".into(),
            to_user: "8613812345678".into(),
            from_domain: "203.0.113.10".into(),
            display: None,
            auth: Auth::None,
            early_media: true,
            progress_delay_us: 2_000_000,
            lat_us: 50_000,
            outcome,
            offer_pts: &[8, 0, 18, 101],
            pt: 8,
            crypt: None,
            large: false,
            coalesce_provisional: false,
            dtmf_digits: 0,
            ptime_ms: 20,
        }
    }

    fn texts(script: &CallScript) -> Vec<String> {
        script.sends.iter().map(|(_, s)| String::from_utf8(s.bytes.clone()).unwrap()).collect()
    }

    #[test]
    fn answered_goip_call_has_fingerprints_and_right_content_length() {
        let mut rng = SmallRng::seed_from_u64(5);
        let s = render_call(
            &mut rng,
            &goip_call(Outcome::Answer { ring_us: 5_000_000, talk_us: 30_000_000, bye_from_callee: true }),
        );
        let t = texts(&s);
        let firsts: Vec<&str> = t.iter().map(|m| m.lines().next().unwrap()).collect();
        assert_eq!(
            firsts,
            [
                "INVITE sip:8613812345678@198.51.100.10:5060 SIP/2.0",
                "SIP/2.0 100 Trying",
                "SIP/2.0 183 Session Progress",
                "SIP/2.0 200 OK",
                "ACK sip:goip1_1@198.51.100.10:5060 SIP/2.0",
                "BYE sip:85261234567@203.0.113.10:5060 SIP/2.0",
                "SIP/2.0 200 OK",
            ]
        );
        assert!(t[3].contains("User-Agent: dble\r\n"));
        assert!(t[3].contains("o=userX 20000001 20000001 IN IP4 198.51.100.10\r\n"));
        assert!(t[3].contains("s=DBL Session\r\n"));
        assert!(t[1].contains("Content-Length:     0\r\n"));
        assert!(t[5].contains(";rport\r\n"));
        for m in &t {
            let (head, body) = m.split_once("\r\n\r\n").unwrap();
            let cl = head.lines().find_map(|l| l.strip_prefix("Content-Length:")).unwrap();
            assert_eq!(cl.trim().parse::<usize>().unwrap(), body.len());
        }
        assert_eq!(s.streams.len(), 2);
        assert!(s.sends.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(s.sends[0].1.call, Some((0, 0)));
    }

    #[test]
    fn busy_goip_says_remote_busy_and_caller_acks_on_the_invite_branch() {
        let mut rng = SmallRng::seed_from_u64(6);
        let s = render_call(&mut rng, &goip_call(Outcome::Reject { code: 480, after_us: 1_000_000 }));
        let t = texts(&s);
        assert!(t[3].starts_with("SIP/2.0 480 Remote Busy\r\n"));
        let branch = |m: &str| {
            m.lines()
                .find(|l| l.starts_with("Via:"))
                .unwrap()
                .split(";branch=")
                .nth(1)
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        };
        assert!(t[4].starts_with("ACK "));
        assert_eq!(branch(&t[0]), branch(&t[4]));
    }

    #[test]
    fn large_softswitch_invite_exceeds_one_frame() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut spec = goip_call(Outcome::Cancel { after_us: 1 });
        spec.large = true;
        let s = render_call(&mut rng, &spec);
        assert!(s.sends[0].1.bytes.len() > 1472, "{}", s.sends[0].1.bytes.len());
    }

    #[test]
    fn registration_challenged_once() {
        let mut rng = SmallRng::seed_from_u64(8);
        let mut reg = Registration {
            client_host: 0,
            flavor: Flavor::Dble,
            server_flavor: Flavor::Softswitch,
            client: "198.51.100.10:5060".parse().unwrap(),
            server: "203.0.113.10:5060".parse().unwrap(),
            tcp: false,
            account: "goip1_1".into(),
            expires: 60,
            refresh_us: 60_000_000,
            call_id: "1@198.51.100.10".into(),
            from_tag: "1".into(),
            cseq: 0,
            nonce: None,
        };
        let first = render_register(&mut rng, &mut reg, 50_000);
        assert_eq!(first.len(), 4);
        let again = render_register(&mut rng, &mut reg, 50_000);
        assert_eq!(again.len(), 2);
        let text = String::from_utf8(again[0].1.bytes.clone()).unwrap();
        assert!(text.contains("Authorization: Digest username=\"goip1_1\""));
        assert!(text.contains("Expires: 60\r\n"));
        assert!(text.contains("CSeq: 3 REGISTER\r\n"));
    }
}
