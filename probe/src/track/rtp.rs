//! RTP streams and their RTCP: which media flows exist, which call each
//! belongs to, and how each one behaved (RFC 3550, RFC 3551, RFC 4733).
//!
//! A stream is one (source address, destination address, SSRC). It is found
//! either from SDP — [`RtpTracker::expect`] announces that a call's media will
//! be sent to an address, and the first RTP datagram to (or, for symmetric
//! RTP per RFC 4961, from) that address starts a stream linked to the call —
//! or, with no SDP, by heuristic: a datagram that [`looks_like_rtp`] becomes a
//! candidate, and [`ADOPT_AFTER`] packets of the same (source, destination,
//! SSRC) with small forward sequence and timestamp steps within
//! [`CANDIDATE_MAX_GAP`] of each other make it a stream. A candidate's packets
//! are replayed into the stream it becomes, so a stream found by heuristic
//! has the same figures as one announced by SDP. RTCP (RFC 3550 6) is
//! matched to streams on the RTP ports plus one (RFC 3550 11) or on the RTP
//! ports themselves (RFC 5761 multiplexing).
//!
//! Per stream: sequence tracking with wrap-around, loss, duplicates and
//! reordering after RFC 3550 appendix A.1/A.3 (lost = expected - received, so
//! duplicates can drive it negative, as in RTCP and Wireshark), interarrival
//! jitter after appendix A.8, the packetisation time as the most frequent
//! timestamp step, arrival gaps, marker bits, RFC 4733 telephone events
//! (each event counted once, however many times its end packet is repeated),
//! comfort noise (RFC 3389) and the SRs and report blocks RTCP carried about
//! it. Jitter leaves out telephone events, whose timestamp is the event's
//! start rather than a sampling instant, and duplicates; Wireshark counts
//! both, so its jitter jumps by the length of each key press.
//!
//! Cost: a datagram of a known stream is one hash lookup (a keyed
//! multiply-fold hash over the address pair, ports and SSRC) and no
//! allocation; new streams, candidates, announcements and RTCP take a few
//! more lookups. Bounded: [`MAX_STREAMS`], [`MAX_EXPECTATIONS`],
//! [`MAX_CANDIDATES`] and [`MAX_FINISHED`] entries, each forgotten after its
//! timeout in capture time; whatever hits a limit is counted as an
//! [`RtpAnomaly`], never logged.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::anomaly::{Class, Counters};
use crate::capture::Micros;
use crate::dissect::rtcp::{self, PacketType};
use crate::dissect::rtp::{self, looks_like_rtp, TelephoneEvent};
use crate::dissect::sdp;

const MS: Micros = 1_000;
const SECOND: Micros = 1_000_000;

/// Streams followed at once.
pub const MAX_STREAMS: usize = 65_536;
/// SDP media announcements remembered at once.
pub const MAX_EXPECTATIONS: usize = 65_536;
/// Possible streams (heuristic, no SDP) watched at once.
pub const MAX_CANDIDATES: usize = 8_192;
/// Ended streams kept until [`RtpTracker::take_finished`] collects them.
pub const MAX_FINISHED: usize = 65_536;
/// Payload types remembered per announcement.
pub const MAX_CODECS: usize = sdp::MAX_FORMATS;
/// DTMF keys kept per stream; later events are only counted.
pub const MAX_DTMF_DIGITS: usize = 64;
/// A stream with no packet for this long has ended.
pub const IDLE_TIMEOUT: Micros = 30 * SECOND;
/// An announcement not used for this long is forgotten.
pub const EXPECTATION_TIMEOUT: Micros = 300 * SECOND;
/// A candidate with no packet for this long is forgotten.
pub const CANDIDATE_TIMEOUT: Micros = 5 * SECOND;
/// Packets of one (source, destination, SSRC) that make it a stream.
pub const ADOPT_AFTER: u32 = 3;
/// Largest arrival gap between a candidate's packets.
pub const CANDIDATE_MAX_GAP: Micros = SECOND;
/// Largest sequence step between a candidate's packets (a few losses).
pub const CANDIDATE_MAX_SEQ_STEP: u16 = 8;
/// Largest timestamp step between a candidate's packets (one second at 96 kHz).
pub const CANDIDATE_MAX_TS_STEP: u32 = 96_000;
/// An arrival gap longer than this is counted as a silence gap.
pub const SILENCE_GAP: Micros = 250 * MS;
/// RFC 3550 A.1: a forward jump up to this is taken as loss.
pub const MAX_DROPOUT: u16 = 3_000;
/// RFC 3550 A.1: a backward step up to this is a late or duplicate packet.
pub const MAX_MISORDER: u16 = 100;
/// Slots of the timestamp-step tally behind the packetisation time.
const PTIME_SLOTS: usize = 4;

/// Problems the tracker counts. Each is meant to become one
/// `crate::anomaly::Anomaly` kind with the same name and class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtpAnomaly {
    /// A datagram of a known stream or announced address whose RTP header
    /// (CSRC list, extension, padding) does not fit it.
    RtpMalformed,
    /// An RTCP compound taken for a stream with a packet that does not parse.
    RtcpMalformed,
    /// The stream table was full; a new stream was not followed.
    StreamTableFull,
    /// The announcement table was full; SDP media was not linked.
    ExpectationTableFull,
    /// The candidate table was full; a possible stream was not watched.
    CandidateTableFull,
    /// Ended streams were not collected in time; a report was dropped.
    FinishedQueueFull,
    /// A stream sent more DTMF keys than are kept.
    DtmfDigitsFull,
}

impl RtpAnomaly {
    /// Every kind, in declaration order.
    pub const ALL: &'static [RtpAnomaly] = &[
        RtpAnomaly::RtpMalformed,
        RtpAnomaly::RtcpMalformed,
        RtpAnomaly::StreamTableFull,
        RtpAnomaly::ExpectationTableFull,
        RtpAnomaly::CandidateTableFull,
        RtpAnomaly::FinishedQueueFull,
        RtpAnomaly::DtmfDigitsFull,
    ];

    /// The stable snake_case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            RtpAnomaly::RtpMalformed => "rtp_malformed",
            RtpAnomaly::RtcpMalformed => "rtcp_malformed",
            RtpAnomaly::StreamTableFull => "rtp_stream_table_full",
            RtpAnomaly::ExpectationTableFull => "rtp_expectation_table_full",
            RtpAnomaly::CandidateTableFull => "rtp_candidate_table_full",
            RtpAnomaly::FinishedQueueFull => "rtp_finished_queue_full",
            RtpAnomaly::DtmfDigitsFull => "rtp_dtmf_digits_full",
        }
    }

    /// Decode error or limit.
    pub fn class(self) -> Class {
        match self {
            RtpAnomaly::RtpMalformed | RtpAnomaly::RtcpMalformed => Class::Decode,
            _ => Class::Limit,
        }
    }
}

/// Counts of [`RtpAnomaly`] kinds.
#[derive(Debug, Clone, Default)]
pub struct RtpCounters {
    counts: [u64; RtpAnomaly::ALL.len()],
}

impl RtpCounters {
    /// Count `n` occurrences of one kind.
    #[inline]
    pub fn add(&mut self, a: RtpAnomaly, n: u64) {
        self.counts[a as usize] += n;
    }

    /// The count of one kind.
    pub fn get(&self, a: RtpAnomaly) -> u64 {
        self.counts[a as usize]
    }

    /// Every kind with its count.
    pub fn iter(&self) -> impl Iterator<Item = (RtpAnomaly, u64)> + '_ {
        RtpAnomaly::ALL.iter().map(|&a| (a, self.get(a)))
    }
}

/// RTCP packets by type (RFC 3550 12.1, RFC 4585, RFC 3611), counted in the
/// datagrams the tracker took as RTCP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtcpCounts {
    /// SR (200).
    pub sender_reports: u64,
    /// RR (201).
    pub receiver_reports: u64,
    /// SDES (202).
    pub source_descriptions: u64,
    /// BYE (203).
    pub goodbyes: u64,
    /// APP (204).
    pub apps: u64,
    /// RTPFB (205).
    pub transport_feedback: u64,
    /// PSFB (206).
    pub payload_feedback: u64,
    /// XR (207).
    pub extended_reports: u64,
    /// Any other type.
    pub unknown: u64,
}

impl RtcpCounts {
    fn add(&mut self, t: PacketType) {
        let slot = match t {
            PacketType::SenderReport => &mut self.sender_reports,
            PacketType::ReceiverReport => &mut self.receiver_reports,
            PacketType::SourceDescription => &mut self.source_descriptions,
            PacketType::Goodbye => &mut self.goodbyes,
            PacketType::App => &mut self.apps,
            PacketType::TransportFeedback => &mut self.transport_feedback,
            PacketType::PayloadFeedback => &mut self.payload_feedback,
            PacketType::ExtendedReport => &mut self.extended_reports,
            PacketType::Unknown(_) => &mut self.unknown,
        };
        *slot += 1;
    }

