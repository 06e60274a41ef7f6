//! Capture files: classic pcap (microsecond and nanosecond variants, either
//! byte order) and pcapng (any number of sections and interfaces, per-interface
//! link types and timestamp resolutions), parsed with the `pcap-file` crate.
//!
//! The file is read in large chunks into one buffer and parsed in place: no
//! copy per frame, and memory does not grow with the file (a week-long
//! capture costs what a minute does). Pipes and FIFOs work too. A file that
//! stops in the middle of a record ends the read with a warning naming the
//! frame; every frame before it has already been handed on, so results are
//! kept. A file that cannot be opened, or is no capture at all, is an error
//! naming the file.

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{PcapError, TsResolution};

use super::{Frame, Micros};
use crate::dissect::layers::LinkType;

/// Largest record a capture may hold; anything larger is a corrupt header.
/// (tcpdump's default snap length is 262144.)
pub const MAX_RECORD_LEN: u32 = 1 << 20;

/// How often (in frames) the progress callback is told the byte position.
const PROGRESS_EVERY: u64 = 8192;

/// Bytes read from the file at a time.
const CHUNK: usize = 4 << 20;

/// Largest pcapng block accepted (a block is read whole before parsing).
pub const MAX_BLOCK_LEN: usize = 16 << 20;

/// The two container formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap format.
    Pcap,
    /// pcapng.
    PcapNg,
}

impl Format {
    /// `pcap` or `pcapng`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
        }
    }
}

