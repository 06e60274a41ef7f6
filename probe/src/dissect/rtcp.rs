//! RTCP control packets (RFC 3550 section 6), as they come: several packets
//! stacked in one UDP datagram (a compound packet, 6.1).
//!
//! Contract: [`compound`] walks a datagram by each packet's length field and
//! yields checked [`Packet`] views; the first header that is not version 2 or
//! whose length overruns the datagram ends the walk with one error, so a
//! malformed tail never hides the packets before it. A `Packet` holds the
//! common header (6.4.1: V, P, count, packet type, length in 32-bit words
//! minus one). Typed views read its body: sender and receiver reports with
//! their report blocks (6.4.1, 6.4.2), SDES chunks and items (6.5), BYE (6.6)
//! and APP (6.7); the feedback messages of RFC 4585 (205 RTPFB, 206 PSFB) get
//! a small view of their two SSRCs, and XR (RFC 3611, 207) and unknown types
//! are kept as raw bodies. Every typed view checks the counts against the
//! length first, so no accessor panics.
//!
//! [`looks_like_rtcp`] is the cheap test: version 2, a known packet type
//! (200-207) and a first length that fits the datagram.

use super::wire::{be16, be32, open_enum, put16, put32, WireError};

mod field {
    /// V(2) P(1) count(5).
    pub const FLAGS: usize = 0;
    pub const PACKET_TYPE: usize = 1;
    pub const LENGTH: usize = 2;
    pub const BODY: usize = 4;
}

/// Offsets inside a sender report body (after the common header).
mod sr_field {
    pub const SSRC: usize = 0;
    pub const NTP: usize = 4;
    pub const RTP_TS: usize = 12;
    pub const PACKETS: usize = 16;
    pub const OCTETS: usize = 20;
    pub const REPORTS: usize = 24;
}

/// Offsets inside a receiver report body.
mod rr_field {
    pub const SSRC: usize = 0;
    pub const REPORTS: usize = 4;
}

/// Offsets inside one report block (6.4.1).
mod block_field {
    pub const SSRC: usize = 0;
    /// Fraction lost (8 bits), then cumulative lost (signed 24 bits).
    pub const LOSS: usize = 4;
    pub const HIGHEST_SEQ: usize = 8;
    pub const JITTER: usize = 12;
    pub const LSR: usize = 16;
    pub const DLSR: usize = 20;
}

/// Length of the common header.
pub const HEADER_LEN: usize = 4;
/// Length of one report block.
pub const REPORT_BLOCK_LEN: usize = 24;
/// Length of a sender report's sender info plus its SSRC.
pub const SENDER_INFO_LEN: usize = sr_field::REPORTS;
/// Largest value of the 5-bit count field.
pub const MAX_COUNT: usize = 31;
/// The only RTCP version in use.
pub const VERSION: u8 = 2;

open_enum! {
    /// RTCP packet types (RFC 3550 12.1, RFC 4585 6.1, RFC 3611 2).
    pub enum PacketType(u8) {
        /// SR (200).
        SenderReport = 200,
        /// RR (201).
        ReceiverReport = 201,
        /// SDES (202).
        SourceDescription = 202,
        /// BYE (203).
        Goodbye = 203,
        /// APP (204).
        App = 204,
        /// RTPFB (205): transport-layer feedback.
        TransportFeedback = 205,
        /// PSFB (206): payload-specific feedback.
        PayloadFeedback = 206,
        /// XR (207): extended reports.
        ExtendedReport = 207,
    }
}

open_enum! {
    /// SDES item types (RFC 3550 12.2).
    pub enum SdesType(u8) {
        /// End of a chunk's item list.
        End = 0,
        /// Canonical end-point identifier (`user@host`).
        Cname = 1,
        /// User name.
        Name = 2,
        /// E-mail address.
        Email = 3,
        /// Phone number.
        Phone = 4,
        /// Geographic location.
        Location = 5,
        /// Application or tool name.
        Tool = 6,
        /// Notice or status.
        Note = 7,
        /// Private extension.
        Private = 8,
    }
}

/// Cheap test for "this UDP payload could be RTCP": version 2, packet type
/// 200-207, and a first packet that fits the datagram.
#[inline]
pub fn looks_like_rtcp(buf: &[u8]) -> bool {
    buf.len() >= HEADER_LEN
        && buf[field::FLAGS] >> 6 == VERSION
        && (200..=207).contains(&buf[field::PACKET_TYPE])
        && (usize::from(be16(buf, field::LENGTH)) + 1) * 4 <= buf.len()
}