    fn merge(&mut self, o: &RtcpCounts) {
        self.sender_reports += o.sender_reports;
        self.receiver_reports += o.receiver_reports;
        self.source_descriptions += o.source_descriptions;
        self.goodbyes += o.goodbyes;
        self.apps += o.apps;
        self.transport_feedback += o.transport_feedback;
        self.payload_feedback += o.payload_feedback;
        self.extended_reports += o.extended_reports;
        self.unknown += o.unknown;
    }
}

/// One ended (or, from [`RtpTracker::finish`], still running) stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamReport {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Synchronisation source.
    pub ssrc: u32,
    /// The call whose SDP announced it.
    pub call: Option<u64>,
    /// The media payload type: the first one that is neither a telephone
    /// event nor comfort noise, else the first one seen.
    pub payload_type: u8,
    /// Every payload type seen, ascending.
    pub payload_types: Vec<u8>,
    /// Encoding name of `payload_type` (SDP, else RFC 3551).
    pub codec: Option<String>,
    /// Clock rate of `payload_type` in Hz (SDP, else RFC 3551).
    pub clock_rate: Option<u32>,
    /// Packets, duplicates and malformed ones included.
    pub packets: u64,
    /// RTP payload octets (header and padding excluded, as in an SR's octet count).
    pub bytes: u64,
    /// Capture time of the first packet.
    pub first_ts: Micros,
    /// Capture time of the last packet.
    pub last_ts: Micros,
    /// Packets the sequence numbers say were sent (RFC 3550 A.3).
    pub expected: u64,
    /// Expected minus received (RFC 3550 A.3): negative with duplicates.
    pub lost: i64,
    /// Packets whose sequence number was already received.
    pub duplicates: u64,
    /// Packets older than the highest sequence number seen.
    pub out_of_order: u64,
    /// Interarrival jitter at the end, in timestamp units (RFC 3550 A.8).
    pub jitter: Option<f64>,
    /// The same in milliseconds.
    pub jitter_ms: Option<f64>,
    /// The largest jitter reached, in milliseconds.
    pub max_jitter_ms: Option<f64>,
    /// Most frequent timestamp step between consecutive media packets, in ms.
    pub ptime_ms: Option<f64>,
    /// Arrival gaps longer than [`SILENCE_GAP`].
    pub silence_gaps: u64,
    /// Longest arrival gap between two packets, in ms.
    pub longest_gap_ms: f64,
    /// Packets with the marker bit.
    pub markers: u64,
    /// RFC 4733 events (a repeated end packet counts once).
    pub dtmf_events: u64,
    /// The keys of those events, in order (at most [`MAX_DTMF_DIGITS`]).
    pub dtmf_digits: String,
    /// Comfort-noise packets (PT 13 or SDP `CN`).
    pub comfort_noise: u64,
    /// Sender reports from this stream's source.
    pub rtcp_sr: u64,
    /// RTCP report blocks about this stream's SSRC (in RRs or SRs).
    pub rtcp_rr: u64,
    /// Found from an SDP announcement rather than by heuristic.
    pub from_sdp: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    src: SocketAddr,
    dst: SocketAddr,
    ssrc: u32,
}

impl Hash for Key {
    /// Two words for IPv4 instead of the dozen small writes the derived impl
    /// makes: hashing was half the per-packet cost. Flow info and scope id
    /// are left out (equal keys share them anyway).
    fn hash<H: Hasher>(&self, h: &mut H) {
        match (self.src, self.dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                h.write_u64((u64::from(u32::from(*s.ip())) << 32) | u64::from(u32::from(*d.ip())));
            }
            (s, d) => {
                for ip in [s.ip(), d.ip()] {
                    h.write_u128(match ip {
                        IpAddr::V4(v4) => u128::from(u32::from(v4)),
                        IpAddr::V6(v6) => u128::from(v6),
                    });
                }
            }
        }
        h.write_u64((u64::from(self.src.port()) << 48) | (u64::from(self.dst.port()) << 32) | u64::from(self.ssrc));
    }
}

/// A keyed multiply-and-fold hasher for [`Key`]s. The per-table random key
/// (taken from std's `RandomState`) keeps crafted SSRCs and ports from being
/// aimed at one bucket without knowing it; the tables are bounded besides.
#[derive(Debug, Clone)]
struct KeyHasherBuilder {
    key: u64,
}

impl Default for KeyHasherBuilder {
    fn default() -> Self {
        KeyHasherBuilder { key: RandomState::new().hash_one(0x5eed_u64) | 1 }
    }
}

impl BuildHasher for KeyHasherBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher { state: self.key }
    }
}

#[derive(Debug)]
struct KeyHasher {
    state: u64,
}

/// An odd constant with well-spread bits (the 64-bit golden ratio).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, v: u64) {
        // Multiply to 128 bits and fold the halves: every input bit reaches
        // every output bit within two words.
        let p = u128::from(self.state ^ v) * u128::from(MIX);
        self.state = (p as u64) ^ ((p >> 64) as u64);
    }

    fn write_u128(&mut self, v: u128) {
        self.write_u64(v as u64);
        self.write_u64((v >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.state.rotate_left(26)
    }
}

/// How a payload type's packets are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Media,
    /// RFC 4733 telephone-event.
    Event,
    /// RFC 3389 comfort noise.
    ComfortNoise,
}

#[derive(Debug, Clone)]
struct Codec {
    pt: u8,
    name: Box<str>,
    clock: Option<u32>,
    kind: Kind,
}

fn kind_of(name: &str) -> Kind {
    if name.eq_ignore_ascii_case("telephone-event") {
        Kind::Event
    } else if name.eq_ignore_ascii_case("CN") {
        Kind::ComfortNoise
    } else {
        Kind::Media
    }
}

#[derive(Debug, Clone, Copy)]
struct PtInfo {
    pt: u8,
    kind: Kind,
    clock: Option<u32>,
}

/// What a payload type means in a stream: the SDP's word first, then RFC
/// 3551; a dynamic type without SDP carrying exactly one 4-octet event block
/// with a DTMF code is taken for telephone-event (nearly every endpoint sends
/// RFC 4733 that way, and no voice codec has 4-octet frames).
fn resolve(codecs: &[Codec], sample: &Sample, main_pt: Option<u8>) -> PtInfo {
    let pt = sample.pt;
    if let Some(c) = codecs.iter().find(|c| c.pt == pt) {
        return PtInfo { pt, kind: c.kind, clock: c.clock };
    }
    if let Some(s) = sdp::static_payload(pt) {
        return PtInfo { pt, kind: kind_of(s.name), clock: Some(s.clock_rate) };
    }
    let event = pt >= 96 && main_pt != Some(pt) && sample.len == rtp::EVENT_LEN && sample.head[0] <= 16;
    PtInfo { pt, kind: if event { Kind::Event } else { Kind::Media }, clock: None }
}

/// What the tracker keeps of one RTP packet: enough to replay a candidate's
/// packets into the stream it becomes.
#[derive(Debug, Clone, Copy)]
struct Sample {
    seq: u16,
    ts: u32,
    pt: u8,
    marker: bool,
    /// Payload length.
    len: usize,
    /// The first payload octets (a telephone-event block), zero-filled.
    head: [u8; rtp::EVENT_LEN],
}

impl Sample {
    fn of(p: &rtp::Packet<&[u8]>) -> Sample {
        let payload = p.payload();
        let mut head = [0; rtp::EVENT_LEN];
        let n = payload.len().min(head.len());
        head[..n].copy_from_slice(&payload[..n]);
        Sample { seq: p.seq(), ts: p.timestamp(), pt: p.payload_type(), marker: p.marker(), len: payload.len(), head }
    }
}

fn codec_name(codecs: &[Codec], pt: u8) -> Option<String> {
    match codecs.iter().find(|c| c.pt == pt) {
        Some(c) => Some(c.name.to_string()),
        None => sdp::static_payload(pt).map(|s| s.name.to_string()),
    }
}

/// What the sequence number said about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeqVerdict {
    /// The first packet, or the first after a restart.
    First,
    /// Ahead of the highest so far by `step` (1 = consecutive).
    Next(u16),
    /// Already received.
    Duplicate,
    /// Behind the highest so far, not seen before.
    Late,
    /// A jump too large to be loss; ignored until confirmed (A.1 `bad_seq`).
    Jump,
}

/// Sequence state after RFC 3550 A.1, without the probation (a stream is
/// only created once SDP or the candidate check vouched for it), plus a
/// 128-packet window that tells duplicates from late packets.
#[derive(Debug, Clone, Default)]
struct SeqState {
    started: bool,
    max_seq: u16,
    /// Wrap-arounds times 65536.
    cycles: u64,
    /// Extended first sequence number of the current run.
    base: u64,
    /// Sequence number that would confirm a jump as a restart.
    bad_seq: Option<u16>,
    received: u64,
    /// Expected and received of runs before a restart.
    prior_expected: u64,
    prior_received: u64,
    /// Bit i: extended sequence `max - i` was received.
    window: u128,
    duplicates: u64,
    out_of_order: u64,
}

