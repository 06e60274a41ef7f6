//! The AF_PACKET sockets under a live capture. This is the probe's only
//! `unsafe` code: system calls that neither pnet nor rustix wrap.
//!
//! Two ways in:
//!
//! - [`Ring`] (the default): a TPACKET_V3 receive ring shared with the
//!   kernel (`PACKET_RX_RING`, see the kernel's `packet_mmap` documentation).
//!   The kernel fills blocks of frames and hands each block over whole, so a
//!   busy link costs one wake-up per block rather than two system calls per
//!   frame — the same mechanism libpcap (and so tcpdump) uses. Frames carry
//!   the kernel's receive time, and an 802.1Q tag the NIC stripped is put
//!   back.
//! - [`PacketSocket`], the fallback when a ring cannot be set up (an old
//!   kernel, no memory for the ring): a plain socket handed to pnet
//!   (`pnet_datalink::Config::socket_fd`), which binds it and reads one
//!   frame per `recvfrom`.
//!
//! Both get a large kernel buffer and report the kernel's counters for the
//! socket ([`KernelStats`], `PACKET_STATISTICS`): frames offered and frames
//! dropped because the buffer or ring was full. Reading them resets them.

#![allow(unsafe_code)]

use std::io;
#[cfg(test)]
use std::os::fd::FromRawFd;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustix::net::{eth, socket, sockopt, AddressFamily, SocketType};

use super::Micros;

/// The kernel's counters for a packet socket since the last reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Frames the kernel handed to the socket (drops included).
    pub packets: u64,
    /// Frames dropped because the socket's buffer or ring was full.
    pub drops: u64,
}

/// Reads and resets the kernel's counters of packet socket `fd`.
fn kernel_stats(fd: RawFd) -> io::Result<KernelStats> {
    // tpacket_stats_v3 is a superset of tpacket_stats; the kernel fills what
    // the socket's version has and says how much in `len`.
    let mut raw = libc::tpacket_stats_v3 { tp_packets: 0, tp_drops: 0, tp_freeze_q_cnt: 0 };
    let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
    // SAFETY: `raw` and `len` are valid for writes and `len` is `raw`'s
    // size, so the kernel writes at most that many bytes. `fd` is open: the
    // callers own it (or the pnet receiver that owns it is alive).
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut raw as *mut libc::tpacket_stats_v3).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(KernelStats { packets: u64::from(raw.tp_packets), drops: u64::from(raw.tp_drops) })
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of the given size for the call's
    // duration; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A raw AF_PACKET socket for every protocol with a receive buffer of
/// `buffer` bytes: forced past `net.core.rmem_max` when the process has
/// CAP_NET_ADMIN, else as large as that limit allows. Returns the socket
/// and the buffer the kernel granted.
fn raw_socket(buffer: usize) -> io::Result<(OwnedFd, usize)> {
    let fd = socket(AddressFamily::PACKET, SocketType::RAW, Some(eth::ALL))?;
    if sockopt::set_socket_recv_buffer_size_force(&fd, buffer).is_err() {
        sockopt::set_socket_recv_buffer_size(&fd, buffer)?;
    }
    // The kernel reports twice the size asked for (its bookkeeping share).
    let granted = sockopt::socket_recv_buffer_size(&fd)? / 2;
    Ok((fd, granted))
}

/// A capture socket for pnet to take over (the fallback path).
#[derive(Debug)]
pub struct PacketSocket {
    fd: RawFd,
    /// The receive buffer the kernel granted, bytes.
    pub buffer: usize,
}

impl PacketSocket {
    /// A socket with a kernel buffer of `buffer` bytes (see [`raw_socket`]).
    pub fn open(buffer: usize) -> io::Result<PacketSocket> {
        let (fd, granted) = raw_socket(buffer)?;
        Ok(PacketSocket { fd: fd.into_raw_fd(), buffer: granted })
    }

    /// The descriptor, for `pnet_datalink::Config::socket_fd`. pnet owns
    /// and closes it from then on; [`PacketSocket::stats`] may be called
    /// only while pnet's channel is alive.
    pub fn raw_fd(&self) -> RawFd {
        self.fd
    }

