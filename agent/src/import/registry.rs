//! The subscriber registry import: one row per SIM card, keyed by IMSI.
//!
//! Header (any order): `imsi,msisdn,iccid,carrier,owner_id,owner_name,
//! outlet_id,outlet_name,channel,activated_at`. Field rules:
//! [`super::validate`]; file rules: [`super`]. A stored row is replaced by a
//! later import of the same IMSI (`registry.import_id` names the import that
//! wrote it last).
//!
//! The table is keyed by the IMSI as a number, its rowid ([`imsi_key`];
//! migration `0005_registry_imsi_rowid`): read an IMSI back with
//! [`imsi_text`], or `printf('%015d', imsi)` in SQL.

use std::io::Read;
use std::path::Path;

use rusqlite::params;

use super::validate::{self, OwnerIdKind};
use super::{check, Fields, ImportError, ImportKind, ImportOptions, ImportOutcome, Reasons, Rows, Show, Sink};
use crate::store::Store;

/// The registry file's columns, as its header names them.
pub const COLUMNS: [&str; 10] = [
    "imsi",
    "msisdn",
    "iccid",
    "carrier",
    "owner_id",
    "owner_name",
    "outlet_id",
    "outlet_name",
    "channel",
    "activated_at",
];

/// Imports the registry CSV at `path` (all or nothing; see [`super`]).
pub fn import(store: &mut Store, path: &Path, options: ImportOptions) -> Result<ImportOutcome, ImportError> {
    let (file, name) = super::open(path)?;
    let size = file.metadata().ok().map(|m| m.len());
    super::run::<RegistrySink, _>(store, file, &name, size, options)
}

/// Imports a registry CSV read from `reader`, recorded under the name `file`
/// (an upload's file name, say).
pub fn import_reader<R: Read + Send>(
    store: &mut Store,
    reader: R,
    file: &str,
    options: ImportOptions,
) -> Result<ImportOutcome, ImportError> {
    super::run::<RegistrySink, _>(store, reader, file, None, options)
}

const UPSERT: &str = "INSERT INTO registry (imsi, msisdn, iccid, carrier, owner_id, owner_id_kind, owner_name, \
     outlet_id, outlet_name, channel, activated_at, import_id) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
     ON CONFLICT (imsi) DO UPDATE SET msisdn = excluded.msisdn, iccid = excluded.iccid, \
     carrier = excluded.carrier, owner_id = excluded.owner_id, owner_id_kind = excluded.owner_id_kind, \
     owner_name = excluded.owner_name, outlet_id = excluded.outlet_id, outlet_name = excluded.outlet_name, \
     channel = excluded.channel, activated_at = excluded.activated_at, import_id = excluded.import_id \
     WHERE registry.import_id <> excluded.import_id";

/// The registry's key for an IMSI: its 15 digits as a number, the table's
/// rowid. `None` for anything else, which the registry cannot hold (a
/// shorter string of digits must not find the IMSI it would be as a
/// number: `1010000000001` is not `001010000000001`).
pub fn imsi_key(imsi: &str) -> Option<i64> {
    if imsi.len() != 15 || !imsi.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    imsi.parse().ok()
}

/// An IMSI as stored in the registry ([`imsi_key`]), back to its 15 digits.
pub fn imsi_text(key: i64) -> String {
    format!("{key:015}")
}

/// Validates and writes registry rows; holds the normalisation buffers.
#[derive(Debug)]
pub(crate) struct RegistrySink {
    tz_offset_s: i32,
    msisdn: String,
    owner_id: String,
}

