//! SIP and SDP parser conformance: the RFC 4475 and RFC 5118 torture tests
//! (verdicts from their `INDEX.tsv`), values parsed out of them, what the
//! lenient parser makes of the invalid ones and of messages real devices
//! send, and property tests that no input makes the parsers panic or the
//! two parsers disagree.
//!
//! Fixtures live in `tests/data/` (see its README for their origin); the
//! real-device messages of `mod lenient` are written out below.

use std::path::PathBuf;

use duanka_probe::dissect::sdp;
use duanka_probe::dissect::sip::{
    frame_stream, looks_like_sip, parse_message, parse_message_lenient, Contact, ErrorKind, Framing, HeaderName,
    Lenient, Message, Method, StartLine,
};

/// One row of an `INDEX.tsv`.
struct Case {
    file: String,
    section: String,
    valid: bool,
    bytes: Vec<u8>,
}

fn data_dir(corpus: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(corpus)
}

/// Reads a corpus's `INDEX.tsv` and every file it lists.
fn corpus(name: &str) -> Vec<Case> {
    let dir = data_dir(name);
    let index = dir.join("INDEX.tsv");
    let text = std::fs::read_to_string(&index).unwrap_or_else(|e| panic!("missing fixture {}: {e}", index.display()));
    let cases: Vec<Case> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(cols.len() >= 3, "malformed INDEX.tsv row: {line}");
            let path = dir.join(cols[0]);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
            let valid = match cols[2] {
                "valid" => true,
                "invalid" => false,
                other => panic!("unknown verdict {other} for {}", cols[0]),
            };
            Case { file: cols[0].to_string(), section: cols[1].to_string(), valid, bytes }
        })
        .collect();
    assert!(!cases.is_empty(), "{} lists no files", index.display());
    cases
}

fn load(corpus_name: &str, file: &str) -> Vec<u8> {
    let path = data_dir(corpus_name).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()))
}

fn parse<'a>(file: &str, bytes: &'a [u8]) -> Message<'a> {
    parse_message(bytes).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The error kind (and header, where the fault is in one) expected for each
/// invalid message.
const EXPECTED_ERRORS: &[(&str, ErrorKind, Option<HeaderName>)] = &[
    ("badinv01.dat", ErrorKind::HeaderValue, Some(HeaderName::Via)),
    ("clerr.dat", ErrorKind::ContentLength, Some(HeaderName::ContentLength)),
    ("ncl.dat", ErrorKind::ContentLength, Some(HeaderName::ContentLength)),
    ("scalar02.dat", ErrorKind::HeaderValue, Some(HeaderName::CSeq)),
    ("scalarlg.dat", ErrorKind::HeaderValue, Some(HeaderName::CSeq)),
    ("quotbal.dat", ErrorKind::HeaderValue, Some(HeaderName::To)),
    ("ltgtruri.dat", ErrorKind::RequestUri, None),
    ("lwsruri.dat", ErrorKind::RequestUri, None),
    ("lwsstart.dat", ErrorKind::StartLine, None),
    ("trws.dat", ErrorKind::StartLine, None),
    ("escruri.dat", ErrorKind::RequestUri, None),
    ("baddate.dat", ErrorKind::HeaderValue, Some(HeaderName::Date)),
    ("regbadct.dat", ErrorKind::HeaderValue, Some(HeaderName::Contact)),
    ("badaspec.dat", ErrorKind::HeaderValue, Some(HeaderName::To)),
    // Its archive copy lacks the empty line ending the header section; the
    // display-name fault in From is found first, before the end is reached.
    ("baddn.dat", ErrorKind::HeaderValue, Some(HeaderName::From)),
    ("badvers.dat", ErrorKind::Version, None),
    ("mismatch01.dat", ErrorKind::CSeqMismatch, Some(HeaderName::CSeq)),
    ("mismatch02.dat", ErrorKind::CSeqMismatch, Some(HeaderName::CSeq)),
    ("bigcode.dat", ErrorKind::StatusCode, None),
    ("insuf.dat", ErrorKind::MissingHeader, None),
    ("multi01.dat", ErrorKind::DuplicateHeader, Some(HeaderName::CSeq)),
    ("mcl01.dat", ErrorKind::ContentLength, Some(HeaderName::ContentLength)),
    ("ipv6-bad.dat", ErrorKind::RequestUri, None),
];

/// Checks every message of a corpus against its verdict; returns how many
/// were checked.
fn check_verdicts(name: &str) -> usize {
    let cases = corpus(name);
    for case in &cases {
        let result = parse_message(&case.bytes);
        if case.valid {
            let m = result.unwrap_or_else(|e| panic!("{name}/{} ({}) must parse: {e}", case.file, case.section));
            if let Some(sdp) = m.sdp() {
                let s = sdp.unwrap_or_else(|e| panic!("{name}/{} SDP must parse: {e}", case.file));
                assert!(!s.media.is_empty(), "{}: SDP without media", case.file);
            }
            // The stream framer agrees where the message says how long it is.
            if m.content_length().is_some() {
                assert_eq!(frame_stream(&case.bytes), Framing::Complete(m.len), "{}", case.file);
            }
            println!("{name}/{:<34} valid    ok", case.file);
        } else {
            let e = match result {
                Ok(_) => panic!("{name}/{} ({}) must be rejected", case.file, case.section),
                Err(e) => e,
            };
            assert!(!e.reason().is_empty(), "{}: empty reason", case.file);
            assert!(e.offset <= case.bytes.len(), "{}: offset past the end", case.file);
            let Some(&(_, kind, header)) = EXPECTED_ERRORS.iter().find(|(f, ..)| *f == case.file) else {
                panic!("{}: no expected error kind in the table (got {:?}: {e})", case.file, e.kind);
            };
            assert_eq!((e.kind, e.header), (kind, header), "{}: {e}", case.file);
            println!("{name}/{:<34} invalid  {}: {e}", case.file, e.kind.name());
        }
    }
    cases.len()
}

