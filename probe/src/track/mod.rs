//! Stateful tracking: IP fragments, TCP streams, SIP sessions and the
//! addresses behind them. Time is capture time; every table is bounded in
//! size and forgets idle entries.

pub mod behaviour;
pub mod cell;
pub mod host;
pub mod ipfrag;
pub mod links;
pub mod rtp;
pub mod sip;
pub mod tcp;
