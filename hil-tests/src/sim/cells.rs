//! The cell side of the scenario (`gsmtap`, SPEC §3.4), as engine methods: a BTS-side
//! (Abis-like) GSMTAP feed from a sensor, 192.0.2.250 → 192.0.2.251:4729.
//!
//! - Cells: a handful per operator (MCC 460; MNC 00 China Mobile, 01 China Unicom), two
//!   to a location area, each broadcasting System Information 3 every 2–4 s (and 4 every
//!   other time) on its BCCH carrier; paging blocks on its PCH every 0.3–1.5 s: dummy
//!   paging, pages for subscribers outside the scenario, and pages for the scenario's
//!   phones (in every cell of their location area).
//! - Gateways: every line a GSM module (IMEI) with a SIM (IMSI) — the control plane's
//!   cards where there is one, else drawn the same way — all in ONE cell that never
//!   changes (the operator of most of its SIMs; SIMs of other networks camp there too).
//!   At power-on, within seconds of each other before the gateway's first call, every
//!   SIM attaches (Location Updating Request, type IMSI attach, identity IMSI) and is
//!   given a TMSI (TMSI Reallocation Command). Each SIP call the gateway dials out is a
//!   mobile-originating GSM call 1–5 s after the INVITE (before the gateway's 180/183
//!   when it can): CM Service Request with the TMSI, ciphering, CC Setup with the called
//!   number (national, the Request-URI user without 86/+86), Connect when the SIP call
//!   is answered, Disconnect/Release when it ends. A SIM-bank swap detaches the old SIM
//!   and attaches the new one from the same module, with an IMEI check (Identity
//!   Request/Response); other location updates check the IMEI now and then. When the
//!   capture has a fixed length, about half the gateways power off in its last seconds:
//!   their SIMs detach together (IMSI Detach Indication) and later calls have no GSM leg.
//! - Ordinary phones (`HANDSETS`): one IMSI in one handset, camping in the cells of
//!   their own operator and moving between them (a normal location update on changing
//!   location area), attaching and detaching at random times, calling a few favourite
//!   numbers and being paged for calls (mobile-terminating CC Setup with the calling
//!   number).
//!
//! Dedicated-channel messages go as GSMTAP type ABIS (raw L3) on an SDCCH/8 sub-channel
//! (timeslot and sub-slot in the header, the carrier in the ARFCN, 0x4000 for what the
//! phone sent) that an Immediate Assignment on the cell's CCCH announced; a channel is
//! not reused while it is busy, so (ARFCN, timeslot, sub-slot) names one phone from its
//! first message to the Channel Release. Paging and System Information go as type UM in
//! 23-byte blocks.
//!
//! Everything here draws from its own generator (seeded from the scenario seed) and the
//! sensor has its own IPv4 identification counter: the rest of the capture is the same
//! with or without the cell side, but for the GoIP keep-alives' `CELLINFO`, which then
//! names the gateway's cell.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::gsm::{self, Chan, Lai, Mi, Tap, Ti};
use super::sip::CallTimes;
use super::truth::{TruthCell, TruthHandset, TruthLink};
use super::{ids, Engine, Ev, MS, SEC};
use crate::error::Error;

/// The sensor that sends the feed, and where to.
const SENSOR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 250);
const COLLECTOR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 251);
/// Mixed into the scenario seed for the cell side's own generator.
const RNG_SALT: u64 = 0x6773_6d74_6170_0001;
/// Ordinary phones on the cell side.
pub(super) const HANDSETS: usize = 64;
/// Cells per operator at least; one more per so many gateway lines of all operators.
const CELLS_PER_OPERATOR: usize = 4;
const LINES_PER_EXTRA_CELL: u32 = 256;
/// Dedicated channels per carrier: SDCCH/8 on timeslots 1–7.
const CHANS_PER_TRX: usize = 56;
/// MS classmark 2 of gateway modules (revision phase 2) and of handsets (R99); classmark
/// 1 is the first octet.
const MODULE_CLASSMARK: [u8; 3] = [0x33, 0x18, 0x80];
const HANDSET_CLASSMARK: [u8; 3] = [0x53, 0x58, 0xa6];

/// A network: China Mobile or China Unicom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Cmcc,
    Cu,
}

impl Op {
    fn mnc(self) -> &'static str {
        match self {
            Op::Cmcc => "00",
            Op::Cu => "01",
        }
    }

    /// The network a SIM of this IMSI uses, if it has GSM.
    fn of_imsi(imsi: &str) -> Option<Op> {
        let mnc = imsi.get(3..5)?;
        if ids::CMCC_MNCS.contains(&mnc) {
            Some(Op::Cmcc)
        } else if ids::CU_MNCS.contains(&mnc) {
            Some(Op::Cu)
        } else {
            None
        }
    }

    fn draw_mnc(self, rng: &mut SmallRng) -> &'static str {
        match self {
            Op::Cmcc => ids::CMCC_MNCS[rng.gen_range(0..ids::CMCC_MNCS.len())],
            Op::Cu => ids::CU_MNCS[rng.gen_range(0..ids::CU_MNCS.len())],
        }
    }

    /// Its GSM 900 band: China Mobile ARFCN 1–94, China Unicom 96–124.
    fn arfcns(self) -> std::ops::RangeInclusive<u16> {
        match self {
            Op::Cmcc => 1..=94,
            Op::Cu => 96..=124,
        }
    }
}

#[derive(Debug)]
struct Cell {
    op: Op,
    lai: Lai,
    ci: u16,
    /// BCCH carrier first.
    arfcns: Vec<u16>,
    bsic: u8,
    /// Frame number at the scenario start.
    fn0: u32,
    t3212: u8,
    /// Per dedicated channel: busy until then.
    busy: Vec<u64>,
    si4_next: bool,
    /// Gateway lines placed here.
    load: u32,
}

impl Cell {
    /// The lowest channel free from `start`, booked until `until` (when all are busy,
    /// the one free soonest).
    fn alloc(&mut self, start: u64, until: u64) -> Chan {
        let k = self.busy.iter().position(|&b| b < start).unwrap_or_else(|| {
            let min = self.busy.iter().enumerate().min_by_key(|(_, b)| **b);
            min.map_or(0, |(i, _)| i)
        });
        self.busy[k] = until;
        let r = k % CHANS_PER_TRX;
        Chan { arfcn: self.arfcns[k / CHANS_PER_TRX], ts: 1 + (r / 8) as u8, sub: (r % 8) as u8 }
    }

