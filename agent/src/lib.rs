//! duanka-agent: the central agent. Probes report to it, carriers load their
//! subscriber registry and CDRs into it, and analysts review cases in it
//! (SPEC 4.2).
//!
//! Data flow: `server/` (HTTPS API) authenticates callers with `auth` and
//! hands probe batches to `ingest/` (decode, check, store in one
//! transaction); `ingest/` and `import/` (registry and CDR files) write into
//! `store/`; `correlate/` turns gateways, SIMs and owners
//! into clusters; `cases/` keeps one case per cluster with its review state.
//! People review cases in the UI (`server/ui/`) with accounts from `users`;
//! `export/` builds block lists, disciplinary lists and signed evidence
//! bundles; `audit` keeps the hash-chained log of who did what.

pub mod audit;
pub mod auth;
pub mod cases;
pub mod cli;
pub mod correlate;
pub mod export;
pub mod import;
pub mod ingest;
pub mod server;
pub mod store;
pub mod users;
