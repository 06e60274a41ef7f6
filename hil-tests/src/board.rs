//! The board the HIL suite runs the probe on (SPEC 4.4): a virtual one made
//! by the test, or a real one named by environment variables.
//!
//! **Virtual board.** Its modem is [`crate::modem::ModemEmulator`]. Its two
//! GPIO lines, the status LED (output) and the tamper switch (input), come
//! from [`VirtualGpio::create`], which uses the kernel's **gpio-sim** when
//! the kernel has it (a real GPIO chip the probe opens through
//! `/dev/gpiochipN`, its lines pulled and read through sysfs), and
//! otherwise **simulated lines as files** that the probe opens with
//! `[board] gpio = "files"`. CI machines here have no GPIO in their kernel
//! and load no modules, so they run the files. [`VirtualGpio::describe`]
//! says which one ran; tests print it.
//!
//! Either way the test holds the other end of each line through
//! embedded-hal 1.0's traits: [`TamperDrive`] is an `OutputPin` (high: the
//! enclosure is open), [`LedSense`] an `InputPin`. [`LedRecorder`] samples
//! the LED and [`classify`] names the blink pattern it saw.
//!
//! **Real board.** [`RealBoard::from_env`] reads `DUANKA_HIL_GPIOCHIP`,
//! `DUANKA_HIL_LED_LINE`, `DUANKA_HIL_TAMPER_LINE` and `DUANKA_HIL_MODEM`.
//! None set: the virtual board. All set: the real one. Some: an error
//! naming the missing ones (a half-described board must not quietly turn
//! into a virtual one).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use embedded_hal::digital::{ErrorKind, ErrorType, InputPin, OutputPin};

/// The LED line's name on the virtual board.
pub const LED_LINE: &str = "duanka-led";
/// The tamper line's name on the virtual board.
pub const TAMPER_LINE: &str = "duanka-tamper";

/// The environment variables that describe a real board.
pub const REAL_BOARD_VARS: [&str; 4] =
    ["DUANKA_HIL_GPIOCHIP", "DUANKA_HIL_LED_LINE", "DUANKA_HIL_TAMPER_LINE", "DUANKA_HIL_MODEM"];

const CONFIGFS: &str = "/sys/kernel/config";

/// A pin of the test's end could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", .path.display())]
pub struct PinError {
    /// The file behind the pin.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl embedded_hal::digital::Error for PinError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

fn pin_error(path: &Path, message: impl Into<String>) -> PinError {
    PinError { path: path.to_path_buf(), message: message.into() }
}

/// Writes `text` to `path` through a temporary file and a rename, so the
/// probe never reads a half-written line file.
fn replace_file(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("drive.tmp");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)
}

/// Which GPIO the virtual board has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpioKind {
    /// The kernel's gpio-sim: a real chip device.
    GpioSim,
    /// Line files (`[board] gpio = "files"`).
    Files,
}

/// The virtual board's GPIO: the LED and tamper lines, removed when dropped.
#[derive(Debug)]
pub struct VirtualGpio {
    kind: GpioKind,
    /// `[board] gpiochip` for the probe: the chip device or the line directory.
    chip: PathBuf,
    /// The file the LED's level is read from.
    led_value: PathBuf,
    /// The file the tamper line is driven through.
    tamper_drive: PathBuf,
    /// Why gpio-sim was not used, when it was not.
    fallback_reason: Option<String>,
    // Removed from configfs when dropped.
    _sim: Option<GpioSimChip>,
}

impl VirtualGpio {
    /// The virtual board's lines: gpio-sim when the kernel has it,
    /// otherwise line files in `dir` (which must exist). The tamper line
    /// starts low (enclosure closed).
    pub fn create(dir: &Path) -> Result<VirtualGpio, String> {
        match GpioSimChip::create() {
            Ok(sim) => {
                let gpio = VirtualGpio {
                    kind: GpioKind::GpioSim,
                    chip: PathBuf::from("/dev").join(&sim.chip_name),
                    led_value: sim.line_dir(0).join("value"),
                    tamper_drive: sim.line_dir(1).join("pull"),
                    fallback_reason: None,
                    _sim: Some(sim),
                };
                gpio.tamper().set_low().map_err(|e| e.to_string())?;
                Ok(gpio)
            }
            Err(reason) => VirtualGpio::files(dir, Some(reason)),
        }
    }