/// Why a capture file could not be read at all.
#[derive(Debug)]
pub struct Error {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// The kinds of [`Error`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Opening or reading the file failed.
    Io(std::io::Error),
    /// The file does not start with a pcap or pcapng magic number.
    NotACapture,
    /// The file header is damaged.
    BadHeader(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            ErrorKind::Io(e) => write!(f, "{path}: cannot read: {e}"),
            ErrorKind::NotACapture => write!(f, "{path}: not a pcap or pcapng capture file (unknown magic number)"),
            ErrorKind::BadHeader(why) => write!(f, "{path}: damaged file header: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// What reading a file produced besides the frames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Frames handed on.
    pub frames: u64,
    /// Set when the read stopped before the end of the file.
    pub warning: Option<String>,
}

/// A window over the file: `buf[start..end]` holds bytes not yet parsed.
struct Window {
    file: File,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl Window {
    fn new(file: File, head: Vec<u8>) -> Window {
        let end = head.len();
        let mut buf = head;
        buf.resize(CHUNK.max(end), 0);
        Window { file, buf, start: 0, end, offset: 0, eof: false }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Read more, keeping the unparsed tail; room for at least `need` bytes
    /// in all. Returns false at the end of the file.
    fn fill(&mut self, need: usize) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        }
        loop {
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// An opened capture file.
pub struct CaptureFile {
    path: PathBuf,
    /// The open file and the bytes already read to recognise it.
    source: RefCell<Option<(File, Vec<u8>)>>,
    len: u64,
    format: Format,
}

impl fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureFile")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("len", &self.len)
            .finish()
    }
}

impl CaptureFile {
    /// Open a file and recognise its format.
    pub fn open(path: impl AsRef<Path>) -> Result<CaptureFile, Error> {
        let path = path.as_ref().to_path_buf();
        let err = |kind| Error { path: path.clone(), kind };
        let mut file = File::open(&path).map_err(|e| err(ErrorKind::Io(e)))?;
        let meta = file.metadata().map_err(|e| err(ErrorKind::Io(e)))?;
        let mut head = Vec::with_capacity(4);
        (&mut file).take(4).read_to_end(&mut head).map_err(|e| err(ErrorKind::Io(e)))?;
        let format = match head.as_slice() {
            [0xa1, 0xb2, 0xc3, 0xd4]
            | [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x4d, 0x3c, 0xb2, 0xa1] => Format::Pcap,
            [0x0a, 0x0d, 0x0d, 0x0a] => Format::PcapNg,
            _ => return Err(err(ErrorKind::NotACapture)),
        };
        let len = if meta.is_file() { meta.len() } else { 0 };
        Ok(CaptureFile { path, source: RefCell::new(Some((file, head))), len, format })
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Its size in bytes (0 for a pipe).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty file (never the case for an opened capture).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hand every frame to `on_frame` in file order; `on_progress` is told the
    /// byte offset reached every few thousand frames. A file is read once: a
    /// second call reads nothing.
    pub fn read(
        &self,
        mut on_frame: impl FnMut(&Frame<'_>),
        mut on_progress: impl FnMut(u64),
    ) -> Result<ReadOutcome, Error> {
        let mut outcome = ReadOutcome::default();
        let Some((file, head)) = self.source.borrow_mut().take() else { return Ok(outcome) };
        let mut w = Window::new(file, head);
        let result = match self.format {
            Format::Pcap => self.read_pcap(&mut w, &mut outcome, &mut on_frame, &mut on_progress),
            Format::PcapNg => self.read_pcapng(&mut w, &mut outcome, &mut on_frame, &mut on_progress),
        };
        on_progress(w.offset.max(self.len));
        result.map(|()| outcome)
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        Error { path: self.path.clone(), kind: ErrorKind::Io(e) }
    }

    fn bad_header(&self, e: PcapError) -> Error {
        Error { path: self.path.clone(), kind: ErrorKind::BadHeader(e.to_string()) }
    }

    fn stop(&self, outcome: &mut ReadOutcome, why: String) {
        let n = outcome.frames + 1;
        outcome.warning = Some(format!(
            "{}: {why} at frame {n}; the read stopped there and the {} frames before it were analysed",
            self.path.display(),
            outcome.frames
        ));
    }

    fn read_pcap(
        &self,
        w: &mut Window,
        outcome: &mut ReadOutcome,
        on_frame: &mut impl FnMut(&Frame<'_>),
        on_progress: &mut impl FnMut(u64),
    ) -> Result<(), Error> {
        w.fill(24).map_err(|e| self.io_error(e))?;
        let (rest, parser) = PcapParser::new(w.data()).map_err(|e| self.bad_header(e))?;
        let header_len = w.data().len() - rest.len();
        w.consume(header_len);
        let header = parser.header();
        let link = LinkType::from_number(u32::from(header.datalink));
        let nanos = header.ts_resolution == TsResolution::NanoSecond;
        let big_endian = header.endianness == pcap_file::Endianness::Big;
        loop {
            let data = w.data();
            if data.is_empty() && !w.fill(0).map_err(|e| self.io_error(e))? {
                return Ok(());
            }
            let data = w.data();
            let incl_len = data.get(8..12).map(|b| {
                let b = [b[0], b[1], b[2], b[3]];
                if big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            });
            if let Some(len) = incl_len.filter(|len| *len > MAX_RECORD_LEN) {
                self.stop(outcome, format!("corrupt record header (captured length {len} bytes)"));
                return Ok(());
            }
            match parser.next_raw_packet(data) {
                Ok((rest, raw)) => {
                    let used = data.len() - rest.len();
                    outcome.frames += 1;
                    let frac = if nanos { u64::from(raw.ts_frac) / 1000 } else { u64::from(raw.ts_frac) };
                    let frame = Frame {
                        number: outcome.frames,
                        ts: u64::from(raw.ts_sec) * 1_000_000 + frac,
                        link,
                        data: &raw.data,
                        orig_len: raw.orig_len,
                    };
                    on_frame(&frame);
                    w.consume(used);
                    if outcome.frames % PROGRESS_EVERY == 0 {
                        on_progress(w.offset);
                    }
                }
                Err(PcapError::IncompleteBuffer) => {
                    let need = 16 + incl_len.unwrap_or(0) as usize;
                    if !w.fill(need).map_err(|e| self.io_error(e))? {
                        let left = w.data().len();
                        self.stop(outcome, format!("file cut off in the middle of a record ({left} bytes left)"));
                        return Ok(());
                    }
                }
                Err(e) => {
                    self.stop(outcome, format!("unreadable record: {e}"));
                    return Ok(());
                }
            }
        }
    }

    fn read_pcapng(
        &self,
        w: &mut Window,
        outcome: &mut ReadOutcome,
        on_frame: &mut impl FnMut(&Frame<'_>),
        on_progress: &mut impl FnMut(u64),
    ) -> Result<(), Error> {
        // The section header block is read whole before the parser starts.
        loop {
            match PcapNgParser::new(w.data()) {
                Err(PcapError::IncompleteBuffer) if w.data().len() < MAX_BLOCK_LEN => {
                    let need = w.data().len() + CHUNK;
                    if !w.fill(need).map_err(|e| self.io_error(e))? {
                        return Err(self.bad_header(PcapError::IncompleteBuffer));
                    }
                }
                Err(e) => return Err(self.bad_header(e)),
                Ok(_) => break,
            }
        }
        let (rest, mut parser) = PcapNgParser::new(w.data()).map_err(|e| self.bad_header(e))?;
        let used = w.data().len() - rest.len();
        w.consume(used);
        // (link type, timestamp units per second) per interface of the current section.
        let mut interfaces: Vec<(LinkType, u64)> = Vec::new();
        loop {
            if w.data().is_empty() && !w.fill(0).map_err(|e| self.io_error(e))? {
                return Ok(());
            }
            let data = w.data();
            let (rest, block) = match parser.next_block(data) {
                Ok(ok) => ok,
                Err(PcapError::IncompleteBuffer) => {
                    let declared = block_len(data, parser.section().endianness == pcap_file::Endianness::Big);
                    if declared.is_some_and(|n| n > MAX_BLOCK_LEN) {
                        self.stop(
                            outcome,
                            format!("corrupt block header (block length {} bytes)", declared.unwrap_or(0)),
                        );
                        return Ok(());
                    }
                    let need = declared.unwrap_or(0).max(data.len() + 1);
                    if !w.fill(need).map_err(|e| self.io_error(e))? {
                        let left = w.data().len();
                        self.stop(outcome, format!("file cut off in the middle of a block ({left} bytes left)"));
                        return Ok(());
                    }
                    continue;
                }
                Err(e) => {
                    self.stop(outcome, format!("unreadable block: {e}"));
                    return Ok(());
                }
            };
            let used = data.len() - rest.len();
            if interfaces.len() != parser.interfaces().len() {
                interfaces = parser
                    .interfaces()
                    .iter()
                    .map(|i| (LinkType::from_number(u32::from(i.linktype)), ts_units(&i.options)))
                    .collect();
            }
            let packet = match &block {
                Block::EnhancedPacket(p) => {
                    Some((p.interface_id as usize, p.timestamp.as_nanos() as u64, &p.data, p.original_len))
                }
                Block::SimplePacket(p) => Some((0, 0, &p.data, p.original_len)),
                Block::Packet(p) => Some((usize::from(p.interface_id), p.timestamp, &p.data, p.original_len)),
                Block::SectionHeader(_) => {
                    interfaces.clear();
                    None
                }
                _ => None,
            };
            if let Some((iface, raw_ts, frame_data, orig_len)) = packet {
                let Some(&(link, units)) = interfaces.get(iface) else {
                    self.stop(outcome, format!("packet names interface {iface}, which was never described"));
                    return Ok(());
                };
                outcome.frames += 1;
                let frame = Frame {
                    number: outcome.frames,
                    ts: (u128::from(raw_ts) * 1_000_000 / u128::from(units)) as Micros,
                    link,
                    data: frame_data,
                    orig_len,
                };
                on_frame(&frame);
                if outcome.frames % PROGRESS_EVERY == 0 {
                    on_progress(w.offset);
                }
            }
            drop(block);
            w.consume(used);
        }
    }
}

/// The total length a pcapng block header declares (bytes 4..8).
fn block_len(data: &[u8], big_endian: bool) -> Option<usize> {
    let b: [u8; 4] = data.get(4..8)?.try_into().ok()?;
    let n = if big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) };
    usize::try_from(n).ok()
}

/// Timestamp units per second from an interface's `if_tsresol` option
/// (pcapng section 4.2: high bit clear = 10^-n s, set = 2^-n s; default 10^-6).
fn ts_units(options: &[InterfaceDescriptionOption<'_>]) -> u64 {
    let resol = options.iter().find_map(|o| match o {
        InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
        _ => None,
    });
    match resol {
        None => 1_000_000,
        Some(r) if r & 0x80 == 0 => 10u64.checked_pow(u32::from(r)).unwrap_or(1_000_000).max(1),
        Some(r) => 1u64.checked_shl(u32::from(r & 0x7f)).unwrap_or(1_000_000).max(1),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn pcap_bytes(records: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        for (i, r) in records.iter().enumerate() {
            v.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
            v.extend_from_slice(&250_000u32.to_le_bytes());
            v.extend_from_slice(&(r.len() as u32).to_le_bytes());
            v.extend_from_slice(&(r.len() as u32).to_le_bytes());
            v.extend_from_slice(r);
        }
        v
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn collect(file: &CaptureFile) -> (Vec<(u64, Micros, usize)>, ReadOutcome) {
        let mut frames = Vec::new();
        let outcome = file.read(|f| frames.push((f.number, f.ts, f.data.len())), |_| {}).unwrap();
        (frames, outcome)
    }

    #[test]
    fn reads_every_record_with_times() {
        let f = write(&pcap_bytes(&[&[1; 60], &[2; 70]]));
        let file = CaptureFile::open(f.path()).unwrap();
        assert_eq!(file.format(), Format::Pcap);
        let (frames, outcome) = collect(&file);
        assert_eq!(frames, vec![(1, 1_700_000_000_250_000, 60), (2, 1_700_000_001_250_000, 70)]);
        assert_eq!(outcome.warning, None);
    }

    #[test]
    fn cut_off_file_keeps_frames_and_names_the_frame() {
        let full = pcap_bytes(&[&[1; 60], &[2; 70], &[3; 80]]);
        let f = write(&full[..full.len() - 10]);
        let file = CaptureFile::open(f.path()).unwrap();
        let (frames, outcome) = collect(&file);
        assert_eq!(frames.len(), 2);
        let warning = outcome.warning.unwrap();
        assert!(warning.contains("frame 3"), "{warning}");
        assert!(warning.contains(&f.path().display().to_string()), "{warning}");
    }

    #[test]
    fn corrupt_record_length_stops_with_warning() {
        let mut bytes = pcap_bytes(&[&[1; 60], &[2; 70]]);
        let second = 24 + 16 + 60;
        bytes[second + 8..second + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        let f = write(&bytes);
        let (frames, outcome) = collect(&CaptureFile::open(f.path()).unwrap());
        assert_eq!(frames.len(), 1);
        assert!(outcome.warning.unwrap().contains("corrupt record header"));
    }

    #[test]
    fn not_a_capture_and_missing_file_are_errors_naming_the_file() {
        let f = write(b"hello, this is text");
        let err = CaptureFile::open(f.path()).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::NotACapture));
        assert!(err.to_string().contains(&f.path().display().to_string()));
        let err = CaptureFile::open("/nonexistent/x.pcap").unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/x.pcap: cannot read"));
        let empty = write(b"");
        assert!(matches!(CaptureFile::open(empty.path()).unwrap_err().kind, ErrorKind::NotACapture));
    }

    #[test]
    fn timestamp_resolution_option() {
        assert_eq!(ts_units(&[]), 1_000_000);
        assert_eq!(ts_units(&[InterfaceDescriptionOption::IfTsResol(9)]), 1_000_000_000);
        assert_eq!(ts_units(&[InterfaceDescriptionOption::IfTsResol(0x80 | 10)]), 1024);
        assert_eq!(ts_units(&[InterfaceDescriptionOption::IfTsResol(200)]), 1_000_000);
    }
}
