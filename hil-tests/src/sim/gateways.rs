//! Gateways of the mixed scenario and the GoIP control plane, as engine methods.
//!
//! `vendor_mix`: fingerprinted gateways take vendors in a fixed turn ([`VENDOR_TURN`]),
//! line counts and account layouts from fixed plans, so every preset size gets the
//! spread and the counts do not depend on the seed; the seed draws everything else.
//! Gateways of 8 or more lines carry 50–80 % as many calls at once as they have lines
//! (SIMs resting, out of credit or blocked). With one account per line the softswitch
//! keeps each busy line's calls back to back (SPEC §3.3: no idle gaps); with one account
//! for all or none (trunk mode) the gateway takes the least-used idle channel (SPEC §3.1:
//! calls spread evenly over SIMs).
//!
//! `control_plane`: every GoIP-family gateway (DBL firmware, whatever its User-Agent;
//! not the stripped ones, whose operators turned everything recognisable off) keeps its
//! channels alive to an SMS server and reports calls to it (module `control`); some take
//! their SIMs from a remote SIM bank, which swaps a channel's SIM every few minutes while
//! the channel is idle.

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;

use rand::Rng;

use super::control::{self, BankMsg, Card, Channel, ChannelState, ControlPlane, Rc4, SimBank};
use super::{
    even_port, ids, numbered, v4, AccountMode, ChanUse, CpCall, CpWhat, Engine, Ev, Flavor, Host, Kind, Role, UdpClass,
    UdpSend, MS, SEC,
};
use crate::error::Error;

/// Vendors of fingerprinted gateways, in turn.
const VENDOR_TURN: [Flavor; 6] =
    [Flavor::Dble, Flavor::VoxStack, Flavor::Dble, Flavor::Dinstar, Flavor::Hybertone, Flavor::Hypermedia];
/// Lines of fingerprinted gateways, in turn.
const FINGERPRINTED_LINES: [u32; 16] = [4, 8, 4, 16, 4, 4, 32, 4, 8, 4, 8, 4, 4, 4, 8, 4];
/// Lines of stripped gateways, in turn.
const STRIPPED_LINES: [u32; 6] = [8, 4, 16, 4, 8, 4];
/// Account layouts of fingerprinted gateways (VoxStack aside: always one per line).
const MODE_TURN: [AccountMode; 5] =
    [AccountMode::Line, AccountMode::Single, AccountMode::Line, AccountMode::Trunk, AccountMode::Line];
/// Account layouts of stripped gateways, two at a time.
const STRIPPED_MODE_TURN: [AccountMode; 3] = [AccountMode::Line, AccountMode::Trunk, AccountMode::Single];
/// A SIM bank swaps a channel's SIM after this long (drawn between the two), once idle.
const ROTATION_US: (u64, u64) = (120 * SEC, 360 * SEC);
/// SMS servers and SIM banks get addresses from here on in 203.0.113.0/24 ...
const SMS_SERVER_HOST: u8 = 210;
const SIMBANK_HOST: u8 = 230;
/// ... until these many, then from 198.19.64.0/18.
const OVERSEAS_SLOTS: u32 = 10;

/// The maker a truth file names for a gateway flavour.
fn vendor_of(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::VoxStack => "openvox",
        Flavor::Dinstar => "dinstar",
        Flavor::Hypermedia => "hypermedia",
        _ => "dbl",
    }
}

