//! Validated rows put in key order before they are written: an external
//! merge sort with bounded memory.
//!
//! Why: a table's primary-key B-tree filled in key order grows at its right
//! edge (each insert lands on the page the last one did), while random keys
//! touch a random page each and, once the index outgrows the page cache,
//! read it back from disk. Measured on the synthetic registry (1 M rows,
//! IMSIs in random order), the upserts alone cost about three times as much
//! CPU in file order as in key order.
//!
//! # Contract
//!
//! - [`sorted`] sorts a chunk of validated [`Rows`] (consecutive rows of the
//!   file, up to [`CHUNK_ROWS`]; the reading thread or the import's
//!   writing thread, whichever has time) and
//!   [`Sorter::push`] takes the sorted chunks in file order. When the
//!   chunks held exceed half the memory budget they go to a thread of the
//!   sorter's own, which merges them into one sorted *run* in an anonymous
//!   temporary file (deleted by the system when closed, also after a
//!   crash) and drops them, while the next half fills. A sorter told that
//!   the rows fit ([`Sorter::fitting`]) holds the whole budget first.
//! - [`Sorter::finish`] hands back a [`Merge`] of the runs and the chunks
//!   still in memory, which yields every row once, ordered by key (the
//!   key's bytes, which is SQLite's `BINARY` collation) and, for equal keys,
//!   by line: the first row of a repeated key is the earliest in the file.
//! - Memory: the budget (half as much again, once, when rows said to fit
//!   do not) and one read buffer per run ([`RUN_BUFFER`]); the
//!   reading thread holds the chunk it fills and its sorted copy. Disk:
//!   about the rows' size, in the directory given.
//! - A run file is only ever read by the process that wrote it, but is still
//!   decoded with checks: a short or garbled file is an `InvalidData` error,
//!   never a panic.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use super::Rows;

/// Rows sorted together in memory (a chunk): what the reading thread
/// gathers before it sorts them (for [`super::WriteOrder::Key`] and
/// [`super::WriteOrder::Chunks`]).
pub(crate) const CHUNK_ROWS: usize = 64 * 1024;

/// Read and write buffer of a run file, bytes.
const RUN_BUFFER: usize = 256 * 1024;

/// What a row holds, and which of its strings is the key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Strings per row.
    pub(crate) texts: usize,
    /// Integers per row.
    pub(crate) ints: usize,
    /// The string that is the key.
    pub(crate) key: usize,
}

impl Shape {
    fn key<'r>(&self, rows: &'r Rows, i: usize) -> &'r [u8] {
        rows.get(i, self.texts, self.key).as_bytes()
    }
}

/// The first 16 bytes of a key as two big-endian integers, zero-padded:
/// comparing prefixes orders keys as comparing the keys does, except that
/// equal prefixes leave the order open (then the whole keys are compared).
/// Most comparisons are decided on the integers, without reading the rows.
type Prefix = (u64, u64);

fn prefix(key: &[u8]) -> Prefix {
    let mut b = [0u8; 16];
    let n = key.len().min(16);
    b[..n].copy_from_slice(&key[..n]);
    let (hi, lo) = b.split_at(8);
    (u64::from_be_bytes(hi.try_into().unwrap_or_default()), u64::from_be_bytes(lo.try_into().unwrap_or_default()))
}

/// Rows held in memory, in key order, with their keys' prefixes.
#[derive(Debug)]
struct Chunk {
    rows: Rows,
    prefixes: Vec<Prefix>,
}

/// A copy of `rows` (which are in file order) sorted by key, then by line,
/// and their keys' prefixes. The copy, rather than a sorted list of indices,
/// lets whoever reads the rows next read memory in order.
pub(crate) fn sorted(rows: &Rows, shape: Shape) -> SortedRows {
    let n = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let mut order: Vec<(Prefix, u32)> = (0..n).map(|i| (prefix(shape.key(rows, i as usize)), i)).collect();
    order.sort_unstable_by(|(pa, a), (pb, b)| {
        pa.cmp(pb).then_with(|| shape.key(rows, *a as usize).cmp(shape.key(rows, *b as usize))).then_with(|| a.cmp(b))
    });
    let mut sorted = Rows::with_capacity_of(rows);
    for &(_, i) in &order {
        sorted.copy_row(rows, i as usize, shape.texts, shape.ints);
    }
    SortedRows(Chunk { rows: sorted, prefixes: order.into_iter().map(|(p, _)| p).collect() })
}