impl SeqState {
    fn start(&mut self, seq: u16) {
        if self.started {
            self.prior_expected += self.expected_run();
            self.prior_received += self.received;
        }
        self.started = true;
        self.max_seq = seq;
        self.cycles = 0;
        self.base = u64::from(seq);
        self.bad_seq = None;
        self.received = 1;
        self.window = 1;
    }

    fn expected_run(&self) -> u64 {
        (self.cycles + u64::from(self.max_seq) + 1).saturating_sub(self.base)
    }

    fn expected(&self) -> u64 {
        self.prior_expected + self.expected_run()
    }

    fn lost(&self) -> i64 {
        self.expected() as i64 - (self.prior_received + self.received) as i64
    }

    fn update(&mut self, seq: u16) -> SeqVerdict {
        if !self.started {
            self.start(seq);
            return SeqVerdict::First;
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta == 0 {
            self.received += 1;
            self.duplicates += 1;
            SeqVerdict::Duplicate
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += 1 << 16;
            }
            self.max_seq = seq;
            self.window = if udelta >= 128 { 1 } else { (self.window << udelta) | 1 };
            self.received += 1;
            self.bad_seq = None;
            SeqVerdict::Next(udelta)
        } else if u32::from(udelta) <= (1 << 16) - u32::from(MAX_MISORDER) {
            if self.bad_seq == Some(seq) {
                // Two packets in a row after the jump: the sender restarted
                // its sequence (A.1); keep counting from here.
                self.start(seq);
                SeqVerdict::First
            } else {
                self.bad_seq = Some(seq.wrapping_add(1));
                SeqVerdict::Jump
            }
        } else {
            let back = self.max_seq.wrapping_sub(seq);
            self.received += 1;
            let bit = 1u128 << back;
            if self.window & bit != 0 {
                self.duplicates += 1;
                SeqVerdict::Duplicate
            } else {
                self.window |= bit;
                self.out_of_order += 1;
                SeqVerdict::Late
            }
        }
    }
}

/// RFC 3550 A.8 interarrival jitter, in timestamp units, kept as a float so
/// that sub-unit transit changes are not rounded away.
#[derive(Debug, Clone, Default)]
struct Jitter {
    clock: u32,
    /// Timestamp units per microsecond of arrival time.
    units_per_us: f64,
    /// Milliseconds per timestamp unit.
    ms_per_unit: f64,
    prev_arrival: Micros,
    prev_ts: u32,
    value: f64,
    /// The largest value reached, in ms (kept across a change of clock).
    max_ms: f64,
    samples: u64,
}

impl Jitter {
    fn update(&mut self, now: Micros, ts: u32, clock: u32) {
        if clock != self.clock {
            // A new clock (or the first packet): a new baseline.
            *self = Jitter {
                clock,
                units_per_us: f64::from(clock) / SECOND as f64,
                ms_per_unit: 1000.0 / f64::from(clock),
                prev_arrival: now,
                prev_ts: ts,
                max_ms: self.max_ms,
                ..Jitter::default()
            };
            return;
        }
        let arrival = (now as i64 - self.prev_arrival as i64) as f64 * self.units_per_us;
        let sent = f64::from(ts.wrapping_sub(self.prev_ts) as i32);
        let d = (arrival - sent).abs();
        self.value += (d - self.value) / 16.0;
        self.max_ms = self.max_ms.max(self.value * self.ms_per_unit);
        self.samples += 1;
        self.prev_arrival = now;
        self.prev_ts = ts;
    }

    fn rebase(&mut self, now: Micros, ts: u32) {
        self.prev_arrival = now;
        self.prev_ts = ts;
    }

    fn ms(&self) -> Option<f64> {
        (self.samples > 0).then_some(self.value * self.ms_per_unit)
    }
}

/// A Misra-Gries tally of timestamp steps: the most frequent step survives
/// however many odd steps come between.
#[derive(Debug, Clone, Default)]
struct StepTally {
    slots: [(u32, u32); PTIME_SLOTS],
}

impl StepTally {
    fn add(&mut self, step: u32) {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.1 > 0 && s.0 == step) {
            slot.1 = slot.1.saturating_add(1);
        } else if let Some(slot) = self.slots.iter_mut().find(|s| s.1 == 0) {
            *slot = (step, 1);
        } else {
            for slot in &mut self.slots {
                slot.1 -= 1;
            }
        }
    }

    fn top(&self) -> Option<u32> {
        self.slots.iter().filter(|s| s.1 > 0).max_by_key(|s| (s.1, std::cmp::Reverse(s.0))).map(|s| s.0)
    }
}

#[derive(Debug)]
struct Stream {
    call: Option<u64>,
    from_sdp: bool,
    /// The announcement this stream came from, kept alive while it runs.
    announced: Option<SocketAddr>,
    codecs: Arc<[Codec]>,
    first_pt: u8,
    main_pt: Option<u8>,
    /// The payload type of telephone events, once seen.
    event_pt: Option<u8>,
    cur: Option<PtInfo>,
    pts_seen: u128,
    packets: u64,
    bytes: u64,
    first_ts: Micros,
    last_ts: Micros,
    seq: SeqState,
    jitter: Jitter,
    steps: StepTally,
    /// The previous in-order packet, for the packetisation step.
    prev: Option<(u16, u32, u8)>,
    silence_gaps: u64,
    longest_gap: Micros,
    markers: u64,
    dtmf_events: u64,
    dtmf_digits: String,
    last_event: Option<(u32, u8)>,
    comfort_noise: u64,
    rtcp_sr: u64,
    rtcp_rr: u64,
}

impl Stream {
    fn new(now: Micros, pt: u8, codecs: Arc<[Codec]>) -> Stream {
        Stream {
            call: None,
            from_sdp: false,
            announced: None,
            codecs,
            first_pt: pt,
            main_pt: None,
            event_pt: None,
            cur: None,
            pts_seen: 0,
            packets: 0,
            bytes: 0,
            first_ts: now,
            last_ts: now,
            seq: SeqState::default(),
            jitter: Jitter::default(),
            steps: StepTally::default(),
            prev: None,
            silence_gaps: 0,
            longest_gap: 0,
            markers: 0,
            dtmf_events: 0,
            dtmf_digits: String::new(),
            last_event: None,
            comfort_noise: 0,
            rtcp_sr: 0,
            rtcp_rr: 0,
        }
    }

    fn packet(&mut self, now: Micros, p: &Sample, counters: &mut RtpCounters) {
        let pt = p.pt;
        let ts = p.ts;
        let info = match self.cur {
            Some(info) if info.pt == pt => info,
            _ => {
                let info = resolve(&self.codecs, p, self.main_pt);
                self.cur = Some(info);
                info
            }
        };
        self.pts_seen |= 1 << pt;
        if info.kind == Kind::Media && self.main_pt.is_none() {
            self.main_pt = Some(pt);
        }
        if self.packets > 0 {
            let gap = now.saturating_sub(self.last_ts);
            self.silence_gaps += u64::from(gap > SILENCE_GAP);
            self.longest_gap = self.longest_gap.max(gap);
        }
        self.packets += 1;
        self.bytes += p.len as u64;
        self.last_ts = self.last_ts.max(now);
        self.markers += u64::from(p.marker);
        let verdict = self.seq.update(p.seq);
        match info.kind {
            Kind::Event => {
                self.event_pt = Some(pt);
                self.event(ts, &p.head[..p.len.min(rtp::EVENT_LEN)], counters);
            }
            Kind::ComfortNoise => self.comfort_noise += 1,
            Kind::Media => {}
        }
        if matches!(verdict, SeqVerdict::Duplicate | SeqVerdict::Jump) || info.kind == Kind::Event {
            return;
        }
        if let Some(clock) = info.clock {
            if verdict == SeqVerdict::First && clock == self.jitter.clock {
                // A restarted sender's timestamps start afresh too.
                self.jitter.rebase(now, ts);
            } else {
                self.jitter.update(now, ts, clock);
            }
        }
        match verdict {
            SeqVerdict::Next(step) => {
                if let (1, Some((_, prev_ts, prev_pt)), Kind::Media) = (step, self.prev, info.kind) {
                    let delta = ts.wrapping_sub(prev_ts);
                    if prev_pt == pt && delta > 0 && info.clock.is_some_and(|c| delta < c) {
                        self.steps.add(delta);
                    }
                }
                self.prev = Some((p.seq, ts, pt));
            }
            SeqVerdict::First => self.prev = Some((p.seq, ts, pt)),
            _ => {}
        }
    }

    fn event(&mut self, ts: u32, payload: &[u8], counters: &mut RtpCounters) {
        let Ok(e) = TelephoneEvent::new_checked(payload) else { return };
        // All packets of one event carry its start as their timestamp, the
        // final packet's retransmissions included (RFC 4733 2.5.1).
        let key = (ts, e.event());
        if self.last_event == Some(key) {
            return;
        }
        self.last_event = Some(key);
        self.dtmf_events += 1;
        if let Some(c) = rtp::dtmf_char(e.event()) {
            if self.dtmf_digits.len() < MAX_DTMF_DIGITS {
                self.dtmf_digits.push(c);
            } else {
                counters.add(RtpAnomaly::DtmfDigitsFull, 1);
            }
        }
    }