/// A read-only view of one RTCP packet. The buffer may run on past the
/// packet (the rest of a compound); the accessors stop at its length.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer, checking version, length and padding.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::FLAGS] >> 6 != VERSION {
            return Err(WireError::Malformed);
        }
        let len = (usize::from(be16(b, field::LENGTH)) + 1) * 4;
        if len > b.len() {
            return Err(WireError::Truncated);
        }
        if b[field::FLAGS] & 0x20 != 0 {
            let pad = usize::from(b[len - 1]);
            if pad == 0 || HEADER_LEN + pad > len {
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

    /// The 5-bit count: report blocks (SR, RR), chunks (SDES), sources
    /// (BYE), subtype (APP) or feedback message type (RTPFB, PSFB).
    pub fn count(&self) -> usize {
        usize::from(self.flags() & 0x1f)
    }

    /// Packet type.
    pub fn packet_type(&self) -> PacketType {
        PacketType::from(self.buffer.as_ref()[field::PACKET_TYPE])
    }

    /// Length of this packet in octets, header and padding included.
    pub fn packet_len(&self) -> usize {
        (usize::from(be16(self.buffer.as_ref(), field::LENGTH)) + 1) * 4
    }

    /// Octets of padding at the end of this packet.
    pub fn padding_len(&self) -> usize {
        if self.padding() {
            usize::from(self.buffer.as_ref()[self.packet_len() - 1])
        } else {
            0
        }
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The octets after the common header, without padding.
    pub fn body(&self) -> &'a [u8] {
        &self.buffer[field::BODY..self.packet_len() - self.padding_len()]
    }

    /// The body as a sender report.
    pub fn sender_report(&self) -> Result<SenderReport<'a>, WireError> {
        SenderReport::new_checked(self)
    }

    /// The body as a receiver report.
    pub fn receiver_report(&self) -> Result<ReceiverReport<'a>, WireError> {
        ReceiverReport::new_checked(self)
    }

    /// The body's SDES chunks (empty unless the type is SDES).
    pub fn sdes_chunks(&self) -> SdesChunks<'a> {
        let sdes = self.packet_type() == PacketType::SourceDescription;
        SdesChunks { body: self.body(), pos: 0, left: if sdes { self.count() } else { 0 }, failed: false }
    }

    /// The body as a BYE.
    pub fn goodbye(&self) -> Result<Goodbye<'a>, WireError> {
        Goodbye::new_checked(self)
    }

    /// The body as an APP packet.
    pub fn app(&self) -> Result<App<'a>, WireError> {
        expect_type(self, &[PacketType::App])?;
        App::new_checked(self.count() as u8, self.body())
    }

    /// The body as an RFC 4585 feedback message (RTPFB or PSFB).
    pub fn feedback(&self) -> Result<Feedback<'a>, WireError> {
        expect_type(self, &[PacketType::TransportFeedback, PacketType::PayloadFeedback])?;
        Feedback::new_checked(self.count() as u8, self.body())
    }
}

fn expect_type(p: &Packet<&[u8]>, types: &[PacketType]) -> Result<(), WireError> {
    if types.contains(&p.packet_type()) {
        Ok(())
    } else {
        Err(WireError::Malformed)
    }
}

/// Walk the packets of a compound datagram.
pub fn compound(buf: &[u8]) -> Compound<'_> {
    Compound { rest: buf, failed: false }
}

/// Iterator over the packets of a compound datagram; yields one error and
/// stops at the first packet that does not check.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Compound<'a> {
    /// The octets not walked yet: after an error, the packet that failed and
    /// everything behind it.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<Packet<&'a [u8]>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match Packet::new_checked(self.rest) {
            Ok(p) => {
                let (this, rest) = self.rest.split_at(p.packet_len());
                self.rest = rest;
                Some(Ok(Packet { buffer: this }))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A read-only view of one report block (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy)]
pub struct ReportBlock<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ReportBlock<T> {
    /// Wrap a buffer of at least one block.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < REPORT_BLOCK_LEN {
            return Err(WireError::Truncated);
        }
        Ok(ReportBlock { buffer })
    }

    /// The source this block reports on.
    pub fn ssrc(&self) -> u32 {
        be32(self.buffer.as_ref(), block_field::SSRC)
    }

    /// Fraction of packets lost since the last report, in 1/256.
    pub fn fraction_lost(&self) -> u8 {
        self.buffer.as_ref()[block_field::LOSS]
    }

    /// Cumulative packets lost (signed 24 bits: duplicates make it negative).
    pub fn cumulative_lost(&self) -> i32 {
        // Shift the 24 bits to the top and back to extend the sign.
        ((be32(self.buffer.as_ref(), block_field::LOSS) << 8) as i32) >> 8
    }

    /// Extended highest sequence number received.
    pub fn highest_seq(&self) -> u32 {
        be32(self.buffer.as_ref(), block_field::HIGHEST_SEQ)
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        be32(self.buffer.as_ref(), block_field::JITTER)
    }

    /// Middle 32 bits of the last SR's NTP timestamp.
    pub fn lsr(&self) -> u32 {
        be32(self.buffer.as_ref(), block_field::LSR)
    }

    /// Delay since that SR, in 1/65536 s.
    pub fn dlsr(&self) -> u32 {
        be32(self.buffer.as_ref(), block_field::DLSR)
    }
}

/// The owned form of a report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlockRepr {
    /// Reported source.
    pub ssrc: u32,
    /// Fraction lost, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative lost; emitted clamped to 24 signed bits.
    pub cumulative_lost: i32,
    /// Extended highest sequence number.
    pub highest_seq: u32,
    /// Interarrival jitter.
    pub jitter: u32,
    /// Last SR timestamp.
    pub lsr: u32,
    /// Delay since last SR.
    pub dlsr: u32,
}