impl<W: Write> Engine<W> {
    /// Gateway `i` of the mixed scenario (plain first, then stripped), with its
    /// registrations, keep-alives and first calls.
    pub(super) fn add_vendor_gateway(&mut self, i: u32, ss_first: u32) {
        let stripped = i >= self.cfg.gateways;
        let j = if stripped { i - self.cfg.gateways } else { i };
        let ju = j as usize;
        let ip = numbered([198, 51, 100], 198, i);
        let flavor = if stripped {
            match j % 3 {
                0 => Flavor::Stripped(0),
                1 => Flavor::Anon,
                _ => Flavor::Stripped(1),
            }
        } else {
            VENDOR_TURN[ju % VENDOR_TURN.len()]
        };
        let port = if flavor.is_goip() && self.rng.gen_bool(0.5) { self.rng.gen_range(5060..=6060) } else { 5060 };
        let (role, kind) =
            if stripped { (Role::GoipStripped, Kind::GoipStripped) } else { (Role::Goip, Kind::GoipFingerprinted) };
        let mut h = Host::new(role, kind, flavor, SocketAddr::new(ip, port));
        h.vendor = Some(vendor_of(flavor));
        let planned = if stripped {
            STRIPPED_LINES[ju % STRIPPED_LINES.len()]
        } else {
            FINGERPRINTED_LINES[ju % FINGERPRINTED_LINES.len()]
        };
        h.lines = self.cfg.lines.unwrap_or(planned);
        h.slots = if h.lines >= 8 {
            ((f64::from(h.lines) * self.rng.gen_range(0.5..0.8)).round() as u32).max(1)
        } else {
            h.lines
        };
        h.chans = vec![ChanUse::default(); h.lines as usize];
        h.server = ss_first + i / 3;
        h.lat_us = self.rng.gen_range(40 * MS..150 * MS);
        h.crypt = flavor.is_goip() && self.rng.gen_bool(0.25);
        h.challenge = self.rng.gen_bool(0.3);
        h.pt = if self.rng.gen_bool(0.7) { 8 } else { 0 };
        h.rtp_base = even_port(&mut self.rng, 10_000, 20_000);
        h.mode = if flavor == Flavor::VoxStack {
            AccountMode::Line
        } else if stripped {
            STRIPPED_MODE_TURN[ju / 2 % STRIPPED_MODE_TURN.len()]
        } else {
            MODE_TURN[ju % MODE_TURN.len()]
        };
        let g = j + 1;
        let lines = h.lines;
        h.accounts = match (h.mode, flavor) {
            (AccountMode::Trunk, _) => Vec::new(),
            (AccountMode::Line, Flavor::Dble | Flavor::Hybertone) => {
                (1..=lines).map(|l| format!("goip{g}_{l}")).collect()
            }
            (AccountMode::Single, Flavor::Dble | Flavor::Hybertone) => vec![format!("goip{g}")],
            // VoxStack: numeric accounts per channel, like the OpenVox captures' 1590.
            (_, Flavor::VoxStack) => (1..=lines).map(|l| (1500 + 40 * g + l).to_string()).collect(),
            (AccountMode::Line, Flavor::Dinstar) => (1..=lines).map(|l| (80_000 + 100 * g + l).to_string()).collect(),
            (AccountMode::Single, Flavor::Dinstar) => vec![(80_000 + 100 * g).to_string()],
            (AccountMode::Line, Flavor::Hypermedia) => (1..=lines).map(|l| format!("hg{g}p{l}")).collect(),
            (AccountMode::Single, Flavor::Hypermedia) => vec![format!("hg{g}")],
            (AccountMode::Line, _) => (1..=lines).map(|l| (7000 + 100 * g + l).to_string()).collect(),
            (AccountMode::Single, _) => vec![(7000 + 100 * g).to_string()],
        };
        let gw = self.hosts.len() as u32;
        if i % 3 == 1 {
            self.host_vlan(ip, 100 + (i % 3900) as u16);
        }
        self.hosts.push(h);
        self.setup_vendor_gateway(gw);
    }

    fn setup_vendor_gateway(&mut self, gw: u32) {
        let t0 = self.start_us;
        let h = &self.hosts[gw as usize];
        let (server, sip, flavor, slots, accounts) = (h.server, h.sip, h.flavor, h.slots, h.accounts.clone());
        let ss_sip = self.hosts[server as usize].sip;
        // Registration expiry: GoIP 60/120 s, chan_sip 120 s, Dinstar 1800 s (SPEC
        // §3.1); a stripped box was set up like an ordinary SIP trunk.
        let expires = match flavor {
            Flavor::Dble | Flavor::Hybertone => {
                if self.rng.gen_bool(0.5) {
                    60
                } else {
                    120
                }
            }
            Flavor::VoxStack => 120,
            Flavor::Dinstar => 1800,
            Flavor::Hypermedia => 300,
            _ => {
                if self.rng.gen_bool(0.5) {
                    600
                } else {
                    3600
                }
            }
        };
        self.register_lines(gw, flavor, sip, ss_sip, &accounts, expires, t0);
        let user = accounts.first().cloned().unwrap_or_else(|| if flavor.is_goip() { "goip" } else { "gw" }.into());
        let interval = if flavor.is_goip() && self.rng.gen_bool(0.5) { 30 } else { 60 } * SEC;
        self.keepalive(gw, server, sip, ss_sip, false, user, interval);
        for slot in 0..slots {
            let t = t0 + self.rng.gen_range(0..30 * SEC);
            self.at(t, Ev::Line { gw, line: slot });
        }
    }