    /// Line files in `dir`, whatever the kernel has.
    pub fn files(dir: &Path, fallback_reason: Option<String>) -> Result<VirtualGpio, String> {
        if !dir.is_dir() {
            return Err(format!("{}: not a directory", dir.display()));
        }
        let gpio = VirtualGpio {
            kind: GpioKind::Files,
            chip: dir.to_path_buf(),
            led_value: dir.join(LED_LINE),
            tamper_drive: dir.join(TAMPER_LINE),
            fallback_reason,
            _sim: None,
        };
        gpio.tamper().set_low().map_err(|e| e.to_string())?;
        Ok(gpio)
    }

    /// Which GPIO this is.
    pub fn kind(&self) -> GpioKind {
        self.kind
    }

    /// One line for the test output: which GPIO ran, and why.
    pub fn describe(&self) -> String {
        match (self.kind, &self.fallback_reason) {
            (GpioKind::GpioSim, _) => format!("virtual board: gpio-sim chip {}", self.chip.display()),
            (GpioKind::Files, Some(why)) => {
                format!("virtual board: simulated GPIO line files in {} ({why})", self.chip.display())
            }
            (GpioKind::Files, None) => format!("virtual board: simulated GPIO line files in {}", self.chip.display()),
        }
    }

    /// The `[board]` lines that give the probe these GPIO lines.
    pub fn probe_toml(&self) -> String {
        let backend = match self.kind {
            GpioKind::GpioSim => "cdev",
            GpioKind::Files => "files",
        };
        format!(
            "gpio = \"{backend}\"\ngpiochip = \"{}\"\nled_line = \"{LED_LINE}\"\ntamper_line = \"{TAMPER_LINE}\"\n",
            self.chip.display()
        )
    }

    /// The test's end of the tamper line.
    pub fn tamper(&self) -> TamperDrive {
        TamperDrive { path: self.tamper_drive.clone(), sim: self.kind == GpioKind::GpioSim }
    }

    /// The test's end of the LED line.
    pub fn led(&self) -> LedSense {
        LedSense { path: self.led_value.clone() }
    }
}

/// The tamper switch, as the test works it: an `OutputPin` whose high
/// level is an open enclosure (the probe reads it active-high).
#[derive(Debug, Clone)]
pub struct TamperDrive {
    path: PathBuf,
    sim: bool,
}

impl ErrorType for TamperDrive {
    type Error = PinError;
}

impl OutputPin for TamperDrive {
    fn set_low(&mut self) -> Result<(), PinError> {
        let text = if self.sim { "pull-down" } else { "0\n" };
        replace_or_write(&self.path, text, self.sim)
    }

    fn set_high(&mut self) -> Result<(), PinError> {
        let text = if self.sim { "pull-up" } else { "1\n" };
        replace_or_write(&self.path, text, self.sim)
    }
}

fn replace_or_write(path: &Path, text: &str, sysfs: bool) -> Result<(), PinError> {
    // sysfs attributes are written in place; line files are replaced whole.
    let result = if sysfs { fs::write(path, text) } else { replace_file(path, text) };
    result.map_err(|e| pin_error(path, e.to_string()))
}

/// The status LED, as the test sees it: an `InputPin`, high when the line is high.
#[derive(Debug, Clone)]
pub struct LedSense {
    path: PathBuf,
}

impl ErrorType for LedSense {
    type Error = PinError;
}

impl InputPin for LedSense {
    fn is_high(&mut self) -> Result<bool, PinError> {
        let text = fs::read_to_string(&self.path).map_err(|e| pin_error(&self.path, e.to_string()))?;
        match text.trim() {
            "1" => Ok(true),
            "0" => Ok(false),
            other => Err(pin_error(&self.path, format!("expected 0 or 1, found {other:?}"))),
        }
    }

    fn is_low(&mut self) -> Result<bool, PinError> {
        self.is_high().map(|h| !h)
    }
}

/// A gpio-sim chip with two named lines, made through configfs and removed on drop.
#[derive(Debug)]
struct GpioSimChip {
    /// `/sys/kernel/config/gpio-sim/<name>`.
    config: PathBuf,
    /// `gpiochipN`.
    chip_name: String,
    /// `gpio-sim.N`, the platform device.
    dev_name: String,
}

