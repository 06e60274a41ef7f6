//! The offline pipeline: frames in, an [`AnalysisReport`] out.
//!
//! frame → link/IP decode → fragment reassembly → UDP datagram or TCP stream
//! → SIP message → session tracking and signature scan → per-address report.
//! Time is capture time: tables are swept every ten seconds of it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use duanka_shared::report::{AnalysisReport, FileSummary, RtpReport, SipSummary, Verdict, REPORT_SCHEMA_VERSION};

use crate::anomaly::{Anomaly, Class, Counters};
use crate::capture::file::ReadOutcome;
use crate::capture::{Frame, Micros};
use crate::detect::score::assess;
use crate::detect::{gateway_report, SignatureDb};
use crate::dissect::layers::{self, IpPacket, Transport};
use crate::dissect::{goip, gsmtap, sdp, sip};
use crate::track::cell::CellTracker;
use crate::track::host::{EvidenceSource, FrameRef};
use crate::track::links::Linker;
use crate::track::rtp::{RtpTracker, StreamReport};
use crate::track::sip::{MessageMeta, SipTracker};
use crate::track::{ipfrag, tcp};

/// How often, in capture time, idle table entries are swept.
const SWEEP_INTERVAL: Micros = 10_000_000;

/// UDP ports on which a datagram that is not SIP is worth counting.
const SIP_UDP_PORTS: [u16; 2] = [5060, 5061];

/// The SIP side of the pipeline: parse, track, scan.
#[derive(Debug)]
struct SipSide<'db> {
    db: &'db SignatureDb,
    tracker: SipTracker,
    summary: SipSummary,
    invalid: BTreeMap<&'static str, u64>,
    methods: BTreeMap<String, u64>,
    counters: Counters,
    /// Capture time of the latest SIP message.
    last_ts: Micros,
    /// RTP and RTCP streams, announced by SDP or found by heuristic.
    rtp: RtpTracker,
    /// RTP totals.
    rtp_summary: RtpTotals,
    /// Cell-side state from GSMTAP.
    cells: CellTracker,
    /// SIP call ↔ GSM call matching.
    linker: Linker,
}

