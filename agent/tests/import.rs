//! `duanka-agent registry import` and `cdr import`, end to end: the real
//! binary on small CSV files written here (all identities synthetic, check
//! digits computed below), then the store read back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use duanka_agent::import::{self, ImportErrorKind, ImportOptions, WriteOrder};
use duanka_agent::store::Store;

const REGISTRY_HEADER: &str =
    "imsi,msisdn,iccid,carrier,owner_id,owner_name,outlet_id,outlet_name,channel,activated_at";
const CDR_HEADER: &str = "imsi,imei,msisdn,called,start,duration_s,cell";

fn luhn(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

fn gb11643(first17: &str) -> String {
    let sum: u32 = first17.chars().enumerate().map(|(i, c)| c.to_digit(10).unwrap() * ((1u32 << (17 - i)) % 11)).sum();
    format!("{first17}{}", ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize])
}

fn imsi(n: u32) -> String {
    format!("4600012{n:08}")
}

fn iccid(n: u32) -> String {
    let body = format!("8986000012{n:09}");
    format!("{body}{}", luhn(&body))
}

fn owner(n: u32) -> String {
    gb11643(&format!("37130219{:02}0101{:03}", 70 + n % 30, n % 1000))
}

/// A good registry row for SIM `n`.
fn reg_row(n: u32) -> String {
    format!(
        "{},138{n:08},{},China Mobile,{},Synthetic Name {n},CMCC-{:04},CMCC Outlet {},outlet,2026-03-01T10:{:02}:00+08:00",
        imsi(n),
        iccid(n),
        owner(n / 3),
        n % 7,
        n % 7,
        n % 60
    )
}

fn imei(n: u32) -> String {
    let body = format!("861904{n:08}");
    format!("{body}{}", luhn(&body))
}