    fn report(&self, key: &Key) -> StreamReport {
        let pt = self.main_pt.unwrap_or(self.first_pt);
        let clock_rate = match self.codecs.iter().find(|c| c.pt == pt) {
            Some(c) => c.clock,
            None => sdp::static_payload(pt).map(|s| s.clock_rate),
        };
        let step_clock = clock_rate.or((self.jitter.clock > 0).then_some(self.jitter.clock));
        let ptime_ms = match (self.steps.top(), step_clock) {
            (Some(step), Some(clock)) if clock > 0 => Some(f64::from(step) * 1000.0 / f64::from(clock)),
            _ => None,
        };
        StreamReport {
            src: key.src,
            dst: key.dst,
            ssrc: key.ssrc,
            call: self.call,
            payload_type: pt,
            payload_types: (0..128u8).filter(|&p| self.pts_seen & (1 << p) != 0).collect(),
            codec: codec_name(&self.codecs, pt)
                .or_else(|| (self.event_pt == Some(pt)).then(|| "telephone-event".to_string())),
            clock_rate,
            packets: self.packets,
            bytes: self.bytes,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            expected: self.seq.expected(),
            lost: self.seq.lost(),
            duplicates: self.seq.duplicates,
            out_of_order: self.seq.out_of_order,
            jitter: (self.jitter.samples > 0).then_some(self.jitter.value),
            jitter_ms: self.jitter.ms(),
            max_jitter_ms: self.jitter.ms().map(|_| self.jitter.max_ms),
            ptime_ms,
            silence_gaps: self.silence_gaps,
            longest_gap_ms: self.longest_gap as f64 / MS as f64,
            markers: self.markers,
            dtmf_events: self.dtmf_events,
            dtmf_digits: self.dtmf_digits.clone(),
            comfort_noise: self.comfort_noise,
            rtcp_sr: self.rtcp_sr,
            rtcp_rr: self.rtcp_rr,
            from_sdp: self.from_sdp,
        }
    }
}

/// A (source, destination, SSRC) that might be a stream: its packets so
/// far, replayed into the stream if it is adopted.
#[derive(Debug, Clone)]
struct Candidate {
    seen: [(Micros, Sample); ADOPT_AFTER as usize - 1],
    len: usize,
}

impl Candidate {
    fn new(now: Micros, sample: Sample) -> Candidate {
        Candidate { seen: [(now, sample); ADOPT_AFTER as usize - 1], len: 1 }
    }

    fn last(&self) -> &(Micros, Sample) {
        &self.seen[self.len - 1]
    }

    /// Whether `p` continues this candidate like an RTP sender would.
    fn continued_by(&self, now: Micros, p: &Sample) -> bool {
        let (last_ts, last) = self.last();
        let seq_step = p.seq.wrapping_sub(last.seq);
        let ts_step = p.ts.wrapping_sub(last.ts);
        now.saturating_sub(*last_ts) <= CANDIDATE_MAX_GAP
            && (1..=CANDIDATE_MAX_SEQ_STEP).contains(&seq_step)
            && ts_step <= CANDIDATE_MAX_TS_STEP
    }

    /// Whether `p` repeats the last packet (RFC 4733 end packets often do).
    fn repeated_by(&self, now: Micros, p: &Sample) -> bool {
        let (last_ts, last) = self.last();
        p.seq == last.seq && now.saturating_sub(*last_ts) <= CANDIDATE_MAX_GAP
    }
}

/// Media an SDP said will be sent to an address.
#[derive(Debug)]
struct Expectation {
    call: u64,
    codecs: Arc<[Codec]>,
    last_ts: Micros,
}

/// The stream table.
#[derive(Debug)]
pub struct RtpTracker {
    streams: HashMap<Key, Stream, KeyHasherBuilder>,
    candidates: HashMap<Key, Candidate, KeyHasherBuilder>,
    expectations: HashMap<SocketAddr, Expectation>,
    finished: Vec<StreamReport>,
    no_codecs: Arc<[Codec]>,
    counters: RtpCounters,
    rtcp_packets: RtcpCounts,
}

impl Default for RtpTracker {
    fn default() -> Self {
        RtpTracker {
            streams: HashMap::default(),
            candidates: HashMap::default(),
            expectations: HashMap::new(),
            finished: Vec::new(),
            no_codecs: Arc::from(Vec::new()),
            counters: RtpCounters::default(),
            rtcp_packets: RtcpCounts::default(),
        }
    }
}

/// The RTP address paired with an RTCP address (RFC 3550 11: RTCP on the next port).
fn rtp_port_of(rtcp: SocketAddr) -> SocketAddr {
    let mut a = rtcp;
    a.set_port(rtcp.port().wrapping_sub(1));
    a
}

