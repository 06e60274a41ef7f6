//! duanka-hil: hardware-in-the-loop test support and the seeded SIP/RTP traffic
//! simulator.
//!
//! - [`pcap`]: a writer of synthetic Ethernet/IPv4/IPv6/UDP/TCP frames into a classic
//!   pcap, for hand-built fixtures ([`pcap::PcapOut`]).
//! - [`sim`]: the scenario generator (GoIP SIM boxes among legitimate SIP traffic,
//!   SPEC §3.1–3.3) behind `duanka-sim generate` and the benchmarks;
//!   [`write_scenario`] writes a capture and returns its ground [`Truth`], the labels
//!   file detection is scored against. [`SimConfig::default`] is the basic scenario (the
//!   benchmarks' capture), [`SimConfig::mixed`] the one for measuring detection: gateways
//!   of several vendors with their GoIP control plane and SIM banks among hundreds of
//!   benign endpoints and hard negatives, with the cell side (a GSMTAP feed of the
//!   gateways' SIMs and ordinary phones, SIP-call-to-SIM links in the truth).
//!   `hil-tests/README.md` gives the labels schema.
//! - [`modem`]: a Quectel EC25 or SIMCom SIM800 answering AT commands on a
//!   pseudo-terminal, moved from cell to cell by the test (the virtual board's modem).
//! - [`netns`]: network namespaces and veth pairs made (and removed) by tests, so
//!   that live traffic never leaves them.
//! - [`board`]: the board under test: the virtual board's GPIO (gpio-sim, or
//!   simulated line files) with the test's end of each line, the LED pattern
//!   recorder, and a real board named by `DUANKA_HIL_*` variables.
//! - [`lab`]: the HIL suite's network (upstream, core, gateway and lan namespaces)
//!   with sipp endpoints: a GoIP gateway with its control plane, the overseas
//!   softswitch feeding it, and legitimate traffic (PBX trunk, dialler, softphones).
//! - [`harness`]: the real `duanka-agent` and `duanka-probe` processes and what
//!   tests read back from them.
//!
//! ```
//! use duanka_hil::{generate, SimConfig};
//! let cfg = SimConfig { duration: std::time::Duration::from_secs(30), ..SimConfig::default() };
//! let (pcap, truth) = generate(&cfg).unwrap();
//! assert_eq!(truth.bytes, pcap.len() as u64);
//! assert!(truth.simboxes().count() >= 1);
//! ```

pub mod board;
pub mod carrier;
pub mod cli;
mod error;
pub mod harness;
pub mod lab;
pub mod modem;
pub mod netns;
pub mod pcap;
pub mod sim;

pub use error::{Error, ErrorKind};
pub use sim::{
    generate, write_scenario, Kind, Label, Preset, Role, SimConfig, Truth, TruthCell, TruthHandset, TruthHost,
    TruthLink,
};
