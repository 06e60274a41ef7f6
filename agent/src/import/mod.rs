//! Imports of the carriers' files: the subscriber registry ([`registry`]) and
//! call detail records ([`cdr`]), CSV with a header line (SPEC 4.2).
//!
//! # Contract
//!
//! - **Columns by name.** The header must name every column of the kind
//!   exactly once, in any order, and nothing else (names are trimmed and
//!   compared case-insensitively). A missing, unknown or repeated column
//!   refuses the file before any row is read.
//! - **All or nothing per file.** Every row is validated ([`validate`]); the
//!   good ones are upserted inside one transaction. If any row is bad the
//!   transaction is rolled back: nothing is stored, not even the `imports`
//!   row, and the error ([`ImportErrorKind::Rejected`]) carries the first
//!   [`MAX_REPORTED_ROWS`] bad rows, each with its physical line number in the
//!   file (the header is line 1; a quoted field spanning lines counts every
//!   line; a record is reported by the line it starts on), and the total.
//! - **Re-import updates.** A row whose key is already stored (the IMSI for
//!   the registry; IMSI, start and called number for CDRs) replaces it
//!   (`ON CONFLICT DO UPDATE`); the outcome counts inserted and updated rows.
//!   The same key twice in one file is a bad row (the file contradicts
//!   itself).
//! - **Bounded memory.** A reader thread reads the file through a fixed
//!   buffer, hashes it (SHA-256), parses and validates each record into
//!   flat batches of [`BATCH_ROWS`] rows (a few in flight; one chunk of
//!   65,536 when sorting, below; when the whole file is sorted before it
//!   is written, a thread of the reader's own parses and hashes, the
//!   reader validates and the calling thread sorts the chunks); the
//!   calling thread writes them with one prepared statement inside one
//!   transaction. Memory stays bounded
//!   whatever the file's size: the page cache is capped at
//!   [`ImportOptions::cache_mib`] (default [`DEFAULT_CACHE_MIB`]), and so
//!   are the rows held for sorting (below).
//! - **Appending into an empty table.** Into an empty registry (the
//!   carrier's first load, the largest there is) its secondary indexes are
//!   dropped and the file is sorted by key first (as in key order, below),
//!   then written in that order without conflict checks: the registry's
//!   key, the IMSI, is its rowid, so the table fills its pages in order
//!   and a later re-import of millions of rows in key order sweeps it
//!   instead of updating its pages at random, which a table larger than
//!   the cache cannot afford. Repeated keys are found while merging. The
//!   rows are not inserted one by one through SQL: they are written
//!   straight into table pages of a database file of the import's own,
//!   beside the store, which SQLite then copies into the store a 32 MiB
//!   segment at a time ([`pages`]; 2.6 s of SQL inserts for 1 M rows
//!   became 0.6 s of pages and 0.7 s of copying). The indexes are built
//!   at the end by sorting. When nothing else has the store open,
//!   `carrier.db` is switched to a rollback journal for the load and back
//!   to WAL after it: the new pages are written once, in place, instead
//!   of into the write-ahead log and then again by the checkpoint (half
//!   the disk and, after 10 M rows, no 16 s fold; see
//!   `store::rollback_journal_for_bulk_load`). Other connections cannot
//!   read the store meanwhile, so with any of them open, a server's
//!   included, the load keeps WAL.
//! - **Key order.** Into a table that has rows, a kind whose unique key is
//!   one column (the registry's IMSI) is written sorted by it
//!   ([`WriteOrder`]), so that the key's B-tree (the registry's table
//!   itself, whose rowid is the IMSI) is not updated at random places. A
//!   large file is sorted whole first ([`sort`]), in memory up to the
//!   budget and in sorted runs in anonymous temporary files beside the
//!   store beyond it (disk: about the file's size; a thread of the sorter's
//!   own writes them), then merged (on another thread) into the upsert: the
//!   B-tree is swept once, in order. A smaller one is written while it is
//!   read, in chunks of consecutive rows each sorted by key (the reader
//!   sorts a chunk while the writer stores the one before). Repeated keys
//!   are found either way; the report is the same as in file order. CDRs
//!   are written as read.
//! - **Bulk loads.** A file big enough to hold at least twice the table's
//!   rows (estimated from its size) drops the table's secondary indexes and
//!   builds them again after the last row, in the same transaction: sorting
//!   once is cheaper than as many random B-tree inserts (SQLite sorts on a
//!   helper thread too). The unique key's index stays, for the upserts.
//!   Foreign-key checks are off during an import (its only reference is to
//!   its own `imports` row); with them on, SQLite journals every upsert's
//!   pages.
//! - **Bookkeeping.** A good file leaves one `imports` row: kind, file name,
//!   SHA-256 of the bytes, data rows, start and finish times, actor.
//! - CSV per RFC 4180: quoted fields may hold commas, quotes (`""`) and line
//!   breaks; `\n`, `\r\n` and `\r` all end a line (a line break inside a
//!   quoted field is read as `\n`); a UTF-8 byte-order mark before the header
//!   is ignored; blank lines are skipped. Bytes that are not UTF-8 make a row
//!   error, never a panic.
//!
//! The functions take a [`Store`] and are the library API behind
//! `duanka-agent registry import` / `cdr import` (and, later, uploads over
//! HTTP: [`registry::import_reader`] reads any `Read`).

pub mod cdr;
mod pages;
pub mod registry;
mod sort;
pub mod validate;

use std::fmt;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use rusqlite::{params, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::{now_ms, Store};

/// How many bad rows a rejection lists (the total is always counted).
pub const MAX_REPORTED_ROWS: usize = 100;

/// SQLite page cache for an import, MiB, unless told otherwise.
pub const DEFAULT_CACHE_MIB: u32 = 256;

/// The read buffer, bytes.
const READ_BUFFER: usize = 256 * 1024;

/// Rows between two progress reports.
const PROGRESS_EVERY: u64 = 16 * 1024;

/// Which file an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    /// The subscriber registry.
    Registry,
    /// Call detail records.
    Cdr,
}

impl ImportKind {
    /// The value of `imports.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Registry => "registry",
            ImportKind::Cdr => "cdr",
        }
    }
}

impl fmt::Display for ImportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A progress callback: called now and then with the bytes read so far.
pub type ProgressFn = Box<dyn FnMut(u64) + Send>;

/// What an import does once its whole file is read, when the bytes read
/// no longer tell how far it is: a load that sorts the whole file writes
/// its rows only then, and a bulk load builds its indexes at the end (half
/// the time of a 10 M-row first load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Writing the file's rows, sorted by key, into the store.
    Writing {
        /// Rows read from the file.
        rows: u64,
    },
    /// Building the table's index `index` (from 1) of `of`.
    Indexing {
        /// Which index.
        index: usize,
        /// Indexes to build.
        of: usize,
    },
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Writing { rows } => write!(f, "writing {rows} rows in key order"),
            Stage::Indexing { index, of } => write!(f, "building index {index} of {of}"),
        }
    }
}

/// A stage callback: called as each [`Stage`] starts.
pub type StageFn = Box<dyn FnMut(Stage) + Send>;

/// How to import.
pub struct ImportOptions {
    /// Seconds east of UTC of times written without an offset (default
    /// +08:00, China Standard Time).
    pub tz_offset_s: i32,
    /// Who imports, for `imports.actor` (`cli` from the command line).
    pub actor: String,
    /// SQLite page cache during the import, MiB: the memory bound. More
    /// speeds up imports into large tables (fewer index pages re-read).
    pub cache_mib: u32,
    /// Called with the bytes read so far, every few thousand rows.
    pub progress: Option<ProgressFn>,
    /// Called as each stage after the reading starts ([`Stage`]).
    pub stage: Option<StageFn>,
    /// The order rows are written in (the registry sorts by IMSI unless told
    /// otherwise; CDRs are always written in file order).
    pub order: WriteOrder,
    /// The file's size in bytes, for a reader that cannot tell (an upload
    /// saved to disk, say): it chooses the write order. Unknown, a file is
    /// taken to be large.
    pub size: Option<u64>,
}

/// The order an import writes its rows in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteOrder {
    /// [`WriteOrder::Key`] for a file larger than twice the page cache
    /// ([`ImportOptions::cache_mib`]), whose key's index would outgrow
    /// the cache if filled at random; [`WriteOrder::Chunks`] otherwise (and
    /// when the size is unknown). Measured on the synthetic registry: at
    /// 1 M rows (164 MB) key order took less CPU than file order but longer
    /// (nothing is written until the whole file is read), chunks less CPU
    /// and less time than either; at 10 M rows (1.7 GB) key order takes a
    /// quarter less CPU than file order.
    ///
    /// Into an empty table of a kind that can ([`Sink::APPEND`]: the
    /// registry), [`WriteOrder::Append`] whatever the size.
    #[default]
    Auto,
    /// Into an empty table: every index dropped, the rows sorted by key
    /// first as for [`WriteOrder::Key`], then inserted without conflict
    /// checks (the table only grows at its end), all indexes built at the
    /// end (see "Appending into an empty table" in the module's contract).
    /// A table that has rows, or a kind that cannot, falls back to what
    /// [`WriteOrder::Auto`] chooses for it.
    Append,
    /// Sorted by key first ([`sort`]): the table's key index fills in
    /// order; spills sorted runs to disk beside the store when the rows
    /// outgrow the memory budget.
    Key,
    /// While reading, in chunks of consecutive rows (65,536), each sorted by
    /// key on the reading thread: the key's index takes each chunk's
    /// inserts in order, one sweep over its pages, instead of at random
    /// places (measured on 1 M synthetic registry rows in the `sqlite3`
    /// shell: 0.8 s of CPU for the inserts against 1.5-2.0 s in file order
    /// and 0.5 s fully sorted), and writing still overlaps reading.
    Chunks,
    /// As read, while reading: the reference behaviour, for comparison.
    File,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            tz_offset_s: validate::DEFAULT_TZ_OFFSET_S,
            actor: "cli".into(),
            cache_mib: DEFAULT_CACHE_MIB,
            progress: None,
            stage: None,
            order: WriteOrder::default(),
            size: None,
        }
    }
}

impl fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportOptions")
            .field("tz_offset_s", &self.tz_offset_s)
            .field("actor", &self.actor)
            .field("cache_mib", &self.cache_mib)
            .field("progress", &self.progress.is_some())
            .field("stage", &self.stage.is_some())
            .field("order", &self.order)
            .field("size", &self.size)
            .finish()
    }
}

