//! Cell-side state from GSMTAP (SPEC 3.4): cells, subscribers (IMSI, with the
//! TMSIs that stand for them), devices (IMEI) and the calls subscribers set
//! up, so that SIP calls can be matched to the SIM that carried them.
//!
//! A dedicated channel carries one phone at a time: the identity a phone
//! gives in its first message (CM Service Request, Paging Response, Location
//! Updating Request) is remembered per channel (ARFCN, timeslot, sub-slot)
//! and names the subscriber of the CC Setup that follows on that channel.
//! Every table is bounded.

use std::collections::{BTreeMap, HashMap};

use crate::capture::Micros;
use crate::dissect::gsm_l3::{self, Identity, Message, MobileIdentity};
use crate::dissect::gsmtap;

/// Subscribers followed.
pub const MAX_SUBSCRIBERS: usize = 200_000;
/// Devices followed.
pub const MAX_DEVICES: usize = 200_000;
/// TMSI → IMSI mappings kept.
pub const MAX_TMSIS: usize = 400_000;
/// Dedicated channels remembered.
pub const MAX_CHANNELS: usize = 65_536;
/// Cells remembered.
pub const MAX_CELLS: usize = 10_000;
/// An identity names a channel's later messages for this long.
pub const CHANNEL_HOLD: Micros = 60_000_000;
/// Per-subscriber lists (cells, IMEIs, TMSIs, called numbers) are capped at this.
pub const MAX_PER_SUBSCRIBER: usize = 64;
/// IMSI attaches (or detaches) this close together at one location area form a cohort.
pub const COHORT_WINDOW: Micros = 10_000_000;
/// SIMs needed for a cohort (synchronised power-on of a SIM box).
pub const MIN_COHORT: usize = 4;
/// A subscriber seen this long in one location area counts as stationary.
pub const STATIONARY_SPAN: Micros = 120_000_000;
/// Calls and distinct callees needed for "originating only, many callees".
pub const MIN_SETUPS: u64 = 5;
/// IMSIs per IMEI (or IMEIs per IMSI) that count as many.
pub const MANY: usize = 3;

/// A cell: location area and cell identity from System Information.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellId {
    /// Mobile country code.
    pub mcc: u16,
    /// Mobile network code.
    pub mnc: u16,
    /// Location area code.
    pub lac: u16,
    /// Cell identity (0 when only the location area is known).
    pub cell: u16,
}

/// What is known about one SIM.
#[derive(Debug, Clone, Default)]
pub struct Subscriber {
    /// TMSIs seen standing for it.
    pub tmsis: Vec<u32>,
    /// Location areas / cells it was seen in.
    pub cells: Vec<CellId>,
    /// IMEIs seen with it.
    pub imeis: Vec<String>,
    /// IMSI attaches (Location Updating of type IMSI attach).
    pub attaches: u64,
    /// Location updates of any type.
    pub location_updates: u64,
    /// IMSI detaches.
    pub detaches: u64,
    /// Calls it set up (CC Setup).
    pub setups: u64,
    /// Times it answered a page (mobile-terminated activity).
    pub paging_responses: u64,
    /// Times of its IMSI attaches (capped), for cohort detection.
    pub attach_times: Vec<Micros>,
    /// Times of its IMSI detaches (capped), for cohort detection.
    pub detach_times: Vec<Micros>,
    /// Distinct numbers it called (capped).
    pub called: Vec<String>,
    /// First and last time seen.
    pub first_ts: Micros,
    /// Last time seen.
    pub last_ts: Micros,
}

/// What is known about one device.
#[derive(Debug, Clone, Default)]
pub struct Device {
    /// IMSIs seen with it.
    pub imsis: Vec<String>,
    /// First time seen.
    pub first_ts: Micros,
}