    fn truth(&self) -> TruthCell {
        TruthCell {
            mcc: self.lai.mcc.to_owned(),
            mnc: self.lai.mnc.to_owned(),
            lac: self.lai.lac,
            cell_id: self.ci,
            arfcns: self.arfcns.clone(),
        }
    }
}

/// A gateway line's GSM module and the SIM in it.
#[derive(Debug)]
struct Module {
    imei: String,
    imsi: String,
    tmsi: Option<u32>,
    /// Its last radio transaction ends then.
    busy_until: u64,
    /// Powered off from then on (`u64::MAX`: stays on).
    off_at: u64,
    rssi: i8,
    snr: i8,
    cksn: u8,
}

#[derive(Debug)]
struct GwRadio {
    host: u32,
    address: String,
    cell: usize,
    /// Timing advance: the box does not move.
    ta: u8,
    modules: Vec<Module>,
}

#[derive(Debug)]
struct Handset {
    imsi: String,
    imei: String,
    tmsi: Option<u32>,
    op: Op,
    cell: usize,
    on: bool,
    busy_until: u64,
    favourites: Vec<String>,
    callers: Vec<String>,
    cksn: u8,
}

/// A GSMTAP datagram waiting for its time, with what writing it records.
#[derive(Debug)]
pub(super) struct GsmFrame {
    bytes: Vec<u8>,
    link: Option<Box<TruthLink>>,
    /// (gateway host, IMSI) attaching: the IMSI goes in the gateway's truth.
    attach: Option<Box<(u32, String)>>,
}

/// Who a transaction is for: a snapshot of a SIM's radio settings.
#[derive(Debug, Clone)]
struct Sub {
    imsi: String,
    imei: String,
    tmsi: Option<u32>,
    cell: usize,
    ta: u8,
    rssi: i8,
    snr: i8,
    cksn: u8,
    classmark: [u8; 3],
}

impl Sub {
    fn identity(&self) -> Mi<'_> {
        self.tmsi.map_or(Mi::Imsi(&self.imsi), Mi::Tmsi)
    }
}

#[derive(Debug)]
enum Step {
    /// Immediate Assignment (CCCH) answering random-access byte `ra`.
    Ia(u8),
    Up(Vec<u8>),
    Down(Vec<u8>),
}

/// One dedicated-channel transaction being built: steps at absolute times.
#[derive(Debug)]
struct Tx {
    sub: Sub,
    t: u64,
    nsd: u8,
    steps: Vec<(u64, Step)>,
    /// Index of the step that carries the link (the CC Setup) or the attach (LU Request).
    link_step: Option<usize>,
    attach_step: Option<usize>,
}

impl Tx {
    fn new(sub: Sub, t: u64) -> Tx {
        Tx { sub, t, nsd: 0, steps: Vec::with_capacity(16), link_step: None, attach_step: None }
    }

    fn wait(&mut self, rng: &mut SmallRng, lo_ms: u64, hi_ms: u64) {
        self.t += rng.gen_range(lo_ms * MS..hi_ms * MS);
    }

    /// Moves to `t`, never back.
    fn at(&mut self, t: u64) {
        self.t = self.t.max(t);
    }

    /// The phone's next send sequence number (MM and CC).
    fn nsd(&mut self) -> u8 {
        let n = self.nsd;
        self.nsd = (n + 1) & 3;
        n
    }

    fn ia(&mut self, ra: u8) {
        self.steps.push((self.t, Step::Ia(ra)));
    }

    fn up(&mut self, l3: Vec<u8>) {
        self.steps.push((self.t, Step::Up(l3)));
    }

    fn down(&mut self, l3: Vec<u8>) {
        self.steps.push((self.t, Step::Down(l3)));
    }

    /// Shifts every step by `by` (a transaction drafted from time 0).
    fn shift(&mut self, by: u64) {
        self.t += by;
        for (t, _) in &mut self.steps {
            *t += by;
        }
    }
}

/// The cell side's state.
#[derive(Debug)]
pub(super) struct Radio {
    rng: SmallRng,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    ip_id: u16,
    start_us: u64,
    cells: Vec<Cell>,
    gws: Vec<GwRadio>,
    by_host: HashMap<u32, usize>,
    handsets: Vec<Handset>,
    /// TMSIs in use.
    tmsis: HashSet<u32>,
    pub(super) links: Vec<TruthLink>,
    pub(super) packets: u64,
    queue: Vec<(u64, GsmFrame)>,
}

fn random_access(rng: &mut SmallRng, establishment: u8, bits: u8) -> u8 {
    establishment | rng.gen_range(0..1u8 << bits)
}

impl Radio {
    fn new(seed: u64, start_us: u64) -> Radio {
        let mut rng = SmallRng::seed_from_u64(seed ^ RNG_SALT);
        let port = rng.gen_range(32_768..61_000);
        Radio {
            rng,
            src: SocketAddrV4::new(SENSOR, port),
            dst: SocketAddrV4::new(COLLECTOR, gsm::GSMTAP_PORT),
            ip_id: 1,
            start_us,
            cells: Vec::new(),
            gws: Vec::new(),
            by_host: HashMap::new(),
            handsets: Vec::new(),
            tmsis: HashSet::new(),
            links: Vec::new(),
            packets: 0,
            queue: Vec::new(),
        }
    }

    /// A TMSI no one in the scenario has.
    fn new_tmsi(&mut self) -> u32 {
        loop {
            let t: u32 = self.rng.gen();
            if t != u32::MAX && self.tmsis.insert(t) {
                return t;
            }
        }
    }

    /// Frame number of `cell` at `t`: one TDMA frame is 120/26 ms.
    fn frame(&self, cell: usize, t: u64) -> u32 {
        let frames = (t - self.start_us) * 26 / 120_000;
        ((u64::from(self.cells[cell].fn0) + frames) % u64::from(gsm::HYPERFRAME)) as u32
    }

    /// Queues a UM block on a cell's BCCH carrier, timeslot 0.
    fn um(&mut self, cell: usize, t: u64, sub_type: u8, block: &[u8]) {
        let fn_ = self.frame(cell, t);
        // Within the 51-multiframe: BCCH from frame 2, CCCH blocks from 6.
        let offset = if sub_type == gsm::SUB_BCCH { 2 } else { 6 + 10 * (fn_ / 51 % 4) };
        let tap = Tap {
            kind: gsm::TYPE_UM,
            timeslot: 0,
            arfcn: self.cells[cell].arfcns[0],
            uplink: false,
            signal_dbm: 0,
            snr_db: 0,
            frame: fn_ - fn_ % 51 + offset,
            sub_type,
            sub_slot: 0,
        };
        let bytes = gsm::gsmtap(&tap, block);
        self.queue.push((t, GsmFrame { bytes, link: None, attach: None }));
    }

