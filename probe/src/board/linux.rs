//! Opening the real board on Linux (feature `linux-board`): the only place
//! that names linux-embedded-hal types.
//!
//! - GPIO lines through the character device (`/dev/gpiochipN`, kernel ≥
//!   4.8), found by the line NAME the device tree gives them (`gpioinfo`
//!   lists them), requested as `duanka-probe`, wrapped in
//!   linux-embedded-hal's `CdevPin` (embedded-hal 1.0 `OutputPin` /
//!   `InputPin`).
//! - The modem on a serial tty through linux-embedded-hal's `Serial`
//!   (serialport without libudev), adapted by [`NbSerial`]. Reads wait at
//!   most [`SERIAL_READ_TIMEOUT_MS`] so an idle line does not spin the CPU;
//!   the modem driver's own deadline still bounds each command.
//!
//! - With `gpio = "files"`, the LED and tamper lines are files in the
//!   `gpiochip` directory instead ([`super::files`]): the simulated pins of
//!   the virtual board, for machines without GPIO. Everything else is the same.
//!
//! Pin polarity is handled by the drivers ([`ActiveLevel`]), never with the
//! kernel's `ACTIVE_LOW` request flag: `CdevPin` inverts again for lines
//! that carry that flag, and the two would cancel out.
//!
//! Every [`OpenError`] names what failed: the chip, the line, the tty.

use std::path::{Path, PathBuf};
use std::time::Duration;

use embedded_hal::digital::{ErrorKind, ErrorType, InputPin, OutputPin};
use linux_embedded_hal::gpio_cdev::{Chip, Line, LineRequestFlags};
use linux_embedded_hal::{serialport, CdevPin, Serial};
use serde::{Deserialize, Serialize};

use super::files::{FileInputPin, FileOutputPin};
use super::{ActiveLevel, Board, Led, Modem, ModemConfig, NbSerial, StdClock, Tamper};

/// The consumer name the GPIO lines are requested under (shown by `gpioinfo`).
pub const GPIO_CONSUMER: &str = "duanka-probe";
/// Chip used unless configured.
pub const DEFAULT_GPIOCHIP: &str = "/dev/gpiochip0";
/// Modem baud rate unless configured.
pub const DEFAULT_MODEM_BAUD: u32 = 115_200;
/// Seconds between own-cell readings unless configured.
pub const DEFAULT_MODEM_POLL_S: u64 = 30;
/// Longest a single serial read waits for a byte, ms.
pub const SERIAL_READ_TIMEOUT_MS: u64 = 20;

/// How the LED and tamper lines are reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpioBackend {
    /// The kernel's GPIO character device (`gpiochip` is `/dev/gpiochipN`;
    /// also what a gpio-sim chip appears as).
    #[default]
    Cdev,
    /// Simulated pins: one file per line in the directory `gpiochip`
    /// (see [`super::files`]).
    Files,
}

impl GpioBackend {
    /// `cdev` or `files`.
    pub fn as_str(self) -> &'static str {
        match self {
            GpioBackend::Cdev => "cdev",
            GpioBackend::Files => "files",
        }
    }
}

/// Where the board's parts are (`[board]` in the probe's TOML config).
///
/// A part whose line or path is not set is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BoardConfig {
    /// How the GPIO lines are reached.
    pub gpio: GpioBackend,
    /// GPIO character device holding the LED and tamper lines (with
    /// `gpio = "files"`, the directory of line files).
    pub gpiochip: PathBuf,
    /// Name of the status LED's line.
    pub led_line: Option<String>,
    /// The LED lights when its line is low.
    pub led_active_low: bool,
    /// Name of the tamper switch's line.
    pub tamper_line: Option<String>,
    /// The switch reads low when the enclosure is open.
    pub tamper_active_low: bool,
    /// The modem's AT command tty (e.g. `/dev/ttyUSB2` for a Quectel EC25).
    pub modem_path: Option<PathBuf>,
    /// Baud rate of that tty.
    pub modem_baud: u32,
    /// Time each AT command may take, ms.
    pub modem_timeout_ms: u64,
    /// Seconds between readings of the probe's own cell from the modem.
    pub modem_poll_s: u64,
    /// When the enclosure opens: once the tamper alarm has reached the
    /// agent (or after 30 s), wipe the token file, so a stolen probe
    /// cannot report again (the probe refuses to start without a token).
    /// Needs `agent.token_file`.
    pub tamper_clears_token: bool,
}