impl ReportBlockRepr {
    /// Read the owned form from a checked block.
    pub fn parse<T: AsRef<[u8]>>(b: &ReportBlock<T>) -> ReportBlockRepr {
        ReportBlockRepr {
            ssrc: b.ssrc(),
            fraction_lost: b.fraction_lost(),
            cumulative_lost: b.cumulative_lost(),
            highest_seq: b.highest_seq(),
            jitter: b.jitter(),
            lsr: b.lsr(),
            dlsr: b.dlsr(),
        }
    }

    /// Write the block into the first [`REPORT_BLOCK_LEN`] octets of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        put32(buf, block_field::SSRC, self.ssrc);
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff;
        put32(buf, block_field::LOSS, (u32::from(self.fraction_lost) << 24) | lost);
        put32(buf, block_field::HIGHEST_SEQ, self.highest_seq);
        put32(buf, block_field::JITTER, self.jitter);
        put32(buf, block_field::LSR, self.lsr);
        put32(buf, block_field::DLSR, self.dlsr);
    }
}

/// Iterator over a run of report blocks.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    blocks: std::slice::ChunksExact<'a, u8>,
}

impl<'a> Iterator for ReportBlocks<'a> {
    type Item = ReportBlock<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        self.blocks.next().map(|buffer| ReportBlock { buffer })
    }
}

fn report_blocks(body: &[u8], at: usize, count: usize) -> ReportBlocks<'_> {
    ReportBlocks { blocks: body[at..at + count * REPORT_BLOCK_LEN].chunks_exact(REPORT_BLOCK_LEN) }
}

/// A sender report (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy)]
pub struct SenderReport<'a> {
    body: &'a [u8],
    count: usize,
}

impl<'a> SenderReport<'a> {
    /// Check the packet is an SR whose body holds the sender info and its report blocks.
    pub fn new_checked(p: &Packet<&'a [u8]>) -> Result<Self, WireError> {
        expect_type(p, &[PacketType::SenderReport])?;
        let body = p.body();
        if body.len() < SENDER_INFO_LEN + p.count() * REPORT_BLOCK_LEN {
            return Err(WireError::Malformed);
        }
        Ok(SenderReport { body, count: p.count() })
    }

    /// The sender's SSRC.
    pub fn ssrc(&self) -> u32 {
        be32(self.body, sr_field::SSRC)
    }

    /// Wallclock time of the report as a 64-bit NTP timestamp.
    pub fn ntp_timestamp(&self) -> u64 {
        (u64::from(be32(self.body, sr_field::NTP)) << 32) | u64::from(be32(self.body, sr_field::NTP + 4))
    }

    /// The same instant in RTP timestamp units.
    pub fn rtp_timestamp(&self) -> u32 {
        be32(self.body, sr_field::RTP_TS)
    }

    /// RTP packets sent since the start.
    pub fn packet_count(&self) -> u32 {
        be32(self.body, sr_field::PACKETS)
    }

    /// RTP payload octets sent since the start.
    pub fn octet_count(&self) -> u32 {
        be32(self.body, sr_field::OCTETS)
    }

    /// The report blocks.
    pub fn reports(&self) -> ReportBlocks<'a> {
        report_blocks(self.body, sr_field::REPORTS, self.count)
    }

    /// Profile-specific extension octets after the blocks.
    pub fn extension(&self) -> &'a [u8] {
        &self.body[sr_field::REPORTS + self.count * REPORT_BLOCK_LEN..]
    }
}

/// A receiver report (RFC 3550 6.4.2).
#[derive(Debug, Clone, Copy)]
pub struct ReceiverReport<'a> {
    body: &'a [u8],
    count: usize,
}

impl<'a> ReceiverReport<'a> {
    /// Check the packet is an RR whose body holds its report blocks.
    pub fn new_checked(p: &Packet<&'a [u8]>) -> Result<Self, WireError> {
        expect_type(p, &[PacketType::ReceiverReport])?;
        let body = p.body();
        if body.len() < rr_field::REPORTS + p.count() * REPORT_BLOCK_LEN {
            return Err(WireError::Malformed);
        }
        Ok(ReceiverReport { body, count: p.count() })
    }

    /// The reporter's SSRC.
    pub fn ssrc(&self) -> u32 {
        be32(self.body, rr_field::SSRC)
    }

    /// The report blocks.
    pub fn reports(&self) -> ReportBlocks<'a> {
        report_blocks(self.body, rr_field::REPORTS, self.count)
    }

    /// Profile-specific extension octets after the blocks.
    pub fn extension(&self) -> &'a [u8] {
        &self.body[rr_field::REPORTS + self.count * REPORT_BLOCK_LEN..]
    }
}

/// One SDES chunk (RFC 3550 6.5): a source and its item list.
#[derive(Debug, Clone, Copy)]
pub struct SdesChunk<'a> {
    /// The source the items describe.
    pub ssrc: u32,
    /// The items, already checked to frame exactly (END excluded).
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The chunk's items.
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }
}

/// Iterator over SDES chunks; yields one error and stops at a chunk whose
/// items overrun the packet or lack their terminating null octet.
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    body: &'a [u8],
    pos: usize,
    left: usize,
    failed: bool,
}

