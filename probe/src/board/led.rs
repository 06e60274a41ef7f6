//! The status LED (SPEC 4.1 "Board": capturing / uplink down / alarm patterns).
//!
//! [`Led`] drives one [`OutputPin`]. What it shows is a [`Pattern`] chosen
//! from the probe's [`BoardStatus`], and the pin level is a pure function of
//! the pattern and the milliseconds since the pattern began
//! ([`Pattern::level`]), so a test can say exactly which level the pin has at
//! which millisecond. [`Led::tick`] only writes the pin when that level
//! changes: a caller may tick as often as it likes.
//!
//! Patterns, highest priority first (while the probe is capturing):
//!
//! | status                         | pattern                  |
//! |--------------------------------|--------------------------|
//! | enclosure open (tamper switch) | [`Pattern::Alarm`] (two flashes a second), whether capturing or not |
//! | a detection not yet acknowledged | [`Pattern::Solid`]     |
//! | uplink to the agent down       | [`Pattern::FastBlink`] (5 Hz) |
//! | capturing, all well            | [`Pattern::Heartbeat`] (a short blink every 2 s) |
//! | stopped (not capturing)        | [`Pattern::Off`]         |

use embedded_hal::digital::OutputPin;

use super::ActiveLevel;

/// Period of [`Pattern::Heartbeat`], ms.
pub const HEARTBEAT_PERIOD_MS: u64 = 2_000;
/// How long the LED is lit in each heartbeat period, ms.
pub const HEARTBEAT_ON_MS: u64 = 100;
/// Period of [`Pattern::FastBlink`], ms (5 Hz).
pub const FAST_BLINK_PERIOD_MS: u64 = 200;
/// How long the LED is lit in each fast-blink period, ms.
pub const FAST_BLINK_ON_MS: u64 = 100;
/// Period of [`Pattern::Alarm`], ms: two [`ALARM_FLASH_MS`] flashes, then dark.
pub const ALARM_PERIOD_MS: u64 = 1_000;
/// Length of each flash of [`Pattern::Alarm`] and of the gap between the two, ms.
pub const ALARM_FLASH_MS: u64 = 100;

/// Errors of the LED driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E> {
    /// The pin could not be written.
    #[error("status LED pin: {0:?}")]
    Bus(E),
}

/// What the probe is doing, as far as the LED is concerned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BoardStatus {
    /// The probe is capturing traffic.
    pub capturing: bool,
    /// The uplink to the agent works.
    pub uplink_up: bool,
    /// A detection was made that nobody has acknowledged yet.
    pub unacknowledged_detection: bool,
    /// The tamper switch says the enclosure is open.
    pub tamper_open: bool,
}

/// A blink pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Dark.
    Off,
    /// A [`HEARTBEAT_ON_MS`] blink every [`HEARTBEAT_PERIOD_MS`].
    Heartbeat,
    /// [`FAST_BLINK_ON_MS`] on in every [`FAST_BLINK_PERIOD_MS`].
    FastBlink,
    /// Lit.
    Solid,
    /// Two [`ALARM_FLASH_MS`] flashes every [`ALARM_PERIOD_MS`]: the enclosure is open.
    Alarm,
}

impl Pattern {
    /// The pattern for a status (priorities in the module docs).
    pub fn for_status(status: BoardStatus) -> Pattern {
        if status.tamper_open {
            Pattern::Alarm
        } else if !status.capturing {
            // A stopped probe shows nothing: whatever it showed is no longer current.
            Pattern::Off
        } else if status.unacknowledged_detection {
            Pattern::Solid
        } else if !status.uplink_up {
            Pattern::FastBlink
        } else {
            Pattern::Heartbeat
        }
    }

    /// Whether the LED is lit `elapsed_ms` after the pattern began.
    ///
    /// Blinking patterns start lit, so a change of pattern shows at once.
    pub fn level(self, elapsed_ms: u64) -> bool {
        match self {
            Pattern::Off => false,
            Pattern::Solid => true,
            Pattern::Heartbeat => elapsed_ms % HEARTBEAT_PERIOD_MS < HEARTBEAT_ON_MS,
            Pattern::FastBlink => elapsed_ms % FAST_BLINK_PERIOD_MS < FAST_BLINK_ON_MS,
            Pattern::Alarm => {
                let phase = elapsed_ms % ALARM_PERIOD_MS;
                phase < ALARM_FLASH_MS || (2 * ALARM_FLASH_MS..3 * ALARM_FLASH_MS).contains(&phase)
            }
        }
    }
}

/// The status LED on one output pin.
#[derive(Debug)]
pub struct Led<P> {
    pin: P,
    lit_level: ActiveLevel,
    status: BoardStatus,
    /// The pattern on show and the time it began.
    shown: Option<(Pattern, u64)>,
    /// Last level written to the pin (`true` = lit); `None` before the first write.
    written: Option<bool>,
}