/// A stored import.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportOutcome {
    /// Registry or CDR.
    pub kind: ImportKind,
    /// The file's name as given.
    pub file: String,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
    /// `imports.id` of this run.
    pub import_id: i64,
    /// Data rows in the file.
    pub rows: u64,
    /// Rows whose key was new.
    pub inserted: u64,
    /// Rows that replaced a stored one.
    pub updated: u64,
    /// Wall time of the import.
    #[serde(skip)]
    pub elapsed: Duration,
}

/// One bad row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// Physical line in the file where the row starts (the header is line 1).
    pub line: u64,
    /// What is wrong, e.g. `iccid 8986…: check digit is 3, expected 5`.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Why a file was refused row by row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// Data rows in the file.
    pub rows: u64,
    /// Bad rows in all.
    pub bad_rows: u64,
    /// The first [`MAX_REPORTED_ROWS`] bad rows, in file order.
    pub errors: Vec<RowError>,
}

/// What kind of failure an [`ImportError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportErrorKind {
    /// The file could not be opened or read.
    Io,
    /// The file has no header line (it is empty or blank).
    Empty,
    /// The header does not name the kind's columns (missing, unknown,
    /// repeated, or not UTF-8).
    Header,
    /// Some rows are bad; nothing was stored ([`ImportError::rejection`]).
    Rejected,
    /// The store failed; nothing was stored.
    Store,
}

impl ImportErrorKind {
    /// Whether the file's content was refused (as opposed to a failure of
    /// the machine): the CLI exits 3 for these.
    pub fn is_refusal(self) -> bool {
        matches!(self, ImportErrorKind::Empty | ImportErrorKind::Header | ImportErrorKind::Rejected)
    }
}

/// An import that stored nothing.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ImportError {
    kind: ImportErrorKind,
    message: String,
    rejection: Option<Box<Rejection>>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ImportError {
    fn new(kind: ImportErrorKind, message: impl Into<String>) -> Self {
        ImportError { kind, message: message.into(), rejection: None, source: None }
    }

    fn io(what: String, e: io::Error) -> Self {
        ImportError {
            kind: ImportErrorKind::Io,
            message: format!("{what}: {e}"),
            rejection: None,
            source: Some(e.into()),
        }
    }

    fn store(e: rusqlite::Error) -> Self {
        ImportError {
            kind: ImportErrorKind::Store,
            message: format!("database: {e}"),
            rejection: None,
            source: Some(e.into()),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ImportErrorKind {
        self.kind
    }

    /// The bad rows, for [`ImportErrorKind::Rejected`].
    pub fn rejection(&self) -> Option<&Rejection> {
        self.rejection.as_deref()
    }
}

/// Reads through to `inner`, hashing and counting the bytes as they are in
/// the file, and hands on line ends as `\n` alone: `\r\n` and a lone `\r`
/// become `\n`. The CSV reader then counts physical lines right (it
/// miscounts after `\r\n` on its own), and a quoted field's line break is
/// always `\n`.
struct Tap<R> {
    inner: R,
    hash: Sha256,
    bytes: u64,
    /// The last byte handed on was a `\r` turned into `\n`: drop a `\n` first.
    after_cr: bool,
}

impl<R: Read> Tap<R> {
    fn new(inner: R) -> Self {
        Tap { inner, hash: Sha256::new(), bytes: 0, after_cr: false }
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            let got = buf.get_mut(..n).unwrap_or_default();
            self.hash.update(&*got);
            self.bytes += n as u64;
            if n == 0 {
                return Ok(0);
            }
            let skip_first = self.after_cr && got.first() == Some(&b'\n');
            if !skip_first && !got.contains(&b'\r') {
                self.after_cr = false;
                return Ok(n);
            }
            // Compact in place: CR LF -> LF, lone CR -> LF.
            let mut w = 0;
            let mut prev_cr = self.after_cr;
            for r in 0..n {
                let b = got[r];
                if b == b'\n' && prev_cr {
                    prev_cr = false;
                    continue;
                }
                prev_cr = b == b'\r';
                got[w] = if prev_cr { b'\n' } else { b };
                w += 1;
            }
            self.after_cr = prev_cr;
            if w > 0 {
                return Ok(w);
            }
            // The chunk was a lone LF after a CR: read on rather than signal EOF.
        }
    }
}

/// The bad-row report being built while reading.
#[derive(Debug, Default)]
pub(crate) struct BadRows {
    total: u64,
    errors: Vec<RowError>,
}

impl BadRows {
    fn push(&mut self, line: u64, reason: String) {
        self.total += 1;
        if self.errors.len() < MAX_REPORTED_ROWS {
            self.errors.push(RowError { line, reason });
        }
    }
}

/// One row's problems, joined with `; ` when there are several.
#[derive(Debug, Default)]
pub(crate) struct Reasons(String);

impl Reasons {
    /// Adds `column value: reason` (value shown as given, shortened).
    pub(crate) fn field(&mut self, column: &str, value: &[u8], why: &validate::Invalid) {
        let shown = shown_value(value);
        self.sep();
        if shown.is_empty() {
            self.0.push_str(&format!("{column}: {why}"));
        } else {
            self.0.push_str(&format!("{column} {shown}: {why}"));
        }
    }

    /// Adds `column shown: reason` with `shown` as it is (a masked value).
    pub(crate) fn field_shown(&mut self, column: &str, shown: &str, why: &validate::Invalid) {
        self.sep();
        self.0.push_str(&format!("{column} {shown}: {why}"));
    }

    /// Adds `column: reason` without the value (personal data, empty fields).
    pub(crate) fn field_hidden(&mut self, column: &str, why: &validate::Invalid) {
        self.sep();
        self.0.push_str(&format!("{column}: {why}"));
    }

    fn sep(&mut self) {
        if !self.0.is_empty() {
            self.0.push_str("; ");
        }
    }
}

/// A field value for a message: trimmed, at most 40 characters, quoted when
/// it holds anything but ASCII letters, digits and `+-.:`.
fn shown_value(value: &[u8]) -> String {
    let t = validate::trim(value);
    if t.is_empty() {
        return String::new();
    }
    let s = String::from_utf8_lossy(t);
    let mut short: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        short.push('…');
    }
    if short.chars().all(|c| c.is_ascii_alphanumeric() || "+-.:…".contains(c)) {
        short
    } else {
        format!("{short:?}")
    }
}

/// Validated rows of one batch, in flat buffers (no allocation per row):
/// each row is [`Sink::TEXTS`] strings and [`Sink::INTS`] integers.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    text: String,
    /// End offset in `text` of each string.
    ends: Vec<u32>,
    ints: Vec<i64>,
    /// The line each row starts on.
    lines: Vec<u64>,
}

impl Rows {
    /// Appends one string of the row being written.
    pub(crate) fn text(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends.push(self.text.len() as u32);
    }

    /// Appends one integer of the row being written.
    pub(crate) fn int(&mut self, v: i64) {
        self.ints.push(v);
    }

    /// Ends the row being written, which starts on `line`.
    pub(crate) fn end_row(&mut self, line: u64) {
        self.lines.push(line);
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    /// The line row `i` starts on.
    fn line(&self, i: usize) -> u64 {
        self.lines.get(i).copied().unwrap_or(0)
    }

    /// The integers of row `i` of a kind with `per_row` integers a row.
    fn ints_of(&self, i: usize, per_row: usize) -> &[i64] {
        self.ints.get(i * per_row..(i + 1) * per_row).unwrap_or_default()
    }

    /// Empty rows with room for as many as `other` holds.
    fn with_capacity_of(other: &Rows) -> Rows {
        Rows {
            text: String::with_capacity(other.text.len()),
            ends: Vec::with_capacity(other.ends.len()),
            ints: Vec::with_capacity(other.ints.len()),
            lines: Vec::with_capacity(other.lines.len()),
        }
    }

    /// Appends row `i` of `other` (`texts` strings and `ints` integers a row).
    fn copy_row(&mut self, other: &Rows, i: usize, texts: usize, ints: usize) {
        // A row's strings are consecutive in `text`: one copy for all.
        let first = i * texts;
        let start = if first == 0 { 0 } else { other.ends.get(first - 1).copied().unwrap_or(0) };
        let ends = other.ends.get(first..first + texts).unwrap_or_default();
        let end = ends.last().copied().unwrap_or(start);
        let base = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str(other.text.get(start as usize..end as usize).unwrap_or_default());
        self.ends.extend(ends.iter().map(|e| e.saturating_sub(start).saturating_add(base)));
        self.ints.extend_from_slice(other.ints_of(i, ints));
        self.lines.push(other.line(i));
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.ints.clear();
        self.lines.clear();
    }

    /// Heap bytes held.
    fn bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4 + self.ints.capacity() * 8 + self.lines.capacity() * 8
    }

    /// String `j` of row `i` of a kind with `per_row` strings a row.
    fn get(&self, i: usize, per_row: usize, j: usize) -> &str {
        let k = i * per_row + j;
        let start = if k == 0 { 0 } else { self.ends.get(k - 1).copied().unwrap_or(0) as usize };
        let end = self.ends.get(k).copied().unwrap_or(0) as usize;
        self.text.get(start..end).unwrap_or_default()
    }
}