impl GpioSimChip {
    fn create() -> Result<GpioSimChip, String> {
        let root = Path::new(CONFIGFS).join("gpio-sim");
        if !root.is_dir() && Path::new(CONFIGFS).is_dir() {
            // configfs may only be unmounted; mounting it is harmless.
            let _ = std::process::Command::new("mount").args(["-t", "configfs", "none", CONFIGFS]).status();
        }
        if !root.is_dir() {
            return Err(format!("this kernel has no gpio-sim: {} is missing", root.display()));
        }
        let config = root.join(format!("duanka-hil-{}", std::process::id()));
        let io = |what: &str, e: std::io::Error| format!("gpio-sim: {what}: {e}");
        fs::create_dir(&config).map_err(|e| io(&config.display().to_string(), e))?;
        // From here on, Drop removes what was made.
        let mut chip = GpioSimChip { config, chip_name: String::new(), dev_name: String::new() };
        let bank = chip.config.join("bank0");
        fs::create_dir(&bank).map_err(|e| io("bank0", e))?;
        fs::write(bank.join("num_lines"), "2").map_err(|e| io("num_lines", e))?;
        for (offset, name) in [LED_LINE, TAMPER_LINE].iter().enumerate() {
            let line = bank.join(format!("line{offset}"));
            fs::create_dir(&line).map_err(|e| io(&format!("line{offset}"), e))?;
            fs::write(line.join("name"), name).map_err(|e| io("line name", e))?;
        }
        fs::write(chip.config.join("live"), "1").map_err(|e| io("live", e))?;
        let read = |p: PathBuf| fs::read_to_string(&p).map(|s| s.trim().to_string()).map_err(|e| io("read", e));
        chip.chip_name = read(bank.join("chip_name"))?;
        chip.dev_name = read(chip.config.join("dev_name"))?;
        Ok(chip)
    }

    /// sysfs directory of line `offset` (`value`, `pull`).
    fn line_dir(&self, offset: u32) -> PathBuf {
        Path::new("/sys/devices/platform").join(&self.dev_name).join(&self.chip_name).join(format!("sim_gpio{offset}"))
    }
}

impl Drop for GpioSimChip {
    fn drop(&mut self) {
        let _ = fs::write(self.config.join("live"), "0");
        let bank = self.config.join("bank0");
        for offset in 0..2 {
            let _ = fs::remove_dir(bank.join(format!("line{offset}")));
        }
        let _ = fs::remove_dir(&bank);
        let _ = fs::remove_dir(&self.config);
    }
}

/// A real board, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealBoard {
    /// `DUANKA_HIL_GPIOCHIP`: the chip device, e.g. `/dev/gpiochip0`.
    pub gpiochip: PathBuf,
    /// `DUANKA_HIL_LED_LINE`: the status LED's line name.
    pub led_line: String,
    /// `DUANKA_HIL_TAMPER_LINE`: the tamper switch's line name.
    pub tamper_line: String,
    /// `DUANKA_HIL_MODEM`: the modem's AT tty, e.g. `/dev/ttyUSB2`.
    pub modem: PathBuf,
}

impl RealBoard {
    /// The real board the environment names: `Ok(None)` when none of
    /// [`REAL_BOARD_VARS`] is set; an error naming the missing ones when only some are.
    pub fn from_env() -> Result<Option<RealBoard>, String> {
        RealBoard::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// [`RealBoard::from_env`] over any variable source.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<RealBoard>, String> {
        let values: Vec<Option<String>> = REAL_BOARD_VARS.iter().map(|k| get(k)).collect();
        let missing: Vec<&str> =
            REAL_BOARD_VARS.iter().zip(&values).filter(|(_, v)| v.is_none()).map(|(k, _)| *k).collect();
        match missing.len() {
            4 => Ok(None),
            0 => {
                let mut v = values.into_iter().map(Option::unwrap_or_default);
                let mut next = || v.next().unwrap_or_default();
                Ok(Some(RealBoard {
                    gpiochip: PathBuf::from(next()),
                    led_line: next(),
                    tamper_line: next(),
                    modem: PathBuf::from(next()),
                }))
            }
            _ => Err(format!(
                "a real board is half described: {} set but {} missing (set all four, or none for the virtual board)",
                REAL_BOARD_VARS.iter().filter(|k| !missing.contains(k)).copied().collect::<Vec<_>>().join(", "),
                missing.join(", ")
            )),
        }
    }

    /// The `[board]` lines that give the probe this board.
    pub fn probe_toml(&self) -> String {
        format!(
            "gpio = \"cdev\"\ngpiochip = \"{}\"\nled_line = \"{}\"\ntamper_line = \"{}\"\nmodem_path = \"{}\"\n",
            self.gpiochip.display(),
            self.led_line,
            self.tamper_line,
            self.modem.display()
        )
    }

    /// One line for the test output.
    pub fn describe(&self) -> String {
        format!(
            "real board: GPIO {} (LED {:?}, tamper {:?}), modem {}",
            self.gpiochip.display(),
            self.led_line,
            self.tamper_line,
            self.modem.display()
        )
    }
}