impl SipSide<'_> {
    fn message(&mut self, bytes: &[u8], meta: &MessageMeta, over_tcp: bool) {
        // Real devices bend the grammar (unbracketed IPv6 hosts, odd tags):
        // such a message still counts as invalid, but is tracked when it can
        // be understood, so its call or registration is not lost.
        let msg = match sip::parse_message_lenient(bytes) {
            Ok(sip::Lenient { message, faults }) => {
                if let Some(first) = faults.first() {
                    self.summary.invalid += 1;
                    self.summary.invalid_tracked += 1;
                    *self.invalid.entry(first.kind.name()).or_default() += 1;
                    tracing::debug!(frame = meta.frame.number, src = %meta.src, "SIP message tracked despite: {first}");
                }
                message
            }
            Err(e) => {
                self.summary.invalid += 1;
                *self.invalid.entry(e.kind.name()).or_default() += 1;
                tracing::debug!(frame = meta.frame.number, src = %meta.src, "invalid SIP message: {e}");
                return;
            }
        };
        self.summary.messages += 1;
        self.last_ts = self.last_ts.max(meta.ts);
        self.summary.over_tcp += u64::from(over_tcp);
        if let Some(m) = msg.method() {
            self.summary.requests += 1;
            let name = m.as_bytes();
            match self.methods.get_mut(String::from_utf8_lossy(name).as_ref()) {
                Some(n) => *n += 1,
                None => {
                    self.methods.insert(String::from_utf8_lossy(name).into_owned(), 1);
                }
            }
        } else {
            self.summary.responses += 1;
        }
        let session = msg.sdp().and_then(Result::ok);
        self.tracker.message(&msg, meta, &mut self.counters);
        if let Some(session) = &session {
            self.expect_media(&msg, session, meta.ts);
        }
        let mut new_evidence = false;
        if let Some(host) = self.tracker.host_mut(meta.src.ip()) {
            self.db.scan(&msg, session.as_ref(), |sig, observed| {
                new_evidence |= host.record(EvidenceSource::Signature(sig), observed, meta.frame);
            });
        }
        for call in self.tracker.take_new_calls() {
            self.linker.sip_call(call.ts, call.callee, &call.number, call.frame);
        }
        let mut changed = self.tracker.take_changed();
        if new_evidence {
            changed.push(meta.src.ip());
        }
        self.detect(&changed, meta.ts);
    }

    /// Announce the RTP streams an SDP offer or answer sets up, so they are
    /// linked to the call (RFC 3264: media is sent to the c= address and m= port).
    fn expect_media(&mut self, msg: &sip::Message<'_>, session: &sdp::Session<'_>, now: Micros) {
        let call = call_key(msg.call_id().unwrap_or_default());
        for m in session.media.iter().filter(|m| m.is_rtp()) {
            let Some(ip) = m.connection.as_ref().or(session.connection.as_ref()).and_then(|c| c.ip()) else { continue };
            let codecs: Vec<(u8, String, u32)> = m
                .formats
                .iter()
                .filter_map(|f| std::str::from_utf8(f).ok()?.parse::<u8>().ok())
                .filter_map(|pt| match m.rtpmap(pt) {
                    Some(r) => Some((pt, String::from_utf8_lossy(r.encoding).into_owned(), r.clock_rate)),
                    None => sdp::static_payload(pt).map(|s| (pt, s.name.to_string(), s.clock_rate)),
                })
                .collect();
            self.rtp.expect(now, SocketAddr::new(ip, m.port), call, &codecs, &mut self.counters);
        }
    }

    /// A GSMTAP datagram (SPEC 3.4): cell-side signalling.
    fn gsmtap(&mut self, payload: &[u8], meta: &MessageMeta) {
        self.cells.datagram(meta.ts, payload, meta.frame);
        for setup in self.cells.take_setups() {
            self.linker.gsm_setup(setup);
        }
    }

    /// Fold ended streams into the totals and into their sender's record.
    fn streams_ended(&mut self, streams: Vec<StreamReport>) {
        for st in streams {
            self.rtp_summary.add(&st);
            if let Some(host) = self.tracker.host_mut(st.src.ip()) {
                host.rtp.add(&st);
            }
        }
    }

    /// A GoIP SMS-server message: keep-alives name the SIMs and modules of
    /// each channel of the sending gateway (SPEC 3.2). The password field is
    /// never read out of the parser.
    fn goip_sms(&mut self, payload: &[u8], meta: &MessageMeta) {
        let msg = match goip::parse(payload) {
            Ok(m) => m,
            Err(e) => {
                self.counters.add(Anomaly::GoipMalformed);
                tracing::debug!(frame = meta.frame.number, src = %meta.src, "invalid GoIP control message: {e:?}");
                return;
            }
        };
        let Some(host) = self.tracker.host(meta.src.ip(), meta.ts, &mut self.counters) else { return };
        // Call reports put calls on channels: a line's idle time between calls.
        let channel_line =
            |id: Option<goip::Field<'_>>| id.map(|f| format!("goip:{}", String::from_utf8_lossy(f.value)));
        let k = match msg {
            goip::Message::KeepAlive(k) => k,
            goip::Message::Record(r) => {
                if let Some(line) = channel_line(r.id).and_then(|id| host.lines.line(&id)) {
                    line.calls += 1;
                    if let Some(end) = line.last_hangup.take() {
                        line.gap_sum_us += meta.ts.saturating_sub(end);
                        line.gaps += 1;
                    }
                }
                return;
            }
            goip::Message::Hangup(h) => {
                if let Some(line) = channel_line(h.id).and_then(|id| host.lines.line(&id)) {
                    line.last_hangup = Some(meta.ts);
                }
                return;
            }
            _ => return,
        };
        let first = host.goip_keepalives == 0;
        host.goip_keepalives += 1;
        if host.goip_frames.len() < crate::track::host::MAX_EVIDENCE_FRAMES {
            host.goip_frames.push(meta.frame);
        }
        let channel = k.id.map(|f| String::from_utf8_lossy(f.value).into_owned());
        if let Some(c) = k.id {
            host.goip_channels.insert_counted(c.value, |v| v.into(), &mut self.counters);
        }
        let ch = channel.as_deref();
        if let Some(f) = k.imsi.filter(|f| !f.value.is_empty()) {
            host.imsis.note(&String::from_utf8_lossy(f.value), k.imsi_id().is_some(), ch, meta.frame);
        }
        if let Some(f) = k.imei.filter(|f| !f.value.is_empty()) {
            host.imeis.note(&String::from_utf8_lossy(f.value), k.imei_id().is_some(), ch, meta.frame);
        }
        if let Some(f) = k.iccid.filter(|f| !f.value.is_empty()) {
            host.iccids.note(&String::from_utf8_lossy(f.value), k.iccid_id().is_some(), ch, meta.frame);
        }
        if first {
            self.detect(&[meta.src.ip()], meta.ts);
        }
    }

    /// A remote SIM-bank packet exchanged by `gateway`.
    fn simbank(&mut self, gateway: IpAddr, meta: &MessageMeta) {
        let Some(host) = self.tracker.host(gateway, meta.ts, &mut self.counters) else { return };
        let first = host.simbank_packets == 0;
        host.simbank_packets += 1;
        if host.simbank_frames.len() < crate::track::host::MAX_EVIDENCE_FRAMES {
            host.simbank_frames.push(meta.frame);
        }
        if first {
            self.detect(&[gateway], meta.ts);
        }
    }

    /// Online detection: re-score addresses whose evidence or behaviour just
    /// changed and note when one first reaches the SIM-box threshold.
    fn detect(&mut self, addrs: &[IpAddr], now: Micros) {
        for addr in addrs {
            let Some(host) = self.tracker.host_mut(*addr) else { continue };
            if host.detected_at.is_none() && assess(host, self.db, &[]).verdict == Verdict::Simbox {
                host.detected_at = Some(now);
            }
        }
    }
}