/// A kind of file: its columns, how one record is validated (on the reading
/// thread) and how a validated row is written (on the database thread).
pub(crate) trait Sink: Send {
    /// The kind.
    const KIND: ImportKind;
    /// The header's column names, in the order `cols` indexes them.
    const COLUMNS: &'static [&'static str];
    /// The table, for counting rows.
    const TABLE: &'static str;
    /// The upsert, whose `DO UPDATE` skips rows this import already wrote
    /// (`WHERE <table>.import_id <> excluded.import_id`), so that a key
    /// repeated in one file changes nothing and is seen.
    const UPSERT_SQL: &'static str;
    /// What a repeated key is called in a row error.
    const DUPLICATE: &'static str;
    /// The string of a validated row that is the table's whole unique key,
    /// if one is: then rows can be written in key order ([`WriteOrder::Key`]).
    const KEY_TEXT: Option<usize>;
    /// Whether an empty table of this kind is appended to ([`WriteOrder::Append`]):
    /// needs [`Sink::KEY_TEXT`], the order the rows are appended in.
    const APPEND: bool = false;
    /// Whether the unique key is the table's rowid (the registry's IMSI): then
    /// new rows do not take the largest rowids, and inserted rows are
    /// counted by the table's rows instead.
    const KEY_IS_ROWID: bool = false;
    /// Strings per validated row (at most 16).
    const TEXTS: usize;
    /// Integers per validated row.
    const INTS: usize;
    /// A sink for an import with these options.
    fn new(options: &ImportOptions) -> Self;
    /// Validates one record (fields at `cols[i]` for `COLUMNS[i]`): appends
    /// its `TEXTS` strings and `INTS` integers to `out` and returns true, or
    /// fills `reasons`, appends nothing and returns false.
    fn validate(&mut self, rec: &csv::ByteRecord, cols: &[usize], out: &mut Rows, reasons: &mut Reasons) -> bool;
    /// The table's columns, in their order in the table, when a first load
    /// may write the table's pages itself ([`pages`]): [`Sink::record`]
    /// encodes a row for exactly these columns, and the store's table must
    /// have them (checked before each load), its first column the
    /// `INTEGER PRIMARY KEY`.
    const RECORD_COLUMNS: Option<&'static [&'static str]> = None;
    /// Encodes one validated row as the table's record (see
    /// [`Sink::RECORD_COLUMNS`]); returns its rowid, or `None` if the row
    /// has none (never for a validated row).
    fn record(_texts: &[&str], _ints: &[i64], _import_id: i64, _out: &mut pages::Record) -> Option<i64> {
        None
    }
    /// Runs `upsert` for one validated row; returns the rows it changed.
    fn write(
        upsert: &mut rusqlite::Statement<'_>,
        texts: &[&str],
        ints: &[i64],
        import_id: i64,
    ) -> rusqlite::Result<usize>;
}

/// Records per batch handed from the reading thread to the database thread.
pub const BATCH_ROWS: usize = 4096;
/// Batches in flight between the two threads.
const BATCHES_IN_FLIGHT: usize = 4;
/// Sorted chunks ([`sort::CHUNK_ROWS`] rows each) in flight between the two
/// threads: one, so that the rows held stay within a few chunks.
const CHUNKS_IN_FLIGHT: usize = 1;

/// What the reading thread hands on.
#[derive(Debug, Default)]
struct Batch {
    /// The good rows in file order, or empty when they are in `sorted`.
    rows: Rows,
    /// The good rows sorted by key, when the reader sorts.
    sorted: Option<sort::SortedRows>,
    /// Records read (good and bad).
    records: u64,
    /// Bad rows, in line order.
    bad: Vec<RowError>,
}

impl Batch {
    /// The good rows, sorted or not.
    fn rows(&self) -> &Rows {
        self.sorted.as_ref().map_or(&self.rows, sort::SortedRows::rows)
    }
}

/// The reading thread: parses and validates records into batches until the
/// file ends or the receiver hangs up. Returns the tap (hash, bytes read).
/// With `sort`, a batch is [`sort::CHUNK_ROWS`] records whose good rows are
/// sorted by that key (here, so that sorting overlaps writing). With
/// `parse_apart`, another thread parses the CSV (and hashes the bytes) while
/// this one validates, and chunks are handed on unsorted: for a writer that
/// only collects chunks while the file is read, which sorts them itself.
/// The reading then takes three threads, each of them busy.
#[allow(clippy::too_many_arguments)]
fn read_batches<S: Sink, R: Read + Send>(
    mut csv: csv::Reader<Tap<R>>,
    sink: S,
    cols: Vec<usize>,
    width: usize,
    sort: Option<sort::Shape>,
    parse_apart: bool,
    send: std::sync::mpsc::SyncSender<Result<Batch, csv::Error>>,
    progress: Option<ProgressFn>,
) -> Tap<R> {
    let mut progress = Progress { report: progress, records: 0 };
    let batch_rows = if sort.is_some() { sort::CHUNK_ROWS } else { BATCH_ROWS };
    let sort = sort.filter(|_| !parse_apart);
    let mut checker =
        Checker { sink, cols, width, sort, batch_rows, batch: Batch::default(), reasons: Reasons::default() };
    if parse_apart {
        return read_parsed_apart(csv, checker, send, progress);
    }
    let mut rec = csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut rec) {
            Err(e) => {
                let _ = send.send(Err(e));
                break;
            }
            Ok(false) => {
                if let Some(last) = checker.take() {
                    let _ = send.send(Ok(last));
                }
                break;
            }
            Ok(true) => {
                progress.record(&csv);
                if checker.check(&rec) && checker.take().is_some_and(|full| send.send(Ok(full)).is_err()) {
                    break;
                }
            }
        }
    }
    progress.end(csv)
}

/// Progress reports while reading: every [`PROGRESS_EVERY`] records and at
/// the end, with the bytes read so far.
struct Progress {
    report: Option<ProgressFn>,
    records: u64,
}

impl Progress {
    /// Counts one record read.
    fn record<R: Read>(&mut self, csv: &csv::Reader<Tap<R>>) {
        self.records += 1;
        if self.records % PROGRESS_EVERY == 0 {
            if let Some(p) = self.report.as_mut() {
                p(csv.get_ref().bytes);
            }
        }
    }

    /// The file is read: the last report, and the tap.
    fn end<R: Read>(mut self, csv: csv::Reader<Tap<R>>) -> Tap<R> {
        let tap = csv.into_inner();
        if let Some(p) = self.report.as_mut() {
            p(tap.bytes);
        }
        tap
    }
}

/// Records parsed by one thread and validated by another ([`read_parsed_apart`]).
const PARSED_ROWS: usize = 8 * 1024;

/// Chunks of parsed records going round between the two threads: one being
/// filled, one being validated, the others queued.
const PARSED_IN_FLIGHT: usize = 4;

/// A chunk of parsed records, its buffers used again chunk after chunk.
#[derive(Debug, Default)]
struct Parsed {
    records: Vec<csv::ByteRecord>,
    /// The records filled this time, from the start of `records`.
    len: usize,
    /// The CSV reader's error after those records: reading stopped there.
    error: Option<csv::Error>,
}

impl Parsed {
    /// Parses up to [`PARSED_ROWS`] records; false once the file has ended
    /// (or failed, in `error`).
    fn fill<R: Read>(&mut self, csv: &mut csv::Reader<Tap<R>>, progress: &mut Progress) -> bool {
        self.len = 0;
        self.error = None;
        self.records.resize_with(PARSED_ROWS, csv::ByteRecord::new);
        for rec in self.records.iter_mut() {
            match csv.read_byte_record(rec) {
                Ok(true) => self.len += 1,
                Ok(false) => return false,
                Err(e) => {
                    self.error = Some(e);
                    return false;
                }
            }
            progress.record(csv);
        }
        true
    }
}

