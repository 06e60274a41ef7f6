//! Per-address state: what one IP address did on SIP and the evidence
//! gathered about it. Every list is bounded.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::IpAddr;

use super::behaviour::Behaviour;
use crate::anomaly::{Anomaly, Counters};
use crate::capture::Micros;
use duanka_shared::events::CallObservation;

/// Accounts remembered per address.
pub const MAX_ACCOUNTS: usize = 1024;
/// User-Agent values remembered per address.
pub const MAX_USER_AGENTS: usize = 32;
/// Local SIP ports remembered per address.
pub const MAX_PORTS: usize = 256;
/// Expiry values remembered per address.
pub const MAX_EXPIRES: usize = 16;
/// Frames kept per evidence item.
pub const MAX_EVIDENCE_FRAMES: usize = 8;
/// Calls kept per host in its call log (for CDR matching at the agent).
pub const MAX_CALL_LOG: usize = 100_000;
/// Latest logged calls searched when an answer arrives.
const ANSWER_SEARCH: usize = 512;

/// Where a message came from in the input: file index and frame number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef {
    /// Index of the input file (in the order read).
    pub file: u32,
    /// 1-based frame number in that file.
    pub number: u64,
}

/// A set that stops growing at a cap and remembers that it did.
#[derive(Debug, Clone)]
pub struct BoundedSet<T: Eq + Hash> {
    items: HashSet<T>,
    cap: usize,
    /// Set once an insert was refused.
    pub overflowed: bool,
}

impl<T: Eq + Hash> BoundedSet<T> {
    /// An empty set holding at most `cap` items.
    pub fn new(cap: usize) -> Self {
        BoundedSet { items: HashSet::new(), cap, overflowed: false }
    }

    /// Insert; returns false (and marks overflow) when full. `make` builds the
    /// owned value only when it is new.
    pub fn insert_with<Q>(&mut self, key: &Q, make: impl FnOnce(&Q) -> T) -> bool
    where
        T: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if self.items.contains(key) {
            return true;
        }
        if self.items.len() >= self.cap {
            self.overflowed = true;
            return false;
        }
        self.items.insert(make(key));
        true
    }

    /// Insert like [`Self::insert_with`]; the first refused insert is counted
    /// as [`Anomaly::AddressListFull`].
    pub fn insert_counted<Q>(&mut self, key: &Q, make: impl FnOnce(&Q) -> T, counters: &mut Counters)
    where
        T: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let before = self.overflowed;
        if !self.insert_with(key, make) && !before {
            counters.add(Anomaly::AddressListFull);
        }
    }

    /// Items in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Add every item of `other` (up to the cap).
    pub fn absorb(&mut self, other: BoundedSet<T>) {
        self.overflowed |= other.overflowed;
        for item in other.items {
            if self.items.len() >= self.cap {
                self.overflowed = true;
                break;
            }
            self.items.insert(item);
        }
    }
}

/// What produced an evidence item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceSource {
    /// Index into the signature database.
    Signature(usize),
}

/// Evidence gathered so far for one source on one address.
#[derive(Debug, Clone)]
pub struct EvidenceAcc {
    /// What produced it.
    pub source: EvidenceSource,
    /// The first observed value.
    pub observed: String,
    /// Messages that showed it.
    pub occurrences: u64,
    /// File of the frames below.
    pub file: u32,
    /// The first few frames.
    pub frames: Vec<u64>,
}

/// Identities remembered per address and kind.
pub const MAX_IDENTITIES: usize = 1024;

/// An identity (IMSI, IMEI, ICCID) seen from one address.
#[derive(Debug, Clone)]
pub struct IdentityAcc {
    /// The digits as sent.
    pub value: Box<str>,
    /// Whether it validated.
    pub valid: bool,
    /// The channel that announced it.
    pub channel: Option<Box<str>>,
    /// Messages that carried it.
    pub occurrences: u64,
    /// File of the frames.
    pub file: u32,
    /// First frames.
    pub frames: Vec<u64>,
}

/// A bounded list of identities of one kind.
#[derive(Debug, Clone, Default)]
pub struct IdentityList {
    /// The identities, in order of first sight.
    pub items: Vec<IdentityAcc>,
    /// Set when one was dropped at the cap.
    pub overflowed: bool,
}

