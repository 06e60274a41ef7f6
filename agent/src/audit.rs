//! The audit log: who did what, when — logins (failed ones too), reveals of
//! identities, case decisions, exports, imports, user, token and probe changes.
//!
//! The table `audit_log` is append-only (SQLite triggers refuse UPDATE and
//! DELETE) and hash-chained, so that an edit made behind the agent's back
//! (triggers dropped, the file edited) is found by [`verify`]:
//!
//! * every record carries `prev_hash`, the `hash` of the record before it
//!   ([`GENESIS`] for the first), and its own `hash`;
//! * `hash` = SHA-256, lowercase hex, of the record's canonical bytes
//!   ([`canonical_bytes`]): the UTF-8 JSON text of the array
//!   `["duanka-audit/1", id, at, actor, action, target, detail, prev_hash]`
//!   as `serde_json` writes it (no spaces; strings escaped per RFC 8259, so a
//!   field can never run into the next).
//!
//! What the chain cannot show on its own: records cut off the end (the last
//! hash is not anchored anywhere outside the database). `audit verify`
//! prints the head hash so that it can be written down or sent elsewhere.
//!
//! Appending takes SQLite's write lock first (`BEGIN IMMEDIATE`, or the
//! caller's open transaction), so two writers never chain to the same record.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::{ms_to_rfc3339, now_ms};

/// `prev_hash` of the first record: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Version tag at the start of the canonical bytes.
pub const CANONICAL_VERSION: &str = "duanka-audit/1";

/// What happened. Stored as the lowercase, dotted name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// A successful login.
    Login,
    /// A failed login (wrong password, unknown or disabled account, rate limited).
    LoginFailed,
    /// A logout.
    Logout,
    /// A password change.
    PasswordChanged,
    /// Owners' identities of a case shown unmasked.
    Reveal,
    /// A case's state changed by a person.
    Decision,
    /// A note added to a case.
    Note,
    /// A file exported (block list, disciplinary list, evidence bundle).
    Export,
    /// A registry or CDR file imported (or refused).
    Import,
    /// A user account made.
    UserAdded,
    /// A user account disabled.
    UserDisabled,
    /// An operator token made.
    TokenAdded,
    /// An operator token revoked.
    TokenRevoked,
    /// A probe enrolled.
    ProbeAdded,
    /// A probe revoked.
    ProbeRevoked,
}

impl Action {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::LoginFailed => "login.failed",
            Action::Logout => "logout",
            Action::PasswordChanged => "password.changed",
            Action::Reveal => "case.reveal",
            Action::Decision => "case.decision",
            Action::Note => "case.note",
            Action::Export => "export",
            Action::Import => "import",
            Action::UserAdded => "user.added",
            Action::UserDisabled => "user.disabled",
            Action::TokenAdded => "token.added",
            Action::TokenRevoked => "token.revoked",
            Action::ProbeAdded => "probe.added",
            Action::ProbeRevoked => "probe.revoked",
        }
    }
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Position in the chain (row id).
    pub id: i64,
    /// When, Unix ms.
    pub at: i64,
    /// Who: `user:NAME`, `token:ID:NAME`, `cli:USER`, or a login name tried.
    pub actor: String,
    /// What ([`Action::as_str`]).
    pub action: String,
    /// On what: `case:17`, `user:alice`, a file name, …
    pub target: String,
    /// More, as JSON text (an object).
    pub detail: String,
    /// The previous record's hash.
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

impl Record {
    /// `at` as RFC 3339.
    pub fn at_rfc3339(&self) -> String {
        ms_to_rfc3339(self.at)
    }
}

/// An audit log problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The store failed.
    #[error("audit log: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The bytes a record's hash covers (see the module docs).
pub fn canonical_bytes(id: i64, at: i64, actor: &str, action: &str, target: &str, detail: &str, prev: &str) -> Vec<u8> {
    // A tuple of scalars serialises to a JSON array; writing to a Vec cannot fail.
    serde_json::to_vec(&(CANONICAL_VERSION, id, at, actor, action, target, detail, prev)).unwrap_or_default()
}

/// SHA-256 of the canonical bytes, lowercase hex.
pub fn record_hash(id: i64, at: i64, actor: &str, action: &str, target: &str, detail: &str, prev: &str) -> String {
    hex::encode(Sha256::digest(canonical_bytes(id, at, actor, action, target, detail, prev)))
}

/// Appends a record; returns its id. `detail` is any JSON value (an object
/// by convention). Inside the caller's transaction if one is open (the
/// record then commits or rolls back with the change it describes),
/// otherwise in a transaction of its own that takes the write lock first.
pub fn append(
    conn: &Connection,
    actor: &str,
    action: Action,
    target: &str,
    detail: &serde_json::Value,
) -> Result<i64, AuditError> {
    let own_tx = if conn.is_autocommit() {
        Some(rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?)
    } else {
        None
    };
    let prev: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (id, prev_hash) = match prev {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let at = now_ms();
    let detail = detail.to_string();
    let action = action.as_str();
    let hash = record_hash(id, at, actor, action, target, &detail, &prev_hash);
    conn.prepare_cached(
        "INSERT INTO audit_log (id, at, actor, action, target, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![id, at, actor, action, target, detail, prev_hash, hash])?;
    if let Some(tx) = own_tx {
        tx.commit()?;
    }
    Ok(id)
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only actors containing this text.
    pub actor: Option<String>,
    /// Only records with ids below this (paging backwards; `None`: from the newest).
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// Records, newest first.
pub fn list(conn: &Connection, f: &ListFilter) -> Result<Vec<Record>, AuditError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, target, detail, prev_hash, hash FROM audit_log
         WHERE (?1 IS NULL OR action = ?1) AND (?2 IS NULL OR instr(actor, ?2) > 0) AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![f.action, f.actor, f.before_id, f.limit], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        detail: r.get(5)?,
        prev_hash: r.get(6)?,
        hash: r.get(7)?,
    })
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Records checked.
    pub records: u64,
    /// The last record's hash (the head of the chain), if any.
    pub head: Option<String>,
    /// The first broken link, if any.
    pub broken: Option<Break>,
}