fn cdr_row(n: u32) -> String {
    format!(
        "{},{},138{n:08},+86139{n:08},2026-11-02T09:{:02}:00Z,{},460-00-9633-3133",
        imsi(n),
        imei(n),
        n % 60,
        n % 90
    )
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_duanka-agent"))
            .args(args)
            .arg("--data")
            .arg(self.data())
            .env_remove("DUANKA_DATA")
            .output()
            .expect("run duanka-agent")
    }

    fn import(&self, kind: &str, file: &Path, json: bool) -> (i32, serde_json::Value, String) {
        let f = file.to_str().unwrap();
        let mut args = vec![kind, "import", f, "--no-progress", "-q"];
        if json {
            args.push("--json");
        }
        let out = self.run(&args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let v = if json {
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
        } else {
            serde_json::Value::Null
        };
        (out.status.code().unwrap_or(-1), v, stdout + &String::from_utf8_lossy(&out.stderr))
    }

    fn count(&self, sql: &str) -> i64 {
        let store = Store::open(&self.data()).unwrap();
        store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn text(&self, sql: &str) -> String {
        let store = Store::open(&self.data()).unwrap();
        store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

fn registry_file(rows: impl IntoIterator<Item = String>) -> String {
    let mut s = format!("{REGISTRY_HEADER}\n");
    for r in rows {
        s.push_str(&r);
        s.push('\n');
    }
    s
}

#[test]
fn a_good_registry_file_is_stored_with_its_import_row() {
    let env = Env::new();
    let body = registry_file((0..50).map(reg_row));
    let f = env.write("reg.csv", &body);
    let (code, v, all) = env.import("registry", &f, true);
    assert_eq!(code, 0, "{all}");
    assert_eq!((v["rows"].as_u64(), v["inserted"].as_u64(), v["updated"].as_u64()), (Some(50), Some(50), Some(0)));
    assert_eq!(v["bad_rows"], 0);
    assert!(v["elapsed_s"].as_f64().is_some());
    assert_eq!(env.count("SELECT count(*) FROM registry"), 50);
    assert_eq!(env.count("SELECT count(*) FROM imports WHERE kind = 'registry' AND rows = 50 AND actor = 'cli'"), 1);
    let sha = env.text("SELECT sha256 FROM imports");
    use sha2::Digest;
    assert_eq!(sha, hex::encode(sha2::Sha256::digest(body.as_bytes())));
    assert_eq!(v["sha256"], sha.as_str());
    // Stored forms: MSISDN as given (national), kind resident, time in UTC ms.
    let t = env.count(&format!("SELECT activated_at FROM registry WHERE imsi = '{}'", imsi(5)));
    assert_eq!(t, chrono::DateTime::parse_from_rfc3339("2026-03-01T02:05:00Z").unwrap().timestamp_millis());
    assert_eq!(env.text(&format!("SELECT owner_id_kind FROM registry WHERE imsi = '{}'", imsi(5))), "resident");
    // The human summary.
    let f2 = env.write("reg2.csv", registry_file((50..52).map(reg_row)));
    let (code, _, out) = env.import("registry", &f2, false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 rows (2 new, 0 updated)"), "{out}");
}

#[test]
fn stages_after_reading_are_reported_in_order() {
    use import::Stage;
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let options = |order| {
        let seen = Arc::clone(&seen);
        ImportOptions {
            order,
            stage: Some(Box::new(move |s| seen.lock().unwrap().push(s))),
            ..ImportOptions::default()
        }
    };
    let take = || std::mem::take(&mut *seen.lock().unwrap());
    let mut store = Store::open_in_memory().unwrap();
    let first = registry_file((0..2_000).map(reg_row));
    // A first load: the rows, sorted, then the three indexes.
    import::registry::import_reader(&mut store, first.as_bytes(), "a.csv", options(WriteOrder::Auto)).unwrap();
    let indexing = (1..=3).map(|index| Stage::Indexing { index, of: 3 });
    let want: Vec<Stage> = std::iter::once(Stage::Writing { rows: 2_000 }).chain(indexing).collect();
    assert_eq!(take(), want);
    assert_eq!(want[0].to_string(), "writing 2000 rows in key order");
    assert_eq!(want[3].to_string(), "building index 3 of 3");
    // Into a table with rows, in key order: the rows only (a small file
    // keeps its indexes).
    let second = registry_file((1_000..3_000).map(reg_row));
    import::registry::import_reader(&mut store, second.as_bytes(), "b.csv", options(WriteOrder::Key)).unwrap();
    assert_eq!(take(), vec![Stage::Writing { rows: 2_000 }]);
    // Written as read: nothing after the reading.
    let third = registry_file((3_000..3_100).map(reg_row));
    import::registry::import_reader(&mut store, third.as_bytes(), "c.csv", options(WriteOrder::File)).unwrap();
    assert_eq!(take(), vec![]);
    // A refused file writes nothing and builds nothing.
    let mut empty = Store::open_in_memory().unwrap();
    let bad = registry_file((0..10).map(reg_row).chain(["garbage".to_owned()]));
    import::registry::import_reader(&mut empty, bad.as_bytes(), "d.csv", options(WriteOrder::Auto)).unwrap_err();
    assert_eq!(take(), vec![]);
}

#[test]
fn re_import_updates_rows_instead_of_duplicating_them() {
    let env = Env::new();
    let f = env.write("reg.csv", registry_file((0..20).map(reg_row)));
    assert_eq!(env.import("registry", &f, true).0, 0);
    let changed = registry_file((10..30).map(|n| reg_row(n).replace("China Mobile", "China Mobile Shandong")));
    let f2 = env.write("reg2.csv", changed);
    let (code, v, all) = env.import("registry", &f2, true);
    assert_eq!(code, 0, "{all}");
    assert_eq!((v["inserted"].as_u64(), v["updated"].as_u64()), (Some(10), Some(10)));
    assert_eq!(env.count("SELECT count(*) FROM registry"), 30);
    assert_eq!(env.count("SELECT count(*) FROM registry WHERE carrier = 'China Mobile Shandong'"), 20);
    assert_eq!(env.count("SELECT count(DISTINCT import_id) FROM registry"), 2);
    assert_eq!(env.count("SELECT count(*) FROM imports"), 2);
}

#[test]
fn bad_rows_refuse_the_whole_file_and_name_their_lines() {
    let env = Env::new();
    let first = env.write("first.csv", registry_file((100..105).map(reg_row)));
    assert_eq!(env.import("registry", &first, true).0, 0);

    let mut rows: Vec<String> = (0..20).map(reg_row).collect();
    // Line numbers: header is line 1, rows[i] is line i + 2.
    let bad_iccid = {
        let good = iccid(3);
        let last = good.chars().last().unwrap().to_digit(10).unwrap();
        format!("{}{}", &good[..19], (last + 1) % 10)
    };
    rows[3] = reg_row(3).replace(&iccid(3), &bad_iccid); // line 5
    rows[7] = reg_row(7).replace(&imsi(7), "46000123"); // line 9
    rows[10] = reg_row(10).replace(&owner(3), "E12345678"); // line 12
    rows[12] = reg_row(12).replace("2026-03-01T10:12:00+08:00", "2026-02-30T10:00:00"); // line 14
    rows[15] = reg_row(15).replace("Synthetic Name 15", ""); // line 17
    rows[18] = reg_row(18).replace(",outlet,", ",outlet,extra,"); // line 20
    let f = env.write("bad.csv", registry_file(rows));
    let (code, v, all) = env.import("registry", &f, true);
    assert_eq!(code, 3, "{all}");
    assert_eq!(v["status"], "refused");
    assert_eq!(v["bad_rows"], 6);
    assert_eq!(v["rows"], 20);
    let errors = v["errors"].as_array().unwrap();
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [5, 9, 12, 14, 17, 20]);
    let reason = |i: usize| errors[i]["reason"].as_str().unwrap().to_owned();
    let want_check = luhn(&iccid(3)[..19]);
    assert_eq!(
        reason(0),
        format!("iccid {bad_iccid}: check digit is {}, expected {want_check}", bad_iccid.chars().last().unwrap())
    );
    assert_eq!(reason(1), "imsi 46000123: 8 digits, expected 15");
    assert_eq!(
        reason(2),
        "owner_id (9 characters): not a resident ID (18 characters); mark a passport as passport:NUMBER"
    );
    assert_eq!(reason(3), "activated_at 2026-02-30T10:00:00: no such date 2026-02-30");
    assert_eq!(reason(4), "owner_name: empty");
    assert_eq!(reason(5), "11 fields, expected 10");
    // Nothing of the refused file is stored.
    assert_eq!(env.count("SELECT count(*) FROM registry"), 5);
    assert_eq!(env.count("SELECT count(*) FROM imports"), 1);
    // The human report names the same lines.
    let (code, _, out) = env.import("registry", &f, false);
    assert_eq!(code, 3);
    assert!(out.contains("6 bad row(s) of 20; nothing was stored"), "{out}");
    assert!(out.contains("line 9: imsi 46000123: 8 digits, expected 15"), "{out}");
}

#[test]
fn owner_ids_in_reports_are_masked() {
    let env = Env::new();
    let wrong = {
        let good = owner(4);
        let c = if good.ends_with('1') { '2' } else { '1' };
        format!("{}{c}", &good[..17])
    };
    let f = env.write("r.csv", registry_file([reg_row(12).replace(&owner(4), &wrong)]));
    let (code, v, all) = env.import("registry", &f, true);
    assert_eq!(code, 3, "{all}");
    let reason = v["errors"][0]["reason"].as_str().unwrap();
    assert!(!reason.contains(&wrong) && !all.contains(&wrong), "{all}");
    assert!(
        reason.starts_with(&format!("owner_id {}**********{}: check digit is", &wrong[..4], &wrong[14..])),
        "{reason}"
    );
}

#[test]
fn over_a_hundred_bad_rows_report_a_hundred_and_the_total() {
    let env = Env::new();
    let rows = (0..400).map(|n| if n % 2 == 0 { reg_row(n).replace(",outlet,", ",,") } else { reg_row(n) });
    let f = env.write("many.csv", registry_file(rows));
    let (code, v, all) = env.import("registry", &f, true);
    assert_eq!(code, 3, "{all}");
    assert_eq!(v["bad_rows"], 200);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 100);
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(errors[99]["line"], 200);
    assert_eq!(errors[0]["reason"], "channel: empty");
    let (_, _, out) = env.import("registry", &f, false);
    assert!(out.contains("… and 100 more bad row(s) (200 in all)"), "{out}");
    assert_eq!(env.count("SELECT count(*) FROM registry"), 0);
}

#[test]
fn bad_headers_and_empty_files_are_refused() {
    let env = Env::new();
    let cases = [
        ("missing.csv", REGISTRY_HEADER.replace(",channel", ""), "missing column(s) channel"),
        ("unknown.csv", format!("{REGISTRY_HEADER},note"), "unknown column(s) \"note\""),
        ("twice.csv", format!("{REGISTRY_HEADER},imsi"), "names column \"imsi\" twice"),
        ("cdr-header.csv", CDR_HEADER.to_owned(), "missing column(s) iccid"),
    ];
    for (name, header, want) in cases {
        let f = env.write(name, format!("{header}\n{}\n", reg_row(1)));
        let (code, v, all) = env.import("registry", &f, true);
        assert_eq!(code, 3, "{name}: {all}");
        let reason = v["errors"][0]["reason"].as_str().unwrap();
        assert!(reason.contains(want), "{name}: {reason}");
        assert_eq!(v["errors"][0]["line"], 1);
    }
    for (name, body) in [("empty.csv", ""), ("blank.csv", "\n\n")] {
        let f = env.write(name, body);
        let (code, v, all) = env.import("registry", &f, true);
        assert_eq!(code, 3, "{name}: {all}");
        assert!(v["errors"][0]["reason"].as_str().unwrap().contains("empty file"), "{name}: {v}");
    }
    // A header alone is a good, empty file.
    let f = env.write("header-only.csv", format!("{REGISTRY_HEADER}\n"));
    let (code, v, all) = env.import("registry", &f, true);
    assert_eq!((code, v["rows"].as_u64()), (0, Some(0)), "{all}");
    // Columns in another order are fine.
    let f = env.write(
        "reordered.csv",
        "activated_at,imsi,msisdn,iccid,carrier,owner_id,owner_name,outlet_id,outlet_name,channel\n\
         2026-03-01T10:00:00Z,460001299999999,13800000001,"
            .to_owned()
            + &iccid(5)
            + ",China Mobile,"
            + &owner(5)
            + ",N,O,O,outlet\n",
    );
    let (code, _, all) = env.import("registry", &f, true);
    assert_eq!(code, 0, "{all}");
    assert_eq!(env.count("SELECT count(*) FROM registry WHERE imsi = '460001299999999'"), 1);
    // A missing file is a failure, not a refusal.
    let (code, _, all) = env.import("registry", &env.dir.path().join("nope.csv"), false);
    assert_eq!(code, 1, "{all}");
}

#[test]
fn crlf_bom_and_quoted_fields_are_read() {
    let env = Env::new();
    let mut body = vec![0xEF, 0xBB, 0xBF];
    body.extend_from_slice(format!("{REGISTRY_HEADER}\r\n").as_bytes());
    body.extend_from_slice(format!("{}\r\n", reg_row(1)).as_bytes());
    // Quoted fields with commas, a doubled quote, and a line break.
    let quoted = reg_row(2)
        .replace("Synthetic Name 2", "\"Name, With Comma\"")
        .replace("CMCC Outlet 2", "\"Outlet \"\"Two\"\", Main St\"");
    body.extend_from_slice(format!("{quoted}\r\n").as_bytes());
    // A line break inside a quoted field: a control character in a name (a bad
    // row), and the record after it starts two lines later.
    let spanning = reg_row(3).replace("CMCC Outlet 3", "\"Outlet\r\nThree\"");
    body.extend_from_slice(format!("{spanning}\r\n").as_bytes());
    let bad = reg_row(4).replace(&imsi(4), "x");
    body.extend_from_slice(format!("{bad}\r\n").as_bytes());
    let f = env.write("crlf.csv", &body);
    let (code, v, all) = env.import("registry", &f, true);
    assert_eq!(code, 3, "{all}");
    assert_eq!(v["bad_rows"], 2);
    assert_eq!(v["errors"][0]["line"], 4, "{v}");
    assert_eq!(v["errors"][0]["reason"], "outlet_name \"Outlet\\nThree\": control character '\\n'");
    assert_eq!(v["errors"][1]["line"], 6, "{v}");
    // Without the bad rows it imports, and the fields are stored unquoted.
    let cut = body.len() - format!("{spanning}\r\n{bad}\r\n").len();
    let f = env.write("crlf-good.csv", &body[..cut]);
    let (code, v, all) = env.import("registry", &f, true);
    assert_eq!(code, 0, "{all}");
    assert_eq!(v["rows"], 2);
    assert_eq!(env.text(&format!("SELECT owner_name FROM registry WHERE imsi = '{}'", imsi(2))), "Name, With Comma");
    assert_eq!(
        env.text(&format!("SELECT outlet_name FROM registry WHERE imsi = '{}'", imsi(2))),
        "Outlet \"Two\", Main St"
    );
    assert_eq!(env.text(&format!("SELECT carrier FROM registry WHERE imsi = '{}'", imsi(1))), "China Mobile");
}

#[test]
fn line_numbers_count_physical_lines_whatever_the_line_ends() {
    let env = Env::new();
    for (name, eol) in [("lf.csv", "\n"), ("crlf.csv", "\r\n"), ("cr.csv", "\r")] {
        let rows = [reg_row(1), String::new(), reg_row(2), reg_row(3).replace(&imsi(3), "bad")];
        let body = format!("{REGISTRY_HEADER}{eol}{}{eol}", rows.join(eol));
        let f = env.write(name, body);
        let (code, v, all) = env.import("registry", &f, true);
        assert_eq!(code, 3, "{name}: {all}");
        // Header 1, row 2, blank 3, row 4, bad row 5.
        assert_eq!(v["errors"][0]["line"], 5, "{name}: {v}");
        assert_eq!(v["rows"], 3, "{name}: blank lines are no rows");
    }
}

#[test]
fn non_utf8_bytes_are_a_row_error() {
    let env = Env::new();
    let mut body = registry_file([reg_row(1)]).into_bytes();
    body.extend_from_slice(reg_row(2).replace("Synthetic Name 2", "Na\u{1}me").as_bytes());
    body.push(b'\n');
    body.extend_from_slice(&reg_row(3).into_bytes()[..]);
    let pos = body.len() - 10;
    body[pos] = 0xFF;
    body.push(b'\n');
    let f = env.write("bytes.csv", &body);
    let (code, v, all) = env.import("registry", &f, true);
    assert_eq!(code, 3, "{all}");
    assert_eq!(v["bad_rows"], 2);
    assert_eq!(v["errors"][0]["reason"], "owner_name: control character '\\u{1}'");
    assert!(v["errors"][1]["reason"].as_str().unwrap().contains("not valid UTF-8"), "{v}");
}

#[test]
fn a_key_twice_in_one_file_is_a_bad_row() {
    let env = Env::new();
    let f = env.write("dup.csv", registry_file([reg_row(1), reg_row(2), reg_row(1)]));
    let (code, v, all) = env.import("registry", &f, true);
    assert_eq!(code, 3, "{all}");
    assert_eq!(v["errors"][0]["line"], 4);
    assert_eq!(v["errors"][0]["reason"], "imsi repeats an earlier row of this file");
}

#[test]
fn bad_rows_and_repeated_keys_are_reported_in_line_order_across_batches() {
    let env = Env::new();
    // More rows than one batch of the reading thread (4,096), so repeats are found
    // in later batches than their first occurrence.
    let mut rows: Vec<String> = (0..9000).map(reg_row).collect();
    rows[5000] = reg_row(5000).replace(&imsi(5000), "bad"); // line 5002
    rows[5001] = reg_row(17); // line 5003: repeats line 19
    rows[5002] = reg_row(5002).replace(",outlet,", ",,"); // line 5004
    rows[8999] = reg_row(4500); // line 9001: repeats line 4502
    let f = env.write("batches.csv", registry_file(rows));
    let (code, v, all) = env.import("registry", &f, true);
    assert_eq!(code, 3, "{all}");
    let lines: Vec<u64> = v["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [5002, 5003, 5004, 9001]);
    assert_eq!(v["errors"][1]["reason"], "imsi repeats an earlier row of this file");
    assert_eq!((v["rows"].as_u64(), v["bad_rows"].as_u64()), (Some(9000), Some(4)));
    assert_eq!(env.count("SELECT count(*) FROM registry"), 0);
}

#[test]
fn passports_and_time_zones() {
    let env = Env::new();
    let rows = [
        reg_row(1).replace(&owner(0), "passport:phl:p1234567a"),
        reg_row(2).replace("2026-03-01T10:02:00+08:00", "2026-03-01 10:02:00"),
    ];
    let f = env.write("p.csv", registry_file(rows));
    let out = env.run(&["registry", "import", f.to_str().unwrap(), "--tz", "Z", "--json", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        env.text(&format!("SELECT owner_id || '/' || owner_id_kind FROM registry WHERE imsi = '{}'", imsi(1))),
        "passport:PHL:P1234567A/passport"
    );
    let t = env.count(&format!("SELECT activated_at FROM registry WHERE imsi = '{}'", imsi(2)));
    assert_eq!(t, chrono::DateTime::parse_from_rfc3339("2026-03-01T10:02:00Z").unwrap().timestamp_millis());
    let out = env.run(&["registry", "import", f.to_str().unwrap(), "--tz", "CST"]);
    assert_eq!(out.status.code(), Some(2), "a bad --tz is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tz"));
}

#[test]
fn help_explains_the_rules() {
    let env = Env::new();
    for kind in ["registry", "cdr"] {
        let out = env.run(&[kind, "import", "--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        for want in ["passport:NUMBER", "+08:00", "China Standard Time", "line 1", "--no-progress", "--tz", "exits"] {
            assert!(help.contains(want), "{kind} help lacks {want:?}:\n{help}");
        }
    }
}

#[test]
fn cdrs_import_normalised_and_refuse_bad_rows() {
    let env = Env::new();
    let mut body = format!("{CDR_HEADER}\n");
    for n in 0..10 {
        body.push_str(&cdr_row(n));
        body.push('\n');
    }
    let f = env.write("cdr.csv", &body);
    let (code, v, all) = env.import("cdr", &f, true);
    assert_eq!(code, 0, "{all}");
    assert_eq!((v["kind"].as_str(), v["inserted"].as_u64()), (Some("cdr"), Some(10)));
    assert_eq!(env.text(&format!("SELECT called FROM cdrs WHERE imsi = '{}'", imsi(4))), "13900000004");
    assert_eq!(env.count("SELECT count(*) FROM imports WHERE kind = 'cdr'"), 1);
    // Re-import: updates.
    let (code, v, _) = env.import("cdr", &f, true);
    assert_eq!((code, v["updated"].as_u64()), (0, Some(10)));
    assert_eq!(env.count("SELECT count(*) FROM cdrs"), 10);
    // A 14-digit IMEI is completed; a wrong check digit, a negative duration and
    // a called number without digits are refused.
    let mut bad = format!("{CDR_HEADER}\n");
    bad.push_str(&cdr_row(20).replace(&imei(20), &imei(20)[..14]));
    bad.push('\n');
    let wrong = format!("{}{}", &imei(21)[..14], (imei(21).as_bytes()[14] - b'0' + 1) % 10);
    bad.push_str(&cdr_row(21).replace(&imei(21), &wrong));
    bad.push('\n');
    bad.push_str(&cdr_row(22).replace(",22,460", ",-5,460"));
    bad.push('\n');
    bad.push_str(&cdr_row(23).replace("+8613900000023", "unknown"));
    bad.push('\n');
    let f = env.write("bad.csv", &bad);
    let (code, v, all) = env.import("cdr", &f, true);
    assert_eq!(code, 3, "{all}");
    let lines: Vec<u64> = v["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [3, 4, 5]);
    assert!(v["errors"][0]["reason"].as_str().unwrap().starts_with(&format!("imei {wrong}: check digit is")));
    assert_eq!(v["errors"][1]["reason"], "duration_s -5: not a non-negative whole number of seconds");
    assert_eq!(v["errors"][2]["reason"], "called unknown: no digits");
    assert_eq!(env.count("SELECT count(*) FROM cdrs"), 10);
    // The good 14-digit row alone is stored with its check digit.
    let f = env.write("ok14.csv", format!("{CDR_HEADER}\n{}\n", cdr_row(20).replace(&imei(20), &imei(20)[..14])));
    assert_eq!(env.import("cdr", &f, true).0, 0);
    assert_eq!(env.text(&format!("SELECT imei FROM cdrs WHERE imsi = '{}'", imsi(20))), imei(20));
}

#[test]
fn the_library_imports_from_a_reader() {
    let mut store = Store::open_in_memory().unwrap();
    let body = registry_file((0..5).map(reg_row));
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let p = progress.clone();
    let options = ImportOptions {
        progress: Some(Box::new(move |b| p.store(b, std::sync::atomic::Ordering::Relaxed))),
        actor: "upload:alice".into(),
        ..ImportOptions::default()
    };
    let o = import::registry::import_reader(&mut store, body.as_bytes(), "upload.csv", options).unwrap();
    assert_eq!((o.rows, o.inserted, o.updated), (5, 5, 0));
    assert_eq!(progress.load(std::sync::atomic::Ordering::Relaxed), body.len() as u64);
    let actor: String = store.conn().query_row("SELECT actor FROM imports", [], |r| r.get(0)).unwrap();
    assert_eq!(actor, "upload:alice");
    let err =
        import::cdr::import_reader(&mut store, body.as_bytes(), "wrong.csv", ImportOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ImportErrorKind::Header);
    assert!(err.kind().is_refusal());
    let bad = registry_file([reg_row(1).replace(&imsi(1), "1")]);
    let err =
        import::registry::import_reader(&mut store, bad.as_bytes(), "b.csv", ImportOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ImportErrorKind::Rejected);
    let r = err.rejection().unwrap();
    assert_eq!((r.rows, r.bad_rows, r.errors[0].line), (1, 1, 2));
}

/// Every registry row, all columns, by IMSI.
fn registry_dump(store: &Store) -> Vec<Vec<String>> {
    let mut stmt = store
        .conn()
        .prepare(
            "SELECT imsi, msisdn, iccid, carrier, owner_id, owner_id_kind, owner_name, outlet_id, outlet_name, \
             channel, activated_at, import_id FROM registry ORDER BY imsi",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            (0..12)
                .map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}")))
                .collect::<Result<Vec<String>, _>>()
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// Appending into an empty table, writing in key order (sorted, with runs
/// spilled to disk) and in sorted chunks store exactly what writing in file
/// order does, count inserts and updates the same, and refuse a file with
/// repeated keys with the same report.
#[test]
fn every_write_order_stores_the_same() {
    // More rows than one sorted chunk (65,536) and a 2 MiB budget: the first
    // chunk is spilled to a run on disk and merged with the rest in memory.
    let n = 70_000u32;
    // Keys in a scrambled order (a permutation of 0..n).
    let order: Vec<u32> = (0..n).map(|i| (i * 7919) % n).collect();
    let first = registry_file(order.iter().map(|&i| reg_row(i)));
    // Half of them again with other owners and outlets, and new ones.
    let second = registry_file(
        order
            .iter()
            .filter(|&&i| i % 2 == 0)
            .map(|&i| reg_row(i).replace("CMCC Outlet", "Moved Outlet").replace(&owner(i / 3), &owner(i / 3 + 500)))
            .chain((n..n + 5_000).map(reg_row)),
    );
    // Repeated keys (one far from its first row, in the next sorted chunk),
    // a bad row, good rows.
    let mut rows: Vec<String> = (0..70_000).map(|i| reg_row(n + 10_000 + i)).collect();
    rows[10] = reg_row(n + 10_000 + 68_000); // line 12, repeated at line 68,002
    rows[20] = reg_row(n + 10_000 + 5); // line 22: repeats line 7
    rows[30] = reg_row(1).replace(&iccid(1), "123"); // line 32: bad iccid
    rows[8_500] = reg_row(n + 10_000 + 5); // line 8,502: repeats line 7
    let third = registry_file(rows.clone());
    // The same repeats without the bad row.
    rows[30] = reg_row(n + 10_000 + 30);
    let repeats_only = registry_file(rows);

    let mut outcomes = Vec::new();
    let mut dumps = Vec::new();
    for write in [WriteOrder::Append, WriteOrder::Key, WriteOrder::Chunks, WriteOrder::File] {
        let mut store = Store::open_in_memory().unwrap();
        let options = || ImportOptions { order: write, cache_mib: 2, ..ImportOptions::default() };
        let a = import::registry::import_reader(&mut store, first.as_bytes(), "a.csv", options()).unwrap();
        let b = import::registry::import_reader(&mut store, second.as_bytes(), "b.csv", options()).unwrap();
        let c = import::registry::import_reader(&mut store, third.as_bytes(), "c.csv", options()).unwrap_err();
        assert_eq!((a.rows, a.inserted, a.updated), (u64::from(n), u64::from(n), 0), "{write:?}");
        assert_eq!((b.rows, b.inserted, b.updated), (u64::from(n / 2 + 5_000), 5_000, u64::from(n / 2)), "{write:?}");
        let c = c.rejection().cloned().unwrap();
        assert_eq!(
            c.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            [22, 32, 8_502, 68_002],
            "{write:?}: {:?}",
            c.errors
        );
        assert_eq!(c.bad_rows, 4);
        outcomes.push((a.sha256, b.sha256, c));
        dumps.push(registry_dump(&store));
    }
    for i in 1..outcomes.len() {
        assert_eq!(outcomes[0], outcomes[i]);
        assert!(dumps[0] == dumps[i], "appending and order {i} stored different rows");
    }
    assert_eq!(dumps[0].len(), (n + 5_000) as usize);

    // Appending sorts the file first: spilling runs to disk when its rows
    // do not fit in the page cache's budget (2 MiB here, the file 10 MB),
    // all in memory when the file's size says they do (64 MiB). The same
    // rows either way.
    let dir = tempfile::tempdir().unwrap();
    let on_disk = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let options = |cache_mib| ImportOptions { order: WriteOrder::Append, cache_mib, ..ImportOptions::default() };
    let (first_path, second_path) = (on_disk("a.csv", &first), on_disk("b.csv", &second));
    for cache_mib in [2, 64] {
        let mut store = Store::open_in_memory().unwrap();
        let a = import::registry::import(&mut store, &first_path, options(cache_mib)).unwrap();
        let b = import::registry::import(&mut store, &second_path, options(cache_mib)).unwrap();
        assert_eq!((a.sha256, b.sha256), (outcomes[0].0.clone(), outcomes[0].1.clone()));
        assert_eq!((a.inserted, b.inserted, b.updated), (u64::from(n), 5_000, u64::from(n / 2)));
        assert!(registry_dump(&store) == dumps[0], "appending with a {cache_mib} MiB cache stored different rows");
    }

    // Appending (into an empty table) finds the same repeats while merging,
    // with a bad row and without, whether the rows were held in memory (a
    // file on disk that fits the cache) or spilled (a reader of unknown
    // size). Either way nothing is stored and the indexes are back.
    let third_path = on_disk("c.csv", &third);
    let repeats_path = on_disk("d.csv", &repeats_only);
    for (file, path, lines) in
        [(&third, &third_path, vec![22, 32, 8_502, 68_002]), (&repeats_only, &repeats_path, vec![22, 8_502, 68_002])]
    {
        for spilled in [false, true] {
            let mut store = Store::open_in_memory().unwrap();
            let e = if spilled {
                import::registry::import_reader(&mut store, file.as_bytes(), "c.csv", options(2)).unwrap_err()
            } else {
                import::registry::import(&mut store, path, options(64)).unwrap_err()
            };
            let r = e.rejection().cloned().unwrap();
            assert_eq!(r.errors.iter().map(|e| e.line).collect::<Vec<_>>(), lines, "spilled {spilled}: {:?}", r.errors);
            assert_eq!(r.bad_rows, lines.len() as u64);
            assert!(r.errors.iter().any(|e| e.reason == "imsi repeats an earlier row of this file"));
            assert!(registry_dump(&store).is_empty());
            let indexes: i64 = store
                .conn()
                .query_row(
                    "SELECT count(*) FROM carrier.sqlite_schema WHERE type = 'index' AND tbl_name = 'registry'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            // Owner, outlet and ICCID: the IMSI is the rowid.
            assert_eq!(indexes, 3);
        }
    }
    // The second file's changes are there.
    let moved = dumps[0].iter().filter(|r| r[8].contains("Moved Outlet")).count();
    assert_eq!(moved, (n / 2) as usize);
}

/// The files a first load writes its table's pages into, left in `data`.
fn load_files(data: &Path) -> Vec<String> {
    std::fs::read_dir(data)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".duanka-load-"))
        .collect()
}

/// Bytes of `carrier.db`'s write-ahead log in `data` now (none: 0).
fn carrier_log_bytes(data: &Path) -> u64 {
    std::fs::metadata(data.join("carrier.db-wal")).map_or(0, |m| m.len())
}

fn carrier_journal_mode(store: &Store) -> String {
    store.conn().query_row("PRAGMA carrier.journal_mode", [], |r| r.get(0)).unwrap()
}

/// A first load into an empty registry, with nothing else holding the store,
/// writes its pages once, in place: no write-ahead log to fold back. With
/// another connection open it keeps the log (which that connection needs
/// to read meanwhile), and so does a re-import. Every way ends in WAL mode
/// with the same rows.
#[test]
fn a_first_load_alone_writes_no_log_and_the_store_stays_in_wal_mode() {
    let n = 20_000u32;
    let env = Env::new();
    let file = env.write("reg.csv", registry_file((0..n).map(|i| reg_row((i * 7919) % n))));
    let options = || ImportOptions { cache_mib: 16, ..ImportOptions::default() };
    let table_mib = |store: &Store| -> u64 {
        let pages: i64 = store.conn().query_row("PRAGMA carrier.page_count", [], |r| r.get(0)).unwrap();
        (u64::try_from(pages).unwrap() * 65_536) >> 20
    };

    // Alone: the log stays empty (the rows take a few MiB).
    let mut store = Store::open(&env.data()).unwrap();
    let a = import::registry::import(&mut store, &file, options()).unwrap();
    assert_eq!(a.inserted, u64::from(n));
    assert!(table_mib(&store) >= 3, "the rows take {} MiB", table_mib(&store));
    let log = carrier_log_bytes(&env.data());
    assert!(log < 256 << 10, "a first load wrote {log} bytes of log");
    assert_eq!(carrier_journal_mode(&store), "wal");
    assert!(!env.data().join("carrier.db-journal").exists(), "the rollback journal is left behind");
    assert_eq!(load_files(&env.data()), Vec::<String>::new(), "the load file is left behind");
    let ok: String = store.conn().query_row("PRAGMA carrier.integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let alone = registry_dump(&store);
    assert_eq!(alone.len(), n as usize);

    // Re-importing (the registry has rows): through the log.
    let b = import::registry::import(&mut store, &file, options()).unwrap();
    assert_eq!(b.updated, u64::from(n));
    let log = carrier_log_bytes(&env.data());
    assert!(log >= 1 << 20, "a re-import wrote only {log} bytes of log");
    store.close().unwrap();

    // Into an empty registry while another connection has the store open:
    // through the log, and that connection can read meanwhile and after.
    let other_env = Env::new();
    let other = Store::open(&other_env.data()).unwrap();
    let mut store = Store::open(&other_env.data()).unwrap();
    let c = import::registry::import(&mut store, &file, options()).unwrap();
    assert_eq!(c.inserted, u64::from(n));
    let log = carrier_log_bytes(&other_env.data());
    assert!(log >= 1 << 20, "with another connection open the load wrote only {log} bytes of log");
    let seen: i64 = other.conn().query_row("SELECT count(*) FROM registry", [], |r| r.get(0)).unwrap();
    assert_eq!(seen, i64::from(n));
    assert_eq!(carrier_journal_mode(&store), "wal");
    // The same rows stored either way, the import ids aside.
    let strip = |rows: Vec<Vec<String>>| {
        rows.into_iter()
            .map(|mut r| {
                r.pop();
                r
            })
            .collect::<Vec<_>>()
    };
    assert!(strip(registry_dump(&store)) == strip(alone.clone()), "the load through the log stored other rows");

    // The same with only a server's checkpointer running beside it.
    let served_env = Env::new();
    drop(Store::open(&served_env.data()).unwrap());
    let checkpointer = duanka_agent::store::Checkpointer::start(&served_env.data()).unwrap();
    std::thread::sleep(duanka_agent::store::CHECKPOINT_INTERVAL * 3);
    let mut store = Store::open(&served_env.data()).unwrap();
    let d = import::registry::import(&mut store, &file, options()).unwrap();
    // A passive checkpoint folds the log back but leaves the file's size.
    let log = carrier_log_bytes(&served_env.data());
    checkpointer.stop();
    assert!(log >= 1 << 20, "beside a checkpointer the load wrote only {log} bytes of log");
    assert_eq!(d.inserted, u64::from(n));
    assert_eq!(carrier_journal_mode(&store), "wal");
    assert!(strip(registry_dump(&store)) == strip(alone.clone()), "the load beside a checkpointer stored other rows");

    // A refused file in rollback-journal mode leaves the table empty and
    // the store in WAL mode.
    let bad_env = Env::new();
    let mut rows: Vec<String> = (0..n).map(reg_row).collect();
    rows[n as usize - 1] = reg_row(0).replace(&iccid(0), "123");
    let bad = bad_env.write("bad.csv", registry_file(rows));
    let mut store = Store::open(&bad_env.data()).unwrap();
    let e = import::registry::import(&mut store, &bad, options()).unwrap_err();
    assert_eq!(e.kind(), ImportErrorKind::Rejected);
    assert!(registry_dump(&store).is_empty());
    assert_eq!(carrier_journal_mode(&store), "wal");
    assert!(!bad_env.data().join("carrier.db-journal").exists(), "the rollback journal is left behind");
    assert_eq!(load_files(&bad_env.data()), Vec::<String>::new(), "a refused load leaves its load file");
    let ok: String = store.conn().query_row("PRAGMA carrier.integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
}

/// SIGKILL in the middle of a first load, while its pages are being written
/// into `carrier.db` in place (rollback-journal mode; SQLite copies them
/// there from the load's own page file, see `import::pages`): the next
/// start puts the file back as it was, with an empty registry, and the same
/// file then imports whole, removing the killed load's page file. The real binary, with a small page cache so that pages
/// reach the file early.
#[test]
fn sigkill_mid_first_load_leaves_an_empty_registry_and_the_file_imports_again() {
    let n = 200_000u32;
    let env = Env::new();
    let file = env.write("reg.csv", registry_file((0..n).map(|i| reg_row((i * 7919) % n))));
    // The store exists (migrated) before the load: its size is what a
    // rollback must bring the file back to.
    drop(Store::open(&env.data()).unwrap());
    let carrier = env.data().join("carrier.db");
    let size_before = std::fs::metadata(&carrier).unwrap().len();

    let mut child = Command::new(env!("CARGO_BIN_EXE_duanka-agent"))
        .args(["registry", "import", file.to_str().unwrap(), "--no-progress", "-q", "--no-correlate"])
        .args(["--cache-mib", "16", "--data"])
        .arg(env.data())
        .env_remove("DUANKA_DATA")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run duanka-agent");
    // Wait until rows have reached the database file itself (it grew by
    // 8 MiB, the table being about 30 MiB), then kill.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let size = std::fs::metadata(&carrier).map_or(0, |m| m.len());
        if size >= size_before + (8 << 20) {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut said = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut said);
            }
            panic!("the import ended ({status}) before its rows reached carrier.db (size {size}): {said}");
        }
        assert!(std::time::Instant::now() < deadline, "carrier.db did not grow within 300 s");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the import finished before it was killed");
    assert!(
        env.data().join("carrier.db-journal").exists(),
        "a load killed in rollback-journal mode leaves its journal"
    );

    // Opening the store rolls the load back.
    let store = Store::open(&env.data()).unwrap();
    assert!(registry_dump(&store).is_empty(), "rows of a killed import survived");
    let ok: String = store.conn().query_row("PRAGMA carrier.integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    assert_eq!(carrier_journal_mode(&store), "wal");
    let imports: i64 = store.conn().query_row("SELECT count(*) FROM imports", [], |r| r.get(0)).unwrap();
    assert_eq!(imports, 0, "the killed import is recorded");
    drop(store);
    let size_after = std::fs::metadata(&carrier).unwrap().len();
    assert!(
        size_after < size_before + (1 << 20),
        "carrier.db kept the killed load's pages: {size_before} -> {size_after}"
    );

    let (code, json, out) = env.import("registry", &file, true);
    assert_eq!(code, 0, "{out}");
    assert_eq!(json["inserted"], u64::from(n), "{out}");
    assert_eq!(env.count("SELECT count(*) FROM registry"), i64::from(n));
    // The killed load's page file (see `import::pages`) is gone too.
    assert_eq!(load_files(&env.data()), Vec::<String>::new(), "a killed load's file is left behind");
}
