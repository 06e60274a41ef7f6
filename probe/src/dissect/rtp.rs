//! RTP data packets (RFC 3550 section 5) and the RFC 4733 telephone-event
//! payload.
//!
//! Contract: [`Packet::new_checked`] accepts version 2 only and verifies that
//! the CSRC list (5.1), the header extension (5.3.1) and the padding count
//! (5.1: the last octet, which counts itself) all fit the buffer, so no
//! accessor can panic afterwards and [`Packet::payload`] is exactly the media
//! bytes. Header extensions are skipped as a whole; their RFC 8285 one-byte
//! (profile `0xBEDE`) and two-byte (`0x100x`) elements can be walked with
//! [`Packet::extension_elements`]. Payload types are plain numbers: names come
//! from SDP or from the RFC 3551 static table in
//! [`sdp::static_payload`](super::sdp::static_payload).
//!
//! [`looks_like_rtp`] is the cheap first test a tracker runs on every UDP
//! datagram; it rejects the payload types 72-76 that RFC 5761 section 4
//! reserves so RTCP packet types 200-204 cannot be mistaken for RTP.

use super::wire::{be16, be32, put16, put32, WireError};

mod field {
    /// V(2) P(1) X(1) CC(4).
    pub const FLAGS: usize = 0;
    /// M(1) PT(7).
    pub const MARKER_PT: usize = 1;
    pub const SEQ: usize = 2;
    pub const TIMESTAMP: usize = 4;
    pub const SSRC: usize = 8;
    pub const CSRC: usize = 12;
    /// Within the header extension: profile-defined 16 bits, then its length in words.
    pub const EXT_PROFILE: usize = 0;
    pub const EXT_LENGTH: usize = 2;
    pub const EXT_DATA: usize = 4;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 12;
/// The only RTP version in use (RFC 3550 5.1).
pub const VERSION: u8 = 2;
/// Most CSRCs a header can name (the CC field is 4 bits).
pub const MAX_CSRC: usize = 15;
/// The RFC 8285 4.2 one-byte header extension profile.
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// The RFC 8285 4.3 two-byte header extension profile (the low 4 bits are
/// application bits).
pub const TWO_BYTE_PROFILE: u16 = 0x1000;
/// Payload types 72-76 collide with RTCP packet types 200-204 when the marker
/// bit is set (RFC 5761 section 4).
pub const RTCP_CONFLICT_PT: std::ops::RangeInclusive<u8> = 72..=76;

/// Cheap test for "this UDP payload could be RTP": version 2, at least a fixed
/// header, and a payload type outside the RTCP-conflict range.
#[inline]
pub fn looks_like_rtp(buf: &[u8]) -> bool {
    buf.len() >= HEADER_LEN
        && buf[field::FLAGS] >> 6 == VERSION
        && !RTCP_CONFLICT_PT.contains(&(buf[field::MARKER_PT] & 0x7f))
}

/// The layout of a header extension's elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionForm {
    /// RFC 8285 4.2: 4-bit id, 4-bit length.
    OneByte,
    /// RFC 8285 4.3: 8-bit id, 8-bit length (the 4 application bits attached).
    TwoByte(u8),
    /// A profile-specific extension (RFC 3550 5.3.1) with this identifier.
    Other(u16),
}

impl ExtensionForm {
    /// Classify the 16-bit "defined by profile" field.
    pub fn from_profile(profile: u16) -> ExtensionForm {
        match profile {
            ONE_BYTE_PROFILE => ExtensionForm::OneByte,
            p if p & 0xfff0 == TWO_BYTE_PROFILE => ExtensionForm::TwoByte((p & 0x000f) as u8),
            p => ExtensionForm::Other(p),
        }
    }
}

