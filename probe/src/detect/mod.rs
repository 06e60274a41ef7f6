//! Detection: the signature database and the transparent score.
//!
//! A gateway's score is a sum of log-odds weights, one per piece of evidence
//! (within a group only the strongest counts); the verdict compares it with
//! the database's thresholds. Every counted and uncounted item is reported
//! with its weight, observed value, rule and frames, so an analyst sees why.

pub mod cell_features;
pub mod features;
pub mod score;
pub mod signatures;

pub use score::gateway_report;
pub use signatures::SignatureDb;
