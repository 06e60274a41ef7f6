//! A table's B-tree written in SQLite's file format, in rowid order, for
//! a first load into an empty table ([`super::WriteOrder::Append`]).
//!
//! # Why
//!
//! Inserting a row through SQL costs SQLite about 2.5 µs here even in rowid
//! order (binding the values, running the statement, building the record,
//! seeking the table's end): a million registry rows took 2.6 s to write,
//! as long as the three index builds after them. Copying the same rows
//! from a table of the same definition in another database file
//! (`INSERT INTO t SELECT * FROM other.t`, which SQLite runs as a transfer
//! of the stored records, its "xfer optimization") took 0.9–1.2 s. So a
//! first load writes its rows, already sorted by key, straight into table
//! pages of a database file of its own ([`LoadFile`]), and SQLite then
//! copies that table into the store inside the import's transaction: the
//! store is still written only by SQLite (journal, locks, header, schema),
//! and the copy is atomic with the rest of the import.
//!
//! # What is written
//!
//! A database of the format SQLite documents as its file format
//! (<https://www.sqlite.org/fileformat2.html>): page 1 holds the 100-byte
//! header and the schema table with one row, the table's `CREATE TABLE`
//! statement exactly as the store has it (so both tables have the same
//! columns, affinities, constraints and `INTEGER PRIMARY KEY`, which the
//! transfer requires); page 2 is the table's root; the leaves follow in
//! rowid order, each filled as far as its rows fit, then the interior
//! levels; the pages after them are unused until a later segment needs
//! them (see "Segments"). The file stays below 1 GiB, so SQLite's
//! lock-byte page is never in it. Records use the smallest serial type
//! for each integer, as SQLite does, and the `INTEGER PRIMARY KEY` column
//! is stored as NULL (its value is the rowid). Rows never spill into
//! overflow pages: a row whose record does not fit in a leaf is an error (a
//! registry row is at most a few KiB; pages are 64 KiB).
//!
//! # Segments
//!
//! The rows do not all go into the file at once: it holds a fixed number
//! of pages ([`SEGMENT_PAGES`] by default), and the table is written and
//! copied a segment at a time, each segment's B-tree over the last one's
//! pages. The file stays small (32 MiB instead of the whole table's 2.3 GB
//! for 10 M registry rows), on disk and in the system's page cache: the
//! same pages are written again and again instead of new ones. Taking new
//! pages is what cost most here (see `super::sort`'s `Drained`: writing the
//! whole table into a new file took 60 % of the writing thread's time).
//! The destination's `INTEGER PRIMARY KEY` makes the transfer check every
//! rowid against the rows already there, so it also accepts a table that is
//! not empty, and a segment copied twice would fail on its first row.
//!
//! # The file and the connection
//!
//! SQLite cannot attach a database inside a transaction, and the import's
//! transaction starts before the rows are read. So the file is created
//! first, as an empty table ([`LoadFile::create`]), and attached; the pages
//! are written through a file handle of our own while the connection holds
//! no lock on it, or only a shared one (SQLite never writes it). What SQLite
//! has read must then be forgotten before the next segment is copied: each
//! segment raises the header's change counter (which makes a connection
//! drop its cache of the file when it next locks it), and inside a
//! transaction, which keeps its lock, the caller releases the connection's
//! cache (`PRAGMA shrink_memory`) after each copy. Page 1 does not change
//! but for that counter: the schema, the table's root (page 2) and the
//! file's size in pages are the same for every segment, so what SQLite read
//! of them at attach time, or at the first copy, stays true.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The load file's page size: SQLite's largest, the store's `carrier.db` own.
pub(crate) const PAGE_SIZE: usize = 65536;

/// Pages of a load file by default: 32 MiB at [`PAGE_SIZE`].
pub(crate) const SEGMENT_PAGES: u32 = 512;

/// The table's root page (the schema table is page 1).
const ROOT_PAGE: u32 = 2;

/// The byte SQLite's locks are taken on: the page holding it (the "lock-byte
/// page") is never part of a B-tree, so a load file stays below it.
const PENDING_BYTE: u64 = 0x4000_0000;