/// A broken link in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The record where the chain first fails.
    pub id: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// Walks the whole chain in id order and reports the first broken link:
/// a gap in the ids, a `prev_hash` that is not the previous record's hash,
/// or a `hash` that does not match the record's contents.
pub fn verify(conn: &Connection) -> Result<Verification, AuditError> {
    let mut stmt =
        conn.prepare("SELECT id, at, actor, action, target, detail, prev_hash, hash FROM audit_log ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut expected_prev = GENESIS.to_owned();
    let mut expected_id = 1;
    let mut records = 0;
    while let Some(r) = rows.next()? {
        let rec = row(r)?;
        records += 1;
        let broken = |reason: String| Verification {
            records,
            head: Some(rec.hash.clone()),
            broken: Some(Break { id: rec.id, reason }),
        };
        if rec.id != expected_id {
            return Ok(broken(format!("expected record {expected_id} here, found {} (records missing)", rec.id)));
        }
        if rec.prev_hash != expected_prev {
            return Ok(broken(format!(
                "prev_hash {} is not the hash of record {} ({expected_prev})",
                rec.prev_hash,
                rec.id - 1
            )));
        }
        let actual = record_hash(rec.id, rec.at, &rec.actor, &rec.action, &rec.target, &rec.detail, &rec.prev_hash);
        if actual != rec.hash {
            return Ok(broken(format!(
                "contents do not match the stored hash (stored {}, contents hash to {actual}): the record was edited",
                rec.hash
            )));
        }
        expected_prev = rec.hash;
        expected_id += 1;
    }
    Ok(Verification { records, head: (records > 0).then_some(expected_prev), broken: None })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::Store;

    fn three(store: &Store) {
        append(store.conn(), "user:alice", Action::Login, "user:alice", &json!({})).unwrap();
        append(store.conn(), "user:alice", Action::Reveal, "case:1", &json!({"owners": 2})).unwrap();
        append(store.conn(), "user:alice", Action::Export, "blocklist.csv", &json!({"rows": 5})).unwrap();
    }

    #[test]
    fn records_chain_to_each_other_from_genesis() {
        let store = Store::open_in_memory().unwrap();
        three(&store);
        let all = list(store.conn(), &ListFilter { limit: 10, ..Default::default() }).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].prev_hash, GENESIS);
        assert_eq!(all[1].prev_hash, all[2].hash);
        assert_eq!(all[0].prev_hash, all[1].hash);
        let v = verify(store.conn()).unwrap();
        assert_eq!(v.records, 3);
        assert_eq!(v.broken, None);
        assert_eq!(v.head.as_deref(), Some(all[0].hash.as_str()));
    }

    #[test]
    fn updates_and_deletes_are_refused_by_the_database() {
        let store = Store::open_in_memory().unwrap();
        three(&store);
        let err = store.conn().execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 2", []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert!(store.conn().execute("DELETE FROM audit_log WHERE id = 3", []).is_err());
    }

    #[test]
    fn an_edited_record_is_found() {
        let store = Store::open_in_memory().unwrap();
        three(&store);
        store.conn().execute_batch("DROP TRIGGER audit_log_no_update").unwrap();
        store.conn().execute("UPDATE audit_log SET target = 'case:99' WHERE id = 2", []).unwrap();
        let v = verify(store.conn()).unwrap();
        let b = v.broken.expect("the edit is found");
        assert_eq!(b.id, 2);
        assert!(b.reason.contains("edited"), "{}", b.reason);
    }

    #[test]
    fn a_deleted_record_is_found_and_a_rehashed_edit_breaks_the_next_link() {
        let store = Store::open_in_memory().unwrap();
        three(&store);
        store.conn().execute_batch("DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_log_no_update").unwrap();
        // An editor who also recomputes the record's own hash breaks the link after it.
        let r = &list(store.conn(), &ListFilter { limit: 10, ..Default::default() }).unwrap()[1];
        let forged = record_hash(r.id, r.at, "user:bob", &r.action, &r.target, &r.detail, &r.prev_hash);
        store.conn().execute("UPDATE audit_log SET actor = 'user:bob', hash = ?1 WHERE id = 2", [&forged]).unwrap();
        assert_eq!(verify(store.conn()).unwrap().broken.unwrap().id, 3);
        store.conn().execute("DELETE FROM audit_log WHERE id = 2", []).unwrap();
        let b = verify(store.conn()).unwrap().broken.unwrap();
        assert_eq!(b.id, 3);
        assert!(b.reason.contains("missing"), "{}", b.reason);
    }

    #[test]
    fn canonical_bytes_keep_fields_apart() {
        // "a" + "b,c" and "a,b" + "c" must not hash alike.
        assert_ne!(record_hash(1, 0, "a", "b,c", "", "{}", GENESIS), record_hash(1, 0, "a,b", "c", "", "{}", GENESIS));
        let bytes = String::from_utf8(canonical_bytes(7, 1, "x\"y", "login", "t", "{}", GENESIS)).unwrap();
        assert!(bytes.starts_with(r#"["duanka-audit/1",7,1,"x\"y","login""#), "{bytes}");
    }
}
