//! How each kind of SIP stack writes its messages.
//!
//! A [`Flavor`] is the set of surface habits a detector could fingerprint: User-Agent,
//! Via branch and tag shapes, `rport`, Content-Length padding, Allow set, SDP origin and
//! session name, reason phrases, digest realm. The DBL/Hybertone GoIP habits are those
//! of SPEC §3.1, the OpenVox VoxStack ones those of the real captures in
//! `shared/corpus/pcap/openvox_gsmgw_*` (chan_sip underneath); the others follow what the
//! named products send by default. Where a vendor's default is not documented (Dinstar and
//! Hypermedia Via/tag shapes, version numbers) the shape is made up and said so.

use std::net::IpAddr;

use rand::rngs::SmallRng;
use rand::Rng;

use super::ids::{alnum, hex, uuid};

/// The Allow header of DBL GoIP firmware (libosip2 based), SPEC §3.1.
pub const GOIP_ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REFER, REGISTER, MESSAGE, INFO, SUBSCRIBE";
const ASTERISK_ALLOW: &str =
    "OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, MESSAGE, REFER";
const CHAN_SIP_ALLOW: &str = "INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE";
const LINPHONE_ALLOW: &str =
    "INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO, PRACK, UPDATE";
const ZOIPER_ALLOW: &str = "INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE";
const YEALINK_ALLOW: &str =
    "INVITE, INFO, PRACK, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REGISTER, SUBSCRIBE, REFER, PUBLISH, UPDATE, MESSAGE";
const PJSIP_ALLOW: &str = "PRACK, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, SUBSCRIBE, NOTIFY, REFER, MESSAGE, OPTIONS";
/// As in the OpenVox captures (Asterisk chan_sip of the VoxStack firmware).
const VOXSTACK_ALLOW: &str = "INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH";
const GENERIC_ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER";
const FREESWITCH_ALLOW: &str =
    "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY, PUBLISH, SUBSCRIBE";

/// User-Agent of OpenVox VoxStack GSM gateways (SPEC §3.1).
pub const VOXSTACK_USER_AGENT: &str = "VoxStack Wireless Gateway";
/// User-Agent of Hypermedia gateways: `HG4000/<version>` (SPEC §3.1; the version is made up).
pub const HYPERMEDIA_USER_AGENT: &str = "HG4000/2.1.6";
/// User-Agent of the Dinstar-like gateways (model-number shape; the string is made up).
pub const DINSTAR_USER_AGENT: &str = "DWG2000E/2.71.08";
/// User-Agent of some DBL builds (SPEC §3.1).
pub const HYBERTONE_USER_AGENT: &str = "HYBERTONE";

/// User-Agents a stripped gateway's operator rewrites `dble` to.
pub const STRIPPED_USER_AGENTS: [&str; 2] = ["Asterisk PBX 18.0", "Asterisk PBX 16.28.0"];

/// The SIP stack behind a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// DBL / Hybertone GoIP firmware: every §3.1 fingerprint.
    Dble,
    /// A GoIP whose fingerprints were rewritten; the index picks the fake User-Agent.
    Stripped(u8),
    /// DBL firmware of a build that says `HYBERTONE`: otherwise every [`Flavor::Dble`] habit.
    Hybertone,
    /// OpenVox VoxStack GSM gateway (Asterisk chan_sip inside).
    VoxStack,
    /// A Dinstar-like GSM gateway (DWG series): 1800 s registrations.
    Dinstar,
    /// A Hypermedia GSM gateway (`HG4000/…`).
    Hypermedia,
    /// A stripped GoIP that sends no User-Agent at all; otherwise like `Stripped`.
    Anon,
    /// A foreign VoIP provider's FreeSWITCH (Sofia-SIP).
    FreeSwitch,
    /// The wholesale softswitch feeding gateways (sends no User-Agent).
    Softswitch,
    /// FreePBX / Asterisk PJSIP.
    Fpbx,
    Linphone,
    Zoiper,
    Yealink,
    MicroSip,
    /// A predictive dialler on Asterisk chan_sip.
    Dialler,
    /// An ITSP's SBC (Kamailio in front of a B2BUA).
    Carrier,
}

impl Flavor {
    /// The phone flavours, in the order phones are given them.
    pub(crate) const PHONES: [Flavor; 4] = [Flavor::Linphone, Flavor::Zoiper, Flavor::Yealink, Flavor::MicroSip];