    /// Books a channel for a transaction and queues its frames before `cut`; returns
    /// when its last frame goes out (or `None` if nothing is left before `cut`).
    fn commit(&mut self, mut tx: Tx, cut: u64, link: Option<TruthLink>, attach: Option<(u32, String)>) -> Option<u64> {
        let kept = tx.steps.iter().take_while(|(t, _)| *t < cut).count();
        tx.steps.truncate(kept);
        let (start, end) = (tx.steps.first()?.0, tx.steps.last()?.0);
        let cell = tx.sub.cell;
        let chan = self.cells[cell].alloc(start, end + 100 * MS);
        let tsc = self.cells[cell].bsic & 7;
        let mut link = link.map(Box::new);
        let mut attach = attach.map(Box::new);
        for (i, (t, step)) in tx.steps.into_iter().enumerate() {
            let fn_ = self.frame(cell, t);
            let (uplink, l3) = match step {
                Step::Ia(ra) => {
                    let block = gsm::immediate_assignment(chan, tsc, ra, fn_.saturating_sub(9), tx.sub.ta);
                    self.um(cell, t, gsm::SUB_CCCH, &block);
                    continue;
                }
                Step::Up(l3) => (true, l3),
                Step::Down(l3) => (false, l3),
            };
            let tap = Tap {
                kind: gsm::TYPE_ABIS,
                timeslot: chan.ts,
                arfcn: chan.arfcn,
                uplink,
                signal_dbm: if uplink { tx.sub.rssi } else { 0 },
                snr_db: if uplink { tx.sub.snr } else { 0 },
                frame: fn_,
                sub_type: 0,
                sub_slot: chan.sub,
            };
            let frame = GsmFrame {
                bytes: gsm::gsmtap(&tap, &l3),
                link: if tx.link_step == Some(i) { link.take() } else { None },
                attach: if tx.attach_step == Some(i) { attach.take() } else { None },
            };
            self.queue.push((t, frame));
        }
        Some(end)
    }

    /// Drafts the start of a transaction: Immediate Assignment, then the phone's first
    /// message a little later.
    fn open(&mut self, sub: Sub, start: u64, establishment: u8, bits: u8) -> Tx {
        let ra = random_access(&mut self.rng, establishment, bits);
        let mut tx = Tx::new(sub, start);
        tx.ia(ra);
        tx.wait(&mut self.rng, 40, 120);
        tx
    }

    /// Authentication (sometimes) and ciphering, as after the first message.
    fn secure(&mut self, tx: &mut Tx, auth_p: f64) {
        let rng = &mut self.rng;
        if rng.gen_bool(auth_p) {
            tx.wait(rng, 80, 220);
            let rand: [u8; 16] = rng.gen();
            tx.down(gsm::authentication_request(tx.sub.cksn, &rand));
            tx.wait(rng, 150, 320);
            let n = tx.nsd();
            tx.up(gsm::authentication_response(n, rng.gen()));
        }
        tx.wait(rng, 50, 140);
        tx.down(gsm::ciphering_mode_command());
        tx.wait(rng, 40, 100);
        tx.up(gsm::ciphering_mode_complete());
    }

    /// The network asks for the IMEI (or IMSI) and the phone answers.
    fn identify(&mut self, tx: &mut Tx, kind: u8) {
        tx.wait(&mut self.rng, 80, 200);
        tx.down(gsm::identity_request(kind));
        tx.wait(&mut self.rng, 70, 160);
        let n = tx.nsd();
        let l3 = if kind == 2 {
            gsm::identity_response(n, Mi::Imei(&tx.sub.imei))
        } else {
            gsm::identity_response(n, Mi::Imsi(&tx.sub.imsi))
        };
        tx.up(l3);
    }

    /// A location update from `start`; returns the drafted transaction and the new TMSI
    /// (`None` when the network keeps the old one).
    fn location_update(&mut self, sub: Sub, start: u64, lu_type: u8, old: Lai, check: Check) -> (Tx, Option<u32>) {
        let mut tx = self.open(sub, start, 0x00, 4);
        let n = tx.nsd();
        let mi = if lu_type == gsm::LU_IMSI_ATTACH { Mi::Imsi(&tx.sub.imsi) } else { tx.sub.identity() };
        let l3 = gsm::lu_request(n, lu_type, tx.sub.cksn, &old, tx.sub.classmark[0], mi);
        tx.attach_step = Some(tx.steps.len());
        tx.up(l3);
        if check.imsi {
            self.identify(&mut tx, 1);
        }
        if check.imei {
            self.identify(&mut tx, 2);
        }
        self.secure(&mut tx, 0.8);
        let lai = self.cells[tx.sub.cell].lai;
        tx.wait(&mut self.rng, 80, 200);
        tx.down(gsm::lu_accept(&lai));
        let tmsi = if check.new_tmsi {
            let tmsi = self.new_tmsi();
            tx.wait(&mut self.rng, 20, 60);
            tx.down(gsm::tmsi_reallocation_command(&lai, tmsi));
            tx.wait(&mut self.rng, 60, 130);
            let n = tx.nsd();
            tx.up(gsm::tmsi_reallocation_complete(n));
            Some(tmsi)
        } else {
            None
        };
        tx.wait(&mut self.rng, 40, 100);
        tx.down(gsm::channel_release());
        (tx, tmsi)
    }

    /// An IMSI detach from `start`.
    fn detach(&mut self, sub: Sub, start: u64) -> Tx {
        let mut tx = self.open(sub, start, 0x10, 4);
        let n = tx.nsd();
        let l3 = gsm::imsi_detach(n, tx.sub.classmark[0], tx.sub.identity());
        tx.up(l3);
        tx.wait(&mut self.rng, 50, 150);
        tx.down(gsm::channel_release());
        tx
    }