impl RtpTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Streams being followed.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// True when no stream is being followed.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Announcements remembered.
    pub fn expectations(&self) -> usize {
        self.expectations.len()
    }

    /// Candidates watched.
    pub fn candidates(&self) -> usize {
        self.candidates.len()
    }

    /// The problems counted so far.
    pub fn counters(&self) -> &RtpCounters {
        &self.counters
    }

    /// RTCP packets taken so far, by type.
    pub fn rtcp_packets(&self) -> &RtcpCounts {
        &self.rtcp_packets
    }

    /// Count a problem met while handling a datagram.
    fn note(&mut self, a: RtpAnomaly, _counters: &mut Counters) {
        // `Anomaly` has no RTP kinds yet, so they are kept here (see
        // `counters`); once it has, this can add to `_counters` directly.
        self.counters.add(a, 1);
    }

    /// SDP said media for call `call` will be sent TO `addr` (c= address +
    /// m= port) with these payload types (pt, encoding name, clock rate).
    /// A later announcement for the same address replaces the earlier one.
    pub fn expect(
        &mut self,
        now: Micros,
        addr: SocketAddr,
        call: u64,
        codecs: &[(u8, String, u32)],
        counters: &mut Counters,
    ) {
        // Port 0 rejects the stream and an unspecified address puts it on
        // hold (RFC 3264 6, 8.4): nothing will be sent there.
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return;
        }
        if !self.expectations.contains_key(&addr) && self.expectations.len() >= MAX_EXPECTATIONS {
            self.note(RtpAnomaly::ExpectationTableFull, counters);
            return;
        }
        let codecs: Arc<[Codec]> = codecs
            .iter()
            .take(MAX_CODECS)
            .map(|(pt, name, clock)| Codec {
                pt: pt & 0x7f,
                name: name.as_str().into(),
                clock: (*clock > 0).then_some(*clock),
                kind: kind_of(name),
            })
            .collect();
        self.expectations.insert(addr, Expectation { call, codecs, last_ts: now });
    }

    /// Offer one UDP datagram; returns true if it was taken as RTP or RTCP
    /// (so the caller skips other analysers).
    pub fn datagram(
        &mut self,
        now: Micros,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        counters: &mut Counters,
    ) -> bool {
        // RTCP types 200-207 sit where RTP has the marker bit and payload
        // types 72-79 (RFC 5761 4), so the second octet tells them apart.
        if payload.get(1).is_some_and(|b| (200..=207).contains(b)) && rtcp::looks_like_rtcp(payload) {
            return self.rtcp(now, src, dst, payload, counters);
        }
        if !looks_like_rtp(payload) {
            return false;
        }
        let ssrc = u32::from_be_bytes([payload[8], payload[9], payload[10], payload[11]]);
        let key = Key { src, dst, ssrc };
        if let Some(stream) = self.streams.get_mut(&key) {
            match rtp::Packet::new_checked(payload) {
                Ok(p) => stream.packet(now, &Sample::of(&p), &mut self.counters),
                Err(_) => self.note(RtpAnomaly::RtpMalformed, counters),
            }
            return true;
        }
        self.new_stream(now, key, payload, counters)
    }

    /// A live announcement for the address, if any.
    fn announced(&mut self, now: Micros, addr: SocketAddr) -> Option<&mut Expectation> {
        self.expectations.get_mut(&addr).filter(|e| now.saturating_sub(e.last_ts) < EXPECTATION_TIMEOUT)
    }

    fn new_stream(&mut self, now: Micros, key: Key, payload: &[u8], counters: &mut Counters) -> bool {
        let announced = [key.dst, key.src].into_iter().find(|&a| self.announced(now, a).is_some());
        let Ok(p) = rtp::Packet::new_checked(payload) else {
            if announced.is_some() {
                self.note(RtpAnomaly::RtpMalformed, counters);
            }
            return announced.is_some();
        };
        let sample = Sample::of(&p);
        if let Some(addr) = announced {
            if self.streams.len() >= MAX_STREAMS {
                self.note(RtpAnomaly::StreamTableFull, counters);
                return true;
            }
            let Some(e) = self.expectations.get_mut(&addr) else { return false };
            e.last_ts = now;
            // Packets seen before the announcement was: replay them.
            let earlier = self.candidates.remove(&key);
            let earlier = earlier.as_ref().map_or(&[][..], |c| &c.seen[..c.len]);
            let (first_ts, first) = earlier.first().copied().unwrap_or((now, sample));
            let mut s = Stream::new(first_ts, first.pt, e.codecs.clone());
            s.call = Some(e.call);
            s.from_sdp = true;
            s.announced = Some(addr);
            for (at, p) in earlier.iter().chain([(now, sample)].iter()) {
                s.packet(*at, p, &mut self.counters);
            }
            self.streams.insert(key, s);
            return true;
        }
        match self.candidates.get_mut(&key) {
            Some(c) if c.continued_by(now, &sample) => {
                if c.len + 1 < ADOPT_AFTER as usize {
                    c.seen[c.len] = (now, sample);
                    c.len += 1;
                    return false;
                }
                if self.streams.len() >= MAX_STREAMS {
                    self.note(RtpAnomaly::StreamTableFull, counters);
                    return false;
                }
                let Some(c) = self.candidates.remove(&key) else { return false };
                let (first_ts, first) = c.seen[0];
                let mut s = Stream::new(first_ts, first.pt, self.no_codecs.clone());
                for (at, p) in c.seen[..c.len].iter().chain([(now, sample)].iter()) {
                    s.packet(*at, p, &mut self.counters);
                }
                self.streams.insert(key, s);
                true
            }
            Some(c) if c.repeated_by(now, &sample) => false,
            Some(c) => {
                *c = Candidate::new(now, sample);
                false
            }
            None => {
                if self.candidates.len() >= MAX_CANDIDATES {
                    self.note(RtpAnomaly::CandidateTableFull, counters);
                } else {
                    self.candidates.insert(key, Candidate::new(now, sample));
                }
                false
            }
        }
    }

    /// The stream an RTCP packet from `src` to `dst` speaks of, trying the
    /// RTP ports one below (RFC 3550 11) and then the same ports (RFC 5761).
    fn rtcp_stream(&mut self, src: SocketAddr, dst: SocketAddr, ssrc: u32) -> Option<&mut Stream> {
        let below = Key { src: rtp_port_of(src), dst: rtp_port_of(dst), ssrc };
        let key = if self.streams.contains_key(&below) { below } else { Key { src, dst, ssrc } };
        self.streams.get_mut(&key)
    }

    fn rtcp(&mut self, now: Micros, src: SocketAddr, dst: SocketAddr, payload: &[u8], counters: &mut Counters) -> bool {
        let mut matched = false;
        let mut clean = true;
        let mut first_is_report = false;
        let mut seen = RtcpCounts::default();
        let mut packets = rtcp::compound(payload);
        for (i, p) in packets.by_ref().enumerate() {
            let Ok(p) = p else {
                // Some senders leave a few zero octets after the last packet
                // (a media gateway in Wireshark's SIP_CALL_RTP_G711 sample
                // does); not worth an anomaly.
                let tail = packets.rest();
                clean = tail.len() < rtcp::HEADER_LEN && tail.iter().all(|&b| b == 0);
                break;
            };
            seen.add(p.packet_type());
            let report = match p.packet_type() {
                PacketType::SenderReport => p.sender_report().map(|sr| (Some(sr.ssrc()), sr.reports())),
                PacketType::ReceiverReport => p.receiver_report().map(|rr| (None, rr.reports())),
                PacketType::SourceDescription => {
                    clean &= p.sdes_chunks().all(|c| c.is_ok());
                    continue;
                }
                PacketType::Goodbye => {
                    clean &= p.goodbye().is_ok();
                    continue;
                }
                _ => continue,
            };
            let Ok((sender, blocks)) = report else {
                clean = false;
                continue;
            };
            // RFC 3550 6.1: a compound starts with an SR or RR.
            first_is_report |= i == 0;
            if let Some(ssrc) = sender {
                if let Some(s) = self.rtcp_stream(src, dst, ssrc) {
                    s.rtcp_sr += 1;
                    matched = true;
                }
            }
            for b in blocks {
                // A report block travels back from the receiver to the sender.
                if let Some(s) = self.rtcp_stream(dst, src, b.ssrc()) {
                    s.rtcp_rr += 1;
                    matched = true;
                }
            }
        }
        let mut announced = false;
        for addr in [rtp_port_of(dst), dst, rtp_port_of(src), src] {
            if let Some(e) = self.announced(now, addr) {
                e.last_ts = now;
                announced = true;
                break;
            }
        }
        let taken = matched || announced || (clean && first_is_report);
        if taken {
            self.rtcp_packets.merge(&seen);
            if !clean {
                self.note(RtpAnomaly::RtcpMalformed, counters);
            }
        }
        taken
    }

    /// End streams idle for [`IDLE_TIMEOUT`] and forget stale announcements
    /// and candidates. Meant to be called every few seconds of capture time.
    pub fn expire(&mut self, now: Micros) {
        for s in self.streams.values() {
            if let Some(e) = s.announced.and_then(|a| self.expectations.get_mut(&a)) {
                e.last_ts = e.last_ts.max(s.last_ts);
            }
        }
        let mut ended = Vec::new();
        self.streams.retain(|key, s| {
            let idle = now.saturating_sub(s.last_ts) >= IDLE_TIMEOUT;
            if idle {
                ended.push(s.report(key));
            }
            !idle
        });
        sort_reports(&mut ended);
        let room = MAX_FINISHED.saturating_sub(self.finished.len());
        if ended.len() > room {
            self.counters.add(RtpAnomaly::FinishedQueueFull, (ended.len() - room) as u64);
            ended.truncate(room);
        }
        self.finished.append(&mut ended);
        self.expectations.retain(|_, e| now.saturating_sub(e.last_ts) < EXPECTATION_TIMEOUT);
        self.candidates.retain(|_, c| now.saturating_sub(c.last().0) < CANDIDATE_TIMEOUT);
    }

    /// Streams ended since the last call.
    pub fn take_finished(&mut self) -> Vec<StreamReport> {
        std::mem::take(&mut self.finished)
    }

    /// All remaining streams at end of input, plus finished ones not yet taken.
    pub fn finish(self) -> Vec<StreamReport> {
        let mut out = self.finished;
        let mut live: Vec<StreamReport> = self.streams.iter().map(|(k, s)| s.report(k)).collect();
        sort_reports(&mut live);
        out.append(&mut live);
        out
    }
}

