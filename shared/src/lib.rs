//! duanka-shared: the types the probe and the agent exchange.
//!
//! No I/O lives here: only serde-serialisable data types and the rules that
//! validate them. Field names of the analysis report are a public contract
//! (other tools read `duanka-probe analyze --json`): add fields freely, never
//! rename or remove one.

pub mod events;
pub mod ids;
pub mod report;

pub use report::{AnalysisReport, Evidence, EvidenceKind, GatewayReport, Verdict};