    /// The end of a call from its Setup on: optional answer at `answer`, hangup at
    /// `hangup` by the far end (network side) or the phone.
    fn call_tail(&mut self, tx: &mut Tx, ti: Ti, ends: CallEnds) {
        let rng = &mut self.rng;
        if let Some(answer) = ends.answer {
            tx.at(answer);
            if ti.mobile_originated {
                tx.down(gsm::cc(ti, 0x07, false, 0));
                tx.wait(rng, 30, 120);
                let n = tx.nsd();
                tx.up(gsm::cc(ti, 0x0f, true, n));
            } else {
                let n = tx.nsd();
                tx.up(gsm::cc(ti, 0x07, true, n));
                tx.wait(rng, 30, 120);
                tx.down(gsm::cc(ti, 0x0f, false, 0));
            }
        }
        tx.wait(rng, 50, 80);
        tx.at(ends.hangup);
        if ends.by_network {
            tx.down(gsm::disconnect(ti, false, 0, ends.cause));
            tx.wait(rng, 40, 120);
            let n = tx.nsd();
            tx.up(gsm::release(ti, true, n, ends.cause));
            tx.wait(rng, 30, 100);
            tx.down(gsm::cc(ti, 0x2a, false, 0));
        } else {
            let n = tx.nsd();
            tx.up(gsm::disconnect(ti, true, n, ends.cause));
            tx.wait(rng, 40, 120);
            tx.down(gsm::release(ti, false, 0, ends.cause));
            tx.wait(rng, 30, 100);
            let n = tx.nsd();
            tx.up(gsm::cc(ti, 0x2a, true, n));
        }
        tx.wait(rng, 30, 90);
        tx.down(gsm::channel_release());
    }

    /// Drafts a mobile-originating call from time 0 up to and including its CC Setup
    /// (the last step); the caller shifts it into place.
    fn mo_head(&mut self, sub: Sub, ton: u8, called: &str, ti: Ti, identity_p: f64) -> Tx {
        let mut tx = self.open(sub, 0, 0xe0, 5);
        let n = tx.nsd();
        let l3 = gsm::cm_service_request(n, tx.sub.cksn, tx.sub.classmark, tx.sub.identity());
        tx.up(l3);
        if self.rng.gen_bool(identity_p) {
            self.identify(&mut tx, 2);
        }
        self.secure(&mut tx, 0.3);
        tx.wait(&mut self.rng, 40, 120);
        let n = tx.nsd();
        tx.link_step = Some(tx.steps.len());
        tx.up(gsm::setup_mo(ti, n, ton, called));
        tx
    }

    fn module_sub(&self, gi: usize, line: usize) -> Sub {
        let g = &self.gws[gi];
        let m = &g.modules[line];
        Sub {
            imsi: m.imsi.clone(),
            imei: m.imei.clone(),
            tmsi: m.tmsi,
            cell: g.cell,
            ta: g.ta,
            rssi: m.rssi,
            snr: m.snr,
            cksn: m.cksn,
            classmark: MODULE_CLASSMARK,
        }
    }

    /// A gateway module attaches its SIM from `start` (power-on or a new SIM).
    fn attach_module(&mut self, gi: usize, line: usize, start: u64, imei_check: bool) {
        let sub = self.module_sub(gi, line);
        let (cell, host) = (self.gws[gi].cell, self.gws[gi].host);
        let lai = self.cells[cell].lai;
        let imsi = sub.imsi.clone();
        let check = Check { imsi: false, imei: imei_check, new_tmsi: true };
        let (tx, tmsi) = self.location_update(sub, start, gsm::LU_IMSI_ATTACH, lai, check);
        let cut = self.gws[gi].modules[line].off_at;
        let end = self.commit(tx, cut, None, Some((host, imsi)));
        let m = &mut self.gws[gi].modules[line];
        let retired = match end {
            Some(end) => {
                m.busy_until = end;
                m.cksn = (m.cksn + 1) % 7;
                std::mem::replace(&mut m.tmsi, tmsi)
            }
            None => tmsi,
        };
        self.retire(retired);
    }

    /// Frees a TMSI no one holds any more (the set only holds those in use).
    fn retire(&mut self, tmsi: Option<u32>) {
        if let Some(t) = tmsi {
            self.tmsis.remove(&t);
        }
    }

    /// The GSM leg of a gateway call whose first INVITE came at `t`.
    fn gateway_call(&mut self, t: u64, gi: usize, line: usize, national: &str, times: &CallTimes) {
        let sub = self.module_sub(gi, line);
        let (imsi, imei) = (sub.imsi.clone(), sub.imei.clone());
        let (busy, off) = (self.gws[gi].modules[line].busy_until, self.gws[gi].modules[line].off_at);
        let ti = Ti { value: self.rng.gen_range(0..7), mobile_originated: true };
        let mut tx = self.mo_head(sub, gsm::TON_NATIONAL, national, ti, 0.03);
        let pre = tx.t;
        // The gateway dials 1–5 s after the INVITE, after it has taken the one with
        // credentials, once the module is free, and before its 180/183 if it can.
        let accepted = t + times.invite_us;
        let progress = t + times.progress_us;
        let lo = (t + SEC).max(accepted + 600 * MS).max(busy + 50 * MS + pre).max(t + pre);
        let latest = t + 5 * SEC;
        let hi = latest.min(progress.saturating_sub(250 * MS));
        let hi = if hi >= lo { hi } else { latest };
        if lo > hi {
            return;
        }
        let setup_at = self.rng.gen_range(lo..=hi);
        tx.shift(setup_at - pre);
        if tx.steps[0].0 >= off {
            return;
        }
        tx.wait(&mut self.rng, 60, 200);
        tx.down(gsm::cc(ti, 0x02, false, 0));
        let alert = progress.saturating_sub(self.rng.gen_range(40 * MS..200 * MS));
        tx.wait(&mut self.rng, 80, 150);
        tx.at(alert);
        tx.down(gsm::cc(ti, 0x01, false, 0));
        let answer = times.answer_us.map(|a| (t + a).saturating_sub(self.rng.gen_range(30 * MS..150 * MS)));
        let hangup = t + times.hangup_us;
        let ends = if times.hangup_by_callee {
            let cause = match times.reject_code {
                Some(486) => gsm::CAUSE_BUSY,
                Some(_) => gsm::CAUSE_NO_ANSWER,
                None => gsm::CAUSE_NORMAL,
            };
            CallEnds {
                answer,
                hangup: hangup.saturating_sub(self.rng.gen_range(60 * MS..300 * MS)),
                by_network: true,
                cause,
            }
        } else {
            let delay = self.rng.gen_range(60 * MS..300 * MS);
            CallEnds { answer, hangup: hangup + delay, by_network: false, cause: gsm::CAUSE_NORMAL }
        };
        self.call_tail(&mut tx, ti, ends);
        let link = TruthLink {
            gateway: self.gws[gi].address.clone(),
            line: line as u32,
            imsi,
            imei,
            sip_call_id: times.call_id.clone(),
            called_number: national.to_owned(),
            sip_invite_at: t,
            gsm_setup_at: setup_at,
        };
        if let Some(end) = self.commit(tx, off, Some(link), None) {
            self.gws[gi].modules[line].busy_until = end;
        }
    }

