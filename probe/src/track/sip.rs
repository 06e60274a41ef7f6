//! SIP session state: registrations (bindings), calls (INVITE dialogs) and
//! per-address activity, fed with parsed messages in capture order.
//!
//! RFC 3261 sections 10 (registrations), 13-15 (INVITE, CANCEL, BYE) and 17
//! (retransmissions, which must not count twice). Bounded: at most
//! [`MAX_DIALOGS`] calls, [`MAX_BINDINGS`] registrations and [`MAX_HOSTS`]
//! addresses, each forgotten after an idle timeout in capture time; an idle
//! address is retired, not lost, so the report still covers it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::behaviour::CallFacts;
use super::host::{FrameRef, Host};
use crate::anomaly::{Anomaly, Counters};
use crate::capture::Micros;
use crate::detect::features::Numbering;
use crate::dissect::sip::{self, Method, StartLine};
use duanka_shared::events::{CallObservation, Direction};

/// Calls followed at once.
pub const MAX_DIALOGS: usize = 200_000;
/// Registrations followed at once.
pub const MAX_BINDINGS: usize = 200_000;
/// Addresses followed at once.
pub const MAX_HOSTS: usize = 100_000;
/// Retired addresses kept for the report.
pub const MAX_RETIRED: usize = 400_000;
/// An unanswered call with no final response is dropped after this.
pub const SETUP_TIMEOUT: Micros = 300 * SECOND;
/// An answered call with no BYE is taken as ended after this much silence.
pub const CALL_IDLE_TIMEOUT: Micros = 4 * 3600 * SECOND;
/// An ended call lingers this long to absorb retransmissions (RFC 3261 timer J: 64*T1).
pub const LINGER: Micros = 32 * SECOND;
/// An address with no SIP for this long is retired.
pub const HOST_IDLE_TIMEOUT: Micros = 3600 * SECOND;

const SECOND: Micros = 1_000_000;

/// Where and when a message was seen.
#[derive(Debug, Clone, Copy)]
pub struct MessageMeta {
    /// Capture time.
    pub ts: Micros,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// The frame that completed the message.
    pub frame: FrameRef,
}

/// Which party ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The side that sent the INVITE.
    Caller,
    /// The side that received it.
    Callee,
}

/// One call: an INVITE and what followed.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Who sent the INVITE.
    pub caller: SocketAddr,
    /// Who received it.
    pub callee: SocketAddr,
    /// The Request-URI user part: the number dialled.
    pub callee_number: Box<str>,
    /// The From user part: the caller id offered.
    pub caller_number: Box<str>,
    /// CSeq of the latest initial INVITE (a challenged INVITE is resent with a higher one).
    pub invite_cseq: u32,
    /// INVITE time.
    pub setup_ts: Micros,
    /// First 180/183.
    pub ring_ts: Option<Micros>,
    /// 2xx to the INVITE.
    pub answer_ts: Option<Micros>,
    /// BYE, CANCEL or final error.
    pub end_ts: Option<Micros>,
    /// Final response code to the INVITE.
    pub final_code: Option<u16>,
    /// Who hung up (BYE sender) or gave up (CANCEL).
    pub ended_by: Option<Party>,
    /// Last message of the call.
    pub last_ts: Micros,
    /// The frame of the first INVITE.
    pub invite_frame: FrameRef,
    /// Set once the call's end was accounted to its parties.
    pub finished: bool,
}

/// One registration binding: an AOR registered from one address.
#[derive(Debug, Clone)]
pub struct Binding {
    /// Address-of-record (user@host of To).
    pub aor: Box<str>,
    /// The first Contact URI.
    pub contact: Box<str>,
    /// Expiry asked for.
    pub expires: Option<u32>,
    /// Registering address and port.
    pub src: SocketAddr,
    /// First REGISTER.
    pub first_ts: Micros,
    /// Latest REGISTER.
    pub last_ts: Micros,
    /// REGISTER requests (refreshes and retransmissions included).
    pub requests: u64,
}

/// Totals over the whole input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Calls (initial INVITEs with a new Call-ID).
    pub calls: u64,
    /// Calls answered.
    pub calls_answered: u64,
    /// Registration bindings.
    pub registrations: u64,
}

