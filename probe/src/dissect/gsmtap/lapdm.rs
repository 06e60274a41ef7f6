//! LAPDm frames (3GPP TS 44.006), the data link layer of the GSM dedicated
//! control channels (SDCCH, SACCH, FACCH).
//!
//! Format B: address, control and length indicator octets, then up to N201
//! information octets and `0x2b` fill. Format B4 (SACCH downlink only) has no
//! length indicator: the information runs to the end of the
//! block. A length octet always has its EL bit set, while an L3 message's first
//! octet (protocol discriminator) never does on SACCH, so [`Frame::new_checked`]
//! tells the two apart when asked to allow B4.
//!
//! Contract: after `new_checked` (which bounds the information field by the
//! buffer) no accessor panics.

use super::{Error, ErrorKind};

mod field {
    pub const ADDRESS: usize = 0;
    pub const CONTROL: usize = 1;
    pub const LENGTH: usize = 2;
    pub const INFO_B: usize = 3;
    pub const INFO_B4: usize = 2;
}

/// Octets before the information field in format B.
pub const HEADER_LEN: usize = 3;

/// The kind of a LAPDm frame (the control field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Control {
    /// Information transfer (numbered).
    I {
        /// Send sequence number N(S).
        ns: u8,
        /// Receive sequence number N(R).
        nr: u8,
        /// Poll bit.
        poll: bool,
    },
    /// Supervisory: receive ready (0), receive not ready (1), reject (2).
    S {
        /// The S bits.
        kind: u8,
        /// Receive sequence number N(R).
        nr: u8,
        /// Poll/final bit.
        poll_final: bool,
    },
    /// Unnumbered information (connectionless).
    Ui {
        /// Poll bit.
        poll: bool,
    },
    /// Set asynchronous balanced mode: opens a link, may carry the initial L3 message.
    Sabm {
        /// Poll bit.
        poll: bool,
    },
    /// Unnumbered acknowledgement: echoes the SABM's L3 message (contention resolution).
    Ua {
        /// Final bit.
        final_: bool,
    },
    /// Disconnect.
    Disc {
        /// Poll bit.
        poll: bool,
    },
    /// Disconnected mode.
    Dm {
        /// Final bit.
        final_: bool,
    },
    /// Any other unnumbered frame, by its control octet.
    OtherU(u8),
}

impl Control {
    /// Decode a control octet.
    pub fn from_octet(c: u8) -> Control {
        let pf = c & 0x10 != 0;
        if c & 0x01 == 0 {
            return Control::I { ns: (c >> 1) & 0x07, nr: c >> 5, poll: pf };
        }
        if c & 0x03 == 0x01 {
            return Control::S { kind: (c >> 2) & 0x03, nr: c >> 5, poll_final: pf };
        }
        match c & !0x10 {
            0x03 => Control::Ui { poll: pf },
            0x2f => Control::Sabm { poll: pf },
            0x63 => Control::Ua { final_: pf },
            0x43 => Control::Disc { poll: pf },
            0x0f => Control::Dm { final_: pf },
            _ => Control::OtherU(c),
        }
    }
}