    /// A SIM bank put a new SIM (`imsi`) in module `line`: the old one detaches, the new
    /// one attaches with an IMEI check.
    fn swap_sim(&mut self, t: u64, gi: usize, line: usize, imsi: String) {
        let m = &self.gws[gi].modules[line];
        if m.imsi == imsi {
            return;
        }
        let (busy, off) = (m.busy_until, m.off_at);
        let start = (t + self.rng.gen_range(20 * MS..100 * MS)).max(busy + 50 * MS);
        if start + 3 * SEC >= off {
            // Too close to the power-off: the module never registers the new SIM.
            return;
        }
        let sub = self.module_sub(gi, line);
        let tx = self.detach(sub, start);
        let end = self.commit(tx, off, None, None).unwrap_or(start);
        let m = &mut self.gws[gi].modules[line];
        let old = std::mem::take(&mut m.tmsi);
        (m.imsi, m.busy_until) = (imsi, end);
        self.retire(old);
        let again = end + self.rng.gen_range(100 * MS..400 * MS);
        self.attach_module(gi, line, again, true);
    }

    /// Every module of gateway `gi` detaches at its power-off time.
    fn power_off(&mut self, gi: usize) {
        for line in 0..self.gws[gi].modules.len() {
            let off = self.gws[gi].modules[line].off_at;
            let sub = self.module_sub(gi, line);
            let tx = self.detach(sub, off);
            self.commit(tx, u64::MAX, None, None);
        }
    }

    fn handset_sub(&mut self, h: usize) -> Sub {
        let ta = self.rng.gen_range(0..40);
        let rssi = self.rng.gen_range(-105..-60);
        let snr = self.rng.gen_range(5..25);
        let p = &self.handsets[h];
        Sub {
            imsi: p.imsi.clone(),
            imei: p.imei.clone(),
            tmsi: p.tmsi,
            cell: p.cell,
            ta,
            rssi,
            snr,
            cksn: p.cksn,
            classmark: HANDSET_CLASSMARK,
        }
    }

    /// A number a person dials or is called from: mostly a favourite.
    fn person_number(&mut self, favourites: bool, h: usize) -> String {
        let list = if favourites { &self.handsets[h].favourites } else { &self.handsets[h].callers };
        if self.rng.gen_bool(0.8) {
            // Skewed: the first ones most.
            let k = (self.rng.gen::<f64>().powi(2) * list.len() as f64) as usize;
            list[k.min(list.len() - 1)].clone()
        } else if self.rng.gen_bool(0.7) {
            ids::cn_mobile(&mut self.rng)
        } else {
            ids::cn_landline(&mut self.rng)
        }
    }

    /// How a person's call ends: answered or not, who hangs up, when (from `from`).
    fn person_ends(&mut self, from: u64, answer_p: f64) -> CallEnds {
        let rng = &mut self.rng;
        if rng.gen_bool(answer_p) {
            let answer = from + rng.gen_range(3 * SEC..15 * SEC);
            let talk = rng.gen_range(15 * SEC..300 * SEC);
            CallEnds {
                answer: Some(answer),
                hangup: answer + talk,
                by_network: rng.gen_bool(0.5),
                cause: gsm::CAUSE_NORMAL,
            }
        } else if rng.gen_bool(0.3) {
            CallEnds {
                answer: None,
                hangup: from + rng.gen_range(2 * SEC..6 * SEC),
                by_network: true,
                cause: gsm::CAUSE_BUSY,
            }
        } else {
            CallEnds {
                answer: None,
                hangup: from + rng.gen_range(12 * SEC..30 * SEC),
                by_network: false,
                cause: gsm::CAUSE_NORMAL,
            }
        }
    }

    /// A handset's next move; returns how long until the one after.
    fn handset_action(&mut self, t: u64, h: usize) -> u64 {
        if self.handsets[h].busy_until > t {
            return self.rng.gen_range(5 * SEC..20 * SEC);
        }
        if !self.handsets[h].on {
            let start = t;
            let sub = self.handset_sub(h);
            let lai = self.cells[sub.cell].lai;
            let check = Check { imsi: false, imei: self.rng.gen_bool(0.3), new_tmsi: true };
            let (tx, tmsi) = self.location_update(sub, start, gsm::LU_IMSI_ATTACH, lai, check);
            self.handset_done(h, tx, tmsi);
            self.handsets[h].on = true;
            return self.person_gap();
        }
        let r: f64 = self.rng.gen();
        if r < 0.38 {
            self.handset_mo_call(t, h);
        } else if r < 0.66 {
            self.handset_mt_call(t, h);
        } else if r < 0.84 {
            self.handset_move(t, h);
        } else if r < 0.90 {
            let sub = self.handset_sub(h);
            let lai = self.cells[sub.cell].lai;
            let check = Check { imsi: false, imei: false, new_tmsi: self.rng.gen_bool(0.5) };
            let (tx, tmsi) = self.location_update(sub, t, gsm::LU_PERIODIC, lai, check);
            self.handset_done(h, tx, tmsi);
        } else if r < 0.94 {
            let sub = self.handset_sub(h);
            let tx = self.detach(sub, t);
            self.handset_done(h, tx, None);
            self.handsets[h].on = false;
            return self.rng.gen_range(60 * SEC..240 * SEC);
        }
        self.person_gap()
    }

    fn person_gap(&mut self) -> u64 {
        let u: f64 = self.rng.gen_range(1e-9..1.0);
        ((-55.0 * u.ln() + 10.0) * SEC as f64) as u64
    }

    /// Commits a handset's transaction and books the handset until it ends.
    fn handset_done(&mut self, h: usize, tx: Tx, tmsi: Option<u32>) {
        let retired = match self.commit(tx, u64::MAX, None, None) {
            Some(end) => {
                let p = &mut self.handsets[h];
                p.busy_until = end;
                if tmsi.is_some() {
                    std::mem::replace(&mut p.tmsi, tmsi)
                } else {
                    None
                }
            }
            None => tmsi,
        };
        self.retire(retired);
    }