/// A call set up on the cell side, for matching with SIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GsmSetup {
    /// Capture time of the CC Setup.
    pub ts: Micros,
    /// The subscriber, when the channel's identity is known.
    pub imsi: Option<String>,
    /// The device, when known.
    pub imei: Option<String>,
    /// The called number, digits as sent (international ones with a leading `+`).
    pub called: String,
    /// File and frame of the CC Setup.
    pub frame: super::host::FrameRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ChannelKey {
    arfcn: u16,
    timeslot: u8,
    sub_slot: u8,
}

/// The cell-side tables.
#[derive(Debug, Default)]
pub struct CellTracker {
    /// Cells by identity, with the ARFCN they were heard on.
    pub cells: BTreeMap<CellId, u16>,
    /// Subscribers by IMSI.
    pub subscribers: HashMap<String, Subscriber>,
    /// Devices by IMEI.
    pub devices: HashMap<String, Device>,
    tmsi_to_imsi: HashMap<u32, String>,
    channels: HashMap<ChannelKey, (Identity, Micros)>,
    setups: Vec<GsmSetup>,
    /// GSMTAP packets read.
    pub packets: u64,
    /// Filler blocks.
    pub filler: u64,
    /// CC Setups seen (with or without a known subscriber).
    pub setups_seen: u64,
    /// GSM L3 messages by type.
    gsm_types: HashMap<gsm_l3::MessageType, u64>,
    /// LTE NAS messages by type.
    nas_types: HashMap<crate::dissect::lte_nas::MessageKey, u64>,
    /// Problems by kind (decode errors and full tables).
    pub errors: BTreeMap<&'static str, u64>,
}

fn digits_of(id: &Identity) -> Option<String> {
    match id {
        Identity::Imsi(d) | Identity::Imei(d) | Identity::Imeisv(d) => Some(d.to_string()),
        _ => None,
    }
}

fn push_capped<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if v.len() < MAX_PER_SUBSCRIBER && !v.contains(&item) {
        v.push(item);
    }
}

impl CellTracker {
    /// Empty tables.
    pub fn new() -> Self {
        Self::default()
    }

    fn error(&mut self, kind: &'static str) {
        *self.errors.entry(kind).or_default() += 1;
    }

    /// Feed one GSMTAP datagram (UDP payload).
    pub fn datagram(&mut self, ts: Micros, payload: &[u8], frame: super::host::FrameRef) {
        self.packets += 1;
        let packet = match gsmtap::Packet::new_checked(payload) {
            Ok(p) => p,
            Err(e) => return self.error(e.kind.name()),
        };
        let key = ChannelKey { arfcn: packet.arfcn(), timeslot: packet.timeslot(), sub_slot: packet.sub_slot() };
        let l3 = match gsmtap::l3_of(&packet) {
            Ok(gsmtap::L3Payload::L3(b) | gsmtap::L3Payload::Echo(b)) => b,
            Ok(gsmtap::L3Payload::Filler(_)) => {
                self.filler += 1;
                return;
            }
            Ok(gsmtap::L3Payload::Nas(b)) => {
                match crate::dissect::lte_nas::message_key(b) {
                    Ok(k) => *self.nas_types.entry(k).or_default() += 1,
                    Err(e) => self.error(e.kind.name()),
                }
                return;
            }
            Ok(_) => return,
            Err(e) => return self.error(e.kind.name()),
        };
        let Ok(header) = gsm_l3::Packet::new_checked(l3) else { return self.error("gsm_l3_truncated") };
        *self.gsm_types.entry(header.message_type()).or_default() += 1;
        let msg = match Message::parse(&header) {
            Ok(m) => m,
            Err(e) => return self.error(e.kind.name()),
        };
        self.message(ts, key, &packet, msg, frame);
    }

