//! The uplink end to end: the HTTPS client against an in-process stand-in
//! for the agent ([`agent`]), and `duanka-probe analyze --agent` run as a
//! real process against it.

mod agent;
mod cli;
mod transport;