/// [`read_batches`] on two threads: a scoped one parses chunks of records
/// (reading and hashing the file), this one validates them into batches.
/// The batches, the bad rows and the errors are the same as on one thread.
fn read_parsed_apart<S: Sink, R: Read + Send>(
    mut csv: csv::Reader<Tap<R>>,
    mut checker: Checker<S>,
    send: std::sync::mpsc::SyncSender<Result<Batch, csv::Error>>,
    mut progress: Progress,
) -> Tap<R> {
    std::thread::scope(|scope| {
        let (parsed_send, parsed_recv) = std::sync::mpsc::sync_channel::<Parsed>(PARSED_IN_FLIGHT);
        let (spare_send, spare_recv) = std::sync::mpsc::channel::<Parsed>();
        for _ in 0..PARSED_IN_FLIGHT {
            let _ = spare_send.send(Parsed::default());
        }
        let parser = scope.spawn(move || {
            // Ends at the file's end or error, or when the validating thread
            // has hung up (no spare chunk comes back, or none is taken).
            while let Ok(mut parsed) = spare_recv.recv() {
                let more = parsed.fill(&mut csv, &mut progress);
                if parsed_send.send(parsed).is_err() || !more {
                    break;
                }
            }
            progress.end(csv)
        });
        let mut to_writer = true;
        for mut parsed in parsed_recv.iter() {
            for rec in parsed.records.iter().take(parsed.len) {
                if checker.check(rec) && checker.take().is_some_and(|full| send.send(Ok(full)).is_err()) {
                    to_writer = false;
                    break;
                }
            }
            if !to_writer {
                break;
            }
            if let Some(e) = parsed.error.take() {
                let _ = send.send(Err(e));
                to_writer = false;
                break;
            }
            // The parser is gone once it has sent the last chunk: the
            // chunks still queued are validated all the same.
            let _ = spare_send.send(parsed);
        }
        if to_writer {
            if let Some(last) = checker.take() {
                let _ = send.send(Ok(last));
            }
        }
        // Hanging up stops a parser still going.
        drop(parsed_recv);
        drop(spare_send);
        match parser.join() {
            Ok(tap) => tap,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Validates records into batches: the work of [`read_batches`] on each record.
struct Checker<S> {
    sink: S,
    cols: Vec<usize>,
    width: usize,
    sort: Option<sort::Shape>,
    batch_rows: usize,
    batch: Batch,
    reasons: Reasons,
}

impl<S: Sink> Checker<S> {
    /// Validates one record into the batch; true when the batch is full.
    fn check(&mut self, rec: &csv::ByteRecord) -> bool {
        let batch = &mut self.batch;
        batch.records += 1;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() != self.width {
            batch.bad.push(RowError { line, reason: format!("{} fields, expected {}", rec.len(), self.width) });
        } else if self.sink.validate(rec, &self.cols, &mut batch.rows, &mut self.reasons) {
            batch.rows.end_row(line);
        } else {
            batch.bad.push(RowError { line, reason: std::mem::take(&mut self.reasons.0) });
        }
        self.reasons.0.clear();
        batch.records as usize >= self.batch_rows
    }

    /// The batch so far, its good rows sorted when sorting (`None` when it
    /// holds no record); the next batch starts empty.
    fn take(&mut self) -> Option<Batch> {
        if self.batch.records == 0 {
            return None;
        }
        let mut full = std::mem::take(&mut self.batch);
        if let Some(shape) = self.sort {
            full.sorted = Some(sort::sorted(&full.rows, shape));
            // The buffers, cleared, for the next chunk.
            std::mem::swap(&mut self.batch.rows, &mut full.rows);
            self.batch.rows.clear();
        }
        Some(full)
    }
}

/// Maps the header to column positions: `cols[i]` is where `columns[i]` is.
fn map_header(header: &csv::ByteRecord, columns: &[&str]) -> Result<Vec<usize>, String> {
    let mut cols = vec![usize::MAX; columns.len()];
    let mut unknown = Vec::new();
    for (pos, raw) in header.iter().enumerate() {
        let name = std::str::from_utf8(validate::trim(raw))
            .map_err(|_| format!("header column {} is not UTF-8", pos + 1))?
            .to_ascii_lowercase();
        match columns.iter().position(|c| *c == name) {
            Some(i) if cols[i] != usize::MAX => return Err(format!("header names column {name:?} twice")),
            Some(i) => cols[i] = pos,
            None => unknown.push(format!("{name:?}")),
        }
    }
    let missing: Vec<&str> = columns.iter().zip(&cols).filter(|(_, p)| **p == usize::MAX).map(|(c, _)| *c).collect();
    if missing.is_empty() && unknown.is_empty() {
        return Ok(cols);
    }
    let mut why = Vec::new();
    if !missing.is_empty() {
        why.push(format!("missing column(s) {}", missing.join(", ")));
    }
    if !unknown.is_empty() {
        why.push(format!("unknown column(s) {}", unknown.join(", ")));
    }
    Err(format!("bad header: {}; expected {}", why.join("; "), columns.join(",")))
}

/// Bytes per row below which no file goes (a registry row is about 150
/// bytes, a CDR about 110): file size / this is an upper bound of its rows.
const MIN_ROW_BYTES: u64 = 80;

/// Imports of at least this many rows (estimated) may rebuild indexes.
const BULK_MIN_ROWS: u64 = 50_000;

/// Whether a file of `bytes` into a table of `existing` rows is a bulk load:
/// then the table's secondary indexes are dropped for the load and built
/// again at the end, in the same transaction (SQLite builds an index by
/// sorting, several times faster than as many random B-tree inserts), which
/// pays when the file may hold at least as many rows as the table.
fn bulk_load(bytes: u64, existing: u64) -> bool {
    let rows = bytes / MIN_ROW_BYTES;
    rows >= BULK_MIN_ROWS && rows / 2 >= existing
}

/// Whether `table` has no rows.
fn table_is_empty(conn: &rusqlite::Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(&format!("SELECT NOT EXISTS (SELECT 1 FROM {table})"), [], |r| r.get(0))
}

/// Rows in `table` (SQLite counts them in its smallest index).
fn count_rows(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<u64> {
    tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
        .map(|n| u64::try_from(n).unwrap_or(0))
}

/// Drops `table`'s declared indexes (never the primary key's; unique ones
/// only with `unique`), returning the SQL that makes them again, unique ones
/// first.
fn drop_indexes(tx: &Transaction<'_>, table: &str, unique: bool) -> rusqlite::Result<Vec<String>> {
    // The carriers' tables are in the attached `carrier` database; SQLite
    // keeps their index definitions there, written without the schema name.
    let schema = crate::store::CARRIER;
    let mut stmt = tx.prepare(&format!(
        "SELECT name, sql FROM {schema}.sqlite_schema WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL"
    ))?;
    let mut found: Vec<(String, String)> =
        stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let is_unique = |sql: &str| sql.starts_with("CREATE UNIQUE INDEX ");
    found.retain(|(_, sql)| unique || !is_unique(sql));
    found.sort_by_key(|(_, sql)| !is_unique(sql));
    for (name, _) in &found {
        tx.execute_batch(&format!("DROP INDEX {schema}.\"{}\"", name.replace('"', "\"\"")))?;
    }
    Ok(found
        .into_iter()
        .map(|(_, sql)| {
            let head = if is_unique(&sql) { "CREATE UNIQUE INDEX " } else { "CREATE INDEX " };
            sql.replacen(head, &format!("{head}{schema}."), 1)
        })
        .collect())
}

/// The largest rowid of a table (0 when empty): new rows get larger ones.
fn max_rowid(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<i64> {
    tx.query_row(&format!("SELECT coalesce(max(rowid), 0) FROM {table}"), [], |r| r.get(0))
}

/// Imports one file of kind `S` from `reader` (total size `size` if known,
/// for progress) under the name `file`.
pub(crate) fn run<S: Sink, R: Read + Send>(
    store: &mut Store,
    reader: R,
    file: &str,
    size_hint: Option<u64>,
    mut options: ImportOptions,
) -> Result<ImportOutcome, ImportError> {
    let started = Instant::now();
    let started_ms = now_ms();
    let size_hint = size_hint.or(options.size);
    let tap = Tap::new(reader);
    let mut csv =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(READ_BUFFER).from_reader(tap);
    let mut rec = csv::ByteRecord::new();
    // The header: the first record.
    let has_header = csv.read_byte_record(&mut rec).map_err(|e| csv_error(file, e))?;
    if !has_header {
        return Err(ImportError::new(ImportErrorKind::Empty, format!("{file}: empty file (no header line)")));
    }
    strip_bom(&mut rec);
    let cols =
        map_header(&rec, S::COLUMNS).map_err(|m| ImportError::new(ImportErrorKind::Header, format!("{file}: {m}")))?;
    let width = rec.len();

    // Sorted runs spill beside the store (the disk that holds its data),
    // or into the system's temporary directory for an in-memory store.
    let spill_dir = match store.dir() {
        d if d.as_os_str().is_empty() => std::env::temp_dir(),
        d => d.to_path_buf(),
    };
    let conn = store.conn_mut();
    // The carriers' tables live in the attached `carrier` database (store/mod.rs).
    let old_cache: i64 = conn.query_row("PRAGMA carrier.cache_size", [], |r| r.get(0)).map_err(ImportError::store)?;
    let cache_kib = -i64::from(options.cache_mib.max(2)) * 1024;
    conn.pragma_update(Some(crate::store::CARRIER), "cache_size", cache_kib).map_err(ImportError::store)?;
    // Foreign-key enforcement off for the import's transaction: the only
    // reference written is `import_id`, to the `imports` row inserted just
    // before in the same transaction. With it on, every upsert needs a
    // statement journal (a copy of each page it touches) and runs 2-3 times
    // slower. The pragma is a no-op inside a transaction, hence set here.
    let old_fk: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).map_err(ImportError::store)?;
    conn.pragma_update(None, "foreign_keys", false).map_err(ImportError::store)?;
    // In WAL mode, the commit only appends the last pages to the log. SQLite
    // would then fold the whole log back into `carrier.db` inside the
    // commit (its automatic checkpoint, once the log passes its threshold:
    // after 10 M rows, 2.7 GB copied again, a fifth of the import). That is
    // left to whoever checkpoints the store: the server's checkpointer
    // thread, passively ([`crate::store::Checkpointer`]), or closing the
    // store on the command line. The rows are committed either way.
    let old_autocheckpoint: i64 =
        conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).map_err(ImportError::store)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(ImportError::store)?;
    // A load into an empty table writes its pages once, without the log,
    // when no one else has the store open (see the function). Should rows
    // arrive between this check and the transaction, the import only
    // chooses another order below: a rollback journal is as safe, merely
    // slower for pages that already existed. Should the check fail, the
    // import goes on in WAL mode (the same failure, if it lasts, then
    // surfaces inside the transaction and the settings above are put back).
    let rollback_journal = S::APPEND
        && matches!(options.order, WriteOrder::Auto | WriteOrder::Append)
        && table_is_empty(conn, S::TABLE)
            .and_then(|empty| Ok(empty && crate::store::rollback_journal_for_bulk_load(conn)?))
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not switch carrier.db to a rollback journal; loading through the log");
                false
            });
    if rollback_journal {
        tracing::debug!("loading into an empty table: carrier.db in rollback-journal mode");
    }
    // A load into an empty table writes the table's pages itself, in a file
    // attached now (not possible inside the transaction); see `pages`.
    let mut load = if S::RECORD_COLUMNS.is_some()
        && matches!(options.order, WriteOrder::Auto | WriteOrder::Append)
        && table_is_empty(conn, S::TABLE).unwrap_or(false)
    {
        Load::attach::<S>(conn, &spill_dir)
    } else {
        None
    };
    let result = (|| {
        let tx = conn.transaction().map_err(ImportError::store)?;
        let before = max_rowid(&tx, S::TABLE).map_err(ImportError::store)?;
        tx.execute(
            "INSERT INTO imports (kind, file, sha256, rows, started_at, actor) VALUES (?1, ?2, '', 0, ?3, ?4)",
            params![S::KIND.as_str(), file, started_ms, options.actor],
        )
        .map_err(ImportError::store)?;
        let import_id = tx.last_insert_rowid();
        let existing = count_rows(&tx, S::TABLE).map_err(ImportError::store)?;
        let cache_bytes = cache_kib.unsigned_abs() * 1024;
        let order = match options.order {
            WriteOrder::Auto | WriteOrder::Append if existing == 0 && S::APPEND && S::KEY_TEXT.is_some() => {
                WriteOrder::Append
            }
            WriteOrder::Auto | WriteOrder::Append if size_hint.is_some_and(|b| b > 2 * cache_bytes) => WriteOrder::Key,
            WriteOrder::Auto | WriteOrder::Append => WriteOrder::Chunks,
            other => other,
        };
        let shape = S::KEY_TEXT.map(|key| sort::Shape { texts: S::TEXTS, ints: S::INTS, key });
        let append = order == WriteOrder::Append && shape.is_some();
        let rebuild = append || size_hint.is_some_and(|b| bulk_load(b, existing));
        let indexes =
            if rebuild { drop_indexes(&tx, S::TABLE, append).map_err(ImportError::store)? } else { Vec::new() };
        let mut writer = Writer { tx: &tx, file, import_id, rows: 0, bad: BadRows::default() };
        let sink = S::new(&options);
        let progress = options.progress.take();
        let mut stage = options.stage.take();
        // Chunks of rows are sorted by key for key and chunk order: in chunk
        // order the reader sorts each while this thread writes the one
        // before; in key order and when appending, the whole file, see below.
        let sort = shape.filter(|_| matches!(order, WriteOrder::Key | WriteOrder::Chunks | WriteOrder::Append));
        // Two threads: this one writes to the database, which is most of the
        // work; a reader parses, validates, hashes and sorts ahead of it.
        // When the whole file is sorted before anything is written, this
        // thread only collects chunks meanwhile: then it sorts them, and the
        // reader parses on a thread of its own (measured on a slow evening:
        // 10 M rows read and sorted in 20.7 s instead of 35.6 s with the
        // parsing apart; 1 M rows sorted whole, `--cache-mib 100`, in
        // 1.97-2.30 s instead of 2.31-2.62 s with the sorting here as well,
        // three alternating pairs).
        let parse_apart = sort.is_some() && order != WriteOrder::Chunks;
        // The whole file's rows, sorted here: held in memory up to the page
        // cache's budget (the cache stays small while they are written),
        // beyond it spilled in runs. A file whose rows are expected to fit
        // (the rows held take about a third more than their bytes in the
        // file: 209 MiB for the 163 MiB of 1 M synthetic registry rows) is
        // held whole.
        let sorter = shape.filter(|_| parse_apart).map(|shape| {
            let sorter = sort::Sorter::new(shape, usize::try_from(cache_bytes).unwrap_or(usize::MAX), &spill_dir);
            match size_hint {
                Some(b) if b.saturating_mul(HELD_PER_FILE_BYTE.0) / HELD_PER_FILE_BYTE.1 <= cache_bytes => {
                    sorter.fitting()
                }
                _ => sorter,
            }
        });
        let (tap, stored) = std::thread::scope(|scope| {
            let in_flight = if sort.is_some() { CHUNKS_IN_FLIGHT } else { BATCHES_IN_FLIGHT };
            let (send, recv) = std::sync::mpsc::sync_channel(in_flight);
            let reader = scope.spawn(move || read_batches(csv, sink, cols, width, sort, parse_apart, send, progress));
            let stored = match (sorter, order) {
                (Some(sorter), WriteOrder::Append) => writer.in_key_order::<S>(
                    recv,
                    sorter,
                    true,
                    Write::Insert,
                    load.as_mut().filter(|_| existing == 0),
                    &mut stage,
                ),
                (Some(sorter), WriteOrder::Key) => {
                    writer.in_key_order::<S>(recv, sorter, !indexes.is_empty(), Write::Upsert, None, &mut stage)
                }
                _ => writer.as_read::<S>(recv),
            };
            // The receiver is gone: a reader still sending stops.
            let tap =
                reader.join().map_err(|_| ImportError::new(ImportErrorKind::Io, format!("{file}: reader failed")));
            (tap, stored)
        });
        stored?;
        let tap = tap?;
        let Writer { rows, bad, .. } = writer;
        if bad.total > 0 {
            // Dropping `tx` rolls everything back, the imports row included.
            drop(tx);
            let rejection = Rejection { rows, bad_rows: bad.total, errors: bad.errors };
            return Err(ImportError {
                kind: ImportErrorKind::Rejected,
                message: format!("{file}: {} bad row(s) of {rows}; nothing was stored", rejection.bad_rows),
                rejection: Some(Box::new(rejection)),
                source: None,
            });
        }
        build_indexes(&tx, &indexes, &mut stage).map_err(ImportError::store)?;
        let sha256 = hex::encode(tap.hash.finalize());
        let inserted = if append {
            // Into an empty table: every row is new.
            rows
        } else if S::KEY_IS_ROWID {
            let after = count_rows(&tx, S::TABLE).map_err(ImportError::store)?;
            after.saturating_sub(existing).min(rows)
        } else {
            // Each new row took max(rowid)+1 (nothing is deleted meanwhile),
            // so the rowid range grew by the number of inserted rows.
            let after = max_rowid(&tx, S::TABLE).map_err(ImportError::store)?;
            u64::try_from(after - before).unwrap_or(0).min(rows)
        };
        tx.execute(
            "UPDATE imports SET sha256 = ?1, rows = ?2, finished_at = ?3 WHERE id = ?4",
            params![sha256, rows as i64, now_ms(), import_id],
        )
        .map_err(ImportError::store)?;
        tx.commit().map_err(ImportError::store)?;
        Ok(ImportOutcome {
            kind: S::KIND,
            file: file.to_owned(),
            sha256,
            import_id,
            rows,
            inserted,
            updated: rows - inserted,
            elapsed: started.elapsed(),
        })
    })();
    if let Some(load) = load.take() {
        load.detach(conn);
    }
    let _ = conn.pragma_update(Some(crate::store::CARRIER), "cache_size", old_cache);
    let _ = conn.pragma_update(None, "foreign_keys", old_fk);
    let _ = conn.pragma_update(None, "wal_autocheckpoint", old_autocheckpoint);
    if rollback_journal {
        crate::store::wal_again(conn);
    }
    result
}

/// The database side of an import: takes the reader's batches and writes
/// their rows inside the import's transaction, collecting bad rows.
struct Writer<'t, 'c> {
    tx: &'t Transaction<'c>,
    file: &'t str,
    import_id: i64,
    /// Records read (good and bad).
    rows: u64,
    bad: BadRows,
}

type Batches = std::sync::mpsc::Receiver<Result<Batch, csv::Error>>;

impl Writer<'_, '_> {
    /// Upserts the rows as they come: in file order, or in the reader's
    /// sorted chunks ([`WriteOrder::Chunks`]).
    fn as_read<S: Sink>(&mut self, recv: Batches) -> Result<(), ImportError> {
        let mut upsert = self.tx.prepare(S::UPSERT_SQL).map_err(ImportError::store)?;
        let mut dups = Vec::new();
        for batch in recv {
            let batch = batch.map_err(|e| csv_error(self.file, e))?;
            self.rows += batch.records;
            write_rows::<S>(&mut upsert, batch.rows(), self.import_id, |line| dups.push(line))?;
            // Bad rows of the batch in line order: the reader's and the
            // duplicates (found in key order when the batch is sorted).
            dups.sort_unstable();
            let mut reader_bad = batch.bad.into_iter().peekable();
            for line in dups.drain(..) {
                while let Some(e) = reader_bad.next_if(|e| e.line < line) {
                    self.bad.push(e.line, e.reason);
                }
                self.bad.push(line, S::DUPLICATE.to_owned());
            }
            for e in reader_bad {
                self.bad.push(e.line, e.reason);
            }
        }
        Ok(())
    }

    /// Sorts the rows by key (see [`sort`]), holding at most `budget` bytes
    /// of them in memory and spilling the rest into `spill_dir`, then
    /// upserts them in key order. A repeated key is the rows after the
    /// first in the file; once the file is known to be refused nothing more
    /// is written, but every row is still checked, for the report.
    fn in_key_order<S: Sink>(
        &mut self,
        recv: Batches,
        mut sorter: sort::Sorter,
        indexes_dropped: bool,
        how: Write,
        load: Option<&mut Load>,
        stage: &mut Option<StageFn>,
    ) -> Result<(), ImportError> {
        let file = self.file;
        let (shape, budget) = (sorter.shape(), sorter.budget() as u64);
        let spill_dir = sorter.dir().to_path_buf();
        let spill_error = |e| ImportError::io(format!("{file}: sorting rows in {}", spill_dir.display()), e);
        for batch in recv {
            let batch = batch.map_err(|e| csv_error(file, e))?;
            self.rows += batch.records;
            for e in batch.bad {
                self.bad.push(e.line, e.reason);
            }
            let chunk = batch.sorted.unwrap_or_else(|| sort::sorted(&batch.rows, shape));
            sorter.push(chunk).map_err(spill_error)?;
        }
        tracing::debug!(rows = self.rows, runs = sorter.runs(), held_mib = sorter.held() >> 20, "rows read and sorted");
        if let (Some(report), 0) = (stage.as_mut(), self.bad.total) {
            report(Stage::Writing { rows: self.rows });
        }
        // Into a table without its secondary indexes (a bulk load) the rows
        // held and the page cache share the budget while writing: in key
        // order the B-trees grow at their right edge and need few pages.
        // With the indexes kept, their random updates want the whole cache,
        // so memory may reach twice the budget.
        let held_kib = i64::try_from(sorter.held() / 1024).unwrap_or(i64::MAX);
        let budget_kib = i64::try_from(budget / 1024).unwrap_or(i64::MAX);
        let writing_kib =
            if indexes_dropped { budget_kib.saturating_sub(held_kib) } else { budget_kib }.max(MIN_WRITING_CACHE_KIB);
        self.tx.pragma_update(Some(crate::store::CARRIER), "cache_size", -writing_kib).map_err(ImportError::store)?;
        let merge = sorter.finish().map_err(spill_error)?;
        // A thread of its own merges the runs (reading them back, comparing
        // keys) and drops repeated keys, handing on batches in key order:
        // this thread only upserts.
        let (send, recv) = std::sync::mpsc::sync_channel(MERGED_IN_FLIGHT);
        let import_id = self.import_id;
        let written = std::thread::scope(|scope| {
            scope.spawn(move || merge_batches(merge, shape, &send));
            let mut dups = DupLines::default();
            // Into an empty table: the rows go into table pages of the load
            // file, which SQLite copies into the store a segment at a time
            // (see `pages`).
            if let Some(load) = load.filter(|_| how == Write::Insert) {
                let load_path = load.file.path().display().to_string();
                let load_error = |e| ImportError::io(format!("{file}: writing {load_path}"), e);
                let mut copy = self
                    .tx
                    .prepare(&format!(
                        "INSERT INTO {0}.{1} SELECT * FROM {LOAD_SCHEMA}.{1}",
                        crate::store::CARRIER,
                        S::TABLE
                    ))
                    .map_err(ImportError::store)?;
                let mut copied = 0u64;
                let mut segments = 0u64;
                let mut copy_segment = |pages: &mut pages::TableWriter<'_>| -> Result<(), ImportError> {
                    let rows = pages.finish().map_err(load_error)?;
                    let n = copy.execute([]).map_err(ImportError::store)? as u64;
                    if n != rows {
                        return Err(ImportError::new(
                            ImportErrorKind::Io,
                            format!("{file}: {rows} rows written into {load_path} but {n} copied into the store"),
                        ));
                    }
                    // SQLite keeps its read lock on the load file until the
                    // transaction ends, and with it the pages it read: the
                    // next segment's are new.
                    self.tx.execute_batch("PRAGMA shrink_memory").map_err(ImportError::store)?;
                    copied += rows;
                    segments += 1;
                    Ok(())
                };
                let mut pages = pages::TableWriter::new(&mut load.file);
                let mut record = pages::Record::default();
                drain_merged(recv, &mut dups, self.bad.total, spill_error, |r, _| {
                    let mut texts = [""; 16];
                    for i in 0..r.len() {
                        for (j, t) in texts.iter_mut().enumerate().take(S::TEXTS) {
                            *t = r.get(i, S::TEXTS, j);
                        }
                        let rowid = S::record(&texts[..S::TEXTS], r.ints_of(i, S::INTS), import_id, &mut record)
                            .ok_or_else(|| {
                                ImportError::new(ImportErrorKind::Io, format!("{file}: line {}: no key", r.line(i)))
                            })?;
                        if !pages.push(rowid, &record).map_err(load_error)? {
                            copy_segment(&mut pages)?;
                            if !pages.push(rowid, &record).map_err(load_error)? {
                                return Err(ImportError::new(
                                    ImportErrorKind::Io,
                                    format!("{file}: line {}: the row does not fit in {load_path}", r.line(i)),
                                ));
                            }
                        }
                    }
                    Ok(())
                })?;
                if self.bad.total > 0 || dups.total > 0 {
                    return Ok(dups);
                }
                copy_segment(&mut pages)?;
                tracing::debug!(rows = copied, segments, "table pages written and copied");
                return Ok(dups);
            }
            let sql = match how {
                Write::Upsert => S::UPSERT_SQL,
                Write::Insert => insert_sql(S::UPSERT_SQL),
            };
            let mut upsert = self.tx.prepare(sql).map_err(ImportError::store)?;
            drain_merged(recv, &mut dups, self.bad.total, spill_error, |rows, dups| {
                write_rows::<S>(&mut upsert, rows, import_id, |line| dups.push(line))
            })?;
            Ok(dups)
        });
        let dups = written?;
        tracing::debug!("rows written in key order");
        self.tx
            .pragma_update(Some(crate::store::CARRIER), "cache_size", -budget_kib.max(MIN_WRITING_CACHE_KIB))
            .map_err(ImportError::store)?;
        self.add_repeats::<S>(dups);
        Ok(())
    }

    /// Adds repeated keys' lines to the bad rows, in line order.
    fn add_repeats<S: Sink>(&mut self, dups: DupLines) {
        if dups.total == 0 {
            return;
        }
        let reader_bad = std::mem::take(&mut self.bad);
        let mut repeats = dups.smallest.into_sorted_vec().into_iter().peekable();
        for e in reader_bad.errors {
            while let Some(line) = repeats.next_if(|&l| l < e.line) {
                self.bad.push(line, S::DUPLICATE.to_owned());
            }
            self.bad.push(e.line, e.reason);
        }
        for line in repeats {
            self.bad.push(line, S::DUPLICATE.to_owned());
        }
        self.bad.total = reader_bad.total + dups.total;
    }
}

/// The schema name the load file is attached as.
const LOAD_SCHEMA: &str = "import_load";

/// A load file's name: this prefix, the process id, a time stamp.
const LOAD_FILE_PREFIX: &str = ".duanka-load-";

/// Removes the load files in `dir` that a killed import left behind (their
/// process is gone).
fn remove_stale_loads(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) =
            name.to_str().and_then(|n| n.strip_prefix(LOAD_FILE_PREFIX)).and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        let alive = pid == std::process::id().to_string() || std::path::Path::new("/proc").join(pid).exists();
        if !alive {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!(path = %entry.path().display(), "removed a load file left by a killed import"),
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), error = %e, "could not remove a stale load file")
                }
            }
        }
    }
}

