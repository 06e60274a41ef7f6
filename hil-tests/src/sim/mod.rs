//! The seeded scenario generator: GoIP SIM boxes among legitimate SIP traffic.
//!
//! Contract: [`write_scenario`] writes a time-ordered pcap and returns its [`Truth`].
//! The same [`SimConfig`] (seed included) gives byte-identical output on any 64-bit
//! host; nothing reads the clock or the environment.
//!
//! Design: a discrete-event simulation. A binary heap holds pending events ordered by
//! (time, insertion number); each event writes frames at its own time and schedules
//! later ones, so frames leave in time order and only active calls are held in memory.
//! A call is rendered whole when it starts (module `sip`); its messages and RTP packets
//! become events.
//!
//! The basic scenario (SPEC §3.1, §3.3), [`SimConfig::default`]:
//! - GoIP gateways (4/8/16/32 lines) fed by overseas softswitches (203.0.113.0/24):
//!   INVITEs to domestic mobile numbers, one call per line at a time, back to back,
//!   short calls, a low answer ratio, registrations every 60/120 s, OPTIONS keep-alives;
//!   some "stripped" gateways behave the same with every fingerprint rewritten.
//! - Hard negatives: phones registered to a PBX (hourly registrations, few callees,
//!   long calls, idle gaps), the PBX's trunk to a carrier, a predictive dialler making
//!   many short outbound calls.
//! - Transport variety: SIP over TCP (split, coalesced and retransmitted segments),
//!   IPv4 fragments of large INVITEs, 802.1Q tags, an IPv6 phone.
//!
//! The mixed scenario, [`SimConfig::mixed`], is the basic one plus (each behind its own
//! [`SimConfig`] field, all off in the default, which is drawn exactly as before they
//! existed):
//! - `vendor_mix`: gateways of several vendors (DBL GoIP and its Hybertone build, OpenVox
//!   VoxStack, Dinstar-like, Hypermedia) with every account layout (one account per
//!   channel, one for all, trunk mode without REGISTER); stripped gateways with a common
//!   User-Agent or none; large gateways run fewer calls at once than they have lines, and
//!   in single-account and trunk mode pick the least-used idle channel (calls spread
//!   evenly over SIMs).
//! - `control_plane`: the GoIP SMS-server protocol and SIM-bank links (module
//!   `control`), SIM rotation on SIM-bank gateways.
//! - `call_centres`, `pbx_sites`, `softphones`, `single_softphones`, `overseas_voip`:
//!   more hard negatives (module docs of [`Kind`] say what each is).
//! - `diurnal`: people, PBXs and call centres follow the clock (China time); gateways
//!   work through the night.
//! - `gsmtap`: the cell side (module `cells`): a BTS-side GSMTAP feed with the cells,
//!   every gateway SIM's attach, detach and one GSM call per SIP call it dials out, and
//!   ordinary phones; the truth gains `links` (SIP call ↔ SIM), `cells` and `handsets`.
//!
//! Addresses are RFC 5737/3849 documentation ranges (10/8 past 200 gateways) and, for
//! the mixed scenario's extra hosts, the RFC 2544 range 198.18.0.0/15; foreign providers,
//! SMS servers and SIM banks sit with the softswitches in 203.0.113.0/24 ("overseas").
//! Numbers and identities are random and synthetic.

mod cells;
mod control;
mod flavor;
mod gateways;
mod gsm;
pub(crate) mod ids;
mod population;
mod rtp;
mod sip;
mod truth;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::error::{Error, ErrorKind};
use crate::pcap::{PcapOut, ETHERNET_MTU, TCP_MSS};
use control::ControlPlane;
use flavor::Flavor;
use ids::NumberStyle;
use rtp::{Stream, StreamSeed, NOISE_LEN};
use sip::{Auth, CallSpec, CallTimes, KeepAlive, Outcome, Party, Registration, SipSend};

pub use control::{SIMBANK_MAGIC, SIMBANK_PORT, SMS_SERVER_PORT};
pub use flavor::{
    DINSTAR_USER_AGENT, GOIP_ALLOW, HYBERTONE_USER_AGENT, HYPERMEDIA_USER_AGENT, STRIPPED_USER_AGENTS,
    VOXSTACK_USER_AGENT,
};
pub use gsm::GSMTAP_PORT;
pub use rtp::PT_TELEPHONE_EVENT;
pub use truth::{Kind, Label, Role, Truth, TruthCell, TruthHandset, TruthHost, TruthLink};

/// 2026-11-01T00:00:00Z.
pub const DEFAULT_START_UNIX: u64 = 1_793_491_200;
/// Start of the mixed scenario: 2026-11-02T01:30:00Z, a Monday 09:30 in China, when
/// offices, call centres and gateways are all at work.
pub const MIXED_START_UNIX: u64 = 1_793_583_000;
/// Simulated time the mixed scenario covers by default.
pub const MIXED_DURATION: Duration = Duration::from_secs(MIXED_DURATION_S);
const MIXED_DURATION_S: u64 = 360;
/// Line counts a GoIP is sold with.
pub const GOIP_LINE_COUNTS: [u32; 4] = [4, 8, 16, 32];
/// Most lines a gateway may be given.
pub const MAX_LINES: u32 = 64;
/// Most gateways (plain plus stripped) one scenario may have.
pub const MAX_GATEWAYS: u32 = 1_000;
/// Most phones one scenario may have.
pub const MAX_PHONES: u32 = 150;
/// A run stops at this much simulated time whatever else is asked.
pub const MAX_SIM_TIME: Duration = Duration::from_secs(30 * 86_400);
/// Concurrent channels of the call-centre dialler.
pub const DIALLER_CHANNELS: u32 = 12;
/// Most extra call centres or PBX sites one scenario may have.
pub const MAX_SITES: u32 = 200;
/// Most hosted softphones one scenario may have.
pub const MAX_SOFTPHONES: u32 = 5_000;
/// Most single softphones, or overseas-VoIP users, one scenario may have.
pub const MAX_LONE_ENDPOINTS: u32 = 1_000;
/// China Standard Time, UTC+8, for the diurnal rhythm.
const CHINA_UTC_OFFSET_S: u64 = 8 * 3_600;

const MS: u64 = 1_000;
const SEC: u64 = 1_000_000;
/// Capture-point jitter added to RTP packets.
const RTP_JITTER_US: u64 = 800;
/// Chance a TCP message goes out in two segments although it fits one.
const TCP_SPLIT_P: f64 = 0.15;
/// Chance a TCP segment is retransmitted.
const TCP_RETX_P: f64 = 0.01;
/// IPv4 + UDP header bytes.
const IPV4_UDP_OVERHEAD: usize = 28;

/// The named starting points of a [`SimConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preset {
    /// The first scenario: a few DBL GoIPs among one office's traffic
    /// ([`SimConfig::default`]); what the benchmarks use.
    #[default]
    Basic,
    /// The scenario for measuring detection ([`SimConfig::mixed`]).
    Mixed,
}

impl Preset {
    /// The name used on the command line and in the truth file.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Basic => "basic",
            Preset::Mixed => "mixed",
        }
    }

    /// The configuration this preset starts from.
    pub fn config(self) -> SimConfig {
        match self {
            Preset::Basic => SimConfig::default(),
            Preset::Mixed => SimConfig::mixed(),
        }
    }
}

