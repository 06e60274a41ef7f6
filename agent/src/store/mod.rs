//! The agent's store: one SQLite database (`agent.db`) in the data directory.
//!
//! Opened in WAL mode with foreign keys on. Migrations are the SQL files in
//! `agent/migrations/`, compiled in and applied in order at start-up; each
//! runs in its own transaction and is recorded in `schema_migrations`, so a
//! store is always at a known version. They are forward-only.
//!
//! All storage goes through this module (and the modules that take a
//! `&Connection` from it), so that a PostgreSQL back end (SPEC 5) can sit
//! behind the same interface later.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

/// The migrations, in the order they apply. Append only.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_initial", include_str!("../../migrations/0001_initial.sql")),
    ("0002_carrier", include_str!("../../migrations/0002_carrier.sql")),
    ("0003_ui", include_str!("../../migrations/0003_ui.sql")),
    ("0004_registry_imsi", include_str!("../../migrations/0004_registry_imsi.sql")),
    ("0005_registry_imsi_rowid", include_str!("../../migrations/0005_registry_imsi_rowid.sql")),
];

/// Pages of write-ahead log after which a commit checkpoints (see `configure`).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;
/// Bytes the write-ahead log file is truncated to after a checkpoint.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// How long a connection waits for another's lock before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Page cache per connection, KiB.
const CACHE_KIB: i64 = 64 * 1024;

/// Page size of a new main database, bytes. Measured 2026-11-23 (release, 2 shared
/// cores): 64 KiB pages import 1 M registry rows at ~200,000 rows/s against
/// ~140,000 with 4 KiB, but ingest falls from ~47,000 to ~41,000 events/s
/// (each small update copies a whole page into the log). Ingest wins here; the
/// carriers' bulk data has its own database with large pages.
const PAGE_SIZE: i64 = 4_096;

/// The carriers' records (registry, CDRs, imports), attached as `carrier`.
pub const CARRIER_DB_FILE: &str = "carrier.db";
/// The attached carrier database's schema name.
pub const CARRIER: &str = "carrier";
/// Page size of a new carrier database: bulk imports of random keys into
/// large pages (measured: 1 M registry rows ~200,000 rows/s at 64 KiB against
/// ~140,000 at 4 KiB).
const CARRIER_PAGE_SIZE: i64 = 65_536;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "agent.db";

/// A store problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be created or read.
    #[error("data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration failed to apply.
    #[error("migration {name}: {source}")]
    Migration {
        /// The migration's name.
        name: &'static str,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A value could not be written as JSON for a `*_json` column.
    #[error("encoding JSON: {0}")]
    Encode(String),
    /// Another process holds `carrier.db` to itself: a first registry load
    /// (see [`rollback_journal_for_bulk_load`]) that outlasted the busy timeout.
    #[error(
        "carrier.db is held by another process (a first registry load keeps it to itself until it commits); \
         try again when that import has finished"
    )]
    Busy,
    /// The database was written by a newer agent.
    #[error("database is at migration {found}, newer than this agent knows ({known}); upgrade the agent")]
    TooNew {
        /// The newest migration recorded in the database.
        found: String,
        /// The newest this build knows.
        known: &'static str,
    },
}

/// An open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    dir: PathBuf,
}

