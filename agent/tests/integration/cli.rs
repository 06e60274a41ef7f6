//! `probe` and `token` through the real binary.

use std::os::unix::fs::PermissionsExt as _;

use sha2::{Digest, Sha256};

use crate::support::agent::{cli, stderr, stdout};

#[test]
fn probe_add_prints_the_token_alone_on_the_last_line_and_stores_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["probe", "add", "site-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let token = text.lines().last().unwrap();
    assert!(token.starts_with("dkp_") && token.len() == 47 && !token.contains(' '), "{text}");
    assert_eq!(text.matches(token).count(), 1, "the token is printed once: {text}");
    assert!(!stderr(&out).contains(token), "the token must not reach the log");
    let conn = rusqlite::Connection::open(dir.path().join("agent.db")).unwrap();
    let hash: String = conn.query_row("SELECT token_hash FROM probes WHERE name = 'site-1'", [], |r| r.get(0)).unwrap();
    assert_eq!(hash, hex::encode(Sha256::digest(token.as_bytes())));
}

#[test]
fn a_duplicate_probe_name_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    assert!(cli(dir.path(), &["probe", "add", "site-1"]).status.success());
    let out = cli(dir.path(), &["probe", "add", "site-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("a probe named \"site-1\" already exists"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "no token for a refused enrolment");
}

#[test]
fn probe_list_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["probe", "list"]);
    assert!(stdout(&out).contains("No probes enrolled"), "{}", stdout(&out));
    crate::support::agent::enrol(dir.path(), "site-1");
    crate::support::agent::enrol(dir.path(), "site-2");
    let out = cli(dir.path(), &["probe", "list"]);
    let text = stdout(&out);
    assert!(text.starts_with("ID"), "{text}");
    assert!(text.contains("site-1") && text.contains("site-2"), "{text}");

    let out = cli(dir.path(), &["probe", "revoke", "site-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Revoked probe \"site-1\""));
    let again = cli(dir.path(), &["probe", "revoke", "site-1"]);
    assert!(again.status.success());
    assert!(stdout(&again).contains("already revoked"));
    let missing = cli(dir.path(), &["probe", "revoke", "nobody"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no probe named \"nobody\""), "{}", stderr(&missing));

    let out = cli(dir.path(), &["probe", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["name"], "site-1");
    assert!(list[0]["revoked_at"].is_string(), "{list}");
    assert!(list[1]["revoked_at"].is_null(), "{list}");
    assert!(list[1].get("token_hash").is_none(), "hashes stay in the store");
}