    fn message(
        &mut self,
        ts: Micros,
        key: ChannelKey,
        packet: &gsmtap::Packet<&[u8]>,
        msg: Message,
        frame: super::host::FrameRef,
    ) {
        match msg {
            Message::SystemInformation3(si) if self.cells.len() < MAX_CELLS => {
                let id = CellId { mcc: si.lai.plmn.mcc, mnc: si.lai.plmn.mnc, lac: si.lai.lac, cell: si.cell_id };
                self.cells.insert(id, packet.arfcn());
            }
            Message::LocationUpdatingRequest { update_type, lai, identity, .. } => {
                let cell = CellId { mcc: lai.plmn.mcc, mnc: lai.plmn.mnc, lac: lai.lac, cell: 0 };
                let attach = update_type == gsm_l3::LocationUpdatingType::ImsiAttach;
                if let Some(s) = self.subscriber_of(&identity, ts) {
                    s.location_updates += 1;
                    s.attaches += u64::from(attach);
                    if attach && s.attach_times.len() < MAX_PER_SUBSCRIBER {
                        s.attach_times.push(ts);
                    }
                    push_capped(&mut s.cells, cell);
                }
                self.hold(key, &identity, ts);
            }
            Message::ImsiDetachIndication { identity } => {
                if let Some(s) = self.subscriber_of(&identity, ts) {
                    s.detaches += 1;
                    if s.detach_times.len() < MAX_PER_SUBSCRIBER {
                        s.detach_times.push(ts);
                    }
                }
            }
            Message::CmServiceRequest { identity, .. } => {
                self.subscriber_of(&identity, ts);
                self.hold(key, &identity, ts);
            }
            Message::PagingResponse { identity, .. } => {
                if let Some(s) = self.subscriber_of(&identity, ts) {
                    s.paging_responses += 1;
                }
                self.hold(key, &identity, ts);
            }
            Message::IdentityResponse { identity } => {
                let imei = identity.identity().as_ref().and_then(digits_of);
                let (Some(imei), MobileIdentity::Imei(_) | MobileIdentity::Imeisv(_)) = (imei, identity) else {
                    // An IMSI given on request names the channel like any other.
                    self.subscriber_of(&identity, ts);
                    self.hold(key, &identity, ts);
                    return;
                };
                let imei: String = imei.chars().take(14).collect::<String>();
                self.device_on_channel(key, imei, ts);
            }
            Message::CipheringModeComplete { imeisv: Some(identity) } => {
                if let Some(d) = identity.identity().as_ref().and_then(digits_of) {
                    self.device_on_channel(key, d.chars().take(14).collect(), ts);
                }
            }
            Message::TmsiReallocationCommand { identity, .. } => {
                // The new TMSI stands for whoever holds the channel now.
                if let (MobileIdentity::Tmsi(t), Some(imsi)) = (identity, self.channel_imsi(key, ts)) {
                    if self.tmsi_to_imsi.len() < MAX_TMSIS || self.tmsi_to_imsi.contains_key(&t) {
                        self.tmsi_to_imsi.insert(t, imsi.clone());
                    }
                    if let Some(s) = self.subscribers.get_mut(&imsi) {
                        push_capped(&mut s.tmsis, t);
                    }
                }
            }
            Message::Setup(setup) => {
                self.setups_seen += 1;
                let Some(called) = setup.called.map(|n| n.to_e164_string()) else { return };
                let imsi = self.channel_imsi(key, ts);
                let imei = imsi.as_ref().and_then(|i| self.subscribers.get(i)).and_then(|s| s.imeis.first().cloned());
                if let Some(s) = imsi.as_ref().and_then(|i| self.subscribers.get_mut(i)) {
                    s.setups += 1;
                    push_capped(&mut s.called, called.clone());
                }
                self.setups.push(GsmSetup { ts, imsi, imei, called, frame });
            }
            _ => {}
        }
    }

    /// The IMSI an identity stands for (a TMSI through its mapping), creating the subscriber.
    fn subscriber_of(&mut self, identity: &MobileIdentity, ts: Micros) -> Option<&mut Subscriber> {
        let imsi = match identity {
            MobileIdentity::Imsi(d) => d.to_string(),
            MobileIdentity::Tmsi(t) => self.tmsi_to_imsi.get(t)?.clone(),
            _ => return None,
        };
        if !self.subscribers.contains_key(&imsi) && self.subscribers.len() >= MAX_SUBSCRIBERS {
            self.error("subscriber_table_full");
            return None;
        }
        let s = self.subscribers.entry(imsi).or_insert_with(|| Subscriber { first_ts: ts, ..Subscriber::default() });
        s.last_ts = s.last_ts.max(ts);
        Some(s)
    }

