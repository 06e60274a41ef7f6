//! What the integration tests share: the real binary, an HTTPS client that
//! pins the agent's fingerprint, and generated batches.

pub mod agent;
pub mod client;
pub mod gen;
pub mod ui;

/// Counts rows of `table` in the store under `data`.
pub fn count(data: &std::path::Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(data.join(duanka_agent::store::DB_FILE)).expect("open agent.db");
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).expect("count")
}