impl Default for BoardConfig {
    fn default() -> Self {
        BoardConfig {
            gpio: GpioBackend::Cdev,
            gpiochip: PathBuf::from(DEFAULT_GPIOCHIP),
            led_line: None,
            led_active_low: false,
            tamper_line: None,
            tamper_active_low: false,
            modem_path: None,
            modem_baud: DEFAULT_MODEM_BAUD,
            modem_timeout_ms: super::modem::DEFAULT_TIMEOUT_MS,
            modem_poll_s: DEFAULT_MODEM_POLL_S,
            tamper_clears_token: false,
        }
    }
}

/// The board as opened on Linux.
pub type LinuxBoard = Board<Led<Pin<FileOutputPin>>, Tamper<Pin<FileInputPin>>, Modem<NbSerial<Serial>, StdClock>>;

/// A GPIO line from either backend.
pub enum Pin<F> {
    /// A line of a GPIO character device.
    Cdev(CdevPin),
    /// A simulated line ([`super::files`]).
    File(F),
}

impl<F: std::fmt::Debug> std::fmt::Debug for Pin<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // CdevPin has no Debug of its own.
            Pin::Cdev(_) => f.write_str("Pin::Cdev"),
            Pin::File(p) => f.debug_tuple("Pin::File").field(p).finish(),
        }
    }
}

/// A pin operation failed (the backend's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PinError(String);

impl embedded_hal::digital::Error for PinError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

fn pin_error<E: std::fmt::Debug>(e: E) -> PinError {
    PinError(format!("{e:?}"))
}

impl<F> ErrorType for Pin<F> {
    type Error = PinError;
}

impl OutputPin for Pin<FileOutputPin> {
    fn set_low(&mut self) -> Result<(), PinError> {
        match self {
            Pin::Cdev(p) => p.set_low().map_err(pin_error),
            Pin::File(p) => p.set_low().map_err(|e| PinError(e.to_string())),
        }
    }

    fn set_high(&mut self) -> Result<(), PinError> {
        match self {
            Pin::Cdev(p) => p.set_high().map_err(pin_error),
            Pin::File(p) => p.set_high().map_err(|e| PinError(e.to_string())),
        }
    }
}

impl InputPin for Pin<FileInputPin> {
    fn is_high(&mut self) -> Result<bool, PinError> {
        match self {
            Pin::Cdev(p) => p.is_high().map_err(pin_error),
            Pin::File(p) => p.is_high().map_err(|e| PinError(e.to_string())),
        }
    }

    fn is_low(&mut self) -> Result<bool, PinError> {
        self.is_high().map(|h| !h)
    }
}

/// Why the board could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The GPIO chip could not be opened.
    #[error("cannot open GPIO chip {}: {message}", .path.display())]
    Chip {
        /// The chip's device path.
        path: PathBuf,
        /// The system's reason.
        message: String,
    },
    /// No line of the chip has that name.
    #[error("GPIO chip {} has no line named {line:?}", .chip.display())]
    LineNotFound {
        /// The chip's device path.
        chip: PathBuf,
        /// The name looked for.
        line: String,
    },
    /// The line exists but could not be read or requested (busy, permissions).
    #[error("cannot use GPIO line {line:?} of {}: {message}", .chip.display())]
    Line {
        /// The chip's device path.
        chip: PathBuf,
        /// The line's name.
        line: String,
        /// The system's reason.
        message: String,
    },
    /// The modem's tty could not be opened.
    #[error("cannot open modem serial port {} at {baud} baud: {message}", .path.display())]
    Serial {
        /// The tty's path.
        path: PathBuf,
        /// The baud rate asked for.
        baud: u32,
        /// The system's reason.
        message: String,
    },
}