/// Checks the contract between [`parse_message`] and
/// [`parse_message_lenient`] on one input, and returns the lenient result:
/// - strict success: lenient success with no faults and an equal message;
/// - strict failure of a fatal kind: the same failure;
/// - strict failure of a recordable kind: lenient success whose first fault
///   is that very error, or a failure of a fatal kind found further on
///   (e.g. RFC 4475 `baddn.dat`, whose header section never ends);
/// - every fault recordable, inside the input, with a reason.
fn check_lenient(input: &[u8]) -> Result<Lenient<'_>, ErrorKind> {
    let strict = parse_message(input);
    let lenient = parse_message_lenient(input);
    match (&strict, &lenient) {
        (Ok(m), Ok(l)) => {
            assert!(l.faults.is_empty(), "faults on a valid message: {:?}", l.faults);
            assert_eq!(&l.message, m);
        }
        (Ok(_), Err(e)) => panic!("lenient parse fails where the strict one succeeds: {e}"),
        (Err(e), Ok(l)) => {
            assert!(e.kind.is_recordable(), "lenient parse goes past a fatal fault: {e}");
            assert_eq!(l.faults.first(), Some(e));
        }
        (Err(e), Err(le)) => {
            assert!(!le.kind.is_recordable(), "lenient parse fails on a recordable fault: {le}");
            if !e.kind.is_recordable() {
                assert_eq!(le, e);
            }
        }
    }
    if let Ok(l) = &lenient {
        for f in &l.faults {
            assert!(f.kind.is_recordable(), "{f}");
            assert!(f.offset <= input.len(), "{f}");
            assert!(!f.reason().is_empty());
        }
    }
    lenient.map_err(|e| e.kind)
}

