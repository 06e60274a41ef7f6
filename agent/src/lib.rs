//! duanka-agent: the central agent. Probes report to it, carriers load their
//! subscriber registry and CDRs into it, and analysts review cases in it.
//!
//! This crate is a skeleton: the command line exists so the workspace,
//! packaging and CI are in place; `serve`, enrolment, ingest, imports and
//! correlation arrive with their own issues (SPEC section 4.2).

pub mod cli;