/// What to generate. Every field has a default; see [`SimConfig::default`] and
/// [`SimConfig::mixed`]. The fields after `ipv6` were added for the mixed scenario;
/// at their defaults (off, zero) the basic scenario is drawn as it always was.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of the one random generator.
    pub seed: u64,
    /// Unix time (seconds) of the first moment simulated.
    pub start_unix: u64,
    /// Simulated time to cover; ignored when `target_packets` is set.
    pub duration: Duration,
    /// GoIP gateways with factory fingerprints.
    pub gateways: u32,
    /// Lines per gateway; `None` draws 4, 8, 16 or 32 for each gateway.
    pub lines: Option<u32>,
    /// Gateways with their fingerprints stripped (behaviour only).
    pub stripped: u32,
    /// Phones registered to the PBX (0 leaves the PBX out unless the trunk is on).
    pub phones: u32,
    /// The PBX's trunk to a carrier, with inbound and outbound calls.
    pub pbx_trunk: bool,
    /// A call-centre dialler making short outbound calls.
    pub dialler: bool,
    /// RTP media for answered calls and early media.
    pub rtp: bool,
    /// RTP packetisation time, milliseconds (10..=60, a multiple of 10).
    pub rtp_ptime_ms: u32,
    /// Run until at least this many frames are written (then stop; `duration` is
    /// ignored). Used to build benchmark captures of a given size.
    pub target_packets: Option<u64>,
    /// Share of SIP endpoints (phones, the PBX trunk) that use TCP; when above 0 at
    /// least one phone does.
    pub tcp_share: f64,
    /// Chance that an INVITE which may be large (softswitch, softphone) is padded past
    /// one Ethernet frame, to be IPv4-fragmented (or split over TCP segments).
    pub fragment_share: f64,
    /// 802.1Q-tag the PBX LAN and every third gateway's access line.
    pub vlan: bool,
    /// Put one phone (the last, with at least 3 phones) on IPv6.
    pub ipv6: bool,
    /// The preset these values started from (recorded in the truth as `scenario`).
    pub preset: Preset,
    /// Gateways of several vendors and every account layout, large ones running fewer
    /// calls than lines; off: every gateway a DBL GoIP as in the basic scenario.
    pub vendor_mix: bool,
    /// The GoIP control plane (SMS-server protocol, SIM banks) of GoIP-family gateways.
    pub control_plane: bool,
    /// Share (0..=1) of control-plane gateways whose SIMs come from a remote SIM bank.
    pub simbank_share: f64,
    /// Call centres (predictive diallers on their own carrier trunk) besides `dialler`.
    pub call_centres: u32,
    /// Enterprise PBXs with a multi-account carrier trunk besides the basic PBX.
    pub pbx_sites: u32,
    /// Softphones registered to a domestic hosted-VoIP provider.
    pub softphones: u32,
    /// Lone softphones with their own account at a carrier.
    pub single_softphones: u32,
    /// Domestic endpoints registered to a foreign VoIP provider.
    pub overseas_voip: u32,
    /// People, PBXs and call centres follow the clock (China time): quiet nights, call
    /// centres open 09:00–21:00. Gateways work through the night either way.
    pub diurnal: bool,
    /// The cell side: a GSMTAP feed (UDP 4729) of the cells, the gateways' SIMs (attach,
    /// detach, SIM swaps, a GSM call for every SIP call they dial out) and ordinary
    /// phones; off: no GSMTAP, and the rest of the capture is drawn exactly as without it.
    pub gsmtap: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            start_unix: DEFAULT_START_UNIX,
            duration: Duration::from_secs(600),
            gateways: 2,
            lines: None,
            stripped: 1,
            phones: 6,
            pbx_trunk: true,
            dialler: true,
            rtp: true,
            rtp_ptime_ms: 20,
            target_packets: None,
            tcp_share: 0.1,
            fragment_share: 0.02,
            vlan: true,
            ipv6: true,
            preset: Preset::Basic,
            vendor_mix: false,
            control_plane: false,
            simbank_share: 0.0,
            call_centres: 0,
            pbx_sites: 0,
            softphones: 0,
            single_softphones: 0,
            overseas_voip: 0,
            diurnal: false,
            gsmtap: false,
        }
    }
}

impl SimConfig {
    /// The mixed scenario for measuring detection (SPEC §3.1–3.3, §6): 22 gateways (16
    /// with vendor fingerprints from five firmware families, 6 stripped of them; 4 to 32
    /// lines; every account layout; GoIP control plane, a third of the GoIPs on a SIM
    /// bank) among 219 benign endpoints: 160 softphones on a hosted-VoIP provider, 12
    /// single softphones, 24 overseas-VoIP users, 4 call centres, 4 PBXs with carrier
    /// trunks (one with 8 phones on its LAN), 3 carriers and 4 providers; plus the
    /// softswitches, SMS servers and SIM banks; and the cell side (GSMTAP: the
    /// gateways' SIMs and 64 ordinary phones in a handful of cells). Six minutes from a
    /// Monday 09:30 China time: every gateway's first call comes in the first half
    /// minute, and with RTP the capture holds a few million packets.
    pub fn mixed() -> Self {
        SimConfig {
            start_unix: MIXED_START_UNIX,
            duration: MIXED_DURATION,
            gateways: 16,
            stripped: 6,
            phones: 8,
            preset: Preset::Mixed,
            vendor_mix: true,
            control_plane: true,
            simbank_share: 1.0 / 3.0,
            call_centres: 3,
            pbx_sites: 3,
            softphones: 160,
            single_softphones: 12,
            overseas_voip: 24,
            diurnal: true,
            gsmtap: true,
            ..SimConfig::default()
        }
    }

    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |msg: String| Err(Error::new(ErrorKind::Config, msg));
        if let Some(l) = self.lines {
            if !(1..=MAX_LINES).contains(&l) {
                return bad(format!("lines must be 1..={MAX_LINES}, got {l}"));
            }
        }
        if self.gateways.saturating_add(self.stripped) > MAX_GATEWAYS {
            return bad(format!(
                "at most {MAX_GATEWAYS} gateways (plain + stripped), got {}",
                u64::from(self.gateways) + u64::from(self.stripped)
            ));
        }
        if self.phones > MAX_PHONES {
            return bad(format!("at most {MAX_PHONES} phones, got {}", self.phones));
        }
        for (name, v, max) in [
            ("call centres", self.call_centres, MAX_SITES),
            ("PBX sites", self.pbx_sites, MAX_SITES),
            ("softphones", self.softphones, MAX_SOFTPHONES),
            ("single softphones", self.single_softphones, MAX_LONE_ENDPOINTS),
            ("overseas VoIP users", self.overseas_voip, MAX_LONE_ENDPOINTS),
        ] {
            if v > max {
                return bad(format!("at most {max} {name}, got {v}"));
            }
        }
        if !(10..=60).contains(&self.rtp_ptime_ms) || self.rtp_ptime_ms % 10 != 0 {
            return bad(format!("RTP ptime must be 10..=60 ms in steps of 10, got {}", self.rtp_ptime_ms));
        }
        for (name, v) in [
            ("tcp share", self.tcp_share),
            ("fragment share", self.fragment_share),
            ("SIM-bank share", self.simbank_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} must be within 0..=1, got {v}"));
            }
        }
        match self.target_packets {
            Some(0) => return bad("target packets must be at least 1".into()),
            Some(_) => {}
            None if self.duration.is_zero() => return bad("duration must not be zero".into()),
            None if self.duration > MAX_SIM_TIME => {
                return bad(format!("duration must be at most {} days", MAX_SIM_TIME.as_secs() / 86_400))
            }
            None => {}
        }
        if self.start_unix > u64::from(u32::MAX) - MAX_SIM_TIME.as_secs() {
            return bad("start time beyond what classic pcap timestamps hold".into());
        }
        Ok(())
    }
}

/// Generates the scenario into `out` (buffered internally) and returns its truth.
pub fn write_scenario<W: Write>(cfg: &SimConfig, out: W) -> Result<Truth, Error> {
    cfg.validate()?;
    let pcap = PcapOut::new(BufWriter::with_capacity(1 << 20, out))?;
    let mut engine = Engine::new(cfg.clone(), pcap);
    engine.setup();
    engine.run()?;
    let (truth, out) = engine.finish();
    out.finish()?.into_inner().map_err(|e| Error::io("flushing capture", e.into_error()))?;
    Ok(truth)
}

/// Generates the scenario in memory: the pcap bytes and the truth.
pub fn generate(cfg: &SimConfig) -> Result<(Vec<u8>, Truth), Error> {
    let mut buf = Vec::new();
    let truth = write_scenario(cfg, &mut buf)?;
    Ok((buf, truth))
}

/// How a gateway's lines register (SPEC §3.1 account layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AccountMode {
    /// One account per line.
    Line,
    /// One account for all lines.
    Single,
    /// No REGISTER at all.
    Trunk,
}

/// What one gateway channel has been doing.
#[derive(Debug, Clone, Copy, Default)]
struct ChanUse {
    busy_until: u64,
    last_end: u64,
    calls: u32,
}

/// A host of the scenario and its settings.
#[derive(Debug)]
struct Host {
    role: Role,
    kind: Kind,
    vendor: Option<&'static str>,
    flavor: Flavor,
    /// Main SIP address (UDP, or the listening port for TCP servers).
    sip: SocketAddr,
    tcp: bool,
    lines: u32,
    accounts: Vec<String>,
    calls: u64,
    /// The host it registers to or is fed by.
    server: u32,
    /// Base request-to-response delay seen at the capture point.
    lat_us: u64,
    crypt: bool,
    challenge: bool,
    pt: u8,
    rtp_base: u16,
    style: NumberStyle,
    favourites: Vec<String>,
    /// Calls a gateway carries at once (its busy lines, at most `lines`).
    slots: u32,
    mode: AccountMode,
    /// Per channel (gateways).
    chans: Vec<ChanUse>,
    /// Index of its control plane.
    cp: Option<u32>,
    /// People: chance a call is outgoing, chance it is to a favourite, mean gap between
    /// calls, answer chance and median talk time.
    outgoing_p: f64,
    favourite_p: f64,
    gap_mean_s: f64,
    answer_p: f64,
    talk_median_s: f64,
    first_call_at: Option<u64>,
    imsis: Vec<String>,
    imeis: Vec<String>,
    iccids: Vec<String>,
}