#[test]
fn operator_tokens_add_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["token", "add", "--role", "analyst", "--name", "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let token = text.lines().last().unwrap();
    assert!(token.starts_with("dko_") && token.len() == 47, "{text}");

    let out = cli(dir.path(), &["token", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "alice");
    assert_eq!(list[0]["role"], "analyst");
    assert!(!stdout(&out).contains(token));
    let out = cli(dir.path(), &["token", "list"]);
    assert!(stdout(&out).contains("alice") && stdout(&out).contains("analyst"), "{}", stdout(&out));

    let out = cli(dir.path(), &["token", "revoke", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(dir.path(), &["token", "revoke", "7"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no operator token with id 7"));
    let out = cli(dir.path(), &["token", "add", "--role", "owner"]);
    assert_eq!(out.status.code(), Some(2), "a role that does not exist is a usage error");
}

#[test]
fn help_explains_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["serve", "--help"]);
    let text = stdout(&out);
    for needle in ["--listen", "--tls-cert", "--tls-key", "self-signed"] {
        assert!(text.contains(needle), "serve --help lacks {needle}: {text}");
    }
    let text = stdout(&cli(dir.path(), &["probe", "add", "--help"]));
    assert!(text.contains("last line"), "{text}");
}

/// Runs the CLI with `stdin` piped in.
fn cli_with_stdin(data: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new(crate::support::agent::bin())
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("DUANKA_DATA")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn user_add_reads_the_password_from_stdin_and_user_list_never_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli_with_stdin(dir.path(), &["user", "add", "zhang", "--role", "auditor"], "a long enough secret\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli_with_stdin(dir.path(), &["user", "add", "li", "--role", "analyst", "--password-stdin"], "short\n");
    assert_eq!(out.status.code(), Some(2), "a weak password is a usage error");
    assert!(stderr(&out).contains("at least 10 characters"), "{}", stderr(&out));
    let out = cli_with_stdin(dir.path(), &["user", "add", "zhang", "--role", "admin"], "another long secret\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"));
    let out = cli(dir.path(), &["user", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(list[0]["name"], "zhang");
    assert_eq!(list[0]["role"], "auditor");
    assert!(!stdout(&out).contains("secret") && !stdout(&out).contains("argon2"));
    assert!(cli(dir.path(), &["user", "disable", "zhang"]).status.success());
    let out = cli(dir.path(), &["user", "list"]);
    assert!(stdout(&out).lines().nth(1).unwrap().trim_end().ends_with('Z'), "a disabled time: {}", stdout(&out));
    assert_eq!(cli(dir.path(), &["user", "disable", "nobody"]).status.code(), Some(1));
    // Every account change is in the audit log.
    let out = cli(dir.path(), &["audit", "list", "--json"]);
    let records: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let actions: Vec<&str> = records.as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["user.disabled", "user.added"]);
}

#[test]
fn audit_verify_finds_a_row_edited_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b", "c"] {
        assert!(cli(dir.path(), &["probe", "add", name]).status.success());
    }
    let out = cli(dir.path(), &["audit", "verify"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("intact: 3 records"), "{}", stdout(&out));
    let conn = rusqlite::Connection::open(dir.path().join("agent.db")).unwrap();
    let err = conn.execute("UPDATE audit_log SET target = 'probe:z' WHERE id = 2", []).unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    // Someone with the file drops the guard and edits a record.
    conn.execute_batch("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET target = 'probe:z' WHERE id = 2")
        .unwrap();
    drop(conn);
    let out = cli(dir.path(), &["audit", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["broken"]["id"], 2, "{v}");
    let out = cli(dir.path(), &["audit", "verify"]);
    assert!(stdout(&out).contains("BROKEN at record 2"), "{}", stdout(&out));
}

#[test]
fn bundles_verify_and_a_changed_bundle_fails_naming_the_file() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let store = duanka_agent::store::Store::open(dir.path()).unwrap();
    let case = crate::support::ui::seed_case(&store, 1);
    store.close().unwrap();
    let zip = dir.path().join("case.zip");
    let out = cli(dir.path(), &["bundle", "create", &case.to_string(), "--out", zip.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = dir.path().join("keys/signing.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let out = cli(dir.path(), &["bundle", "verify", zip.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("OK"), "{}", stdout(&out));

    // The same bundle with one byte of case.json changed.
    let mut src = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..src.len() {
        let mut f = src.by_index(i).unwrap();
        let name = f.name().to_owned();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if name == "case.json" {
            let text = String::from_utf8(data).unwrap().replacen("critical", "low", 1);
            data = text.into_bytes();
        }
        w.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(&data).unwrap();
    }
    let forged = dir.path().join("forged.zip");
    std::fs::write(&forged, w.finish().unwrap().into_inner()).unwrap();
    let out = cli(dir.path(), &["bundle", "verify", forged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stdout(&out).contains("case.json: SHA-256"), "{}", stdout(&out));

    // Checked against another agent's key, the genuine bundle fails too.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join("keys")).unwrap();
    std::fs::write(
        other.path().join("keys/signing.pub"),
        hex::encode(ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key().as_bytes()),
    )
    .unwrap();
    let out = cli(other.path(), &["bundle", "verify", zip.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stdout(&out).contains("signature"), "{}", stdout(&out));
    // No key at all: a clear error, not a pass.
    let empty = tempfile::tempdir().unwrap();
    let out = cli(empty.path(), &["bundle", "verify", zip.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no agent key"), "{}", stderr(&out));
}

#[test]
fn exports_from_the_cli_write_csv_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let store = duanka_agent::store::Store::open(dir.path()).unwrap();
    let case = crate::support::ui::seed_case(&store, 1);
    store.close().unwrap();
    assert!(cli(dir.path(), &["cases", "set", &case.to_string(), "confirmed", "--reason", "fraud"]).status.success());
    let file = dir.path().join("block.csv");
    let out = cli(dir.path(), &["export", "blocklist", "--out", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(&file).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let out = cli(dir.path(), &["audit", "list", "--json"]);
    let records: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(records[0]["action"], "export");
    assert_eq!(records[1]["action"], "case.decision");
    assert!(records[1]["actor"].as_str().unwrap().starts_with("cli:"));
}

#[test]
fn auditor_tokens_can_be_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["token", "add", "--role", "auditor", "--name", "audit-office"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(dir.path(), &["token", "list", "--json"]);
    assert!(stdout(&out).contains(r#""role": "auditor""#), "{}", stdout(&out));
}