/// Samples a [`LedSense`] every 2 ms on a thread of its own and keeps the
/// level changes.
#[derive(Debug)]
pub struct LedRecorder {
    start: Instant,
    changes: Arc<Mutex<Vec<(u64, bool)>>>,
    errors: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LedRecorder {
    /// Starts sampling.
    pub fn start(mut led: LedSense) -> LedRecorder {
        let start = Instant::now();
        let changes = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (changes, errors, stop) = (changes.clone(), errors.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut last = None;
                while !stop.load(Ordering::Relaxed) {
                    match led.is_high() {
                        Ok(level) if Some(level) != last => {
                            let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                            changes.lock().unwrap_or_else(|p| p.into_inner()).push((ms, level));
                            last = Some(level);
                        }
                        Ok(_) => {}
                        // The probe may be between writes of a line file; a persistent error shows.
                        Err(e) => *errors.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string()),
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        LedRecorder { start, changes, errors, stop, thread: Some(thread) }
    }

    /// Milliseconds since the recorder started.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The LED's level changes from `from_ms` on, as (ms, level); the first
    /// entry is the level at `from_ms`.
    pub fn since(&self, from_ms: u64) -> Vec<(u64, bool)> {
        let all = self.changes.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let before = all.iter().rev().find(|(t, _)| *t <= from_ms).map(|&(_, l)| (from_ms, l));
        before.into_iter().chain(all.into_iter().filter(|(t, _)| *t > from_ms)).collect()
    }

    /// Watches the LED for `window` and names the pattern it showed.
    pub fn watch(&self, window: Duration) -> Seen {
        let from = self.now_ms();
        std::thread::sleep(window);
        classify(&self.since(from), self.now_ms())
    }

    /// Watches the LED until it shows `want` (each look lasts `window`),
    /// for at most `limit`; the patterns seen, the last one `want` if it came.
    pub fn wait_for(&self, want: Seen, window: Duration, limit: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let s = self.watch(window);
            let done = s == want || Instant::now() >= deadline;
            seen.push(s);
            if done {
                return seen;
            }
        }
    }

    /// The last error reading the LED line, if any.
    pub fn last_error(&self) -> Option<String> {
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for LedRecorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A blink pattern as seen on the LED line (the probe's `board::led`
/// patterns, named from their timing: the probe's docs give the table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Dark throughout.
    Off,
    /// Lit throughout.
    Solid,
    /// A 100 ms flash every 2 s: capturing, all well.
    Heartbeat,
    /// 100 ms on, 100 ms off: the uplink is down.
    FastBlink,
    /// Two 100 ms flashes a second: the enclosure is open.
    Alarm,
    /// Something else, described.
    Other(String),
}

/// Timings of the probe's LED patterns (its `board::led` constants), ms.
pub mod timing {
    /// Heartbeat period.
    pub const HEARTBEAT_PERIOD_MS: u64 = 2_000;
    /// Fast blink period.
    pub const FAST_BLINK_PERIOD_MS: u64 = 200;
    /// Alarm period (two flashes).
    pub const ALARM_PERIOD_MS: u64 = 1_000;
    /// Every flash.
    pub const FLASH_MS: u64 = 100;
}

/// Names the pattern in `changes` (level changes as (ms, level), the first
/// being the level at the window's start) over a window ending at `end_ms`.
///
/// Flashes must last [`timing::FLASH_MS`] and rising edges follow the
/// pattern's rhythm within 40 ms (sampling, scheduling and file writes
/// blur edges on a loaded machine). A heartbeat needs a window of more than
/// two periods to show two flashes.
pub fn classify(changes: &[(u64, bool)], end_ms: u64) -> Seen {
    use timing::*;
    const SLACK: u64 = 40;
    let near = |x: u64, want: u64| x.abs_diff(want) <= SLACK;
    if changes.len() <= 1 {
        return match changes.first() {
            Some((_, true)) => Seen::Solid,
            Some((_, false)) | None => Seen::Off,
        };
    }
    let rises: Vec<u64> = changes.windows(2).filter(|w| !w[0].1 && w[1].1).map(|w| w[1].0).collect();
    // Whole flashes: a rise followed by a fall within the window.
    let flashes: Vec<u64> = changes.windows(2).filter(|w| w[0].1 && !w[1].1).map(|w| w[1].0).collect::<Vec<_>>();
    let lit_spans: Vec<u64> = rises.iter().filter_map(|&r| flashes.iter().find(|&&f| f > r).map(|&f| f - r)).collect();
    let gaps: Vec<u64> = rises.windows(2).map(|w| w[1] - w[0]).collect();
    let describe = || format!("rises at {rises:?} ms, lit for {lit_spans:?} ms, window ending at {end_ms} ms");
    if lit_spans.is_empty() || !lit_spans.iter().all(|&s| near(s, FLASH_MS)) || gaps.is_empty() {
        return Seen::Other(describe());
    }
    if gaps.iter().all(|&g| near(g, FAST_BLINK_PERIOD_MS)) && gaps.len() >= 3 {
        return Seen::FastBlink;
    }
    if gaps.iter().all(|&g| near(g, HEARTBEAT_PERIOD_MS)) {
        return Seen::Heartbeat;
    }
    let short = 2 * FLASH_MS;
    let long = ALARM_PERIOD_MS - short;
    let alternating =
        gaps.windows(2).all(|w| (near(w[0], short) && near(w[1], long)) || (near(w[0], long) && near(w[1], short)));
    if gaps.len() >= 3 && alternating && gaps.iter().all(|&g| near(g, short) || near(g, long)) {
        return Seen::Alarm;
    }
    Seen::Other(describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Level changes of a pattern that lights at each of `rises` for `lit` ms.
    fn trace(rises: &[u64], lit: u64) -> Vec<(u64, bool)> {
        let mut out = vec![(0, false)];
        for &r in rises {
            out.push((r, true));
            out.push((r + lit, false));
        }
        out
    }

    #[test]
    fn patterns_are_named_from_their_timing() {
        assert_eq!(classify(&[(0, true)], 3_000), Seen::Solid);
        assert_eq!(classify(&[(0, false)], 3_000), Seen::Off);
        assert_eq!(classify(&trace(&[10, 2_010, 4_012], 100), 4_500), Seen::Heartbeat);
        assert_eq!(classify(&trace(&[0, 200, 401, 598, 800], 101), 1_000), Seen::FastBlink);
        assert_eq!(classify(&trace(&[0, 200, 1_000, 1_200, 2_000, 2_200], 100), 2_500), Seen::Alarm);
        assert_eq!(classify(&trace(&[5, 205, 1_004, 1_203], 98), 1_500), Seen::Alarm);
        // A blink of the wrong length, or an irregular rhythm, is not a pattern.
        assert!(matches!(classify(&trace(&[0, 200, 400, 600], 150), 1_000), Seen::Other(_)));
        assert!(matches!(classify(&trace(&[0, 700, 1_000], 100), 1_500), Seen::Other(_)));
        assert!(matches!(classify(&trace(&[0], 100), 1_500), Seen::Other(_)));
    }

    #[test]
    fn a_half_described_real_board_names_what_is_missing() {
        let none = RealBoard::from_vars(|_| None).unwrap();
        assert_eq!(none, None);
        let all = RealBoard::from_vars(|k| Some(format!("/x/{k}"))).unwrap().unwrap();
        assert_eq!(all.led_line, "/x/DUANKA_HIL_LED_LINE");
        assert!(all.probe_toml().contains("gpio = \"cdev\""));
        let err = RealBoard::from_vars(|k| (k == "DUANKA_HIL_GPIOCHIP").then(|| "/dev/gpiochip0".into())).unwrap_err();
        assert!(err.contains("DUANKA_HIL_GPIOCHIP set"), "{err}");
        assert!(
            err.contains("missing") && err.contains("DUANKA_HIL_LED_LINE, DUANKA_HIL_TAMPER_LINE, DUANKA_HIL_MODEM")
        );
    }

    #[test]
    fn file_lines_are_driven_and_read_through_embedded_hal() {
        let dir = tempfile::tempdir().unwrap();
        let gpio = VirtualGpio::files(dir.path(), None).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join(TAMPER_LINE)).unwrap(), "0\n", "closed at start");
        gpio.tamper().set_high().unwrap();
        assert_eq!(fs::read_to_string(dir.path().join(TAMPER_LINE)).unwrap(), "1\n");
        let mut led = gpio.led();
        assert!(led.is_high().is_err(), "no LED file before the probe makes it");
        fs::write(dir.path().join(LED_LINE), "1\n").unwrap();
        assert!(led.is_high().unwrap());
        let toml = gpio.probe_toml();
        assert!(toml.contains("gpio = \"files\"") && toml.contains(LED_LINE), "{toml}");
        assert!(gpio.describe().contains("line files"));
    }
}