/// A read-only view of a LAPDm frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
    b4: bool,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wrap a buffer, checking the header and that the length it declares fits.
    ///
    /// With `allow_b4` (SACCH), a third octet without the EL bit is taken as
    /// the start of a format-B4 information field.
    pub fn new_checked(buffer: T, allow_b4: bool) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < 2 {
            return Err(Error::new(ErrorKind::Truncated, b.len()));
        }
        // GSM never uses the extended address: EA is always 1.
        if b[field::ADDRESS] & 0x01 == 0 {
            return Err(Error::new(ErrorKind::Malformed, field::ADDRESS));
        }
        let Some(&length) = b.get(field::LENGTH) else {
            return Err(Error::new(ErrorKind::Truncated, b.len()));
        };
        if length & 0x01 == 0 {
            if allow_b4 {
                return Ok(Frame { buffer, b4: true });
            }
            // EL = 0 would announce a second length octet, which LAPDm never uses.
            return Err(Error::new(ErrorKind::Malformed, field::LENGTH));
        }
        if field::INFO_B + usize::from(length >> 2) > b.len() {
            return Err(Error::new(ErrorKind::Truncated, b.len()));
        }
        Ok(Frame { buffer, b4: false })
    }

    /// Service access point: 0 for signalling, 3 for SMS.
    pub fn sapi(&self) -> u8 {
        (self.buffer.as_ref()[field::ADDRESS] >> 2) & 0x07
    }

    /// The command/response bit.
    pub fn command_response(&self) -> bool {
        self.buffer.as_ref()[field::ADDRESS] & 0x02 != 0
    }

    /// Link protocol discriminator (0 for GSM, 1 for SMS cell broadcast).
    pub fn lpd(&self) -> u8 {
        (self.buffer.as_ref()[field::ADDRESS] >> 5) & 0x03
    }

    /// The frame kind.
    pub fn control(&self) -> Control {
        Control::from_octet(self.buffer.as_ref()[field::CONTROL])
    }

    /// True for a format-B4 frame (no length indicator).
    pub fn is_b4(&self) -> bool {
        self.b4
    }

    /// The M bit: more segments of this L3 message follow.
    pub fn more(&self) -> bool {
        !self.b4 && self.buffer.as_ref()[field::LENGTH] & 0x02 != 0
    }

    /// Where the information field starts.
    pub fn info_offset(&self) -> usize {
        if self.b4 {
            field::INFO_B4
        } else {
            field::INFO_B
        }
    }

    /// Length of the information field.
    pub fn info_len(&self) -> usize {
        let b = self.buffer.as_ref();
        if self.b4 {
            b.len() - field::INFO_B4
        } else {
            usize::from(b[field::LENGTH] >> 2)
        }
    }
}

impl<'a> Frame<&'a [u8]> {
    /// The information field, bounded by the length indicator.
    pub fn info(&self) -> &'a [u8] {
        let start = self.info_offset();
        &self.buffer[start..start + self.info_len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_octets() {
        assert_eq!(Control::from_octet(0x03), Control::Ui { poll: false });
        assert_eq!(Control::from_octet(0x13), Control::Ui { poll: true });
        assert_eq!(Control::from_octet(0x3f), Control::Sabm { poll: true });
        assert_eq!(Control::from_octet(0x73), Control::Ua { final_: true });
        assert_eq!(Control::from_octet(0x53), Control::Disc { poll: true });
        assert_eq!(Control::from_octet(0x1f), Control::Dm { final_: true });
        assert_eq!(Control::from_octet(0x22), Control::I { ns: 1, nr: 1, poll: false });
        assert_eq!(Control::from_octet(0x41), Control::S { kind: 0, nr: 2, poll_final: false });
        assert_eq!(Control::from_octet(0x87), Control::OtherU(0x87));
    }

    #[test]
    fn format_b_and_b4() {
        // SAPI 0 command, I frame, L = 2, then fill.
        let frame = [0x01, 0x20, 0x09, 0x05, 0x18, 0x2b, 0x2b];
        let f = Frame::new_checked(&frame[..], false).unwrap();
        assert_eq!((f.sapi(), f.lpd(), f.is_b4(), f.more()), (0, 0, false, false));
        assert_eq!(f.info(), &[0x05, 0x18]);
        // The same bytes with an RR message where the length should be: B4 on SACCH only.
        let b4 = [0x03, 0x03, 0x06, 0x1d, 0x00];
        assert_eq!(Frame::new_checked(&b4[..], false).unwrap_err().kind, ErrorKind::Malformed);
        let f = Frame::new_checked(&b4[..], true).unwrap();
        assert!(f.is_b4());
        assert_eq!(f.info(), &[0x06, 0x1d, 0x00]);
    }

    #[test]
    fn growing_prefix_and_bad_fields() {
        let frame = [0x0d, 0x03, 0x0f, 0x09, 0x01, 0x02];
        for n in 0..frame.len() {
            assert_eq!(Frame::new_checked(&frame[..n], true).unwrap_err().kind, ErrorKind::Truncated, "prefix {n}");
        }
        let f = Frame::new_checked(&frame[..], false).unwrap();
        assert_eq!((f.sapi(), f.more()), (3, true));
        assert_eq!(Frame::new_checked(&[0x00, 0x03, 0x01][..], true).unwrap_err().kind, ErrorKind::Malformed);
    }
}
