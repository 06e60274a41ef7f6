//! UDP headers (RFC 768).
//!
//! The payload is bounded by the UDP length field; a length shorter than the
//! header or longer than the buffer is rejected. A zero length (allowed for
//! IPv6 jumbograms only) is treated as "to the end of the buffer".

use super::wire::{be16, put16, WireError};

/// Length of the header.
pub const HEADER_LEN: usize = 8;

/// A read-only view of a UDP datagram.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer, checking the header and the declared length fit.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = usize::from(be16(b, 4));
        if len != 0 && len < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if len > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(Packet { buffer })
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// Length from the header.
    pub fn len(&self) -> usize {
        match usize::from(be16(self.buffer.as_ref(), 4)) {
            0 => self.buffer.as_ref().len(),
            n => n,
        }
    }

    /// True when the datagram has no payload.
    pub fn is_empty(&self) -> bool {
        self.len() == HEADER_LEN
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload, bounded by the length field.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[HEADER_LEN..self.len()]
    }
}

/// Write a header (checksum 0: "not computed", RFC 768) into the start of `buf`.
pub fn emit(buf: &mut [u8], src_port: u16, dst_port: u16, payload_len: usize) {
    put16(buf, 0, src_port);
    put16(buf, 2, dst_port);
    put16(buf, 4, (HEADER_LEN + payload_len).min(usize::from(u16::MAX)) as u16);
    put16(buf, 6, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_prefixes() {
        let mut buf = vec![0u8; HEADER_LEN + 3];
        emit(&mut buf, 5060, 5070, 3);
        buf[8..].copy_from_slice(b"SIP");
        buf.extend_from_slice(b"pad");
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.payload()), (5060, 5070, &b"SIP"[..]));
        for n in 0..HEADER_LEN + 3 {
            assert_eq!(Packet::new_checked(&buf[..n]).unwrap_err(), WireError::Truncated);
        }
        put16(&mut buf, 4, 3);
        assert_eq!(Packet::new_checked(&buf[..]).unwrap_err(), WireError::Malformed);
    }
}