/// A call that just started, for matching with the cell side.
#[derive(Debug, Clone)]
pub struct NewCall {
    /// INVITE time.
    pub ts: Micros,
    /// The receiving address (the gateway, when it is one).
    pub callee: IpAddr,
    /// The number to dial (Request-URI user part).
    pub number: Box<str>,
    /// The INVITE's frame.
    pub frame: FrameRef,
}

/// Calls received whose INVITE frames are kept per address for evidence.
const CALL_FRAMES_KEPT: usize = 8;

/// A REGISTER for the same binding sooner than this is a retransmission or
/// an answer to a challenge, not a refresh.
const MIN_REFRESH: Micros = 5 * SECOND;

/// The session tables.
#[derive(Debug, Default)]
pub struct SipTracker {
    numbering: Numbering,
    /// Addresses whose behaviour changed since [`SipTracker::take_changed`].
    changed: Vec<IpAddr>,
    /// Calls started since [`SipTracker::take_new_calls`].
    new_calls: Vec<NewCall>,
    hosts: HashMap<IpAddr, Host>,
    retired: Vec<Host>,
    dialogs: HashMap<Box<[u8]>, Dialog>,
    bindings: HashMap<Box<[u8]>, Binding>,
    /// Totals so far.
    pub totals: Totals,
    scratch: Vec<u8>,
}

fn text(b: &[u8]) -> Box<str> {
    String::from_utf8_lossy(b).into()
}

impl SipTracker {
    /// Empty tables, classifying numbers and peers with `numbering`.
    pub fn new(numbering: Numbering) -> Self {
        SipTracker { numbering, ..Self::default() }
    }

    /// Calls started since the last call.
    pub fn take_new_calls(&mut self) -> Vec<NewCall> {
        std::mem::take(&mut self.new_calls)
    }

    /// Addresses whose call behaviour changed since the last call (each once).
    pub fn take_changed(&mut self) -> Vec<IpAddr> {
        let mut v = std::mem::take(&mut self.changed);
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The state of an address, creating it when there is room.
    pub fn host(&mut self, addr: IpAddr, ts: Micros, counters: &mut Counters) -> Option<&mut Host> {
        if !self.hosts.contains_key(&addr) && self.hosts.len() >= MAX_HOSTS {
            counters.add(Anomaly::AddressTableFull);
            return None;
        }
        let h = self.hosts.entry(addr).or_insert_with(|| Host::new(addr, ts));
        h.touch(ts);
        Some(h)
    }

    /// The state of an address, if followed.
    pub fn host_mut(&mut self, addr: IpAddr) -> Option<&mut Host> {
        self.hosts.get_mut(&addr)
    }

    /// Calls followed now.
    pub fn dialogs(&self) -> impl Iterator<Item = &Dialog> {
        self.dialogs.values()
    }

    /// Registrations followed now.
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.values()
    }

    /// Feed one parsed message.
    pub fn message(&mut self, msg: &sip::Message<'_>, meta: &MessageMeta, counters: &mut Counters) {
        let ts = meta.ts;
        let request = msg.is_request();
        if let Some(h) = self.host(meta.src.ip(), ts, counters) {
            h.sip_ports.insert_counted(&meta.src.port(), |p| *p, counters);
            if let Some(ua) = msg.user_agent().or_else(|| msg.server()) {
                h.user_agents.insert_counted(ua, |k| k.into(), counters);
            }
            if request {
                h.requests_sent += 1;
            }
        }
        if let Some(h) = self.host(meta.dst.ip(), ts, counters) {
            if request {
                h.requests_received += 1;
            }
        }
        match &msg.start {
            StartLine::Request { method, uri, .. } => match method {
                Method::Register => self.register(msg, meta, counters),
                Method::Invite => self.invite(msg, meta, uri, counters),
                Method::Cancel => self.end_call(msg, meta, Some(Party::Caller)),
                Method::Bye => {
                    let by = self.dialogs.get(msg.call_id().unwrap_or_default()).map(|d| {
                        let from_caller =
                            meta.src == d.caller || (meta.src != d.callee && meta.src.ip() == d.caller.ip());
                        if from_caller {
                            Party::Caller
                        } else {
                            Party::Callee
                        }
                    });
                    self.end_call(msg, meta, by);
                }
                Method::Options => {
                    if let Some(h) = self.hosts.get_mut(&meta.src.ip()) {
                        h.options_sent += 1;
                        if let Some(last) = h.options_last {
                            let gap = meta.ts.saturating_sub(last);
                            // Retransmissions (RFC 3261 timer E) are not keep-alives.
                            if gap >= MIN_REFRESH {
                                let g = gap as f64 / 1e6;
                                h.options_gap_sum += g;
                                h.options_gap_sq += g * g;
                                h.options_gaps += 1;
                            }
                        }
                        h.options_last = Some(meta.ts);
                    }
                }
                _ => {
                    if let Some(d) = msg.call_id().and_then(|c| self.dialogs.get_mut(c)) {
                        d.last_ts = ts;
                    }
                }
            },
            StartLine::Response { code, .. } => self.response(msg, meta, *code),
        }
    }

