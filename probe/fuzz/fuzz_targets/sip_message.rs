//! Fuzzes the SIP parser: `parse_message`, `frame_stream`, `looks_like_sip`
//! and every accessor of a parsed message must never panic, and every value
//! they return must lie inside the input.

#![no_main]

use duanka_probe::dissect::sip::{frame_stream, looks_like_sip, parse_message, Framing, Message};
use libfuzzer_sys::fuzz_target;

fn touch(m: &Message<'_>, input: &[u8]) {
    assert!(m.len <= input.len());
    assert_eq!(m.offset_of(m.body), Some(m.body_offset));
    for h in &m.headers {
        assert_eq!(m.offset_of(h.value), Some(h.value_offset));
        assert_eq!(m.offset_of(h.raw_value).map(|_| ()), Some(()));
    }
    let _ = (m.call_id(), m.cseq(), m.from(), m.to(), m.expires(), m.max_forwards());
    let _ = (m.user_agent(), m.server(), m.content_length(), m.content_type());
    let _ = (m.auth_realm(), m.status(), m.reason(), m.method(), m.request_uri());
    for v in m.vias() {
        assert!(m.offset_of(v.raw).is_some());
        let _ = (v.ip(), v.params().count());
    }
    for c in m.contacts() {
        if let duanka_probe::dissect::sip::Contact::Addr { addr, .. } = c {
            let _ = (addr.params().count(), addr.uri.params().count(), addr.uri.ip());
        }
    }
    let _ = m.allow().count();
    let _ = m.headers_named(b"X-ACrypt").count();
    if let Some(Ok(s)) = m.sdp() {
        for media in &s.media {
            let _ = media.codec_names().count();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let looks = looks_like_sip(data);
    if let Ok(m) = parse_message(data) {
        touch(&m, data);
        // Anything that parses starts like SIP.
        assert!(looks, "parsed but looks_like_sip said no");
    }
    if let Framing::Complete(n) = frame_stream(data) {
        assert!(n <= data.len());
        if let Ok(m) = parse_message(&data[..n]) {
            touch(&m, &data[..n]);
        }
    }
});
