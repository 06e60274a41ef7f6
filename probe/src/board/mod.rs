//! The probe's edge hardware (SPEC 4.1 "Board"): status LED, tamper switch
//! and the cellular modem's engineering view of the probe's own cell.
//!
//! Drivers are generic over embedded-hal 1.0 and embedded-io 0.6 traits and
//! hand their bus back with `release(self)`:
//!
//! - [`led`]: [`Led`] on an `OutputPin`; the blink pattern is a pure function
//!   of the [`BoardStatus`] and time.
//! - [`tamper`]: [`Tamper`] on an `InputPin`; debounced, yields the tamper
//!   [`Alarm`](duanka_shared::events::Alarm).
//! - [`modem`]: [`Modem`] on an `embedded_io::{Read, Write}` stream, timed by a
//!   [`Clock`]; yields [`OwnCell`].
//! - [`serial`]: [`NbSerial`], an embedded-hal-nb serial port as embedded-io.
//! - `linux` (feature `linux-board`, on by default): opens the real GPIO
//!   lines and tty with linux-embedded-hal. Only that file names
//!   linux-embedded-hal types.
//! - [`files`]: GPIO lines as files, the simulated pins of the virtual board
//!   (`[board] gpio = "files"`) on machines with no GPIO.
//!
//! [`Board`] holds the three as `Option`s: a probe on a plain server has no
//! board at all, a small board may lack a part. It drives the LED and the
//! tamper switch from one [`Board::tick`], reports the health string the
//! heartbeat carries ([`BoardHealth`]), and keeps hardware faults as
//! [`Fault`]s instead of stopping the probe: a broken LED must not end a capture.

pub mod files;
pub mod led;
#[cfg(feature = "linux-board")]
pub mod linux;
pub mod modem;
pub mod serial;
pub mod tamper;

use std::fmt;
use std::time::Instant;

use duanka_shared::events::OwnCell;
use embedded_hal::digital::{InputPin, OutputPin};

pub use led::{BoardStatus, Led, Pattern};
pub use modem::{Identity, Modem, ModemConfig};
pub use serial::NbSerial;
pub use tamper::{Tamper, TamperEvent, TamperState};

/// Which pin level means "active" (LED lit, enclosure open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActiveLevel {
    /// Active when high.
    High,
    /// Active when low.
    Low,
}

/// A monotonic millisecond clock.
pub trait Clock {
    /// Milliseconds since some fixed start; never decreasing.
    fn now_ms(&self) -> u64;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}

/// [`Clock`] on the operating system's monotonic clock, counting from its creation.
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    start: Instant,
}

impl StdClock {
    /// A clock reading 0 now.
    pub fn new() -> Self {
        StdClock { start: Instant::now() }
    }
}

impl Default for StdClock {
    fn default() -> Self {
        StdClock::new()
    }
}

impl Clock for StdClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A part of the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The status LED.
    Led,
    /// The tamper switch.
    Tamper,
    /// The modem.
    Modem,
}

impl Part {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Led => "led",
            Part::Tamper => "tamper",
            Part::Modem => "modem",
        }
    }

    fn index(self) -> usize {
        match self {
            Part::Led => 0,
            Part::Tamper => 1,
            Part::Modem => 2,
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last failure of a part, kept until the part works again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Which part.
    pub part: Part,
    /// When it failed (the caller's clock), ms.
    pub at_ms: u64,
    /// What went wrong.
    pub message: String,
}

/// The board's state in one word, as the heartbeat's `board` field carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoardHealth {
    /// No board.
    None,
    /// All present parts work.
    Ok,
    /// The enclosure is open (outranks faults).
    Tamper,
    /// A part is failing.
    Error,
}

impl BoardHealth {
    /// `none`, `ok`, `tamper`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            BoardHealth::None => "none",
            BoardHealth::Ok => "ok",
            BoardHealth::Tamper => "tamper",
            BoardHealth::Error => "error",
        }
    }
}