    fn register(&mut self, msg: &sip::Message<'_>, meta: &MessageMeta, counters: &mut Counters) {
        let Some(to) = msg.to() else { return };
        let (user, host) = (to.uri.user.unwrap_or_default(), to.uri.host);
        let contact = msg.contacts().find_map(|c| match c {
            sip::Contact::Addr { addr, expires } => Some((addr.uri.raw, expires)),
            _ => None,
        });
        let expires = contact.and_then(|c| c.1).or_else(|| msg.expires());
        self.scratch.clear();
        self.scratch.extend_from_slice(user);
        self.scratch.push(b'@');
        self.scratch.extend_from_slice(host);
        if let Some(h) = self.hosts.get_mut(&meta.src.ip()) {
            h.registrations += 1;
            h.accounts.insert_counted(&self.scratch[..], |k| k.into(), counters);
            let id = format!("sip:{}", String::from_utf8_lossy(&self.scratch));
            if let Some(line) = h.lines.line(&id) {
                line.registrations += 1;
                if let Some(last) = line.last_register {
                    let interval = meta.ts.saturating_sub(last);
                    if interval >= MIN_REFRESH {
                        line.refresh_sum_us += interval;
                        line.refreshes += 1;
                    }
                }
                line.last_register = Some(meta.ts);
                line.expires = expires.or(line.expires);
            }
            if let Some(e) = expires.filter(|e| *e > 0) {
                h.register_expires.insert_counted(&e, |e| *e, counters);
            }
        }
        // Key: the registering address, then the AOR.
        let aor_len = self.scratch.len();
        match meta.src.ip() {
            IpAddr::V4(a) => self.scratch.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => self.scratch.extend_from_slice(&a.octets()),
        }
        if let Some(b) = self.bindings.get_mut(&self.scratch[..]) {
            b.last_ts = meta.ts;
            b.requests += 1;
            b.src = meta.src;
            if expires.is_some() {
                b.expires = expires;
            }
            return;
        }
        if self.bindings.len() >= MAX_BINDINGS {
            counters.add(Anomaly::RegistrationTableFull);
            return;
        }
        self.totals.registrations += 1;
        let binding = Binding {
            aor: text(&self.scratch[..aor_len]),
            contact: text(contact.map(|c| c.0).unwrap_or_default()),
            expires,
            src: meta.src,
            first_ts: meta.ts,
            last_ts: meta.ts,
            requests: 1,
        };
        self.bindings.insert(self.scratch.as_slice().into(), binding);
    }