/// A read-only view of an RTP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer, checking version, CSRC list, header extension and
    /// padding against its length.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::FLAGS] >> 6 != VERSION {
            return Err(WireError::Malformed);
        }
        let mut header_len = HEADER_LEN + 4 * usize::from(b[field::FLAGS] & 0x0f);
        if b[field::FLAGS] & 0x10 != 0 {
            if b.len() < header_len + field::EXT_DATA {
                return Err(WireError::Truncated);
            }
            header_len += field::EXT_DATA + 4 * usize::from(be16(b, header_len + field::EXT_LENGTH));
        }
        if b.len() < header_len {
            return Err(WireError::Truncated);
        }
        if b[field::FLAGS] & 0x20 != 0 {
            // The count includes itself, so 0 is impossible; a count reaching
            // into the header means the packet was cut or is not RTP.
            let pad = usize::from(b[b.len() - 1]);
            if pad == 0 || header_len + pad > b.len() {
                return Err(WireError::Malformed);
            }
        }
        Ok(Packet { buffer })
    }

    fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// Version (always 2 after `new_checked`).
    pub fn version(&self) -> u8 {
        self.flags() >> 6
    }

    /// The padding bit.
    pub fn padding(&self) -> bool {
        self.flags() & 0x20 != 0
    }

    /// The extension bit.
    pub fn extension(&self) -> bool {
        self.flags() & 0x10 != 0
    }

    /// Number of CSRCs.
    pub fn csrc_count(&self) -> usize {
        usize::from(self.flags() & 0x0f)
    }

    /// The marker bit.
    pub fn marker(&self) -> bool {
        self.buffer.as_ref()[field::MARKER_PT] & 0x80 != 0
    }

    /// Payload type (7 bits).
    pub fn payload_type(&self) -> u8 {
        self.buffer.as_ref()[field::MARKER_PT] & 0x7f
    }

    /// Sequence number.
    pub fn seq(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SEQ)
    }

    /// Media timestamp, in units of the payload's clock.
    pub fn timestamp(&self) -> u32 {
        be32(self.buffer.as_ref(), field::TIMESTAMP)
    }

    /// Synchronisation source.
    pub fn ssrc(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SSRC)
    }

    /// The `i`th contributing source, if there is one.
    pub fn csrc(&self, i: usize) -> Option<u32> {
        (i < self.csrc_count()).then(|| be32(self.buffer.as_ref(), field::CSRC + 4 * i))
    }

    fn extension_at(&self) -> usize {
        field::CSRC + 4 * self.csrc_count()
    }

    /// The extension's 16-bit "defined by profile" field, when there is one.
    pub fn extension_profile(&self) -> Option<u16> {
        self.extension().then(|| be16(self.buffer.as_ref(), self.extension_at() + field::EXT_PROFILE))
    }

    /// Length of the header: fixed part, CSRCs and extension.
    pub fn header_len(&self) -> usize {
        let at = self.extension_at();
        if self.extension() {
            at + field::EXT_DATA + 4 * usize::from(be16(self.buffer.as_ref(), at + field::EXT_LENGTH))
        } else {
            at
        }
    }

    /// Octets of padding at the end (0 without the padding bit).
    pub fn padding_len(&self) -> usize {
        let b = self.buffer.as_ref();
        if self.padding() {
            usize::from(b[b.len() - 1])
        } else {
            0
        }
    }

    /// Length of the payload alone.
    pub fn payload_len(&self) -> usize {
        self.buffer.as_ref().len() - self.header_len() - self.padding_len()
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The extension's data words (without its 4-octet head), when there is one.
    pub fn extension_data(&self) -> Option<&'a [u8]> {
        self.extension().then(|| &self.buffer[self.extension_at() + field::EXT_DATA..self.header_len()])
    }

    /// The RFC 8285 elements of a one- or two-byte header extension; empty for
    /// other extensions or none.
    pub fn extension_elements(&self) -> ExtensionElements<'a> {
        let form = self.extension_profile().map(ExtensionForm::from_profile);
        let data = match form {
            Some(ExtensionForm::OneByte | ExtensionForm::TwoByte(_)) => self.extension_data().unwrap_or(&[]),
            _ => &[],
        };
        ExtensionElements { data, two_byte: matches!(form, Some(ExtensionForm::TwoByte(_))) }
    }

    /// The media bytes: after the header, before the padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len()..self.buffer.len() - self.padding_len()]
    }
}

/// One RFC 8285 header extension element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    /// Local identifier (1-14 one-byte, 1-255 two-byte).
    pub id: u8,
    /// Element data.
    pub data: &'a [u8],
}

