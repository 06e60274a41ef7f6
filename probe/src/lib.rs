//! duanka-probe: finds GoIP / SIM-box gateways in SIP traffic.
//!
//! Data flows through the modules in this order: `capture` (sources) →
//! `dissect` (pure parsers, one file per protocol) → `track` (stateful
//! sessions) → `detect` (signatures, scoring) → the report.

pub mod dissect;
