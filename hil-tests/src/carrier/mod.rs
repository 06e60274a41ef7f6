//! Synthetic carrier records: the subscriber registry and CDRs the agent
//! imports (`duanka-agent registry import`, `cdr import`), made to go with a
//! simulated scenario or at benchmark scale.
//!
//! - [`scenario`]: from a scenario's ground [`Truth`](crate::Truth), a
//!   registry row for every IMSI in it and a CDR for every gateway call with
//!   a GSM leg, with the fraud structure the agent's correlation must find
//!   (card openers over the 5-cards-per-carrier limit, recruiter bursts,
//!   insider outlets, owners whose cards sit in several gateways) written as
//!   an [`OwnersTruth`](scenario::OwnersTruth).
//! - [`scale`]: streams millions of valid rows (and probe event batches for a
//!   large deployment) in seconds, for the import and correlation benchmarks.
//!
//! The CSV columns are the agent's (`agent/src/import/`): registry
//! `imsi,msisdn,iccid,carrier,owner_id,owner_name,outlet_id,outlet_name,channel,activated_at`,
//! CDRs `imsi,imei,msisdn,called,start,duration_s,cell`. Times are RFC 3339 in
//! China Standard Time (`2026-11-02T09:30:00.000+08:00`).
//!
//! All personal data is synthetic ([`people`]).

pub mod people;
pub mod scale;
pub mod scenario;

use std::io::{self, Write};

/// The registry header line.
pub const REGISTRY_HEADER: &str =
    "imsi,msisdn,iccid,carrier,owner_id,owner_name,outlet_id,outlet_name,channel,activated_at";
/// The CDR header line.
pub const CDR_HEADER: &str = "imsi,imei,msisdn,called,start,duration_s,cell";

/// One registry row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRow {
    pub imsi: String,
    pub msisdn: String,
    pub iccid: String,
    pub carrier: &'static str,
    pub owner_id: String,
    pub owner_name: String,
    pub outlet_id: String,
    pub outlet_name: String,
    pub channel: &'static str,
    /// Unix milliseconds.
    pub activated_at_ms: i64,
}

/// One CDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrRow {
    pub imsi: String,
    pub imei: String,
    pub msisdn: String,
    /// As written in the file (the agent normalises it).
    pub called: String,
    /// Unix milliseconds.
    pub start_ms: i64,
    pub duration_s: u32,
    /// `mcc-mnc-lac-ci`.
    pub cell: String,
}

/// Writes the registry CSV (header and rows).
pub fn write_registry<W: Write>(rows: &[RegistryRow], w: W) -> io::Result<()> {
    let mut w = io::BufWriter::new(w);
    writeln!(w, "{REGISTRY_HEADER}")?;
    let mut t = String::new();
    for r in rows {
        t.clear();
        push_time(&mut t, r.activated_at_ms);
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{}",
            r.imsi, r.msisdn, r.iccid, r.carrier, r.owner_id, r.owner_name, r.outlet_id, r.outlet_name, r.channel, t
        )?;
    }
    w.flush()
}

/// Writes the CDR CSV (header and rows).
pub fn write_cdrs<W: Write>(rows: &[CdrRow], w: W) -> io::Result<()> {
    let mut w = io::BufWriter::new(w);
    writeln!(w, "{CDR_HEADER}")?;
    let mut t = String::new();
    for r in rows {
        t.clear();
        push_time(&mut t, r.start_ms);
        writeln!(w, "{},{},{},{},{},{},{}", r.imsi, r.imei, r.msisdn, r.called, t, r.duration_s, r.cell)?;
    }
    w.flush()
}

/// China Standard Time, seconds east of UTC.
const CST_S: i64 = 8 * 3600;

/// Appends Unix milliseconds as RFC 3339 in China Standard Time with
/// milliseconds, e.g. `2026-11-02T09:30:00.000+08:00`.
pub fn push_time(out: &mut String, ms: i64) {
    use std::fmt::Write as _;
    let local = ms.div_euclid(1000) + CST_S;
    let millis = ms.rem_euclid(1000);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ =
        write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}+08:00", secs / 3600, secs / 60 % 60, secs % 60);
}

/// Unix milliseconds as RFC 3339 in China Standard Time.
pub fn time_string(ms: i64) -> String {
    let mut s = String::with_capacity(29);
    push_time(&mut s, ms);
    s
}

/// Unix milliseconds as RFC 3339 UTC (`2026-11-02T01:30:00.000Z`), the probe's form.
pub fn utc_string(ms: i64) -> String {
    let t = time_string(ms - CST_S * 1000);
    format!("{}Z", &t[..23])
}

/// The civil date of a day count from 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format() {
        assert_eq!(time_string(0), "1970-01-01T08:00:00.000+08:00");
        assert_eq!(time_string(1_793_583_000_123), "2026-11-02T09:30:00.123+08:00");
        assert_eq!(utc_string(1_793_583_000_123), "2026-11-02T01:30:00.123Z");
        assert_eq!(time_string(951_782_400_000), "2000-02-29T08:00:00.000+08:00");
        assert_eq!(time_string(-1), "1970-01-01T07:59:59.999+08:00");
    }
}