/// Opens the parts `config` names; an empty config gives a board with no parts.
///
/// The LED starts dark. Nothing is sent to the modem yet (see [`Board::init_modem`]).
pub fn open(config: &BoardConfig) -> Result<LinuxBoard, OpenError> {
    let (led, tamper) = match config.gpio {
        GpioBackend::Cdev => open_cdev_lines(config)?,
        GpioBackend::Files => open_file_lines(config)?,
    };
    let led = led.map(|pin| {
        let lit = if config.led_active_low { ActiveLevel::Low } else { ActiveLevel::High };
        Led::new(pin).with_lit_level(lit)
    });
    let tamper = tamper.map(|pin| {
        let open_level = if config.tamper_active_low { ActiveLevel::Low } else { ActiveLevel::High };
        Tamper::new(pin, open_level)
    });
    let modem = match &config.modem_path {
        Some(path) => {
            let serial = open_serial(path, config.modem_baud)?;
            Some(Modem::new(
                NbSerial::new(serial),
                StdClock::new(),
                ModemConfig { timeout_ms: config.modem_timeout_ms },
            ))
        }
        None => None,
    };
    Ok(Board::new(led, tamper, modem))
}

/// The LED and tamper lines (either may be absent), as the pins' types.
type Lines = (Option<Pin<FileOutputPin>>, Option<Pin<FileInputPin>>);

fn open_cdev_lines(config: &BoardConfig) -> Result<Lines, OpenError> {
    if config.led_line.is_none() && config.tamper_line.is_none() {
        return Ok((None, None));
    }
    let mut chip = Chip::new(&config.gpiochip)
        .map_err(|e| OpenError::Chip { path: config.gpiochip.clone(), message: e.to_string() })?;
    let led = match &config.led_line {
        Some(name) => {
            let dark = u8::from(config.led_active_low);
            Some(Pin::Cdev(request(&mut chip, &config.gpiochip, name, LineRequestFlags::OUTPUT, dark)?))
        }
        None => None,
    };
    let tamper = match &config.tamper_line {
        Some(name) => Some(Pin::Cdev(request(&mut chip, &config.gpiochip, name, LineRequestFlags::INPUT, 0)?)),
        None => None,
    };
    Ok((led, tamper))
}

fn open_file_lines(config: &BoardConfig) -> Result<Lines, OpenError> {
    let dir = &config.gpiochip;
    let line_error =
        |name: &str, message: String| OpenError::Line { chip: dir.clone(), line: name.to_string(), message };
    let led = match &config.led_line {
        Some(name) => {
            let dark_high = config.led_active_low;
            Some(Pin::File(FileOutputPin::open(dir, name, dark_high).map_err(|e| line_error(name, e.to_string()))?))
        }
        None => None,
    };
    let tamper = match &config.tamper_line {
        Some(name) => Some(Pin::File(FileInputPin::open(dir, name).map_err(|e| line_error(name, e.to_string()))?)),
        None => None,
    };
    Ok((led, tamper))
}

fn request(
    chip: &mut Chip,
    chip_path: &Path,
    name: &str,
    flags: LineRequestFlags,
    value: u8,
) -> Result<CdevPin, OpenError> {
    let line_error =
        |message: String| OpenError::Line { chip: chip_path.to_path_buf(), line: name.to_string(), message };
    let line = find_line(chip, chip_path, name)?;
    let handle = line.request(flags, value, GPIO_CONSUMER).map_err(|e| line_error(e.to_string()))?;
    CdevPin::new(handle).map_err(|e| line_error(e.to_string()))
}

fn find_line(chip: &mut Chip, chip_path: &Path, name: &str) -> Result<Line, OpenError> {
    for line in chip.lines() {
        let info = line.info().map_err(|e| OpenError::Line {
            chip: chip_path.to_path_buf(),
            line: name.to_string(),
            message: format!("reading line {}: {e}", line.offset()),
        })?;
        if info.name() == Some(name) {
            return Ok(line);
        }
    }
    Err(OpenError::LineNotFound { chip: chip_path.to_path_buf(), line: name.to_string() })
}