    fn hold(&mut self, key: ChannelKey, identity: &MobileIdentity, ts: Micros) {
        let Some(id) = identity.identity() else { return };
        if self.channels.len() >= MAX_CHANNELS && !self.channels.contains_key(&key) {
            self.channels.retain(|_, (_, t)| ts.saturating_sub(*t) < CHANNEL_HOLD);
            if self.channels.len() >= MAX_CHANNELS {
                return self.error("channel_table_full");
            }
        }
        self.channels.insert(key, (id, ts));
    }

    /// The IMSI holding a channel now, if known.
    fn channel_imsi(&self, key: ChannelKey, ts: Micros) -> Option<String> {
        let (id, at) = self.channels.get(&key)?;
        if ts.saturating_sub(*at) >= CHANNEL_HOLD {
            return None;
        }
        match id {
            Identity::Imsi(d) => Some(d.to_string()),
            Identity::Tmsi(t) => self.tmsi_to_imsi.get(t).cloned(),
            _ => None,
        }
    }

    fn device_on_channel(&mut self, key: ChannelKey, imei: String, ts: Micros) {
        let imsi = self.channel_imsi(key, ts);
        if !self.devices.contains_key(&imei) && self.devices.len() >= MAX_DEVICES {
            return self.error("device_table_full");
        }
        let d = self.devices.entry(imei.clone()).or_insert_with(|| Device { first_ts: ts, ..Device::default() });
        if let Some(imsi) = imsi {
            push_capped(&mut d.imsis, imsi.clone());
            if let Some(s) = self.subscribers.get_mut(&imsi) {
                push_capped(&mut s.imeis, imei);
            }
        }
    }

    /// L3 messages by type name (`mm.location_updating_request`, `emm.attach_request`…).
    pub fn messages(&self) -> BTreeMap<String, u64> {
        let gsm = self.gsm_types.iter().map(|(k, v)| (k.to_string(), *v));
        let nas = self.nas_types.iter().map(|(k, v)| (k.to_string(), *v));
        gsm.chain(nas).collect()
    }

