//! The enclosure's tamper switch (SPEC 4.1 "Board": enclosure opened → alarm event).
//!
//! [`Tamper`] reads one [`InputPin`] each [`Tamper::poll`]. A mechanical
//! switch bounces, so a new level counts only once it has held for
//! [`DEBOUNCE_MS`]; each debounced change yields a [`TamperEvent`] carrying
//! the [`Alarm`] the probe reports (`kind` [`ALARM_KIND`], detail
//! [`DETAIL_OPENED`] or [`DETAIL_CLOSED`]).
//!
//! The switch's active level (the level that means "open") is configurable:
//! a switch that closes to ground with a pull-up reads high when the lid
//! comes off ([`ActiveLevel::High`]); a normally-open switch pulled low by the
//! lid reads low ([`ActiveLevel::Low`]).
//!
//! At start-up the state is unknown. The first debounced reading sets it and
//! raises an alarm only if the enclosure is already open: a closed box at
//! boot is the normal case, not news.
//!
//! Times are milliseconds of any monotonic clock the caller uses.

use duanka_shared::events::Alarm;
use embedded_hal::digital::InputPin;

use super::ActiveLevel;

/// How long a new switch level must hold before it counts, ms.
pub const DEBOUNCE_MS: u64 = 50;
/// [`Alarm::kind`] of tamper alarms.
pub const ALARM_KIND: &str = "tamper";
/// [`Alarm::detail`] when the enclosure opens.
pub const DETAIL_OPENED: &str = "enclosure opened";
/// [`Alarm::detail`] when the enclosure closes again.
pub const DETAIL_CLOSED: &str = "enclosure closed";

/// Errors of the tamper driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E> {
    /// The pin could not be read.
    #[error("tamper switch pin: {0:?}")]
    Bus(E),
}

/// The enclosure, as the switch tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TamperState {
    /// Lid on.
    Closed,
    /// Lid off.
    Open,
}

/// A debounced change of the switch.
#[derive(Debug, Clone, PartialEq)]
pub struct TamperEvent {
    /// When the new level began (the first reading of it), ms.
    pub at_ms: u64,
    /// The new state.
    pub state: TamperState,
    /// The alarm to report.
    pub alarm: Alarm,
}

impl TamperEvent {
    fn new(at_ms: u64, state: TamperState) -> Self {
        let detail = match state {
            TamperState::Open => DETAIL_OPENED,
            TamperState::Closed => DETAIL_CLOSED,
        };
        TamperEvent { at_ms, state, alarm: Alarm { kind: ALARM_KIND.to_string(), detail: detail.to_string() } }
    }
}

/// A debounced tamper switch on one input pin.
#[derive(Debug)]
pub struct Tamper<P> {
    pin: P,
    open_level: ActiveLevel,
    /// The level last read and when it was first read.
    candidate: Option<(TamperState, u64)>,
    /// The debounced state; `None` until the first reading has held.
    stable: Option<TamperState>,
}

impl<P: InputPin> Tamper<P> {
    /// A switch that reads `open_level` when the enclosure is open.
    pub fn new(pin: P, open_level: ActiveLevel) -> Self {
        Tamper { pin, open_level, candidate: None, stable: None }
    }

    /// The debounced state; `None` before the first reading has held for [`DEBOUNCE_MS`].
    pub fn state(&self) -> Option<TamperState> {
        self.stable
    }

    /// Whether the enclosure is known to be open.
    pub fn is_open(&self) -> bool {
        self.stable == Some(TamperState::Open)
    }

    /// Reads the switch once at `now_ms`; returns an event when a new level has held for [`DEBOUNCE_MS`].
    ///
    /// Poll more often than [`DEBOUNCE_MS`] (every 10 ms is plenty) so a
    /// bounce is seen as one.
    pub fn poll(&mut self, now_ms: u64) -> Result<Option<TamperEvent>, Error<P::Error>> {
        let high = self.pin.is_high().map_err(Error::Bus)?;
        let state =
            if high == (self.open_level == ActiveLevel::High) { TamperState::Open } else { TamperState::Closed };
        let (candidate, since) = match self.candidate {
            Some((c, since)) if c == state => (c, since),
            _ => {
                self.candidate = Some((state, now_ms));
                (state, now_ms)
            }
        };
        if self.stable == Some(candidate) || now_ms.saturating_sub(since) < DEBOUNCE_MS {
            return Ok(None);
        }
        let first = self.stable.is_none();
        self.stable = Some(candidate);
        if first && candidate == TamperState::Closed {
            return Ok(None);
        }
        Ok(Some(TamperEvent::new(since, candidate)))
    }

    /// Hands the pin back.
    pub fn release(self) -> P {
        self.pin
    }
}