    fn handset_mo_call(&mut self, t: u64, h: usize) {
        let called = self.person_number(true, h);
        let (ton, digits) = match called.strip_prefix('+') {
            Some(intl) => (gsm::TON_INTERNATIONAL, intl.to_owned()),
            None => (gsm::TON_NATIONAL, called),
        };
        let sub = self.handset_sub(h);
        let ti = Ti { value: self.rng.gen_range(0..7), mobile_originated: true };
        let mut tx = self.mo_head(sub, ton, &digits, ti, 0.02);
        tx.link_step = None;
        tx.shift(t);
        tx.wait(&mut self.rng, 60, 200);
        tx.down(gsm::cc(ti, 0x02, false, 0));
        tx.wait(&mut self.rng, 1_000, 4_000);
        tx.down(gsm::cc(ti, 0x01, false, 0));
        let ends = self.person_ends(tx.t, 0.75);
        self.call_tail(&mut tx, ti, ends);
        self.handset_done(h, tx, None);
    }

    fn handset_mt_call(&mut self, t: u64, h: usize) {
        let p = &self.handsets[h];
        let (lac, cell, tmsi) = (self.cells[p.cell].lai.lac, p.cell, p.tmsi);
        let imsi = p.imsi.clone();
        let by_imsi = tmsi.is_none() || self.rng.gen_bool(0.1);
        let paged_cells: Vec<usize> = (0..self.cells.len()).filter(|&c| self.cells[c].lai.lac == lac).collect();
        let page = |me: &mut Radio, at: u64| {
            for &c in &paged_cells {
                let mi = match tmsi {
                    Some(x) if !by_imsi => Mi::Tmsi(x),
                    _ => Mi::Imsi(&imsi),
                };
                let at = at + me.rng.gen_range(0..20 * MS);
                me.um(c, at, gsm::SUB_PCH, &gsm::paging1(mi, None));
            }
        };
        page(self, t);
        if self.rng.gen_bool(0.05) {
            // Out of coverage: paged again, then given up.
            let again = t + self.rng.gen_range(2 * SEC..4 * SEC);
            page(self, again);
            return;
        }
        let mut sub = self.handset_sub(h);
        if by_imsi {
            sub.tmsi = None;
        }
        debug_assert_eq!(sub.cell, cell);
        let start = t + self.rng.gen_range(200 * MS..600 * MS);
        let mut tx = self.open(sub, start, 0x80, 5);
        tx.up(gsm::paging_response(tx.sub.cksn, tx.sub.classmark, tx.sub.identity()));
        self.secure(&mut tx, 0.3);
        let ti = Ti { value: self.rng.gen_range(0..7), mobile_originated: false };
        let calling = self.person_number(false, h);
        let (ton, digits) = match calling.strip_prefix('+') {
            Some(intl) => (gsm::TON_INTERNATIONAL, intl.to_owned()),
            None => (gsm::TON_NATIONAL, calling),
        };
        tx.wait(&mut self.rng, 40, 120);
        tx.down(gsm::setup_mt(ti, ton, &digits));
        tx.wait(&mut self.rng, 60, 200);
        let n = tx.nsd();
        tx.up(gsm::cc(ti, 0x08, true, n));
        tx.wait(&mut self.rng, 200, 800);
        let n = tx.nsd();
        tx.up(gsm::cc(ti, 0x01, true, n));
        let ends = self.person_ends(tx.t, 0.85);
        self.call_tail(&mut tx, ti, ends);
        self.handset_done(h, tx, None);
    }

    /// The phone moves to another cell of its network; changing location area costs a
    /// normal location update (with the TMSI; now and then the network asks the IMSI).
    fn handset_move(&mut self, t: u64, h: usize) {
        let (op, from) = (self.handsets[h].op, self.handsets[h].cell);
        let others: Vec<usize> = (0..self.cells.len()).filter(|&c| c != from && self.cells[c].op == op).collect();
        let Some(&to) = others.get(self.rng.gen_range(0..others.len().max(1))) else { return };
        self.handsets[h].cell = to;
        let old = self.cells[from].lai;
        if old.lac == self.cells[to].lai.lac {
            return;
        }
        let sub = self.handset_sub(h);
        let check = Check { imsi: sub.tmsi.is_none() || self.rng.gen_bool(0.2), imei: false, new_tmsi: true };
        let (tx, tmsi) = self.location_update(sub, t, gsm::LU_NORMAL, old, check);
        self.handset_done(h, tx, tmsi);
    }

    /// System Information on a cell's BCCH.
    fn bcch(&mut self, t: u64, c: usize) -> u64 {
        let cell = &mut self.cells[c];
        let (ci, lai, t3212) = (cell.ci, cell.lai, cell.t3212);
        let si4 = cell.si4_next;
        cell.si4_next = !si4;
        self.um(c, t, gsm::SUB_BCCH, &gsm::si3(ci, &lai, t3212));
        if si4 {
            let at = t + self.rng.gen_range(200 * MS..300 * MS);
            self.um(c, at, gsm::SUB_BCCH, &gsm::si4(&lai));
        }
        self.rng.gen_range(2 * SEC..4 * SEC)
    }

    /// A paging block: dummy paging or pages for subscribers outside the scenario.
    fn pch(&mut self, t: u64, c: usize) -> u64 {
        let r: f64 = self.rng.gen();
        let block = if r < 0.55 {
            gsm::dummy_paging()
        } else if r < 0.90 {
            let a = self.stranger_tmsi();
            let b = self.rng.gen_bool(0.2).then(|| self.stranger_tmsi());
            gsm::paging1(Mi::Tmsi(a), b.map(Mi::Tmsi))
        } else if r < 0.98 {
            let (a, b) = (self.stranger_tmsi(), self.stranger_tmsi());
            gsm::paging2(a, b)
        } else {
            let mnc = self.cells[c].op.draw_mnc(&mut self.rng);
            let imsi = format!("460{mnc}{}", ids::digits(&mut self.rng, 10));
            gsm::paging1(Mi::Imsi(&imsi), None)
        };
        self.um(c, t, gsm::SUB_PCH, &block);
        self.rng.gen_range(300 * MS..1_500 * MS)
    }

    /// A TMSI of someone outside the scenario.
    fn stranger_tmsi(&mut self) -> u32 {
        loop {
            let t: u32 = self.rng.gen();
            if t != u32::MAX && !self.tmsis.contains(&t) {
                return t;
            }
        }
    }
}

/// What a location update checks and gives.
#[derive(Debug, Clone, Copy)]
struct Check {
    imsi: bool,
    imei: bool,
    new_tmsi: bool,
}