/// A stable key for a call, from its Call-ID.
fn call_key(call_id: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    call_id.hash(&mut h);
    h.finish()
}

/// RTP totals over the whole input.
#[derive(Debug, Default)]
struct RtpTotals {
    streams: u64,
    from_sdp: u64,
    linked_to_calls: u64,
    packets: u64,
    lost: i64,
    with_rtcp: u64,
    dtmf_events: u64,
    codecs: BTreeMap<String, u64>,
}

impl RtpTotals {
    fn add(&mut self, st: &StreamReport) {
        self.streams += 1;
        self.from_sdp += u64::from(st.from_sdp);
        self.linked_to_calls += u64::from(st.call.is_some());
        self.packets += st.packets;
        self.lost += st.lost;
        self.with_rtcp += u64::from(st.rtcp_sr + st.rtcp_rr > 0);
        self.dtmf_events += st.dtmf_events;
        *self.codecs.entry(st.codec.clone().unwrap_or_else(|| format!("PT {}", st.payload_type))).or_default() += 1;
    }

    fn into_report(self) -> RtpReport {
        RtpReport {
            streams: self.streams,
            from_sdp: self.from_sdp,
            linked_to_calls: self.linked_to_calls,
            packets: self.packets,
            lost: self.lost,
            streams_with_rtcp: self.with_rtcp,
            dtmf_events: self.dtmf_events,
            codecs: self.codecs,
        }
    }
}

/// The whole pipeline's state.
#[derive(Debug)]
pub struct Analyzer<'db> {
    counters: Counters,
    frags: ipfrag::Reassembler,
    streams: tcp::Reassembler,
    sip: SipSide<'db>,
    packets: u64,
    bytes: u64,
    next_sweep: Micros,
    files: Vec<FileSummary>,
    file_index: u32,
}

impl<'db> Analyzer<'db> {
    /// A pipeline scoring with `db`.
    pub fn new(db: &'db SignatureDb) -> Self {
        Analyzer {
            counters: Counters::default(),
            frags: ipfrag::Reassembler::new(),
            streams: tcp::Reassembler::new(),
            sip: SipSide {
                db,
                tracker: SipTracker::new(db.numbering.clone()),
                summary: SipSummary::default(),
                invalid: BTreeMap::new(),
                methods: BTreeMap::new(),
                counters: Counters::default(),
                last_ts: 0,
                rtp: RtpTracker::new(),
                rtp_summary: RtpTotals::default(),
                cells: CellTracker::new(),
                linker: Linker::default(),
            },
            packets: 0,
            bytes: 0,
            next_sweep: 0,
            files: Vec::new(),
            file_index: 0,
        }
    }

    /// Start a new input file; frame numbers that follow refer to it.
    pub fn begin_file(&mut self, path: &str, format: &str, bytes: u64) {
        self.file_index = self.files.len() as u32;
        self.files.push(FileSummary {
            path: path.to_string(),
            format: format.to_string(),
            frames: 0,
            bytes,
            warning: None,
        });
    }

    /// Finish the current file with what its reader said.
    pub fn end_file(&mut self, outcome: &ReadOutcome) {
        if let Some(f) = self.files.last_mut() {
            f.frames = outcome.frames;
            f.warning = outcome.warning.clone();
        }
    }

