//! The one error type of `duanka-hil`.
//!
//! Dependencies' errors (pcap-file, std I/O) are wrapped, never exposed: callers match
//! on [`ErrorKind`] and read the message.

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Writing the capture (or the truth file) failed.
    Io,
    /// A [`crate::SimConfig`] value is out of range.
    Config,
    /// A frame could not be built: mixed address families, a payload too large for
    /// its protocol, an MTU too small to fragment into.
    Frame,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Io => "I/O error",
            ErrorKind::Config => "invalid configuration",
            ErrorKind::Frame => "cannot build frame",
        })
    }
}

/// An error of the simulator or the frame writer.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct Error {
    kind: ErrorKind,
    detail: String,
    #[source]
    source: Option<std::io::Error>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Error { kind, detail: detail.into(), source: None }
    }

    pub(crate) fn io(detail: impl Into<String>, source: std::io::Error) -> Self {
        Error { kind: ErrorKind::Io, detail: detail.into(), source: Some(source) }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Wraps a pcap-file error without exposing its type.
    pub(crate) fn pcap(e: pcap_file::PcapError) -> Self {
        match e {
            pcap_file::PcapError::IoError(io) => Error::io("writing pcap", io),
            other => Error::new(ErrorKind::Io, format!("writing pcap: {other}")),
        }
    }
}