impl Host {
    fn new(role: Role, kind: Kind, flavor: Flavor, sip: SocketAddr) -> Self {
        Host {
            role,
            kind,
            vendor: None,
            flavor,
            sip,
            tcp: false,
            lines: 0,
            accounts: Vec::new(),
            calls: 0,
            server: 0,
            lat_us: 10 * MS,
            crypt: false,
            challenge: false,
            pt: 8,
            rtp_base: 10_000,
            style: NumberStyle::Bare,
            favourites: Vec::new(),
            slots: 0,
            mode: AccountMode::Line,
            chans: Vec::new(),
            cp: None,
            outgoing_p: 0.4,
            favourite_p: 0.8,
            gap_mean_s: 8.0 * 60.0,
            answer_p: 0.8,
            talk_median_s: 150.0,
            first_call_at: None,
            imsis: Vec::new(),
            imeis: Vec::new(),
            iccids: Vec::new(),
        }
    }

    fn remember_identity(&mut self, imsi: &str, imei: &str, iccid: &str) {
        for (list, v) in [(&mut self.imsis, imsi), (&mut self.imeis, imei), (&mut self.iccids, iccid)] {
            if !list.iter().any(|x| x == v) {
                list.push(v.to_owned());
            }
        }
    }
}

/// Something to do at a time.
#[derive(Debug)]
enum Ev {
    Sip(Box<SipSend>),
    /// The rest of a split TCP message on this (src, dst).
    TcpRest(Box<(SocketAddr, SocketAddr)>),
    TcpRetx(Box<Retx>),
    TcpConnect(Box<(SocketAddr, SocketAddr)>),
    Rtp(u32),
    Register(u32),
    Options(u32),
    Line {
        gw: u32,
        line: u32,
    },
    Phone(u32),
    Trunk {
        site: u32,
        inbound: bool,
    },
    Dialler {
        site: u32,
        chan: u32,
    },
    /// A gateway channel's SMS-server keep-alive.
    KeepAlive {
        cp: u32,
        ch: u32,
    },
    /// A RECORD/HANGUP/STATE message, rendered when sent.
    CpCall(Box<CpCall>),
    /// A SIM-bank heartbeat.
    Bank(u32),
    /// A datagram ready to go (control-plane answers).
    Udp(Box<UdpSend>),
    /// A GSMTAP datagram of the cell side.
    Gsm(Box<cells::GsmFrame>),
    /// A cell's System Information, and its paging channel.
    Bcch(u32),
    Pch(u32),
    /// An ordinary phone's next move.
    Handset(u32),
    /// A gateway (cell-side index) powers off.
    PowerOff(u32),
}

#[derive(Debug)]
struct CpCall {
    cp: u32,
    ch: u32,
    what: CpWhat,
}

#[derive(Debug)]
enum CpWhat {
    Record(String),
    Hangup(String),
    State,
    /// The SIM bank authenticates the call's SIM.
    Auth,
}

/// Which counter a control-plane datagram adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UdpClass {
    Sms,
    SimBank,
}

#[derive(Debug)]
struct UdpSend {
    src: SocketAddr,
    dst: SocketAddr,
    bytes: Vec<u8>,
    class: UdpClass,
}

#[derive(Debug)]
struct Retx {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct Pending {
    t: u64,
    n: u64,
    ev: Ev,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.t, self.n) == (other.t, other.n)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    /// Reversed, so the max-heap pops the earliest event (ties: first scheduled).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.t, other.n).cmp(&(self.t, self.n))
    }
}

#[derive(Debug, Default)]
struct Stats {
    sip_messages: u64,
    rtp_packets: u64,
    control_messages: u64,
    simbank_packets: u64,
    fragmented: u64,
    tcp_retx: u64,
    last_t: u64,
}

#[derive(Debug)]
struct Trunk {
    pbx: u32,
    carrier: u32,
    /// The PBX's end of the trunk (an ephemeral port when the trunk is TCP).
    pbx_sip: SocketAddr,
    tcp: bool,
    dids: Vec<String>,
    customers: Vec<String>,
    /// Mean seconds between inbound and between outbound calls.
    inbound_gap_s: f64,
    outbound_gap_s: f64,
}

/// A call centre's predictive dialler.
#[derive(Debug, Clone)]
struct Dialler {
    host: u32,
    carrier: u32,
    caller_ids: Vec<String>,
    /// Cumulative outcome thresholds: answered, 486, 480, 404; the rest cancelled.
    outcome_at: [f64; 4],
    /// Share of numbers dialled that are landlines.
    landline_share: f64,
}