/// Iterator over RFC 8285 elements; stops at the end, at the reserved id 15 of
/// the one-byte form (4.2 says processing stops there) or at an element that
/// overruns the extension.
#[derive(Debug, Clone)]
pub struct ExtensionElements<'a> {
    data: &'a [u8],
    two_byte: bool,
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = ExtensionElement<'a>;

    fn next(&mut self) -> Option<ExtensionElement<'a>> {
        loop {
            let (&first, rest) = self.data.split_first()?;
            if first == 0 {
                // Padding octets between and after elements (RFC 8285 4.1).
                self.data = rest;
                continue;
            }
            let (id, len, head) = if self.two_byte {
                (first, usize::from(*rest.first()?), 2)
            } else if first >> 4 == 15 {
                self.data = &[];
                return None;
            } else {
                (first >> 4, usize::from(first & 0x0f) + 1, 1)
            };
            let Some(data) = self.data.get(head..head + len) else {
                self.data = &[];
                return None;
            };
            self.data = &self.data[head + len..];
            return Some(ExtensionElement { id, data });
        }
    }
}

/// A header extension in owned form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The "defined by profile" field.
    pub profile: u16,
    /// The data words; emitted zero-padded to a multiple of 4 octets.
    pub data: Vec<u8>,
}

/// The owned form of an RTP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// Marker bit.
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub seq: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Contributing sources (at most [`MAX_CSRC`] are emitted).
    pub csrcs: Vec<u32>,
    /// Header extension.
    pub extension: Option<Extension>,
    /// Payload length.
    pub payload_len: usize,
    /// Padding octets after the payload (0: no padding bit).
    pub padding: u8,
}

impl Repr {
    /// Read the owned form from a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        let b = p.buffer.as_ref();
        let extension = p
            .extension_profile()
            .map(|profile| Extension { profile, data: b[p.extension_at() + field::EXT_DATA..p.header_len()].to_vec() });
        Repr {
            marker: p.marker(),
            payload_type: p.payload_type(),
            seq: p.seq(),
            timestamp: p.timestamp(),
            ssrc: p.ssrc(),
            csrcs: (0..p.csrc_count()).filter_map(|i| p.csrc(i)).collect(),
            extension,
            payload_len: p.payload_len(),
            padding: p.padding_len() as u8,
        }
    }

    fn csrc_count(&self) -> usize {
        self.csrcs.len().min(MAX_CSRC)
    }

    fn extension_words(&self) -> usize {
        self.extension.as_ref().map_or(0, |e| e.data.len().div_ceil(4).min(usize::from(u16::MAX)))
    }

    /// Length of the emitted header.
    pub fn header_len(&self) -> usize {
        let ext = if self.extension.is_some() { field::EXT_DATA + 4 * self.extension_words() } else { 0 };
        HEADER_LEN + 4 * self.csrc_count() + ext
    }

    /// Length of the whole emitted packet.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len + usize::from(self.padding)
    }

    /// Write the header and the padding into `buf` (at least
    /// [`buffer_len`](Self::buffer_len) long); the payload octets are left for
    /// the caller, at `header_len()..header_len() + payload_len`.
    pub fn emit(&self, buf: &mut [u8]) {
        let cc = self.csrc_count();
        let flags = (VERSION << 6)
            | if self.padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | cc as u8;
        buf[field::FLAGS] = flags;
        buf[field::MARKER_PT] = if self.marker { 0x80 } else { 0 } | (self.payload_type & 0x7f);
        put16(buf, field::SEQ, self.seq);
        put32(buf, field::TIMESTAMP, self.timestamp);
        put32(buf, field::SSRC, self.ssrc);
        for (i, csrc) in self.csrcs.iter().take(cc).enumerate() {
            put32(buf, field::CSRC + 4 * i, *csrc);
        }
        if let Some(ext) = &self.extension {
            let at = field::CSRC + 4 * cc;
            let words = self.extension_words();
            put16(buf, at + field::EXT_PROFILE, ext.profile);
            put16(buf, at + field::EXT_LENGTH, words as u16);
            let data = &mut buf[at + field::EXT_DATA..at + field::EXT_DATA + 4 * words];
            data.fill(0);
            let n = ext.data.len().min(data.len());
            data[..n].copy_from_slice(&ext.data[..n]);
        }
        if self.padding > 0 {
            let end = self.buffer_len();
            let start = end - usize::from(self.padding);
            buf[start..end].fill(0);
            buf[end - 1] = self.padding;
        }
    }
}

