//! Integration tests of the simulator: its output parsed back by an independent
//! decoder (`support`), checked against the returned truth and against SPEC §3.1/§3.3.

mod behaviour;
mod cli;
mod control;
mod determinism;
mod fingerprints;
mod frames;
mod gsm;
mod mixed;
mod support;
mod truth;
