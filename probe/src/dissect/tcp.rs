//! TCP segment headers (RFC 9293 section 3.1).
//!
//! Only what stream reassembly needs: ports, sequence number, flags and the
//! payload after the data offset. Options are skipped, not interpreted.

use super::wire::{be16, be32, put16, put32, WireError};

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// FIN flag.
pub const FIN: u8 = 0x01;
/// SYN flag.
pub const SYN: u8 = 0x02;
/// RST flag.
pub const RST: u8 = 0x04;
/// PSH flag.
pub const PSH: u8 = 0x08;
/// ACK flag.
pub const ACK: u8 = 0x10;

/// A read-only view of a TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer, checking the header (with options) fits.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let off = usize::from(b[12] >> 4) * 4;
        if off < MIN_HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if b.len() < off {
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

    /// Sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    /// Acknowledgement number.
    pub fn ack(&self) -> u32 {
        be32(self.buffer.as_ref(), 8)
    }

    /// Header length (data offset) in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[12] >> 4) * 4
    }

    /// The flag bits (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[13]
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The segment's data.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len()..]
    }
}

/// Write a 20-byte header into the start of `buf` (checksum left 0).
pub fn emit(buf: &mut [u8], src_port: u16, dst_port: u16, seq: u32, ack: u32, flags: u8) {
    buf[..MIN_HEADER_LEN].fill(0);
    put16(buf, 0, src_port);
    put16(buf, 2, dst_port);
    put32(buf, 4, seq);
    put32(buf, 8, ack);
    buf[12] = 5 << 4;
    buf[13] = flags;
    put16(buf, 14, 65535);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_prefixes() {
        let mut buf = vec![0u8; MIN_HEADER_LEN];
        emit(&mut buf, 40000, 5060, 7, 9, ACK | PSH);
        buf.extend_from_slice(b"INVITE");
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.seq(), p.ack()), (40000, 5060, 7, 9));
        assert_eq!(p.flags(), ACK | PSH);
        assert_eq!(p.payload(), b"INVITE");
        for n in 0..MIN_HEADER_LEN {
            assert!(Packet::new_checked(&buf[..n]).is_err());
        }
        buf[12] = 0x40;
        assert_eq!(Packet::new_checked(&buf[..]).unwrap_err(), WireError::Malformed);
        buf[12] = 0xf0;
        assert_eq!(Packet::new_checked(&buf[..]).unwrap_err(), WireError::Truncated);
    }
}