mod event_field {
    pub const EVENT: usize = 0;
    /// E(1) R(1) volume(6).
    pub const FLAGS_VOLUME: usize = 1;
    pub const DURATION: usize = 2;
}

/// Length of one RFC 4733 2.3 telephone-event block.
pub const EVENT_LEN: usize = 4;

/// A read-only view of an RFC 4733 telephone-event payload (section 2.3): the
/// first event block; further blocks packed behind it (RFC 4733 2.5.1) are
/// not read.
#[derive(Debug, Clone, Copy)]
pub struct TelephoneEvent<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TelephoneEvent<T> {
    /// Wrap a payload of at least one event block.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < EVENT_LEN {
            return Err(WireError::Truncated);
        }
        Ok(TelephoneEvent { buffer })
    }

    /// The event code (RFC 4733 3.2: 0-9, `*` 10, `#` 11, A-D 12-15, flash 16).
    pub fn event(&self) -> u8 {
        self.buffer.as_ref()[event_field::EVENT]
    }

    /// The end bit: this is (a retransmission of) the event's last packet.
    pub fn end(&self) -> bool {
        self.buffer.as_ref()[event_field::FLAGS_VOLUME] & 0x80 != 0
    }

    /// Volume as a power level in -dBm0 (0-63).
    pub fn volume(&self) -> u8 {
        self.buffer.as_ref()[event_field::FLAGS_VOLUME] & 0x3f
    }

    /// Duration so far, in timestamp units.
    pub fn duration(&self) -> u16 {
        be16(self.buffer.as_ref(), event_field::DURATION)
    }
}

/// The owned form of a telephone-event block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRepr {
    /// Event code.
    pub event: u8,
    /// End bit.
    pub end: bool,
    /// Volume (6 bits).
    pub volume: u8,
    /// Duration in timestamp units.
    pub duration: u16,
}

impl EventRepr {
    /// Read the owned form from a checked block.
    pub fn parse<T: AsRef<[u8]>>(e: &TelephoneEvent<T>) -> EventRepr {
        EventRepr { event: e.event(), end: e.end(), volume: e.volume(), duration: e.duration() }
    }

    /// Write the block into the first [`EVENT_LEN`] octets of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[event_field::EVENT] = self.event;
        buf[event_field::FLAGS_VOLUME] = if self.end { 0x80 } else { 0 } | (self.volume & 0x3f);
        put16(buf, event_field::DURATION, self.duration);
    }
}