impl IdentityList {
    /// Note `value` (announced by `channel`) at `frame`.
    pub fn note(&mut self, value: &str, valid: bool, channel: Option<&str>, frame: FrameRef) {
        if let Some(i) = self.items.iter_mut().find(|i| &*i.value == value) {
            i.occurrences += 1;
            if i.file == frame.file && i.frames.len() < MAX_EVIDENCE_FRAMES {
                i.frames.push(frame.number);
            }
            return;
        }
        if self.items.len() >= MAX_IDENTITIES {
            self.overflowed = true;
            return;
        }
        self.items.push(IdentityAcc {
            value: value.into(),
            valid,
            channel: channel.map(Into::into),
            occurrences: 1,
            file: frame.file,
            frames: vec![frame.number],
        });
    }

    fn absorb(&mut self, older: IdentityList) {
        let mut merged = older.items;
        for i in std::mem::take(&mut self.items) {
            if let Some(m) = merged.iter_mut().find(|m| m.value == i.value) {
                m.occurrences += i.occurrences;
            } else if merged.len() < MAX_IDENTITIES {
                merged.push(i);
            } else {
                self.overflowed = true;
            }
        }
        self.items = merged;
        self.overflowed |= older.overflowed;
    }
}

/// Codecs and packetisation times remembered per address.
const MAX_RTP_KINDS: usize = 8;

/// An address's RTP streams as a sender, accumulated.
#[derive(Debug, Clone, Default)]
pub struct RtpAcc {
    /// Streams.
    pub streams: u64,
    /// Linked to a call.
    pub linked: u64,
    /// Packets.
    pub packets: u64,
    /// Lost packets.
    pub lost: i64,
    /// Sum of final jitter, ms, over streams that had one.
    pub jitter_sum_ms: f64,
    /// Streams with a jitter figure.
    pub jitter_n: u64,
    /// Largest jitter, ms.
    pub max_jitter_ms: Option<f64>,
    /// Packetisation times, ms.
    pub ptimes: Vec<f64>,
    /// Codec names.
    pub codecs: Vec<String>,
    /// Streams with RTCP.
    pub with_rtcp: u64,
    /// DTMF events.
    pub dtmf_events: u64,
    /// Silence gaps.
    pub silence_gaps: u64,
}

impl RtpAcc {
    /// Fold in one ended stream.
    pub fn add(&mut self, st: &crate::track::rtp::StreamReport) {
        self.streams += 1;
        self.linked += u64::from(st.call.is_some());
        self.packets += st.packets;
        self.lost += st.lost;
        if let Some(j) = st.jitter_ms {
            self.jitter_sum_ms += j;
            self.jitter_n += 1;
        }
        self.max_jitter_ms = match (self.max_jitter_ms, st.max_jitter_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let Some(p) = st.ptime_ms {
            if self.ptimes.len() < MAX_RTP_KINDS && !self.ptimes.iter().any(|x| (x - p).abs() < 0.01) {
                self.ptimes.push(p);
            }
        }
        if let Some(c) = &st.codec {
            if self.codecs.len() < MAX_RTP_KINDS && !self.codecs.contains(c) {
                self.codecs.push(c.clone());
            }
        }
        self.with_rtcp += u64::from(st.rtcp_sr + st.rtcp_rr > 0);
        self.dtmf_events += st.dtmf_events;
        self.silence_gaps += st.silence_gaps;
    }

    fn merge(&mut self, o: &RtpAcc) {
        self.streams += o.streams;
        self.linked += o.linked;
        self.packets += o.packets;
        self.lost += o.lost;
        self.jitter_sum_ms += o.jitter_sum_ms;
        self.jitter_n += o.jitter_n;
        self.max_jitter_ms = match (self.max_jitter_ms, o.max_jitter_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for p in &o.ptimes {
            if self.ptimes.len() < MAX_RTP_KINDS && !self.ptimes.contains(p) {
                self.ptimes.push(*p);
            }
        }
        for c in &o.codecs {
            if self.codecs.len() < MAX_RTP_KINDS && !self.codecs.contains(c) {
                self.codecs.push(c.clone());
            }
        }
        self.with_rtcp += o.with_rtcp;
        self.dtmf_events += o.dtmf_events;
        self.silence_gaps += o.silence_gaps;
    }
}

/// Lines (SIP accounts and GoIP channels) remembered per address.
pub const MAX_LINES: usize = 256;

/// One line of a gateway: a SIP account it registers, or a GoIP channel
/// that reports calls on its control plane.
#[derive(Debug, Clone, Default)]
pub struct LineStats {
    /// REGISTER requests for this account.
    pub registrations: u64,
    /// Expiry last asked for.
    pub expires: Option<u32>,
    /// Time of the latest REGISTER.
    pub last_register: Option<Micros>,
    /// Refresh intervals summed, microseconds, and how many.
    pub refresh_sum_us: u64,
    /// Number of refresh intervals.
    pub refreshes: u64,
    /// Calls the control plane reported on this channel (RECORD).
    pub calls: u64,
    /// End of the channel's latest call (HANGUP).
    pub last_hangup: Option<Micros>,
    /// Idle gaps between a HANGUP and the next RECORD, summed, microseconds.
    pub gap_sum_us: u64,
    /// Number of idle gaps.
    pub gaps: u64,
}

/// The lines of one address, bounded.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    /// Line id (`sip:user@host` or `goip:<channel>`) → its figures.
    pub map: HashMap<Box<str>, LineStats>,
    /// Set when a line was not tracked for lack of room.
    pub overflowed: bool,
}

impl Lines {
    /// The figures of line `id`, created when there is room.
    pub fn line(&mut self, id: &str) -> Option<&mut LineStats> {
        if !self.map.contains_key(id) {
            if self.map.len() >= MAX_LINES {
                self.overflowed = true;
                return None;
            }
            self.map.insert(id.into(), LineStats::default());
        }
        self.map.get_mut(id)
    }