impl Store {
    /// Open (creating if needed) the store in `dir` and bring it up to date.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: dir.to_path_buf(), source })?;
        let conn = Connection::open(dir.join(DB_FILE))?;
        let carrier = dir.join(CARRIER_DB_FILE);
        conn.execute("ATTACH DATABASE ?1 AS carrier", [carrier.to_string_lossy()])?;
        let mut store = Store { conn, dir: dir.to_path_buf() };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// An in-memory store, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("ATTACH DATABASE ':memory:' AS carrier")?;
        let mut store = Store { conn, dir: PathBuf::new() };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        // Only takes effect on a new database; see PAGE_SIZE and CARRIER_PAGE_SIZE.
        self.conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        self.conn.pragma_update(Some(CARRIER), "page_size", CARRIER_PAGE_SIZE)?;
        self.carrier_wal()?;
        self.conn.pragma_update(Some(CARRIER), "synchronous", "NORMAL")?;
        // WAL: readers do not block the writer; `synchronous=NORMAL` in WAL mode
        // still survives a process crash (only an OS crash can lose the last
        // transactions), which is the failure the agent must survive.
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        // Checkpoint every ~40 MB of log rather than SQLite's 4 MB: pages
        // written by many batches (indexes, gateway rows) are copied back
        // once, and ingest spends far less time in checkpoints (measured:
        // about a third less per event). The log file is cut back to
        // JOURNAL_SIZE_LIMIT after each checkpoint.
        self.conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        self.conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
        // 64 MiB of page cache (SQLite's default is 2 MiB): the events index
        // outgrows 2 MiB after a few hundred thousand events.
        self.conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        // The same for the carriers' records (each attached database has its
        // own cache; SQLite's default is 2 MiB, 32 of its 64 KiB pages):
        // correlation looks up registry rows and CDRs by key.
        self.conn.pragma_update(Some(CARRIER), "cache_size", -CACHE_KIB)?;
        // Ingest alone keeps a dozen statements cached; room for the rest.
        self.conn.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    /// Puts `carrier.db` in WAL mode (a no-op when it is). A first registry
    /// load may hold it in rollback-journal mode (see
    /// [`rollback_journal_for_bulk_load`]); while that load still reads its
    /// file, SQLite refuses the switch at once instead of waiting, so it is
    /// tried again for as long as the busy timeout, as any other wait for
    /// the writer would last.
    fn carrier_wal(&self) -> Result<(), StoreError> {
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match self.conn.pragma_update(Some(CARRIER), "journal_mode", "WAL") {
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::Busy);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                done => return done.map_err(StoreError::from),
            }
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )?;
        let newest: Option<String> =
            self.conn.query_row("SELECT max(name) FROM schema_migrations", [], |r| r.get(0)).optional()?.flatten();
        let known = MIGRATIONS.last().map(|m| m.0).unwrap_or_default();
        // An existing store being upgraded (a fresh one has nothing to rewrite).
        let upgrading = newest.is_some();
        if let Some(found) = newest {
            if found.as_str() > known {
                return Err(StoreError::TooNew { found, known });
            }
        }
        for &(name, sql) in MIGRATIONS {
            let done: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = ?1)",
                [name],
                |r| r.get(0),
            )?;
            if done {
                continue;
            }
            // One that rewrites the registry takes minutes on a large store
            // (0005: 116 s for 10 M rows): an upgrade says so before it starts.
            if upgrading {
                tracing::info!(migration = name, "applying (rewriting a large table can take minutes)");
            }
            let started = std::time::Instant::now();
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql).map_err(|source| StoreError::Migration { name, source })?;
            tx.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)", params![name, now_ms()])?;
            tx.commit()?;
            tracing::info!(migration = name, elapsed_s = started.elapsed().as_secs_f64(), "applied");
        }
        Ok(())
    }

    /// The connection, for the modules that own the tables.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The connection, mutably (transactions).
    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Closes the database, folding the write-ahead log back into the main
    /// file first so that a stopped agent leaves one self-contained file.
    pub fn close(self) -> Result<(), StoreError> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.conn.close().map_err(|(_, e)| StoreError::Sqlite(e))
    }

    /// The data directory (empty for an in-memory store).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Takes `carrier.db` out of WAL mode into a rollback journal for a bulk
/// load into an empty table, if nothing else has the store open; says
/// whether it did. Call it outside a transaction, and [`wal_again`] after
/// the load whatever its outcome.
///
/// Why: in WAL mode every page the load writes goes into the log first and
/// is copied into `carrier.db` again by the checkpoint afterwards (after
/// 10 M registry rows a 2.4 GB log, 16 s to fold back, and twice the rows'
/// size on disk meanwhile). A rollback journal keeps a copy only of the
/// pages that existed before the transaction; pages added at the end of the
/// file, which is nearly all a bulk load writes, are written once, in
/// place. A crash is still rolled back whole: the journal holds the
/// original pages and size, and the next connection to open the store puts
/// them back (`synchronous=FULL` meanwhile, which the journal needs for
/// that after a power cut).
///
/// The price: while the load holds the file, other connections can neither
/// read it nor open the store (they wait out their busy timeout). So the
/// switch is only tried with the busy timeout at zero: any other open
/// connection (a running server, its checkpointer, another command) holds
/// a shared lock that makes it fail at once, and the load then keeps WAL.
pub(crate) fn rollback_journal_for_bulk_load(conn: &Connection) -> rusqlite::Result<bool> {
    let busy_ms: i64 = conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?;
    conn.busy_timeout(Duration::ZERO)?;
    let switched = conn.pragma_update_and_check(Some(CARRIER), "journal_mode", "DELETE", |r| r.get::<_, String>(0));
    conn.busy_timeout(Duration::from_millis(u64::try_from(busy_ms).unwrap_or(0)))?;
    match switched {
        Ok(mode) if mode.eq_ignore_ascii_case("delete") => {
            if let Err(e) = conn.pragma_update(Some(CARRIER), "synchronous", "FULL") {
                wal_again(conn);
                return Err(e);
            }
            Ok(true)
        }
        // An in-memory database stays in "memory" mode.
        Ok(_) => Ok(false),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => Ok(false),
        Err(e) => Err(e),
    }
}