mod rfc4475 {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(check_verdicts("rfc4475"), 49);
    }

    #[test]
    fn wsinv_values() {
        let bytes = load("rfc4475", "wsinv.dat");
        let m = parse("wsinv", &bytes);
        assert_eq!(m.call_id(), Some(&b"wsinv.ndaksdj@192.0.2.1"[..]));
        let cseq = m.cseq().unwrap();
        assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
        assert_eq!(m.max_forwards(), Some(68));
        let subject = m.headers_named(b"Subject").next().unwrap();
        assert_eq!((subject.name, subject.value), (&b"s"[..], &b""[..]));
        let to = m.to().unwrap();
        assert_eq!(to.uri.host, b"chair-dnrc.example.com");
        assert_eq!(to.tag, Some(&b"1918181833n"[..]));
        let from = m.from().unwrap();
        assert_eq!(from.display, Some(&br#"J Rosenberg \\\""#[..]));
        assert_eq!(from.tag, Some(&b"98asjd8"[..]));
        let folded = m.headers_named(b"NewFangledHeader").next().unwrap();
        assert_eq!(folded.value, b"newfangled value\r\n continued newfangled value");
        let vias: Vec<_> = m.vias().map(|v| (v.transport, v.host, v.branch)).collect();
        assert_eq!(
            vias,
            [
                (&b"UDP"[..], &b"192.0.2.2"[..], Some(&b"390skdjuw"[..])),
                (b"TCP", b"spindle.example.com", Some(b"z9hG4bK9ikj8")),
                (b"UDP", b"192.168.255.111", Some(b"z9hG4bK30239")),
            ]
        );
        let contacts: Vec<_> = m.contacts().collect();
        assert_eq!(contacts.len(), 1);
        let Contact::Addr { addr, .. } = contacts[0] else { panic!("not an address") };
        assert_eq!(addr.display, Some(&br#"Quoted string \"\""#[..]));
        assert_eq!(addr.param(b"q"), Some(Some(&b"0.33"[..])));
        assert_eq!((m.content_length(), m.body.len()), (Some(150), 150));
        let sdp = m.sdp().unwrap().unwrap();
        assert_eq!(sdp.media.len(), 2);
        assert_eq!(sdp.media[1].codec_names().collect::<Vec<_>>(), [&b"LPC"[..]]);
    }

    #[test]
    fn unusual_characters() {
        let bytes = load("rfc4475", "intmeth.dat");
        let m = parse("intmeth", &bytes);
        let method = b"!interesting-Method0123456789_*+`.%indeed'~";
        assert_eq!(m.method(), Some(&Method::Unknown(method)));
        assert_eq!(m.cseq().unwrap().method, Method::Unknown(method));
        let to = m.to().unwrap();
        assert_eq!(to.display, Some(&b"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f"[..]));
        let ext = m.headers_named(b"extensionHeader-!.%*+_`'~").next().unwrap();
        assert_eq!(ext.value, "\u{feff}\u{5927}\u{505c}\u{96fb}".as_bytes());
        assert_eq!(m.request_uri().unwrap().password, Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..]));

        let bytes = load("rfc4475", "esc02.dat");
        let m = parse("esc02", &bytes);
        assert_eq!(m.method(), Some(&Method::Unknown(b"RE%47IST%45R")));
        assert_eq!(m.contacts().count(), 2);
        assert_eq!(m.headers_named(b"c%6fntact").count(), 1);

        let bytes = load("rfc4475", "escnull.dat");
        let m = parse("escnull", &bytes);
        let users: Vec<_> = m
            .contacts()
            .map(|c| match c {
                Contact::Addr { addr, .. } => addr.uri.user.unwrap(),
                Contact::Star => panic!("star"),
            })
            .collect();
        assert_eq!(users, [&b"%00"[..], b"%00%00"]);
        assert_eq!(m.to().unwrap().uri.user, Some(&b"null-%00-null"[..]));

        let bytes = load("rfc4475", "esc01.dat");
        let m = parse("esc01", &bytes);
        assert_eq!(m.request_uri().unwrap().user, Some(&b"sips%3Auser%40example.com"[..]));
        assert_eq!(m.content_type(), Some(&b"application/sdp"[..]));

        let bytes = load("rfc4475", "semiuri.dat");
        let m = parse("semiuri", &bytes);
        let uri = m.request_uri().unwrap();
        assert_eq!((uri.user, uri.host), (Some(&b"user;par=u%40example.net"[..]), &b"example.com"[..]));

        let bytes = load("rfc4475", "lwsdisp.dat");
        assert_eq!(parse("lwsdisp", &bytes).from().unwrap().display, Some(&b"caller"[..]));
    }

    #[test]
    fn framing_values() {
        let bytes = load("rfc4475", "dblreq.dat");
        let m = parse("dblreq", &bytes);
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(m.len, end);
        assert!(m.body.is_empty());
        assert_eq!(m.method(), Some(&Method::Register));
        assert!(bytes[m.len..].windows(6).any(|w| w == b"INVITE"));
        assert_eq!(frame_stream(&bytes), Framing::Complete(end));

        let bytes = load("rfc4475", "mpart01.dat");
        let m = parse("mpart01", &bytes);
        assert_eq!(m.body.len(), 553);
        assert!(m.body.contains(&0));
        assert_eq!(m.content_type(), Some(&b"multipart/mixed"[..]));
        assert_eq!(m.vias().next().unwrap().rport, Some(None));

        let bytes = load("rfc4475", "inv2543.dat");
        let m = parse("inv2543", &bytes);
        assert_eq!(m.content_length(), None);
        assert_eq!(m.len, bytes.len());
        assert!(m.body.starts_with(b"v=0"));
        assert_eq!(m.vias().next().unwrap().branch, None);
        assert_eq!(m.from().unwrap().tag, None);
        assert_eq!(m.max_forwards(), None);

        let bytes = load("rfc4475", "longreq.dat");
        let m = parse("longreq", &bytes);
        assert_eq!(m.vias().count(), 34);
        assert_eq!(m.vias().nth(33).unwrap().received, Some(&b"192.0.2.5"[..]));
        assert_eq!(m.to().unwrap().uri.port, Some(6000));
    }

    #[test]
    fn transports_and_responses() {
        let bytes = load("rfc4475", "transports.dat");
        let m = parse("transports", &bytes);
        let transports: Vec<_> = m.vias().map(|v| v.transport).collect();
        assert_eq!(transports, [&b"UDP"[..], b"SCTP", b"TLS", b"UNKNOWN", b"TCP"]);

        let bytes = load("rfc4475", "unreason.dat");
        let m = parse("unreason", &bytes);
        let line_end = bytes.iter().position(|&b| b == b'\r').unwrap();
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.start, StartLine::Response { code: 200, reason: &bytes[12..line_end] });
        assert!(std::str::from_utf8(m.reason().unwrap()).unwrap().starts_with("= 2**3 * 5**2 "));

        let bytes = load("rfc4475", "noreason.dat");
        let m = parse("noreason", &bytes);
        assert_eq!((m.status(), m.reason()), (Some(100), Some(&b""[..])));

        let bytes = load("rfc4475", "bcast.dat");
        let m = parse("bcast", &bytes);
        assert_eq!(m.vias().nth(1).unwrap().host, b"255.255.255.255");

        let bytes = load("rfc4475", "badbranch.dat");
        assert_eq!(parse("badbranch", &bytes).vias().next().unwrap().branch, Some(&b"z9hG4bK"[..]));

        let bytes = load("rfc4475", "zeromf.dat");
        assert_eq!(parse("zeromf", &bytes).max_forwards(), Some(0));
    }

    #[test]
    fn uri_schemes_and_contacts() {
        let bytes = load("rfc4475", "unkscm.dat");
        let m = parse("unkscm", &bytes);
        assert_eq!(m.request_uri().unwrap().scheme, b"nobodyKnowsThisScheme");

        let bytes = load("rfc4475", "novelsc.dat");
        let uri = *parse("novelsc", &bytes).request_uri().unwrap();
        assert_eq!((uri.scheme, uri.host, uri.port), (&b"soap.beep"[..], &b"192.0.2.103"[..], Some(3002)));

        let bytes = load("rfc4475", "unksm2.dat");
        let m = parse("unksm2", &bytes);
        assert_eq!(m.to().unwrap().uri.scheme, b"isbn");
        assert_eq!(m.from().unwrap().uri.scheme, b"http");
        let Some(Contact::Addr { addr, .. }) = m.contacts().next() else { panic!("no contact") };
        assert_eq!(addr.uri.raw, b"name:John_Smith");

        let bytes = load("rfc4475", "regescrt.dat");
        let Some(Contact::Addr { addr, .. }) = parse("regescrt", &bytes).contacts().next() else {
            panic!("no contact")
        };
        assert_eq!(addr.uri.headers, Some(&b"Route=%3Csip:sip.example.com%3E"[..]));

        let bytes = load("rfc4475", "cparam01.dat");
        let Some(Contact::Addr { addr, .. }) = parse("cparam01", &bytes).contacts().next() else {
            panic!("no contact")
        };
        assert_eq!((addr.uri.params, addr.params), (&b""[..], &b"unknownparam"[..]));

        let bytes = load("rfc4475", "cparam02.dat");
        let Some(Contact::Addr { addr, .. }) = parse("cparam02", &bytes).contacts().next() else {
            panic!("no contact")
        };
        assert_eq!((addr.uri.params, addr.params), (&b"unknownparam"[..], &b""[..]));

        let bytes = load("rfc4475", "regaut01.dat");
        let m = parse("regaut01", &bytes);
        assert_eq!(m.content_length(), Some(0));
        assert_eq!(m.auth_realm(), None);
    }

    #[test]
    fn error_reasons_name_the_fault() {
        let cases: [(&str, &str); 4] = [
            ("mismatch01.dat", "CSeq method INVITE does not match request method OPTIONS"),
            ("insuf.dat", "request lacks Call-ID, From, To"),
            ("mcl01.dat", "conflicting Content-Length values 13 and 5"),
            ("baddn.dat", "character not allowed in an unquoted display name"),
        ];
        for (file, reason) in cases {
            let e = parse_message(&load("rfc4475", file)).unwrap_err();
            assert_eq!(e.reason(), reason, "{file}");
        }
    }
}