/// Rows in key order (from [`sorted`]), for [`Sorter::push`] or to be
/// written as they are ([`SortedRows::rows`]).
#[derive(Debug)]
pub(crate) struct SortedRows(Chunk);

impl SortedRows {
    /// The rows, in key order.
    pub(crate) fn rows(&self) -> &Rows {
        &self.0.rows
    }
}

impl Chunk {
    fn bytes(&self) -> usize {
        self.rows.bytes() + self.prefixes.capacity() * std::mem::size_of::<Prefix>()
    }
}

/// Merges sorted chunks pushed in file order; see the module's contract.
///
/// Spilling happens on a thread of its own ([`Spiller`]): the chunks held
/// reach half the budget, they go to that thread to be merged and written,
/// and the next half fills meanwhile. The thread that pushes (the import's
/// writer, taking chunks from the reading thread) never stops to write a
/// run, so the reading thread never waits for one (measured on 10 M
/// registry rows before this: the reader stood still for about a fifth of
/// the reading phase while 256 MiB runs were written).
#[derive(Debug)]
pub(crate) struct Sorter {
    shape: Shape,
    budget: usize,
    dir: PathBuf,
    chunks: Vec<Chunk>,
    held: usize,
    spiller: Option<Spiller>,
    /// Runs handed to the spiller so far.
    runs: usize,
    /// Held bytes past which the chunks go to the spiller: half the budget,
    /// or all of it for rows expected to fit ([`Sorter::fitting`]).
    spill_at: usize,
}

impl Sorter {
    /// A sorter holding at most about `budget` bytes of rows in memory,
    /// spilling sorted runs into anonymous files in `dir`.
    pub(crate) fn new(shape: Shape, budget: usize, dir: &Path) -> Sorter {
        let spill_at = budget / 2;
        Sorter { shape, budget, dir: dir.to_path_buf(), chunks: Vec::new(), held: 0, spiller: None, runs: 0, spill_at }
    }

    /// The same sorter, for rows expected to fit in the budget whole (the
    /// file's size says so): it holds up to the whole budget before it
    /// spills, instead of half, so that such a file is never spilled. If
    /// they do not fit after all, the first run is the whole budget, and
    /// while it is written the next half fills: memory reaches one and a
    /// half times the budget once.
    pub(crate) fn fitting(mut self) -> Sorter {
        self.spill_at = self.budget;
        self
    }

    /// The budget, bytes.
    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    /// What the rows hold.
    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// Where runs are spilled.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the next rows of the file, sorted ([`sorted`]). Runs are
    /// written on the sorter's thread: this waits only when a run is due
    /// while the one before is still being written.
    pub(crate) fn push(&mut self, rows: SortedRows) -> io::Result<()> {
        let chunk = rows.0;
        if chunk.rows.len() == 0 {
            return Ok(());
        }
        self.held += chunk.bytes();
        self.chunks.push(chunk);
        if self.held > self.spill_at {
            let chunks = std::mem::take(&mut self.chunks);
            self.held = 0;
            self.spill_at = self.budget / 2;
            let spiller = match self.spiller.as_ref() {
                Some(s) => s,
                None => self.spiller.insert(Spiller::start(self.shape, &self.dir)?),
            };
            if spiller.send.send(chunks).is_err() {
                // The thread hung up because it failed: its error.
                let failed = self.spiller.take().map(Spiller::finish);
                return Err(match failed {
                    Some(Err(e)) => e,
                    _ => io::Error::other("the thread writing sorted runs stopped"),
                });
            }
            self.runs += 1;
        }
        Ok(())
    }

    /// Bytes of rows held in memory now by this thread (as much again may
    /// be with the spiller until [`Sorter::finish`]).
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Runs spilled (or being spilled) so far.
    pub(crate) fn runs(&self) -> usize {
        self.runs
    }

    /// All rows pushed, in key order (waits for the last run to be written).
    pub(crate) fn finish(self) -> io::Result<Merge> {
        let runs = match self.spiller {
            Some(s) => s.finish()?,
            None => Vec::new(),
        };
        let mut sources = Vec::with_capacity(runs.len() + self.chunks.len());
        for file in runs {
            sources.push(Source::run(file, self.shape)?);
        }
        sources.extend(self.chunks.into_iter().map(Source::memory));
        Ok(Merge::new(self.shape, sources))
    }
}

/// The thread that merges handed-over chunks into runs on disk, one run at
/// a time; a hand-over waits while the run before is still being written.
#[derive(Debug)]
struct Spiller {
    send: std::sync::mpsc::SyncSender<Vec<Chunk>>,
    thread: std::thread::JoinHandle<io::Result<Vec<File>>>,
}