#[cfg(test)]
mod tests {
    use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as T};
    use embedded_hal_mock::eh1::MockError;

    use super::*;

    /// Polls `tamper` at each `(time, level)` — the mock pin must expect the same levels.
    fn run<P: InputPin>(tamper: &mut Tamper<P>, steps: &[(u64, State)]) -> Vec<TamperEvent>
    where
        P::Error: std::fmt::Debug,
    {
        steps.iter().filter_map(|&(t, _)| tamper.poll(t).unwrap()).collect()
    }

    fn pin_for(steps: &[(u64, State)]) -> PinMock {
        let expected: Vec<T> = steps.iter().map(|&(_, s)| T::get(s)).collect();
        PinMock::new(&expected)
    }

    #[test]
    fn opening_after_a_closed_start_raises_one_alarm() {
        use State::{High, Low};
        // Active high: low = closed.
        let steps = [
            (0, Low),
            (10, Low),
            (50, Low), // closed settles: no event for a closed start
            (100, High),
            (110, High),
            (149, High), // 49 ms: not yet
            (150, High), // 50 ms: opened, dated at 100
            (160, High),
            (500, High),
        ];
        let mut pin = pin_for(&steps);
        let mut tamper = Tamper::new(pin.clone(), ActiveLevel::High);
        let events = run(&mut tamper, &steps);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].at_ms, 100);
        assert_eq!(events[0].state, TamperState::Open);
        assert_eq!(events[0].alarm, Alarm { kind: "tamper".into(), detail: "enclosure opened".into() });
        assert!(tamper.is_open());
        tamper.release();
        pin.done();
    }

    /// Polls every 10 ms from 0 to `end_ms`, the pin high during the given spans.
    fn every_10ms(end_ms: u64, high: &[(u64, u64)]) -> Vec<(u64, State)> {
        (0..=end_ms)
            .step_by(10)
            .map(|t| (t, if high.iter().any(|&(a, b)| (a..b).contains(&t)) { State::High } else { State::Low }))
            .collect()
    }

    #[test]
    fn bounces_shorter_than_debounce_are_ignored() {
        // Closed (low) throughout but for bounces of 10, 20 and 40 ms, polled every 10 ms.
        let steps = every_10ms(1_000, &[(100, 110), (200, 220), (300, 340)]);
        let mut pin = pin_for(&steps);
        let mut tamper = Tamper::new(pin.clone(), ActiveLevel::High);
        let events = run(&mut tamper, &steps);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(tamper.state(), Some(TamperState::Closed));
        tamper.release();
        pin.done();
    }

    #[test]
    fn a_level_held_for_the_debounce_counts() {
        // High from 300 to 350: read high at 300…340, only 40 ms as polled, so
        // no event. High from 500 on: 50 ms held at 550.
        let steps = every_10ms(600, &[(300, 350), (500, 10_000)]);
        let mut pin = pin_for(&steps);
        let mut tamper = Tamper::new(pin.clone(), ActiveLevel::High);
        let events: Vec<(u64, TamperState)> =
            steps.iter().filter_map(|&(t, _)| tamper.poll(t).unwrap().map(|e| (t, e.state))).collect();
        assert_eq!(events, vec![(550, TamperState::Open)]);
        tamper.release();
        pin.done();
    }

    #[test]
    fn open_then_close_gives_two_alarms() {
        use State::{High, Low};
        // Active low: low = open.
        let steps = [
            (0, High),
            (50, High), // closed
            (1_000, Low),
            (1_020, High), // bounce while opening
            (1_030, Low),
            (1_080, Low), // opened at 1030
            (5_000, High),
            (5_060, High), // closed at 5000
        ];
        let mut pin = pin_for(&steps);
        let mut tamper = Tamper::new(pin.clone(), ActiveLevel::Low);
        let events = run(&mut tamper, &steps);
        let got: Vec<(u64, TamperState, &str)> =
            events.iter().map(|e| (e.at_ms, e.state, e.alarm.detail.as_str())).collect();
        assert_eq!(
            got,
            vec![(1_030, TamperState::Open, "enclosure opened"), (5_000, TamperState::Closed, "enclosure closed"),]
        );
        assert!(events.iter().all(|e| e.alarm.kind == "tamper"));
        tamper.release();
        pin.done();
    }

    #[test]
    fn already_open_at_start_raises_an_alarm() {
        use State::High;
        let steps = [(0, High), (20, High), (50, High), (100, High)];
        let mut pin = pin_for(&steps);
        let mut tamper = Tamper::new(pin.clone(), ActiveLevel::High);
        assert_eq!(tamper.state(), None);
        let events = run(&mut tamper, &steps);
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].at_ms, events[0].state), (0, TamperState::Open));
        tamper.release();
        pin.done();
    }

    #[test]
    fn unknown_until_the_first_reading_holds() {
        use State::Low;
        let steps = [(0, Low), (49, Low)];
        let mut pin = pin_for(&steps);
        let mut tamper = Tamper::new(pin.clone(), ActiveLevel::High);
        assert!(run(&mut tamper, &steps).is_empty());
        assert_eq!(tamper.state(), None);
        tamper.release();
        pin.done();
    }

    #[test]
    fn read_error_is_a_bus_error_and_keeps_state() {
        let err = MockError::Io(std::io::ErrorKind::NotConnected);
        let mut pin =
            PinMock::new(&[T::get(State::Low), T::get(State::Low), T::get(State::High).with_error(err.clone())]);
        let mut tamper = Tamper::new(pin.clone(), ActiveLevel::High);
        assert_eq!(tamper.poll(0), Ok(None));
        assert_eq!(tamper.poll(50), Ok(None));
        assert_eq!(tamper.poll(60), Err(Error::Bus(err)));
        assert_eq!(tamper.state(), Some(TamperState::Closed));
        tamper.release();
        pin.done();
    }
}
