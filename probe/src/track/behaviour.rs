//! Per-address call behaviour (SPEC section 3.3), accumulated as calls end so
//! that features can be evaluated at any moment of the capture (online
//! detection). Bounded per address: a ring of recent talk times and a capped
//! set of callee hashes.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use crate::capture::Micros;

/// Answered-call talk times kept per address (the most recent ones).
pub const MAX_DURATIONS: usize = 512;
/// Distinct callees remembered per address; beyond it every callee counts as new.
pub const MAX_CALLEES: usize = 8192;
/// Concurrency levels timed separately; higher ones share the last slot.
pub const MAX_LEVELS: usize = 128;

/// Facts about one ended call, from one party's point of view.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// INVITE time.
    pub setup_ts: Micros,
    /// 2xx time.
    pub answer_ts: Option<Micros>,
    /// End time (BYE, CANCEL, final error or idle timeout).
    pub end_ts: Micros,
    /// The number dialled (Request-URI user part), as sent.
    pub callee_number: &'a str,
    /// Whether the other party's address is in the home networks (None: not configured).
    pub peer_is_home: Option<bool>,
    /// Whether the callee number is a domestic mobile number.
    pub callee_is_domestic_mobile: bool,
}

/// Calls an address terminated (received), the side a SIM box works on.
#[derive(Debug, Clone, Default)]
pub struct Terminated {
    /// Ended calls received.
    pub calls: u64,
    /// Of which answered.
    pub answered: u64,
    /// Recent talk times (answer → end) of answered calls, seconds.
    durations: Vec<f32>,
    next_duration: usize,
    /// Distinct callee numbers (hashed), capped.
    callees: HashSet<u64>,
    /// Callees counted as new after the cap.
    callees_overflow: u64,
    /// Calls whose callee was a domestic mobile number.
    pub domestic_mobile: u64,
    /// Calls from peers outside the home networks (when configured).
    pub from_foreign: u64,
    /// Calls whose peer could be placed (home networks configured).
    pub peer_known: u64,
    /// Sum of call holding times (INVITE → end), microseconds.
    pub busy_us: u64,
    /// First INVITE received.
    pub first_setup: Option<Micros>,
    /// Last call end.
    pub last_end: Option<Micros>,
}

impl Terminated {
    /// Fold in one ended call.
    pub fn add(&mut self, c: &CallFacts<'_>) {
        self.calls += 1;
        if let Some(a) = c.answer_ts {
            self.answered += 1;
            let talk = c.end_ts.saturating_sub(a) as f32 / 1e6;
            if self.durations.len() < MAX_DURATIONS {
                self.durations.push(talk);
            } else {
                self.durations[self.next_duration] = talk;
                self.next_duration = (self.next_duration + 1) % MAX_DURATIONS;
            }
        }
        let mut h = DefaultHasher::new();
        c.callee_number.hash(&mut h);
        let key = h.finish();
        if self.callees.len() < MAX_CALLEES {
            self.callees.insert(key);
        } else if !self.callees.contains(&key) {
            self.callees_overflow += 1;
        }
        self.domestic_mobile += u64::from(c.callee_is_domestic_mobile);
        if let Some(home) = c.peer_is_home {
            self.peer_known += 1;
            self.from_foreign += u64::from(!home);
        }
        self.busy_us += c.end_ts.saturating_sub(c.setup_ts);
        self.first_setup = Some(self.first_setup.map_or(c.setup_ts, |f| f.min(c.setup_ts)));
        self.last_end = Some(self.last_end.map_or(c.end_ts, |l| l.max(c.end_ts)));
    }

    /// Distinct callee numbers seen.
    pub fn distinct_callees(&self) -> u64 {
        self.callees.len() as u64 + self.callees_overflow
    }

    /// Median talk time of recent answered calls, seconds.
    pub fn median_talk_s(&self) -> Option<f64> {
        if self.durations.is_empty() {
            return None;
        }
        let mut d = self.durations.clone();
        d.sort_unstable_by(f32::total_cmp);
        Some(f64::from(d[d.len() / 2]))
    }

    /// Mean talk time of recent answered calls, seconds.
    pub fn mean_talk_s(&self) -> Option<f64> {
        (!self.durations.is_empty())
            .then(|| self.durations.iter().map(|d| f64::from(*d)).sum::<f64>() / self.durations.len() as f64)
    }

    /// Share of recent answered calls shorter than `limit_s`.
    pub fn short_share(&self, limit_s: f64) -> Option<f64> {
        (!self.durations.is_empty()).then(|| {
            self.durations.iter().filter(|d| f64::from(**d) < limit_s).count() as f64 / self.durations.len() as f64
        })
    }
}

/// Everything behavioural about one address.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Calls it received.
    pub terminated: Terminated,
    /// Ended calls it placed.
    pub originated: u64,
    /// Calls in progress now (either direction).
    pub active: u32,
    /// Most calls it had in progress at once.
    pub peak_active: u32,
    /// Time spent (µs) with exactly N calls in progress, N >= 1 (index N).
    levels: Vec<u64>,
    /// When `active` last changed.
    last_change: Micros,
}

impl Behaviour {
    /// A call involving this address started at `ts`.
    pub fn call_started(&mut self, ts: Micros) {
        self.account_time(ts);
        self.active += 1;
        self.peak_active = self.peak_active.max(self.active);
    }