impl Spiller {
    fn start(shape: Shape, dir: &Path) -> io::Result<Spiller> {
        // No queue: the chunks wait with the pushing thread (counted in its
        // half of the budget) until the spiller takes them.
        let (send, recv) = std::sync::mpsc::sync_channel::<Vec<Chunk>>(0);
        let dir = dir.to_path_buf();
        let thread = std::thread::Builder::new().name("import-spill".into()).spawn(move || {
            let mut runs = Vec::new();
            for chunks in recv {
                runs.push(write_run(shape, chunks, &dir)?);
            }
            Ok(runs)
        })?;
        Ok(Spiller { send, thread })
    }

    /// The runs written, once the last has been.
    fn finish(self) -> io::Result<Vec<File>> {
        drop(self.send);
        self.thread.join().map_err(|_| io::Error::other("the thread writing sorted runs panicked"))?
    }
}

/// Merges sorted `chunks` into one run in an anonymous file in `dir`,
/// rewound for reading.
fn write_run(shape: Shape, chunks: Vec<Chunk>, dir: &Path) -> io::Result<File> {
    let mut merge = Merge::new(shape, chunks.into_iter().map(Source::memory).collect());
    let mut file = BufWriter::with_capacity(RUN_BUFFER, tempfile::tempfile_in(dir)?);
    while let Some((rows, i)) = merge.current() {
        write_row(&mut file, shape, rows, i)?;
        merge.advance()?;
    }
    let mut file = file.into_inner().map_err(|e| e.into_error())?;
    file.rewind()?;
    Ok(file)
}

/// Largest row a run may hold, bytes of strings (validated rows are far
/// smaller): a garbled length is an error, not a huge allocation.
const MAX_ROW_TEXT: usize = 1 << 20;

/// Most strings a row may have (as [`super::Sink::TEXTS`]).
const MAX_TEXTS: usize = 16;

fn garbled(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("sorted run garbled: {why}"))
}

/// Appends row `i` of `rows` to a run: line (u64), each integer (i64), each
/// string's length (u32), then the strings' bytes back to back,
/// little-endian. Reading it back takes two copies and one UTF-8 check.
fn write_row(w: &mut impl Write, shape: Shape, rows: &Rows, i: usize) -> io::Result<()> {
    w.write_all(&rows.line(i).to_le_bytes())?;
    for v in rows.ints_of(i, shape.ints) {
        w.write_all(&v.to_le_bytes())?;
    }
    let mut total = 0;
    for j in 0..shape.texts {
        let len = rows.get(i, shape.texts, j).len();
        total += len;
        w.write_all(&u32::try_from(len).map_err(|_| garbled("field too long"))?.to_le_bytes())?;
    }
    if total > MAX_ROW_TEXT {
        return Err(garbled("row too long"));
    }
    for j in 0..shape.texts {
        w.write_all(rows.get(i, shape.texts, j).as_bytes())?;
    }
    Ok(())
}

/// Reads the next row of a run into `row` (emptied first); false at the end.
fn read_row(r: &mut impl BufRead, shape: Shape, row: &mut Rows, scratch: &mut Vec<u8>) -> io::Result<bool> {
    row.clear();
    if r.fill_buf()?.is_empty() {
        return Ok(false);
    }
    let head = 8 + 8 * shape.ints + 4 * shape.texts;
    scratch.resize(head, 0);
    r.read_exact(scratch)?;
    let (line, rest) = scratch.split_at(8);
    let (ints, lens) = rest.split_at(8 * shape.ints);
    let line = u64::from_le_bytes(line.try_into().unwrap_or_default());
    for v in ints.chunks_exact(8) {
        row.int(i64::from_le_bytes(v.try_into().unwrap_or_default()));
    }
    // Each string's length, kept while `scratch` is reused for the bytes.
    let mut len_of = [0usize; MAX_TEXTS];
    let kept = len_of.get_mut(..shape.texts).ok_or_else(|| garbled("too many strings a row"))?;
    for (len, raw) in kept.iter_mut().zip(lens.chunks_exact(4)) {
        *len = u32::from_le_bytes(raw.try_into().unwrap_or_default()) as usize;
    }
    let lens = &*kept;
    let total: usize = lens.iter().sum();
    if total > MAX_ROW_TEXT {
        return Err(garbled("row too long"));
    }
    scratch.resize(total, 0);
    r.read_exact(scratch)?;
    let text = std::str::from_utf8(scratch).map_err(|_| garbled("not UTF-8"))?;
    let mut at = 0;
    for &len in lens {
        // `get` refuses a cut inside a character: each string is UTF-8 too.
        row.text(text.get(at..at + len).ok_or_else(|| garbled("string cut inside a character"))?);
        at += len;
    }
    row.end_row(line);
    Ok(true)
}

