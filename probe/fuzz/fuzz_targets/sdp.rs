//! Fuzzes the SDP parser: `sdp::parse` and the media accessors must never
//! panic.

#![no_main]

use duanka_probe::dissect::sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = sdp::parse(data) {
        if let Some(c) = s.connection {
            let _ = c.ip();
        }
        for media in &s.media {
            let _ = media.codec_names().count();
            let _ = media.is_rtp();
            for f in &media.formats {
                let _ = f.first().and_then(|&b| media.rtpmap(b));
            }
            assert!(media.formats.len() <= sdp::MAX_FORMATS);
        }
        assert!(s.media.len() <= sdp::MAX_MEDIA);
    }
});