    /// Feed one frame.
    pub fn frame(&mut self, frame: &Frame<'_>) {
        self.packets += 1;
        self.bytes += frame.data.len() as u64;
        if frame.ts >= self.next_sweep {
            self.sweep(frame.ts);
        }
        let fref = FrameRef { file: self.file_index, number: frame.number };
        match layers::decode_frame(frame.link, frame.data) {
            Ok(Some(ip)) => self.ip(frame.ts, fref, &ip),
            Ok(None) => {}
            Err(a) => self.counters.add(a),
        }
    }

    fn sweep(&mut self, now: Micros) {
        // A capture that starts in 1970 or jumps backwards must not stall sweeps.
        self.next_sweep = now.saturating_add(SWEEP_INTERVAL);
        self.frags.expire(now, &mut self.counters);
        self.streams.expire(now);
        self.sip.tracker.expire(now, &mut self.sip.counters);
        self.sip.rtp.expire(now);
        let ended = self.sip.rtp.take_finished();
        self.sip.streams_ended(ended);
        let changed = self.sip.tracker.take_changed();
        self.sip.detect(&changed, now);
    }

    fn ip(&mut self, ts: Micros, fref: FrameRef, ip: &IpPacket<'_>) {
        match ip.fragment {
            None => self.transport(ts, fref, ip.src, ip.dst, ip.protocol, ip.payload),
            Some(frag) => {
                if let Some(d) = self.frags.add(ts, ip, frag, &mut self.counters) {
                    self.transport(ts, fref, d.src, d.dst, d.protocol, &d.payload);
                }
            }
        }
    }