/// The DTMF key of a telephone-event code (RFC 4733 3.2), `!` for flash.
pub fn dtmf_char(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => char::from(b'0' + event),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + event - 12),
        16 => '!',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sample() -> Repr {
        Repr {
            marker: true,
            payload_type: 8,
            seq: 0xfffe,
            timestamp: 0x1234_5678,
            ssrc: 0xdee0_ee8f,
            csrcs: vec![1, 0xffff_ffff],
            extension: Some(Extension { profile: ONE_BYTE_PROFILE, data: vec![0x10, 0xaa, 0x21, 1, 2, 3, 0, 0] }),
            payload_len: 5,
            padding: 3,
        }
    }

    fn emit_with_payload(r: &Repr, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf);
        buf[r.header_len()..r.header_len() + payload.len()].copy_from_slice(payload);
        buf
    }

    #[test]
    fn round_trip_with_everything() {
        let r = sample();
        let buf = emit_with_payload(&r, b"media");
        assert_eq!(buf.len(), 12 + 8 + 4 + 8 + 5 + 3);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Repr::parse(&p), r);
        assert_eq!(p.payload(), b"media");
        assert_eq!((p.version(), p.csrc_count(), p.header_len()), (2, 2, 32));
        assert_eq!(p.csrc(1), Some(0xffff_ffff));
        assert_eq!(p.csrc(2), None);
        assert!(looks_like_rtp(&buf));
    }

    #[test]
    fn minimal_header() {
        // A G.711 A-law packet as sipp sends it: 80 08 seq ts ssrc, then 160 octets.
        let mut buf = vec![0x80, 0x08, 0x1f, 0x40, 0, 0, 0x3e, 0x80, 0xde, 0xe0, 0xee, 0x8f];
        buf.extend_from_slice(&[0xd5; 160]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((p.payload_type(), p.seq(), p.timestamp(), p.ssrc()), (8, 8000, 16000, 0xdee0_ee8f));
        assert!(!p.marker() && !p.padding() && !p.extension());
        assert_eq!(p.payload().len(), 160);
        assert_eq!(p.extension_profile(), None);
        assert_eq!(p.extension_elements().count(), 0);
    }

    #[test]
    fn growing_prefixes_never_panic_and_only_the_whole_parses() {
        let r = Repr { padding: 0, ..sample() };
        let buf = emit_with_payload(&r, b"media");
        for n in 0..buf.len() {
            match Packet::new_checked(&buf[..n]) {
                // Without padding, any cut after the header is a shorter payload.
                Ok(p) => assert!(n >= r.header_len() && p.payload().len() == n - r.header_len()),
                Err(e) => assert_eq!(e, WireError::Truncated, "prefix {n}"),
            }
        }
    }

    /// A named edit of a good packet and what `new_checked` should say after it.
    type Case = (&'static str, fn(&mut Vec<u8>), Result<(), WireError>);

    #[test]
    fn header_checks_table() {
        let ok = emit_with_payload(&Repr { extension: None, padding: 0, csrcs: vec![], ..sample() }, b"media");
        let cases: &[Case] = &[
            ("as emitted", |_| {}, Ok(())),
            ("version 1", |b| b[0] = (b[0] & 0x3f) | 0x40, Err(WireError::Malformed)),
            ("version 3", |b| b[0] |= 0xc0, Err(WireError::Malformed)),
            ("CSRC list past the end", |b| b[0] |= 0x0f, Err(WireError::Truncated)),
            (
                "extension head past the end",
                |b| {
                    b[0] |= 0x10;
                    b.truncate(14);
                },
                Err(WireError::Truncated),
            ),
            (
                "extension length past the end",
                |b| {
                    b[0] |= 0x10;
                    b[12..16].copy_from_slice(&[0xbe, 0xde, 0, 9]);
                },
                Err(WireError::Truncated),
            ),
            ("padding count 0", |b| b[0] |= 0x20, Err(WireError::Malformed)),
            (
                "padding into the header",
                |b| {
                    b[0] |= 0x20;
                    *b.last_mut().unwrap() = 6;
                },
                Err(WireError::Malformed),
            ),
            (
                "padding eats the whole payload",
                |b| {
                    b[0] |= 0x20;
                    *b.last_mut().unwrap() = 5;
                },
                Ok(()),
            ),
        ];
        for (name, edit, want) in cases {
            let mut b = ok.clone();
            edit(&mut b);
            assert_eq!(Packet::new_checked(&b[..]).map(|_| ()), *want, "{name}");
        }
    }

    #[test]
    fn rfc8285_elements() {
        // One-byte form: id 1 len 1, padding, id 2 len 3, then id 15 stops.
        let one = [0x10, 0xaa, 0x00, 0x22, 1, 2, 3, 0xf0, 0x11, 0, 0, 0];
        let r = Repr {
            extension: Some(Extension { profile: ONE_BYTE_PROFILE, data: one.to_vec() }),
            csrcs: vec![],
            padding: 0,
            ..sample()
        };
        let buf = emit_with_payload(&r, b"media");
        let p = Packet::new_checked(&buf[..]).unwrap();
        let got: Vec<_> = p.extension_elements().map(|e| (e.id, e.data.to_vec())).collect();
        assert_eq!(got, vec![(1, vec![0xaa]), (2, vec![1, 2, 3])]);
        assert_eq!(p.payload(), b"media");

        // Two-byte form: id 5 len 0, id 6 len 2, then an overrunning element.
        let two = [5, 0, 6, 2, 9, 9, 7, 200];
        let r = Repr { extension: Some(Extension { profile: 0x1003, data: two.to_vec() }), ..r };
        let buf = emit_with_payload(&r, b"media");
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(ExtensionForm::from_profile(p.extension_profile().unwrap()), ExtensionForm::TwoByte(3));
        let got: Vec<_> = p.extension_elements().map(|e| (e.id, e.data.to_vec())).collect();
        assert_eq!(got, vec![(5, vec![]), (6, vec![9, 9])]);

        // A profile-specific extension has no elements but is still skipped.
        let r = Repr { extension: Some(Extension { profile: 0x0001, data: vec![1; 8] }), ..r };
        let buf = emit_with_payload(&r, b"media");
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.extension_elements().count(), 0);
        assert_eq!(p.extension_data(), Some(&[1u8; 8][..]));
        assert_eq!(p.payload(), b"media");
    }

    #[test]
    fn looks_like_rtp_table() {
        let mut b = [0u8; 12];
        b[0] = 0x80;
        for (byte1, want) in [(0u8, true), (8, true), (101, true), (0x80 | 8, true), (71, true), (77, true)] {
            b[1] = byte1;
            assert_eq!(looks_like_rtp(&b), want, "byte1 {byte1}");
        }
        // RTCP SR/RR/SDES/BYE/APP (200-204) read as marker + PT 72-76.
        for byte1 in 200..=204u8 {
            b[1] = byte1;
            assert!(!looks_like_rtp(&b), "{byte1}");
        }
        b[1] = 8;
        assert!(!looks_like_rtp(&b[..11]));
        for v in [0x00, 0x40, 0xc0] {
            b[0] = v;
            assert!(!looks_like_rtp(&b));
        }
        assert!(!looks_like_rtp(b"SIP/2.0 200 OK\r\n"));
    }

    #[test]
    fn telephone_events() {
        // RFC 4733 3.2 codes; "5" ending after 800 units at -10 dBm0.
        let e = EventRepr { event: 5, end: true, volume: 10, duration: 800 };
        let mut buf = [0u8; 4];
        e.emit(&mut buf);
        assert_eq!(buf, [5, 0x8a, 0x03, 0x20]);
        let v = TelephoneEvent::new_checked(&buf[..]).unwrap();
        assert_eq!(EventRepr::parse(&v), e);
        for n in 0..4 {
            assert_eq!(TelephoneEvent::new_checked(&buf[..n]).unwrap_err(), WireError::Truncated);
        }
        let keys: String = (0..=17).filter_map(dtmf_char).collect();
        assert_eq!(keys, "0123456789*#ABCD!");
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..120)) {
            let _ = looks_like_rtp(&buf);
            if let Ok(p) = Packet::new_checked(&buf[..]) {
                let r = Repr::parse(&p);
                prop_assert_eq!(r.header_len() + r.payload_len + usize::from(r.padding), buf.len());
                let _ = p.extension_elements().count();
                prop_assert!(p.payload().len() <= buf.len());
            }
            if let Ok(e) = TelephoneEvent::new_checked(&buf[..]) {
                let _ = (EventRepr::parse(&e), dtmf_char(e.event()));
            }
        }

        #[test]
        fn version_two_headers_never_panic(
            head in any::<[u8; 16]>(),
            tail in prop::collection::vec(any::<u8>(), 0..80),
        ) {
            let mut buf = head.to_vec();
            buf[0] = (buf[0] & 0x3f) | 0x80;
            buf.extend_from_slice(&tail);
            if let Ok(p) = Packet::new_checked(&buf[..]) {
                let _ = (p.extension_elements().count(), p.payload(), p.extension_data());
            }
        }

        #[test]
        fn emit_parse_round_trip(
            marker in any::<bool>(), pt in 0u8..128, seq in any::<u16>(), ts in any::<u32>(), ssrc in any::<u32>(),
            csrcs in prop::collection::vec(any::<u32>(), 0..=MAX_CSRC),
            ext in prop::option::of((any::<u16>(), prop::collection::vec(any::<u8>(), 0..5).prop_map(|w| {
                let mut d = w; d.resize(d.len().div_ceil(4) * 4, 0); d
            }))),
            payload_len in 0usize..40, padding in 0u8..8,
        ) {
            let r = Repr {
                marker, payload_type: pt, seq, timestamp: ts, ssrc, csrcs,
                extension: ext.map(|(profile, data)| Extension { profile, data }),
                payload_len, padding,
            };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut buf);
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p), r);
        }
    }
}
