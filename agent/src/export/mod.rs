//! What leaves the agent for others: the block list carriers cut cards off
//! by, the disciplinary list of people behind the cards, and a signed
//! evidence bundle per case (SPEC 2: "export suspects, block lists and
//! disciplinary lists, keep an audit trail fit for court").
//!
//! Only confirmed cases are exported. Every export names people, so callers
//! restrict it to roles that may see identities and write an audit record
//! (`export` with who and what); this module only builds the bytes.

pub mod bundle;
pub mod keys;
pub mod lists;

/// An export problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The store failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A case problem.
    #[error(transparent)]
    Case(#[from] crate::cases::CaseError),
    /// Writing CSV failed.
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Writing or reading the zip failed.
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The signing key is unusable.
    #[error("signing key {path}: {reason}")]
    Key {
        /// The key file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// JSON failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A spreadsheet cell that cannot run as a formula: text starting with
/// `=`, `+`, `-`, `@`, tab or CR gets a leading apostrophe (OWASP "CSV
/// injection"). Digits-only identifiers never change.
pub fn safe_cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}