    /// The channel a gateway puts its next call on: the slot's own line with one
    /// account per line (and always in the basic scenario), else the least-used idle
    /// channel (ties: idle longest, then lowest number).
    pub(super) fn pick_channel(&self, t: u64, gw: u32, slot: u32) -> u32 {
        let h = &self.hosts[gw as usize];
        if !self.cfg.vendor_mix || h.mode == AccountMode::Line {
            return slot;
        }
        h.chans
            .iter()
            .enumerate()
            .filter(|(_, c)| c.busy_until <= t)
            .min_by_key(|(i, c)| (c.calls, c.last_end, *i))
            .map_or(slot, |(i, _)| i as u32)
    }

    /// Books a gateway call on its channel and, with a control plane, schedules the
    /// channel's RECORD, HANGUP (sometimes STATE) and the SIM bank's authentication.
    pub(super) fn after_goip_call(&mut self, t: u64, gw: u32, ch: u32, end: u64, number: String) {
        let c = &mut self.hosts[gw as usize].chans[ch as usize];
        c.busy_until = end;
        c.last_end = end;
        c.calls += 1;
        let Some(cp) = self.hosts[gw as usize].cp else { return };
        let lat = self.lat(gw);
        if self.cps[cp as usize].simbank.is_some() {
            let auth_at = t + lat + self.rng.gen_range(20 * MS..200 * MS);
            self.at(auth_at, Ev::CpCall(Box::new(CpCall { cp, ch, what: CpWhat::Auth })));
        }
        let record_at = t + lat + self.rng.gen_range(250 * MS..700 * MS);
        self.at(record_at, Ev::CpCall(Box::new(CpCall { cp, ch, what: CpWhat::Record(number.clone()) })));
        let hangup_at = end + self.rng.gen_range(50 * MS..300 * MS);
        self.at(hangup_at, Ev::CpCall(Box::new(CpCall { cp, ch, what: CpWhat::Hangup(number) })));
        if self.rng.gen_bool(0.2) {
            let state_at = hangup_at + self.rng.gen_range(SEC..3 * SEC);
            self.at(state_at, Ev::CpCall(Box::new(CpCall { cp, ch, what: CpWhat::State })));
        }
    }

    /// Swaps the SIM of an idle channel when its SIM bank says so.
    pub(super) fn maybe_rotate(&mut self, t: u64, gw: u32, ch: u32) -> Result<(), Error> {
        let Some(cp) = self.hosts[gw as usize].cp else { return Ok(()) };
        let plane = &mut self.cps[cp as usize];
        if plane.simbank.is_none() || t < plane.channels[ch as usize].next_rotation_us {
            return Ok(());
        }
        plane.rotate(ch as usize);
        plane.channels[ch as usize].next_rotation_us = t + self.rng.gen_range(ROTATION_US.0..ROTATION_US.1);
        if self.radio.is_some() {
            self.gsm_sim_swapped(t, gw, ch);
        }
        self.bank_exchange(t, cp, BankMsg::Swap(ch as u8))
    }

    /// Gives every GoIP-family gateway a control plane; every so many a SIM bank.
    pub(super) fn setup_control_planes(&mut self) {
        let share = self.cfg.simbank_share;
        let mut k = 0u32;
        for gw in 0..self.hosts.len() as u32 {
            let h = &self.hosts[gw as usize];
            if h.role != Role::Goip || !h.flavor.is_goip() {
                continue;
            }
            // Spread evenly: the k-th gateway takes a bank when the running count of
            // ⌈(k+1)·share⌉ goes up, so the first one does whenever share > 0.
            let simbank = (f64::from(k + 1) * share).ceil() > (f64::from(k) * share).ceil();
            self.setup_control_plane(gw, simbank);
            k += 1;
        }
    }