/// A first load's table pages ([`pages`]): the file, attached to the
/// store's connection as [`LOAD_SCHEMA`].
#[derive(Debug)]
struct Load {
    file: pages::LoadFile,
}

impl Load {
    /// Creates the load file for `S`'s table in `dir` and attaches it, if
    /// the store's table is the one [`Sink::record`] encodes; `None` (the
    /// rows are then inserted through SQL) otherwise or on any failure.
    fn attach<S: Sink>(conn: &rusqlite::Connection, dir: &std::path::Path) -> Option<Load> {
        let columns = S::RECORD_COLUMNS?;
        let carrier = crate::store::CARRIER;
        let create_sql: String = conn
            .query_row(
                &format!("SELECT sql FROM {carrier}.sqlite_schema WHERE type = 'table' AND name = ?1"),
                [S::TABLE],
                |r| r.get(0),
            )
            .ok()?;
        let table: Vec<(String, String, i64)> = conn
            .prepare("SELECT name, type, pk FROM pragma_table_info(?1, ?2) ORDER BY cid")
            .and_then(|mut stmt| {
                stmt.query_map([S::TABLE, carrier], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()
            })
            .ok()?;
        let names_match = table.len() == columns.len() && table.iter().zip(columns).all(|(c, want)| c.0 == *want);
        let rowid_key = table.iter().enumerate().all(|(i, c)| (c.2 == 1) == (i == 0))
            && table.first().is_some_and(|c| c.1.eq_ignore_ascii_case("INTEGER"));
        if !names_match || !rowid_key {
            tracing::warn!(
                table = S::TABLE,
                "the table's columns are not the ones its rows are written as; inserting through SQL"
            );
            return None;
        }
        remove_stale_loads(dir);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = dir.join(format!("{LOAD_FILE_PREFIX}{}-{nanos}.db", std::process::id()));
        let file = pages::LoadFile::create(&path, S::TABLE, &create_sql, pages::PAGE_SIZE, pages::SEGMENT_PAGES)
            .map_err(|e| tracing::warn!(path = %path.display(), error = %e, "could not create the load file; inserting through SQL"))
            .ok()?;
        if let Err(e) = conn.execute(&format!("ATTACH DATABASE ?1 AS {LOAD_SCHEMA}"), [path.to_string_lossy()]) {
            tracing::warn!(error = %e, "could not attach the load file; inserting through SQL");
            return None;
        }
        Some(Load { file })
    }

    /// Detaches the file (outside the transaction) and removes it.
    fn detach(self, conn: &rusqlite::Connection) {
        if let Err(e) = conn.execute_batch(&format!("DETACH DATABASE {LOAD_SCHEMA}")) {
            tracing::warn!(error = %e, "could not detach the load file");
        }
    }
}

/// Hands each batch of merged rows to `write` (with the repeated keys so
/// far), after adding the batch's repeated keys to `dups`. Once the file is
/// known to be refused (`bad` rows before, or a repeat) nothing more is
/// written; the merge still runs to the end, for the report.
fn drain_merged(
    recv: std::sync::mpsc::Receiver<io::Result<Merged>>,
    dups: &mut DupLines,
    bad: u64,
    spill_error: impl Fn(io::Error) -> ImportError,
    mut write: impl FnMut(&Rows, &mut DupLines) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    for merged in recv {
        let merged = merged.map_err(&spill_error)?;
        for &line in &merged.repeats {
            dups.push(line);
        }
        if bad > 0 || dups.total > 0 {
            continue;
        }
        write(&merged.rows, dups)?;
    }
    Ok(())
}

/// Runs `stmt` ([`Sink::write`]) for every row of `r`; a row that changed
/// nothing (its key repeats one this import wrote) goes to `repeat` by line.
fn write_rows<S: Sink>(
    stmt: &mut rusqlite::Statement<'_>,
    r: &Rows,
    import_id: i64,
    mut repeat: impl FnMut(u64),
) -> Result<(), ImportError> {
    let mut texts = [""; 16];
    for i in 0..r.len() {
        for (j, t) in texts.iter_mut().enumerate().take(S::TEXTS) {
            *t = r.get(i, S::TEXTS, j);
        }
        let n = S::write(stmt, &texts[..S::TEXTS], r.ints_of(i, S::INTS), import_id).map_err(ImportError::store)?;
        if n == 0 {
            repeat(r.line(i));
        }
    }
    Ok(())
}

/// How [`Writer::in_key_order`] writes a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// [`Sink::UPSERT_SQL`].
    Upsert,
    /// Its plain `INSERT`, without a conflict target: into an empty table
    /// ([`WriteOrder::Append`]), rows whose repeated keys the merge has
    /// already set apart.
    Insert,
}