    fn invite(&mut self, msg: &sip::Message<'_>, meta: &MessageMeta, uri: &sip::Uri<'_>, counters: &mut Counters) {
        let Some(call_id) = msg.call_id() else { return };
        let cseq = msg.cseq().map(|c| c.seq).unwrap_or(0);
        let to_tag = msg.to().and_then(|t| t.tag);
        if let Some(d) = self.dialogs.get_mut(call_id) {
            d.last_ts = meta.ts;
            // A new initial INVITE after a challenge (401/407) or a failure:
            // the same call tried again, not a new call.
            if to_tag.is_none() && cseq > d.invite_cseq && d.answer_ts.is_none() && !d.finished {
                d.invite_cseq = cseq;
                d.final_code = None;
                d.end_ts = None;
                d.ended_by = None;
            }
            return;
        }
        if to_tag.is_some() {
            // A re-INVITE of a call that began before the capture.
            return;
        }
        if self.dialogs.len() >= MAX_DIALOGS {
            counters.add(Anomaly::DialogTableFull);
            return;
        }
        self.totals.calls += 1;
        if let Some(h) = self.hosts.get_mut(&meta.src.ip()) {
            h.calls_out += 1;
            h.first_call_ts.get_or_insert(meta.ts);
            h.behaviour.call_started(meta.ts);
        }
        if let Some(h) = self.hosts.get_mut(&meta.dst.ip()) {
            h.calls_in += 1;
            h.first_call_ts.get_or_insert(meta.ts);
            h.behaviour.call_started(meta.ts);
            if h.call_frames.len() < CALL_FRAMES_KEPT {
                h.call_frames.push(meta.frame);
            }
        }
        let from_user = msg.from().and_then(|f| f.uri.user).unwrap_or_default();
        let called = super::links::normalise_number(&String::from_utf8_lossy(uri.user.unwrap_or_default()));
        let calling = (!from_user.is_empty()).then(|| String::from_utf8_lossy(from_user).into_owned());
        let start = crate::detect::score::rfc3339(meta.ts);
        for (ip, direction) in [(meta.dst.ip(), Direction::In), (meta.src.ip(), Direction::Out)] {
            if let Some(h) = self.hosts.get_mut(&ip) {
                let call = CallObservation {
                    called: called.clone(),
                    calling: calling.clone(),
                    start: start.clone(),
                    direction,
                    answered: false,
                };
                if !h.log_call(call) {
                    counters.add(Anomaly::CallLogFull);
                }
            }
        }
        self.new_calls.push(NewCall {
            ts: meta.ts,
            callee: meta.dst.ip(),
            number: text(uri.user.unwrap_or_default()),
            frame: meta.frame,
        });
        self.dialogs.insert(
            call_id.into(),
            Dialog {
                caller: meta.src,
                callee: meta.dst,
                callee_number: text(uri.user.unwrap_or_default()),
                caller_number: text(from_user),
                invite_cseq: cseq,
                setup_ts: meta.ts,
                ring_ts: None,
                answer_ts: None,
                end_ts: None,
                final_code: None,
                ended_by: None,
                last_ts: meta.ts,
                invite_frame: meta.frame,
                finished: false,
            },
        );
    }

    fn end_call(&mut self, msg: &sip::Message<'_>, meta: &MessageMeta, by: Option<Party>) {
        let Some(d) = msg.call_id().and_then(|c| self.dialogs.get_mut(c)) else { return };
        d.last_ts = meta.ts;
        if d.end_ts.is_none() {
            d.end_ts = Some(meta.ts);
            d.ended_by = by;
        }
        if !d.finished {
            d.finished = true;
            account_call(&mut self.hosts, &mut self.changed, &self.numbering, d);
        }
    }

    fn response(&mut self, msg: &sip::Message<'_>, meta: &MessageMeta, code: u16) {
        let Some(d) = msg.call_id().and_then(|c| self.dialogs.get_mut(c)) else { return };
        d.last_ts = meta.ts;
        let Some(cseq) = msg.cseq() else { return };
        if !matches!(cseq.method, Method::Invite) || cseq.seq != d.invite_cseq {
            return;
        }
        match code {
            180 | 183 if d.ring_ts.is_none() => d.ring_ts = Some(meta.ts),
            200..=299 if d.answer_ts.is_none() => {
                d.answer_ts = Some(meta.ts);
                d.final_code = Some(code);
                let (caller, callee) = (d.caller.ip(), d.callee.ip());
                self.totals.calls_answered += 1;
                let start = crate::detect::score::rfc3339(d.setup_ts);
                for ip in [caller, callee] {
                    if let Some(h) = self.hosts.get_mut(&ip) {
                        h.calls_answered += 1;
                        h.call_answered(&start);
                    }
                }
            }
            // A challenge is answered by a new INVITE of the same call: not an end.
            401 | 407 => d.final_code = Some(code),
            300.. if d.answer_ts.is_none() && d.end_ts.is_none() => {
                d.final_code = Some(code);
                d.end_ts = Some(meta.ts);
                if !d.finished {
                    d.finished = true;
                    account_call(&mut self.hosts, &mut self.changed, &self.numbering, d);
                }
            }
            _ => {}
        }
    }

