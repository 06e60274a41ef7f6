//! Pure, zero-copy protocol parsers: one file per protocol, no session state.

pub mod sdp;
pub mod sip;