    /// Mean registration refresh interval over every line, seconds.
    pub fn mean_refresh_s(&self) -> Option<f64> {
        let (sum, n) = self.map.values().fold((0u64, 0u64), |(s, n), l| (s + l.refresh_sum_us, n + l.refreshes));
        (n > 0).then(|| sum as f64 / n as f64 / 1e6)
    }

    /// Mean idle gap between consecutive calls on one line, seconds, and the number of gaps.
    pub fn mean_idle_gap_s(&self) -> Option<(f64, u64)> {
        let (sum, n) = self.map.values().fold((0u64, 0u64), |(s, n), l| (s + l.gap_sum_us, n + l.gaps));
        (n > 0).then(|| (sum as f64 / n as f64 / 1e6, n))
    }

    fn absorb(&mut self, older: Lines) {
        for (k, o) in older.map {
            let room = self.map.len() < MAX_LINES;
            if let Some(l) = self.map.get_mut(&k) {
                l.registrations += o.registrations;
                l.refresh_sum_us += o.refresh_sum_us;
                l.refreshes += o.refreshes;
                l.calls += o.calls;
                l.gap_sum_us += o.gap_sum_us;
                l.gaps += o.gaps;
                l.expires = l.expires.or(o.expires);
            } else if room {
                self.map.insert(k, o);
            } else {
                self.overflowed = true;
            }
        }
        self.overflowed |= older.overflowed;
    }
}

/// Everything known about one address.
#[derive(Debug, Clone)]
pub struct Host {
    /// The address.
    pub addr: IpAddr,
    /// First SIP message.
    pub first_ts: Micros,
    /// Last SIP message.
    pub last_ts: Micros,
    /// Accounts (user@host) registered from or calling from here.
    pub accounts: BoundedSet<Box<[u8]>>,
    /// User-Agent / Server values sent.
    pub user_agents: BoundedSet<Box<[u8]>>,
    /// Local SIP ports used.
    pub sip_ports: BoundedSet<u16>,
    /// Registration expiry values asked for.
    pub register_expires: BoundedSet<u32>,
    /// Calls received.
    pub calls_in: u64,
    /// Calls placed.
    pub calls_out: u64,
    /// Calls answered (either direction).
    pub calls_answered: u64,
    /// REGISTER requests sent.
    pub registrations: u64,
    /// OPTIONS requests sent.
    pub options_sent: u64,
    /// Requests sent.
    pub requests_sent: u64,
    /// Requests received.
    pub requests_received: u64,
    /// Evidence so far.
    pub evidence: Vec<EvidenceAcc>,
    /// Call behaviour so far.
    pub behaviour: Behaviour,
    /// First call (INVITE sent or received).
    pub first_call_ts: Option<Micros>,
    /// INVITE frames of the first calls it received, for feature evidence.
    pub call_frames: Vec<FrameRef>,
    /// When its score first reached the SIM-box threshold (online detection).
    pub detected_at: Option<Micros>,
    /// IMSIs its GoIP control plane announced.
    pub imsis: IdentityList,
    /// IMEIs its GoIP control plane announced.
    pub imeis: IdentityList,
    /// ICCIDs its GoIP control plane announced.
    pub iccids: IdentityList,
    /// Its SIP calls for CDR matching at the agent, at most [`MAX_CALL_LOG`].
    pub call_log: Vec<CallObservation>,
    /// GoIP SMS-server keep-alives sent.
    pub goip_keepalives: u64,
    /// GoIP channels (line ids) seen in its keep-alives.
    pub goip_channels: BoundedSet<Box<[u8]>>,
    /// First GoIP control-plane frame.
    pub goip_frames: Vec<FrameRef>,
    /// Its RTP streams as a sender.
    pub rtp: RtpAcc,
    /// Its lines: registered accounts and GoIP channels.
    pub lines: Lines,
    /// OPTIONS keep-alive cadence: last time, and the intervals' sum, sum of squares (s) and count.
    pub options_last: Option<Micros>,
    /// Sum of OPTIONS intervals, seconds.
    pub options_gap_sum: f64,
    /// Sum of squared OPTIONS intervals, seconds².
    pub options_gap_sq: f64,
    /// Number of OPTIONS intervals.
    pub options_gaps: u64,
    /// Remote SIM-bank packets exchanged.
    pub simbank_packets: u64,
    /// First SIM-bank frames.
    pub simbank_frames: Vec<FrameRef>,
}

impl Host {
    /// Log a call for the agent; false when the log is full.
    pub fn log_call(&mut self, call: CallObservation) -> bool {
        if self.call_log.len() >= MAX_CALL_LOG {
            return false;
        }
        self.call_log.push(call);
        true
    }