/// The plain `INSERT … VALUES (…)` at the head of an upsert.
fn insert_sql(upsert: &str) -> &str {
    upsert.split(" ON CONFLICT").next().unwrap_or(upsert)
}

/// Merged batches in flight from the merging thread to the writer.
const MERGED_IN_FLIGHT: usize = 4;

/// Rows in key order from the merging thread ([`merge_batches`]).
#[derive(Debug, Default)]
struct Merged {
    /// Rows, each key once (its earliest line in the file).
    rows: Rows,
    /// Lines of rows whose key repeats an earlier row's (not in `rows`).
    repeats: Vec<u64>,
}

/// The merging thread of [`Writer::in_key_order`]: drains `merge` into
/// batches of [`BATCH_ROWS`] rows in key order, a repeated key's later rows
/// set apart by line, until the merge ends, fails (the error is sent on) or
/// the writer hangs up.
fn merge_batches(mut merge: sort::Merge, shape: sort::Shape, send: &std::sync::mpsc::SyncSender<io::Result<Merged>>) {
    let mut batch = Merged::default();
    let mut last_key: Option<Vec<u8>> = None;
    while let Some((r, i)) = merge.current() {
        let key = r.get(i, shape.texts, shape.key).as_bytes();
        if last_key.as_deref() == Some(key) {
            batch.repeats.push(r.line(i));
        } else {
            let last = last_key.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(key);
            batch.rows.copy_row(r, i, shape.texts, shape.ints);
        }
        if let Err(e) = merge.advance() {
            let _ = send.send(Err(e));
            return;
        }
        if batch.rows.len() >= BATCH_ROWS && send.send(Ok(std::mem::take(&mut batch))).is_err() {
            return;
        }
    }
    if batch.rows.len() > 0 || !batch.repeats.is_empty() {
        let _ = send.send(Ok(batch));
    }
}

/// Bytes of validated rows held for sorting per byte of the file, at most
/// (as a fraction): see [`run`].
const HELD_PER_FILE_BYTE: (u64, u64) = (3, 2);