/// B-tree page types.
const TABLE_LEAF: u8 = 0x0d;
const TABLE_INTERIOR: u8 = 0x05;

/// A database file of a fixed number of pages holding one table, written a
/// segment at a time by [`TableWriter`] and read by SQLite's transfer;
/// removed when dropped.
#[derive(Debug)]
pub(crate) struct LoadFile {
    path: PathBuf,
    file: File,
    page_size: usize,
    /// The file's size in pages (page 1 included).
    pages: u32,
    name: String,
    create_sql: String,
    /// The header's change counter: raised for every segment.
    change: u32,
}

impl LoadFile {
    /// Creates `path` (which must not exist) as a database of `pages`
    /// pages holding the table `name`, empty, defined by `create_sql` (its
    /// `CREATE TABLE` statement as the schema table stores it).
    pub(crate) fn create(
        path: &Path,
        name: &str,
        create_sql: &str,
        page_size: usize,
        pages: u32,
    ) -> io::Result<LoadFile> {
        if !page_size.is_power_of_two() || !(512..=PAGE_SIZE).contains(&page_size) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("page size {page_size}")));
        }
        // Room for the schema, the root and three leaves; below the lock-byte page.
        if pages < 5 || u64::from(pages) * page_size as u64 > PENDING_BYTE {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{pages} pages of {page_size} bytes")));
        }
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        let mut load = LoadFile {
            path: path.to_path_buf(),
            file,
            page_size,
            pages,
            name: name.to_owned(),
            create_sql: create_sql.to_owned(),
            change: 1,
        };
        let page1 = load.first_page()?;
        let mut root = vec![0u8; page_size];
        leaf_header(&mut root, 0, 0, page_size);
        load.file.write_all_at(&page1, 0)?;
        load.file.write_all_at(&root, page_size as u64)?;
        load.file.set_len(u64::from(pages) * page_size as u64)?;
        load.change += 1;
        Ok(load)
    }

    /// The file's path (to attach it).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Page 1: the header and the schema table with the one table's row.
    fn first_page(&self) -> io::Result<Vec<u8>> {
        let size = self.page_size;
        let mut page = vec![0u8; size];
        page[..16].copy_from_slice(b"SQLite format 3\0");
        // 65536 is written as 1 (it does not fit in two bytes).
        let size_field = if size == 65536 { 1 } else { size as u16 };
        page[16..18].copy_from_slice(&size_field.to_be_bytes());
        page[18] = 1; // file format write version: rollback journal
        page[19] = 1; // read version
        page[20] = 0; // reserved bytes per page
        page[21] = 64; // maximum embedded payload fraction
        page[22] = 32; // minimum embedded payload fraction
        page[23] = 32; // leaf payload fraction
        page[24..28].copy_from_slice(&self.change.to_be_bytes());
        page[28..32].copy_from_slice(&self.pages.to_be_bytes());
        // 32..40: no freelist (the pages after a segment's tree are unused).
        page[40..44].copy_from_slice(&1u32.to_be_bytes()); // schema cookie
        page[44..48].copy_from_slice(&4u32.to_be_bytes()); // schema format
        page[56..60].copy_from_slice(&1u32.to_be_bytes()); // text encoding: UTF-8
        page[92..96].copy_from_slice(&self.change.to_be_bytes()); // version-valid-for
        let version = u32::try_from(rusqlite::version_number()).unwrap_or(0);
        page[96..100].copy_from_slice(&version.to_be_bytes());

        let mut record = Record::default();
        record.text("table");
        record.text(&self.name);
        record.text(&self.name);
        record.int(i64::from(ROOT_PAGE));
        record.text(&self.create_sql);
        let mut cell = Vec::new();
        table_leaf_cell(&mut cell, 1, &record.encode(), size)?;
        if 100 + 8 + 2 + cell.len() > size {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the table's definition does not fit in page 1"));
        }
        let start = size - cell.len();
        page[start..].copy_from_slice(&cell);
        leaf_header(&mut page, 100, 1, start);
        page[108..110].copy_from_slice(&(start as u16).to_be_bytes());
        Ok(page)
    }
}

