//! [`NbSerial`]: a word-at-a-time `embedded-hal-nb` serial port seen as
//! `embedded_io::{Read, Write}`.
//!
//! The modem driver speaks `embedded-io` 0.6, the byte-stream traits that
//! embedded-hal 1.0 pairs with. linux-embedded-hal 0.5's `Serial` and
//! embedded-hal-mock 0.11's serial mock implement the non-blocking
//! `embedded_hal_nb::serial::{Read<u8>, Write<u8>}` instead; this adapter
//! joins them, so the tests drive the same code path the probe runs.
//!
//! Contract, chosen for a line that may be silent for a long time:
//!
//! - [`Read::read`] returns at most one byte per call, and `Ok(0)` when the
//!   port has nothing (`WouldBlock`) — "nothing now", never end of file on a
//!   serial line. Callers poll with their own deadline (the modem driver
//!   does). One byte per call because the nb trait cannot say whether more
//!   is waiting without taking it.
//! - [`Write::write`] sends bytes until the port would block and returns how
//!   many it took (`Ok(0)` if none).
//! - [`Write::flush`] waits like `nb::block!`.

use embedded_hal_nb::nb;
use embedded_hal_nb::serial;
use embedded_io::{ErrorKind, ErrorType, Read, Write};

/// An error of the wrapped serial port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("serial port: {0:?}")]
pub struct NbSerialError<E>(pub E);

impl<E: serial::Error> embedded_io::Error for NbSerialError<E> {
    fn kind(&self) -> ErrorKind {
        // embedded-hal-nb's kinds (overrun, parity, framing, noise) have no
        // embedded-io counterpart.
        ErrorKind::Other
    }
}

/// `embedded_io` view of an `embedded_hal_nb` serial port.
#[derive(Debug)]
pub struct NbSerial<S> {
    port: S,
}

impl<S> NbSerial<S> {
    /// Wraps a port.
    pub fn new(port: S) -> Self {
        NbSerial { port }
    }

    /// Hands the port back.
    pub fn release(self) -> S {
        self.port
    }
}

impl<S: serial::ErrorType> ErrorType for NbSerial<S> {
    type Error = NbSerialError<S::Error>;
}

impl<S: serial::Read<u8>> Read for NbSerial<S> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let Some(slot) = buf.first_mut() else { return Ok(0) };
        match self.port.read() {
            Ok(byte) => {
                *slot = byte;
                Ok(1)
            }
            Err(nb::Error::WouldBlock) => Ok(0),
            Err(nb::Error::Other(e)) => Err(NbSerialError(e)),
        }
    }
}

impl<S: serial::Write<u8>> Write for NbSerial<S> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for (sent, &byte) in buf.iter().enumerate() {
            match self.port.write(byte) {
                Ok(()) => {}
                Err(nb::Error::WouldBlock) => return Ok(sent),
                Err(nb::Error::Other(e)) => return Err(NbSerialError(e)),
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        nb::block!(self.port.flush()).map_err(NbSerialError)
    }
}

#[cfg(test)]
mod tests {
    use embedded_hal_mock::eh1::serial::{Mock as SerialMock, Transaction as T};
    use embedded_hal_nb::serial::ErrorKind as NbKind;

    use super::*;

    #[test]
    fn reads_one_byte_per_call_and_zero_when_idle() {
        let mut mock = SerialMock::new(&[
            T::read_many(b"OK"),
            T::read_error(nb::Error::WouldBlock),
            T::read_error(nb::Error::Other(NbKind::Parity)),
        ]);
        let mut port = NbSerial::new(mock.clone());
        let mut buf = [0u8; 8];
        assert_eq!(port.read(&mut buf), Ok(1));
        assert_eq!(buf[0], b'O');
        assert_eq!(port.read(&mut buf), Ok(1));
        assert_eq!(buf[0], b'K');
        assert_eq!(port.read(&mut buf), Ok(0));
        assert_eq!(port.read(&mut buf), Err(NbSerialError(NbKind::Parity)));
        assert_eq!(port.read(&mut []), Ok(0), "an empty buffer reads nothing and touches no port");
        port.release();
        mock.done();
    }

    #[test]
    fn writes_until_the_port_blocks() {
        let mut mock = SerialMock::new(&[
            T::write_many(b"AT"),
            T::write_error(b'\r', nb::Error::WouldBlock),
            T::write(b'\r'),
            T::write_error(b'x', nb::Error::Other(NbKind::Overrun)),
            T::flush(),
        ]);
        let mut port = NbSerial::new(mock.clone());
        assert_eq!(port.write(b"AT\r"), Ok(2));
        assert_eq!(port.write(b"\r"), Ok(1));
        assert_eq!(port.write(b"x"), Err(NbSerialError(NbKind::Overrun)));
        assert_eq!(port.flush(), Ok(()));
        port.release();
        mock.done();
    }
}