impl<P: OutputPin> Led<P> {
    /// A LED lit when the pin is high, showing [`Pattern::Off`] until told otherwise.
    ///
    /// Nothing is written until the first [`Led::tick`].
    pub fn new(pin: P) -> Self {
        Led { pin, lit_level: ActiveLevel::High, status: BoardStatus::default(), shown: None, written: None }
    }

    /// Sets the pin level that lights the LED (boards that sink the LED current use [`ActiveLevel::Low`]).
    pub fn with_lit_level(mut self, level: ActiveLevel) -> Self {
        self.lit_level = level;
        self
    }

    /// Tells the LED what the probe is doing; shown from the next [`Led::tick`].
    pub fn set_state(&mut self, status: BoardStatus) {
        self.status = status;
    }

    /// The status last set (with an acknowledged detection cleared).
    pub fn status(&self) -> BoardStatus {
        self.status
    }

    /// Someone has seen the detection: drop back to the lower-priority pattern.
    ///
    /// A later [`Led::set_state`] with `unacknowledged_detection` set shows a
    /// detection again: the caller owns that flag.
    pub fn acknowledge(&mut self) {
        self.status.unacknowledged_detection = false;
    }

    /// The pattern the current status calls for.
    pub fn pattern(&self) -> Pattern {
        Pattern::for_status(self.status)
    }

    /// Whether the LED is lit, as last written to the pin.
    pub fn is_lit(&self) -> bool {
        self.written == Some(true)
    }