    /// The SMS server (or SIM bank) of the operator behind softswitch `ss`, created on
    /// first use.
    fn control_server(&mut self, ss: u32, bank: bool) -> u32 {
        let list = if bank { &self.bank_servers } else { &self.sms_servers };
        if let Some(&(_, host)) = list.iter().find(|(s, _)| *s == ss) {
            return host;
        }
        let k = list.len() as u32;
        let ip = match (k < OVERSEAS_SLOTS, bank) {
            (true, false) => v4(203, 0, 113, SMS_SERVER_HOST + k as u8),
            (true, true) => v4(203, 0, 113, SIMBANK_HOST + k as u8),
            (false, _) => {
                let n = k - OVERSEAS_SLOTS;
                v4(198, 19, 64 + u8::from(bank) * 32 + (n / 200) as u8, 10 + (n % 200) as u8)
            }
        };
        let (role, kind) =
            if bank { (Role::SimbankServer, Kind::SimbankServer) } else { (Role::SmsServer, Kind::SmsServer) };
        self.hosts.push(Host::new(role, kind, Flavor::Softswitch, SocketAddr::new(ip, 0)));
        let host = self.hosts.len() as u32 - 1;
        if bank {
            self.bank_servers.push((ss, host));
        } else {
            self.sms_servers.push((ss, host));
        }
        host
    }

    fn setup_control_plane(&mut self, gw: u32, simbank: bool) {
        let t0 = self.start_us;
        let (ip, lines, ss) = {
            let h = &self.hosts[gw as usize];
            (h.sip.ip(), h.lines, h.server)
        };
        let sms = self.control_server(ss, false);
        let server = SocketAddr::new(self.hosts[sms as usize].sip.ip(), control::SMS_SERVER_PORT);
        let rng = &mut self.rng;
        let interval_us = rng.gen_range(30 * SEC..=45 * SEC);
        let tac = ids::MODEM_TACS[rng.gen_range(0..ids::MODEM_TACS.len())];
        // Above the RTP ports (10000–22000), below the SIM-bank client port.
        let base_port = rng.gen_range(30_000..60_000 - lines) as u16;
        let lac: u16 = rng.gen_range(0x1000..0xfff0);
        let cells: Vec<u32> = (0..3).map(|_| rng.gen_range(0x0100..0xffff)).collect();
        const PREFIXES: [&str; 4] = ["goip", "gw", "line", "sim"];
        // Operators number their boxes; the host index keeps line ids unique.
        let prefix = format!("{}{}-", PREFIXES[rng.gen_range(0..PREFIXES.len())], gw);
        let pass = ids::alnum(rng, 8);
        let n_cards = lines as usize * if simbank { control::CARDS_PER_CHANNEL } else { 1 };
        let cards: Vec<Card> = (0..n_cards).map(|_| Card::new(rng)).collect();
        let channels: Vec<Channel> = (0..lines as usize)
            .map(|ch| Channel {
                port: base_port + ch as u16,
                id: format!("{prefix}{:02}", ch + 1),
                pass: pass.clone(),
                imei: ids::imei(rng, tac),
                card: ch,
                req: rng.gen_range(1..5_000),
                seq: rng.gen_range(0..300),
                signal: rng.gen_range(12..=31),
                cell: (lac, cells[rng.gen_range(0..cells.len())]),
                interval_us,
                next_rotation_us: t0 + rng.gen_range(20 * SEC..ROTATION_US.1),
            })
            .collect();
        let bank = if simbank {
            let host = self.control_server(ss, true);
            let rng = &mut self.rng;
            let key: Vec<u8> = (0..16).map(|_| rng.gen()).collect();
            let key2: Vec<u8> = (0..16).map(|_| rng.gen()).collect();
            Some(SimBank {
                server: SocketAddr::new(self.hosts[host as usize].sip.ip(), control::SIMBANK_PORT),
                local: SocketAddr::new(ip, rng.gen_range(60_100..65_000)),
                up: Rc4::new(&key),
                down: Rc4::new(&key2),
                seq: rng.gen(),
                free: (lines as usize..n_cards).collect::<VecDeque<usize>>(),
            })
        } else {
            None
        };
        let cp = self.cps.len() as u32;
        self.cps.push(ControlPlane { gw, server, channels, cards, simbank: bank });
        self.hosts[gw as usize].cp = Some(cp);
        for ch in 0..lines {
            let t = t0 + self.rng.gen_range(0..interval_us);
            self.at(t, Ev::KeepAlive { cp, ch });
        }
        if simbank {
            let t = t0 + self.rng.gen_range(0..20 * SEC);
            self.at(t, Ev::Bank(cp));
        }
    }