    /// Mark the logged call that started at `start` answered. Answers come
    /// soon after their INVITE, so only the latest calls are searched.
    pub fn call_answered(&mut self, start: &str) {
        if let Some(c) = self.call_log.iter_mut().rev().take(ANSWER_SEARCH).find(|c| c.start == start) {
            c.answered = true;
        }
    }

    /// A host first seen at `ts`.
    pub fn new(addr: IpAddr, ts: Micros) -> Host {
        Host {
            addr,
            first_ts: ts,
            last_ts: ts,
            accounts: BoundedSet::new(MAX_ACCOUNTS),
            user_agents: BoundedSet::new(MAX_USER_AGENTS),
            sip_ports: BoundedSet::new(MAX_PORTS),
            register_expires: BoundedSet::new(MAX_EXPIRES),
            calls_in: 0,
            calls_out: 0,
            calls_answered: 0,
            registrations: 0,
            options_sent: 0,
            requests_sent: 0,
            requests_received: 0,
            evidence: Vec::new(),
            behaviour: Behaviour::default(),
            first_call_ts: None,
            call_frames: Vec::new(),
            detected_at: None,
            imsis: IdentityList::default(),
            imeis: IdentityList::default(),
            iccids: IdentityList::default(),
            call_log: Vec::new(),
            goip_keepalives: 0,
            goip_channels: BoundedSet::new(MAX_ACCOUNTS),
            goip_frames: Vec::new(),
            rtp: RtpAcc::default(),
            lines: Lines::default(),
            options_last: None,
            options_gap_sum: 0.0,
            options_gap_sq: 0.0,
            options_gaps: 0,
            simbank_packets: 0,
            simbank_frames: Vec::new(),
        }
    }

    /// Note a message time.
    pub fn touch(&mut self, ts: Micros) {
        self.first_ts = self.first_ts.min(ts);
        self.last_ts = self.last_ts.max(ts);
    }

    /// Record one piece of evidence seen in the message at `frame`; true when
    /// this source of evidence is new for the address.
    pub fn record(&mut self, source: EvidenceSource, observed: &[u8], frame: FrameRef) -> bool {
        if let Some(e) = self.evidence.iter_mut().find(|e| e.source == source) {
            e.occurrences += 1;
            if e.file == frame.file && e.frames.len() < MAX_EVIDENCE_FRAMES && e.frames.last() != Some(&frame.number) {
                e.frames.push(frame.number);
            }
            return false;
        }
        self.evidence.push(EvidenceAcc {
            source,
            observed: crate::detect::signatures::observed_text(observed),
            occurrences: 1,
            file: frame.file,
            frames: vec![frame.number],
        });
        true
    }

