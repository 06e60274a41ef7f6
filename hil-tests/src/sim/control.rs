//! The GoIP control plane (SPEC §3.2): the SMS-server protocol and the SIM-bank link.
//!
//! SMS server (UDP, server port [`SMS_SERVER_PORT`]): every channel of a GoIP-family
//! gateway keeps alive every 30–45 s from its own UDP port with
//!
//! ```text
//! req:N;id:<line id>;pass:<secret>;num:<msisdn or empty>;signal:<0-31>;gsm_status:LOGIN;
//! voip_status:LOGIN;voip_state:IDLE|CONNECTED;remain_time:-1;imei:<15>;imsi:<15>;
//! iccid:<20>;pro:<operator>;idle:<s>;disable_status:0;SMS_LOGIN:N;SMS_STATE:;
//! CELLINFO:LAC:<hex>,CELL ID:<hex>;CGATT:Y;
//! ```
//!
//! (one line on the wire) and the server answers `reg:N;status:200;`. A call on a
//! channel adds `RECORD:<n>;id:…;pass:…;dir:2;num:<callee>` when the GSM leg is dialled
//! and `HANGUP:<n>;id:…;pass:…;num:<callee>` when it ends, sometimes followed by
//! `STATE:<n>;id:…;pass:…;gsm_remain_state:IDLE`; the server acknowledges each with
//! `RECORD <n> OK` (`HANGUP`, `STATE` alike). `idle:` is seconds since the channel's
//! last call (0 during one). The field order follows SPEC §3.2; the acknowledgement
//! shape and one UDP port per channel are modelled, not taken from a capture.
//!
//! SIM bank (UDP, server port [`SIMBANK_PORT`]): datagrams start with the magic
//! [`SIMBANK_MAGIC`] (big-endian) followed by RC4-encrypted bytes: a heartbeat each way
//! every 15–25 s, an exchange per call (the SIM's authentication relayed for the GSM
//! call) and a burst when the bank moves a new SIM onto a channel. Rotation gives the
//! channel a new IMSI/ICCID (and number), which its next keep-alive shows; the IMEI
//! stays, it belongs to the gateway's GSM module.
//!
//! Identities are synthetic (module `ids`); the `pass:` secrets are random strings.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::SocketAddr;

use rand::rngs::SmallRng;
use rand::Rng;

use super::ids;

/// The GoIP SMS server's UDP port.
pub const SMS_SERVER_PORT: u16 = 44_444;
/// The SIM bank server's UDP port.
pub const SIMBANK_PORT: u16 = 56_011;
/// First four bytes (big-endian) of every SIM-bank datagram.
pub const SIMBANK_MAGIC: u32 = 0x4321_5678;
/// SIM cards a bank holds per gateway channel it serves.
pub(crate) const CARDS_PER_CHANNEL: usize = 3;

/// One SIM card: where a channel's subscriber identity comes from.
#[derive(Debug, Clone)]
pub(crate) struct Card {
    pub imsi: String,
    pub iccid: String,
    /// The operator name for `pro:`.
    pub pro: &'static str,
    /// The SIM's own number, when the gateway knows it.
    pub msisdn: Option<String>,
}

impl Card {
    pub(crate) fn new(rng: &mut SmallRng) -> Self {
        let mnc = ids::CN_MNCS[rng.gen_range(0..ids::CN_MNCS.len())];
        let (imsi, iccid) = ids::sim_identity(rng, mnc);
        let msisdn = rng.gen_bool(0.5).then(|| ids::cn_mobile(rng));
        Card { imsi, iccid, pro: ids::operator_name(mnc), msisdn }
    }
}

/// One GSM channel's control-plane state.
#[derive(Debug)]
pub(crate) struct Channel {
    /// The local UDP port it talks to the SMS server from.
    pub port: u16,
    pub id: String,
    pub pass: String,
    pub imei: String,
    /// Index of its SIM in [`ControlPlane::cards`].
    pub card: usize,
    /// Keep-alive counter (`req:`).
    pub req: u32,
    /// Counter of RECORD/HANGUP/STATE messages.
    pub seq: u32,
    pub signal: u8,
    pub cell: (u16, u32),
    pub interval_us: u64,
    /// When the SIM bank next swaps this channel's SIM (SIM-bank gateways only).
    pub next_rotation_us: u64,
}

/// A remote SIM bank link.
#[derive(Debug)]
pub(crate) struct SimBank {
    pub server: SocketAddr,
    /// The gateway's end of the link.
    pub local: SocketAddr,
    pub up: Rc4,
    pub down: Rc4,
    pub seq: u16,
    /// Cards in the bank not in a channel, next to be used first.
    pub free: VecDeque<usize>,
}