mod rfc5118 {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(check_verdicts("rfc5118"), 12);
    }

    #[test]
    fn ipv6_hosts_and_ports() {
        let uri_of = |file: &str| {
            let bytes = load("rfc5118", file);
            let m = parse(file, &bytes);
            let uri = m.request_uri().unwrap();
            (uri.host.to_vec(), uri.port)
        };
        assert_eq!(uri_of("ipv6-good.dat"), (b"[2001:db8::10]".to_vec(), None));
        assert_eq!(uri_of("port-unambiguous.dat"), (b"[2001:db8::10]".to_vec(), Some(5070)));
        assert_eq!(uri_of("port-ambiguous.dat"), (b"[2001:db8::10:5070]".to_vec(), None));
        assert_eq!(uri_of("ipv6-bug-abnf-3-colons.dat"), (b"[2001:db8:::192.0.2.1]".to_vec(), None));
        assert_eq!(uri_of("ipv6-correct-abnf-2-colons.dat"), (b"[2001:db8::192.0.2.1]".to_vec(), None));

        let bytes = load("rfc5118", "ipv6-good.dat");
        let m = parse("ipv6-good", &bytes);
        assert_eq!(m.request_uri().unwrap().ip(), Some("2001:db8::10".parse().unwrap()));
    }

    #[test]
    fn via_values() {
        let received = |file: &str| {
            let bytes = load("rfc5118", file);
            let m = parse(file, &bytes);
            let via = m.vias().next().unwrap();
            via.received.unwrap().to_vec()
        };
        assert_eq!(received("via-received-param-with-delim.dat"), b"[2001:db8::9:255]");
        assert_eq!(received("via-received-param-no-delim.dat"), b"2001:db8::9:255");

        let bytes = load("rfc5118", "mult-ip-in-header.dat");
        let m = parse("mult-ip-in-header", &bytes);
        let vias: Vec<_> = m.vias().map(|v| (v.host, v.port, v.received)).collect();
        assert_eq!(
            vias,
            [
                (&b"[2001:db8::9:1]"[..], Some(6050), None),
                (b"192.0.2.1", None, None),
                (b"[2001:db8::9:255]", None, Some(&b"192.0.2.200"[..])),
            ]
        );

        let bytes = load("rfc5118", "ipv4-mapped-ipv6.dat");
        let m = parse("ipv4-mapped-ipv6", &bytes);
        let via = m.vias().next().unwrap();
        assert_eq!((via.host, via.port), (&b"[::ffff:192.0.2.10]"[..], Some(19823)));
        let sdp = m.sdp().unwrap().unwrap();
        assert_eq!(sdp.connection.unwrap().address, b"::ffff:192.0.2.2");
    }

    #[test]
    fn sdp_addresses() {
        let bytes = load("rfc5118", "mult-ip-in-sdp.dat");
        let m = parse("mult-ip-in-sdp", &bytes);
        let s = m.sdp().unwrap().unwrap();
        assert_eq!(s.connection, None);
        let per_media: Vec<_> = s
            .media
            .iter()
            .map(|md| {
                let c = md.connection.unwrap();
                (c.addrtype, c.address)
            })
            .collect();
        assert_eq!(per_media, [(&b"IP4"[..], &b"192.0.2.1"[..]), (b"IP6", b"2001:db8::1")]);

        let bytes = load("rfc5118", "ipv6-in-sdp.dat");
        let m = parse("ipv6-in-sdp", &bytes);
        let s = m.sdp().unwrap().unwrap();
        let o = s.origin.unwrap();
        assert_eq!((o.addrtype, o.address), (&b"IP6"[..], &b"2001:db8::20"[..]));
        assert_eq!(s.connection.unwrap().ip(), Some("2001:db8::20".parse().unwrap()));
        assert_eq!(s.media[0].codec_names().collect::<Vec<_>>(), [&b"G726-32"[..]]);
    }
}

mod lenient {
    use super::*;

    /// What the lenient parser makes of an invalid corpus message.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Outcome {
        /// Read, with faults of these kinds, in order.
        Read(&'static [ErrorKind]),
        /// Still refused.
        Fatal(ErrorKind),
    }