/// Where merged rows come from.
#[derive(Debug)]
enum Source {
    /// A sorted chunk in memory and the position in it.
    Memory { chunk: Chunk, pos: usize },
    /// A run on disk, its current row (none when `row` is empty) and that
    /// row's key prefix.
    Run { reader: BufReader<Drained>, row: Rows, prefix: Prefix, scratch: Vec<u8> },
}

/// Bytes of a run read back after which what was read is given back to the
/// file system ([`Drained`]).
const DRAIN_STEP: u64 = 8 << 20;

/// A run file read once, front to back, whose bytes are given back as they
/// are read: every [`DRAIN_STEP`] bytes, the part already read is punched
/// out of the file (`fallocate`, `FALLOC_FL_PUNCH_HOLE`), so the system's
/// page cache frees those pages at once rather than when the merge ends.
///
/// Why: while the runs are merged, the rows go into the store, whose file
/// grows by about as many bytes as the runs give back (a first load's
/// table, copied a segment at a time, see `super::pages`). Pages just
/// freed are reused at once; pages the system has
/// not had for a while cost much more to take on some virtual machines
/// (this one gives free memory back to its host, and taking it again costs
/// about 13 µs a 4 KiB page: writing 1.2 GB into a new file took 4.7-5.2 s,
/// and 0.42-0.47 s while punching as much out of another file, measured
/// with a script here). Elsewhere it saves writing back run bytes nobody
/// will read again. A file system that cannot punch holes keeps the bytes
/// until the run is closed, as before.
#[derive(Debug)]
struct Drained {
    file: File,
    /// Bytes read so far.
    read: u64,
    /// Bytes punched out so far (from the start).
    punched: u64,
    /// Whether punching still works here.
    punching: bool,
}

impl Drained {
    fn new(file: File) -> Drained {
        Drained { file, read: 0, punched: 0, punching: true }
    }
}

impl io::Read for Drained {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read += n as u64;
        if self.punching && self.read - self.punched >= DRAIN_STEP {
            // Whole 4 KiB blocks only: a partly read one stays.
            let upto = self.read & !4095;
            let flags = rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE;
            match rustix::fs::fallocate(&self.file, flags, self.punched, upto - self.punched) {
                Ok(()) => self.punched = upto,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot punch read parts out of sorted runs here");
                    self.punching = false;
                }
            }
        }
        Ok(n)
    }
}

impl Source {
    fn memory(chunk: Chunk) -> Source {
        Source::Memory { chunk, pos: 0 }
    }

    fn run(file: File, shape: Shape) -> io::Result<Source> {
        let mut source = Source::Run {
            reader: BufReader::with_capacity(RUN_BUFFER, Drained::new(file)),
            row: Rows::default(),
            prefix: (0, 0),
            scratch: Vec::new(),
        };
        source.advance(shape, true)?;
        Ok(source)
    }

    /// The current row: its batch and index, or `None` when used up.
    fn current(&self) -> Option<(&Rows, usize)> {
        match self {
            Source::Memory { chunk, pos } => (*pos < chunk.rows.len()).then_some((&chunk.rows, *pos)),
            Source::Run { row, .. } => (row.len() > 0).then_some((row, 0)),
        }
    }

    /// The current row's key prefix.
    fn prefix(&self) -> Prefix {
        match self {
            Source::Memory { chunk, pos } => chunk.prefixes.get(*pos).copied().unwrap_or_default(),
            Source::Run { prefix, .. } => *prefix,
        }
    }

    /// Moves to the next row (`first`: to the first).
    fn advance(&mut self, shape: Shape, first: bool) -> io::Result<()> {
        match self {
            Source::Memory { pos, .. } => {
                if !first {
                    *pos += 1;
                }
            }
            Source::Run { reader, row, prefix: p, scratch } => {
                if read_row(reader, shape, row, scratch)? {
                    *p = prefix(shape.key(row, 0));
                }
            }
        }
        Ok(())
    }
}