/// The control plane of one gateway.
#[derive(Debug)]
pub(crate) struct ControlPlane {
    pub gw: u32,
    /// The SMS server's address and port.
    pub server: SocketAddr,
    pub channels: Vec<Channel>,
    pub cards: Vec<Card>,
    pub simbank: Option<SimBank>,
}

/// Whether a channel is in a call when its keep-alive goes out, and for how long it has
/// been idle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelState {
    pub in_call: bool,
    pub idle_s: u64,
}

impl ControlPlane {
    /// The keep-alive of channel `ch`; advances its counter and signal.
    pub(crate) fn keepalive(&mut self, rng: &mut SmallRng, ch: usize, state: ChannelState) -> String {
        let c = &mut self.channels[ch];
        c.req += 1;
        let step: i16 = rng.gen_range(-2..=2);
        c.signal = (i16::from(c.signal) + step).clamp(5, 31) as u8;
        let card = &self.cards[c.card];
        let mut s = String::with_capacity(360);
        let _ = write!(
            s,
            "req:{};id:{};pass:{};num:{};signal:{};gsm_status:LOGIN;voip_status:LOGIN;voip_state:{};remain_time:-1;\
             imei:{};imsi:{};iccid:{};pro:{};idle:{};disable_status:0;SMS_LOGIN:N;SMS_STATE:;\
             CELLINFO:LAC:{:04X},CELL ID:{:04X};CGATT:Y;",
            c.req,
            c.id,
            c.pass,
            card.msisdn.as_deref().unwrap_or(""),
            c.signal,
            if state.in_call { "CONNECTED" } else { "IDLE" },
            c.imei,
            card.imsi,
            card.iccid,
            card.pro,
            if state.in_call { 0 } else { state.idle_s },
            c.cell.0,
            c.cell.1,
        );
        s
    }

    /// A `RECORD`, `HANGUP` or `STATE` message of channel `ch`, with its number.
    pub(crate) fn event(&mut self, ch: usize, what: Event<'_>) -> (String, u32) {
        let c = &mut self.channels[ch];
        c.seq += 1;
        let n = c.seq;
        let s = match what {
            Event::Record(num) => format!("RECORD:{n};id:{};pass:{};dir:2;num:{num}", c.id, c.pass),
            Event::Hangup(num) => format!("HANGUP:{n};id:{};pass:{};num:{num}", c.id, c.pass),
            Event::State => format!("STATE:{n};id:{};pass:{};gsm_remain_state:IDLE", c.id, c.pass),
        };
        (s, n)
    }

    /// Moves a new SIM from the bank onto channel `ch`; the old one goes back to the
    /// bank. Does nothing without a bank.
    pub(crate) fn rotate(&mut self, ch: usize) {
        let Some(bank) = self.simbank.as_mut() else { return };
        let Some(next) = bank.free.pop_front() else { return };
        let old = std::mem::replace(&mut self.channels[ch].card, next);
        bank.free.push_back(old);
    }
}