impl<'a> SdesChunks<'a> {
    fn chunk_at(&self) -> Result<(SdesChunk<'a>, usize), WireError> {
        let b = self.body;
        let start = self.pos;
        if b.len() < start + 4 {
            return Err(WireError::Truncated);
        }
        let ssrc = be32(b, start);
        let mut at = start + 4;
        loop {
            match b.get(at) {
                None => return Err(WireError::Truncated),
                Some(0) => {
                    // END, then null octets up to the next 32-bit boundary;
                    // the body starts 32-bit aligned, so align within it.
                    let next = (at + 1).next_multiple_of(4);
                    if next > b.len() {
                        return Err(WireError::Truncated);
                    }
                    return Ok((SdesChunk { ssrc, items: &b[start + 4..at] }, next));
                }
                Some(_) => {
                    let len = usize::from(*b.get(at + 1).ok_or(WireError::Truncated)?);
                    at += 2 + len;
                    if at > b.len() {
                        return Err(WireError::Truncated);
                    }
                }
            }
        }
    }
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = Result<SdesChunk<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.left == 0 {
            return None;
        }
        match self.chunk_at() {
            Ok((chunk, next)) => {
                self.pos = next;
                self.left -= 1;
                Some(Ok(chunk))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// One SDES item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type.
    pub kind: SdesType,
    /// Item text (UTF-8 by the RFC, not checked).
    pub value: &'a [u8],
}

/// Iterator over the items of one checked chunk.
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        let (&kind, rest) = self.rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let value = rest.get(..usize::from(len))?;
        self.rest = &rest[usize::from(len)..];
        Some(SdesItem { kind: SdesType::from(kind), value })
    }
}

/// A BYE packet (RFC 3550 6.6).
#[derive(Debug, Clone, Copy)]
pub struct Goodbye<'a> {
    body: &'a [u8],
    count: usize,
}

impl<'a> Goodbye<'a> {
    /// Check the packet is a BYE whose sources and reason fit its body.
    pub fn new_checked(p: &Packet<&'a [u8]>) -> Result<Self, WireError> {
        expect_type(p, &[PacketType::Goodbye])?;
        let body = p.body();
        let at = 4 * p.count();
        if body.len() < at {
            return Err(WireError::Malformed);
        }
        if let Some(&len) = body.get(at) {
            if body.len() < at + 1 + usize::from(len) {
                return Err(WireError::Malformed);
            }
        }
        Ok(Goodbye { body, count: p.count() })
    }

    /// The sources leaving.
    pub fn sources(&self) -> impl Iterator<Item = u32> + 'a {
        self.body[..4 * self.count].chunks_exact(4).map(|c| be32(c, 0))
    }

    /// The reason for leaving, when given.
    pub fn reason(&self) -> Option<&'a [u8]> {
        let at = 4 * self.count;
        let len = usize::from(*self.body.get(at)?);
        self.body.get(at + 1..at + 1 + len)
    }
}

/// An APP packet (RFC 3550 6.7).
#[derive(Debug, Clone, Copy)]
pub struct App<'a> {
    /// The 5-bit subtype.
    pub subtype: u8,
    /// The sender.
    pub ssrc: u32,
    /// Four ASCII characters naming the application.
    pub name: [u8; 4],
    /// Application data.
    pub data: &'a [u8],
}

impl<'a> App<'a> {
    fn new_checked(subtype: u8, body: &'a [u8]) -> Result<Self, WireError> {
        if body.len() < 8 {
            return Err(WireError::Malformed);
        }
        Ok(App { subtype, ssrc: be32(body, 0), name: [body[4], body[5], body[6], body[7]], data: &body[8..] })
    }
}

/// An RFC 4585 6.1 feedback message (RTPFB or PSFB).
#[derive(Debug, Clone, Copy)]
pub struct Feedback<'a> {
    /// Feedback message type (the count field): e.g. 1 generic NACK, 1 PLI.
    pub format: u8,
    /// The sender of the feedback.
    pub sender_ssrc: u32,
    /// The media source it is about.
    pub media_ssrc: u32,
    /// Feedback control information.
    pub fci: &'a [u8],
}

impl<'a> Feedback<'a> {
    fn new_checked(format: u8, body: &'a [u8]) -> Result<Self, WireError> {
        if body.len() < 8 {
            return Err(WireError::Malformed);
        }
        Ok(Feedback { format, sender_ssrc: be32(body, 0), media_ssrc: be32(body, 4), fci: &body[8..] })
    }
}

/// An SDES chunk in owned form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunkRepr {
    /// The source.
    pub ssrc: u32,
    /// Items in order (values longer than 255 octets are cut when emitted).
    pub items: Vec<(SdesType, Vec<u8>)>,
}