/// Page cache, KiB, below which writing in key order never goes.
const MIN_WRITING_CACHE_KIB: i64 = 16 * 1024;

/// Repeated keys found in key order: their count and the first lines.
#[derive(Debug, Default)]
struct DupLines {
    total: u64,
    /// The smallest [`MAX_REPORTED_ROWS`] lines (a max-heap: the largest on top).
    smallest: std::collections::BinaryHeap<u64>,
}

impl DupLines {
    fn push(&mut self, line: u64) {
        self.total += 1;
        if self.smallest.len() < MAX_REPORTED_ROWS {
            self.smallest.push(line);
        } else if self.smallest.peek().is_some_and(|&top| line < top) {
            self.smallest.pop();
            self.smallest.push(line);
        }
    }
}

/// Helper threads SQLite's sorter may use while indexes are built: they sort
/// runs while the import's thread reads the table into the next, and merge
/// them at the end (the reading threads are done by then, so both cores are
/// free). With the small runs of [`INDEX_SORT_CACHE_KIB`], two helpers beat
/// one: measured with the `sqlite3` shell on the three registry indexes of
/// 1 M rows, alternating, 3.3-3.7 s against 3.8-4.3 s (six runs each; no
/// helper, 3.5-4.9 s), and in the import, 2.9-3.6 s against 3.2-3.7 s (five
/// pairs, a busy machine, the index builds alone); at 10 M rows, in the
/// shell, 31-38 s against 33-41 s. With 16 MiB runs one helper was as fast
/// as two.
const INDEX_SORT_THREADS: i64 = 2;

/// Main-database page cache, KiB, while indexes are built (see [`build_indexes`]).
const INDEX_SORT_CACHE_KIB: i64 = 2 * 1024;

/// Makes the indexes dropped for a bulk load again (SQL from [`drop_indexes`]).
///
/// SQLite builds an index by sorting its keys in memory in runs as large as
/// the *main* database's page cache (64 MiB here; 250 pages, 1000 KiB with
/// its 4 KiB pages, at least), merging the runs from temporary files. Small
/// runs sort faster: each is sorted as a linked list, and one that stays
/// near the processor's caches chases its pointers there. So the main cache
/// is cut down to 2 MiB while the indexes are built. Measured with the
/// `sqlite3` shell on the three registry indexes, alternating settings on a
/// busy machine (medians): 1 M rows, 3.3 s with 2 MiB runs against 3.6 s
/// with 4 MiB, 3.8 s with 8 MiB and 4.4 s with 16 MiB (six runs each); 10 M
/// rows, 33.8 s against 40.0 s with 16 MiB (five runs each), 46 s of CPU
/// against 61 s. 64 MiB was slower still.
fn build_indexes(tx: &Transaction<'_>, indexes: &[String], stage: &mut Option<StageFn>) -> rusqlite::Result<()> {
    if indexes.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let main_cache: i64 = tx.query_row("PRAGMA main.cache_size", [], |r| r.get(0))?;
    tx.pragma_update(Some("main"), "cache_size", -INDEX_SORT_CACHE_KIB)?;
    let threads: i64 = tx.query_row("PRAGMA threads", [], |r| r.get(0))?;
    tx.pragma_update(None, "threads", INDEX_SORT_THREADS)?;
    let built = indexes.iter().enumerate().try_for_each(|(i, sql)| {
        if let Some(report) = stage.as_mut() {
            report(Stage::Indexing { index: i + 1, of: indexes.len() });
        }
        tx.execute_batch(sql)
    });
    tx.pragma_update(None, "threads", threads)?;
    tx.pragma_update(Some("main"), "cache_size", main_cache)?;
    tracing::debug!(indexes = indexes.len(), elapsed_s = started.elapsed().as_secs_f64(), "indexes built");
    built
}

/// Drops a UTF-8 byte-order mark from the first field of the header.
fn strip_bom(rec: &mut csv::ByteRecord) {
    let Some(first) = rec.get(0) else { return };
    if let Some(rest) = first.strip_prefix(b"\xEF\xBB\xBF") {
        let mut out = csv::ByteRecord::new();
        out.push_field(rest);
        for f in rec.iter().skip(1) {
            out.push_field(f);
        }
        *rec = out;
    }
}

/// A CSV reader error: I/O, or (with `flexible`, the only other kind left) a
/// malformed file.
fn csv_error(file: &str, e: csv::Error) -> ImportError {
    let line = e.position().map(|p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ImportError::io(format!("reading {file}"), io),
        other => ImportError::new(
            ImportErrorKind::Header,
            format!("{file}: unreadable CSV{}: {other:?}", line.map(|l| format!(" at line {l}")).unwrap_or_default()),
        ),
    }
}

/// Opens `path` for [`run`]: the reader, its size and its display name.
pub(crate) fn open(path: &std::path::Path) -> Result<(std::fs::File, String), ImportError> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| ImportError::io(format!("opening {name}"), e))?;
    Ok((f, name))
}

/// How a bad value appears in a row error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Show {
    /// As written (identifiers of cards and equipment).
    Value,
    /// Masked (owner ids: personal data).
    Masked,
    /// Not at all (names: personal data).
    Hidden,
}

/// A record's fields, its bytes checked as UTF-8 once for all of them
/// rather than field by field (a tenth of the validating thread's time).
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    rec: &'a csv::ByteRecord,
    /// The record's bytes, when they are UTF-8 and every field starts and
    /// ends between characters (each field is UTF-8 then).
    text: Option<&'a str>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(rec: &'a csv::ByteRecord) -> Fields<'a> {
        let text = std::str::from_utf8(rec.as_slice()).ok().filter(|t| {
            (0..rec.len())
                .all(|i| rec.range(i).is_some_and(|r| t.is_char_boundary(r.start) && t.is_char_boundary(r.end)))
        });
        Fields { rec, text }
    }

    /// Field `c`'s bytes as written (empty if the record is shorter).
    fn raw(&self, c: usize) -> &'a [u8] {
        self.rec.get(c).unwrap_or(&[])
    }

    /// Field `c` as trimmed, non-empty UTF-8 ([`validate::utf8`]).
    fn utf8(&self, c: usize) -> Result<&'a str, validate::Invalid> {
        match (self.text, self.rec.range(c)) {
            (Some(text), Some(range)) => {
                let s = text.get(range).unwrap_or_default().trim_matches([' ', '\t']);
                if s.is_empty() {
                    Err(validate::Invalid::new("empty"))
                } else {
                    Ok(s)
                }
            }
            _ => validate::utf8(self.raw(c)),
        }
    }
}