/// How a call ends.
#[derive(Debug, Clone, Copy)]
struct CallEnds {
    answer: Option<u64>,
    hangup: u64,
    by_network: bool,
    cause: u8,
}

impl<W: Write> Engine<W> {
    /// Builds the cell side: cells, the gateways' modules and SIMs (power-on cohorts,
    /// power-off at the end), phones, and the cells' broadcast. Runs after every other
    /// set-up draw, from its own generator.
    pub(super) fn setup_radio(&mut self) {
        let t0 = self.start_us;
        let mut r = Radio::new(self.cfg.seed, t0);
        let end = match self.cfg.target_packets {
            Some(_) => None,
            None => Some(t0 + self.cfg.duration.as_micros() as u64),
        };
        // Every gateway's first call.
        let mut first_line: HashMap<u32, u64> = HashMap::new();
        for p in self.heap.iter() {
            if let Ev::Line { gw, .. } = p.ev {
                let e = first_line.entry(gw).or_insert(p.t);
                *e = (*e).min(p.t);
            }
        }
        let gateways: Vec<u32> =
            (0..self.hosts.len() as u32).filter(|&h| self.hosts[h as usize].role.is_simbox()).collect();
        let total_lines: u32 = gateways.iter().map(|&g| self.hosts[g as usize].lines).sum();
        let per_op = CELLS_PER_OPERATOR + (total_lines / LINES_PER_EXTRA_CELL) as usize;
        // Cells: per operator, two to a location area, carriers from its band.
        for op in [Op::Cmcc, Op::Cu] {
            let mut band: Vec<u16> = op.arfcns().collect();
            let mut lac = 0;
            for k in 0..per_op {
                if k % 2 == 0 {
                    lac = r.rng.gen_range(0x1000..0xfff0);
                }
                let trx = r.rng.gen_range(2..=3).min(band.len() / (per_op - k).max(1)).max(1);
                let arfcns: Vec<u16> = (0..trx).map(|_| band.swap_remove(r.rng.gen_range(0..band.len()))).collect();
                let ci = loop {
                    let ci = r.rng.gen_range(0x1000..=0xffff);
                    if !r.cells.iter().any(|c| c.ci == ci) {
                        break ci;
                    }
                };
                r.cells.push(Cell {
                    op,
                    lai: Lai { mcc: "460", mnc: op.mnc(), lac },
                    ci,
                    busy: vec![0; arfcns.len() * CHANS_PER_TRX],
                    arfcns,
                    bsic: r.rng.gen_range(0..64),
                    fn0: r.rng.gen_range(0..gsm::HYPERFRAME),
                    t3212: [10, 20, 30][r.rng.gen_range(0..3)],
                    si4_next: false,
                    load: 0,
                });
            }
        }
        // Gateways: modules and SIMs, one cell each.
        for &g in &gateways {
            let lines = self.hosts[g as usize].lines as usize;
            let cp = self.hosts[g as usize].cp;
            let (imeis, imsis): (Vec<String>, Vec<String>) = match cp {
                Some(cp) => {
                    let plane = &self.cps[cp as usize];
                    plane.channels.iter().map(|c| (c.imei.clone(), plane.cards[c.card].imsi.clone())).unzip()
                }
                None => {
                    let op = if r.rng.gen_bool(0.6) { Op::Cmcc } else { Op::Cu };
                    let tac = ids::MODEM_TACS[r.rng.gen_range(0..ids::MODEM_TACS.len())];
                    (0..lines)
                        .map(|_| {
                            let mnc = op.draw_mnc(&mut r.rng);
                            (ids::imei(&mut r.rng, tac), ids::sim_identity(&mut r.rng, mnc).0)
                        })
                        .unzip()
                }
            };
            let cmcc = imsis.iter().filter(|i| Op::of_imsi(i) == Some(Op::Cmcc)).count();
            let cu = imsis.iter().filter(|i| Op::of_imsi(i) == Some(Op::Cu)).count();
            let op = if cu > cmcc { Op::Cu } else { Op::Cmcc };
            let cell =
                (0..r.cells.len()).filter(|&c| r.cells[c].op == op).min_by_key(|&c| r.cells[c].load).unwrap_or(0);
            r.cells[cell].load += lines as u32;
            let ta = r.rng.gen_range(0..=12);
            let rssi: i8 = r.rng.gen_range(-80..-55);
            let modules = imeis
                .into_iter()
                .zip(imsis)
                .map(|(imei, imsi)| Module {
                    imei,
                    imsi,
                    tmsi: None,
                    busy_until: 0,
                    off_at: u64::MAX,
                    rssi: rssi + r.rng.gen_range(-3..=3),
                    snr: r.rng.gen_range(15..30),
                    cksn: r.rng.gen_range(0..7),
                })
                .collect();
            let host = &mut self.hosts[g as usize];
            let address = host.sip.ip().to_string();
            let gi = r.gws.len();
            r.by_host.insert(g, gi);
            r.gws.push(GwRadio { host: g, address, cell, ta, modules });
            // Truth: every module; the keep-alives name the same cell.
            for m in &r.gws[gi].modules {
                if !host.imeis.contains(&m.imei) {
                    host.imeis.push(m.imei.clone());
                }
            }
            if let Some(cp) = cp {
                let (lac, ci) = (r.cells[cell].lai.lac, u32::from(r.cells[cell].ci));
                for ch in &mut self.cps[cp as usize].channels {
                    ch.cell = (lac, ci);
                }
            }
        }
        // Power-off in the last seconds for about half of them (at least one).
        if let Some(end) = end {
            let mut any = false;
            for gi in 0..r.gws.len() {
                let last = gi + 1 == r.gws.len();
                if !(r.rng.gen_bool(0.5) || (last && !any)) {
                    continue;
                }
                let off = end.saturating_sub(r.rng.gen_range(6 * SEC..15 * SEC)).max(t0 + 10 * SEC);
                if off >= end {
                    continue;
                }
                any = true;
                for line in 0..r.gws[gi].modules.len() {
                    r.gws[gi].modules[line].off_at = off + r.rng.gen_range(0..1_500 * MS);
                }
                self.at(off, Ev::PowerOff(gi as u32));
            }
        }
        // Power-on: each gateway's SIMs attach within two seconds of each other, a few
        // seconds before its first call (or at the capture start).
        for gi in 0..r.gws.len() {
            let first = first_line.get(&r.gws[gi].host).copied().unwrap_or(t0);
            let lead = r.rng.gen_range(2_500 * MS..6 * SEC);
            let on = first.saturating_sub(lead).max(t0);
            for line in 0..r.gws[gi].modules.len() {
                let start = on + r.rng.gen_range(0..2 * SEC);
                let check = r.rng.gen_bool(0.5);
                r.attach_module(gi, line, start, check);
            }
        }
        // Ordinary phones.
        for _ in 0..HANDSETS {
            let op = if r.rng.gen_bool(0.6) { Op::Cmcc } else { Op::Cu };
            let mnc = op.draw_mnc(&mut r.rng);
            let imsi = ids::sim_identity(&mut r.rng, mnc).0;
            let tac = ids::HANDSET_TACS[r.rng.gen_range(0..ids::HANDSET_TACS.len())];
            let imei = ids::imei(&mut r.rng, tac);
            let cells: Vec<usize> = (0..r.cells.len()).filter(|&c| r.cells[c].op == op).collect();
            let cell = cells[r.rng.gen_range(0..cells.len())];
            let on = r.rng.gen_bool(0.85);
            // Phones switched on before the capture hold a TMSI from then.
            let tmsi = on.then(|| r.new_tmsi());
            let k = r.rng.gen_range(3..=5);
            let favourites: Vec<String> = (0..k)
                .map(|i| match i {
                    0 if r.rng.gen_bool(0.2) => ids::foreign_number(&mut r.rng),
                    1 => ids::cn_landline(&mut r.rng),
                    _ => ids::cn_mobile(&mut r.rng),
                })
                .collect();
            let callers: Vec<String> = (0..k).map(|_| ids::cn_mobile(&mut r.rng)).collect();
            let h = r.handsets.len() as u32;
            r.handsets.push(Handset {
                imsi,
                imei,
                tmsi,
                op,
                cell,
                on,
                busy_until: 0,
                favourites,
                callers,
                cksn: r.rng.gen_range(0..7),
            });
            let first = t0 + r.rng.gen_range(0..if on { 90 * SEC } else { 200 * SEC });
            self.at(first, Ev::Handset(h));
        }
        for c in 0..r.cells.len() as u32 {
            let a = t0 + r.rng.gen_range(0..SEC);
            self.at(a, Ev::Bcch(c));
            let b = t0 + r.rng.gen_range(0..SEC);
            self.at(b, Ev::Pch(c));
        }
        self.radio = Some(Box::new(r));
        self.drain_radio();
    }

