//! Links between the legs of a relayed call (SPEC 3.4, 4.1 (c)): a SIP call
//! that a gateway received, to dial number N at time t, and the GSM call set
//! up on the cell side to N within a window around t, name the SIM (IMSI)
//! that carried it — and so tie the gateway to that SIM.
//!
//! Each leg is matched at most once. When several candidates fit, the match
//! is counted as ambiguous and not used; confidence grows with matched calls
//! and falls with ambiguity.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::cell::GsmSetup;
use super::host::FrameRef;
use crate::capture::Micros;

/// Default matching window either side (± 10 s).
pub const DEFAULT_WINDOW: Micros = 10_000_000;
/// Legs waiting for their other half, per side.
pub const MAX_PENDING: usize = 100_000;

/// The national significant number of a dialled number: digits only, without
/// an international prefix (`+`, `00`) or China's country code when what
/// remains is an 11-digit mobile number. Both legs are compared in this form.
pub fn normalise_number(n: &str) -> String {
    let mut out = String::with_capacity(n.len());
    duanka_shared::ids::normalise_dialled(n, &mut out);
    out
}

#[derive(Debug, Clone)]
struct SipLeg {
    ts: Micros,
    gateway: IpAddr,
    number: String,
    frame: FrameRef,
}

/// The link between one gateway and one SIM.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// Calls matched one to one.
    pub matched: u64,
    /// Calls where another SIM fitted as well.
    pub ambiguous: u64,
    /// The device seen with the SIM, if any.
    pub imei: Option<String>,
    /// First matched legs: (SIP INVITE frame, GSM Setup frame).
    pub frames: Vec<(FrameRef, FrameRef)>,
}

impl Link {
    /// matched / (matched + ambiguous), damped for few calls: n / (n + 1).
    pub fn confidence(&self) -> f64 {
        duanka_shared::report::call_match_confidence(self.matched, self.ambiguous)
    }
}

/// The matcher.
#[derive(Debug)]
pub struct Linker {
    window: Micros,
    sip: VecDeque<SipLeg>,
    gsm: VecDeque<GsmSetup>,
    /// (gateway, IMSI) → link.
    pub links: HashMap<(IpAddr, String), Link>,
    /// Legs dropped because the pending queues were full.
    pub dropped: u64,
}

impl Default for Linker {
    fn default() -> Self {
        Linker { window: DEFAULT_WINDOW, sip: VecDeque::new(), gsm: VecDeque::new(), links: HashMap::new(), dropped: 0 }
    }
}

impl Linker {
    /// A matcher with a window of `window` either side.
    pub fn with_window(window: Micros) -> Self {
        Linker { window, ..Linker::default() }
    }