/// The owned form of one RTCP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repr {
    /// SR.
    SenderReport {
        /// Sender SSRC.
        ssrc: u32,
        /// NTP timestamp.
        ntp_timestamp: u64,
        /// RTP timestamp.
        rtp_timestamp: u32,
        /// Sender's packet count.
        packet_count: u32,
        /// Sender's octet count.
        octet_count: u32,
        /// Report blocks (at most [`MAX_COUNT`] emitted).
        reports: Vec<ReportBlockRepr>,
    },
    /// RR.
    ReceiverReport {
        /// Reporter SSRC.
        ssrc: u32,
        /// Report blocks (at most [`MAX_COUNT`] emitted).
        reports: Vec<ReportBlockRepr>,
    },
    /// SDES.
    SourceDescription {
        /// Chunks (at most [`MAX_COUNT`] emitted).
        chunks: Vec<SdesChunkRepr>,
    },
    /// BYE.
    Goodbye {
        /// Sources (at most [`MAX_COUNT`] emitted).
        sources: Vec<u32>,
        /// Reason (at most 255 octets emitted).
        reason: Option<Vec<u8>>,
    },
    /// APP.
    App {
        /// Subtype (5 bits).
        subtype: u8,
        /// Sender.
        ssrc: u32,
        /// Name.
        name: [u8; 4],
        /// Data, zero-padded to 32 bits when emitted.
        data: Vec<u8>,
    },
    /// Any other type (feedback, XR, unknown), body kept raw.
    Other {
        /// Packet type.
        packet_type: PacketType,
        /// The count field (5 bits).
        count: u8,
        /// Body, zero-padded to 32 bits when emitted.
        body: Vec<u8>,
    },
}

fn pad4(n: usize) -> usize {
    n.next_multiple_of(4)
}