    pub(crate) fn user_agent(self) -> Option<&'static str> {
        Some(match self {
            Flavor::Dble => "dble",
            Flavor::Hybertone => HYBERTONE_USER_AGENT,
            Flavor::Stripped(i) => STRIPPED_USER_AGENTS[usize::from(i) % STRIPPED_USER_AGENTS.len()],
            Flavor::Softswitch | Flavor::Anon => return None,
            Flavor::VoxStack => VOXSTACK_USER_AGENT,
            Flavor::Dinstar => DINSTAR_USER_AGENT,
            Flavor::Hypermedia => HYPERMEDIA_USER_AGENT,
            Flavor::FreeSwitch => "FreeSWITCH-mod_sofia/1.10.9-release~64bit",
            Flavor::Fpbx => "FPBX-16.0.40(18.20.0)",
            Flavor::Linphone => "Linphone/5.2.5 (belle-sip/5.2.0)",
            Flavor::Zoiper => "Zoiper rv2.10.20.5",
            Flavor::Yealink => "Yealink SIP-T46S 66.86.0.15",
            Flavor::MicroSip => "MicroSIP/3.21.3",
            Flavor::Dialler => "Asterisk PBX 16.30.0",
            Flavor::Carrier => "Kamailio (5.6.4 (x86_64/linux))",
        })
    }

    /// A fresh Via branch in this stack's style.
    pub(crate) fn branch(self, rng: &mut SmallRng) -> String {
        match self {
            Flavor::Dble | Flavor::Hybertone => format!("z9hG4bK{}", rng.gen_range(10_000_000u32..=u32::MAX)),
            Flavor::Stripped(_) | Flavor::Anon | Flavor::Fpbx => format!("z9hG4bKPj{}", uuid(rng)),
            // chan_sip: eight hex digits (the OpenVox captures: `z9hG4bK76f8817b`).
            Flavor::VoxStack => format!("z9hG4bK{:08x}", rng.gen::<u32>()),
            Flavor::Dinstar => format!("z9hG4bK{:08X}", rng.gen::<u32>()),
            Flavor::Hypermedia => format!("z9hG4bK-{}", hex(rng, 12)),
            Flavor::FreeSwitch => format!("z9hG4bK{}", alnum(rng, 13)),
            Flavor::Softswitch => format!("z9hG4bK{}", hex(rng, 16)),
            Flavor::Linphone => format!("z9hG4bK.{}", alnum(rng, 9)),
            Flavor::Zoiper => format!("z9hG4bK-524287-1---{}", hex(rng, 16)),
            // Yealink: decimal digits like the GoIP, but without rport — a hard negative
            // for detectors that look at the branch alone.
            Flavor::Yealink => format!("z9hG4bK{}", rng.gen_range(1_000_000_000u32..=u32::MAX)),
            Flavor::MicroSip => format!("z9hG4bKPj{}", alnum(rng, 32)),
            Flavor::Dialler => format!("z9hG4bK{:08x}", rng.gen::<u32>()),
            Flavor::Carrier => format!("z9hG4bK{}.0", hex(rng, 10)),
        }
    }

    /// Whether the stack asks for `rport` (RFC 3581) in its Via.
    pub(crate) fn rport(self) -> bool {
        !matches!(self, Flavor::Yealink | Flavor::Carrier)
    }

    pub(crate) fn tag(self, rng: &mut SmallRng) -> String {
        match self {
            Flavor::Dble | Flavor::Hybertone | Flavor::Yealink => rng.gen_range(100_000_000u32..=u32::MAX).to_string(),
            Flavor::Stripped(_) | Flavor::Anon | Flavor::Fpbx => uuid(rng),
            Flavor::VoxStack => format!("as{}", hex(rng, 8)),
            Flavor::Dinstar | Flavor::Hypermedia => hex(rng, 10),
            Flavor::FreeSwitch => alnum(rng, 13),
            Flavor::Linphone => alnum(rng, 9),
            Flavor::Zoiper => hex(rng, 8),
            Flavor::MicroSip => alnum(rng, 32),
            Flavor::Dialler => format!("as{}", hex(rng, 8)),
            Flavor::Softswitch | Flavor::Carrier => hex(rng, 16),
        }
    }

    pub(crate) fn call_id(self, rng: &mut SmallRng, ip: IpAddr) -> String {
        match self {
            Flavor::Dble | Flavor::Hybertone => format!("{}@{}", rng.gen_range(100_000_000u32..=u32::MAX), ip),
            Flavor::Stripped(_) | Flavor::Anon | Flavor::Fpbx | Flavor::FreeSwitch => uuid(rng),
            Flavor::VoxStack => format!("{}@{}", hex(rng, 32), ip),
            Flavor::Dinstar | Flavor::Hypermedia => format!("{}@{}", hex(rng, 20), ip),
            Flavor::Linphone => alnum(rng, 10),
            Flavor::Zoiper => alnum(rng, 22),
            Flavor::Yealink => format!("0_{}@{}", rng.gen_range(1_000_000_000u32..=u32::MAX), ip),
            Flavor::MicroSip => alnum(rng, 32),
            Flavor::Dialler => format!("{}@{}:5060", hex(rng, 32), ip),
            Flavor::Softswitch => format!("{}@{}", hex(rng, 24), ip),
            Flavor::Carrier => format!("{}-{}", hex(rng, 16), rng.gen_range(1000..10_000u32)),
        }
    }

    /// DBL GoIP firmware, whatever its User-Agent: the family with the SMS-server
    /// control plane (SPEC §3.2).
    pub(crate) fn is_goip(self) -> bool {
        matches!(self, Flavor::Dble | Flavor::Hybertone)
    }

    /// `Content-Length:     0`: libosip2's `%5d`, SPEC §3.1.
    pub(crate) fn padded_content_length(self) -> bool {
        matches!(self, Flavor::Dble | Flavor::Hybertone)
    }

    /// The header naming the stack in its responses: chan_sip says `Server`.
    pub(crate) fn response_agent_header(self) -> &'static str {
        if self == Flavor::VoxStack {
            "Server"
        } else {
            "User-Agent"
        }
    }

    pub(crate) fn allow(self) -> Option<&'static str> {
        Some(match self {
            Flavor::Dble | Flavor::Hybertone => GOIP_ALLOW,
            Flavor::Stripped(_) | Flavor::Anon | Flavor::Fpbx => ASTERISK_ALLOW,
            Flavor::VoxStack => VOXSTACK_ALLOW,
            Flavor::Dinstar | Flavor::Hypermedia => GENERIC_ALLOW,
            Flavor::FreeSwitch => FREESWITCH_ALLOW,
            Flavor::Dialler => CHAN_SIP_ALLOW,
            Flavor::Linphone => LINPHONE_ALLOW,
            Flavor::Zoiper => ZOIPER_ALLOW,
            Flavor::Yealink => YEALINK_ALLOW,
            Flavor::MicroSip => PJSIP_ALLOW,
            Flavor::Softswitch | Flavor::Carrier => return None,
        })
    }

    /// The SDP `o=` user, session id and version for a new session.
    pub(crate) fn sdp_origin(self, rng: &mut SmallRng, user: &str) -> (String, u64, u64) {
        match self {
            // libosip2's template, identical in every GoIP session.
            Flavor::Dble | Flavor::Hybertone => ("userX".into(), 20_000_001, 20_000_001),
            // As in the OpenVox captures: `o=root 1467802853 1467802853`.
            Flavor::VoxStack => {
                let s = rng.gen_range(1_000_000_000..2_000_000_000);
                ("root".into(), s, s)
            }
            Flavor::Dinstar => {
                let s = rng.gen_range(10_000..99_999);
                ("dinstar".into(), s, s + 1)
            }
            Flavor::Hypermedia => {
                let s = rng.gen_range(1_000..9_999);
                ("HG".into(), s, s)
            }
            Flavor::FreeSwitch => {
                let s = rng.gen_range(1_690_000_000..1_790_000_000);
                ("FreeSWITCH".into(), s, s + 1)
            }
            Flavor::Linphone => {
                let s = rng.gen_range(100..10_000);
                (user.to_owned(), s, rng.gen_range(100..10_000))
            }
            Flavor::Zoiper => ("Z".into(), 0, rng.gen_range(1..100_000_000)),
            Flavor::Yealink => {
                let s = rng.gen_range(20_000..30_000);
                ("-".into(), s, s)
            }
            Flavor::MicroSip => {
                let s = rng.gen_range(3_900_000_000..3_999_999_999);
                ("-".into(), s, s + 1)
            }
            Flavor::Dialler => {
                let s = rng.gen_range(100_000_000..2_000_000_000);
                ("root".into(), s, s)
            }
            Flavor::Stripped(_) | Flavor::Anon | Flavor::Fpbx | Flavor::Softswitch | Flavor::Carrier => {
                let s = rng.gen_range(1_000_000_000..4_000_000_000);
                ("-".into(), s, s)
            }
        }
    }

    pub(crate) fn sdp_session(self) -> &'static str {
        match self {
            Flavor::Dble | Flavor::Hybertone => "DBL Session",
            Flavor::Stripped(_) | Flavor::Anon | Flavor::Fpbx => "Asterisk",
            Flavor::VoxStack => VOXSTACK_USER_AGENT,
            Flavor::Dinstar => "DinstarSIP",
            Flavor::Hypermedia => "HG Session",
            Flavor::FreeSwitch => "FreeSWITCH",
            Flavor::Linphone => "Talk",
            Flavor::Zoiper => "Z",
            Flavor::Yealink => "SDP data",
            Flavor::MicroSip => "pjmedia",
            Flavor::Dialler => "Asterisk PBX 16.30.0",
            Flavor::Softswitch => "SIP Call",
            Flavor::Carrier => "-",
        }
    }

    /// The reason phrase this stack puts after `code`.
    pub(crate) fn reason(self, code: u16) -> &'static str {
        match (self, code) {
            (Flavor::Dble | Flavor::Hybertone, 480) => "Remote Busy",
            (_, 100) => "Trying",
            (_, 180) => "Ringing",
            (_, 183) => "Session Progress",
            (_, 200) => "OK",
            (_, 401) => "Unauthorized",
            (_, 404) => "Not Found",
            (_, 407) => "Proxy Authentication Required",
            (_, 408) => "Request Timeout",
            (_, 480) => "Temporarily Unavailable",
            (_, 486) => "Busy Here",
            (_, 487) => "Request Terminated",
            (_, 503) => "Service Unavailable",
            _ => "Unknown",
        }
    }

    /// The digest realm this stack uses when it challenges.
    pub(crate) fn realm(self, ip: IpAddr) -> String {
        match self {
            Flavor::Dble | Flavor::Hybertone => "goip".into(),
            Flavor::Stripped(_) | Flavor::Anon | Flavor::Fpbx | Flavor::Dialler | Flavor::VoxStack => "asterisk".into(),
            _ => ip.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn goip_branch_is_decimal() {
        let mut rng = SmallRng::seed_from_u64(3);
        let b = Flavor::Dble.branch(&mut rng);
        let tail = b.strip_prefix("z9hG4bK").unwrap();
        assert!(tail.bytes().all(|c| c.is_ascii_digit()), "{b}");
        assert!(Flavor::Dble.rport());
    }

    #[test]
    fn only_goip_says_remote_busy() {
        assert_eq!(Flavor::Dble.reason(480), "Remote Busy");
        for f in [Flavor::Stripped(0), Flavor::Fpbx, Flavor::Carrier] {
            assert_eq!(f.reason(480), "Temporarily Unavailable");
        }
    }

    #[test]
    fn stripped_flavour_has_no_goip_marks() {
        let mut rng = SmallRng::seed_from_u64(4);
        for f in [Flavor::Stripped(0), Flavor::Stripped(1), Flavor::Anon] {
            assert_ne!(f.user_agent(), Some("dble"));
            assert!(!f.padded_content_length());
            assert_ne!(f.allow(), Some(GOIP_ALLOW));
            assert_ne!(f.sdp_session(), "DBL Session");
            assert_ne!(f.sdp_origin(&mut rng, "x").0, "userX");
            assert_ne!(f.realm("192.0.2.1".parse().unwrap()), "goip");
        }
        assert_eq!(Flavor::Anon.user_agent(), None);
    }

    #[test]
    fn vendor_marks() {
        let mut rng = SmallRng::seed_from_u64(5);
        assert_eq!(Flavor::VoxStack.user_agent(), Some("VoxStack Wireless Gateway"));
        assert_eq!(Flavor::VoxStack.sdp_session(), "VoxStack Wireless Gateway");
        assert_eq!(Flavor::VoxStack.sdp_origin(&mut rng, "1590").0, "root");
        assert_eq!(Flavor::VoxStack.response_agent_header(), "Server");
        assert!(Flavor::Hypermedia.user_agent().unwrap().starts_with("HG4000/"));
        assert_eq!(Flavor::Hybertone.reason(480), "Remote Busy");
        assert!(Flavor::Hybertone.padded_content_length());
    }
}