    /// Signs of a SIM box per subscriber (SPEC 3.4), by IMSI: attached or
    /// detached in a cohort with others at one location area (a SIM box
    /// powering its modules on or off together), never moved, only ever
    /// originating calls to many numbers, used in many devices.
    pub fn subscriber_flags(&self) -> HashMap<&str, Vec<&'static str>> {
        let mut flags: HashMap<&str, Vec<&'static str>> = HashMap::new();
        for (flag, times) in [
            ("attach_cohort", (|s: &Subscriber| &s.attach_times) as fn(&Subscriber) -> &Vec<Micros>),
            ("detach_cohort", |s: &Subscriber| &s.detach_times),
        ] {
            for imsi in self.cohorts(times) {
                flags.entry(imsi).or_default().push(flag);
            }
        }
        for (imsi, s) in &self.subscribers {
            let f = flags.entry(imsi.as_str()).or_default();
            if s.cells.len() == 1 && s.location_updates >= 2 && s.last_ts.saturating_sub(s.first_ts) >= STATIONARY_SPAN
            {
                f.push("stationary");
            }
            if s.setups >= MIN_SETUPS && s.called.len() as u64 >= MIN_SETUPS && s.paging_responses == 0 {
                f.push("originating_only_many_callees");
            }
            if s.imeis.len() >= MANY {
                f.push("many_imeis");
            }
            f.dedup();
        }
        flags.retain(|_, f| !f.is_empty());
        flags
    }

    /// IMSIs whose events (attach or detach times, from `times`) fall within
    /// [`COHORT_WINDOW`] of each other at one location area, in groups of at
    /// least [`MIN_COHORT`] SIMs.
    fn cohorts(&self, times: fn(&Subscriber) -> &Vec<Micros>) -> Vec<&str> {
        let mut events: Vec<(CellId, Micros, &str)> = self
            .subscribers
            .iter()
            .flat_map(|(imsi, s)| {
                let la = s.cells.first().copied().unwrap_or_default();
                times(s).iter().map(move |t| (la, *t, imsi.as_str()))
            })
            .collect();
        events.sort_unstable();
        let mut found = Vec::new();
        let mut start = 0;
        for end in 1..=events.len() {
            let split = end == events.len()
                || events[end].0 != events[end - 1].0
                || events[end].1.saturating_sub(events[end - 1].1) > COHORT_WINDOW;
            if split {
                let mut imsis: Vec<&str> = events[start..end].iter().map(|a| a.2).collect();
                imsis.sort_unstable();
                imsis.dedup();
                if imsis.len() >= MIN_COHORT {
                    found.extend(imsis);
                }
                start = end;
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Calls set up since the last call.
    pub fn take_setups(&mut self) -> Vec<GsmSetup> {
        std::mem::take(&mut self.setups)
    }
}

/// GSMTAP datagrams for tests, built with the dissectors' own emitters.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::dissect::gsm_l3::ie::{IdentityDigits, MobileIdentity};
    use crate::dissect::gsmtap::{PayloadType, Repr, HEADER_LEN};

    /// A GSMTAP ABIS datagram on `timeslot` carrying `l3`.
    pub fn abis(timeslot: u8, l3: &[u8]) -> Vec<u8> {
        let repr = Repr {
            payload_type: PayloadType::Abis,
            timeslot,
            arfcn: 10,
            pcs: false,
            uplink: true,
            signal_dbm: -60,
            snr_db: 0,
            frame_number: 0,
            sub_type: 0,
            antenna: 0,
            sub_slot: 0,
        };
        let mut buf = vec![0u8; HEADER_LEN];
        repr.emit(&mut buf);
        buf.extend_from_slice(l3);
        buf
    }

    fn identity(imsi: &str) -> Vec<u8> {
        let mi = MobileIdentity::Imsi(IdentityDigits::from_text(imsi).expect("IMSI digits"));
        let mut v = vec![0u8; 1 + mi.value_len()];
        v[0] = mi.value_len() as u8;
        mi.emit(&mut v[1..]);
        v
    }

    /// MM Location Updating Request, IMSI attach, LAI 460-00 LAC 0x1234.
    pub fn lu_request(imsi: &str) -> Vec<u8> {
        let mut m = vec![0x05, 0x08, 0x02, 0x64, 0xf0, 0x00, 0x12, 0x34, 0x33];
        m.extend(identity(imsi));
        m
    }

    /// MM IMSI Detach Indication (TS 24.008 9.2.12): classmark 1, then the identity.
    pub fn imsi_detach(imsi: &str) -> Vec<u8> {
        let mut m = vec![0x05, 0x01, 0x33];
        m.extend(identity(imsi));
        m
    }

    /// MM CM Service Request for a mobile-originating call.
    pub fn cm_service_request(imsi: &str) -> Vec<u8> {
        let mut m = vec![0x05, 0x24, 0x01, 0x03, 0x57, 0x18, 0x81];
        m.extend(identity(imsi));
        m
    }

    /// CC Setup with a national called party BCD number (IEI 0x5e).
    pub fn setup(called: &str) -> Vec<u8> {
        let digits: Vec<u8> = called.bytes().map(|b| b - b'0').collect();
        let mut bcd = vec![0xa1];
        for pair in digits.chunks(2) {
            bcd.push(pair[0] | (pair.get(1).copied().unwrap_or(0x0f) << 4));
        }
        let mut m = vec![0x03, 0x05, 0x04, 0x01, 0xa0, 0x5e, bcd.len() as u8];
        m.extend(bcd);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{abis, cm_service_request, imsi_detach, lu_request, setup};
    use super::*;
    use crate::track::host::FrameRef;

    const IMSI: &str = "460001234567890";

    fn f(n: u64) -> FrameRef {
        FrameRef { file: 0, number: n }
    }

    #[test]
    fn a_call_setup_is_tied_to_the_sim_on_its_channel() {
        let mut t = CellTracker::new();
        t.datagram(1_000_000, &abis(2, &lu_request(IMSI)), f(1));
        t.datagram(5_000_000, &abis(3, &cm_service_request(IMSI)), f(2));
        t.datagram(5_100_000, &abis(3, &setup("13812345678")), f(3));
        // Another channel's setup has no known subscriber.
        t.datagram(5_200_000, &abis(4, &setup("13900000000")), f(4));
        let s = &t.subscribers[IMSI];
        assert_eq!((s.attaches, s.location_updates, s.setups), (1, 1, 1), "{s:?}");
        assert_eq!(s.cells, vec![CellId { mcc: 460, mnc: 0, lac: 0x1234, cell: 0 }]);
        assert_eq!(t.setups_seen, 2);
        let setups = t.take_setups();
        assert_eq!(setups.len(), 2);
        assert_eq!(setups[0].imsi.as_deref(), Some(IMSI));
        assert_eq!(setups[0].called, "13812345678");
        assert_eq!(setups[1].imsi, None);
        assert_eq!(t.messages().get("mm.location_updating_request"), Some(&1));
        assert_eq!(t.messages().get("cc.setup"), Some(&2));
    }

    #[test]
    fn a_cohort_of_attaching_sims_is_flagged() {
        let mut t = CellTracker::new();
        for i in 0..5u64 {
            let imsi = format!("46000123456789{i}");
            t.datagram(1_000_000 + i * 500_000, &abis(1, &lu_request(&imsi)), f(i + 1));
        }
        // A phone attaching an hour later is on its own.
        t.datagram(3_600_000_000, &abis(1, &lu_request("460009999999999")), f(9));
        let flags = t.subscriber_flags();
        assert_eq!(flags.values().filter(|f| f.contains(&"attach_cohort")).count(), 5, "{flags:?}");
        assert!(!flags.contains_key("460009999999999"));
    }

    #[test]
    fn sims_detaching_together_form_a_cohort_and_stragglers_do_not() {
        let mut t = CellTracker::new();
        // Five SIMs attach over an hour (no attach cohort), then power off within 3 s.
        for i in 0..5u64 {
            let imsi = format!("46000123456789{i}");
            t.datagram(i * 900_000_000, &abis(1, &lu_request(&imsi)), f(i + 1));
            t.datagram(5_000_000_000 + i * 700_000, &abis(1, &imsi_detach(&imsi)), f(i + 10));
        }
        // Three more detach together: below MIN_COHORT.
        for i in 0..3u64 {
            let imsi = format!("46000765432100{i}");
            t.datagram(i * 900_000_000 + 1, &abis(1, &lu_request(&imsi)), f(i + 20));
            t.datagram(9_000_000_000 + i * 100_000, &abis(1, &imsi_detach(&imsi)), f(i + 30));
        }
        let flags = t.subscriber_flags();
        let with = |flag: &str| flags.values().filter(|f| f.contains(&flag)).count();
        assert_eq!(with("detach_cohort"), 5, "{flags:?}");
        assert_eq!(with("attach_cohort"), 0, "{flags:?}");
        assert_eq!(t.subscribers["460001234567890"].detaches, 1);
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let mut t = CellTracker::new();
        t.datagram(0, &[1, 2, 3], f(1));
        t.datagram(0, &abis(0, &[0x05]), f(2));
        assert_eq!(t.packets, 2);
        assert!(t.errors.values().sum::<u64>() >= 2, "{:?}", t.errors);
    }
}