impl Repr {
    /// Read the owned form from a checked packet.
    pub fn parse(p: &Packet<&[u8]>) -> Result<Repr, WireError> {
        let blocks = |r: ReportBlocks<'_>| r.map(|b| ReportBlockRepr::parse(&b)).collect();
        Ok(match p.packet_type() {
            PacketType::SenderReport => {
                let sr = p.sender_report()?;
                Repr::SenderReport {
                    ssrc: sr.ssrc(),
                    ntp_timestamp: sr.ntp_timestamp(),
                    rtp_timestamp: sr.rtp_timestamp(),
                    packet_count: sr.packet_count(),
                    octet_count: sr.octet_count(),
                    reports: blocks(sr.reports()),
                }
            }
            PacketType::ReceiverReport => {
                let rr = p.receiver_report()?;
                Repr::ReceiverReport { ssrc: rr.ssrc(), reports: blocks(rr.reports()) }
            }
            PacketType::SourceDescription => {
                let chunks = p
                    .sdes_chunks()
                    .map(|c| {
                        c.map(|c| SdesChunkRepr {
                            ssrc: c.ssrc,
                            items: c.items().map(|i| (i.kind, i.value.to_vec())).collect(),
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Repr::SourceDescription { chunks }
            }
            PacketType::Goodbye => {
                let bye = p.goodbye()?;
                Repr::Goodbye { sources: bye.sources().collect(), reason: bye.reason().map(<[u8]>::to_vec) }
            }
            PacketType::App => {
                let app = p.app()?;
                Repr::App { subtype: app.subtype, ssrc: app.ssrc, name: app.name, data: app.data.to_vec() }
            }
            other => Repr::Other { packet_type: other, count: p.count() as u8, body: p.body().to_vec() },
        })
    }

    fn count(&self) -> usize {
        match self {
            Repr::SenderReport { reports, .. } | Repr::ReceiverReport { reports, .. } => reports.len(),
            Repr::SourceDescription { chunks } => chunks.len(),
            Repr::Goodbye { sources, .. } => sources.len(),
            Repr::App { subtype, .. } => usize::from(*subtype),
            Repr::Other { count, .. } => usize::from(*count),
        }
        .min(MAX_COUNT)
    }

    fn packet_type(&self) -> PacketType {
        match self {
            Repr::SenderReport { .. } => PacketType::SenderReport,
            Repr::ReceiverReport { .. } => PacketType::ReceiverReport,
            Repr::SourceDescription { .. } => PacketType::SourceDescription,
            Repr::Goodbye { .. } => PacketType::Goodbye,
            Repr::App { .. } => PacketType::App,
            Repr::Other { packet_type, .. } => *packet_type,
        }
    }

    fn chunk_len(c: &SdesChunkRepr) -> usize {
        let items: usize = c.items.iter().map(|(_, v)| 2 + v.len().min(255)).sum();
        pad4(4 + items + 1)
    }

    /// Length of the emitted packet.
    pub fn buffer_len(&self) -> usize {
        let n = self.count();
        HEADER_LEN
            + match self {
                Repr::SenderReport { .. } => SENDER_INFO_LEN + n * REPORT_BLOCK_LEN,
                Repr::ReceiverReport { .. } => rr_field::REPORTS + n * REPORT_BLOCK_LEN,
                Repr::SourceDescription { chunks } => chunks.iter().take(n).map(Self::chunk_len).sum(),
                Repr::Goodbye { reason, .. } => 4 * n + reason.as_ref().map_or(0, |r| pad4(1 + r.len().min(255))),
                Repr::App { data, .. } => 8 + pad4(data.len()),
                Repr::Other { body, .. } => pad4(body.len()),
            }
    }

    /// Write the packet (no padding bit) into the first
    /// [`buffer_len`](Self::buffer_len) octets of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        let len = self.buffer_len();
        let n = self.count();
        buf[..len].fill(0);
        buf[field::FLAGS] = (VERSION << 6) | n as u8;
        buf[field::PACKET_TYPE] = self.packet_type().into();
        // Lengths beyond 16 bits cannot be framed; such a Repr is the caller's bug.
        put16(buf, field::LENGTH, (len / 4 - 1).min(usize::from(u16::MAX)) as u16);
        let body = &mut buf[field::BODY..len];
        match self {
            Repr::SenderReport { ssrc, ntp_timestamp, rtp_timestamp, packet_count, octet_count, reports } => {
                put32(body, sr_field::SSRC, *ssrc);
                put32(body, sr_field::NTP, (*ntp_timestamp >> 32) as u32);
                put32(body, sr_field::NTP + 4, *ntp_timestamp as u32);
                put32(body, sr_field::RTP_TS, *rtp_timestamp);
                put32(body, sr_field::PACKETS, *packet_count);
                put32(body, sr_field::OCTETS, *octet_count);
                for (i, r) in reports.iter().take(n).enumerate() {
                    r.emit(&mut body[sr_field::REPORTS + i * REPORT_BLOCK_LEN..]);
                }
            }
            Repr::ReceiverReport { ssrc, reports } => {
                put32(body, rr_field::SSRC, *ssrc);
                for (i, r) in reports.iter().take(n).enumerate() {
                    r.emit(&mut body[rr_field::REPORTS + i * REPORT_BLOCK_LEN..]);
                }
            }
            Repr::SourceDescription { chunks } => {
                let mut at = 0;
                for c in chunks.iter().take(n) {
                    put32(body, at, c.ssrc);
                    let mut i = at + 4;
                    for (kind, value) in &c.items {
                        let v = &value[..value.len().min(255)];
                        body[i] = (*kind).into();
                        body[i + 1] = v.len() as u8;
                        body[i + 2..i + 2 + v.len()].copy_from_slice(v);
                        i += 2 + v.len();
                    }
                    at += Self::chunk_len(c);
                }
            }
            Repr::Goodbye { sources, reason } => {
                for (i, s) in sources.iter().take(n).enumerate() {
                    put32(body, 4 * i, *s);
                }
                if let Some(r) = reason {
                    let r = &r[..r.len().min(255)];
                    body[4 * n] = r.len() as u8;
                    body[4 * n + 1..4 * n + 1 + r.len()].copy_from_slice(r);
                }
            }
            Repr::App { ssrc, name, data, .. } => {
                put32(body, 0, *ssrc);
                body[4..8].copy_from_slice(name);
                body[8..8 + data.len()].copy_from_slice(data);
            }
            Repr::Other { body: raw, .. } => body[..raw.len()].copy_from_slice(raw),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn block(ssrc: u32, lost: i32) -> ReportBlockRepr {
        ReportBlockRepr {
            ssrc,
            fraction_lost: 64,
            cumulative_lost: lost,
            highest_seq: 0x0001_0005,
            jitter: 37,
            lsr: 0xdead_beef,
            dlsr: 65536,
        }
    }

    fn emit_all(reprs: &[Repr]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in reprs {
            let mut buf = vec![0xaa; r.buffer_len()];
            r.emit(&mut buf);
            out.extend_from_slice(&buf);
        }
        out
    }

    fn samples() -> Vec<Repr> {
        vec![
            Repr::SenderReport {
                ssrc: 0x5d93_1534,
                ntp_timestamp: 0xe8f0_1234_8000_0000,
                rtp_timestamp: 160_000,
                packet_count: 1000,
                octet_count: 160_000,
                reports: vec![block(0x0102_0304, -2)],
            },
            Repr::ReceiverReport { ssrc: 7, reports: vec![block(1, 0x7f_ffff), block(2, -0x80_0000)] },
            Repr::SourceDescription {
                chunks: vec![
                    SdesChunkRepr {
                        ssrc: 0x5d93_1534,
                        items: vec![(SdesType::Cname, b"user@192.0.2.1".to_vec()), (SdesType::Tool, b"goip".to_vec())],
                    },
                    SdesChunkRepr { ssrc: 9, items: vec![] },
                    SdesChunkRepr { ssrc: 10, items: vec![(SdesType::Unknown(42), b"xy".to_vec())] },
                ],
            },
            Repr::Goodbye { sources: vec![1, 2], reason: Some(b"hangup".to_vec()) },
            Repr::Goodbye { sources: vec![3], reason: None },
            Repr::App { subtype: 3, ssrc: 4, name: *b"GOIP", data: vec![1, 2, 3, 4] },
            Repr::Other { packet_type: PacketType::PayloadFeedback, count: 1, body: vec![0, 0, 0, 1, 0, 0, 0, 2] },
            Repr::Other { packet_type: PacketType::ExtendedReport, count: 0, body: vec![0, 0, 0, 5] },
            Repr::Other { packet_type: PacketType::Unknown(199), count: 0, body: vec![] },
        ]
    }

    #[test]
    fn compound_round_trip() {
        let reprs = samples();
        let buf = emit_all(&reprs);
        let parsed: Vec<Repr> = compound(&buf).map(|p| Repr::parse(&p.unwrap()).unwrap()).collect();
        assert_eq!(parsed, reprs);
        assert!(looks_like_rtcp(&buf));
    }

    #[test]
    fn report_block_fields() {
        // RFC 3550 6.4.1 layout written out by hand: fraction 1/4, lost -2.
        let bytes = [1, 2, 3, 4, 0x40, 0xff, 0xff, 0xfe, 0, 1, 0, 5, 0, 0, 0, 37, 0xde, 0xad, 0xbe, 0xef, 0, 1, 0, 0];
        let b = ReportBlock::new_checked(&bytes[..]).unwrap();
        assert_eq!(ReportBlockRepr::parse(&b), block(0x0102_0304, -2));
        let mut out = [0u8; 24];
        block(0x0102_0304, -2).emit(&mut out);
        assert_eq!(out, bytes);
        // Out-of-range losses clamp to the 24-bit limits.
        block(0, i32::MAX).emit(&mut out);
        assert_eq!(ReportBlock::new_checked(&out[..]).unwrap().cumulative_lost(), 0x7f_ffff);
        block(0, i32::MIN).emit(&mut out);
        assert_eq!(ReportBlock::new_checked(&out[..]).unwrap().cumulative_lost(), -0x80_0000);
        assert!(ReportBlock::new_checked(&out[..23]).is_err());
    }

    #[test]
    fn sender_report_by_hand() {
        // SR, RC 0, length 6: SSRC, NTP, RTP ts, packets, octets (as sipp sends).
        let mut buf = vec![0x80, 200, 0, 6];
        for w in [0x0e05_384eu32, 0xe8f0_0000, 0x8000_0000, 13280, 10, 1600] {
            buf.extend_from_slice(&w.to_be_bytes());
        }
        let p = Packet::new_checked(&buf[..]).unwrap();
        let sr = p.sender_report().unwrap();
        assert_eq!(sr.ssrc(), 0x0e05_384e);
        assert_eq!(sr.ntp_timestamp(), 0xe8f0_0000_8000_0000);
        assert_eq!((sr.rtp_timestamp(), sr.packet_count(), sr.octet_count()), (13280, 10, 1600));
        assert_eq!(sr.reports().count(), 0);
        assert!(sr.extension().is_empty());
        assert_eq!(p.receiver_report().unwrap_err(), WireError::Malformed);
        // A report count the length cannot hold.
        buf[0] = 0x81;
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.sender_report().unwrap_err(), WireError::Malformed);
    }

    /// A named edit of a good packet and what `new_checked` should say after it.
    type Case = (&'static str, fn(&mut Vec<u8>), Result<(), WireError>);

    #[test]
    fn header_checks_table() {
        let ok = emit_all(&samples()[1..2]);
        let cases: &[Case] = &[
            ("as emitted", |_| {}, Ok(())),
            ("version 1", |b| b[0] = (b[0] & 0x3f) | 0x40, Err(WireError::Malformed)),
            ("length past the end", |b| b[3] += 1, Err(WireError::Truncated)),
            ("padding count 0", |b| b[0] |= 0x20, Err(WireError::Malformed)),
            (
                "padding into the header",
                |b| {
                    b[0] |= 0x20;
                    *b.last_mut().unwrap() = 200;
                },
                Err(WireError::Malformed),
            ),
        ];
        for (name, edit, want) in cases {
            let mut b = ok.clone();
            edit(&mut b);
            assert_eq!(Packet::new_checked(&b[..]).map(|_| ()), *want, "{name}");
        }
        // Padding that leaves the blocks short makes the RR malformed, not a panic.
        let mut b = ok.clone();
        b[0] |= 0x20;
        *b.last_mut().unwrap() = 8;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.body().len(), ok.len() - 4 - 8);
        assert_eq!(p.receiver_report().unwrap_err(), WireError::Malformed);
    }

    #[test]
    fn growing_prefixes_stop_the_walk_with_one_error() {
        let buf = emit_all(&samples());
        let whole = compound(&buf).count();
        for n in 0..buf.len() {
            let items: Vec<_> = compound(&buf[..n]).collect();
            assert!(items.len() <= whole);
            let mut walk = compound(&buf[..n]);
            let walked: usize = walk.by_ref().flatten().map(|p| p.packet_len()).sum();
            assert_eq!(walked + walk.rest().len(), n);
            let errors = items.iter().filter(|i| i.is_err()).count();
            assert!(errors <= 1, "prefix {n}");
            if errors == 1 {
                assert!(items.last().unwrap().is_err());
            }
            for p in items.into_iter().flatten() {
                let _ = Repr::parse(&p);
            }
        }
    }

    #[test]
    fn sdes_framing_errors() {
        let sdes = emit_all(&samples()[2..3]);
        let p = Packet::new_checked(&sdes[..]).unwrap();
        let chunks: Vec<_> = p.sdes_chunks().map(Result::unwrap).collect();
        assert_eq!(chunks.len(), 3);
        let items: Vec<_> = chunks[0].items().collect();
        assert_eq!(items[0], SdesItem { kind: SdesType::Cname, value: b"user@192.0.2.1" });
        // An item length running past the packet.
        let mut bad = sdes.clone();
        bad[4 + 4 + 1] = 250;
        let p = Packet::new_checked(&bad[..]).unwrap();
        assert!(matches!(Repr::parse(&p), Err(WireError::Truncated)));
        // A chunk count larger than the chunks present.
        let mut bad = sdes.clone();
        bad[0] = 0x80 | 5;
        let p = Packet::new_checked(&bad[..]).unwrap();
        let got: Vec<_> = p.sdes_chunks().collect();
        assert_eq!(got.len(), 4);
        assert!(got[3].is_err());
    }

    #[test]
    fn bye_reason_overrun_is_malformed() {
        let mut buf = emit_all(&samples()[3..4]);
        let bye = Packet::new_checked(&buf[..]).unwrap();
        let g = bye.goodbye().unwrap();
        assert_eq!(g.sources().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(g.reason(), Some(&b"hangup"[..]));
        buf[12] = 200;
        let bye = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(bye.goodbye().unwrap_err(), WireError::Malformed);
    }

    #[test]
    fn feedback_view() {
        let buf = emit_all(&samples()[6..7]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        let f = p.feedback().unwrap();
        assert_eq!((f.format, f.sender_ssrc, f.media_ssrc, f.fci.len()), (1, 1, 2, 0));
        assert_eq!(p.app().unwrap_err(), WireError::Malformed);
    }

    #[test]
    fn looks_like_rtcp_table() {
        let rr = emit_all(&samples()[1..2]);
        assert!(looks_like_rtcp(&rr));
        assert!(!looks_like_rtcp(&rr[..rr.len() - 1]));
        let mut b = rr.clone();
        b[1] = 199;
        assert!(!looks_like_rtcp(&b));
        b[1] = 208;
        assert!(!looks_like_rtcp(&b));
        let mut b = rr.clone();
        b[0] = 0x40;
        assert!(!looks_like_rtcp(&b));
        // An RTP packet with PT 8 is not RTCP.
        assert!(!looks_like_rtcp(&[0x80, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]));
        assert!(!looks_like_rtcp(&[0x80, 201, 0]));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = looks_like_rtcp(&buf);
            walk(&buf);
        }

        #[test]
        fn plausible_headers_never_panic(
            ty in 200u8..=207, count in 0u8..32, pad in any::<bool>(),
            body in prop::collection::vec(any::<u8>(), 0..120),
        ) {
            let mut buf = vec![0x80 | if pad { 0x20 } else { 0 } | count, ty, 0, 0];
            let words = body.len() / 4;
            buf[2..4].copy_from_slice(&(words as u16).to_be_bytes());
            buf.extend_from_slice(&body);
            walk(&buf);
        }

        #[test]
        fn report_round_trip(
            ssrc in any::<u32>(),
            blocks in prop::collection::vec(
                (any::<u32>(), any::<u8>(), -0x80_0000i32..0x80_0000, any::<u32>(), any::<u32>()), 0..=MAX_COUNT),
            ntp in any::<u64>(), sr in any::<bool>(),
        ) {
            let reports: Vec<_> = blocks.iter().map(|&(ssrc, fraction_lost, cumulative_lost, highest_seq, jitter)| {
                ReportBlockRepr { ssrc, fraction_lost, cumulative_lost, highest_seq, jitter, lsr: jitter, dlsr: ssrc }
            }).collect();
            let r = if sr {
                Repr::SenderReport { ssrc, ntp_timestamp: ntp, rtp_timestamp: 1, packet_count: 2, octet_count: 3, reports }
            } else {
                Repr::ReceiverReport { ssrc, reports }
            };
            let buf = emit_all(std::slice::from_ref(&r));
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p).unwrap(), r);
        }

        #[test]
        fn sdes_and_bye_round_trip(
            chunks in prop::collection::vec(
                (any::<u32>(), prop::collection::vec((1u8..=255, prop::collection::vec(any::<u8>(), 0..20)), 0..4)),
                0..5),
            sources in prop::collection::vec(any::<u32>(), 0..5),
            reason in prop::option::of(prop::collection::vec(any::<u8>(), 0..30)),
        ) {
            let chunks = chunks.into_iter().map(|(ssrc, items)| SdesChunkRepr {
                ssrc, items: items.into_iter().map(|(k, v)| (SdesType::from(k), v)).collect(),
            }).collect();
            let reprs = vec![Repr::SourceDescription { chunks }, Repr::Goodbye { sources, reason }];
            let buf = emit_all(&reprs);
            let parsed: Vec<Repr> = compound(&buf).map(|p| Repr::parse(&p.unwrap()).unwrap()).collect();
            prop_assert_eq!(parsed, reprs);
        }
    }

    fn walk(buf: &[u8]) {
        for p in compound(buf).flatten() {
            let _ = (p.count(), p.padding_len(), p.body());
            let _ = Repr::parse(&p);
            if let Ok(sr) = p.sender_report() {
                let _ = (sr.reports().map(|b| i64::from(b.cumulative_lost())).sum::<i64>(), sr.extension());
            }
            if let Ok(rr) = p.receiver_report() {
                let _ = (rr.reports().count(), rr.extension());
            }
            for c in p.sdes_chunks().flatten() {
                let _ = c.items().count();
            }
            if let Ok(g) = p.goodbye() {
                let _ = (g.sources().count(), g.reason());
            }
            let _ = (p.app().map(|a| a.data.len()), p.feedback().map(|f| f.fci.len()));
        }
    }
}
