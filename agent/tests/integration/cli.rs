//! `probe` and `token` through the real binary.

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