/// A k-way merge of sorted sources by (key, line): a binary heap of source
/// indices, smallest current row on top.
#[derive(Debug)]
pub(crate) struct Merge {
    shape: Shape,
    sources: Vec<Source>,
    heap: Vec<usize>,
}

impl Merge {
    fn new(shape: Shape, sources: Vec<Source>) -> Merge {
        let heap = (0..sources.len()).filter(|&s| sources[s].current().is_some()).collect();
        let mut merge = Merge { shape, sources, heap };
        for k in (0..merge.heap.len() / 2).rev() {
            merge.sift_down(k);
        }
        merge
    }

    /// The smallest row not yet passed: its batch and index there.
    pub(crate) fn current(&self) -> Option<(&Rows, usize)> {
        self.heap.first().and_then(|&s| self.sources.get(s)).and_then(Source::current)
    }

    /// Passes the current row.
    pub(crate) fn advance(&mut self) -> io::Result<()> {
        let Some(&top) = self.heap.first() else { return Ok(()) };
        let Some(source) = self.sources.get_mut(top) else { return Ok(()) };
        source.advance(self.shape, false)?;
        if source.current().is_none() {
            self.heap.swap_remove(0);
        }
        self.sift_down(0);
        Ok(())
    }

    /// Orders two sources by their current rows; a used-up source is last.
    fn cmp(&self, a: usize, b: usize) -> Ordering {
        let (sa, sb) = (&self.sources[a], &self.sources[b]);
        sa.prefix().cmp(&sb.prefix()).then_with(|| {
            let (Some((ra, ia)), Some((rb, ib))) = (sa.current(), sb.current()) else {
                return Ordering::Equal;
            };
            self.shape.key(ra, ia).cmp(self.shape.key(rb, ib)).then_with(|| ra.line(ia).cmp(&rb.line(ib)))
        })
    }

    fn sift_down(&mut self, mut k: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * k + 1, 2 * k + 2);
            let mut least = k;
            if l < n && self.cmp(self.heap[l], self.heap[least]) == Ordering::Less {
                least = l;
            }
            if r < n && self.cmp(self.heap[r], self.heap[least]) == Ordering::Less {
                least = r;
            }
            if least == k {
                return;
            }
            self.heap.swap(k, least);
            k = least;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = Shape { texts: 2, ints: 1, key: 1 };

    /// Rows `(other, key, int)` in file order from line 2 on.
    fn rows(keys: &[&str], first_line: u64) -> Rows {
        let mut r = Rows::default();
        for (n, k) in keys.iter().enumerate() {
            r.text(&format!("other{n}"));
            r.text(k);
            r.int(n as i64 * 10);
            r.end_row(first_line + n as u64);
        }
        r
    }

    /// Everything a merge yields: (key, line, other, int).
    fn drain(mut m: Merge) -> Vec<(String, u64, String, i64)> {
        let mut out = Vec::new();
        while let Some((r, i)) = m.current() {
            out.push((r.get(i, 2, 1).to_owned(), r.line(i), r.get(i, 2, 0).to_owned(), r.ints_of(i, 1)[0]));
            m.advance().unwrap();
        }
        out
    }