    /// Drop or retire what has been idle too long at capture time `now`.
    pub fn expire(&mut self, now: Micros, counters: &mut Counters) {
        let mut timed_out: Vec<&mut Dialog> = Vec::new();
        let mut gone: Vec<Box<[u8]>> = Vec::new();
        for (id, d) in self.dialogs.iter_mut() {
            let idle = now.saturating_sub(d.last_ts);
            let keep = match (d.end_ts, d.answer_ts) {
                (Some(_), _) => idle < LINGER,
                (None, Some(_)) => idle < CALL_IDLE_TIMEOUT,
                (None, None) => idle < SETUP_TIMEOUT,
            };
            if !keep {
                gone.push(id.clone());
                if !d.finished {
                    timed_out.push(d);
                }
            }
        }
        // Timed out without a BYE or final response: each ended when last heard
        // of. Accounted in time order, not the table's, so results never depend
        // on hashing.
        end_in_time_order(&mut self.hosts, &mut self.changed, &self.numbering, timed_out);
        for id in gone {
            self.dialogs.remove(&id);
        }
        self.bindings.retain(|_, b| {
            let life = u64::from(b.expires.unwrap_or(3600).max(60)) * 2 * SECOND + 60 * SECOND;
            now.saturating_sub(b.last_ts) < life
        });
        let idle: Vec<IpAddr> = self
            .hosts
            .iter()
            .filter(|(_, h)| now.saturating_sub(h.last_ts) >= HOST_IDLE_TIMEOUT)
            .map(|(a, _)| *a)
            .collect();
        for addr in idle {
            if let Some(h) = self.hosts.remove(&addr) {
                if self.retired.len() < MAX_RETIRED {
                    self.retired.push(h);
                } else {
                    counters.add(Anomaly::AddressTableFull);
                }
            }
        }
    }

    /// Account every call still open (the end of the input): each ended when last heard of.
    pub fn finish_all(&mut self) {
        let open: Vec<&mut Dialog> = self.dialogs.values_mut().filter(|d| !d.finished).collect();
        end_in_time_order(&mut self.hosts, &mut self.changed, &self.numbering, open);
    }

    /// The addresses followed now (not those retired after idling).
    pub fn live_hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    /// Every address ever followed, retired records merged into the live ones.
    pub fn into_hosts(mut self) -> Vec<Host> {
        self.finish_all();
        let mut by_addr = self.hosts;
        // Newest first, so each record merged in is older than what it joins.
        for old in self.retired.into_iter().rev() {
            match by_addr.get_mut(&old.addr) {
                Some(h) => h.merge(old),
                None => {
                    by_addr.insert(old.addr, old);
                }
            }
        }
        by_addr.into_values().collect()
    }
}

/// Fold one ended call into the behaviour of its two parties.
/// End calls that were never ended on the wire (each when last heard of) and
/// account them, oldest end first: behaviour figures credit time between
/// consecutive events, so the order must be the calls' and not a hash table's.
fn end_in_time_order(
    hosts: &mut HashMap<IpAddr, Host>,
    changed: &mut Vec<IpAddr>,
    numbering: &Numbering,
    mut dialogs: Vec<&mut Dialog>,
) {
    dialogs.sort_by_key(|d| (d.end_ts.unwrap_or(d.last_ts), d.setup_ts, d.invite_frame.file, d.invite_frame.number));
    for d in dialogs {
        d.end_ts.get_or_insert(d.last_ts);
        d.finished = true;
        account_call(hosts, changed, numbering, d);
    }
}

fn account_call(hosts: &mut HashMap<IpAddr, Host>, changed: &mut Vec<IpAddr>, numbering: &Numbering, d: &Dialog) {
    let end = d.end_ts.unwrap_or(d.last_ts);
    if let Some(h) = hosts.get_mut(&d.callee.ip()) {
        h.behaviour.call_ended(end);
        h.behaviour.terminated.add(&CallFacts {
            setup_ts: d.setup_ts,
            answer_ts: d.answer_ts,
            end_ts: end,
            callee_number: &d.callee_number,
            peer_is_home: numbering.is_home(d.caller.ip()),
            callee_is_domestic_mobile: numbering.is_domestic_mobile(&d.callee_number),
        });
        changed.push(d.callee.ip());
    }
    if let Some(h) = hosts.get_mut(&d.caller.ip()) {
        h.behaviour.call_ended(end);
        h.behaviour.originated += 1;
        changed.push(d.caller.ip());
    }
}
