//! Fuzz the whole offline pipeline: a sequence of frames of any link type
//! through decoding, reassembly, SIP tracking, the GoIP control plane and
//! scoring. Nothing may panic, whatever the bytes.
#![no_main]

use duanka_probe::analyze::Analyzer;
use duanka_probe::capture::Frame;
use duanka_probe::detect::SignatureDb;
use duanka_probe::dissect::layers::LinkType;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Compiling the signature patterns once, not per input, keeps the fuzzer fast.
static DB: OnceLock<SignatureDb> = OnceLock::new();

const LINKS: [u32; 7] = [1, 113, 276, 101, 228, 229, 0];

fuzz_target!(|data: &[u8]| {
    let db = DB.get_or_init(SignatureDb::builtin);
    let mut a = Analyzer::new(db);
    a.begin_file("fuzz", "pcap", data.len() as u64);
    // Frames are separated by a 2-byte length; the first byte picks the link type.
    let Some((&pick, mut rest)) = data.split_first() else { return };
    let link = LinkType::from_number(LINKS[usize::from(pick) % LINKS.len()]);
    let mut number = 0;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let frame = &rest[2..2 + len];
        rest = &rest[2 + len..];
        number += 1;
        a.frame(&Frame { number, ts: number * 3_000_000, link, data: frame, orig_len: len as u32 });
    }
    let _ = a.report();
});