/// Field `i` of `rec` (for `column`) as trimmed, non-empty UTF-8, passed
/// through `rule`; on failure records why in `reasons` and returns `None`.
pub(crate) fn check<'a, T>(
    rec: &Fields<'a>,
    cols: &[usize],
    i: usize,
    column: &str,
    show: Show,
    reasons: &mut Reasons,
    rule: impl FnOnce(&'a str) -> Result<T, validate::Invalid>,
) -> Option<T> {
    let c = cols.get(i).copied().unwrap_or(usize::MAX);
    let s = match rec.utf8(c) {
        Ok(s) => s,
        Err(why) => {
            reasons.field_hidden(column, &why);
            return None;
        }
    };
    match rule(s) {
        Ok(v) => Some(v),
        Err(why) => {
            match show {
                Show::Value => reasons.field(column, rec.raw(c), &why),
                Show::Masked => reasons.field_shown(column, &validate::mask_owner_id(s), &why),
                Show::Hidden => reasons.field_hidden(column, &why),
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads all of `data` through a tap, `chunk` bytes at a time.
    fn through(data: &[u8], chunk: usize) -> (Vec<u8>, u64) {
        struct Chunked<'a>(&'a [u8], usize);
        impl Read for Chunked<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut tap = Tap::new(Chunked(data, chunk));
        let mut out = Vec::new();
        tap.read_to_end(&mut out).unwrap();
        (out, tap.bytes)
    }

    #[test]
    fn the_tap_turns_line_ends_into_lf_across_chunks() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"a,b\r\nc,d\r\n", b"a,b\nc,d\n"),
            (b"a\rb\rc", b"a\nb\nc"),
            (b"a\r\r\nb\n\n", b"a\n\nb\n\n"),
            (b"\"x\r\ny\"\r\n", b"\"x\ny\"\n"),
            (b"plain\n", b"plain\n"),
        ];
        for (input, want) in cases {
            for chunk in 1..=input.len() {
                let (out, bytes) = through(input, chunk);
                assert_eq!(out, want, "{input:?} in chunks of {chunk}");
                assert_eq!(bytes, input.len() as u64);
            }
        }
    }

    #[test]
    fn the_tap_hashes_the_bytes_as_in_the_file() {
        let data = b"a\r\nb\r\n";
        let mut tap = Tap::new(&data[..]);
        std::io::copy(&mut tap, &mut std::io::sink()).unwrap();
        assert_eq!(tap.hash.finalize().as_slice(), Sha256::digest(data).as_slice());
    }

    #[test]
    fn fields_read_as_each_field_alone_would() {
        // Pieces of fields: ASCII, blanks, whole and cut characters (the
        // bytes of "张" are e5 bc a0), a byte that is never UTF-8.
        let pieces: [&[u8]; 8] = [b"", b"a", b" ", b"\t", "张".as_bytes(), b"\xe5", b"\xbc\xa0", b"\xff"];
        let mut fields = Vec::new();
        for a in pieces {
            for b in pieces {
                fields.push([a, b].concat());
            }
        }
        let mut rec = csv::ByteRecord::new();
        for (i, x) in fields.iter().enumerate() {
            for y in fields.iter().skip(i % 7).step_by(5) {
                rec.clear();
                rec.push_field(x);
                rec.push_field(y);
                rec.push_field(b" z ");
                let f = Fields::new(&rec);
                for c in 0..4 {
                    let alone = validate::utf8(rec.get(c).unwrap_or(&[]));
                    assert_eq!(f.utf8(c), alone, "field {c} of {rec:?}");
                    assert_eq!(f.raw(c), rec.get(c).unwrap_or(&[]));
                }
            }
        }
        // A character cut across two fields is valid only as a whole.
        rec.clear();
        rec.push_field(b"a\xe5");
        rec.push_field(b"\xbc\xa0b");
        assert!(std::str::from_utf8(rec.as_slice()).is_ok());
        let f = Fields::new(&rec);
        assert!(f.utf8(0).is_err() && f.utf8(1).is_err());
    }

    #[test]
    fn headers_map_by_name() {
        let cols = ["a", "b", "c"];
        let h = csv::ByteRecord::from(vec![" C ", "a", "B"]);
        assert_eq!(map_header(&h, &cols), Ok(vec![1, 2, 0]));
        let h = csv::ByteRecord::from(vec!["a", "x", "b"]);
        assert_eq!(
            map_header(&h, &cols),
            Err("bad header: missing column(s) c; unknown column(s) \"x\"; expected a,b,c".into())
        );
        let h = csv::ByteRecord::from(vec!["a", "a", "b", "c"]);
        assert!(map_header(&h, &cols).unwrap_err().contains("twice"));
    }

    /// Random bytes (seeded; CSV punctuation, digits, a valid header now and
    /// then, non-UTF-8) never make an import panic, and a refused file stores
    /// nothing.
    #[test]
    fn random_files_never_panic() {
        let mut store = Store::open_in_memory().unwrap();
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet: &[u8] = b"0123456789,,,\"\"\r\n\n:+-TZ passport\xff\xef\xbb\xbfX";
        for round in 0..400 {
            let mut body = Vec::new();
            if round % 2 == 0 {
                let header = if round % 4 == 0 { registry::COLUMNS.join(",") } else { cdr::COLUMNS.join(",") };
                body.extend_from_slice(header.as_bytes());
                body.push(b'\n');
            }
            let len = (next() % 600) as usize;
            body.extend((0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]));
            let r = if round % 3 == 0 {
                registry::import_reader(&mut store, &body[..], "random.csv", ImportOptions::default())
            } else {
                cdr::import_reader(&mut store, &body[..], "random.csv", ImportOptions::default())
            };
            if let Err(e) = r {
                assert!(e.kind().is_refusal(), "{e}");
            }
        }
        let stored: i64 = store
            .conn()
            .query_row("SELECT (SELECT count(*) FROM registry) + (SELECT count(*) FROM cdrs)", [], |r| r.get(0))
            .unwrap();
        let imports: i64 =
            store.conn().query_row("SELECT count(*) FROM imports WHERE rows > 0", [], |r| r.get(0)).unwrap();
        assert_eq!(stored > 0, imports > 0, "rows only ever come with their import");
    }

    /// A registry file of `rows` data rows with a bad one now and then (a
    /// short row, a bad IMSI, a bad ICCID) and a quoted line break.
    fn registry_file(rows: usize) -> Vec<u8> {
        let mut out = registry::COLUMNS.join(",").into_bytes();
        out.push(b'\n');
        for i in 0..rows {
            // IMSIs out of order, so that sorting moves rows.
            let imsi = 460_000_000_000_000u64 + (i as u64 * 7_919) % 1_000_003;
            let row = match i % 1_000 {
                13 => "460001234567890,13000000000\n".to_string(),
                500 => format!("46000{i},13014831856,89860000000000000001,China Mobile,120818199203086533,Lu,O-1,O 1,agent,2025-12-28T13:01:58+08:00\n"),
                700 => format!("{imsi},13014831856,89860000000000000002,China Mobile,120818199203086533,Lu,O-1,O 1,agent,2025-12-28T13:01:58+08:00\n"),
                _ => format!("{imsi},13014831856,89860000000000000001,China Mobile,120818199203086533,\"Lu\nYizi\",O-{},O 1,agent,2025-12-28T13:01:58+08:00\n", i % 97),
            };
            out.extend_from_slice(row.as_bytes());
        }
        out
    }

    /// Reads the bytes given, in pieces, then fails with an I/O error once
    /// the given number of them has been read.
    struct FailsAfter<'a>(&'a [u8], usize);

    impl Read for FailsAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 == 0 {
                return Err(io::Error::other("disk gone"));
            }
            let n = self.0.len().min(self.1).min(buf.len()).min(10_007);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            self.1 -= n;
            Ok(n)
        }
    }

    /// What the reading thread hands on for `data` cut off by an I/O error
    /// after `fail_after` bytes: one line per batch (records, bad rows,
    /// good rows with their lines and values) or error; the bytes hashed.
    fn handed_on(data: &[u8], fail_after: usize, sort: bool, parse_apart: bool) -> (Vec<String>, u64, Vec<u8>) {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(READ_BUFFER)
            .from_reader(Tap::new(FailsAfter(data, fail_after)));
        let mut header = csv::ByteRecord::new();
        assert!(csv.read_byte_record(&mut header).unwrap());
        let cols = map_header(&header, &registry::COLUMNS).unwrap();
        let sink = registry::RegistrySink::new(&ImportOptions::default());
        let shape = sort.then(|| sort::Shape {
            texts: registry::RegistrySink::TEXTS,
            ints: registry::RegistrySink::INTS,
            key: registry::RegistrySink::KEY_TEXT.unwrap(),
        });
        let progressed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = progressed.clone();
        let progress: ProgressFn = Box::new(move |b| {
            assert!(b >= seen.load(std::sync::atomic::Ordering::Relaxed), "progress only grows");
            seen.store(b, std::sync::atomic::Ordering::Relaxed);
        });
        let (send, recv) = std::sync::mpsc::sync_channel(1);
        let width = header.len();
        std::thread::scope(|scope| {
            let reader =
                scope.spawn(move || read_batches(csv, sink, cols, width, shape, parse_apart, send, Some(progress)));
            let (texts, ints) = (registry::RegistrySink::TEXTS, registry::RegistrySink::INTS);
            let out = recv
                .iter()
                .map(|got| match got {
                    Err(e) => format!("error: {e}"),
                    Ok(batch) => {
                        // Unsorted chunks are sorted by the receiver.
                        let sorted =
                            shape.filter(|_| batch.sorted.is_none()).map(|shape| sort::sorted(&batch.rows, shape));
                        let rows = sorted.as_ref().map_or(batch.rows(), sort::SortedRows::rows);
                        let good: Vec<String> = (0..rows.len())
                            .map(|i| {
                                let t: Vec<&str> = (0..texts).map(|j| rows.get(i, texts, j)).collect();
                                format!("{} {t:?} {:?}", rows.line(i), rows.ints_of(i, ints))
                            })
                            .collect();
                        let bad: Vec<String> = batch.bad.iter().map(|b| format!("{} {}", b.line, b.reason)).collect();
                        format!("{} records; bad {bad:?}; good {good:?}", batch.records)
                    }
                })
                .collect();
            let tap = reader.join().unwrap();
            assert_eq!(progressed.load(std::sync::atomic::Ordering::Relaxed), tap.bytes, "the last report is the end");
            (out, tap.bytes, tap.hash.finalize().to_vec())
        })
    }

    /// Parsing on a thread of its own hands on the same batches, bad rows,
    /// errors and hash as parsing and validating on one, sorted or not,
    /// whether the file ends well or fails part way.
    #[test]
    fn parsing_apart_hands_on_the_same() {
        let rows = sort::CHUNK_ROWS + PARSED_ROWS + 5;
        let data = registry_file(rows);
        for fail_after in [usize::MAX, data.len() / 3, data.len() - 1, 200] {
            for sort in [false, true] {
                let (one, bytes, hash) = handed_on(&data, fail_after, sort, false);
                let (apart, bytes_apart, hash_apart) = handed_on(&data, fail_after, sort, true);
                assert_eq!(one.len(), apart.len(), "batches, failing after {fail_after}, sort {sort}");
                for (i, (a, b)) in one.iter().zip(&apart).enumerate() {
                    assert!(a == b, "batch {i} differs, failing after {fail_after}, sort {sort}:\n{a:.300}\n{b:.300}");
                }
                assert_eq!((bytes, hash), (bytes_apart, hash_apart));
                let failed = one.last().is_some_and(|l| l.starts_with("error: ") && l.contains("disk gone"));
                assert_eq!(failed, fail_after < data.len(), "{:?}", one.last().map(|l| &l[..l.len().min(200)]));
                if fail_after == usize::MAX {
                    assert_eq!(bytes, data.len() as u64);
                    let records: u64 = one.iter().map(|l| l.split(' ').next().unwrap().parse::<u64>().unwrap()).sum();
                    assert_eq!(records, rows as u64);
                    let bad = one.iter().map(|l| l.matches("fields, expected").count()).sum::<usize>();
                    assert_eq!(bad, (0..rows).filter(|i| i % 1_000 == 13).count(), "short rows");
                    let batches = if sort { rows.div_ceil(sort::CHUNK_ROWS) } else { rows.div_ceil(BATCH_ROWS) };
                    assert_eq!(one.len(), batches);
                }
            }
        }
    }

    #[test]
    fn the_registry_as_migrated_is_the_table_its_pages_are_written_for() {
        // Should a migration change the registry's columns, first loads would
        // quietly go back to inserting through SQL: this says so first.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // A load file of a process that is gone (pid 0 has no /proc entry)
        // is removed; one of a live process (ours) is not.
        let stale = dir.path().join(format!("{LOAD_FILE_PREFIX}0-1.db"));
        let live = dir.path().join(format!("{LOAD_FILE_PREFIX}{}-1.db", std::process::id()));
        std::fs::write(&stale, b"").unwrap();
        std::fs::write(&live, b"").unwrap();
        let load = Load::attach::<registry::RegistrySink>(store.conn(), dir.path()).expect("the load file");
        assert!(!stale.exists() && live.exists());
        let path = load.file.path().to_path_buf();
        assert!(path.starts_with(dir.path()), "{}", path.display());
        let rows: i64 =
            store.conn().query_row(&format!("SELECT count(*) FROM {LOAD_SCHEMA}.registry"), [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 0);
        load.detach(store.conn());
        assert!(!path.exists(), "the load file is left behind");
        let attached: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM pragma_database_list WHERE name = ?1", [LOAD_SCHEMA], |r| r.get(0))
            .unwrap();
        assert_eq!(attached, 0);
    }

    #[test]
    fn bulk_loads_are_big_files_into_small_tables() {
        assert!(!bulk_load(1_000_000, 0), "12,500 rows at most");
        assert!(bulk_load(100_000_000, 0));
        assert!(bulk_load(100_000_000, 600_000));
        assert!(!bulk_load(100_000_000, 700_000));
    }
}
