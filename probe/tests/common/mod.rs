//! The tests that run the real binaries share duanka-hil's harness (the
//! agent and probe processes, their events and metrics, GSMTAP datagrams).
#![allow(unused_imports)]

pub use duanka_hil::harness::*;