    /// A channel's keep-alive (after a due SIM swap if it is idle), the server's answer,
    /// the next keep-alive.
    pub(super) fn goip_keepalive(&mut self, t: u64, cp: u32, ch: u32) -> Result<(), Error> {
        let gw = self.cps[cp as usize].gw;
        let ci = ch as usize;
        let use_ = self.hosts[gw as usize].chans[ci];
        let in_call = use_.calls > 0 && use_.busy_until > t;
        if !in_call {
            self.maybe_rotate(t, gw, ch)?;
        }
        let idle_s = t.saturating_sub(use_.last_end.max(self.start_us)) / SEC;
        let text = self.cps[cp as usize].keepalive(&mut self.rng, ci, ChannelState { in_call, idle_s });
        let plane = &self.cps[cp as usize];
        let c = &plane.channels[ci];
        let card = &plane.cards[c.card];
        self.hosts[gw as usize].remember_identity(&card.imsi, &c.imei, &card.iccid);
        let local = SocketAddr::new(self.hosts[gw as usize].sip.ip(), c.port);
        let (server, req, interval) = (plane.server, c.req, c.interval_us);
        self.send_udp(t, &UdpSend { src: local, dst: server, bytes: text.into_bytes(), class: UdpClass::Sms })?;
        let rtt = self.lat(gw);
        let reply =
            UdpSend { src: server, dst: local, bytes: control::reg_reply(req).into_bytes(), class: UdpClass::Sms };
        self.at(t + rtt, Ev::Udp(Box::new(reply)));
        let next = t + interval + self.rng.gen_range(0..2 * SEC) - SEC;
        self.at(next, Ev::KeepAlive { cp, ch });
        Ok(())
    }

    /// A RECORD/HANGUP/STATE message and its acknowledgement, or a SIM-bank
    /// authentication exchange.
    pub(super) fn goip_call_message(&mut self, t: u64, msg: CpCall) -> Result<(), Error> {
        let (cp, ch) = (msg.cp, msg.ch);
        let (event, name) = match &msg.what {
            CpWhat::Record(n) => (control::Event::Record(n), "RECORD"),
            CpWhat::Hangup(n) => (control::Event::Hangup(n), "HANGUP"),
            CpWhat::State => (control::Event::State, "STATE"),
            CpWhat::Auth => return self.bank_exchange(t, cp, BankMsg::Auth(ch as u8)),
        };
        let plane = &mut self.cps[cp as usize];
        let (text, n) = plane.event(ch as usize, event);
        let gw = plane.gw;
        let local = SocketAddr::new(self.hosts[gw as usize].sip.ip(), plane.channels[ch as usize].port);
        let server = plane.server;
        self.send_udp(t, &UdpSend { src: local, dst: server, bytes: text.into_bytes(), class: UdpClass::Sms })?;
        let rtt = self.lat(gw);
        let ack = UdpSend { src: server, dst: local, bytes: control::ack(name, n).into_bytes(), class: UdpClass::Sms };
        self.at(t + rtt, Ev::Udp(Box::new(ack)));
        Ok(())
    }

    /// A SIM-bank heartbeat, and the next one.
    pub(super) fn bank_heartbeat(&mut self, t: u64, cp: u32) -> Result<(), Error> {
        self.bank_exchange(t, cp, BankMsg::Heartbeat)?;
        let next = t + self.rng.gen_range(15 * SEC..25 * SEC);
        self.at(next, Ev::Bank(cp));
        Ok(())
    }

    /// One request to the SIM bank now and its answer a round trip later.
    fn bank_exchange(&mut self, t: u64, cp: u32, msg: BankMsg) -> Result<(), Error> {
        let gw = self.cps[cp as usize].gw;
        let Some(bank) = self.cps[cp as usize].simbank.as_mut() else { return Ok(()) };
        let (up, down) = bank.exchange(&mut self.rng, msg);
        let (local, server) = (bank.local, bank.server);
        self.send_udp(t, &UdpSend { src: local, dst: server, bytes: up, class: UdpClass::SimBank })?;
        let rtt = self.lat(gw) + self.rng.gen_range(MS..20 * MS);
        self.at(t + rtt, Ev::Udp(Box::new(UdpSend { src: server, dst: local, bytes: down, class: UdpClass::SimBank })));
        Ok(())
    }

    /// Writes a control-plane datagram and counts it.
    pub(super) fn send_udp(&mut self, t: u64, u: &UdpSend) -> Result<(), Error> {
        self.out.udp(t, u.src, u.dst, &u.bytes)?;
        match u.class {
            UdpClass::Sms => self.stats.control_messages += 1,
            UdpClass::SimBank => self.stats.simbank_packets += 1,
        }
        Ok(())
    }
}