    /// True when any of its lists hit a cap.
    pub fn any_list_overflowed(&self) -> bool {
        self.accounts.overflowed
            || self.user_agents.overflowed
            || self.sip_ports.overflowed
            || self.register_expires.overflowed
    }

    /// Fold in what an earlier (retired) record of the same address knew.
    pub fn merge(&mut self, older: Host) {
        self.first_ts = self.first_ts.min(older.first_ts);
        self.last_ts = self.last_ts.max(older.last_ts);
        self.accounts.absorb(older.accounts);
        self.user_agents.absorb(older.user_agents);
        self.sip_ports.absorb(older.sip_ports);
        self.register_expires.absorb(older.register_expires);
        self.calls_in += older.calls_in;
        self.calls_out += older.calls_out;
        self.calls_answered += older.calls_answered;
        self.registrations += older.registrations;
        self.options_sent += older.options_sent;
        self.requests_sent += older.requests_sent;
        self.requests_received += older.requests_received;
        self.behaviour.merge(&older.behaviour);
        self.first_call_ts = match (self.first_call_ts, older.first_call_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if !older.call_frames.is_empty() {
            self.call_frames = older.call_frames;
        }
        self.detected_at = match (self.detected_at, older.detected_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.imsis.absorb(older.imsis);
        self.imeis.absorb(older.imeis);
        self.iccids.absorb(older.iccids);
        self.goip_keepalives += older.goip_keepalives;
        self.goip_channels.absorb(older.goip_channels);
        if !older.goip_frames.is_empty() {
            self.goip_frames = older.goip_frames;
        }
        self.rtp.merge(&older.rtp);
        self.lines.absorb(older.lines);
        self.options_gap_sum += older.options_gap_sum;
        self.options_gap_sq += older.options_gap_sq;
        self.options_gaps += older.options_gaps;
        self.simbank_packets += older.simbank_packets;
        if !older.simbank_frames.is_empty() {
            self.simbank_frames = older.simbank_frames;
        }
        for old in older.evidence {
            match self.evidence.iter_mut().find(|e| e.source == old.source) {
                // The older record saw it first: its value and frames lead.
                Some(e) => {
                    e.occurrences += old.occurrences;
                    e.observed = old.observed;
                    e.file = old.file;
                    e.frames = old.frames;
                }
                None => self.evidence.push(old),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_set_caps_and_flags() {
        let mut s: BoundedSet<Box<[u8]>> = BoundedSet::new(2);
        assert!(s.insert_with(&b"a"[..], |k| k.into()));
        assert!(s.insert_with(&b"a"[..], |k| k.into()));
        assert!(s.insert_with(&b"b"[..], |k| k.into()));
        assert!(!s.insert_with(&b"c"[..], |k| k.into()));
        assert_eq!(s.len(), 2);
        assert!(s.overflowed);
    }

    #[test]
    fn evidence_counts_and_keeps_first_frames() {
        let mut h = Host::new("10.0.0.1".parse().unwrap(), 5);
        for n in 1..=20 {
            h.record(EvidenceSource::Signature(3), b"dble", FrameRef { file: 0, number: n });
        }
        h.record(EvidenceSource::Signature(3), b"dble", FrameRef { file: 1, number: 99 });
        let e = &h.evidence[0];
        assert_eq!(e.occurrences, 21);
        assert_eq!(e.frames, (1..=MAX_EVIDENCE_FRAMES as u64).collect::<Vec<_>>());
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = Host::new("10.0.0.1".parse().unwrap(), 100);
        let mut b = Host::new("10.0.0.1".parse().unwrap(), 10);
        a.calls_in = 2;
        b.calls_in = 3;
        b.record(EvidenceSource::Signature(0), b"x", FrameRef { file: 0, number: 1 });
        a.record(EvidenceSource::Signature(0), b"x", FrameRef { file: 0, number: 50 });
        a.merge(b);
        assert_eq!(a.calls_in, 5);
        assert_eq!(a.first_ts, 10);
        assert_eq!(a.evidence[0].occurrences, 2);
        assert_eq!(a.evidence[0].frames, vec![1]);
    }
}
