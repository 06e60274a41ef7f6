//! duanka-agent: the central agent. Probes report to it, carriers load their
//! subscriber registry and CDRs into it, and analysts review cases in it
//! (SPEC 4.2).
//!
//! Data flow: `server/` (HTTPS API, ingest) and `import/` (registry and CDR
//! files) write into `store/`; `correlate/` turns gateways, SIMs and owners
//! into clusters; `cases/` keeps one case per cluster with its review state.

pub mod cli;
pub mod import;
pub mod store;