    /// Reads and resets the kernel's counters for this socket.
    pub fn stats(&self) -> io::Result<KernelStats> {
        kernel_stats(self.fd)
    }
}

/// Bytes in one ring block (a multiple of the page size; a 64 KiB frame fits).
pub const RING_BLOCK: usize = 256 << 10;
/// A block that is not full is handed over after this long, ms.
pub const RING_BLOCK_TIMEOUT_MS: u32 = 10;
/// Nominal frame slot the kernel checks the ring's geometry against.
const RING_FRAME: usize = 2048;

// Offsets in `struct tpacket_block_desc` (version, offset_to_priv, then
// `struct tpacket_hdr_v1`) and in `struct tpacket3_hdr` (linux/if_packet.h).
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
const PKT_NEXT: usize = 0;
const PKT_SEC: usize = 4;
const PKT_NSEC: usize = 8;
const PKT_SNAPLEN: usize = 12;
const PKT_LEN: usize = 16;
const PKT_STATUS: usize = 20;
const PKT_MAC: usize = 24;
const PKT_VLAN_TCI: usize = 32;
const PKT_VLAN_TPID: usize = 36;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// One frame read from the ring.
#[derive(Debug, Clone, Copy)]
pub struct RingFrame<'a> {
    /// The kernel's receive time.
    pub ts: Micros,
    /// The captured bytes, from the Ethernet header.
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub wire_len: u32,
    /// An 802.1Q tag the kernel took off the frame: (TPID, TCI).
    pub vlan: Option<(u16, u16)>,
}

/// A TPACKET_V3 receive ring bound to one interface, promiscuous.
#[derive(Debug)]
pub struct Ring {
    fd: OwnedFd,
    map: *mut u8,
    blocks: usize,
    next: usize,
    /// The ring's size, bytes.
    pub size: usize,
}

// SAFETY: the mapping belongs to this value alone (no aliasing pointer
// leaves it); moving it to another thread moves the only access.
unsafe impl Send for Ring {}