#[derive(Debug)]
struct Engine<W: Write> {
    cfg: SimConfig,
    rng: SmallRng,
    out: PcapOut<W>,
    heap: BinaryHeap<Pending>,
    n: u64,
    start_us: u64,
    hosts: Vec<Host>,
    regs: Vec<Registration>,
    kas: Vec<KeepAlive>,
    streams: Vec<Option<Stream>>,
    free_streams: Vec<u32>,
    tcp_pending: HashMap<(SocketAddr, SocketAddr), Vec<u8>>,
    noise: Vec<u8>,
    buf: Vec<u8>,
    stats: Stats,
    retx_forced: bool,
    coalesce_forced: bool,
    trunks: Vec<Trunk>,
    diallers: Vec<Dialler>,
    /// PBX host and its IPv6 address, for phones.
    pbx: Option<u32>,
    pbx_v6: SocketAddr,
    /// The basic scenario's carrier.
    carrier: Option<u32>,
    cps: Vec<ControlPlane>,
    /// (softswitch host, SMS server host), (softswitch host, SIM bank host).
    sms_servers: Vec<(u32, u32)>,
    bank_servers: Vec<(u32, u32)>,
    /// The cell side (`gsmtap`).
    radio: Option<Box<cells::Radio>>,
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// Addresses for the i-th of a group: the documentation /24 first, then 10/8.
fn numbered(doc: [u8; 3], private: u8, i: u32) -> IpAddr {
    if i < 200 {
        v4(doc[0], doc[1], doc[2], 10 + i as u8)
    } else {
        let j = i - 200;
        v4(10, private, (j / 200) as u8, 10 + (j % 200) as u8)
    }
}

fn even_port(rng: &mut SmallRng, lo: u16, hi: u16) -> u16 {
    rng.gen_range(lo / 2..hi / 2) * 2
}

impl<W: Write> Engine<W> {
    fn new(cfg: SimConfig, out: PcapOut<W>) -> Self {
        let mut rng = SmallRng::seed_from_u64(cfg.seed);
        let noise: Vec<u8> = (0..NOISE_LEN).map(|_| rng.gen()).collect();
        let start_us = cfg.start_unix * SEC;
        Engine {
            cfg,
            rng,
            out,
            heap: BinaryHeap::new(),
            n: 0,
            start_us,
            hosts: Vec::new(),
            regs: Vec::new(),
            kas: Vec::new(),
            streams: Vec::new(),
            free_streams: Vec::new(),
            tcp_pending: HashMap::new(),
            noise,
            buf: Vec::with_capacity(512),
            stats: Stats::default(),
            retx_forced: false,
            coalesce_forced: false,
            trunks: Vec::new(),
            diallers: Vec::new(),
            pbx: None,
            pbx_v6: SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x20, 0, 0, 0, 0, 0x10)), 5060),
            carrier: None,
            cps: Vec::new(),
            sms_servers: Vec::new(),
            bank_servers: Vec::new(),
            radio: None,
        }
    }

    fn at(&mut self, t: u64, ev: Ev) {
        self.n += 1;
        self.heap.push(Pending { t, n: self.n, ev });
    }

    fn host_vlan(&mut self, ip: IpAddr, vlan: u16) {
        if self.cfg.vlan {
            self.out.set_host_vlan(ip, vlan);
        }
    }

    /// Builds the hosts and schedules their first events.
    fn setup(&mut self) {
        let t0 = self.start_us;
        let n_gw = self.cfg.gateways + self.cfg.stripped;

        // Softswitches: one per three gateways.
        let n_ss = n_gw.div_ceil(3);
        let ss_first = self.hosts.len() as u32;
        for i in 0..n_ss {
            let port = if self.rng.gen_bool(0.5) { 5060 } else { 5080 };
            let mut h = Host::new(
                Role::Softswitch,
                Kind::Softswitch,
                Flavor::Softswitch,
                SocketAddr::new(numbered([203, 0, 113], 203, i), port),
            );
            h.style = NumberStyle::pick(&mut self.rng);
            self.hosts.push(h);
        }

        // Gateways, plain then stripped.
        for i in 0..n_gw {
            if self.cfg.vendor_mix {
                self.add_vendor_gateway(i, ss_first);
                continue;
            }
            let stripped = i >= self.cfg.gateways;
            let ip = numbered([198, 51, 100], 198, i);
            let port = if stripped || self.rng.gen_bool(0.5) { 5060 } else { self.rng.gen_range(5060..=6060) };
            let (role, flavor) = if stripped {
                let k = (i - self.cfg.gateways) as u8;
                (Role::GoipStripped, Flavor::Stripped(k))
            } else {
                (Role::Goip, Flavor::Dble)
            };
            let kind = if stripped { Kind::GoipStripped } else { Kind::GoipFingerprinted };
            let mut h = Host::new(role, kind, flavor, SocketAddr::new(ip, port));
            h.vendor = Some("dbl");
            h.lines = self.cfg.lines.unwrap_or_else(|| GOIP_LINE_COUNTS[self.rng.gen_range(0..GOIP_LINE_COUNTS.len())]);
            h.slots = h.lines;
            h.chans = vec![ChanUse::default(); h.lines as usize];
            h.server = ss_first + i / 3;
            h.lat_us = self.rng.gen_range(40 * MS..150 * MS);
            h.crypt = !stripped && self.rng.gen_bool(0.25);
            h.challenge = self.rng.gen_bool(0.3);
            h.pt = if self.rng.gen_bool(0.7) { 8 } else { 0 };
            h.rtp_base = even_port(&mut self.rng, 10_000, 20_000);
            let mode = match (i, self.rng.gen_range(0..20)) {
                (0, _) | (_, 0..=13) => AccountMode::Line,
                (_, 14..=16) => AccountMode::Single,
                _ => AccountMode::Trunk,
            };
            let gno = if stripped { i - self.cfg.gateways + 1 } else { i + 1 };
            h.accounts = match (mode, stripped) {
                (AccountMode::Line, false) => (1..=h.lines).map(|l| format!("goip{gno}_{l}")).collect(),
                (AccountMode::Line, true) => (1..=h.lines).map(|l| (7000 + gno * 100 + l).to_string()).collect(),
                (AccountMode::Single, false) => vec![format!("goip{gno}")],
                (AccountMode::Single, true) => vec![(7000 + gno * 100).to_string()],
                (AccountMode::Trunk, _) => Vec::new(),
            };
            h.mode = mode;
            let gw = self.hosts.len() as u32;
            if i % 3 == 1 {
                self.host_vlan(ip, 100 + (i % 3900) as u16);
            }
            self.hosts.push(h);
            self.setup_gateway(gw, stripped);
        }

        // PBX, phones, trunk carrier, dialler.
        let need_pbx = self.cfg.phones > 0 || self.cfg.pbx_trunk;
        let need_carrier = self.cfg.pbx_trunk || self.cfg.dialler;
        let carrier = if need_carrier {
            let h = Host::new(Role::Carrier, Kind::Carrier, Flavor::Carrier, SocketAddr::new(v4(192, 0, 2, 200), 5060));
            self.hosts.push(h);
            Some(self.hosts.len() as u32 - 1)
        } else {
            None
        };
        self.carrier = carrier;
        if need_pbx {
            let pbx_ip = v4(192, 0, 2, 10);
            let kind = if self.cfg.pbx_trunk { Kind::PbxTrunk } else { Kind::Pbx };
            let mut h = Host::new(Role::Pbx, kind, Flavor::Fpbx, SocketAddr::new(pbx_ip, 5060));
            h.lat_us = self.rng.gen_range(5 * MS..20 * MS);
            self.hosts.push(h);
            let pbx = self.hosts.len() as u32 - 1;
            self.pbx = Some(pbx);
            self.host_vlan(pbx_ip, 20);
            self.host_vlan(self.pbx_v6.ip(), 20);
            self.setup_phones(pbx);
            if let (true, Some(carrier)) = (self.cfg.pbx_trunk, carrier) {
                self.setup_trunk(pbx, carrier);
            }
        }
        if let (true, Some(carrier)) = (self.cfg.dialler, carrier) {
            let mut h =
                Host::new(Role::Dialler, Kind::CallCentre, Flavor::Dialler, SocketAddr::new(v4(192, 0, 2, 50), 5060));
            h.server = carrier;
            h.lat_us = self.rng.gen_range(5 * MS..20 * MS);
            self.hosts.push(h);
            let d = self.hosts.len() as u32 - 1;
            let caller_id = format!("0755{}", ids::digits(&mut self.rng, 8));
            self.diallers.push(Dialler {
                host: d,
                carrier,
                caller_ids: vec![caller_id],
                outcome_at: [0.25, 0.45, 0.60, 0.70],
                landline_share: 0.0,
            });
            for c in 0..DIALLER_CHANNELS {
                let t = t0 + self.rng.gen_range(0..20 * SEC);
                let t = self.office_hours(t);
                self.at(t, Ev::Dialler { site: 0, chan: c });
            }
            self.keepalive(
                d,
                carrier,
                self.hosts[d as usize].sip,
                self.hosts[carrier as usize].sip,
                false,
                "dialler".into(),
                60 * SEC,
            );
        }
        // The mixed scenario's additions: after every draw of the basic one.
        if self.cfg.control_plane {
            self.setup_control_planes();
        }
        self.setup_extras();
        // The cell side draws from its own generator, after everything else.
        if self.cfg.gsmtap {
            self.setup_radio();
        }
    }

    /// Schedule one registration per account of gateway `gw`, each refreshed
    /// a little before it expires, starting at a random phase after `t0`.
    #[allow(clippy::too_many_arguments)]
    fn register_lines(
        &mut self,
        gw: u32,
        flavor: Flavor,
        sip: SocketAddr,
        ss_sip: SocketAddr,
        accounts: &[String],
        expires: u32,
        t0: u64,
    ) {
        for account in accounts {
            let refresh_us = u64::from(expires) * SEC - self.rng.gen_range(0..2 * SEC);
            let reg = Registration {
                client_host: gw,
                flavor,
                server_flavor: Flavor::Softswitch,
                client: sip,
                server: ss_sip,
                tcp: false,
                account: account.clone(),
                expires,
                refresh_us,
                call_id: flavor.call_id(&mut self.rng, sip.ip()),
                from_tag: flavor.tag(&mut self.rng),
                cseq: 0,
                nonce: None,
            };
            let phase = self.rng.gen_range(0..refresh_us);
            self.regs.push(reg);
            self.at(t0 + phase, Ev::Register(self.regs.len() as u32 - 1));
        }
    }

    fn setup_gateway(&mut self, gw: u32, stripped: bool) {
        let t0 = self.start_us;
        let (server, sip, flavor, lines) = {
            let h = &self.hosts[gw as usize];
            (h.server, h.sip, h.flavor, h.lines)
        };
        let ss_sip = self.hosts[server as usize].sip;
        // Expiry: 60 or 120 s by default on GoIP (SPEC §3.1); a stripped box was
        // reconfigured like an ordinary SIP trunk.
        let expires = if stripped {
            600
        } else if self.rng.gen_bool(0.5) {
            60
        } else {
            120
        };
        let accounts = self.hosts[gw as usize].accounts.clone();
        self.register_lines(gw, flavor, sip, ss_sip, &accounts, expires, t0);
        let user = accounts.first().cloned().unwrap_or_else(|| "goip".into());
        let interval = if stripped || self.rng.gen_bool(0.5) { 60 } else { 30 } * SEC;
        self.keepalive(gw, server, sip, ss_sip, false, user, interval);
        for line in 0..lines {
            // The capture starts while the gateway is working: lines start staggered.
            let t = t0 + self.rng.gen_range(0..30 * SEC);
            self.at(t, Ev::Line { gw, line });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn keepalive(
        &mut self,
        from_host: u32,
        to_host: u32,
        from: SocketAddr,
        to: SocketAddr,
        tcp: bool,
        user: String,
        interval_us: u64,
    ) {
        let ka = KeepAlive {
            flavor: self.hosts[from_host as usize].flavor,
            peer_flavor: self.hosts[to_host as usize].flavor,
            from,
            to,
            tcp,
            user,
            interval_us,
            cseq: self.rng.gen_range(1..100),
        };
        // After 3 s so TCP connections are up first.
        let t = self.start_us + 3 * SEC + self.rng.gen_range(0..interval_us);
        self.kas.push(ka);
        self.at(t, Ev::Options(self.kas.len() as u32 - 1));
    }

    fn setup_phones(&mut self, pbx: u32) {
        let t0 = self.start_us;
        let n = self.cfg.phones;
        let mut tcp: Vec<bool> = (0..n).map(|_| self.rng.gen_bool(self.cfg.tcp_share)).collect();
        if self.cfg.tcp_share > 0.0 && n > 0 && !tcp.contains(&true) {
            tcp[0] = true;
        }
        let exts: Vec<String> = (0..n).map(|i| (201 + i).to_string()).collect();
        for i in 0..n {
            let flavor = Flavor::PHONES[i as usize % Flavor::PHONES.len()];
            let v6 = self.cfg.ipv6 && n >= 3 && i == n - 1;
            let ip = if v6 {
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x20, 0, 0, 0, 0, 0x100 + i as u16))
            } else {
                v4(192, 0, 2, 100 + i as u8)
            };
            let port = if tcp[i as usize] {
                self.rng.gen_range(40_000..61_000)
            } else if flavor == Flavor::Zoiper || self.rng.gen_bool(0.5) {
                5060
            } else {
                self.rng.gen_range(5062..5100)
            };
            let sip = SocketAddr::new(ip, port);
            let mut h = Host::new(Role::Phone, Kind::PbxPhone, flavor, sip);
            h.tcp = tcp[i as usize];
            h.server = pbx;
            h.lat_us = self.rng.gen_range(2 * MS..10 * MS);
            h.accounts = vec![exts[i as usize].clone()];
            h.pt = match flavor {
                Flavor::Yealink => 9,
                Flavor::Zoiper => 0,
                _ => {
                    if self.rng.gen_bool(0.5) {
                        0
                    } else {
                        8
                    }
                }
            };
            h.rtp_base = even_port(&mut self.rng, 7_000, 9_000);
            // Favourite numbers: a few colleagues' extensions, family, the office.
            let k = self.rng.gen_range(3..=5);
            h.favourites = (0..k)
                .map(|j| match j {
                    0 | 1 if n > 1 => exts[(i as usize + 1 + j) % n as usize].clone(),
                    2 => ids::cn_landline(&mut self.rng),
                    _ => ids::cn_mobile(&mut self.rng),
                })
                .collect();
            self.hosts.push(h);
            let phone = self.hosts.len() as u32 - 1;
            self.host_vlan(ip, 20);

            let pbx_sip = self.pbx_sip_for(ip);
            let expires = 3600;
            let refresh_us = expires as u64 * SEC * 9 / 10;
            let reg_at = if tcp[i as usize] {
                let c = t0 + self.rng.gen_range(0..2 * SEC);
                self.at(c, Ev::TcpConnect(Box::new((sip, pbx_sip))));
                c + 10 * MS
            } else {
                t0 + self.rng.gen_range(0..300 * SEC)
            };
            let reg = Registration {
                client_host: phone,
                flavor,
                server_flavor: Flavor::Fpbx,
                client: sip,
                server: pbx_sip,
                tcp: tcp[i as usize],
                account: exts[i as usize].clone(),
                expires,
                refresh_us,
                call_id: flavor.call_id(&mut self.rng, ip),
                from_tag: flavor.tag(&mut self.rng),
                cseq: self.rng.gen_range(0..50),
                nonce: None,
            };
            self.regs.push(reg);
            self.at(reg_at, Ev::Register(self.regs.len() as u32 - 1));
            self.keepalive(pbx, phone, pbx_sip, sip, tcp[i as usize], "asterisk".into(), 60 * SEC);
            let first_call = t0 + self.rng.gen_range(10 * SEC..240 * SEC);
            self.at(first_call, Ev::Phone(phone));
        }
    }

    /// Where a phone sends its SIP: its PBX (by address family) or its provider.
    fn server_sip_for(&self, phone: u32) -> SocketAddr {
        let h = &self.hosts[phone as usize];
        if Some(h.server) == self.pbx {
            self.pbx_sip_for(h.sip.ip())
        } else {
            self.hosts[h.server as usize].sip
        }
    }

    fn pbx_sip_for(&self, ip: IpAddr) -> SocketAddr {
        match (ip, self.pbx) {
            (IpAddr::V6(_), _) => self.pbx_v6,
            (_, Some(p)) => self.hosts[p as usize].sip,
            (_, None) => unreachable!("phones exist only with a PBX"),
        }
    }

    fn setup_trunk(&mut self, pbx: u32, carrier: u32) {
        let t0 = self.start_us;
        let tcp = self.rng.gen_bool(self.cfg.tcp_share);
        let pbx_ip = self.hosts[pbx as usize].sip.ip();
        let pbx_sip = if tcp {
            SocketAddr::new(pbx_ip, self.rng.gen_range(30_000..40_000))
        } else {
            self.hosts[pbx as usize].sip
        };
        let carrier_sip = self.hosts[carrier as usize].sip;
        let dids: Vec<String> = (0..3).map(|_| format!("0755{}", ids::digits(&mut self.rng, 8))).collect();
        let customers: Vec<String> =
            (0..40)
                .map(|_| {
                    if self.rng.gen_bool(0.6) {
                        ids::cn_mobile(&mut self.rng)
                    } else {
                        ids::cn_landline(&mut self.rng)
                    }
                })
                .collect();
        self.hosts[pbx as usize].accounts = vec![dids[0].clone()];
        if tcp {
            self.at(t0, Ev::TcpConnect(Box::new((pbx_sip, carrier_sip))));
        }
        let registered = [dids[0].clone()];
        self.start_trunk(pbx, carrier, pbx_sip, tcp, &registered, dids, customers, (45.0, 60.0), t0);
    }

    /// Register `accounts` of PBX `pbx` with its carrier, keep the trunk
    /// alive, and start its inbound and outbound calls.
    #[allow(clippy::too_many_arguments)]
    fn start_trunk(
        &mut self,
        pbx: u32,
        carrier: u32,
        pbx_sip: SocketAddr,
        tcp: bool,
        accounts: &[String],
        dids: Vec<String>,
        customers: Vec<String>,
        (inbound_gap_s, outbound_gap_s): (f64, f64),
        t0: u64,
    ) {
        let carrier_sip = self.hosts[carrier as usize].sip;
        for account in accounts {
            let reg = Registration {
                client_host: pbx,
                flavor: Flavor::Fpbx,
                server_flavor: Flavor::Carrier,
                client: pbx_sip,
                server: carrier_sip,
                tcp,
                account: account.clone(),
                expires: 3600,
                refresh_us: 3300 * SEC,
                call_id: Flavor::Fpbx.call_id(&mut self.rng, pbx_sip.ip()),
                from_tag: Flavor::Fpbx.tag(&mut self.rng),
                cseq: 0,
                nonce: None,
            };
            self.regs.push(reg);
            let at = t0 + self.rng.gen_range(MS..120 * SEC);
            self.at(at, Ev::Register(self.regs.len() as u32 - 1));
        }
        self.keepalive(pbx, carrier, pbx_sip, carrier_sip, tcp, "asterisk".into(), 60 * SEC);
        let site = self.trunks.len() as u32;
        self.trunks.push(Trunk { pbx, carrier, pbx_sip, tcp, dids, customers, inbound_gap_s, outbound_gap_s });
        for inbound in [true, false] {
            let at = t0 + self.rng.gen_range(0..30 * SEC);
            self.at(at, Ev::Trunk { site, inbound });
        }
    }

    /// Pops events until the end time or the packet target.
    fn run(&mut self) -> Result<(), Error> {
        let end = match self.cfg.target_packets {
            Some(_) => self.start_us + MAX_SIM_TIME.as_micros() as u64,
            None => self.start_us + self.cfg.duration.as_micros() as u64,
        };
        while let Some(p) = self.heap.pop() {
            if p.t > end {
                break;
            }
            if let Some(target) = self.cfg.target_packets {
                if self.out.packets() >= target {
                    break;
                }
            }
            self.dispatch(p.t, p.ev)?;
        }
        Ok(())
    }

    fn finish(self) -> (Truth, PcapOut<W>) {
        let gateways = self
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| TruthHost {
                address: h.sip.ip().to_string(),
                sip_port: h.sip.port(),
                role: h.role,
                kind: h.kind,
                label: if h.role.is_simbox() { Label::Simbox } else { Label::Clean },
                vendor: h.vendor.map(str::to_owned),
                user_agent: h.flavor.user_agent().map(str::to_owned),
                lines: h.lines,
                accounts: h.accounts.clone(),
                calls: h.calls,
                first_call_at: h.first_call_at,
                imsis: h.imsis.clone(),
                imeis: h.imeis.clone(),
                iccids: h.iccids.clone(),
                uses_simbank: h.cp.is_some_and(|c| self.cps[c as usize].simbank.is_some()),
                cell: self.radio_cell_of(i as u32),
            })
            .collect();
        let (gsmtap_packets, cells, links, handsets) = self.radio_truth();
        let last = self.stats.last_t.max(self.start_us);
        let truth = Truth {
            seed: self.cfg.seed,
            scenario: self.cfg.preset.name().to_owned(),
            start_unix: self.cfg.start_unix,
            duration_s: (last - self.start_us) as f64 / SEC as f64,
            gateways,
            packets: self.out.packets(),
            bytes: self.out.bytes(),
            sip_messages: self.stats.sip_messages,
            rtp_packets: self.stats.rtp_packets,
            control_messages: self.stats.control_messages,
            simbank_packets: self.stats.simbank_packets,
            fragmented_datagrams: self.stats.fragmented,
            tcp_retransmissions: self.stats.tcp_retx,
            gsmtap_packets,
            cells,
            links,
            handsets,
        };
        (truth, self.out)
    }

    fn dispatch(&mut self, t: u64, ev: Ev) -> Result<(), Error> {
        self.stats.last_t = t;
        match ev {
            Ev::Sip(send) => self.send_sip(t, *send),
            Ev::Rtp(id) => self.rtp(t, id),
            Ev::TcpRest(key) => {
                if let Some(rest) = self.tcp_pending.remove(&*key) {
                    self.tcp_chunk(t, key.0, key.1, rest)?;
                }
                Ok(())
            }
            Ev::TcpRetx(r) => {
                self.stats.tcp_retx += 1;
                self.out.tcp_resend(t, r.src, r.dst, r.seq, &r.bytes)
            }
            Ev::TcpConnect(pair) => self.out.tcp_connect(t, pair.0, pair.1),
            Ev::Register(r) => {
                let host = self.regs[r as usize].client_host;
                let lat = self.lat(host);
                let sends = sip::render_register(&mut self.rng, &mut self.regs[r as usize], lat);
                self.schedule_sends(t, sends);
                let next = t + self.regs[r as usize].refresh_us;
                self.at(next, Ev::Register(r));
                Ok(())
            }
            Ev::Options(k) => {
                let lat = self.rng.gen_range(2 * MS..60 * MS);
                let sends = sip::render_options(&mut self.rng, &mut self.kas[k as usize], lat);
                self.schedule_sends(t, sends);
                let next = t + self.kas[k as usize].interval_us;
                self.at(next, Ev::Options(k));
                Ok(())
            }
            Ev::Line { gw, line } => {
                let ch = self.pick_channel(t, gw, line);
                self.maybe_rotate(t, gw, ch)?;
                let (end, number, times) = self.goip_call(t, gw, ch);
                if self.radio.is_some() {
                    self.gsm_gateway_call(t, gw, ch, &number, &times);
                }
                self.after_goip_call(t, gw, ch, end, number);
                let gap = self.rng.gen_range(300 * MS..3 * SEC);
                self.at(end + gap, Ev::Line { gw, line });
                Ok(())
            }
            Ev::Phone(p) => {
                let end = self.phone_call(t, p);
                // People leave minutes between calls.
                let mean = self.hosts[p as usize].gap_mean_s;
                let gap = (self.exp(mean) * SEC as f64) as u64 + 20 * SEC;
                let gap = self.human_gap(end, gap);
                self.at(end + gap, Ev::Phone(p));
                Ok(())
            }
            Ev::Trunk { site, inbound } => {
                self.trunk_call(t, site, inbound);
                let tr = &self.trunks[site as usize];
                let mean = if inbound { tr.inbound_gap_s } else { tr.outbound_gap_s };
                let gap = (self.exp(mean) * SEC as f64) as u64 + SEC;
                let gap = self.human_gap(t, gap);
                self.at(t + gap, Ev::Trunk { site, inbound });
                Ok(())
            }
            Ev::Dialler { site, chan } => {
                let end = self.dialler_call(t, site);
                let gap = self.rng.gen_range(500 * MS..4 * SEC);
                let next = self.office_hours(end + gap);
                self.at(next, Ev::Dialler { site, chan });
                Ok(())
            }
            Ev::KeepAlive { cp, ch } => self.goip_keepalive(t, cp, ch),
            Ev::CpCall(c) => self.goip_call_message(t, *c),
            Ev::Bank(cp) => self.bank_heartbeat(t, cp),
            Ev::Udp(u) => self.send_udp(t, &u),
            Ev::Gsm(f) => self.write_gsm(t, *f),
            Ev::Bcch(c) => {
                self.gsm_bcch(t, c);
                Ok(())
            }
            Ev::Pch(c) => {
                self.gsm_pch(t, c);
                Ok(())
            }
            Ev::Handset(h) => {
                self.gsm_handset(t, h);
                Ok(())
            }
            Ev::PowerOff(g) => {
                self.gsm_power_off(g);
                Ok(())
            }
        }
    }

    /// Local hour of day (China time) at capture time `t`.
    fn local_hour(t: u64) -> u64 {
        (t / SEC + CHINA_UTC_OFFSET_S) % 86_400 / 3_600
    }

    /// A person's gap between calls stretched by the hour it starts at: people call
    /// little at night (with `diurnal`; otherwise unchanged).
    fn human_gap(&self, t: u64, gap: u64) -> u64 {
        if !self.cfg.diurnal {
            return gap;
        }
        let activity = match Self::local_hour(t) {
            0..=6 => 0.05,
            7 | 8 | 22 | 23 => 0.4,
            _ => 1.0,
        };
        (gap as f64 / activity) as u64
    }

    /// `t`, or the next opening (09:00 China time) when a call centre is closed then
    /// (with `diurnal`; otherwise `t`).
    fn office_hours(&mut self, t: u64) -> u64 {
        if !self.cfg.diurnal || (9..21).contains(&Self::local_hour(t)) {
            return t;
        }
        let local_s = t / SEC + CHINA_UTC_OFFSET_S;
        let day_s = local_s % 86_400;
        let until_open = if day_s < 9 * 3_600 { 9 * 3_600 - day_s } else { 86_400 - day_s + 9 * 3_600 };
        t + until_open * SEC + self.rng.gen_range(0..10 * 60 * SEC)
    }

    /// An exponential draw with this mean.
    fn exp(&mut self, mean: f64) -> f64 {
        let u: f64 = self.rng.gen_range(1e-9..1.0);
        -mean * u.ln()
    }

    /// A log-normal-ish duration: median `median_s`, clamped to [lo, hi] seconds.
    fn lognormal_s(&mut self, median_s: f64, lo: f64, hi: f64) -> u64 {
        // Sum of uniforms approximates a normal; sigma 0.8 in log space.
        let z: f64 = (0..6).map(|_| self.rng.gen_range(-1.0..1.0)).sum::<f64>() / 1.414;
        let s = (median_s * (0.8 * z).exp()).clamp(lo, hi);
        (s * SEC as f64) as u64
    }

    fn lat(&mut self, host: u32) -> u64 {
        let base = self.hosts[host as usize].lat_us;
        base + self.rng.gen_range(0..base / 4 + 1)
    }

    fn schedule_sends(&mut self, t: u64, sends: Vec<(u64, SipSend)>) {
        for (off, s) in sends {
            self.at(t + off, Ev::Sip(Box::new(s)));
        }
    }

    /// Renders a call starting at `t`, schedules it, returns when it ends.
    fn start_call(&mut self, t: u64, spec: &CallSpec) -> u64 {
        self.start_timed_call(t, spec).0
    }

    /// [`Engine::start_call`], also returning when the call's milestones come.
    fn start_timed_call(&mut self, t: u64, spec: &CallSpec) -> (u64, CallTimes) {
        let script = sip::render_call(&mut self.rng, spec);
        self.schedule_sends(t, script.sends);
        if self.cfg.rtp {
            for sp in script.streams {
                if sp.until_us <= sp.start_us {
                    continue;
                }
                let slots = (sp.until_us - sp.start_us) / (u64::from(spec.ptime_ms) * MS);
                let seed = StreamSeed {
                    ssrc: self.rng.gen(),
                    seq: self.rng.gen(),
                    ts: self.rng.gen(),
                    dtmf_at: self.rng.gen_range(0..slots / 2 + 1),
                };
                let stream = Stream::new(
                    sp.src,
                    sp.dst,
                    sp.pt,
                    t + sp.start_us,
                    t + sp.until_us,
                    spec.ptime_ms,
                    sp.dtmf_digits,
                    seed,
                );
                let id = match self.free_streams.pop() {
                    Some(id) => {
                        self.streams[id as usize] = Some(stream);
                        id
                    }
                    None => {
                        self.streams.push(Some(stream));
                        self.streams.len() as u32 - 1
                    }
                };
                self.at(t + sp.start_us, Ev::Rtp(id));
            }
        }
        (t + script.end_us, script.times)
    }

    fn rtp(&mut self, t: u64, id: u32) -> Result<(), Error> {
        let Some(s) = self.streams[id as usize].as_mut() else {
            return Ok(());
        };
        s.packet(&self.noise, &mut self.buf);
        let (src, dst, next, until) = (s.src, s.dst, s.next_us, s.until_us);
        self.out.udp(t, src, dst, &self.buf)?;
        self.stats.rtp_packets += 1;
        if next < until {
            let jitter = self.rng.gen_range(0..RTP_JITTER_US);
            self.at(next + jitter, Ev::Rtp(id));
        } else {
            self.streams[id as usize] = None;
            self.free_streams.push(id);
        }
        Ok(())
    }

    fn send_sip(&mut self, t: u64, send: SipSend) -> Result<(), Error> {
        self.stats.sip_messages += u64::from(send.messages);
        if let Some((a, b)) = send.call {
            for h in [a, b] {
                let h = &mut self.hosts[h as usize];
                h.calls += 1;
                h.first_call_at.get_or_insert(t);
            }
        }
        if send.tcp {
            return self.tcp_message(t, send.src, send.dst, send.bytes);
        }
        match (send.src, send.dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) if send.bytes.len() + IPV4_UDP_OVERHEAD > ETHERNET_MTU => {
                self.out.udp_fragmented(t, s, d, &send.bytes, ETHERNET_MTU)?;
                self.stats.fragmented += 1;
                Ok(())
            }
            (s, d) => self.out.udp(t, s, d, &send.bytes),
        }
    }

    /// A SIP message over TCP: maybe split in two segments (the rest a little later),
    /// maybe retransmitted.
    fn tcp_message(&mut self, t: u64, src: SocketAddr, dst: SocketAddr, bytes: Vec<u8>) -> Result<(), Error> {
        // Bytes still queued on this direction go first, or the stream would reorder.
        if let Some(rest) = self.tcp_pending.remove(&(src, dst)) {
            self.out.tcp_send(t, src, dst, &rest, TCP_MSS)?;
        }
        let cut = if bytes.len() > TCP_MSS {
            TCP_MSS
        } else if bytes.len() >= 8 && self.rng.gen_bool(TCP_SPLIT_P) {
            self.rng.gen_range(bytes.len() / 3..=bytes.len() * 2 / 3)
        } else {
            bytes.len()
        };
        let seq = self.out.tcp_segment(t, src, dst, &bytes[..cut])?;
        if !self.retx_forced || self.rng.gen_bool(TCP_RETX_P) {
            self.retx_forced = true;
            let retx = Retx { src, dst, seq, bytes: bytes[..cut].to_vec() };
            let rto = self.rng.gen_range(200 * MS..400 * MS);
            self.at(t + rto, Ev::TcpRetx(Box::new(retx)));
        }
        if cut < bytes.len() {
            self.tcp_pending.insert((src, dst), bytes[cut..].to_vec());
            let delay = self.rng.gen_range(200..3 * MS);
            self.at(t + delay, Ev::TcpRest(Box::new((src, dst))));
        }
        Ok(())
    }

    /// Writes up to one MSS of a pending rest; queues what remains.
    fn tcp_chunk(&mut self, t: u64, src: SocketAddr, dst: SocketAddr, rest: Vec<u8>) -> Result<(), Error> {
        let cut = rest.len().min(TCP_MSS);
        self.out.tcp_segment(t, src, dst, &rest[..cut])?;
        if cut < rest.len() {
            self.tcp_pending.insert((src, dst), rest[cut..].to_vec());
            let delay = self.rng.gen_range(200..3 * MS);
            self.at(t + delay, Ev::TcpRest(Box::new((src, dst))));
        }
        Ok(())
    }

    /// Whether a TCP callee sends 100 and 18x in one segment: always the first time
    /// (so every capture with SIP over TCP has one), then half the time.
    fn coalesce(&mut self, tcp: bool) -> bool {
        if !tcp {
            return false;
        }
        if !self.coalesce_forced {
            self.coalesce_forced = true;
            return true;
        }
        self.rng.gen_bool(0.5)
    }

    /// The talk time of an answered GoIP call: mostly under a minute (SPEC §3.3).
    fn goip_talk(&mut self) -> u64 {
        let r: f64 = self.rng.gen();
        let s = if r < 0.6 {
            self.rng.gen_range(8.0..45.0)
        } else if r < 0.9 {
            self.rng.gen_range(45.0..120.0)
        } else {
            self.rng.gen_range(120.0..400.0)
        };
        (s * SEC as f64) as u64
    }

    /// How a call to a gateway line ends: about a third answered (SPEC §3.3).
    fn goip_outcome(&mut self) -> Outcome {
        let r: f64 = self.rng.gen();
        if r < 0.35 {
            let ring_us = self.rng.gen_range(3 * SEC..25 * SEC);
            let bye_from_callee = self.rng.gen_bool(0.5);
            Outcome::Answer { ring_us, talk_us: self.goip_talk(), bye_from_callee }
        } else if r < 0.55 {
            Outcome::Reject { code: 480, after_us: self.rng.gen_range(500 * MS..5 * SEC) }
        } else if r < 0.65 {
            Outcome::Reject { code: 486, after_us: self.rng.gen_range(SEC..8 * SEC) }
        } else if r < 0.80 {
            Outcome::Reject { code: 408, after_us: self.rng.gen_range(40 * SEC..60 * SEC) }
        } else {
            Outcome::Cancel { after_us: self.rng.gen_range(3 * SEC..35 * SEC) }
        }
    }

    /// One call from the softswitch to a gateway channel; returns when it ends, the
    /// national number dialled and the call's milestones.
    fn goip_call(&mut self, t: u64, gw: u32, line: u32) -> (u64, String, CallTimes) {
        let g = &self.hosts[gw as usize];
        let (ss, gsip, gflavor, challenge, crypt, pt, rtp_base) =
            (g.server, g.sip, g.flavor, g.challenge, g.crypt, g.pt, g.rtp_base);
        let account = match g.accounts.len() {
            0 => "goip".to_owned(),
            1 => g.accounts[0].clone(),
            _ => g.accounts[line as usize % g.accounts.len()].clone(),
        };
        let no_account = g.accounts.is_empty();
        let s = &self.hosts[ss as usize];
        let (ss_sip, style) = (s.sip, s.style);
        let national = ids::cn_mobile(&mut self.rng);
        let number = style.apply(&national);
        // chan_sip gateways put the dialled number in Contact (as in the OpenVox
        // captures); so do other gateways without an account in the mixed scenario,
        // where a fixed "goip" would be a fingerprint of a stripped box.
        let account = if self.cfg.vendor_mix && (gflavor == Flavor::VoxStack || (no_account && !gflavor.is_goip())) {
            number.clone()
        } else {
            account
        };
        let caller = ids::arbitrary_caller(&mut self.rng);
        let outcome = self.goip_outcome();
        let rng = &mut self.rng;
        let answered = matches!(outcome, Outcome::Answer { .. });
        let spec = CallSpec {
            caller: Party {
                host: ss,
                flavor: Flavor::Softswitch,
                sip: ss_sip,
                tcp: false,
                user: caller.clone(),
                rtp_port: even_port(rng, 10_000, 60_000),
            },
            callee: Party {
                host: gw,
                flavor: gflavor,
                sip: gsip,
                tcp: false,
                user: account.clone(),
                rtp_port: rtp_base + 2 * rng.gen_range(0..1000),
            },
            ruri_user: number.clone(),
            to_user: number,
            from_domain: sip::host(ss_sip.ip()),
            display: rng.gen_bool(0.3).then_some(caller),
            auth: if challenge { Auth::Challenge { code: 401, user: account } } else { Auth::None },
            early_media: rng.gen_bool(0.7),
            progress_delay_us: rng.gen_range(1_500 * MS..6 * SEC),
            lat_us: 0,
            outcome,
            offer_pts: &[8, 0, 18, 101],
            pt,
            crypt: crypt.then(|| ids::hex(rng, 16)),
            large: rng.gen_bool(self.cfg.fragment_share),
            coalesce_provisional: false,
            dtmf_digits: if answered && rng.gen_bool(0.1) { rng.gen_range(1..=4) } else { 0 },
            ptime_ms: self.cfg.rtp_ptime_ms,
        };
        let spec = CallSpec { lat_us: self.lat(gw), ..spec };
        let (end, times) = self.start_timed_call(t, &spec);
        (end, national, times)
    }

    /// A normal person's call outcome: mostly answered, minutes long.
    fn human_outcome(&mut self, answer_p: f64, median_talk_s: f64) -> Outcome {
        if self.rng.gen_bool(answer_p) {
            let ring_us = self.rng.gen_range(2 * SEC..12 * SEC);
            let talk_us = self.lognormal_s(median_talk_s, 15.0, 1800.0);
            let bye_from_callee = self.rng.gen_bool(0.5);
            Outcome::Answer { ring_us, talk_us, bye_from_callee }
        } else {
            match self.rng.gen_range(0..3) {
                0 => Outcome::Reject { code: 486, after_us: self.rng.gen_range(SEC..10 * SEC) },
                1 => Outcome::Reject { code: 480, after_us: self.rng.gen_range(20 * SEC..30 * SEC) },
                _ => Outcome::Cancel { after_us: self.rng.gen_range(5 * SEC..25 * SEC) },
            }
        }
    }

    /// A call between a phone and the PBX, either way.
    fn phone_call(&mut self, t: u64, p: u32) -> u64 {
        let pbx = self.hosts[p as usize].server;
        let h = &self.hosts[p as usize];
        let (sip, tcp, flavor, pt, rtp_base, ext) = (h.sip, h.tcp, h.flavor, h.pt, h.rtp_base, h.accounts[0].clone());
        let (outgoing_p, favourite_p, answer_p, talk_median_s) =
            (h.outgoing_p, h.favourite_p, h.answer_p, h.talk_median_s);
        let favourites = h.favourites.clone();
        let pbx_sip = self.server_sip_for(p);
        let pbx_flavor = self.hosts[pbx as usize].flavor;
        let outgoing = self.rng.gen_bool(outgoing_p);
        let other = if self.rng.gen_bool(favourite_p) && !favourites.is_empty() {
            favourites[self.rng.gen_range(0..favourites.len())].clone()
        } else if self.rng.gen_bool(0.5) {
            ids::cn_mobile(&mut self.rng)
        } else {
            ids::cn_landline(&mut self.rng)
        };
        let outcome = self.human_outcome(answer_p, talk_median_s);
        let answered = matches!(outcome, Outcome::Answer { .. });
        let phone_party =
            Party { host: p, flavor, sip, tcp, user: ext.clone(), rtp_port: rtp_base + 2 * self.rng.gen_range(0..500) };
        let pbx_party = |user: String, rng: &mut SmallRng| Party {
            host: pbx,
            flavor: pbx_flavor,
            sip: pbx_sip,
            tcp,
            user,
            rtp_port: even_port(rng, 10_000, 20_000),
        };
        let offer_pts: &'static [u8] = match flavor {
            Flavor::Linphone => &[96, 0, 8, 101],
            Flavor::Zoiper => &[0, 8, 3, 101],
            Flavor::Yealink => &[9, 0, 8, 18, 101],
            _ => &[8, 0, 9, 101],
        };
        let coalesce = self.coalesce(tcp);
        let (caller, callee, ruri_user, to_user, from_domain, auth, large, offer) = if outgoing {
            let large = self.rng.gen_bool(self.cfg.fragment_share) && (sip.is_ipv4() || tcp);
            (
                phone_party,
                pbx_party(other.clone(), &mut self.rng),
                other.clone(),
                other,
                sip::host(pbx_sip.ip()),
                Auth::Challenge { code: 407, user: ext },
                large,
                offer_pts,
            )
        } else {
            (
                pbx_party(other, &mut self.rng),
                phone_party,
                ext.clone(),
                ext,
                sip::host(pbx_sip.ip()),
                Auth::None,
                false,
                &[0u8, 8, 9, 101][..],
            )
        };
        let spec = CallSpec {
            caller,
            callee,
            ruri_user,
            to_user,
            from_domain,
            display: None,
            auth,
            early_media: false,
            progress_delay_us: self.rng.gen_range(100 * MS..SEC),
            lat_us: self.lat(p),
            outcome,
            offer_pts: offer,
            pt,
            crypt: None,
            large,
            coalesce_provisional: coalesce,
            dtmf_digits: if answered && self.rng.gen_bool(0.15) { self.rng.gen_range(1..=4) } else { 0 },
            ptime_ms: self.cfg.rtp_ptime_ms,
        };
        self.start_call(t, &spec)
    }

    /// A call over the PBX trunk, inbound (carrier → PBX) or outbound.
    fn trunk_call(&mut self, t: u64, site: u32, inbound: bool) {
        let tr = &self.trunks[site as usize];
        let (pbx, carrier, pbx_sip, tcp) = (tr.pbx, tr.carrier, tr.pbx_sip, tr.tcp);
        let did = tr.dids[self.rng.gen_range(0..tr.dids.len())].clone();
        // Customers: a skewed pick, so some are called again and again.
        let k = (self.rng.gen::<f64>().powi(2) * tr.customers.len() as f64) as usize;
        let customer = tr.customers[k.min(tr.customers.len() - 1)].clone();
        let carrier_sip = self.hosts[carrier as usize].sip;
        let rng = &mut self.rng;
        let pbx_party = |user: String, rng: &mut SmallRng| Party {
            host: pbx,
            flavor: Flavor::Fpbx,
            sip: pbx_sip,
            tcp,
            user,
            rtp_port: even_port(rng, 10_000, 20_000),
        };
        let carrier_party = |user: String, rng: &mut SmallRng| Party {
            host: carrier,
            flavor: Flavor::Carrier,
            sip: carrier_sip,
            tcp,
            user,
            rtp_port: even_port(rng, 20_000, 40_000),
        };
        let (caller, callee, number, from_domain) = if inbound {
            let from = if rng.gen_bool(0.5) { customer } else { ids::cn_mobile(rng) };
            (carrier_party(from, rng), pbx_party(did.clone(), rng), did, sip::host(carrier_sip.ip()))
        } else {
            (pbx_party(did, rng), carrier_party(customer.clone(), rng), customer, sip::host(pbx_sip.ip()))
        };
        let outcome = self.human_outcome(if inbound { 0.9 } else { 0.65 }, 180.0);
        let spec = CallSpec {
            caller,
            callee,
            ruri_user: number.clone(),
            to_user: number,
            from_domain,
            display: None,
            auth: Auth::None,
            early_media: !inbound,
            progress_delay_us: self.rng.gen_range(200 * MS..3 * SEC),
            lat_us: self.lat(pbx),
            outcome,
            offer_pts: &[8, 0, 18, 101],
            pt: 8,
            crypt: None,
            large: false,
            coalesce_provisional: self.coalesce(tcp),
            dtmf_digits: if inbound && self.rng.gen_bool(0.3) { self.rng.gen_range(1..=3) } else { 0 },
            ptime_ms: self.cfg.rtp_ptime_ms,
        };
        self.start_call(t, &spec);
    }

    /// One dialler attempt to a fresh number (a mobile, or sometimes a landline).
    fn dialler_call(&mut self, t: u64, site: u32) -> u64 {
        let dl = &self.diallers[site as usize];
        let (d, carrier, at, landline_share) = (dl.host, dl.carrier, dl.outcome_at, dl.landline_share);
        let caller_id = match dl.caller_ids.len() {
            1 => dl.caller_ids[0].clone(),
            n => dl.caller_ids[self.rng.gen_range(0..n)].clone(),
        };
        let dsip = self.hosts[d as usize].sip;
        let csip = self.hosts[carrier as usize].sip;
        let rng = &mut self.rng;
        let number = if landline_share > 0.0 && rng.gen_bool(landline_share) {
            ids::cn_landline(rng)
        } else {
            ids::cn_mobile(rng)
        };
        let r: f64 = rng.gen();
        let outcome = if r < at[0] {
            Outcome::Answer {
                ring_us: rng.gen_range(4 * SEC..20 * SEC),
                talk_us: rng.gen_range(10 * SEC..120 * SEC),
                bye_from_callee: rng.gen_bool(0.4),
            }
        } else if r < at[1] {
            Outcome::Reject { code: 486, after_us: rng.gen_range(SEC..10 * SEC) }
        } else if r < at[2] {
            Outcome::Reject { code: 480, after_us: rng.gen_range(500 * MS..3 * SEC) }
        } else if r < at[3] {
            Outcome::Reject { code: 404, after_us: rng.gen_range(200 * MS..SEC) }
        } else {
            Outcome::Cancel { after_us: rng.gen_range(18 * SEC..25 * SEC) }
        };
        let spec = CallSpec {
            caller: Party {
                host: d,
                flavor: Flavor::Dialler,
                sip: dsip,
                tcp: false,
                user: caller_id,
                rtp_port: even_port(rng, 10_000, 20_000),
            },
            callee: Party {
                host: carrier,
                flavor: Flavor::Carrier,
                sip: csip,
                tcp: false,
                user: number.clone(),
                rtp_port: even_port(rng, 20_000, 40_000),
            },
            ruri_user: number.clone(),
            to_user: number,
            from_domain: sip::host(dsip.ip()),
            display: None,
            auth: Auth::None,
            early_media: true,
            progress_delay_us: rng.gen_range(SEC..4 * SEC),
            lat_us: 0,
            outcome,
            offer_pts: &[0, 8, 101],
            pt: 0,
            crypt: None,
            large: false,
            coalesce_provisional: false,
            dtmf_digits: 0,
            ptime_ms: self.cfg.rtp_ptime_ms,
        };
        let spec = CallSpec { lat_us: self.lat(d), ..spec };
        self.start_call(t, &spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SimConfig {
        SimConfig {
            duration: Duration::from_secs(60),
            gateways: 1,
            lines: Some(4),
            stripped: 1,
            phones: 3,
            ..SimConfig::default()
        }
    }

    #[test]
    fn config_validation() {
        assert!(SimConfig::default().validate().is_ok());
        let bad = [
            SimConfig { lines: Some(0), ..SimConfig::default() },
            SimConfig { rtp_ptime_ms: 25, ..SimConfig::default() },
            SimConfig { tcp_share: 1.5, ..SimConfig::default() },
            SimConfig { duration: Duration::ZERO, ..SimConfig::default() },
            SimConfig { target_packets: Some(0), ..SimConfig::default() },
            SimConfig { phones: MAX_PHONES + 1, ..SimConfig::default() },
        ];
        for cfg in bad {
            assert_eq!(cfg.validate().unwrap_err().kind(), ErrorKind::Config, "{cfg:?}");
        }
    }

    #[test]
    fn events_pop_in_time_order() {
        let mut heap = BinaryHeap::new();
        for (n, t) in [5u64, 1, 3, 1].into_iter().enumerate() {
            heap.push(Pending { t, n: n as u64, ev: Ev::Rtp(0) });
        }
        let order: Vec<_> = std::iter::from_fn(|| heap.pop().map(|p| (p.t, p.n))).collect();
        assert_eq!(order, [(1, 1), (1, 3), (3, 2), (5, 0)]);
    }

    #[test]
    fn small_scenario_truth_is_consistent() {
        let (pcap, truth) = generate(&small()).unwrap();
        assert_eq!(truth.bytes, pcap.len() as u64);
        assert!(truth.packets > 100);
        assert!(truth.sip_messages > 10);
        let roles: Vec<Role> = truth.gateways.iter().map(|h| h.role).collect();
        for r in
            [Role::Softswitch, Role::Goip, Role::GoipStripped, Role::Pbx, Role::Phone, Role::Carrier, Role::Dialler]
        {
            assert!(roles.contains(&r), "{r:?} missing");
        }
        let goip = truth.gateways.iter().find(|h| h.role == Role::Goip).unwrap();
        assert_eq!(goip.lines, 4);
        assert_eq!(goip.accounts, ["goip1_1", "goip1_2", "goip1_3", "goip1_4"]);
        assert!(goip.calls > 0);
    }
}