/// A per-call control message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event<'a> {
    Record(&'a str),
    Hangup(&'a str),
    State,
}

/// The server's answer to a keep-alive.
pub(crate) fn reg_reply(req: u32) -> String {
    format!("reg:{req};status:200;")
}

/// The server's acknowledgement of a RECORD/HANGUP/STATE message.
pub(crate) fn ack(kind: &str, n: u32) -> String {
    format!("{kind} {n} OK")
}

/// What a SIM-bank datagram carries (before encryption).
#[derive(Debug, Clone, Copy)]
pub(crate) enum BankMsg {
    Heartbeat,
    /// The SIM's authentication for a call on this channel.
    Auth(u8),
    /// A new SIM moved onto this channel.
    Swap(u8),
}

impl SimBank {
    /// One datagram each way: the request from the gateway and the bank's answer.
    pub(crate) fn exchange(&mut self, rng: &mut SmallRng, msg: BankMsg) -> (Vec<u8>, Vec<u8>) {
        self.seq = self.seq.wrapping_add(1);
        let (kind, ch, up_len, down_len) = match msg {
            BankMsg::Heartbeat => (1u8, 0u8, 28, 28),
            BankMsg::Auth(ch) => (2, ch, 40, 56),
            BankMsg::Swap(ch) => (3, ch, 24, 120),
        };
        let seq = self.seq;
        let mut plain = |len: usize, reply: bool| {
            let mut p = Vec::with_capacity(len);
            p.extend_from_slice(&[kind | if reply { 0x80 } else { 0 }, ch]);
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&(len as u16).to_be_bytes());
            // The body (APDUs, card data) is random here: only its size and the
            // encryption matter to an observer.
            p.extend((6..len).map(|_| rng.gen::<u8>()));
            p
        };
        let (mut up, mut down) = (plain(up_len, false), plain(down_len, true));
        self.up.apply(&mut up);
        self.down.apply(&mut down);
        (framed(&up), framed(&down))
    }
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + body.len());
    v.extend_from_slice(&SIMBANK_MAGIC.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// RC4 (the stream cipher the SIM-bank link is said to use). Not for real secrecy:
/// it only makes the payload look like the real link's.
#[derive(Debug, Clone)]
pub(crate) struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl Rc4 {
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut s = [0u8; 256];
        for (k, v) in s.iter_mut().enumerate() {
            *v = k as u8;
        }
        let mut j: u8 = 0;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
            s.swap(i, usize::from(j));
        }
        Rc4 { s, i: 0, j: 0 }
    }

    /// XORs the keystream into `data`.
    pub(crate) fn apply(&mut self, data: &mut [u8]) {
        for b in data {
            self.i = self.i.wrapping_add(1);
            self.j = self.j.wrapping_add(self.s[usize::from(self.i)]);
            self.s.swap(usize::from(self.i), usize::from(self.j));
            let k = self.s[usize::from(self.s[usize::from(self.i)].wrapping_add(self.s[usize::from(self.j)]))];
            *b ^= k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rc4_matches_the_classic_test_vector() {
        // Key "Key", plaintext "Plaintext" → BBF316E8D940AF0AD3 (the widely quoted vector).
        let mut data = *b"Plaintext";
        Rc4::new(b"Key").apply(&mut data);
        assert_eq!(data, [0xbb, 0xf3, 0x16, 0xe8, 0xd9, 0x40, 0xaf, 0x0a, 0xd3]);
    }

    fn plane(rng: &mut SmallRng) -> ControlPlane {
        let cards: Vec<Card> = (0..4).map(|_| Card::new(rng)).collect();
        let channels = (0..2)
            .map(|i| Channel {
                port: 10_000 + i as u16,
                id: format!("line{i}"),
                pass: "secret".into(),
                imei: ids::imei(rng, ids::MODEM_TACS[0]),
                card: i,
                req: 0,
                seq: 0,
                signal: 20,
                cell: (0x25a1, 0x0f3c),
                interval_us: 30_000_000,
                next_rotation_us: 0,
            })
            .collect();
        let simbank = Some(SimBank {
            server: "203.0.113.230:56011".parse().unwrap(),
            local: "198.51.100.10:40000".parse().unwrap(),
            up: Rc4::new(b"up"),
            down: Rc4::new(b"down"),
            seq: 0,
            free: VecDeque::from([2, 3]),
        });
        ControlPlane { gw: 0, server: "203.0.113.210:44444".parse().unwrap(), channels, cards, simbank }
    }

    #[test]
    fn keepalive_fields_in_order() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut cp = plane(&mut rng);
        let k = cp.keepalive(&mut rng, 0, ChannelState { in_call: true, idle_s: 7 });
        let keys: Vec<&str> = k.split(';').filter(|f| !f.is_empty()).map(|f| f.split(':').next().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "req",
                "id",
                "pass",
                "num",
                "signal",
                "gsm_status",
                "voip_status",
                "voip_state",
                "remain_time",
                "imei",
                "imsi",
                "iccid",
                "pro",
                "idle",
                "disable_status",
                "SMS_LOGIN",
                "SMS_STATE",
                "CELLINFO",
                "CGATT"
            ]
        );
        assert!(k.starts_with("req:1;id:line0;pass:secret;"));
        assert!(k.contains(";voip_state:CONNECTED;") && k.contains(";idle:0;"));
        assert!(k.ends_with(";CELLINFO:LAC:25A1,CELL ID:0F3C;CGATT:Y;"), "{k}");
        let (rec, n) = cp.event(0, Event::Record("13800000000"));
        assert_eq!(rec, "RECORD:1;id:line0;pass:secret;dir:2;num:13800000000");
        assert_eq!(ack("RECORD", n), "RECORD 1 OK");
        assert_eq!(reg_reply(1), "reg:1;status:200;");
    }

    #[test]
    fn rotation_swaps_cards_through_the_bank() {
        let mut rng = SmallRng::seed_from_u64(2);
        let mut cp = plane(&mut rng);
        cp.rotate(0);
        assert_eq!(cp.channels[0].card, 2);
        cp.rotate(0);
        assert_eq!(cp.channels[0].card, 3);
        cp.rotate(0);
        assert_eq!(cp.channels[0].card, 0, "the first card came back to the bank");
    }

    #[test]
    fn simbank_datagrams_carry_the_magic() {
        let mut rng = SmallRng::seed_from_u64(3);
        let mut cp = plane(&mut rng);
        let bank = cp.simbank.as_mut().unwrap();
        let (up, down) = bank.exchange(&mut rng, BankMsg::Auth(1));
        assert_eq!(&up[..4], &[0x43, 0x21, 0x56, 0x78]);
        assert_eq!(&down[..4], &[0x43, 0x21, 0x56, 0x78]);
        assert_eq!(up.len(), 44);
        assert_eq!(down.len(), 60);
    }
}