    use ErrorKind::{
        CSeqMismatch, ContentLength, DuplicateHeader, HeaderValue, Incomplete, MissingHeader, RequestUri, StatusCode,
        Version,
    };
    use Outcome::{Fatal, Read};

    /// Every invalid message of RFC 4475 and RFC 5118.
    const OUTCOMES: &[(&str, Outcome)] = &[
        // Stray `;` and `,` in Via and Contact.
        ("badinv01.dat", Read(&[HeaderValue, HeaderValue])),
        // Content-Length 9999 over a 154-octet body.
        ("clerr.dat", Fatal(ContentLength)),
        ("ncl.dat", Fatal(ContentLength)),
        // CSeq and Max-Forwards too large.
        ("scalar02.dat", Read(&[HeaderValue, HeaderValue])),
        // CSeq, Retry-After too large, four-digit warn-code.
        ("scalarlg.dat", Read(&[HeaderValue, HeaderValue, HeaderValue])),
        ("quotbal.dat", Read(&[HeaderValue])),
        ("ltgtruri.dat", Read(&[RequestUri])),
        ("lwsruri.dat", Read(&[RequestUri])),
        // Extra SP between, and after, the request-line elements.
        ("lwsstart.dat", Fatal(ErrorKind::StartLine)),
        ("trws.dat", Fatal(ErrorKind::StartLine)),
        ("escruri.dat", Read(&[RequestUri])),
        ("baddate.dat", Read(&[HeaderValue])),
        ("regbadct.dat", Read(&[HeaderValue])),
        ("badaspec.dat", Read(&[HeaderValue])),
        // From and To are read, but the archive copy has no empty line
        // ending the header section.
        ("baddn.dat", Fatal(Incomplete)),
        ("badvers.dat", Read(&[Version])),
        ("mismatch01.dat", Read(&[CSeqMismatch])),
        ("mismatch02.dat", Read(&[CSeqMismatch])),
        ("bigcode.dat", Fatal(StatusCode)),
        ("insuf.dat", Read(&[MissingHeader])),
        // CSeq, Call-ID, To, From and Max-Forwards repeated.
        ("multi01.dat", Read(&[DuplicateHeader; 5])),
        // Two Content-Length values.
        ("mcl01.dat", Fatal(ContentLength)),
        ("ipv6-bad.dat", Read(&[RequestUri])),
    ];

    #[test]
    fn invalid_corpus_messages() {
        let mut seen = 0;
        for name in ["rfc4475", "rfc5118"] {
            for case in corpus(name).into_iter().filter(|c| !c.valid) {
                let Some(&(_, want)) = OUTCOMES.iter().find(|(f, _)| *f == case.file) else {
                    panic!("{name}/{}: no lenient outcome in the table", case.file);
                };
                let got = match check_lenient(&case.bytes) {
                    Ok(l) => Read(l.faults.iter().map(|f| f.kind).collect::<Vec<_>>().leak()),
                    Err(kind) => Fatal(kind),
                };
                assert_eq!(got, want, "{name}/{}", case.file);
                println!("{name}/{:<34} {got:?}", case.file);
                seen += 1;
            }
        }
        assert_eq!(seen, OUTCOMES.len());
    }

    /// The contract of [`check_lenient`] holds on every corpus message,
    /// valid or not, and every valid one is read.
    #[test]
    fn contract_over_corpus() {
        for name in ["rfc4475", "rfc5118"] {
            for case in corpus(name) {
                let result = check_lenient(&case.bytes);
                assert!(result.is_ok() || !case.valid, "{name}/{}: {result:?}", case.file);
            }
        }
    }

    fn read(file: &str) -> Vec<u8> {
        let corpus_name = if file.starts_with("ipv6") { "rfc5118" } else { "rfc4475" };
        load(corpus_name, file)
    }