impl Drop for LoadFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove the load file");
        }
    }
}

/// A record in SQLite's format: its header (its own length, then each
/// value's serial type) and the values. Written straight into a leaf's cell
/// ([`Record::write`]), without a copy of its own.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// The serial types, as varints.
    types: Vec<u8>,
    body: Vec<u8>,
}

impl Record {
    /// Starts a new record.
    pub(crate) fn clear(&mut self) {
        self.types.clear();
        self.body.clear();
    }

    /// A NULL (an `INTEGER PRIMARY KEY` column: the rowid holds its value).
    pub(crate) fn null(&mut self) {
        self.types.push(0);
    }

    /// A text value.
    pub(crate) fn text(&mut self, s: &str) {
        put_varint(&mut self.types, 2 * s.len() as u64 + 13);
        self.body.extend_from_slice(s.as_bytes());
    }

    /// An integer, in the fewest bytes, as SQLite writes it.
    pub(crate) fn int(&mut self, v: i64) {
        let (serial, len) = match v {
            0 => (8, 0),
            1 => (9, 0),
            _ => {
                let u = if v < 0 { !v } else { v };
                match u {
                    0..=0x7f => (1, 1),
                    0x80..=0x7fff => (2, 2),
                    0x8000..=0x7f_ffff => (3, 3),
                    0x80_0000..=0x7fff_ffff => (4, 4),
                    0x8000_0000..=0x7fff_ffff_ffff => (5, 6),
                    _ => (6, 8),
                }
            }
        };
        self.types.push(serial);
        self.body.extend_from_slice(&v.to_be_bytes()[8 - len..]);
    }

    /// The header's length, which counts its own varint.
    fn header_len(&self) -> u64 {
        let types = self.types.len() as u64;
        (1..=9).map(|k| types + k).find(|&n| varint_len(n) as u64 == n - types).unwrap_or(types + 9)
    }

    /// The record's length, bytes.
    fn len(&self) -> usize {
        let header = self.header_len();
        varint_len(header) + self.types.len() + self.body.len()
    }

    /// Writes the record into `out`, which is [`Record::len`] bytes long.
    fn write(&self, out: &mut [u8]) {
        let at = write_varint(out, self.header_len());
        let (types, body) = out[at..].split_at_mut(self.types.len());
        types.copy_from_slice(&self.types);
        body.copy_from_slice(&self.body);
    }

    /// The record's bytes.
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len()];
        self.write(&mut out);
        out
    }
}

/// Writes a table's pages in rowid order into a [`LoadFile`], a segment at
/// a time: [`TableWriter::push`] until the file is full, then
/// [`TableWriter::finish`], which leaves the segment for SQLite to copy.
#[derive(Debug)]
pub(crate) struct TableWriter<'a> {
    load: &'a mut LoadFile,
    /// The leaf being filled.
    leaf: Vec<u8>,
    cells: usize,
    /// Where the leaf's cell content starts (it grows down from the end).
    content: usize,
    /// The last rowid written (rowids must increase, across segments too).
    last: Option<i64>,
    /// The segment's leaves written so far: page and largest rowid.
    leaves: Vec<(u32, i64)>,
    /// The first leaf, held back: should it be the only one, it is the root.
    first: Option<Vec<u8>>,
    /// The next page to write: after the root and the pages written so far.
    next_page: u32,
    /// Rows in the segment.
    rows: u64,
}

