//! The store-and-forward spool (SPEC 4.1 "Uplink"): every event is committed
//! to SQLite before it is sent, and removed only when the agent acknowledged
//! it.
//!
//! # Contract
//! - [`Spool::push`] commits events in one transaction, in order; they come
//!   back from [`Spool::next_batch`] in the same order (by row id).
//! - An event's id is chosen by its producer and stored with it: a resend
//!   after a restart carries the same id, so the agent (which keeps each
//!   `(probe, id)` once) stores it once. Pushing an id that is already spooled
//!   is a no-op, so a producer that re-derives an event after a crash does
//!   not queue it twice.
//! - Size cap ([`Spool::open`]'s `max_events`): when a push would exceed it,
//!   *observations* (calls, links, subscribers, devices, cells, heartbeats)
//!   are dropped oldest first and counted ([`Spool::dropped`]). Detections and
//!   alarms are never dropped: if only they are left the spool grows past
//!   the cap rather than lose one.
//! - Batches the agent refused as malformed (a permanent 4xx) are parked in a
//!   `dead` table ([`Spool::park`]) for a person to look at, not retried.
//!
//! The database runs in WAL mode with `synchronous=FULL`: a push that
//! returned survives a power cut.

use std::path::Path;

use duanka_shared::events::{Event, EventBody};
use rusqlite::{params, Connection, OptionalExtension};

/// A spool failure (SQLite or a stored event that no longer parses).
#[derive(Debug, thiserror::Error)]
#[error("spool: {0}")]
pub struct SpoolError(String);

impl From<rusqlite::Error> for SpoolError {
    fn from(e: rusqlite::Error) -> Self {
        SpoolError(e.to_string())
    }
}

/// Whether an event may be dropped under the size cap.
pub fn is_droppable(body: &EventBody) -> bool {
    !matches!(body, EventBody::Detection { .. } | EventBody::Alarm { .. })
}