/// Puts `carrier.db` back into WAL mode after [`rollback_journal_for_bulk_load`].
/// Should another process have opened the store meanwhile and be waiting
/// for it, this can fail; that process switches it back itself (every
/// [`Store::open`] does), so a failure is only logged.
pub(crate) fn wal_again(conn: &Connection) {
    // The setting is this connection's own: it takes no lock.
    if let Err(e) = conn.pragma_update(Some(CARRIER), "synchronous", "NORMAL") {
        tracing::warn!(error = %e, "carrier.db: synchronous stays FULL on this connection");
    }
    if let Err(e) = conn.pragma_update_and_check(Some(CARRIER), "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
        tracing::warn!(error = %e, "carrier.db stays in rollback-journal mode until the store is next opened");
    }
}

/// How often [`Checkpointer`] folds the write-ahead log back.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// Folds the write-ahead logs back into the database files (`agent.db` and
/// `carrier.db`) from a thread and connection of its own, every
/// [`CHECKPOINT_INTERVAL`], so that the
/// writer's commits rarely have to (a checkpoint inside a commit stalls that
/// request for tens of milliseconds). Passive: it never blocks the writer or
/// readers. The writer's own automatic checkpoint stays as the backstop.
#[derive(Debug)]
pub struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    /// Starts checkpointing the store in `dir` (which must be open already).
    pub fn start(dir: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(dir.join(DB_FILE))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // The carriers' records too: imports leave their log to be folded
        // back here (see `import::run`).
        conn.execute("ATTACH DATABASE ?1 AS carrier", [dir.join(CARRIER_DB_FILE).to_string_lossy()])?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_INTERVAL) {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "background checkpoint failed; the writer checkpoints instead");
                    }
                }
            })
            .map_err(|source| StoreError::Dir { path: dir.to_path_buf(), source })?;
        Ok(Checkpointer { stop, thread })
    }

    /// Stops the thread and waits for it.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Now as Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds (`2026-11-23T06:00:00.000Z`).