impl<'a> TableWriter<'a> {
    /// Writes the table of `load`.
    pub(crate) fn new(load: &'a mut LoadFile) -> TableWriter<'a> {
        let size = load.page_size;
        TableWriter {
            load,
            leaf: vec![0u8; size],
            cells: 0,
            content: size,
            last: None,
            leaves: Vec::new(),
            first: None,
            next_page: ROOT_PAGE + 1,
            rows: 0,
        }
    }

    /// Appends a row: its rowid (larger than the last one's) and record.
    /// `false`: the segment is full and the row was not taken; finish the
    /// segment, have it copied, and push the row again.
    pub(crate) fn push(&mut self, rowid: i64, record: &Record) -> io::Result<bool> {
        if self.last.is_some_and(|last| rowid <= last) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("rowid {rowid} after {}: rows must come in rowid order", self.last.unwrap_or_default()),
            ));
        }
        let size = self.load.page_size;
        let payload = record.len();
        check_payload(payload, size)?;
        let header = varint_len(payload as u64) + varint_len(rowid as u64);
        let cell = header + payload;
        if 8 + 2 * (self.cells + 1) + cell > self.content {
            // This leaf and a new one: does the segment's tree still fit?
            if tree_pages(self.leaves.len() + 2, size) > self.load.pages - 1 {
                return Ok(false);
            }
            self.flush_leaf()?;
        }
        let start = self.content - cell;
        let at = start + write_varint(&mut self.leaf[start..], payload as u64);
        let at = at + write_varint(&mut self.leaf[at..], rowid as u64);
        record.write(&mut self.leaf[at..self.content]);
        let ptr = 8 + 2 * self.cells;
        self.leaf[ptr..ptr + 2].copy_from_slice(&(start as u16).to_be_bytes());
        self.content = start;
        self.cells += 1;
        self.last = Some(rowid);
        self.rows += 1;
        Ok(true)
    }

    /// Closes the leaf being filled and starts the next one. The first leaf
    /// is held back until a second one exists: alone, it is the root.
    fn flush_leaf(&mut self) -> io::Result<()> {
        let size = self.load.page_size;
        leaf_header(&mut self.leaf, 0, self.cells, self.content);
        let page = self.take_page();
        if self.leaves.is_empty() {
            self.first = Some(std::mem::replace(&mut self.leaf, vec![0u8; size]));
        } else {
            if let Some(first) = self.first.take() {
                self.write_page(self.leaves[0].0, &first)?;
            }
            self.write_page(page, &self.leaf)?;
            self.leaf.fill(0);
        }
        self.leaves.push((page, self.last.unwrap_or_default()));
        self.cells = 0;
        self.content = size;
        Ok(())
    }

    /// A page number for the next page written.
    fn take_page(&mut self) -> u32 {
        let page = self.next_page;
        self.next_page += 1;
        page
    }

    fn write_page(&self, page: u32, bytes: &[u8]) -> io::Result<()> {
        debug_assert!(page <= self.load.pages, "page {page} of {}", self.load.pages);
        self.load.file.write_all_at(bytes, u64::from(page - 1) * self.load.page_size as u64)
    }

    /// Writes the segment's interior levels and the header; returns the
    /// rows of the segment. SQLite may then read the file (through a handle
    /// of its own); a connection inside a transaction must forget what it
    /// read (`PRAGMA shrink_memory`) before the next segment is finished.
    /// The next row pushed starts the next segment.
    pub(crate) fn finish(&mut self) -> io::Result<u64> {
        let size = self.load.page_size;
        if self.cells > 0 || self.leaves.is_empty() {
            self.flush_leaf()?;
        }
        match (self.leaves.len(), self.first.take()) {
            // One leaf (perhaps empty): it is the root.
            (1, Some(only)) => self.write_page(ROOT_PAGE, &only)?,
            _ => {
                let mut level = std::mem::take(&mut self.leaves);
                loop {
                    let mut pages = interior_pages(&level, size);
                    if pages.len() == 1 {
                        let (root, _) = pages.remove(0);
                        self.write_page(ROOT_PAGE, &root)?;
                        break;
                    }
                    let mut up = Vec::with_capacity(pages.len());
                    for (bytes, largest) in pages {
                        let page = self.take_page();
                        self.write_page(page, &bytes)?;
                        up.push((page, largest));
                    }
                    level = up;
                }
            }
        }
        let page1 = self.load.first_page()?;
        self.load.file.write_all_at(&page1, 0)?;
        self.load.change = self.load.change.wrapping_add(1).max(1);
        let rows = self.rows;
        self.leaves.clear();
        self.next_page = ROOT_PAGE + 1;
        self.rows = 0;
        Ok(rows)
    }
}