fn open_serial(path: &Path, baud: u32) -> Result<Serial, OpenError> {
    let serial_error = |message: String| OpenError::Serial { path: path.to_path_buf(), baud, message };
    let name = path.to_str().ok_or_else(|| serial_error("the path is not UTF-8".to_string()))?;
    let builder = serialport::new(name, baud).timeout(Duration::from_millis(SERIAL_READ_TIMEOUT_MS));
    Serial::open_from_builder(builder).map_err(|e| serial_error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // This machine has no GPIO chip and no modem: these tests check that
    // opening what is missing fails with a message naming it.

    #[test]
    fn missing_gpio_chip_is_named() {
        let config = BoardConfig {
            gpiochip: PathBuf::from("/dev/gpiochip-duanka-missing"),
            led_line: Some("status-led".into()),
            ..BoardConfig::default()
        };
        let err = open(&config).err().expect("no such chip");
        assert!(matches!(&err, OpenError::Chip { path, .. } if path == Path::new("/dev/gpiochip-duanka-missing")));
        let message = err.to_string();
        assert!(message.contains("/dev/gpiochip-duanka-missing"), "{message}");
        assert!(message.starts_with("cannot open GPIO chip"), "{message}");
    }

    #[test]
    fn missing_chip_for_the_tamper_line_alone_is_named() {
        let config = BoardConfig {
            gpiochip: PathBuf::from("/nonexistent/gpiochip7"),
            tamper_line: Some("case-open".into()),
            ..BoardConfig::default()
        };
        let message = open(&config).err().expect("no such chip").to_string();
        assert!(message.contains("/nonexistent/gpiochip7"), "{message}");
    }

    #[test]
    fn missing_modem_tty_is_named() {
        let config =
            BoardConfig { modem_path: Some(PathBuf::from("/dev/ttyDUANKA-missing")), ..BoardConfig::default() };
        let err = open(&config).err().expect("no such tty");
        let message = err.to_string();
        assert!(matches!(err, OpenError::Serial { baud: 115_200, .. }), "{message}");
        assert!(message.contains("/dev/ttyDUANKA-missing"), "{message}");
    }

    #[test]
    fn file_lines_drive_the_led_and_read_the_switch() {
        use embedded_hal::digital::{InputPin as _, OutputPin as _};
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("case-open"), "0\n").unwrap();
        let config = BoardConfig {
            gpio: GpioBackend::Files,
            gpiochip: dir.path().to_path_buf(),
            led_line: Some("status-led".into()),
            led_active_low: true,
            tamper_line: Some("case-open".into()),
            ..BoardConfig::default()
        };
        let board = open(&config).expect("the simulated lines");
        // Active low: the dark LED is a high line.
        assert_eq!(std::fs::read_to_string(dir.path().join("status-led")).unwrap(), "1\n");
        let (led, tamper, _) = board.release();
        let mut led = led.unwrap().release();
        led.set_low().unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("status-led")).unwrap(), "0\n");
        let mut tamper = tamper.unwrap().release();
        assert!(!tamper.is_high().unwrap());
        std::fs::write(dir.path().join("case-open"), "1\n").unwrap();
        assert!(tamper.is_high().unwrap());
    }

    #[test]
    fn a_missing_simulated_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let config = BoardConfig {
            gpio: GpioBackend::Files,
            gpiochip: dir.path().to_path_buf(),
            tamper_line: Some("case-open".into()),
            ..BoardConfig::default()
        };
        let message = open(&config).err().expect("no such line file").to_string();
        assert!(message.contains("\"case-open\"") && message.contains(&dir.path().display().to_string()), "{message}");
    }

    #[test]
    fn empty_config_opens_no_board() {
        let board = open(&BoardConfig::default()).expect("nothing to open");
        assert!(!board.is_present());
    }

    #[test]
    fn config_from_toml() {
        let config: BoardConfig = toml::from_str(
            r#"
            gpiochip = "/dev/gpiochip1"
            led_line = "STATUS_LED"
            tamper_line = "CASE_SW"
            tamper_active_low = true
            modem_path = "/dev/ttyUSB2"
            "#,
        )
        .unwrap();
        assert_eq!(
            config,
            BoardConfig {
                gpiochip: "/dev/gpiochip1".into(),
                led_line: Some("STATUS_LED".into()),
                tamper_line: Some("CASE_SW".into()),
                tamper_active_low: true,
                modem_path: Some("/dev/ttyUSB2".into()),
                ..BoardConfig::default()
            }
        );
        assert!(toml::from_str::<BoardConfig>("led_pin = 3").is_err(), "unknown keys are refused");
        let sim: BoardConfig = toml::from_str("gpio = \"files\"\ngpiochip = \"/run/duanka-board\"").unwrap();
        assert_eq!(sim.gpio, GpioBackend::Files);
        assert!(toml::from_str::<BoardConfig>("gpio = \"sysfs\"").is_err(), "unknown backends are refused");
    }
}