impl fmt::Display for BoardHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The probe's hardware: each part optional.
#[derive(Debug)]
pub struct Board<L, T, M> {
    led: Option<L>,
    tamper: Option<T>,
    modem: Option<M>,
    faults: [Option<Fault>; 3],
}

impl<L, T, M> Default for Board<L, T, M> {
    fn default() -> Self {
        Board::none()
    }
}

impl<L, T, M> Board<L, T, M> {
    /// A board with the given parts.
    pub fn new(led: Option<L>, tamper: Option<T>, modem: Option<M>) -> Self {
        Board { led, tamper, modem, faults: [None, None, None] }
    }

    /// No board (a probe on a plain server).
    pub fn none() -> Self {
        Board::new(None, None, None)
    }

    /// Whether any part is present.
    pub fn is_present(&self) -> bool {
        self.led.is_some() || self.tamper.is_some() || self.modem.is_some()
    }

    /// The LED, if fitted.
    pub fn led_mut(&mut self) -> Option<&mut L> {
        self.led.as_mut()
    }

    /// The tamper switch, if fitted.
    pub fn tamper_mut(&mut self) -> Option<&mut T> {
        self.tamper.as_mut()
    }

    /// The modem, if fitted.
    pub fn modem_mut(&mut self) -> Option<&mut M> {
        self.modem.as_mut()
    }

    /// Current faults, one per failing part.
    pub fn faults(&self) -> impl Iterator<Item = &Fault> {
        self.faults.iter().flatten()
    }

    /// Hands the parts back.
    pub fn release(self) -> (Option<L>, Option<T>, Option<M>) {
        (self.led, self.tamper, self.modem)
    }

    /// Keeps the outcome of one operation on `part`: a new fault is logged
    /// once, a fault clears (and is logged) when the part works again.
    fn record<V, E: fmt::Display>(&mut self, part: Part, now_ms: u64, result: Result<V, E>) -> Option<V> {
        let slot = &mut self.faults[part.index()];
        match result {
            Ok(v) => {
                if let Some(old) = slot.take() {
                    tracing::info!("board {part} works again (failing since {} ms: {})", old.at_ms, old.message);
                }
                Some(v)
            }
            Err(e) => {
                let message = e.to_string();
                if slot.as_ref().map(|f| &f.message) != Some(&message) {
                    tracing::warn!("board {part} failed: {message}");
                    *slot = Some(Fault { part, at_ms: now_ms, message });
                }
                None
            }
        }
    }
}