    /// A call involving this address ended at `ts`.
    pub fn call_ended(&mut self, ts: Micros) {
        self.account_time(ts);
        self.active = self.active.saturating_sub(1);
    }

    /// Credit the time since the last change to the current concurrency level.
    fn account_time(&mut self, ts: Micros) {
        // Calls that time out are ended late, at their last message: never go back.
        let now = ts.max(self.last_change);
        if self.active > 0 {
            let level = (self.active as usize).min(MAX_LEVELS - 1);
            if self.levels.len() <= level {
                self.levels.resize(level + 1, 0);
            }
            self.levels[level] += now - self.last_change;
        }
        self.last_change = now;
    }

    /// The concurrency the address works at: the highest level that holds at
    /// least `min_share` of its busy time (a momentary overlap of two calls
    /// does not count), and the share of busy time spent at that level or one
    /// below it. None before any busy time.
    pub fn saturation(&self, min_share: f64) -> Option<(u32, f64)> {
        let busy: u64 = self.levels.iter().sum();
        if busy == 0 {
            return None;
        }
        let cap = self.levels.iter().rposition(|t| *t as f64 >= busy as f64 * min_share)?;
        let near: u64 = self.levels[cap.saturating_sub(1).max(1)..=cap].iter().sum();
        Some((cap as u32, near as f64 / busy as f64))
    }

    /// Merge an older record of the same address.
    pub fn merge(&mut self, older: &Behaviour) {
        let t = &mut self.terminated;
        let o = &older.terminated;
        t.calls += o.calls;
        t.answered += o.answered;
        for d in &o.durations {
            if t.durations.len() < MAX_DURATIONS {
                t.durations.push(*d);
            }
        }
        for c in &o.callees {
            if t.callees.len() < MAX_CALLEES {
                t.callees.insert(*c);
            }
        }
        t.callees_overflow += o.callees_overflow;
        t.domestic_mobile += o.domestic_mobile;
        t.from_foreign += o.from_foreign;
        t.peer_known += o.peer_known;
        t.busy_us += o.busy_us;
        t.first_setup = match (t.first_setup, o.first_setup) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        t.last_end = t.last_end.max(o.last_end);
        self.originated += older.originated;
        self.peak_active = self.peak_active.max(older.peak_active);
        if self.levels.len() < older.levels.len() {
            self.levels.resize(older.levels.len(), 0);
        }
        for (mine, theirs) in self.levels.iter_mut().zip(&older.levels) {
            *mine += theirs;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(setup: u64, answer: Option<u64>, end: u64, callee: &str) -> CallFacts<'_> {
        CallFacts {
            setup_ts: setup * 1_000_000,
            answer_ts: answer.map(|a| a * 1_000_000),
            end_ts: end * 1_000_000,
            callee_number: callee,
            peer_is_home: Some(false),
            callee_is_domestic_mobile: true,
        }
    }

    #[test]
    fn terminated_statistics() {
        let mut t = Terminated::default();
        t.add(&call(0, Some(5), 35, "13800000001"));
        t.add(&call(40, None, 50, "13800000002"));
        t.add(&call(60, Some(62), 162, "13800000002"));
        assert_eq!((t.calls, t.answered, t.distinct_callees()), (3, 2, 2));
        assert_eq!(t.median_talk_s(), Some(100.0));
        assert_eq!(t.mean_talk_s(), Some(65.0));
        assert_eq!(t.short_share(60.0), Some(0.5));
        assert_eq!(t.busy_us, (35 + 10 + 102) * 1_000_000);
        assert_eq!((t.first_setup, t.last_end), (Some(0), Some(162_000_000)));
        assert_eq!((t.from_foreign, t.peer_known), (3, 3));
    }

    #[test]
    fn duration_ring_is_bounded() {
        let mut t = Terminated::default();
        for i in 0..(MAX_DURATIONS as u64 + 100) {
            t.add(&call(i * 100, Some(i * 100), i * 100 + 10, "x"));
        }
        assert_eq!(t.durations.len(), MAX_DURATIONS);
    }

    #[test]
    fn concurrency_peak_and_saturation() {
        let mut b = Behaviour::default();
        let s = 1_000_000;
        b.call_started(0);
        b.call_started(10 * s);
        b.call_ended(90 * s);
        b.call_started(91 * s);
        // A momentary third call.
        b.call_started(95 * s);
        b.call_ended(95 * s + 1000);
        b.call_ended(100 * s);
        b.call_ended(100 * s);
        b.call_ended(200 * s);
        assert_eq!((b.active, b.peak_active), (0, 3));
        // 10 s at one call, 80 s at two, 1 s at one, 9 s at two, 100 s ended.
        let (cap, share) = b.saturation(0.05).unwrap();
        assert_eq!(cap, 2, "the momentary third call is not the working level");
        assert!((share - 1.0).abs() < 1e-4, "{share}");
        assert_eq!(Behaviour::default().saturation(0.05), None);

        // Load that wanders from one to five calls spends little time at its top.
        let mut w = Behaviour::default();
        for step in 0..5u64 {
            w.call_started(step * 10 * s);
        }
        for step in 5..10u64 {
            w.call_ended(step * 10 * s);
        }
        let (cap, share) = w.saturation(0.05).unwrap();
        assert_eq!(cap, 5);
        assert!((share - 1.0 / 3.0).abs() < 1e-9, "10 s at five calls and 20 s at four, of 90 s busy: {share}");
    }
}