    /// Schedules the frames the cell side has drafted.
    fn drain_radio(&mut self) {
        let Some(r) = self.radio.as_deref_mut() else { return };
        let queue = std::mem::take(&mut r.queue);
        for (t, frame) in queue {
            self.at(t, Ev::Gsm(Box::new(frame)));
        }
    }

    /// Writes a GSMTAP datagram; a CC Setup adds its link, an attach its IMSI.
    pub(super) fn write_gsm(&mut self, t: u64, frame: GsmFrame) -> Result<(), Error> {
        let Some(r) = self.radio.as_deref_mut() else { return Ok(()) };
        let id = r.ip_id;
        r.ip_id = r.ip_id.wrapping_add(1);
        r.packets += 1;
        let (src, dst) = (r.src, r.dst);
        if let Some(link) = frame.link {
            r.links.push(*link);
        }
        if let Some(attach) = frame.attach {
            let (host, imsi) = *attach;
            let h = &mut self.hosts[host as usize];
            if !h.imsis.contains(&imsi) {
                h.imsis.push(imsi);
            }
        }
        self.out.udp_with_ip_id(t, src, dst, &frame.bytes, id)
    }

    /// The GSM leg of the call a gateway just took on channel `line`.
    pub(super) fn gsm_gateway_call(&mut self, t: u64, gw: u32, line: u32, national: &str, times: &CallTimes) {
        let Some(r) = self.radio.as_deref_mut() else { return };
        let Some(&gi) = r.by_host.get(&gw) else { return };
        r.gateway_call(t, gi, line as usize, national, times);
        self.drain_radio();
    }

    /// A SIM bank moved a new SIM into a gateway channel.
    pub(super) fn gsm_sim_swapped(&mut self, t: u64, gw: u32, line: u32) {
        let Some(cp) = self.hosts[gw as usize].cp else { return };
        let plane = &self.cps[cp as usize];
        let imsi = plane.cards[plane.channels[line as usize].card].imsi.clone();
        let Some(r) = self.radio.as_deref_mut() else { return };
        let Some(&gi) = r.by_host.get(&gw) else { return };
        r.swap_sim(t, gi, line as usize, imsi);
        self.drain_radio();
    }

    pub(super) fn gsm_power_off(&mut self, gi: u32) {
        let Some(r) = self.radio.as_deref_mut() else { return };
        r.power_off(gi as usize);
        self.drain_radio();
    }

    pub(super) fn gsm_handset(&mut self, t: u64, h: u32) {
        let Some(r) = self.radio.as_deref_mut() else { return };
        let gap = r.handset_action(t, h as usize);
        let gap = self.human_gap(t, gap);
        self.at(t + gap.max(MS), Ev::Handset(h));
        self.drain_radio();
    }

    pub(super) fn gsm_bcch(&mut self, t: u64, c: u32) {
        let Some(r) = self.radio.as_deref_mut() else { return };
        let next = r.bcch(t, c as usize);
        self.at(t + next, Ev::Bcch(c));
        self.drain_radio();
    }

    pub(super) fn gsm_pch(&mut self, t: u64, c: u32) {
        let Some(r) = self.radio.as_deref_mut() else { return };
        let next = r.pch(t, c as usize);
        self.at(t + next, Ev::Pch(c));
        self.drain_radio();
    }

    /// The cell side's part of the truth: cells, links, phones, each gateway's cell.
    pub(super) fn radio_truth(&self) -> (u64, Vec<TruthCell>, Vec<TruthLink>, Vec<TruthHandset>) {
        let Some(r) = self.radio.as_deref() else { return (0, Vec::new(), Vec::new(), Vec::new()) };
        let cells = r.cells.iter().map(Cell::truth).collect();
        let handsets = r.handsets.iter().map(|h| TruthHandset { imsi: h.imsi.clone(), imei: h.imei.clone() }).collect();
        (r.packets, cells, r.links.clone(), handsets)
    }

    /// The cell a gateway host's SIMs sit in.
    pub(super) fn radio_cell_of(&self, host: u32) -> Option<TruthCell> {
        let r = self.radio.as_deref()?;
        let gi = *r.by_host.get(&host)?;
        Some(r.cells[r.gws[gi].cell].truth())
    }
}