fn sort_reports(reports: &mut [StreamReport]) {
    reports.sort_by_key(|r| (r.first_ts, r.src, r.dst, r.ssrc));
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::dissect::rtcp::ReportBlockRepr;

    const T0: Micros = 1_700_000_000 * SECOND;
    const SSRC: u32 = 0xdee0_ee8f;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let r = rtp::Repr {
            marker,
            payload_type: pt,
            seq,
            timestamp: ts,
            ssrc,
            csrcs: vec![],
            extension: None,
            payload_len: payload.len(),
            padding: 0,
        };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf);
        buf[r.header_len()..].copy_from_slice(payload);
        buf
    }

    fn rtcp_bytes(reprs: &[rtcp::Repr]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in reprs {
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut buf);
            out.extend_from_slice(&buf);
        }
        out
    }

    fn sr(ssrc: u32) -> rtcp::Repr {
        rtcp::Repr::SenderReport {
            ssrc,
            ntp_timestamp: 1,
            rtp_timestamp: 2,
            packet_count: 3,
            octet_count: 4,
            reports: vec![],
        }
    }

    fn rr(ssrc: u32, about: u32) -> rtcp::Repr {
        let block = ReportBlockRepr {
            ssrc: about,
            fraction_lost: 0,
            cumulative_lost: 0,
            highest_seq: 0,
            jitter: 0,
            lsr: 0,
            dlsr: 0,
        };
        rtcp::Repr::ReceiverReport { ssrc, reports: vec![block] }
    }

    fn pcma() -> Vec<(u8, String, u32)> {
        vec![(8, "PCMA".into(), 8000), (101, "telephone-event".into(), 8000), (13, "CN".into(), 8000)]
    }

    /// A tracker and a sender of 20 ms G.711 A-law packets.
    struct Rig {
        t: RtpTracker,
        c: Counters,
        src: SocketAddr,
        dst: SocketAddr,
    }

    impl Rig {
        fn new() -> Rig {
            Rig { t: RtpTracker::new(), c: Counters::default(), src: addr("10.0.0.1:5000"), dst: addr("10.0.0.2:4000") }
        }

        fn send(&mut self, at: Micros, bytes: &[u8]) -> bool {
            self.t.datagram(at, self.src, self.dst, bytes, &mut self.c)
        }

        /// Packet `i` of a steady stream: seq `first + i`, 160 samples per packet, 20 ms apart.
        fn audio(&mut self, first: u16, i: u32) -> bool {
            let b = rtp(8, first.wrapping_add(i as u16), 160 * i, SSRC, i == 0, &[0xd5; 160]);
            self.send(T0 + u64::from(i) * 20 * MS, &b)
        }

        fn seqs(&mut self, seqs: &[u16]) {
            for (i, &seq) in seqs.iter().enumerate() {
                let b = rtp(8, seq, 160 * u32::from(seq), SSRC, false, &[0; 160]);
                self.send(T0 + i as u64 * 20 * MS, &b);
            }
        }

        fn only(self) -> StreamReport {
            let mut all = self.t.finish();
            assert_eq!(all.len(), 1, "{all:#?}");
            all.remove(0)
        }
    }

    #[test]
    fn expectation_links_stream_and_rtcp_on_the_next_port() {
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        // RTCP to the announced port + 1 is taken even before any RTP.
        let early = rtcp_bytes(&[rr(1, 2)]);
        assert!(r.t.datagram(T0, addr("10.0.0.1:5001"), addr("10.0.0.2:4001"), &early, &mut r.c));
        for i in 0..50 {
            assert!(r.audio(100, i), "packet {i}");
        }
        let sr = rtcp_bytes(&[sr(SSRC)]);
        assert!(r.t.datagram(T0 + SECOND, addr("10.0.0.1:5001"), addr("10.0.0.2:4001"), &sr, &mut r.c));
        let back = rtcp_bytes(&[rr(0x1234, SSRC)]);
        assert!(r.t.datagram(T0 + SECOND, addr("10.0.0.2:4001"), addr("10.0.0.1:5001"), &back, &mut r.c));
        let s = r.only();
        assert_eq!((s.call, s.from_sdp, s.payload_type), (Some(7), true, 8));
        assert_eq!((s.codec.as_deref(), s.clock_rate), (Some("PCMA"), Some(8000)));
        assert_eq!((s.packets, s.bytes, s.expected, s.lost), (50, 50 * 160, 50, 0));
        assert_eq!((s.duplicates, s.out_of_order, s.markers), (0, 0, 1));
        assert_eq!((s.rtcp_sr, s.rtcp_rr), (1, 1));
        assert_eq!(s.ptime_ms, Some(20.0));
        assert_eq!(s.jitter_ms, Some(0.0));
        assert_eq!((s.first_ts, s.last_ts), (T0, T0 + 49 * 20 * MS));
        assert_eq!((s.silence_gaps, s.longest_gap_ms), (0, 20.0));
    }

    #[test]
    fn symmetric_rtp_from_the_announced_address_is_linked() {
        let mut r = Rig::new();
        r.t.expect(T0, r.src, 9, &pcma(), &mut r.c);
        assert!(r.audio(1, 0));
        let s = r.only();
        assert_eq!((s.call, s.from_sdp), (Some(9), true));
    }

    #[test]
    fn rtcp_multiplexed_on_the_rtp_ports_is_matched() {
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        r.audio(1, 0);
        let sr = rtcp_bytes(&[sr(SSRC), rr(SSRC, 5)]);
        assert!(r.send(T0 + MS, &sr));
        assert_eq!(r.only().rtcp_sr, 1);
    }

    #[test]
    fn unusable_announcements_are_ignored() {
        let mut r = Rig::new();
        r.t.expect(T0, addr("10.0.0.2:0"), 1, &pcma(), &mut r.c);
        r.t.expect(T0, addr("0.0.0.0:4000"), 1, &pcma(), &mut r.c);
        assert_eq!(r.t.expectations(), 0);
    }

    #[test]
    fn sequence_wraps_around() {
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        for i in 0..20 {
            r.audio(65_530, i);
        }
        let s = r.only();
        assert_eq!((s.packets, s.expected, s.lost, s.out_of_order, s.duplicates), (20, 20, 0, 0, 0));
    }

    #[test]
    fn loss_duplicates_and_reordering() {
        // (sequence numbers in arrival order, expected, lost, duplicates, out of order)
        let cases: &[(&[u16], u64, i64, u64, u64)] = &[
            (&[1, 2, 3, 5, 6], 6, 1, 0, 0),
            (&[1, 2, 2, 3], 3, -1, 1, 0),
            (&[1, 3, 2, 4], 4, 0, 0, 1),
            (&[1, 2, 3, 2], 3, -1, 1, 0),
            (&[1, 3, 2, 2], 3, -1, 1, 1),
            (&[65_534, 65_535, 1, 0, 2], 5, 0, 0, 1),
            (&[1, 10, 20], 20, 17, 0, 0),
            // A jump confirmed by its successor restarts the count (RFC 3550 A.1).
            (&[10, 11, 12, 30_000, 30_001, 30_002], 5, 0, 0, 0),
            // A lone jump is ignored.
            (&[10, 11, 12, 30_000, 13, 14], 5, 0, 0, 0),
            // A late packet far behind is neither loss nor a duplicate.
            (&[200, 201, 202, 150], 3, -1, 0, 1),
        ];
        for &(seqs, expected, lost, dups, ooo) in cases {
            let mut r = Rig::new();
            r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
            r.seqs(seqs);
            let s = r.only();
            assert_eq!((s.expected, s.lost, s.duplicates, s.out_of_order), (expected, lost, dups, ooo), "{seqs:?}");
            assert_eq!(s.packets, seqs.len() as u64);
        }
    }

    #[test]
    fn a_restarted_sequence_keeps_loss_and_jitter_sane() {
        // RFC 3550 A.1: a jump confirmed by the next packet is a restart; the
        // timestamps jump with it and must not count as transit variation.
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        let seqs: Vec<u16> = (100..120).chain(40_000..40_020).collect();
        r.seqs(&seqs);
        let s = r.only();
        assert_eq!((s.packets, s.expected, s.lost), (40, 39, 0));
        assert_eq!(s.max_jitter_ms, Some(0.0));
        // A restart backwards, and the edge of the misordering window: 100
        // behind is a jump (ignored), 99 behind a late packet.
        for (seqs, expected, ooo) in
            [(&[1000, 1001, 800, 801][..], 3, 0), (&[1000, 1001, 901], 2, 0), (&[1000, 1001, 902], 2, 1)]
        {
            let mut r = Rig::new();
            r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
            r.seqs(seqs);
            let s = r.only();
            assert_eq!((s.packets, s.expected, s.out_of_order), (seqs.len() as u64, expected, ooo), "{seqs:?}");
        }
    }

    #[test]
    fn duplicate_window_follows_the_wrap() {
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        let mut seqs: Vec<u16> = (65_500..=65_535).chain(0..40).collect();
        seqs.extend([65_530, 5, 39]);
        r.seqs(&seqs);
        let s = r.only();
        assert_eq!((s.duplicates, s.expected, s.lost), (3, 76, -3));
    }

    #[test]
    fn jitter_from_a_known_transit_variation() {
        // Every other packet arrives 1 ms late: |D| is 8 units (1 ms at 8 kHz)
        // each time, so J_k = 8 (1 - (15/16)^k) after k differences (A.8).
        // A stream found by heuristic replays its candidate packets, so it
        // gets exactly the same figures.
        for sdp in [true, false] {
            let mut r = Rig::new();
            if sdp {
                r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
            }
            let n = 101u32;
            for i in 0..n {
                let late = if i % 2 == 1 { MS } else { 0 };
                let b = rtp(8, i as u16, 160 * i, SSRC, false, &[0; 160]);
                r.send(T0 + u64::from(i) * 20 * MS + late, &b);
            }
            let s = r.only();
            let want = 8.0 * (1.0 - (15.0f64 / 16.0).powi(n as i32 - 1));
            assert!((s.jitter.unwrap() - want).abs() < 1e-9, "{:?} vs {want}", s.jitter);
            assert!((s.jitter_ms.unwrap() - want / 8.0).abs() < 1e-9);
            assert!((s.max_jitter_ms.unwrap() - want / 8.0).abs() < 1e-9);
            assert_eq!((s.ptime_ms, s.packets, s.from_sdp), (Some(20.0), u64::from(n), sdp));
        }
    }

    #[test]
    fn an_announcement_after_the_first_packets_still_counts_them() {
        let mut r = Rig::new();
        assert!(!r.audio(1, 0));
        r.t.expect(T0 + MS, r.dst, 7, &pcma(), &mut r.c);
        assert!(r.audio(1, 1));
        assert_eq!(r.t.candidates(), 0);
        let s = r.only();
        assert_eq!((s.packets, s.first_ts, s.call, s.markers, s.ptime_ms), (2, T0, Some(7), 1, Some(20.0)));
    }

    #[test]
    fn jitter_needs_a_clock() {
        // A dynamic payload type with no SDP: no clock, so no jitter or ptime.
        let mut r = Rig::new();
        for i in 0..10u32 {
            let b = rtp(111, i as u16, 960 * i, SSRC, false, &[1; 60]);
            r.send(T0 + u64::from(i) * 20 * MS, &b);
        }
        let s = r.only();
        assert_eq!((s.payload_type, s.codec, s.clock_rate), (111, None, None));
        assert_eq!((s.jitter_ms, s.ptime_ms, s.packets), (None, None, 10));
    }

    fn event(ev: u8, end: bool, duration: u16) -> Vec<u8> {
        let mut b = vec![0u8; 4];
        rtp::EventRepr { event: ev, end, volume: 10, duration }.emit(&mut b);
        b
    }

    /// RFC 4733 2.5.1: the packets of one key press, with the end packet sent
    /// three times (`same_seq`: as sipp does, all three with one sequence number).
    fn press(ev: u8, ts: u32, seq: &mut u16, same_seq: bool) -> Vec<(u16, u32, Vec<u8>)> {
        let mut out = Vec::new();
        for d in [160, 320, 480] {
            out.push((*seq, ts, event(ev, false, d)));
            *seq += 1;
        }
        for _ in 0..3 {
            out.push((*seq, ts, event(ev, true, 640)));
            if !same_seq {
                *seq += 1;
            }
        }
        if same_seq {
            *seq += 1;
        }
        out
    }

    #[test]
    fn dtmf_events_coalesce_their_repeated_end_packets() {
        for sdp in [true, false] {
            let mut r = Rig::new();
            if sdp {
                r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
            }
            let mut seq = 1u16;
            let mut packets: Vec<(u8, u16, u32, Vec<u8>)> = Vec::new();
            for i in 0..5 {
                packets.push((8, seq, 160 * i, vec![0; 160]));
                seq += 1;
            }
            for (ev, ts, same) in [(1, 1000, true), (1, 2000, false), (11, 3000, true), (200, 4000, false)] {
                for (s, t, b) in press(ev, ts, &mut seq, same) {
                    packets.push((101, s, t, b));
                }
            }
            for (i, (pt, s, ts, payload)) in packets.iter().enumerate() {
                let b = rtp(*pt, *s, *ts, SSRC, false, payload);
                r.send(T0 + i as u64 * 20 * MS, &b);
            }
            let s = r.only();
            assert_eq!((s.dtmf_digits.as_str(), s.dtmf_events), ("11#", 4), "sdp {sdp}");
            assert_eq!(s.codec.as_deref(), Some("PCMA"));
            assert_eq!((s.payload_type, s.payload_types.clone()), (8, vec![8, 101]));
            // Two presses repeated their end packet under one sequence number.
            assert_eq!((s.duplicates, s.lost), (4, -4));
            assert_eq!(s.ptime_ms, Some(20.0), "events do not disturb the packetisation time");
        }
    }

    #[test]
    fn dtmf_digits_are_capped() {
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        for i in 0..(MAX_DTMF_DIGITS as u32 + 5) {
            let b = rtp(101, i as u16, 1000 * i, SSRC, false, &event(5, true, 100));
            r.send(T0 + u64::from(i) * 20 * MS, &b);
        }
        assert_eq!(r.t.counters().get(RtpAnomaly::DtmfDigitsFull), 5);
        let s = r.only();
        assert_eq!((s.dtmf_digits.len(), s.dtmf_events), (MAX_DTMF_DIGITS, MAX_DTMF_DIGITS as u64 + 5));
        assert_eq!(s.payload_type, 101, "an all-event stream reports the event type");
        assert_eq!(s.codec.as_deref(), Some("telephone-event"));
    }

    #[test]
    fn an_event_only_stream_is_found_without_sdp() {
        // As sipp_dtmf_2833_1.pcap: one key press, nothing else, no SDP seen.
        let mut r = Rig::new();
        let mut seq = 7984;
        for (i, (s, ts, b)) in press(1, 13_280, &mut seq, true).into_iter().enumerate() {
            r.send(T0 + i as u64 * 20 * MS, &rtp(101, s, ts, SSRC, i == 0, &b));
        }
        let s = r.only();
        assert_eq!((s.dtmf_digits.as_str(), s.dtmf_events, s.packets, s.lost), ("1", 1, 6, -2));
        assert_eq!((s.payload_type, s.codec.as_deref(), s.clock_rate), (101, Some("telephone-event"), None));
    }

    #[test]
    fn comfort_noise_markers_and_silence_gaps() {
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        let mut at = T0;
        let mut seq = 0u16;
        let mut ts = 0u32;
        for burst in 0..3 {
            for i in 0..10 {
                let b = rtp(8, seq, ts, SSRC, i == 0, &[0; 160]);
                r.send(at, &b);
                seq += 1;
                ts += 160;
                at += 20 * MS;
            }
            if burst < 2 {
                // RFC 3389: one CN packet, then silence for 400 ms.
                let b = rtp(13, seq, ts, SSRC, false, &[40]);
                r.send(at, &b);
                seq += 1;
                ts += 3200;
                at += 400 * MS;
            }
        }
        let s = r.only();
        assert_eq!((s.comfort_noise, s.markers, s.silence_gaps), (2, 3, 2));
        assert_eq!(s.longest_gap_ms, 400.0);
        assert_eq!((s.payload_type, s.payload_types.clone(), s.lost), (8, vec![8, 13], 0));
        assert_eq!(s.ptime_ms, Some(20.0));
        assert_eq!(s.jitter_ms, Some(0.0), "the timestamps account for the silence");
    }

    #[test]
    fn heuristic_adopts_a_stream_without_sdp() {
        let mut r = Rig::new();
        assert!(!r.audio(7, 0));
        assert!(!r.audio(7, 1));
        assert_eq!(r.t.candidates(), 1);
        assert!(r.audio(7, 2), "the third consistent packet adopts the stream");
        assert!(r.audio(7, 3));
        assert_eq!(r.t.candidates(), 0);
        let s = r.only();
        assert_eq!((s.call, s.from_sdp, s.packets, s.expected, s.lost), (None, false, 4, 4, 0));
        assert_eq!((s.codec.as_deref(), s.clock_rate, s.first_ts, s.markers), (Some("PCMA"), Some(8000), T0, 1));
        assert_eq!(s.bytes, 4 * 160);
    }

    #[test]
    fn heuristic_tolerates_repeats_and_restarts_on_inconsistency() {
        let mut r = Rig::new();
        let b = |seq: u16, ts: u32| rtp(0, seq, ts, SSRC, false, &[0xff; 160]);
        assert!(!r.send(T0, &b(10, 0)));
        assert!(!r.send(T0 + MS, &b(10, 0)), "a repeat neither advances nor breaks");
        assert!(!r.send(T0 + 20 * MS, &b(500, 160)), "a big sequence step starts over");
        assert!(!r.send(T0 + 40 * MS, &b(501, 320)));
        assert!(!r.send(T0 + 3 * SECOND, &b(502, 480)), "too long a gap starts over");
        assert!(!r.send(T0 + 3 * SECOND + 20 * MS, &b(503, 480 + 200_000)), "too big a timestamp step");
        assert!(r.t.is_empty());
    }

    #[test]
    fn random_udp_is_not_adopted() {
        // A fixed LCG: version-2-looking junk from one flow, and from many flows.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as u32
        };
        let mut r = Rig::new();
        for i in 0..5000u64 {
            let mut b: Vec<u8> = (0..(next() % 200 + 12)).map(|_| next() as u8).collect();
            b[0] = 0x80 | (b[0] & 0x3f);
            let src = if i % 2 == 0 { r.src } else { SocketAddr::new(r.src.ip(), (next() % 60_000) as u16) };
            assert!(!r.t.datagram(T0 + i * MS, src, r.dst, &b, &mut r.c));
        }
        assert!(r.t.is_empty());
        // Text protocols never look like RTP at all.
        assert!(!r.send(T0, b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\r\n"));
        assert_eq!(r.t.candidates(), r.t.candidates.len());
    }

    #[test]
    fn malformed_rtp_of_a_known_stream_is_counted_and_taken() {
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        r.audio(1, 0);
        let mut bad = rtp(8, 2, 160, SSRC, false, &[0; 4]);
        bad[0] |= 0x0f;
        assert!(r.send(T0 + 20 * MS, &bad));
        // To the announced address but not even a header that fits.
        let mut other = rtp(8, 2, 160, SSRC + 1, false, &[0; 4]);
        other[0] |= 0x20;
        *other.last_mut().unwrap() = 0;
        assert!(r.send(T0 + 20 * MS, &other));
        assert_eq!(r.t.counters().get(RtpAnomaly::RtpMalformed), 2);
        assert_eq!(r.only().packets, 1);
    }

    #[test]
    fn rtcp_is_taken_when_it_fits_or_is_announced() {
        let mut r = Rig::new();
        let (a, b) = (addr("192.0.2.1:25963"), addr("192.0.2.2:31601"));
        // A clean compound starting with a report: taken even with no stream.
        let good = rtcp_bytes(&[sr(1), rtcp::Repr::Goodbye { sources: vec![1], reason: None }]);
        assert!(r.t.datagram(T0, a, b, &good, &mut r.c));
        // Starting with something else: RTCP is not sure enough.
        let bye = rtcp_bytes(&[rtcp::Repr::Goodbye { sources: vec![1], reason: None }]);
        assert!(!r.t.datagram(T0, a, b, &bye, &mut r.c));
        // A broken tail on unannounced ports: left to others, not counted.
        let mut broken = good.clone();
        broken.extend_from_slice(&[0x80, 201, 0, 9]);
        assert!(!r.t.datagram(T0, a, b, &broken, &mut r.c));
        // A few zero octets after the last packet are tolerated.
        let mut tail = good.clone();
        tail.extend_from_slice(&[0, 0]);
        assert!(r.t.datagram(T0, a, b, &tail, &mut r.c));
        assert_eq!(r.t.counters().get(RtpAnomaly::RtcpMalformed), 0);
        // The same on announced ports: taken and counted.
        r.t.expect(T0, addr("192.0.2.2:31600"), 3, &pcma(), &mut r.c);
        assert!(r.t.datagram(T0, a, b, &broken, &mut r.c));
        assert_eq!(r.t.counters().get(RtpAnomaly::RtcpMalformed), 1);
        assert!(r.t.is_empty());
        // Types are counted in the datagrams taken: good, tail and broken.
        let n = r.t.rtcp_packets();
        assert_eq!((n.sender_reports, n.goodbyes, n.receiver_reports), (3, 3, 0));
        // Feedback and XR are counted by type too.
        let fb = rtcp_bytes(&[
            rr(1, 2),
            rtcp::Repr::Other { packet_type: PacketType::TransportFeedback, count: 1, body: vec![0; 8] },
            rtcp::Repr::Other { packet_type: PacketType::PayloadFeedback, count: 1, body: vec![0; 8] },
            rtcp::Repr::Other { packet_type: PacketType::ExtendedReport, count: 0, body: vec![0; 4] },
        ]);
        assert!(r.t.datagram(T0, a, b, &fb, &mut r.c));
        let n = *r.t.rtcp_packets();
        assert_eq!((n.transport_feedback, n.payload_feedback, n.extended_reports, n.receiver_reports), (1, 1, 1, 1));
    }

    #[test]
    fn idle_streams_end_and_tables_forget() {
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        r.audio(1, 0);
        let last = T0;
        r.t.datagram(T0, addr("10.9.9.9:1000"), r.dst, &rtp(0, 1, 1, 5, false, &[0; 160]), &mut r.c);
        r.t.datagram(T0, addr("10.9.9.8:1000"), addr("10.9.9.7:1"), &rtp(0, 1, 1, 6, false, &[0; 160]), &mut r.c);
        assert_eq!((r.t.len(), r.t.candidates()), (2, 1));
        r.t.expire(last + IDLE_TIMEOUT - 1);
        assert_eq!((r.t.len(), r.t.candidates()), (2, 0));
        assert!(r.t.take_finished().is_empty());
        r.t.expire(last + IDLE_TIMEOUT);
        let done = r.t.take_finished();
        assert_eq!(done.len(), 2);
        assert!(r.t.take_finished().is_empty());
        assert!(r.t.is_empty());
        // The announcement outlived its streams by the expectation timeout.
        r.t.expire(last + EXPECTATION_TIMEOUT - 1);
        assert_eq!(r.t.expectations(), 1);
        r.t.expire(last + IDLE_TIMEOUT + EXPECTATION_TIMEOUT);
        assert_eq!(r.t.expectations(), 0);
        // A new SSRC after that is no longer linked.
        assert!(!r.send(last + IDLE_TIMEOUT + EXPECTATION_TIMEOUT, &rtp(8, 1, 1, 77, false, &[0; 160])));
    }

    #[test]
    fn a_running_stream_keeps_its_announcement() {
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        let mut now = T0;
        for i in 0..(EXPECTATION_TIMEOUT / SECOND + 10) {
            now = T0 + i * SECOND;
            r.send(now, &rtp(8, i as u16, 8000 * i as u32, SSRC, false, &[0; 160]));
            r.t.expire(now);
        }
        assert_eq!(r.t.expectations(), 1);
        // A re-keyed sender (new SSRC) is still linked to the call.
        assert!(r.send(now + 20 * MS, &rtp(8, 9, 9, SSRC + 1, false, &[0; 160])));
        let all = r.t.finish();
        assert_eq!(all.iter().map(|s| s.call).collect::<Vec<_>>(), vec![Some(7), Some(7)]);
    }

    #[test]
    fn finish_returns_finished_then_live_streams_in_order() {
        let mut r = Rig::new();
        r.t.expect(T0, r.dst, 7, &pcma(), &mut r.c);
        r.send(T0, &rtp(8, 1, 1, 1, false, &[0; 160]));
        r.t.expire(T0 + IDLE_TIMEOUT);
        r.send(T0 + IDLE_TIMEOUT + 2, &rtp(8, 1, 1, 3, false, &[0; 160]));
        r.send(T0 + IDLE_TIMEOUT + 1, &rtp(8, 1, 1, 2, false, &[0; 160]));
        let ssrcs: Vec<u32> = r.t.finish().iter().map(|s| s.ssrc).collect();
        assert_eq!(ssrcs, vec![1, 2, 3]);
    }

    #[test]
    fn table_caps_are_counted() {
        let mut r = Rig::new();
        // One symmetric announcement links every stream from the source.
        r.t.expect(T0, r.src, 7, &pcma(), &mut r.c);
        let b = rtp(8, 1, 1, SSRC, false, &[0; 20]);
        for i in 0..(MAX_STREAMS + 3) {
            let dst = SocketAddr::new(r.dst.ip(), (i % 60_000) as u16 + 1);
            let mut b = b.clone();
            b[8..12].copy_from_slice(&(i as u32).to_be_bytes());
            assert!(r.t.datagram(T0, r.src, dst, &b, &mut r.c));
        }
        assert_eq!(r.t.len(), MAX_STREAMS);
        assert_eq!(r.t.counters().get(RtpAnomaly::StreamTableFull), 3);

        let mut r = Rig::new();
        for i in 0..(MAX_CANDIDATES + 2) {
            let mut b = b.clone();
            b[8..12].copy_from_slice(&(i as u32).to_be_bytes());
            r.send(T0, &b);
        }
        assert_eq!(r.t.candidates(), MAX_CANDIDATES);
        assert_eq!(r.t.counters().get(RtpAnomaly::CandidateTableFull), 2);

        let mut r = Rig::new();
        for i in 0..(MAX_EXPECTATIONS + 4) {
            let a = SocketAddr::new(r.dst.ip(), 1);
            let a = SocketAddr::new(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32).into(), a.port());
            r.t.expect(T0, a, i as u64, &[], &mut r.c);
        }
        assert_eq!(r.t.expectations(), MAX_EXPECTATIONS);
        assert_eq!(r.t.counters().get(RtpAnomaly::ExpectationTableFull), 4);
        // Re-announcing a known address is an update, not a new entry.
        r.t.expect(T0, addr("10.0.0.0:1"), 1, &pcma(), &mut r.c);
        assert_eq!(r.t.counters().get(RtpAnomaly::ExpectationTableFull), 4);
    }

    #[test]
    fn anomaly_names_are_unique_snake_case() {
        let names: std::collections::HashSet<_> = RtpAnomaly::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(names.len(), RtpAnomaly::ALL.len());
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        assert_eq!(RtpAnomaly::StreamTableFull.class(), Class::Limit);
        assert_eq!(RtpCounters::default().iter().count(), RtpAnomaly::ALL.len());
    }

    fn datagram_strategy() -> impl Strategy<Value = (u8, u8, u64, Vec<u8>)> {
        let junk = prop::collection::vec(any::<u8>(), 0..64);
        let rtpish = (any::<[u8; 12]>(), prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(h, t)| {
            let mut b = h.to_vec();
            b[0] = 0x80 | (b[0] & 0x3f);
            b[8..11].fill(0);
            b[11] &= 3;
            b.extend_from_slice(&t);
            b
        });
        let rtcpish = (200u8..=207, any::<u8>(), prop::collection::vec(any::<u8>(), 0..60)).prop_map(|(ty, f, t)| {
            let mut b = vec![0x80 | (f & 0x3f), ty, 0, (t.len() / 4) as u8];
            b.extend_from_slice(&t);
            b
        });
        (0u8..4, 0u8..4, 0u64..3_000, prop_oneof![junk, rtpish, rtcpish])
    }

    proptest! {
        #[test]
        fn random_datagrams_never_panic(
            grams in prop::collection::vec(datagram_strategy(), 1..120),
            codecs in prop::collection::vec((any::<u8>(), "[a-zA-Z-]{0,16}", any::<u32>()), 0..4),
        ) {
            let mut t = RtpTracker::new();
            let mut c = Counters::default();
            let host = |i: u8| SocketAddr::new(std::net::Ipv4Addr::new(10, 0, 0, i).into(), 4000 + u16::from(i % 2));
            t.expect(T0, host(1), 1, &codecs, &mut c);
            let mut now = T0;
            for (s, d, step, bytes) in &grams {
                now += step * MS;
                t.datagram(now, host(*s), host(*d), bytes, &mut c);
                if step % 7 == 0 {
                    t.expire(now);
                    let _ = t.take_finished();
                }
            }
            for s in t.finish() {
                prop_assert!(s.packets >= s.duplicates && s.first_ts <= s.last_ts);
                prop_assert!(s.dtmf_digits.len() <= MAX_DTMF_DIGITS);
            }
        }
    }
}