    /// The same keys, sorted with `std` (stable: equal keys keep line order).
    fn expected(keys: &[&str]) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = keys.iter().enumerate().map(|(n, k)| (k.to_string(), n as u64 + 2)).collect();
        v.sort();
        v
    }

    #[test]
    fn rows_come_back_by_key_then_line_in_memory_and_from_runs() {
        // Pseudo-random keys with repeats, in sorted chunks of 4,093 rows
        // (the last one shorter); a tiny budget forces a run per chunk.
        let mut x: u32 = 12345;
        let owned: Vec<String> = (0..CHUNK_ROWS * 2 + 777)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                format!("4600{:07}", (x >> 8) % 150_000)
            })
            .collect();
        let keys: Vec<&str> = owned.iter().map(String::as_str).collect();
        let dir = tempfile::tempdir().unwrap();
        for budget in [usize::MAX, 1] {
            let mut s = Sorter::new(SHAPE, budget, dir.path());
            let mut line = 2;
            for part in keys.chunks(4093) {
                s.push(sorted(&rows(part, line), SHAPE)).unwrap();
                line += part.len() as u64;
            }
            let spilled = s.runs();
            assert_eq!(spilled > 0, budget == 1, "budget {budget}: {spilled} runs");
            let got = drain(s.finish().unwrap());
            let got_keys: Vec<(String, u64)> = got.iter().map(|(k, l, _, _)| (k.clone(), *l)).collect();
            assert_eq!(got_keys, expected(&keys), "budget {budget}");
            // The other fields travel with their row.
            for (_, line, other, int) in &got {
                let n = (line - 2) % 4093;
                assert_eq!((other.as_str(), *int), (format!("other{n}").as_str(), n as i64 * 10));
            }
        }
    }

    #[test]
    fn a_fitting_sorter_holds_the_whole_budget_before_it_spills() {
        let owned: Vec<String> = (0..20_000u32).map(|i| format!("4600{:07}", (i * 7919) % 20_000)).collect();
        let keys: Vec<&str> = owned.iter().map(String::as_str).collect();
        let chunks = || {
            keys.chunks(4093).scan(2, |line, part| {
                let r = sorted(&rows(part, *line), SHAPE);
                *line += part.len() as u64;
                Some(r)
            })
        };
        let total: usize = chunks().map(|c| c.0.bytes()).sum();
        let dir = tempfile::tempdir().unwrap();
        // All the rows in the budget, but more than half of it: only a
        // fitting sorter keeps them in memory. Under the budget, it spills.
        for (budget, fitting, spills) in [(total, false, true), (total, true, false), (total / 2, true, true)] {
            let mut s = Sorter::new(SHAPE, budget, dir.path());
            if fitting {
                s = s.fitting();
            }
            for c in chunks() {
                s.push(c).unwrap();
            }
            assert_eq!(s.runs() > 0, spills, "budget {budget} of {total}, fitting {fitting}");
            let got: Vec<(String, u64)> = drain(s.finish().unwrap()).into_iter().map(|(k, l, _, _)| (k, l)).collect();
            assert_eq!(got, expected(&keys));
        }
    }

    #[test]
    fn an_empty_sorter_yields_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sorter::new(SHAPE, 0, dir.path());
        assert!(drain(s.finish().unwrap()).is_empty());
    }

    #[test]
    fn a_cut_or_garbled_run_is_an_error_not_a_panic() {
        let mut good = Vec::new();
        let r = rows(&["a", "béta"], 2);
        write_row(&mut good, SHAPE, &r, 1).unwrap();
        let mut row = Rows::default();
        let mut scratch = Vec::new();
        assert!(read_row(&mut &good[..], SHAPE, &mut row, &mut scratch).unwrap());
        assert_eq!((row.get(0, 2, 1), row.line(0)), ("béta", 3));
        for cut in 1..good.len() {
            assert!(read_row(&mut &good[..cut], SHAPE, &mut row, &mut scratch).is_err(), "cut at {cut}");
        }
        let mut bad = good.clone();
        let at = bad.len() - 1; // the last byte of "béta"
        bad[at] = 0xFF;
        assert!(read_row(&mut &bad[..], SHAPE, &mut row, &mut scratch).is_err());
        // Lengths that cut inside the "é" ("other1" and "béta": 6 + 5 bytes
        // become 8 + 3).
        let mut cut = good.clone();
        cut[16..20].copy_from_slice(&8u32.to_le_bytes());
        cut[20..24].copy_from_slice(&3u32.to_le_bytes());
        assert!(read_row(&mut &cut[..], SHAPE, &mut row, &mut scratch).is_err());
    }

    #[test]
    fn a_run_gives_back_what_was_read() {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        // 20 MiB of bytes that tell their place; read back through the
        // merge's buffer.
        let len = (20 << 20) + 12_345;
        let bytes: Vec<u8> = (0..len).map(|i: usize| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let mut file = tempfile::tempfile_in(dir.path()).unwrap();
        file.write_all(&bytes).unwrap();
        file.sync_all().unwrap();
        file.rewind().unwrap();
        let held = |f: &File| f.metadata().unwrap().blocks() * 512;
        assert!(held(&file) >= len as u64);
        let mut reader = BufReader::with_capacity(RUN_BUFFER, Drained::new(file.try_clone().unwrap()));
        let mut back = vec![0u8; 17 << 20];
        reader.read_exact(&mut back).unwrap();
        assert_eq!(back, bytes[..17 << 20]);
        // All but the last step's bytes were punched out (the file system
        // here can; one that cannot keeps them, which is only slower).
        assert!(reader.get_ref().punching, "punching holes failed here");
        assert!(held(&file) <= (len as u64) - (16 << 20), "{} bytes still held", held(&file));
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, bytes[17 << 20..]);
        assert_eq!(file.metadata().unwrap().len(), len as u64, "the size is kept");
    }
}