impl Sink for RegistrySink {
    const KIND: ImportKind = ImportKind::Registry;
    const COLUMNS: &'static [&'static str] = &COLUMNS;
    const TABLE: &'static str = "registry";
    const UPSERT_SQL: &'static str = UPSERT;
    const DUPLICATE: &'static str = "imsi repeats an earlier row of this file";
    // The IMSI, the first string `validate` appends.
    const KEY_TEXT: Option<usize> = Some(0);
    const APPEND: bool = true;
    const KEY_IS_ROWID: bool = true;
    const TEXTS: usize = 10;
    const INTS: usize = 1;
    const RECORD_COLUMNS: Option<&'static [&'static str]> = Some(&[
        "imsi",
        "msisdn",
        "iccid",
        "carrier",
        "owner_id",
        "owner_id_kind",
        "owner_name",
        "outlet_id",
        "outlet_name",
        "channel",
        "activated_at",
        "import_id",
    ]);

    fn record(t: &[&str], ints: &[i64], import_id: i64, out: &mut super::pages::Record) -> Option<i64> {
        let imsi = imsi_key(t.first()?)?;
        out.clear();
        // The IMSI is the rowid: its column holds NULL.
        out.null();
        for s in t.get(1..10)? {
            out.text(s);
        }
        out.int(*ints.first()?);
        out.int(import_id);
        Some(imsi)
    }

    fn new(options: &ImportOptions) -> Self {
        RegistrySink { tz_offset_s: options.tz_offset_s, msisdn: String::new(), owner_id: String::new() }
    }

    fn validate(&mut self, rec: &csv::ByteRecord, cols: &[usize], out: &mut Rows, r: &mut Reasons) -> bool {
        let rec = &Fields::new(rec);
        let RegistrySink { tz_offset_s, msisdn, owner_id } = self;
        let imsi = check(rec, cols, 0, "imsi", Show::Value, r, validate::imsi);
        let msisdn = check(rec, cols, 1, "msisdn", Show::Value, r, |s| validate::msisdn(s, msisdn));
        let iccid = check(rec, cols, 2, "iccid", Show::Value, r, validate::iccid);
        let carrier = check(rec, cols, 3, "carrier", Show::Value, r, validate::text);
        let owner = check(rec, cols, 4, "owner_id", Show::Masked, r, |s| validate::owner_id(s, owner_id));
        let owner_name = check(rec, cols, 5, "owner_name", Show::Hidden, r, validate::text);
        let outlet_id = check(rec, cols, 6, "outlet_id", Show::Value, r, validate::text);
        let outlet_name = check(rec, cols, 7, "outlet_name", Show::Value, r, validate::text);
        let channel = check(rec, cols, 8, "channel", Show::Value, r, validate::text);
        let activated = check(rec, cols, 9, "activated_at", Show::Value, r, |s| validate::time(s, *tz_offset_s));
        let (
            Some(imsi),
            Some(msisdn),
            Some(iccid),
            Some(carrier),
            Some((owner_id, kind)),
            Some(owner_name),
            Some(outlet_id),
            Some(outlet_name),
            Some(channel),
            Some(activated),
        ) = (imsi, msisdn, iccid, carrier, owner, owner_name, outlet_id, outlet_name, channel, activated)
        else {
            return false;
        };
        let kind: OwnerIdKind = kind;
        for t in [
            imsi,
            msisdn,
            iccid.as_str(),
            carrier,
            owner_id,
            kind.as_str(),
            owner_name,
            outlet_id,
            outlet_name,
            channel,
        ] {
            out.text(t);
        }
        out.int(activated);
        true
    }

    fn write(
        upsert: &mut rusqlite::Statement<'_>,
        t: &[&str],
        ints: &[i64],
        import_id: i64,
    ) -> rusqlite::Result<usize> {
        let activated = ints.first().copied().unwrap_or_default();
        // Validated as 15 digits; the key is their number.
        let imsi = imsi_key(t[0]).ok_or_else(|| {
            rusqlite::Error::ToSqlConversionFailure(format!("imsi {:?} is not 15 digits", t[0]).into())
        })?;
        upsert.execute(params![imsi, t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], activated, import_id])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_fifteen_digits_as_a_number_and_nothing_else_has_one() {
        assert_eq!(imsi_key("460001234567890"), Some(460_001_234_567_890));
        assert_eq!(imsi_key("001010000000001"), Some(1_010_000_000_001));
        assert_eq!(imsi_text(1_010_000_000_001), "001010000000001");
        assert_eq!(imsi_text(460_001_234_567_890), "460001234567890");
        for not in ["1010000000001", "0010100000000012", "", "46000123456789x", "+46000123456789", " 46000123456789"] {
            assert_eq!(imsi_key(not), None, "{not:?}");
        }
    }
}