pub fn ms_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// RFC 3339 text as Unix milliseconds.
pub fn rfc3339_to_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store written by an agent before `0004_registry_imsi` keeps its
    /// registry rows through it and `0005_registry_imsi_rowid`: the IMSI
    /// becomes the rowid, stays unique, and keeps a leading zero.
    #[test]
    fn the_registry_keeps_its_rows_through_the_imsi_key_migrations() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute("ATTACH DATABASE ?1 AS carrier", [dir.path().join(CARRIER_DB_FILE).to_string_lossy()])
                .unwrap();
            conn.execute_batch("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
                .unwrap();
            for (name, sql) in MIGRATIONS.iter().take_while(|(n, _)| *n < "0004") {
                conn.execute_batch(sql).unwrap();
                conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [name]).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO carrier.imports (id, kind, file, sha256, rows, started_at, actor) \
                 VALUES (1, 'registry', 'old.csv', '', 2, 0, 'cli');
                 INSERT INTO carrier.registry VALUES
                 ('460001234567891', '13800000001', '89860000000000000011', 'China Mobile', 'A', 'resident',
                  'Name A', 'O-1', 'Outlet 1', 'agent', 1000, 1),
                 ('460001234567890', '13800000000', '89860000000000000003', 'China Mobile', 'B', 'passport',
                  'Name B', 'O-2', 'Outlet 2', 'shop', 2000, 1),
                 ('001010000000001', '13800000002', '89860000000000000029', 'Test', 'C', 'resident',
                  'Name C', 'O-3', 'Outlet 3', 'shop', 3000, 1);",
            )
            .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let rows: Vec<(String, String, i64)> = store
            .conn()
            .prepare("SELECT printf('%015d', imsi), owner_id_kind, activated_at FROM registry ORDER BY imsi")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("001010000000001".into(), "resident".into(), 3000),
                ("460001234567890".into(), "passport".into(), 2000),
                ("460001234567891".into(), "resident".into(), 1000)
            ]
        );
        // The IMSI is the rowid: the table is in IMSI order, without an index of its own.
        let rowid: i64 = store
            .conn()
            .query_row("SELECT rowid FROM registry WHERE imsi = '460001234567890'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rowid, 460_001_234_567_890);
        let indexes: Vec<String> = store
            .conn()
            .prepare(
                "SELECT name FROM carrier.sqlite_schema WHERE type = 'index' AND tbl_name = 'registry' ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["registry_iccid", "registry_outlet", "registry_owner"]);
        let again = store.conn().execute(
            "INSERT INTO registry SELECT imsi, msisdn, iccid, carrier, owner_id, owner_id_kind, owner_name, \
             outlet_id, outlet_name, channel, activated_at, import_id FROM registry LIMIT 1",
            [],
        );
        assert!(again.unwrap_err().to_string().contains("UNIQUE constraint failed: registry.imsi"));
    }

    /// The server's checkpointer folds the carriers' log back too: imports
    /// leave it to (see `import::run`).
    #[test]
    fn the_checkpointer_folds_the_carrier_log_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.conn().pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        store
            .conn()
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
                 INSERT INTO carrier.imports (kind, file, sha256, rows, started_at, actor)
                 SELECT 'cdr', 'file-' || i || printf('%.200c', 'x'), '', 0, 0, 'test' FROM n",
            )
            .unwrap();
        let carrier = dir.path().join(CARRIER_DB_FILE);
        let size = || std::fs::metadata(&carrier).unwrap().len();
        let before = size();
        assert!(std::fs::metadata(dir.path().join("carrier.db-wal")).unwrap().len() > before);
        let checkpointer = Checkpointer::start(dir.path()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() <= before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        checkpointer.stop();
        assert!(size() > before, "carrier.db still {before} bytes: its log was not folded back");
    }

    /// A first load holds `carrier.db` in rollback-journal mode: a store
    /// opened meanwhile waits for it (SQLite itself would refuse at once
    /// while the load only reads its file) and finds it back in WAL mode;
    /// with any other connection open the load keeps WAL.
    #[test]
    fn a_store_opened_during_a_first_load_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let loader = Store::open(dir.path()).unwrap();
        assert!(rollback_journal_for_bulk_load(loader.conn()).unwrap());
        let sync: i64 = loader.conn().query_row("PRAGMA carrier.synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "FULL while in rollback-journal mode");
        // What a load holds while it reads its file: a write lock on carrier.db.
        loader.conn().execute_batch("BEGIN; INSERT INTO carrier.imports (kind, file, sha256, rows, started_at, actor) VALUES ('registry', 'f', '', 0, 0, 'test')").unwrap();
        let opener = {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let store = Store::open(&dir).map_err(|e| e.to_string());
                (store, std::time::Instant::now())
            })
        };
        std::thread::sleep(Duration::from_millis(600));
        let committed = std::time::Instant::now();
        loader.conn().execute_batch("COMMIT").unwrap();
        wal_again(loader.conn());
        let (opened, done) = opener.join().unwrap();
        let opened = opened.expect("a store opened during the load");
        assert!(done > committed, "it opened before the load committed");
        let mode: String = opened.conn().query_row("PRAGMA carrier.journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let imports: i64 = opened.conn().query_row("SELECT count(*) FROM imports", [], |r| r.get(0)).unwrap();
        assert_eq!(imports, 1);
        let sync: i64 = loader.conn().query_row("PRAGMA carrier.synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 1, "NORMAL again");
        // Two stores open: no switch, and both stay usable.
        assert!(!rollback_journal_for_bulk_load(loader.conn()).unwrap());
        let mode: String = loader.conn().query_row("PRAGMA carrier.journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        // In memory there is nothing to switch.
        let memory = Store::open_in_memory().unwrap();
        assert!(!rollback_journal_for_bulk_load(memory.conn()).unwrap());
    }

    #[test]
    fn migrations_apply_once_and_reopen_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let n: i64 = store.conn().query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n as usize, MIGRATIONS.len());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let n: i64 = store.conn().query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n as usize, MIGRATIONS.len());
        let mode: String = store.conn().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        // The carriers' records: their own file, large pages, WAL.
        assert!(dir.path().join(CARRIER_DB_FILE).exists());
        let q = |sql: &str| -> String {
            store
                .conn()
                .query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(q("PRAGMA carrier.page_size"), "Integer(65536)");
        assert_eq!(q("PRAGMA carrier.journal_mode"), "Text(\"wal\")");
        assert_eq!(q("PRAGMA main.page_size"), "Integer(4096)");
        assert_eq!(q("SELECT count(*) FROM carrier.sqlite_schema WHERE name = 'registry'"), "Integer(1)");
        assert_eq!(q("SELECT count(*) FROM main.sqlite_schema WHERE name = 'registry'"), "Integer(0)");
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.conn().execute("INSERT INTO schema_migrations VALUES ('9999_future', 0)", []).unwrap();
        drop(store);
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("9999_future"), "{err}");
    }

    #[test]
    fn times_round_trip() {
        let ms = 1_793_583_000_123;
        assert_eq!(rfc3339_to_ms(&ms_to_rfc3339(ms)), Some(ms));
        assert_eq!(rfc3339_to_ms("2026-11-23T14:00:00+08:00"), Some(rfc3339_to_ms("2026-11-23T06:00:00Z").unwrap()));
    }
}
