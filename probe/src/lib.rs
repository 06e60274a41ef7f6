//! duanka-probe: finds GoIP / SIM-box gateways in SIP traffic.
//!
//! Data flows through the modules in this order: [`capture`] (sources) →
//! [`dissect`] (pure parsers, one file per protocol) → [`track`] (stateful
//! sessions) → [`detect`] (signatures, scoring) → the report, assembled by
//! [`analyze`], printed by [`cli`] and sent to the agent by [`uplink`].
//! [`board`] drives the edge hardware (status LED, tamper switch, modem).

pub mod analyze;
pub mod anomaly;
pub mod board;
pub mod capture;
pub mod cli;
pub mod detect;
pub mod dissect;
pub mod run;
pub mod track;
pub mod uplink;