    fn lenient<'a>(file: &str, bytes: &'a [u8]) -> Message<'a> {
        parse_message_lenient(bytes).unwrap_or_else(|e| panic!("{file}: {e}")).message
    }

    /// What the accessors read from the faulty parts of invalid messages.
    #[test]
    fn values_after_faults() {
        let bytes = read("ipv6-bad.dat");
        let uri = *lenient("ipv6-bad", &bytes).request_uri().unwrap();
        assert_eq!((uri.host, uri.port), (&b"2001:db8::10"[..], None));
        assert_eq!(uri.ip(), Some("2001:db8::10".parse().unwrap()));

        let bytes = read("ltgtruri.dat");
        let m = lenient("ltgtruri", &bytes);
        assert_eq!(m.request_uri().unwrap().raw, b"sip:user@example.com");
        assert!(matches!(m.start, StartLine::Request { uri_raw: b"<sip:user@example.com>", .. }));

        let bytes = read("escruri.dat");
        let uri = *lenient("escruri", &bytes).request_uri().unwrap();
        assert_eq!(uri.headers, Some(&b"Route=%3Csip:example.com%3E"[..]));

        let bytes = read("badinv01.dat");
        let m = lenient("badinv01", &bytes);
        assert_eq!(m.vias().map(|v| v.host).collect::<Vec<_>>(), [&b"192.0.2.15"[..]]);
        let Some(Contact::Addr { addr, .. }) = m.contacts().next() else { panic!("no contact") };
        assert_eq!((addr.display, addr.uri.host), (Some(&b"Joe"[..]), &b"example.org"[..]));

        let bytes = read("scalar02.dat");
        let m = lenient("scalar02", &bytes);
        assert_eq!((m.cseq(), m.max_forwards(), m.expires()), (None, None, Some(u32::MAX)));

        let bytes = read("quotbal.dat");
        let to = lenient("quotbal", &bytes).to().unwrap();
        assert_eq!((to.display, to.uri.user), (Some(&b"Mr. J. User"[..]), Some(&b"j.user"[..])));

        let bytes = read("badaspec.dat");
        let to = lenient("badaspec", &bytes).to().unwrap();
        assert_eq!((to.display, to.uri.host), (Some(&b"Watson, Thomas"[..]), &b"example.org"[..]));

        let bytes = read("regbadct.dat");
        let Some(Contact::Addr { addr, .. }) = lenient("regbadct", &bytes).contacts().next() else {
            panic!("no contact")
        };
        assert_eq!(addr.uri.headers, Some(&b"Route=%3Csip:sip.example.com%3E"[..]));

        let bytes = read("mismatch02.dat");
        let m = lenient("mismatch02", &bytes);
        assert_eq!(m.method(), Some(&Method::Unknown(b"NEWMETHOD")));
        assert_eq!(m.cseq().unwrap().method, Method::Invite);

        let bytes = read("insuf.dat");
        let m = lenient("insuf", &bytes);
        assert_eq!((m.call_id(), m.from(), m.to()), (None, None, None));
        assert_eq!(m.vias().next().unwrap().branch, Some(&b"z9hG4bKkdj.insuf"[..]));

        // The first of each repeated header is the one read.
        let bytes = read("multi01.dat");
        let m = lenient("multi01", &bytes);
        assert_eq!(m.call_id(), Some(&b"multi01.98asdh@192.0.2.1"[..]));
        assert_eq!(m.cseq().unwrap().seq, 5);
        assert_eq!(m.to().unwrap().uri.host, b"example.com");
        assert_eq!(m.from().unwrap().tag, Some(&b"3413415"[..]));
        assert_eq!(m.max_forwards(), Some(70));
        assert_eq!(m.contacts().count(), 2);
        assert_eq!(m.headers_named(b"To").count(), 2);
    }

    /// An IPv6 desk phone's INVITE, written by us around the lines a public
    /// capture shows such a phone sending: SIP URIs with an unbracketed IPv6
    /// host and a port in the Request-URI and Contact (RFC 5118 4.2 says they
    /// must be bracketed). Via, From and To are written the same way, as a
    /// phone that gets it wrong there would.
    const IPV6_PHONE_INVITE: &[u8] = b"INVITE sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0:5060;branch=z9hG4bK-d8754z-6f1c2a3b;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:9876@fe80:0:0:0:21a:a0ff:fe07:32e0:5060>\r\n\
To: <sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060>\r\n\
From: \"9876\" <sip:9876@fec0:0:0:0:216:d3ff:fe0d:22c:5060>;tag=5f2e1a9c\r\n\
Call-ID: 3c26ab9b5e8f-ipv6@fe80:0:0:0:21a:a0ff:fe07:32e0\r\n\
CSeq: 1 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 175\r\n\
\r\n\
v=0\r\n\
o=9876 8000 8000 IN IP6 fe80::21a:a0ff:fe07:32e0\r\n\
s=SIP Call\r\n\
c=IN IP6 fe80::21a:a0ff:fe07:32e0\r\n\
t=0 0\r\n\
m=audio 16384 RTP/AVP 0 8 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

    /// A PBX's 200 OK to an INVITE, written by us around the To line an
    /// Alcatel PBX sends in a public capture: its tag holds `&`, which is
    /// not a token character (RFC 3261 25.1 `tag-param = "tag" EQUAL token`).
    const PBX_200_OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-5af571e;received=192.0.2.10\r\n\
