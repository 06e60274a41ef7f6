//! The CDR import: mobile-originated calls, keyed by (IMSI, start, called).
//!
//! Header (any order): `imsi,imei,msisdn,called,start,duration_s,cell`.
//! `called` is normalised as the probe normalises the numbers it sees on SIP
//! (so a CDR and a gateway's SIP leg compare equal); `cell` is free text,
//! conventionally `mcc-mnc-lac-ci`. Field rules: [`super::validate`]; file
//! rules: [`super`].

use std::io::Read;
use std::path::Path;

use rusqlite::params;

use super::validate;
use super::{check, Fields, ImportError, ImportKind, ImportOptions, ImportOutcome, Reasons, Rows, Show, Sink};
use crate::store::Store;

/// The CDR file's columns, as its header names them.
pub const COLUMNS: [&str; 7] = ["imsi", "imei", "msisdn", "called", "start", "duration_s", "cell"];

/// Imports the CDR CSV at `path` (all or nothing; see [`super`]).
pub fn import(store: &mut Store, path: &Path, options: ImportOptions) -> Result<ImportOutcome, ImportError> {
    let (file, name) = super::open(path)?;
    let size = file.metadata().ok().map(|m| m.len());
    super::run::<CdrSink, _>(store, file, &name, size, options)
}

/// Imports a CDR CSV read from `reader`, recorded under the name `file`.
pub fn import_reader<R: Read + Send>(
    store: &mut Store,
    reader: R,
    file: &str,
    options: ImportOptions,
) -> Result<ImportOutcome, ImportError> {
    super::run::<CdrSink, _>(store, reader, file, None, options)
}

const UPSERT: &str = "INSERT INTO cdrs (imsi, imei, msisdn, called, started_at, duration_s, cell, import_id) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
     ON CONFLICT (imsi, started_at, called) DO UPDATE SET imei = excluded.imei, msisdn = excluded.msisdn, \
     duration_s = excluded.duration_s, cell = excluded.cell, import_id = excluded.import_id \
     WHERE cdrs.import_id <> excluded.import_id";

/// Validates and writes CDR rows; holds the normalisation buffers.
#[derive(Debug)]
struct CdrSink {
    tz_offset_s: i32,
    msisdn: String,
    called: String,
}

impl Sink for CdrSink {
    const KIND: ImportKind = ImportKind::Cdr;
    const COLUMNS: &'static [&'static str] = &COLUMNS;
    const TABLE: &'static str = "cdrs";
    const UPSERT_SQL: &'static str = UPSERT;
    const DUPLICATE: &'static str = "imsi, start and called repeat an earlier row of this file";
    // The key is three columns (IMSI, start, called): written in file order.
    const KEY_TEXT: Option<usize> = None;
    const TEXTS: usize = 5;
    const INTS: usize = 2;

    fn new(options: &ImportOptions) -> Self {
        CdrSink { tz_offset_s: options.tz_offset_s, msisdn: String::new(), called: String::new() }
    }

    fn validate(&mut self, rec: &csv::ByteRecord, cols: &[usize], out: &mut Rows, r: &mut Reasons) -> bool {
        let rec = &Fields::new(rec);
        let CdrSink { tz_offset_s, msisdn, called } = self;
        let imsi = check(rec, cols, 0, "imsi", Show::Value, r, validate::imsi);
        let imei = check(rec, cols, 1, "imei", Show::Value, r, validate::imei);
        let msisdn = check(rec, cols, 2, "msisdn", Show::Value, r, |s| validate::msisdn(s, msisdn));
        let called = check(rec, cols, 3, "called", Show::Value, r, |s| validate::called(s, called));
        let start = check(rec, cols, 4, "start", Show::Value, r, |s| validate::time(s, *tz_offset_s));
        let duration = check(rec, cols, 5, "duration_s", Show::Value, r, validate::duration);
        let cell = check(rec, cols, 6, "cell", Show::Value, r, validate::text);
        let (Some(imsi), Some(imei), Some(msisdn), Some(called), Some(start), Some(duration), Some(cell)) =
            (imsi, imei, msisdn, called, start, duration, cell)
        else {
            return false;
        };
        for t in [imsi, imei.as_str(), msisdn, called, cell] {
            out.text(t);
        }
        out.int(start);
        out.int(duration);
        true
    }

    fn write(
        upsert: &mut rusqlite::Statement<'_>,
        t: &[&str],
        ints: &[i64],
        import_id: i64,
    ) -> rusqlite::Result<usize> {
        let (start, duration) = (ints.first().copied().unwrap_or_default(), ints.get(1).copied().unwrap_or_default());
        upsert.execute(params![t[0], t[1], t[2], t[3], start, duration, t[4], import_id])
    }
}
