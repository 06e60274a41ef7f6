//! Pure, zero-copy protocol parsers: one file per protocol, no session state.
//!
//! Binary protocols follow smoltcp's `wire` layout (checked views, named
//! field offsets, small owned `Repr`s that round-trip); text protocols parse
//! borrowed slices and keep byte offsets for evidence.

pub mod ethernet;
pub mod goip;
pub mod gsm_l3;
pub mod gsmtap;
pub mod ipv4;
pub mod ipv6;
pub mod layers;
pub mod lte_nas;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod sip;
pub mod sll;
pub mod tcp;
pub mod udp;
pub mod wire;