/// Fewest children an interior page holds when it is not the last of its
/// level: a cell is at most a 4-byte page number, a 9-byte rowid and a
/// 2-byte pointer (see [`interior_pages`]).
fn interior_fanout(size: usize) -> usize {
    (size - 12) / 15 + 1
}

/// Pages a table B-tree of `leaves` leaves takes at most (page 1 not
/// counted): the root, the leaves and the interior levels below the root.
fn tree_pages(leaves: usize, size: usize) -> u32 {
    let mut pages = 1 + leaves;
    let mut level = leaves;
    if leaves > 1 {
        loop {
            level = level.div_ceil(interior_fanout(size));
            if level <= 1 {
                break;
            }
            pages += level;
        }
    }
    u32::try_from(pages).unwrap_or(u32::MAX)
}

/// Interior pages over `children` (page, largest rowid), in order: each
/// page with the largest rowid under it.
fn interior_pages(children: &[(u32, i64)], size: usize) -> Vec<(Vec<u8>, i64)> {
    // Group the children greedily: every child but a page's last needs a
    // cell (4-byte page number, rowid varint) and a 2-byte pointer; the
    // last is the page's right-most pointer.
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    let mut used = 12;
    for i in 0..children.len() {
        if i > start {
            // Child i-1 becomes a cell of this page.
            let need = 2 + 4 + varint_len(children[i - 1].1 as u64);
            if used + need > size {
                groups.push(start..i);
                start = i;
                used = 12;
                continue;
            }
            used += need;
        }
    }
    groups.push(start..children.len());
    // A page with a right-most pointer and no cell would be legal but odd:
    // the last group takes one child from the one before.
    if groups.len() > 1 && groups[groups.len() - 1].len() == 1 {
        let n = groups.len();
        groups[n - 2].end -= 1;
        groups[n - 1].start -= 1;
    }
    groups
        .into_iter()
        .map(|g| {
            let kids = &children[g];
            let mut page = vec![0u8; size];
            let mut content = size;
            let mut cell = Vec::new();
            let (last_page, largest) = kids[kids.len() - 1];
            for (i, &(child, key)) in kids[..kids.len() - 1].iter().enumerate() {
                cell.clear();
                cell.extend_from_slice(&child.to_be_bytes());
                put_varint(&mut cell, key as u64);
                content -= cell.len();
                page[content..content + cell.len()].copy_from_slice(&cell);
                page[12 + 2 * i..14 + 2 * i].copy_from_slice(&(content as u16).to_be_bytes());
            }
            page[0] = TABLE_INTERIOR;
            page[3..5].copy_from_slice(&((kids.len() - 1) as u16).to_be_bytes());
            page[5..7].copy_from_slice(&content_field(content, size).to_be_bytes());
            page[8..12].copy_from_slice(&last_page.to_be_bytes());
            (page, largest)
        })
        .collect()
}

/// A table leaf's header at `at`: `cells` cells whose content starts at `content`.
fn leaf_header(page: &mut [u8], at: usize, cells: usize, content: usize) {
    let size = page.len();
    page[at] = TABLE_LEAF;
    page[at + 1..at + 3].copy_from_slice(&0u16.to_be_bytes());
    page[at + 3..at + 5].copy_from_slice(&(cells as u16).to_be_bytes());
    page[at + 5..at + 7].copy_from_slice(&content_field(content, size).to_be_bytes());
    page[at + 7] = 0;
}

/// The header's "start of cell content": 0 stands for 65536.
fn content_field(content: usize, size: usize) -> u16 {
    if content >= size && size == 65536 {
        0
    } else {
        content as u16
    }
}

/// Whether a table leaf's payload of `len` bytes fits on its page (there are
/// no overflow pages here).
fn check_payload(len: usize, page_size: usize) -> io::Result<()> {
    // SQLite keeps at most usable size - 35 bytes of a table leaf's payload
    // on the page itself.
    if len > page_size - 35 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a record of {len} bytes does not fit in a {page_size}-byte page"),
        ));
    }
    Ok(())
}