    /// A gateway received a SIP call to dial `number`.
    pub fn sip_call(&mut self, ts: Micros, gateway: IpAddr, number: &str, frame: FrameRef) {
        self.expire(ts);
        let number = normalise_number(number);
        if number.is_empty() {
            return;
        }
        let fits: Vec<usize> = self
            .gsm
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                g.imsi.is_some() && normalise_number(&g.called) == number && g.ts.abs_diff(ts) <= self.window
            })
            .map(|(i, _)| i)
            .collect();
        let leg = SipLeg { ts, gateway, number, frame };
        match fits.as_slice() {
            [] => self.push_sip(leg),
            [i] => {
                if let Some(g) = self.gsm.remove(*i) {
                    self.link(&leg, &g, false);
                }
            }
            many => {
                for i in many {
                    if let Some(g) = self.gsm.get(*i).cloned() {
                        self.link(&leg, &g, true);
                    }
                }
            }
        }
    }

    /// The cell side set up a call.
    pub fn gsm_setup(&mut self, setup: GsmSetup) {
        self.expire(setup.ts);
        if setup.imsi.is_none() {
            return;
        }
        let number = normalise_number(&setup.called);
        let fits: Vec<usize> = self
            .sip
            .iter()
            .enumerate()
            .filter(|(_, s)| s.number == number && s.ts.abs_diff(setup.ts) <= self.window)
            .map(|(i, _)| i)
            .collect();
        match fits.as_slice() {
            [] => {
                if self.gsm.len() >= MAX_PENDING {
                    self.dropped += 1;
                    self.gsm.pop_front();
                }
                self.gsm.push_back(setup);
            }
            [i] => {
                if let Some(s) = self.sip.remove(*i) {
                    self.link(&s, &setup, false);
                }
            }
            many => {
                for i in many {
                    if let Some(s) = self.sip.get(*i).cloned() {
                        self.link(&s, &setup, true);
                    }
                }
            }
        }
    }

    fn push_sip(&mut self, leg: SipLeg) {
        if self.sip.len() >= MAX_PENDING {
            self.dropped += 1;
            self.sip.pop_front();
        }
        self.sip.push_back(leg);
    }

    fn link(&mut self, sip: &SipLeg, gsm: &GsmSetup, ambiguous: bool) {
        let Some(imsi) = gsm.imsi.clone() else { return };
        let l = self.links.entry((sip.gateway, imsi)).or_default();
        if ambiguous {
            l.ambiguous += 1;
        } else {
            l.matched += 1;
            if l.frames.len() < super::host::MAX_EVIDENCE_FRAMES {
                l.frames.push((sip.frame, gsm.frame));
            }
        }
        if l.imei.is_none() {
            l.imei = gsm.imei.clone();
        }
    }

    /// Forget legs too old to match anything arriving at `now`.
    pub fn expire(&mut self, now: Micros) {
        let horizon = now.saturating_sub(self.window);
        while self.sip.front().is_some_and(|s| s.ts < horizon) {
            self.sip.pop_front();
        }
        while self.gsm.front().is_some_and(|g| g.ts < horizon) {
            self.gsm.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: u64) -> FrameRef {
        FrameRef { file: 0, number: n }
    }

    fn setup(ts: u64, imsi: &str, called: &str) -> GsmSetup {
        GsmSetup { ts: ts * 1_000_000, imsi: Some(imsi.into()), imei: None, called: called.into(), frame: f(ts) }
    }

    #[test]
    fn numbers_normalise() {
        for (a, b) in [
            ("8613812345678", "13812345678"),
            ("+8613812345678", "13812345678"),
            ("008613812345678", "13812345678"),
            ("13812345678;npdi", "13812345678"),
            ("02112345678", "02112345678"),
        ] {
            assert_eq!(normalise_number(a), b, "{a}");
        }
    }

    #[test]
    fn legs_match_in_either_order_within_the_window() {
        let gw: IpAddr = "192.0.2.10".parse().unwrap();
        let mut l = Linker::default();
        l.sip_call(100_000_000, gw, "8613800000001", f(1));
        l.gsm_setup(setup(103, "460001", "13800000001"));
        l.gsm_setup(setup(200, "460002", "13800000002"));
        l.sip_call(198_000_000, gw, "13800000002", f(2));
        // Out of the window: no link.
        l.sip_call(300_000_000, gw, "13800000003", f(3));
        l.gsm_setup(setup(320, "460003", "13800000003"));
        assert_eq!(l.links.len(), 2);
        assert_eq!(l.links[&(gw, "460001".to_string())].matched, 1);
        assert_eq!(l.links[&(gw, "460002".to_string())].frames, vec![(f(2), f(200))]);
    }

    #[test]
    fn two_sims_dialling_the_same_number_at_once_are_ambiguous() {
        let gw: IpAddr = "192.0.2.10".parse().unwrap();
        let mut l = Linker::default();
        l.gsm_setup(setup(100, "460001", "13800000001"));
        l.gsm_setup(setup(101, "460002", "13800000001"));
        l.sip_call(102_000_000, gw, "13800000001", f(9));
        assert!(l.links.values().all(|k| k.matched == 0 && k.ambiguous == 1));
        assert!(l.links.values().all(|k| k.confidence() == 0.0));
        let mut k = Link { matched: 9, ..Link::default() };
        assert!((k.confidence() - 0.9).abs() < 1e-9);
        k.ambiguous = 9;
        assert!(k.confidence() < 0.5);
    }
}