impl Ring {
    /// Opens a ring of about `size` bytes on the interface with index
    /// `ifindex`, in promiscuous mode.
    pub fn open(ifindex: u32, size: usize) -> io::Result<Ring> {
        let (fd, _) = raw_socket(1 << 20)?;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &(libc::tpacket_versions::TPACKET_V3 as libc::c_int))?;
        let blocks = (size / RING_BLOCK).clamp(4, 4096);
        let req = libc::tpacket_req3 {
            tp_block_size: RING_BLOCK as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: RING_FRAME as u32,
            tp_frame_nr: (RING_BLOCK / RING_FRAME * blocks) as u32,
            tp_retire_blk_tov: RING_BLOCK_TIMEOUT_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;
        let len = RING_BLOCK * blocks;
        // SAFETY: a fresh shared mapping of the ring the kernel just made
        // for `fd`; nothing else maps it. Checked for MAP_FAILED below.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // From here the mapping is owned by `ring` and unmapped by its Drop.
        let ring = Ring { fd, map: map.cast(), blocks, next: 0, size: len };
        let addr = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: (libc::ETH_P_ALL as u16).to_be(),
            sll_ifindex: ifindex as i32,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 0,
            sll_addr: [0; 8],
        };
        // SAFETY: `addr` is a valid sockaddr_ll for the call's duration and
        // the length given is its size.
        let rc = unsafe {
            libc::bind(
                ring.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let mreq = libc::packet_mreq {
            mr_ifindex: ifindex as i32,
            mr_type: libc::PACKET_MR_PROMISC as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        setsockopt(&ring.fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)?;
        // Frames queued before the bind belong to every interface: not ours.
        let _ = kernel_stats(ring.fd.as_raw_fd());
        Ok(ring)
    }

    /// The status word of block `i`, shared with the kernel.
    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: block `i` < `blocks` lies inside the mapping, the status
        // word is 4-byte aligned (blocks are page-aligned) and lives as long
        // as `self`; the kernel and we only touch it atomically.
        unsafe { &*self.map.add(i * RING_BLOCK + BLOCK_STATUS).cast::<AtomicU32>() }
    }

    /// Waits up to `timeout` for the next block, calls `each` for every frame
    /// in it, then gives the block back to the kernel. Returns the number of
    /// frames (0 when the wait ran out).
    pub fn next_block(&mut self, timeout: Duration, mut each: impl FnMut(RingFrame<'_>)) -> io::Result<usize> {
        let i = self.next;
        if self.status(i).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
            let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN | libc::POLLERR, revents: 0 };
            let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
            // SAFETY: one valid pollfd for the call's duration.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                return if e.kind() == io::ErrorKind::Interrupted { Ok(0) } else { Err(e) };
            }
            if self.status(i).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
                // An error on the socket (the interface went away…) is read,
                // which clears it, and handed to the caller, which waits
                // before trying again rather than spinning on it.
                if pfd.revents & libc::POLLERR != 0 {
                    return Err(match sockopt::socket_error(&self.fd)? {
                        Err(e) => e.into(),
                        Ok(()) => io::Error::other("capture socket error"),
                    });
                }
                return Ok(0);
            }
        }
        // SAFETY: the block is ours until its status goes back to the kernel
        // (below, after the last use of `block`): the kernel does not write
        // a block whose status has TP_STATUS_USER set.
        let block = unsafe { std::slice::from_raw_parts(self.map.add(i * RING_BLOCK), RING_BLOCK) };
        let count = read_block(block, &mut each);
        self.status(i).store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.next = (i + 1) % self.blocks;
        Ok(count)
    }

    /// Reads and resets the kernel's counters for this ring.
    pub fn stats(&self) -> io::Result<KernelStats> {
        kernel_stats(self.fd.as_raw_fd())
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `map` and `size` are what mmap returned and was asked for;
        // no reference into the mapping outlives `self`.
        unsafe {
            libc::munmap(self.map.cast(), self.size);
        }
        // `fd` closes itself.
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Walks the frames of one TPACKET_V3 block. Every offset is checked against
/// the block, so a malformed block ends the walk instead of reading outside.
fn read_block(block: &[u8], each: &mut impl FnMut(RingFrame<'_>)) -> usize {
    let (Some(n), Some(first)) = (u32_at(block, BLOCK_NUM_PKTS), u32_at(block, BLOCK_FIRST_PKT)) else {
        return 0;
    };
    let mut at = first as usize;
    let mut seen = 0;
    for _ in 0..n {
        let Some(hdr) = block.get(at..) else { break };
        let (Some(next), Some(sec), Some(nsec), Some(snap), Some(wire), Some(status), Some(mac)) = (
            u32_at(hdr, PKT_NEXT),
            u32_at(hdr, PKT_SEC),
            u32_at(hdr, PKT_NSEC),
            u32_at(hdr, PKT_SNAPLEN),
            u32_at(hdr, PKT_LEN),
            u32_at(hdr, PKT_STATUS),
            u16_at(hdr, PKT_MAC),
        ) else {
            break;
        };
        let Some(data) = hdr.get(mac as usize..mac as usize + snap as usize) else { break };
        let vlan = (status & libc::TP_STATUS_VLAN_VALID != 0).then(|| {
            let tci = u32_at(hdr, PKT_VLAN_TCI).unwrap_or(0) as u16;
            let tpid = match u16_at(hdr, PKT_VLAN_TPID) {
                Some(t) if status & TP_STATUS_VLAN_TPID_VALID != 0 && t != 0 => t,
                _ => 0x8100,
            };
            (tpid, tci)
        });
        each(RingFrame { ts: u64::from(sec) * 1_000_000 + u64::from(nsec) / 1_000, data, wire_len: wire, vlan });
        seen += 1;
        if next == 0 {
            break;
        }
        at += next as usize;
    }
    seen
}

/// Wraps a descriptor number we own (for tests of the fallback path).
#[cfg(test)]
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: test-only; `fd` was just returned by into_raw_fd and is not used elsewhere.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block as the kernel lays it out, with frames `(sec, nsec, bytes, status, tci)`.
    fn block(frames: &[(u32, u32, &[u8], u32, u32)]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[BLOCK_NUM_PKTS..BLOCK_NUM_PKTS + 4].copy_from_slice(&(frames.len() as u32).to_ne_bytes());
        b[BLOCK_FIRST_PKT..BLOCK_FIRST_PKT + 4].copy_from_slice(&48u32.to_ne_bytes());
        let mut at = 48;
        for (k, (sec, nsec, data, status, tci)) in frames.iter().enumerate() {
            let mac = 68usize;
            let len = (mac + data.len()).div_ceil(16) * 16;
            let next = if k + 1 == frames.len() { 0 } else { len as u32 };
            let put = |b: &mut Vec<u8>, off: usize, v: u32| b[at + off..at + off + 4].copy_from_slice(&v.to_ne_bytes());
            put(&mut b, PKT_NEXT, next);
            put(&mut b, PKT_SEC, *sec);
            put(&mut b, PKT_NSEC, *nsec);
            put(&mut b, PKT_SNAPLEN, data.len() as u32);
            put(&mut b, PKT_LEN, data.len() as u32 + 4);
            put(&mut b, PKT_STATUS, *status);
            put(&mut b, PKT_VLAN_TCI, *tci);
            b[at + PKT_MAC..at + PKT_MAC + 2].copy_from_slice(&(mac as u16).to_ne_bytes());
            b[at + mac..at + mac + data.len()].copy_from_slice(data);
            at += len;
        }
        b
    }

    #[test]
    fn frames_times_and_vlan_tags_come_out_of_a_block() {
        let b = block(&[(10, 5_000, b"first", 1, 0), (11, 2_000_000, b"second!", 1 | libc::TP_STATUS_VLAN_VALID, 42)]);
        let mut got = Vec::new();
        let n = read_block(&b, &mut |f: RingFrame<'_>| got.push((f.ts, f.data.to_vec(), f.wire_len, f.vlan)));
        assert_eq!(n, 2);
        assert_eq!(got[0], (10_000_005, b"first".to_vec(), 9, None));
        assert_eq!(got[1], (11_002_000, b"second!".to_vec(), 11, Some((0x8100, 42))));
    }

    #[test]
    fn a_malformed_block_ends_the_walk_without_reading_outside() {
        let mut b = block(&[(1, 0, b"aaaa", 1, 0), (2, 0, b"bbbb", 1, 0)]);
        // The second frame claims a snap length past the block's end.
        let second = 48 + (68 + 4usize).div_ceil(16) * 16;
        b[second + PKT_SNAPLEN..second + PKT_SNAPLEN + 4].copy_from_slice(&1_000_000u32.to_ne_bytes());
        let mut n = 0;
        assert_eq!(read_block(&b, &mut |_| n += 1), 1);
        // A count larger than the frames present, a first offset past the end.
        b[BLOCK_FIRST_PKT..BLOCK_FIRST_PKT + 4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(read_block(&b, &mut |_| n += 1), 0);
        assert_eq!(read_block(&[0u8; 10], &mut |_| n += 1), 0);
    }

    #[test]
    fn arbitrary_blocks_never_panic() {
        let mut seed = 0x1234_5678_u64;
        for _ in 0..2_000 {
            let mut b = vec![0u8; 512];
            for x in b.iter_mut() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *x = (seed >> 56) as u8;
            }
            // Small counts and offsets so that walks get somewhere.
            b[BLOCK_NUM_PKTS] %= 8;
            b[BLOCK_FIRST_PKT] %= 64;
            read_block(&b, &mut |_| {});
        }
    }

    #[test]
    fn the_fallback_socket_gets_its_buffer_and_counters() {
        let s = PacketSocket::open(4 << 20)
            .unwrap_or_else(|e| panic!("cannot open a packet socket ({e}): the tests need CAP_NET_RAW (run as root)"));
        assert!(s.buffer >= 1 << 20, "granted {}", s.buffer);
        s.stats().expect("the kernel's counters for the socket");
        drop(owned(s.raw_fd()));
    }
}