/// A table leaf cell: payload size, rowid, payload.
fn table_leaf_cell(cell: &mut Vec<u8>, rowid: i64, payload: &[u8], page_size: usize) -> io::Result<()> {
    check_payload(payload.len(), page_size)?;
    put_varint(cell, payload.len() as u64);
    put_varint(cell, rowid as u64);
    cell.extend_from_slice(payload);
    Ok(())
}

/// SQLite's variable-length integer: 7 bits a byte, big-endian, high bit
/// set on every byte but the last; a ninth byte, if needed, has 8 bits.
/// Written at the start of `out`; returns its length.
fn write_varint(out: &mut [u8], v: u64) -> usize {
    if v < 0x80 {
        out[0] = v as u8;
        return 1;
    }
    if v < 0x4000 {
        out[0] = (v >> 7) as u8 | 0x80;
        out[1] = (v & 0x7f) as u8;
        return 2;
    }
    if v >> 56 != 0 {
        out[8] = v as u8;
        let mut rest = v >> 8;
        for b in out[..8].iter_mut().rev() {
            *b = (rest & 0x7f) as u8 | 0x80;
            rest >>= 7;
        }
        return 9;
    }
    let n = varint_len(v);
    let mut rest = v;
    for (i, b) in out[..n].iter_mut().rev().enumerate() {
        *b = (rest & 0x7f) as u8 | if i == 0 { 0 } else { 0x80 };
        rest >>= 7;
    }
    n
}

/// [`write_varint`] at the end of `out`.
fn put_varint(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 9];
    let n = write_varint(&mut buf, v);
    out.extend_from_slice(&buf[..n]);
}

