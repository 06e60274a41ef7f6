//! Packet sources: capture files (pcap and pcapng) for offline, forensic
//! analysis ([`file`]); live interfaces and the GSMTAP listener ([`live`])
//! for `duanka-probe run`. All feed the same [`Frame`]s into the same pipeline.

pub mod file;
pub mod live;
pub mod socket;

use crate::dissect::layers::LinkType;

/// Capture time in microseconds since the Unix epoch.
pub type Micros = u64;

/// One captured frame, borrowed from its source.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number within its file, as Wireshark numbers frames.
    pub number: u64,
    /// Capture time.
    pub ts: Micros,
    /// The link-layer header type of `data`.
    pub link: LinkType,
    /// The captured bytes (possibly fewer than went over the wire).
    pub data: &'a [u8],
    /// The length on the wire.
    pub orig_len: u32,
}