From: <sip:1001@192.0.2.20>;tag=b3c4d5e6\r\n\
To: <sip:2002@192.0.2.20>;tag=00E4EF38-7D1C-4B9E-z9hG4bK-5af571e&Sy\r\n\
Call-ID: 8a1f0c2e@192.0.2.10\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:2002@192.0.2.20:5060>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 92\r\n\
\r\n\
v=0\r\n\
o=PBX 1 1 IN IP4 192.0.2.20\r\n\
s=-\r\n\
c=IN IP4 192.0.2.20\r\n\
t=0 0\r\n\
m=audio 32000 RTP/AVP 8\r\n";

    /// The same PBX hanging up that call: its tag is now in From.
    const PBX_BYE: &[u8] = b"BYE sip:1001@192.0.2.10:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-pbx-2\r\n\
Max-Forwards: 70\r\n\
From: <sip:2002@192.0.2.20>;tag=00E4EF38-7D1C-4B9E-z9hG4bK-5af571e&Sy\r\n\
To: <sip:1001@192.0.2.20>;tag=b3c4d5e6\r\n\
Call-ID: 8a1f0c2e@192.0.2.10\r\n\
CSeq: 2 BYE\r\n\
Content-Length: 0\r\n\
\r\n";

    #[test]
    fn ipv6_phone_without_brackets() {
        let e = parse_message(IPV6_PHONE_INVITE).unwrap_err();
        assert_eq!((e.kind, e.reason()), (RequestUri, "unexpected character in SIP URI"));
        let l = check_lenient(IPV6_PHONE_INVITE).unwrap();
        let faults: Vec<_> = l.faults.iter().map(|f| (f.kind, f.header)).collect();
        assert_eq!(
            faults,
            [
                (RequestUri, None),
                (HeaderValue, Some(HeaderName::Via)),
                (HeaderValue, Some(HeaderName::Contact)),
                (HeaderValue, Some(HeaderName::To)),
                (HeaderValue, Some(HeaderName::From)),
            ]
        );
        let m = &l.message;
        assert_eq!(m.len, IPV6_PHONE_INVITE.len());
        let uri = m.request_uri().unwrap();
        assert_eq!(
            (uri.user, uri.host, uri.port),
            (Some(&b"4321"[..]), &b"fec0:0:0:0:216:d3ff:fe0d:22c"[..], Some(5060))
        );
        assert_eq!(uri.ip(), Some("fec0::216:d3ff:fe0d:22c".parse().unwrap()));
        let via = m.vias().next().unwrap();
        assert_eq!((via.host, via.port, via.rport), (&b"fe80:0:0:0:21a:a0ff:fe07:32e0"[..], Some(5060), Some(None)));
        assert_eq!(via.branch, Some(&b"z9hG4bK-d8754z-6f1c2a3b"[..]));
        let Some(Contact::Addr { addr, .. }) = m.contacts().next() else { panic!("no contact") };
        assert_eq!((addr.uri.user, addr.uri.port), (Some(&b"9876"[..]), Some(5060)));
        assert_eq!(addr.uri.ip(), Some("fe80::21a:a0ff:fe07:32e0".parse().unwrap()));
        let from = m.from().unwrap();
        assert_eq!((from.display, from.tag), (Some(&b"9876"[..]), Some(&b"5f2e1a9c"[..])));
        assert_eq!(m.to().unwrap().uri.user, Some(&b"4321"[..]));
        assert_eq!(
            (m.call_id(), m.cseq().map(|c| c.seq)),
            (Some(&b"3c26ab9b5e8f-ipv6@fe80:0:0:0:21a:a0ff:fe07:32e0"[..]), Some(1))
        );
        assert_eq!(m.allow().count(), 7);
        let sdp = m.sdp().unwrap().unwrap();
        assert_eq!(sdp.connection.unwrap().ip(), Some("fe80::21a:a0ff:fe07:32e0".parse().unwrap()));
    }

    #[test]
    fn pbx_tag_with_ampersand() {
        const TAG: &[u8] = b"00E4EF38-7D1C-4B9E-z9hG4bK-5af571e&Sy";
        let e = parse_message(PBX_200_OK).unwrap_err();
        assert_eq!(e.to_string(), format!("To: unexpected character after the value (at byte {})", e.offset));
        assert_eq!(PBX_200_OK[e.offset], b'&');
        let l = check_lenient(PBX_200_OK).unwrap();
        assert_eq!(l.faults, [e]);
        let m = &l.message;
        assert_eq!(
            (m.status(), m.to().unwrap().tag, m.from().unwrap().tag),
            (Some(200), Some(TAG), Some(&b"b3c4d5e6"[..]))
        );
        assert_eq!(m.to().unwrap().param(b"tag"), Some(Some(TAG)));
        assert_eq!(m.sdp().unwrap().unwrap().media.len(), 1);

        let l = check_lenient(PBX_BYE).unwrap();
        let faults: Vec<_> = l.faults.iter().map(|f| (f.kind, f.header)).collect();
        assert_eq!(faults, [(HeaderValue, Some(HeaderName::From))]);
        assert_eq!(l.message.from().unwrap().tag, Some(TAG));
        assert_eq!(l.message.call_id(), Some(&b"8a1f0c2e@192.0.2.10"[..]));
    }

    /// Every message the lenient parser reads, corpus and real-device ones.
    pub(super) fn lenient_messages() -> Vec<Vec<u8>> {
        let mut all: Vec<Vec<u8>> = [IPV6_PHONE_INVITE, PBX_200_OK, PBX_BYE].iter().map(|m| m.to_vec()).collect();
        for name in ["rfc4475", "rfc5118"] {
            all.extend(corpus(name).into_iter().map(|c| c.bytes).filter(|b| parse_message_lenient(b).is_ok()));
        }
        all
    }

    /// Every prefix of every message read leniently is refused as
    /// incomplete or short of its Content-Length, or (when it has none and
    /// the cut is in the body) read with the same faults.
    #[test]
    fn growing_prefixes() {
        for msg in lenient_messages() {
            let full = parse_message_lenient(&msg).unwrap();
            let framed = full.message.content_length().is_some();
            for n in 0..full.message.len {
                match check_lenient(&msg[..n]) {
                    Ok(l) => {
                        assert!(!framed && n >= full.message.body_offset, "[..{n}] of {:?}", full.message.start);
                        assert_eq!(l.faults, full.faults);
                    }
                    Err(kind) => assert!(matches!(kind, Incomplete | ContentLength), "[..{n}]: {kind:?}"),
                }
            }
        }
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Exercises every accessor of a parsed message; none may panic, and
    /// every value must lie inside the message.
    fn touch(m: &Message<'_>, input: &[u8]) {
        assert!(m.len <= input.len());
        assert_eq!(m.raw.len(), m.len);
        assert_eq!(m.offset_of(m.body), Some(m.body_offset));
        for h in &m.headers {
            assert_eq!(m.offset_of(h.value), Some(h.value_offset));
            assert_eq!(m.offset_of(h.name), Some(h.offset));
        }
        let _ = (m.call_id(), m.cseq(), m.from(), m.to(), m.expires());
        let _ = (m.user_agent(), m.server(), m.content_length(), m.content_type());
        let _ = (m.auth_realm(), m.max_forwards(), m.status(), m.reason(), m.method());
        for v in m.vias() {
            assert!(m.offset_of(v.raw).is_some());
            let _ = v.ip();
        }
        let _ = m.contacts().count() + m.allow().count();
        if let Some(Ok(s)) = m.sdp() {
            for media in &s.media {
                let _ = media.codec_names().count();
            }
        }
    }

    fn check_all(input: &[u8]) {
        if let Ok(m) = parse_message(input) {
            touch(&m, input);
            // The cheap filter never drops a message the parser accepts.
            assert!(looks_like_sip(input));
        }
        if let Ok(l) = check_lenient(input) {
            touch(&l.message, input);
            assert!(looks_like_sip(input));
        }
        match frame_stream(input) {
            Framing::Complete(n) => {
                assert!(n <= input.len());
                if let Ok(m) = parse_message(&input[..n]) {
                    touch(&m, &input[..n]);
                }
            }
            Framing::Incomplete => {}
            Framing::Invalid(e) => assert!(!e.reason().is_empty()),
        }
        let _ = looks_like_sip(input);
        if let Ok(s) = sdp::parse(input) {
            for media in &s.media {
                let _ = media.codec_names().count();
            }
        }
    }

    /// One edit of a corpus message.
    #[derive(Debug, Clone)]
    enum Edit {
        Flip(usize, u8),
        Insert(usize, u8),
        Delete(usize),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
            (any::<usize>(), prop::sample::select(b"\r\n :;,<>\"\\@=/[]%0 \tSIP".to_vec()))
                .prop_map(|(i, b)| Edit::Insert(i, b)),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
            any::<usize>().prop_map(Edit::Delete),
        ]
    }

    fn all_messages() -> Vec<Vec<u8>> {
        let mut all: Vec<Vec<u8>> = corpus("rfc4475").into_iter().map(|c| c.bytes).collect();
        all.extend(corpus("rfc5118").into_iter().map(|c| c.bytes));
        all
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            // Integration tests have no lib.rs beside them to persist into.
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..1500)) {
            check_all(&input);
        }

        #[test]
        fn sip_like_bytes_never_panic(
            start in prop::sample::select(vec![&b"INVITE sip:a@b SIP/2.0\r\n"[..], b"SIP/2.0 200 OK\r\n", b"v=0\r\n"]),
            body in prop::collection::vec(
                prop::sample::select(b"abcSIP/2.0:;,<>\"\\@= \t\r\n\r\n0123456789[]%?-_vVlLmic".to_vec()),
                0..600,
            ),
        ) {
            let mut input = start.to_vec();
            input.extend_from_slice(&body);
            check_all(&input);
        }

        #[test]
        fn mutated_corpus_never_panics(
            pick in any::<prop::sample::Index>(),
            edits in prop::collection::vec(edit(), 1..8),
        ) {
            let all = all_messages();
            let mut msg = pick.get(&all).clone();
            for e in edits {
                match e {
                    Edit::Flip(i, b) if !msg.is_empty() => {
                        let i = i % msg.len();
                        msg[i] ^= b;
                    }
                    Edit::Insert(i, b) => {
                        let i = i % (msg.len() + 1);
                        msg.insert(i, b);
                    }
                    Edit::Delete(i) if !msg.is_empty() => {
                        let i = i % msg.len();
                        msg.remove(i);
                    }
                    _ => {}
                }
            }
            check_all(&msg);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Prefixes of edited messages: the contract holds on each, and a
        /// prefix is read leniently only where the whole message is, with
        /// the same faults, cut in a body that has no Content-Length.
        #[test]
        fn lenient_prefixes_of_mutated_messages(
            pick in any::<prop::sample::Index>(),
            edits in prop::collection::vec(edit(), 0..4),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 8),
        ) {
            let mut all = all_messages();
            all.extend(super::lenient::lenient_messages());
            let mut msg = pick.get(&all).clone();
            for e in edits {
                match e {
                    Edit::Flip(i, b) if !msg.is_empty() => {
                        let i = i % msg.len();
                        msg[i] ^= b;
                    }
                    Edit::Insert(i, b) => {
                        let i = i % (msg.len() + 1);
                        msg.insert(i, b);
                    }
                    Edit::Delete(i) if !msg.is_empty() => {
                        let i = i % msg.len();
                        msg.remove(i);
                    }
                    _ => {}
                }
            }
            let full = check_lenient(&msg);
            for cut in cuts {
                let n = cut.index(msg.len() + 1);
                if let Ok(l) = check_lenient(&msg[..n]) {
                    prop_assert!(full.is_ok(), "[..{}] read, whole message fails: {:?}", n, full.as_ref().err());
                    let Ok(full) = &full else { continue };
                    prop_assert_eq!(&l.faults, &full.faults);
                    prop_assert!(n >= full.message.body_offset);
                }
            }
        }
    }

    /// Every prefix of every valid corpus message is either accepted or
    /// refused as incomplete / short of its Content-Length; the stream framer
    /// never calls a strict prefix of a Content-Length-framed message complete.
    #[test]
    fn corpus_prefixes() {
        for name in ["rfc4475", "rfc5118"] {
            for case in corpus(name).into_iter().filter(|c| c.valid) {
                let full = parse_message(&case.bytes).unwrap();
                let framed = full.content_length().is_some();
                for n in 0..full.len {
                    let prefix = &case.bytes[..n];
                    if let Err(e) = parse_message(prefix) {
                        assert!(
                            matches!(e.kind, ErrorKind::Incomplete | ErrorKind::ContentLength),
                            "{}[..{n}]: {e}",
                            case.file
                        );
                    }
                    if framed {
                        assert_eq!(frame_stream(prefix), Framing::Incomplete, "{}[..{n}]", case.file);
                    }
                }
            }
        }
    }
}