/// The spool: one SQLite database file.
#[derive(Debug)]
pub struct Spool {
    db: Connection,
    max_events: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    droppable INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_droppable ON events (droppable, rowid);
CREATE TABLE IF NOT EXISTS dead (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    reason TEXT NOT NULL,
    parked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

impl Spool {
    /// Opens (creating if needed) the spool at `path`, holding at most
    /// `max_events` droppable events' worth (see the module docs).
    pub fn open(path: &Path, max_events: u64) -> Result<Spool, SpoolError> {
        let db = Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.execute_batch(SCHEMA)?;
        Ok(Spool { db, max_events: max_events.max(1) })
    }

    /// Commits `events` (in order) and applies the size cap. Returns how many
    /// were new (an id already spooled is skipped).
    pub fn push(&mut self, events: &[Event]) -> Result<usize, SpoolError> {
        if events.is_empty() {
            return Ok(0);
        }
        let tx = self.db.transaction()?;
        let mut added = 0;
        {
            let mut insert =
                tx.prepare_cached("INSERT OR IGNORE INTO events (id, droppable, json) VALUES (?1, ?2, ?3)")?;
            for e in events {
                let json = serde_json::to_string(e).map_err(|e| SpoolError(e.to_string()))?;
                added += insert.execute(params![e.id, is_droppable(&e.body), json])?;
            }
        }
        let depth = tx.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))? as u64;
        if depth > self.max_events {
            let excess = depth - self.max_events;
            let dropped = tx.execute(
                "DELETE FROM events WHERE rowid IN \
                 (SELECT rowid FROM events WHERE droppable = 1 ORDER BY rowid LIMIT ?1)",
                params![excess as i64],
            )?;
            if dropped > 0 {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('dropped', ?1) \
                     ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + ?1",
                    params![dropped as i64],
                )?;
                tracing::warn!(dropped, cap = self.max_events, "spool full: oldest observations dropped");
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// The oldest events, up to `max_events` of them and about `max_bytes` of
    /// JSON (always at least one), with their row ids for [`Spool::ack`].
    pub fn next_batch(&self, max_events: usize, max_bytes: usize) -> Result<Vec<(i64, Event)>, SpoolError> {
        let mut stmt = self.db.prepare_cached("SELECT rowid, json FROM events ORDER BY rowid LIMIT ?1")?;
        let rows = stmt.query_map(params![max_events as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for row in rows {
            let (rowid, json) = row?;
            if !out.is_empty() && bytes + json.len() + 1 > max_bytes {
                break;
            }
            bytes += json.len() + 1;
            let event: Event = serde_json::from_str(&json).map_err(|e| SpoolError(format!("row {rowid}: {e}")))?;
            out.push((rowid, event));
        }
        Ok(out)
    }

    /// Removes delivered events.
    pub fn ack(&mut self, rowids: &[i64]) -> Result<(), SpoolError> {
        let tx = self.db.transaction()?;
        {
            let mut del = tx.prepare_cached("DELETE FROM events WHERE rowid = ?1")?;
            for r in rowids {
                del.execute(params![r])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Moves refused events to the `dead` table with `reason`.
    pub fn park(&mut self, rowids: &[i64], reason: &str) -> Result<(), SpoolError> {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let tx = self.db.transaction()?;
        {
            let mut copy = tx.prepare_cached(
                "INSERT OR REPLACE INTO dead (rowid, id, json, reason, parked_at) \
                 SELECT rowid, id, json, ?2, ?3 FROM events WHERE rowid = ?1",
            )?;
            let mut del = tx.prepare_cached("DELETE FROM events WHERE rowid = ?1")?;
            for r in rowids {
                copy.execute(params![r, reason, now])?;
                del.execute(params![r])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Events waiting to be sent.
    pub fn depth(&self) -> Result<u64, SpoolError> {
        Ok(self.db.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Whether the event with id `id` still waits to be sent.
    pub fn pending(&self, id: &str) -> Result<bool, SpoolError> {
        Ok(self.db.query_row("SELECT EXISTS (SELECT 1 FROM events WHERE id = ?1)", [id], |r| r.get(0))?)
    }

    /// Events parked as refused.
    pub fn dead(&self) -> Result<u64, SpoolError> {
        Ok(self.db.query_row("SELECT COUNT(*) FROM dead", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Observations dropped under the size cap, over the spool's life.
    pub fn dropped(&self) -> Result<u64, SpoolError> {
        let v: Option<String> =
            self.db.query_row("SELECT value FROM meta WHERE key = 'dropped'", [], |r| r.get(0)).optional()?;
        Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Sets a kept value.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), SpoolError> {
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }

    /// A value kept across restarts (e.g. the probe instance's id), created
    /// with `init` on first use.
    pub fn meta_or_insert(&mut self, key: &str, init: impl FnOnce() -> String) -> Result<String, SpoolError> {
        let v: Option<String> =
            self.db.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| r.get(0)).optional()?;
        if let Some(v) = v {
            return Ok(v);
        }
        let v = init();
        self.db.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", params![key, v])?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use duanka_shared::events::{Alarm, Heartbeat};

    fn alarm(id: &str) -> Event {
        Event {
            id: id.into(),
            at: "2026-11-01T00:00:00Z".into(),
            body: EventBody::Alarm { alarm: Alarm { kind: "tamper".into(), detail: String::new() } },
        }
    }

    fn heartbeat(id: &str) -> Event {
        Event {
            id: id.into(),
            at: "2026-11-01T00:00:00Z".into(),
            body: EventBody::Heartbeat { heartbeat: Heartbeat::default() },
        }
    }

    fn ids(batch: &[(i64, Event)]) -> Vec<&str> {
        batch.iter().map(|(_, e)| e.id.as_str()).collect()
    }

    #[test]
    fn events_survive_reopen_in_order_and_ack_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        {
            let mut s = Spool::open(&path, 100).unwrap();
            assert_eq!(s.push(&[heartbeat("a"), alarm("b"), heartbeat("c")]).unwrap(), 3);
        }
        let mut s = Spool::open(&path, 100).unwrap();
        assert_eq!(s.depth().unwrap(), 3);
        let batch = s.next_batch(2, usize::MAX).unwrap();
        assert_eq!(ids(&batch), vec!["a", "b"]);
        s.ack(&batch.iter().map(|(r, _)| *r).collect::<Vec<_>>()).unwrap();
        assert_eq!(ids(&s.next_batch(10, usize::MAX).unwrap()), vec!["c"]);
        drop(s);
        let s = Spool::open(&path, 100).unwrap();
        assert_eq!(s.depth().unwrap(), 1, "an ack is durable");
    }

    #[test]
    fn an_id_already_spooled_is_not_queued_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(&dir.path().join("s.db"), 100).unwrap();
        assert_eq!(s.push(&[alarm("x"), alarm("y")]).unwrap(), 2);
        assert_eq!(s.push(&[alarm("y"), alarm("z")]).unwrap(), 1);
        assert_eq!(ids(&s.next_batch(10, usize::MAX).unwrap()), vec!["x", "y", "z"]);
    }

    #[test]
    fn the_cap_drops_oldest_observations_never_detections_or_alarms() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(&dir.path().join("s.db"), 4).unwrap();
        s.push(&[heartbeat("h1"), alarm("a1"), heartbeat("h2"), heartbeat("h3")]).unwrap();
        s.push(&[heartbeat("h4"), alarm("a2")]).unwrap();
        assert_eq!(ids(&s.next_batch(10, usize::MAX).unwrap()), vec!["a1", "h3", "h4", "a2"]);
        assert_eq!(s.dropped().unwrap(), 2);
        // Only alarms left: the spool grows past the cap rather than lose one.
        s.push(&[alarm("a3"), alarm("a4"), alarm("a5")]).unwrap();
        assert_eq!(ids(&s.next_batch(10, usize::MAX).unwrap()), vec!["a1", "a2", "a3", "a4", "a5"]);
        assert_eq!(s.dropped().unwrap(), 4);
    }

    #[test]
    fn batches_respect_the_byte_budget_but_never_come_back_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(&dir.path().join("s.db"), 100).unwrap();
        s.push(&[alarm("a"), alarm("b"), alarm("c")]).unwrap();
        let one = serde_json::to_string(&alarm("a")).unwrap().len();
        assert_eq!(s.next_batch(10, one * 2 + 2).unwrap().len(), 2);
        assert_eq!(s.next_batch(10, 1).unwrap().len(), 1);
    }

    #[test]
    fn parked_events_leave_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(&dir.path().join("s.db"), 100).unwrap();
        s.push(&[alarm("a"), alarm("b")]).unwrap();
        let batch = s.next_batch(1, usize::MAX).unwrap();
        s.park(&[batch[0].0], "422 bad event").unwrap();
        assert_eq!((s.depth().unwrap(), s.dead().unwrap()), (1, 1));
        assert_eq!(ids(&s.next_batch(10, usize::MAX).unwrap()), vec!["b"]);
    }

    #[test]
    fn meta_values_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let first = Spool::open(&path, 10).unwrap().meta_or_insert("instance", || "one".into()).unwrap();
        let again = Spool::open(&path, 10).unwrap().meta_or_insert("instance", || "two".into()).unwrap();
        assert_eq!((first.as_str(), again.as_str()), ("one", "one"));
    }
}