    fn transport(&mut self, ts: Micros, frame: FrameRef, src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8]) {
        match layers::decode_transport(protocol, payload) {
            Ok(Transport::Udp { src_port, dst_port, payload }) => {
                let meta =
                    MessageMeta { ts, src: SocketAddr::new(src, src_port), dst: SocketAddr::new(dst, dst_port), frame };
                if sip::looks_like_sip(payload) {
                    self.sip.message(payload, &meta, false);
                } else if dst_port == gsmtap::UDP_PORT || src_port == gsmtap::UDP_PORT {
                    self.sip.gsmtap(payload, &meta);
                } else if self.sip.rtp.datagram(ts, meta.src, meta.dst, payload, &mut self.counters) {
                    // RTP or RTCP, counted in its stream.
                } else if goip::looks_like_goip_sms(payload) {
                    self.sip.goip_sms(payload, &meta);
                } else if (src_port == goip::SIMBANK_PORT || dst_port == goip::SIMBANK_PORT)
                    && goip::is_simbank(payload)
                {
                    // The gateway is the SIM-bank client: the side not on the server port.
                    let gateway = if dst_port == goip::SIMBANK_PORT { meta.src } else { meta.dst };
                    self.sip.simbank(gateway.ip(), &meta);
                } else if (SIP_UDP_PORTS.contains(&dst_port) || SIP_UDP_PORTS.contains(&src_port))
                    && !payload.iter().all(|b| matches!(b, b'\r' | b'\n' | 0))
                {
                    // CRLF and NUL keep-alives are normal on SIP ports; anything
                    // else there that is not SIP is worth knowing about.
                    self.counters.add(Anomaly::SipPortNotSip);
                }
            }
            Ok(Transport::Tcp(seg)) => {
                let key = tcp::FlowKey {
                    src: SocketAddr::new(src, seg.src_port()),
                    dst: SocketAddr::new(dst, seg.dst_port()),
                };
                let meta = MessageMeta { ts, src: key.src, dst: key.dst, frame };
                let sip = &mut self.sip;
                self.streams.segment(ts, key, &seg, &mut self.counters, |msg| sip.message(msg, &meta, true));
            }
            Ok(Transport::Other(_)) => {}
            Err(a) => self.counters.add(a),
        }
    }

    /// Packets fed so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// A GSMTAP datagram that arrived on its own (the live probe's UDP
    /// listener), from `src` at `ts`; `number` counts such datagrams.
    pub fn gsmtap_datagram(&mut self, ts: Micros, number: u64, src: SocketAddr, local: SocketAddr, payload: &[u8]) {
        self.packets += 1;
        self.bytes += payload.len() as u64;
        if ts >= self.next_sweep {
            self.sweep(ts);
        }
        let frame = FrameRef { file: self.file_index, number };
        self.sip.gsmtap(payload, &MessageMeta { ts, src, dst: local, frame });
    }

    /// Runs the periodic sweep now if it is due at `now` (a live probe calls
    /// this when no traffic arrives, so idle state still expires).
    pub fn tick(&mut self, now: Micros) {
        if now >= self.next_sweep {
            self.sweep(now);
        }
    }

    /// Decode errors by kind so far, all layers together.
    pub fn decode_errors(&self) -> BTreeMap<String, u64> {
        let mut out = self.counters.by_name(Class::Decode);
        for (k, v) in self.sip.counters.by_name(Class::Decode) {
            *out.entry(k).or_default() += v;
        }
        for (k, v) in &self.sip.invalid {
            *out.entry(format!("sip_{k}")).or_default() += v;
        }
        // Straight from the tracker: building the cell report for its error
        // counts would format every subscriber on each heartbeat.
        for (k, v) in &self.sip.cells.errors {
            *out.entry(format!("gsmtap_{k}")).or_default() += v;
        }
        out
    }

    /// What the pipeline knows now, without finishing it: the gateways still
    /// followed (scored as [`Analyzer::report`] scores them) and the cell
    /// side. Totals are those so far. The live probe diffs successive
    /// snapshots (see `run::live`).
    pub fn snapshot(&self) -> AnalysisReport {
        let names: Vec<String> = self.files.iter().map(|f| f.path.clone()).collect();
        let db = self.sip.db;
        let mut gateways: Vec<_> = self.sip.tracker.live_hosts().map(|h| gateway_report(h, db, &names)).collect();
        crate::detect::score::attach_links(&mut gateways, &self.sip.linker, &names);
        let cell = crate::detect::score::cell_report(&self.sip.cells);
        crate::detect::score::add_cell_evidence(&mut gateways, &cell.subscribers, &cell.devices, db);
        gateways.sort_by(|a, b| a.address.cmp(&b.address));
        AnalysisReport {
            schema: REPORT_SCHEMA_VERSION,
            probe_version: env!("CARGO_PKG_VERSION").to_string(),
            signatures_version: db.version.clone(),
            files: self.files.clone(),
            packets: self.packets,
            bytes: self.bytes,
            decode_errors: self.decode_errors(),
            limits: self.counters.by_name(Class::Limit),
            sip: self.sip.summary.clone(),
            rtp: RtpReport::default(),
            cell: cell.summary,
            cell_messages: cell.messages,
            cells: cell.cells,
            subscribers: cell.subscribers,
            devices: cell.devices,
            gateways,
        }
    }

    /// Finish: score every address and build the report.
    pub fn report(self) -> AnalysisReport {
        let Analyzer { mut counters, sip, packets, bytes, files, frags, .. } = self;
        // Datagrams still waiting for fragments at the end never completed.
        for _ in 0..frags.len() {
            counters.add(Anomaly::FragmentIncomplete);
        }
        let mut sip = sip;
        let rtp = std::mem::take(&mut sip.rtp);
        for (a, n) in rtp.counters().iter().filter(|(_, n)| *n > 0) {
            let into = if a.class() == Class::Decode { &mut counters } else { &mut sip.counters };
            into.add_named(a.name(), a.class(), n);
        }
        sip.streams_ended(rtp.finish());
        // Calls still open at the end of the input count as ended there.
        sip.tracker.finish_all();
        let changed = sip.tracker.take_changed();
        let end = sip.last_ts;
        sip.detect(&changed, end);
        let SipSide {
            db,
            tracker,
            mut summary,
            invalid,
            methods,
            counters: sip_counters,
            rtp_summary,
            cells,
            linker,
            ..
        } = sip;
        let totals = tracker.totals;
        summary.registrations = totals.registrations;
        summary.calls = totals.calls;
        summary.calls_answered = totals.calls_answered;
        summary.invalid_by_kind = invalid.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        summary.methods = methods;
        let names: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
        let mut gateways: Vec<_> = tracker.into_hosts().iter().map(|h| gateway_report(h, db, &names)).collect();
        crate::detect::score::attach_links(&mut gateways, &linker, &names);
        let cell = crate::detect::score::cell_report(&cells);
        crate::detect::score::add_cell_evidence(&mut gateways, &cell.subscribers, &cell.devices, db);
        gateways.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.address.cmp(&b.address)));
        let mut decode_errors = counters.by_name(Class::Decode);
        let mut limits = counters.by_name(Class::Limit);
        for (k, v) in sip_counters.by_name(Class::Decode) {
            *decode_errors.entry(k).or_default() += v;
        }
        for (k, v) in sip_counters.by_name(Class::Limit) {
            *limits.entry(k).or_default() += v;
        }
        AnalysisReport {
            schema: REPORT_SCHEMA_VERSION,
            probe_version: env!("CARGO_PKG_VERSION").to_string(),
            signatures_version: db.version.clone(),
            files,
            packets,
            bytes,
            decode_errors,
            limits,
            sip: summary,
            rtp: rtp_summary.into_report(),
            cell: cell.summary,
            cell_messages: cell.messages,
            cells: cell.cells,
            subscribers: cell.subscribers,
            devices: cell.devices,
            gateways,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::layers::LinkType;
    use crate::track::cell::fixtures;

    /// An Ethernet + IPv4 + UDP frame.
    fn udp_frame(src: &str, dst: &str, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        use crate::dissect::{ethernet, ipv4, udp};
        let eth = ethernet::Repr { dst: [2; 6], src: [4; 6], vlans: vec![], ethertype: ethernet::EtherType::Ipv4 };
        let mut buf = vec![0u8; eth.header_len() + 28];
        eth.emit(&mut buf);
        let ip = ipv4::Repr {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: layers::proto::UDP,
            payload_len: 8 + payload.len(),
            ident: 1,
            frag_offset: 0,
            more_frags: false,
            ttl: 64,
        };
        ip.emit(&mut buf[14..]);
        udp::emit(&mut buf[34..], sport, dport, payload.len());
        buf.extend_from_slice(payload);
        buf
    }

    fn invite(number: &str, call_id: &str) -> Vec<u8> {
        format!(
            "INVITE sip:{number}@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-{call_id}\r\n\
             From: <sip:855@203.0.113.5>;tag=a\r\nTo: <sip:{number}@192.0.2.10>\r\nCall-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn sip_calls_and_gsm_setups_tie_the_gateway_to_its_sims() {
        let db = SignatureDb::builtin();
        let mut a = Analyzer::new(&db);
        a.begin_file("t.pcap", "pcap", 0);
        let mut n = 0;
        let mut feed = |a: &mut Analyzer<'_>, ts: u64, frame: Vec<u8>| {
            n += 1;
            a.frame(&Frame { number: n, ts, link: LinkType::Ethernet, data: &frame, orig_len: frame.len() as u32 });
        };
        let sensor =
            |l3: Vec<u8>, ts: u8| udp_frame("192.0.2.250", "192.0.2.251", 40000, 4729, &fixtures::abis(ts, &l3));
        let (sim_a, sim_b) = ("460001111111111", "460002222222222");
        let t0 = 1_800_000_000_000_000;
        feed(&mut a, t0, sensor(fixtures::lu_request(sim_a), 1));
        feed(&mut a, t0 + 1_000, sensor(fixtures::lu_request(sim_b), 2));
        for (i, (sim, ts)) in [(sim_a, 1u8), (sim_b, 2), (sim_a, 1)].into_iter().enumerate() {
            let at = t0 + (i as u64 + 1) * 60_000_000;
            let number = format!("1380013800{i}");
            feed(
                &mut a,
                at,
                udp_frame("203.0.113.5", "192.0.2.10", 5060, 5060, &invite(&format!("86{number}"), &format!("c{i}"))),
            );
            feed(&mut a, at + 3_000_000, sensor(fixtures::cm_service_request(sim), ts));
            feed(&mut a, at + 3_100_000, sensor(fixtures::setup(&number), ts));
        }
        let report = a.report();
        let gw = report.gateways.iter().find(|g| g.address == "192.0.2.10").unwrap();
        let links: Vec<(&str, u64)> = gw.imsis.iter().map(|l| (l.imsi.as_str(), l.calls_matched)).collect();
        assert_eq!(links, vec![(sim_a, 2), (sim_b, 1)], "{:#?}", gw.imsis);
        assert_eq!(gw.imsis[0].sip_frames, vec![3, 9]);
        assert_eq!(gw.imsis[0].sources, vec!["call_match"]);
        assert!(gw.imsis[0].confidence > gw.imsis[1].confidence);
        assert_eq!(report.cell.setups, 3);
        assert_eq!(report.subscribers.len(), 2);
    }
}