impl<LP, TP, S, C> Board<Led<LP>, Tamper<TP>, Modem<S, C>>
where
    LP: OutputPin,
    TP: InputPin,
    S: embedded_io::Read + embedded_io::Write,
    C: Clock,
{
    /// Tells the LED what the probe is doing (whether the enclosure is
    /// open, [`Board::tick`] takes from the board's own tamper switch).
    pub fn set_status(&mut self, status: BoardStatus) {
        if let Some(led) = &mut self.led {
            led.set_state(status);
        }
    }

    /// The detection on show has been seen (see [`Led::acknowledge`]).
    pub fn acknowledge(&mut self) {
        if let Some(led) = &mut self.led {
            led.acknowledge();
        }
    }

    /// Polls the tamper switch and brings the LED up to date; call every
    /// ~10 ms. Returns a tamper event to report, if one happened.
    ///
    /// Failures become [`Fault`]s (see [`Board::faults`]) rather than errors.
    pub fn tick(&mut self, now_ms: u64) -> Option<TamperEvent> {
        let event = match self.tamper.as_mut().map(|t| t.poll(now_ms)) {
            Some(result) => self.record(Part::Tamper, now_ms, result).flatten(),
            None => None,
        };
        if let (Some(led), Some(tamper)) = (&mut self.led, &self.tamper) {
            led.set_state(BoardStatus { tamper_open: tamper.is_open(), ..led.status() });
        }
        if let Some(result) = self.led.as_mut().map(|l| l.tick(now_ms)) {
            self.record(Part::Led, now_ms, result);
        }
        event
    }

    /// Sets the modem up ([`Modem::init`]); `None` without a modem or on failure (then a [`Fault`]).
    pub fn init_modem(&mut self, now_ms: u64) -> Option<Identity> {
        let result = self.modem.as_mut()?.init();
        self.record(Part::Modem, now_ms, result)
    }

    /// The probe's own serving cell ([`Modem::own_cell`]); `None` without a
    /// modem, without service, or on failure (then a [`Fault`]).
    pub fn own_cell(&mut self, now_ms: u64) -> Option<OwnCell> {
        let result = self.modem.as_mut()?.own_cell();
        self.record(Part::Modem, now_ms, result).flatten()
    }

    /// The heartbeat's `board` word.
    pub fn health(&self) -> BoardHealth {
        if !self.is_present() {
            BoardHealth::None
        } else if self.tamper.as_ref().is_some_and(Tamper::is_open) {
            BoardHealth::Tamper
        } else if self.faults().next().is_some() {
            BoardHealth::Error
        } else {
            BoardHealth::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as PinT};
    use embedded_hal_mock::eh1::serial::{Mock as SerialMock, Transaction as SerialT};
    use embedded_hal_mock::eh1::MockError;
    use embedded_hal_nb::nb;

    use super::*;

    /// A clock moving `step` ms per reading; clones share time and step.
    #[derive(Debug, Default, Clone)]
    struct StepClock {
        now: Rc<Cell<u64>>,
        step: Rc<Cell<u64>>,
    }

    impl Clock for StepClock {
        fn now_ms(&self) -> u64 {
            let t = self.now.get();
            self.now.set(t + self.step.get());
            t
        }
    }

    type TestBoard = Board<Led<PinMock>, Tamper<PinMock>, Modem<NbSerial<SerialMock<u8>>, StepClock>>;

    fn running() -> BoardStatus {
        BoardStatus { capturing: true, uplink_up: true, ..BoardStatus::default() }
    }

    #[test]
    fn no_board_does_nothing() {
        let mut board = TestBoard::none();
        assert!(!board.is_present());
        assert_eq!(board.health(), BoardHealth::None);
        assert_eq!(board.health().as_str(), "none");
        board.set_status(running());
        assert_eq!(board.tick(0), None);
        assert_eq!(board.init_modem(0), None);
        assert_eq!(board.own_cell(0), None);
        assert_eq!(board.faults().count(), 0);
    }

    #[test]
    fn tick_reports_tamper_and_drives_led() {
        // Heartbeat lit at 0, dark at 100; the alarm's first flash at 150.
        let mut led_pin = PinMock::new(&[PinT::set(State::High), PinT::set(State::Low), PinT::set(State::High)]);
        let mut tamper_pin = PinMock::new(&[
            PinT::get(State::Low),  // t=0 closed
            PinT::get(State::Low),  // t=50 closed settles
            PinT::get(State::High), // t=100 opening
            PinT::get(State::High), // t=150 opened
        ]);
        let mut board: TestBoard =
            Board::new(Some(Led::new(led_pin.clone())), Some(Tamper::new(tamper_pin.clone(), ActiveLevel::High)), None);
        board.set_status(running());
        assert_eq!(board.tick(0), None);
        assert_eq!(board.tick(50), None);
        assert_eq!(board.health(), BoardHealth::Ok);
        assert_eq!(board.tick(100), None);
        let event = board.tick(150).expect("the enclosure opened");
        assert_eq!(
            (event.at_ms, event.alarm.kind.as_str(), event.alarm.detail.as_str()),
            (100, "tamper", "enclosure opened")
        );
        assert_eq!(board.health(), BoardHealth::Tamper);
        assert_eq!(board.led_mut().unwrap().pattern(), Pattern::Alarm, "the LED shows the open enclosure");
        let (led, tamper, modem) = board.release();
        assert!(modem.is_none());
        led.unwrap().release();
        tamper.unwrap().release();
        led_pin.done();
        tamper_pin.done();
    }

    #[test]
    fn a_failing_led_is_a_fault_not_a_stop() {
        let err = MockError::Io(std::io::ErrorKind::BrokenPipe);
        let mut led_pin = PinMock::new(&[
            PinT::set(State::High).with_error(err.clone()),
            PinT::set(State::High).with_error(err),
            PinT::set(State::High),
        ]);
        let mut tamper_pin = PinMock::new(&[PinT::get(State::Low), PinT::get(State::Low), PinT::get(State::Low)]);
        let mut board: TestBoard =
            Board::new(Some(Led::new(led_pin.clone())), Some(Tamper::new(tamper_pin.clone(), ActiveLevel::High)), None);
        board.set_status(BoardStatus { unacknowledged_detection: true, ..running() });
        board.tick(0);
        board.tick(10);
        let faults: Vec<&Fault> = board.faults().collect();
        assert_eq!(faults.len(), 1);
        assert_eq!((faults[0].part, faults[0].at_ms), (Part::Led, 0), "the first failure is kept, not each repeat");
        assert!(faults[0].message.contains("status LED"), "{}", faults[0].message);
        assert_eq!(board.health(), BoardHealth::Error);
        board.tick(60);
        assert_eq!(board.faults().count(), 0, "cleared once the LED works");
        assert_eq!(board.health(), BoardHealth::Ok);
        board.acknowledge();
        assert!(!board.led_mut().unwrap().status().unacknowledged_detection);
        let (led, tamper, _) = board.release();
        led.unwrap().release();
        tamper.unwrap().release();
        led_pin.done();
        tamper_pin.done();
    }

    #[test]
    fn modem_cell_and_modem_fault() {
        let mut expected = vec![
            SerialT::write_many(b"ATI\r"),
            SerialT::read_many(b"\r\nQuectel\r\nEC25\r\n\r\nOK\r\n"),
            SerialT::write_many(b"AT+QENG=\"servingcell\"\r"),
            SerialT::read_many(
                b"\r\n+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",460,00,1A2D001,12,100,1,5,5,DE10,-88,-9,-60,16,44\r\n\r\nOK\r\n",
            ),
            SerialT::write_many(b"AT+QENG=\"servingcell\"\r"),
        ];
        // Then silence: the clock steps 100 ms per reading, 300 ms budget →
        // 2 empty reads, then the timeout.
        expected.extend((0..2).map(|_| SerialT::read_error(nb::Error::WouldBlock)));
        let mut serial = SerialMock::new(&expected);
        let clock = StepClock::default();
        let modem = Modem::new(NbSerial::new(serial.clone()), clock.clone(), ModemConfig { timeout_ms: 300 });
        let mut board: TestBoard = Board::new(None, None, Some(modem));
        let cell = board.own_cell(5).expect("a cell");
        assert_eq!((cell.rat.as_str(), cell.lac, cell.cell_id), ("lte", Some(0xDE10), Some(0x1A2D001)));
        assert_eq!(board.health(), BoardHealth::Ok);
        clock.step.set(100);
        assert_eq!(board.own_cell(9), None);
        let fault = board.faults().next().expect("a modem fault");
        assert_eq!((fault.part, fault.at_ms), (Part::Modem, 9));
        assert!(fault.message.contains("in time"), "{}", fault.message);
        assert_eq!(board.health(), BoardHealth::Error);
        let (_, _, modem) = board.release();
        modem.unwrap().release();
        serial.done();
    }

    #[test]
    fn std_clock_does_not_go_back() {
        let clock = StdClock::new();
        fn read<C: Clock>(c: C) -> u64 {
            c.now_ms()
        }
        let a = clock.now_ms();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let by_ref: &StdClock = &clock;
        let b = read(by_ref); // through the blanket impl for references
        assert!(b > a, "{a} then {b}");
    }
}
