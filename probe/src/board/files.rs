//! GPIO lines as files (`[board] gpio = "files"`): the simulated pins of the
//! virtual board (SPEC 4.4), for machines whose kernel has no GPIO at all
//! (no chip, no gpio-sim module). The test harness drives and watches the
//! same files.
//!
//! The "chip" is a directory; line `NAME` is the file `DIR/NAME` holding
//! `0` or `1` (a trailing newline is allowed).
//!
//! - [`FileOutputPin`] (the LED) writes the level to a temporary file and
//!   renames it over `DIR/NAME`, so a reader never sees a half-written
//!   file, and appends `<unix ms> <level>` to `DIR/NAME.log` for every
//!   change, so a test sees each blink however slowly it polls.
//! - [`FileInputPin`] (the tamper switch) reads `DIR/NAME` on each call.
//!   The file must exist when the pin is opened: a line the test forgot to
//!   create is a configuration error, as a missing line on a real chip is.
//!
//! Both implement embedded-hal 1.0's digital traits with [`FilePinError`],
//! so the LED and tamper drivers run on them unchanged.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use embedded_hal::digital::{ErrorKind, ErrorType, InputPin, OutputPin};

/// A file pin could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GPIO line file {}: {message}", .path.display())]
pub struct FilePinError {
    /// The line's file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl embedded_hal::digital::Error for FilePinError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

fn line_path(dir: &Path, name: &str) -> Result<PathBuf, FilePinError> {
    let path = dir.join(name);
    let plain = !name.is_empty() && !name.contains('/') && name != "." && name != "..";
    if plain {
        Ok(path)
    } else {
        Err(FilePinError { path, message: "a line name must be a plain file name".into() })
    }
}

/// An output line: the status LED of a simulated board.
#[derive(Debug)]
pub struct FileOutputPin {
    path: PathBuf,
    tmp: PathBuf,
    log: PathBuf,
}

impl FileOutputPin {
    /// Opens line `name` in `dir` and sets it to `high`.
    pub fn open(dir: &Path, name: &str, high: bool) -> Result<FileOutputPin, FilePinError> {
        let path = line_path(dir, name)?;
        if !dir.is_dir() {
            return Err(FilePinError { path, message: format!("{} is not a directory", dir.display()) });
        }
        let mut pin =
            FileOutputPin { tmp: dir.join(format!(".{name}.tmp")), log: dir.join(format!("{name}.log")), path };
        pin.write(high)?;
        Ok(pin)
    }

    fn write(&mut self, high: bool) -> Result<(), FilePinError> {
        let err = |path: &Path, e: std::io::Error| FilePinError { path: path.to_path_buf(), message: e.to_string() };
        let level: &[u8] = if high { b"1\n" } else { b"0\n" };
        fs::write(&self.tmp, level).map_err(|e| err(&self.tmp, e))?;
        fs::rename(&self.tmp, &self.path).map_err(|e| err(&self.path, e))?;
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let mut log =
            fs::OpenOptions::new().create(true).append(true).open(&self.log).map_err(|e| err(&self.log, e))?;
        writeln!(log, "{ms} {}", u8::from(high)).map_err(|e| err(&self.log, e))
    }
}

impl ErrorType for FileOutputPin {
    type Error = FilePinError;
}

impl OutputPin for FileOutputPin {
    fn set_low(&mut self) -> Result<(), FilePinError> {
        self.write(false)
    }

    fn set_high(&mut self) -> Result<(), FilePinError> {
        self.write(true)
    }
}

/// An input line: the tamper switch of a simulated board.
#[derive(Debug)]
pub struct FileInputPin {
    path: PathBuf,
}

impl FileInputPin {
    /// Opens line `name` in `dir`; its file must exist and hold a level.
    pub fn open(dir: &Path, name: &str) -> Result<FileInputPin, FilePinError> {
        let mut pin = FileInputPin { path: line_path(dir, name)? };
        pin.read()?;
        Ok(pin)
    }

    fn read(&mut self) -> Result<bool, FilePinError> {
        let err = |message: String| FilePinError { path: self.path.clone(), message };
        let text = fs::read_to_string(&self.path).map_err(|e| err(e.to_string()))?;
        match text.trim_end() {
            "1" => Ok(true),
            "0" => Ok(false),
            other => Err(err(format!("expected 0 or 1, found {:?}", other.chars().take(20).collect::<String>()))),
        }
    }
}

impl ErrorType for FileInputPin {
    type Error = FilePinError;
}

impl InputPin for FileInputPin {
    fn is_high(&mut self) -> Result<bool, FilePinError> {
        self.read()
    }

    fn is_low(&mut self) -> Result<bool, FilePinError> {
        self.read().map(|h| !h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_writes_the_level_and_logs_each_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut led = FileOutputPin::open(dir.path(), "led", false).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("led")).unwrap(), "0\n");
        led.set_high().unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("led")).unwrap(), "1\n");
        led.set_low().unwrap();
        let log = fs::read_to_string(dir.path().join("led.log")).unwrap();
        let levels: Vec<&str> = log.lines().map(|l| l.split(' ').nth(1).unwrap()).collect();
        assert_eq!(levels, ["0", "1", "0"]);
        assert!(log.lines().all(|l| l.split(' ').next().unwrap().parse::<u64>().unwrap() > 1_600_000_000_000));
    }

    #[test]
    fn input_reads_the_file_each_time() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tamper"), "0\n").unwrap();
        let mut sw = FileInputPin::open(dir.path(), "tamper").unwrap();
        assert!(sw.is_low().unwrap());
        fs::write(dir.path().join("tamper"), "1").unwrap();
        assert!(sw.is_high().unwrap());
        fs::write(dir.path().join("tamper"), "open").unwrap();
        let e = sw.is_high().unwrap_err();
        assert!(e.to_string().contains("expected 0 or 1, found \"open\""), "{e}");
    }

    #[test]
    fn missing_lines_and_bad_names_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = FileInputPin::open(dir.path(), "tamper").unwrap_err();
        assert!(e.to_string().contains("tamper"), "{e}");
        let e = FileOutputPin::open(&dir.path().join("nope"), "led", false).unwrap_err();
        assert!(e.message.contains("is not a directory"), "{e}");
        let e = FileOutputPin::open(dir.path(), "../led", false).unwrap_err();
        assert!(e.message.contains("plain file name"), "{e}");
    }
}