    /// Brings the pin up to date for time `now_ms` (any monotonic millisecond clock).
    ///
    /// The pin is written on the first tick and then only when its level
    /// changes. A new pattern starts its phase at `now_ms`. After a failed
    /// write the next tick tries again.
    pub fn tick(&mut self, now_ms: u64) -> Result<(), Error<P::Error>> {
        let pattern = self.pattern();
        let since = match self.shown {
            Some((shown, since)) if shown == pattern => since,
            _ => {
                self.shown = Some((pattern, now_ms));
                now_ms
            }
        };
        // A clock that steps back must not make the phase wrap to a huge value.
        let lit = pattern.level(now_ms.saturating_sub(since));
        if self.written == Some(lit) {
            return Ok(());
        }
        let high = lit == (self.lit_level == ActiveLevel::High);
        let result = if high { self.pin.set_high() } else { self.pin.set_low() };
        result.map_err(Error::Bus)?;
        self.written = Some(lit);
        Ok(())
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

    fn status(capturing: bool, uplink_up: bool, unacknowledged_detection: bool) -> BoardStatus {
        BoardStatus { capturing, uplink_up, unacknowledged_detection, tamper_open: false }
    }

    #[test]
    fn pattern_priorities() {
        let table = [
            (status(false, false, false), Pattern::Off),
            (status(false, true, true), Pattern::Off),
            (status(true, true, false), Pattern::Heartbeat),
            (status(true, false, false), Pattern::FastBlink),
            (status(true, false, true), Pattern::Solid),
            (status(true, true, true), Pattern::Solid),
            (BoardStatus { tamper_open: true, ..status(true, true, true) }, Pattern::Alarm),
            (BoardStatus { tamper_open: true, ..status(false, false, false) }, Pattern::Alarm),
        ];
        for (s, want) in table {
            assert_eq!(Pattern::for_status(s), want, "{s:?}");
        }
    }

    #[test]
    fn pattern_levels_by_millisecond() {
        let table = [
            (Pattern::Heartbeat, 0, true),
            (Pattern::Heartbeat, 99, true),
            (Pattern::Heartbeat, 100, false),
            (Pattern::Heartbeat, 1_999, false),
            (Pattern::Heartbeat, 2_000, true),
            (Pattern::Heartbeat, 2_100, false),
            (Pattern::Alarm, 0, true),
            (Pattern::Alarm, 99, true),
            (Pattern::Alarm, 100, false),
            (Pattern::Alarm, 200, true),
            (Pattern::Alarm, 299, true),
            (Pattern::Alarm, 300, false),
            (Pattern::Alarm, 999, false),
            (Pattern::Alarm, 1_000, true),
            (Pattern::FastBlink, 0, true),
            (Pattern::FastBlink, 99, true),
            (Pattern::FastBlink, 100, false),
            (Pattern::FastBlink, 199, false),
            (Pattern::FastBlink, 200, true),
            (Pattern::FastBlink, 1_000, true),
            (Pattern::Solid, 0, true),
            (Pattern::Solid, 123_456, true),
            (Pattern::Off, 0, false),
            (Pattern::Off, 50, false),
        ];
        for (p, ms, lit) in table {
            assert_eq!(p.level(ms), lit, "{p:?} at {ms} ms");
        }
    }

    #[test]
    fn heartbeat_writes_only_on_change() {
        let mut pin = PinMock::new(&[
            T::set(State::High), // t=1000: heartbeat begins lit
            T::set(State::Low),  // t=1100
            T::set(State::High), // t=3000
            T::set(State::Low),  // t=3100
        ]);
        let mut led = Led::new(pin.clone());
        led.set_state(status(true, true, false));
        for t in [1_000, 1_001, 1_050, 1_099] {
            led.tick(t).unwrap();
            assert!(led.is_lit(), "lit at {t}");
        }
        for t in [1_100, 1_500, 2_999] {
            led.tick(t).unwrap();
            assert!(!led.is_lit(), "dark at {t}");
        }
        for t in [3_000, 3_099, 3_100, 3_200] {
            led.tick(t).unwrap();
        }
        assert!(!led.is_lit());
        led.release();
        pin.done();
    }

    #[test]
    fn fast_blink_at_five_hertz() {
        // One second of 5 Hz blinking ticked every 10 ms: 5 rising and 5 falling edges.
        let mut expected = Vec::new();
        for _ in 0..5 {
            expected.push(T::set(State::High));
            expected.push(T::set(State::Low));
        }
        let mut pin = PinMock::new(&expected);
        let mut led = Led::new(pin.clone());
        led.set_state(status(true, false, false));
        for t in (0..1_000).step_by(10) {
            led.tick(t).unwrap();
        }
        assert_eq!(led.pattern(), Pattern::FastBlink);
        led.release();
        pin.done();
    }

    #[test]
    fn detection_is_solid_until_acknowledged() {
        let mut pin = PinMock::new(&[
            T::set(State::High), // t=0 heartbeat lit
            T::set(State::Low),  // t=100 heartbeat dark
            T::set(State::High), // t=500 detection: solid
            T::set(State::Low),  // t=5100 acknowledged at 5000: heartbeat, dark after its blink
        ]);
        let mut led = Led::new(pin.clone());
        led.set_state(status(true, true, false));
        led.tick(0).unwrap();
        led.tick(100).unwrap();
        led.set_state(status(true, true, true));
        for t in (500..5_000).step_by(50) {
            led.tick(t).unwrap();
            assert!(led.is_lit(), "solid at {t}");
        }
        led.acknowledge();
        assert!(!led.status().unacknowledged_detection);
        // The heartbeat restarts its phase lit, and the LED was already lit: no write.
        led.tick(5_000).unwrap();
        assert!(led.is_lit());
        led.tick(5_100).unwrap();
        assert!(!led.is_lit());
        led.release();
        pin.done();
    }

    #[test]
    fn detection_outranks_uplink_down() {
        let mut pin = PinMock::new(&[T::set(State::High)]);
        let mut led = Led::new(pin.clone());
        led.set_state(status(true, false, true));
        // A fast blink would go dark at 100 ms; solid stays lit.
        for t in [0, 100, 150, 250, 1_000] {
            led.tick(t).unwrap();
        }
        assert_eq!(led.pattern(), Pattern::Solid);
        led.release();
        pin.done();
    }

    #[test]
    fn stopped_is_off_and_first_tick_writes() {
        let mut pin = PinMock::new(&[T::set(State::Low)]);
        let mut led = Led::new(pin.clone());
        for t in [0, 1_000, 60_000] {
            led.tick(t).unwrap();
        }
        assert!(!led.is_lit());
        led.release();
        pin.done();
    }

    #[test]
    fn active_low_led_inverts_the_pin() {
        let mut pin = PinMock::new(&[T::set(State::Low), T::set(State::High)]);
        let mut led = Led::new(pin.clone()).with_lit_level(ActiveLevel::Low);
        led.set_state(status(true, true, false));
        led.tick(0).unwrap(); // lit: pin low
        led.tick(100).unwrap(); // dark: pin high
        led.release();
        pin.done();
    }

    #[test]
    fn failed_write_is_retried_on_next_tick() {
        let err = MockError::Io(std::io::ErrorKind::BrokenPipe);
        let mut pin = PinMock::new(&[T::set(State::High).with_error(err.clone()), T::set(State::High)]);
        let mut led = Led::new(pin.clone());
        led.set_state(status(true, true, true));
        assert_eq!(led.tick(0), Err(Error::Bus(err)));
        assert!(!led.is_lit());
        led.tick(10).unwrap();
        assert!(led.is_lit());
        led.release();
        pin.done();
    }

    #[test]
    fn clock_stepping_back_does_not_panic_or_flicker() {
        let mut pin = PinMock::new(&[T::set(State::High)]);
        let mut led = Led::new(pin.clone());
        led.set_state(status(true, false, false));
        led.tick(1_000).unwrap();
        led.tick(900).unwrap(); // saturates to elapsed 0: still lit
        led.release();
        pin.done();
    }
}