fn varint_len(v: u64) -> usize {
    if v >> 56 != 0 {
        9
    } else {
        (64 - v.leading_zeros() as usize).max(1).div_ceil(7)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    const SQL: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER NOT NULL, \
                       kind TEXT NOT NULL CHECK (kind IN ('a', 'b')))";

    fn values(i: i64) -> (i64, String, i64, &'static str) {
        // Rowids with gaps and of every width; integers of every serial type.
        let id = i * i * 7919 + i;
        let n = match i % 9 {
            0 => 0,
            1 => 1,
            2 => -1,
            3 => 300,
            4 => -70_000,
            5 => 1 << 30,
            6 => 1_700_000_000_000,
            7 => i64::MIN,
            _ => i64::MAX,
        };
        (id, format!("row {i} {}", "x".repeat((i % 50) as usize)), n, if i % 2 == 0 { "a" } else { "b" })
    }

    fn record(rec: &mut Record, name: &str, n: i64, kind: &str) {
        rec.clear();
        rec.null();
        rec.text(name);
        rec.int(n);
        rec.text(kind);
    }

    /// Writes `rows` rows into a load file of `pages` pages of `page_size`
    /// bytes and copies each segment through SQLite's transfer into a fresh
    /// database inside one transaction, as an import does; checks the
    /// segments' trees by lookups and the copy row by row.
    fn round_trip(rows: i64, page_size: usize, pages: u32) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("load.db");
        let mut load = LoadFile::create(&path, "t", SQL, page_size, pages).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), u64::from(pages) * page_size as u64);
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SQL).unwrap();
        conn.execute("ATTACH ?1 AS load", [path.to_str().unwrap()]).unwrap();
        // What SQLite sees at attach time: the empty table.
        let empty: i64 = conn.query_row("SELECT count(*) FROM load.t", [], |r| r.get(0)).unwrap();
        assert_eq!(empty, 0);
        // The transfer: SQLite copies the records as they are (`RowCell`;
        // `RowData` in older SQLite), not built again from columns
        // (`MakeRecord`).
        let plan: Vec<String> = conn
            .prepare("EXPLAIN INSERT INTO main.t SELECT * FROM load.t")
            .unwrap()
            .query_map([], |r| r.get(1))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().any(|op| op == "RowCell" || op == "RowData"), "no transfer: {plan:?}");
        assert!(!plan.iter().any(|op| op == "MakeRecord"), "no transfer: {plan:?}");

        let tx = conn.transaction().unwrap();
        let mut w = TableWriter::new(&mut load);
        let mut rec = Record::default();
        let (mut segments, mut copied, mut first) = (0u64, 0u64, 0i64);
        let mut copy_segment = |w: &mut TableWriter<'_>, end: i64| {
            let written = w.finish().unwrap();
            assert_eq!(written, (end - first) as u64, "rows of segment {segments}");
            let n = tx.execute("INSERT INTO main.t SELECT * FROM load.t", []).unwrap();
            assert_eq!(n as u64, written, "rows copied of segment {segments}");
            // Lookups by rowid find this segment's rows, and only them (the
            // interior keys are right).
            for i in (first..end).step_by(97).chain([first, end - 1]).filter(|&i| i >= first && i < end) {
                let (id, name, ..) = values(i);
                let found: String = tx.query_row("SELECT name FROM load.t WHERE id = ?1", [id], |r| r.get(0)).unwrap();
                assert_eq!(found, name);
                let missing: i64 =
                    tx.query_row("SELECT count(*) FROM load.t WHERE id = ?1", [id + 1], |r| r.get(0)).unwrap();
                assert_eq!(missing, 0);
            }
            if first > 0 {
                let earlier: i64 = tx
                    .query_row("SELECT count(*) FROM load.t WHERE id = ?1", [values(first - 1).0], |r| r.get(0))
                    .unwrap();
                assert_eq!(earlier, 0, "a row of the segment before");
            }
            tx.execute_batch("PRAGMA shrink_memory").unwrap();
            copied += written;
            segments += 1;
            first = end;
        };
        for i in 0..rows {
            let (id, name, n, kind) = values(i);
            record(&mut rec, &name, n, kind);
            if !w.push(id, &rec).unwrap() {
                copy_segment(&mut w, i);
                assert!(w.push(id, &rec).unwrap(), "a row fits in an empty segment");
            }
        }
        copy_segment(&mut w, rows);
        drop(w);
        assert_eq!(copied, rows as u64);
        let check: String = tx.query_row("PRAGMA main.integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        let mut stmt = tx.prepare("SELECT id, name, n, kind FROM main.t ORDER BY id").unwrap();
        let got: Vec<(i64, String, i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        drop(stmt);
        assert_eq!(got.len(), rows as usize);
        for (i, row) in got.iter().enumerate() {
            let (id, name, n, kind) = values(i as i64);
            assert_eq!(row, &(id, name, n, kind.to_owned()), "row {i}");
        }
        tx.commit().unwrap();
        // The file never grew.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), u64::from(pages) * page_size as u64);
        conn.execute_batch("DETACH load").unwrap();
        drop(load);
        assert!(!path.exists(), "the load file is removed");
        segments
    }

    #[test]
    fn no_rows_one_leaf_and_several_levels_all_read_back() {
        assert_eq!(round_trip(0, 512, 5), 1);
        assert_eq!(round_trip(1, 512, 5), 1);
        assert_eq!(round_trip(3, 512, 5), 1);
        // Small pages: many leaves and three interior levels, one segment.
        assert_eq!(round_trip(20_000, 512, 20_000), 1);
        assert_eq!(round_trip(5_000, 1024, 5_000), 1);
        assert_eq!(round_trip(30_000, PAGE_SIZE, SEGMENT_PAGES), 1);
    }

    #[test]
    fn a_table_larger_than_the_file_goes_in_segments() {
        // Two leaves and a root at most; then deeper trees.
        let counts = [
            round_trip(2_000, 512, 5),
            round_trip(20_000, 512, 300),
            round_trip(20_000, 512, 2_000),
            // Full 64 KiB pages, as an import writes them.
            round_trip(60_000, PAGE_SIZE, 16),
        ];
        assert!(counts.iter().all(|&n| n > 1), "{counts:?}");
        assert!(counts[0] > 50 && counts[1] > 5 && counts[3] > 3, "{counts:?}");
    }

    #[test]
    fn a_segment_never_outgrows_the_file() {
        // The bound on a tree's pages against the trees written (each page
        // is checked against the file's size as it is written, too).
        for size in [512, 4096, PAGE_SIZE] {
            assert_eq!(tree_pages(1, size), 2);
            assert_eq!(tree_pages(2, size), 3);
            let fanout = interior_fanout(size);
            assert_eq!(tree_pages(fanout, size), 1 + fanout as u32);
            assert_eq!(tree_pages(fanout + 1, size), 1 + fanout as u32 + 1 + 2);
        }
        // The smallest rows fill a leaf most: interior keys of every width.
        let dir = tempfile::tempdir().unwrap();
        let mut load = LoadFile::create(&dir.path().join("l.db"), "t", SQL, 512, 40).unwrap();
        let mut w = TableWriter::new(&mut load);
        let mut rec = Record::default();
        let mut full = 0;
        for i in 0..20_000i64 {
            record(&mut rec, "", 0, "a");
            let id = i << 40;
            if !w.push(id, &rec).unwrap() {
                assert!(w.finish().unwrap() > 0);
                full += 1;
                assert!(w.push(id, &rec).unwrap());
            }
        }
        assert!(full > 10, "{full}");
        // Files too small for a tree, or reaching the lock-byte page.
        assert!(LoadFile::create(&dir.path().join("a.db"), "t", SQL, 512, 4).is_err());
        assert!(LoadFile::create(&dir.path().join("b.db"), "t", SQL, PAGE_SIZE, 16_385).is_err());
        assert!(!dir.path().join("b.db").exists());
    }

    #[test]
    fn rowids_must_increase_and_records_must_fit() {
        let dir = tempfile::tempdir().unwrap();
        let mut load = LoadFile::create(&dir.path().join("l.db"), "t", SQL, 512, 8).unwrap();
        let mut w = TableWriter::new(&mut load);
        let mut rec = Record::default();
        rec.null();
        rec.text("a");
        assert!(w.push(5, &rec).unwrap());
        assert!(w.push(5, &rec).is_err());
        assert!(w.push(4, &rec).is_err());
        // Across segments too.
        w.finish().unwrap();
        assert!(w.push(5, &rec).is_err());
        rec.clear();
        rec.text(&"y".repeat(600));
        let e = w.push(6, &rec).unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");
        // An existing file is never overwritten.
        let taken = dir.path().join("taken.db");
        std::fs::write(&taken, b"x").unwrap();
        assert!(LoadFile::create(&taken, "t", SQL, 512, 8).is_err());
        assert_eq!(std::fs::read(&taken).unwrap(), b"x");
    }

    #[test]
    fn varints_and_integers_are_encoded_as_sqlite_does() {
        for (v, want) in [
            (0u64, vec![0x00]),
            (0x7f, vec![0x7f]),
            (0x80, vec![0x81, 0x00]),
            (0x3fff, vec![0xff, 0x7f]),
            (0x4000, vec![0x81, 0x80, 0x00]),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, want, "{v:#x}");
            assert_eq!(varint_len(v), want.len());
        }
        // Every width, read back as SQLite reads a varint.
        let read = |b: &[u8]| -> u64 {
            let mut v = 0u64;
            for (i, &byte) in b.iter().enumerate() {
                if i == 8 {
                    return (v << 8) | u64::from(byte);
                }
                v = (v << 7) | u64::from(byte & 0x7f);
                if byte & 0x80 == 0 {
                    break;
                }
            }
            v
        };
        let widths = (0..64).flat_map(|bit| {
            let p = 1u64 << bit;
            [p - 1, p, p + 1]
        });
        for v in widths.chain([u64::MAX, 460_001_234_567_890]) {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v:#x}");
            assert_eq!(read(&out), v, "{v:#x}: {out:02x?}");
        }
        // A record's header counts its own length, one byte or two.
        for columns in [0, 1, 126, 127, 128, 300] {
            let mut rec = Record::default();
            for _ in 0..columns {
                rec.null();
            }
            let bytes = rec.encode();
            let header = read(&bytes) as usize;
            assert_eq!(header, bytes.len(), "{columns} columns");
            assert_eq!(header - varint_len(header as u64), columns);
        }
        // Every serial type of an integer is read back by SQLite in the
        // round trips above (`values`: 0, 1, and 1 to 8 bytes).
    }
}
