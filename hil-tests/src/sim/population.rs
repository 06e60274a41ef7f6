//! The mixed scenario's benign hosts, as engine methods: more PBXs with carrier trunks,
//! more call centres, softphones on a hosted-VoIP provider, single softphones on a
//! carrier, and domestic users of foreign VoIP providers (SPEC §3.3 hard negatives).
//!
//! Address plan (RFC 2544 benchmarking range, so nothing collides with the basic
//! scenario's documentation ranges): carriers and the hosted provider 198.18.60.x, call
//! centres 198.18.40.x, PBXs 198.18.50.x, softphones 198.18.128.0/17, single softphones
//! 198.19.0.0/20, overseas-VoIP users 198.19.16.0/20; the foreign providers sit abroad
//! with the softswitches, 203.0.113.240–242.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use rand::Rng;

use super::{even_port, ids, v4, Dialler, Engine, Ev, Flavor, Host, Kind, Registration, Role, MS, SEC};

/// Which kind of lone endpoint to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Softphone,
    Single,
    Overseas,
}

/// Foreign providers overseas-VoIP users register to.
const FOREIGN_PROVIDERS: u8 = 3;

/// The `i`-th address of a block starting at `a.b.c.10`, 200 to a /24.
fn block(a: u8, b: u8, c: u8, i: u32) -> IpAddr {
    v4(a, b, c + (i / 200) as u8, 10 + (i % 200) as u8)
}

impl<W: Write> Engine<W> {
    fn add_host(&mut self, role: Role, kind: Kind, flavor: Flavor, sip: SocketAddr) -> u32 {
        self.hosts.push(Host::new(role, kind, flavor, sip));
        self.hosts.len() as u32 - 1
    }

    /// Adds the extra hosts the configuration asks for (none in the basic scenario, which
    /// then draws nothing here).
    pub(super) fn setup_extras(&mut self) {
        let c = &self.cfg;
        let need_carriers = c.call_centres + c.pbx_sites + c.single_softphones > 0;
        if !need_carriers && c.softphones == 0 && c.overseas_voip == 0 {
            return;
        }
        let (pbx_sites, call_centres, softphones, singles, overseas) =
            (c.pbx_sites, c.call_centres, c.softphones, c.single_softphones, c.overseas_voip);
        let mut carriers: Vec<u32> = self.carrier.into_iter().collect();
        if need_carriers {
            for k in 0..2 {
                let sip = SocketAddr::new(v4(198, 18, 60, 10 + k), 5060);
                carriers.push(self.add_host(Role::Carrier, Kind::Carrier, Flavor::Carrier, sip));
            }
        }
        let carrier = |k: u32| carriers[k as usize % carriers.len()];
        for k in 0..pbx_sites {
            self.add_pbx_site(k, carrier(k + 1));
        }
        for k in 0..call_centres {
            self.add_call_centre(k, carrier(k + 2));
        }
        if softphones > 0 {
            let sip = SocketAddr::new(v4(198, 18, 60, 20), 5060);
            let provider = self.add_host(Role::Provider, Kind::VoipProvider, Flavor::Carrier, sip);
            for i in 0..softphones {
                self.add_endpoint(Endpoint::Softphone, i, provider);
            }
        }
        for i in 0..singles {
            self.add_endpoint(Endpoint::Single, i, carrier(i));
        }
        if overseas > 0 {
            let providers: Vec<u32> = (0..FOREIGN_PROVIDERS)
                .map(|k| {
                    let sip = SocketAddr::new(v4(203, 0, 113, 240 + k), 5060);
                    self.add_host(Role::Provider, Kind::VoipProvider, Flavor::FreeSwitch, sip)
                })
                .collect();
            for i in 0..overseas {
                self.add_endpoint(Endpoint::Overseas, i, providers[i as usize % providers.len()]);
            }
        }
    }

    /// A PBX with a trunk to `carrier`: several DIDs, each registered as its own account
    /// (like a GoIP's lines), calls both ways through the working day.
    fn add_pbx_site(&mut self, k: u32, carrier: u32) {
        let t0 = self.start_us;
        let sip = SocketAddr::new(v4(198, 18, 50, 10 + k as u8), 5060);
        let pbx = self.add_host(Role::Pbx, Kind::PbxTrunk, Flavor::Fpbx, sip);
        let rng = &mut self.rng;
        self.hosts[pbx as usize].lat_us = rng.gen_range(5 * MS..20 * MS);
        // A block of consecutive DIDs, as carriers hand them out.
        let first = ids::cn_landline(rng);
        let (head, tail) = first.split_at(first.len() - 2);
        let start: u32 = tail.parse().unwrap_or(0).min(80);
        let n = rng.gen_range(4..=10);
        let dids: Vec<String> = (0..n).map(|d| format!("{head}{:02}", start + d)).collect();
        let customers: Vec<String> =
            (0..60).map(|_| if rng.gen_bool(0.6) { ids::cn_mobile(rng) } else { ids::cn_landline(rng) }).collect();
        let (inbound_gap_s, outbound_gap_s) = (rng.gen_range(40.0..120.0), rng.gen_range(60.0..180.0));
        self.hosts[pbx as usize].accounts = dids.clone();
        let accounts = dids.clone();
        self.start_trunk(pbx, carrier, sip, false, &accounts, dids, customers, (inbound_gap_s, outbound_gap_s), t0);
    }

    /// A call centre: a predictive dialler on one carrier trunk, 6–16 channels, short
    /// calls, few answered, open 09:00–21:00 with `diurnal`.
    fn add_call_centre(&mut self, k: u32, carrier: u32) {
        let t0 = self.start_us;
        let sip = SocketAddr::new(v4(198, 18, 40, 10 + k as u8), 5060);
        let d = self.add_host(Role::Dialler, Kind::CallCentre, Flavor::Dialler, sip);
        let rng = &mut self.rng;
        self.hosts[d as usize].server = carrier;
        self.hosts[d as usize].lat_us = rng.gen_range(5 * MS..20 * MS);
        let channels = rng.gen_range(6..=16);
        let n_ids = rng.gen_range(1..=3);
        let caller_ids: Vec<String> = (0..n_ids)
            .map(|_| if rng.gen_bool(0.5) { format!("400{}", ids::digits(rng, 7)) } else { ids::cn_landline(rng) })
            .collect();
        let answered = rng.gen_range(0.12..0.25);
        let site = self.diallers.len() as u32;
        self.diallers.push(Dialler {
            host: d,
            carrier,
            caller_ids,
            outcome_at: [answered, answered + 0.2, answered + 0.35, answered + 0.45],
            landline_share: 0.15,
        });
        for chan in 0..channels {
            let t = t0 + self.rng.gen_range(0..20 * SEC);
            let t = self.office_hours(t);
            self.at(t, Ev::Dialler { site, chan });
        }
        let carrier_sip = self.hosts[carrier as usize].sip;
        self.keepalive(d, carrier, sip, carrier_sip, false, "dialler".into(), 60 * SEC);
    }

    /// A softphone (or single softphone, or overseas-VoIP user) registered to `server`.
    fn add_endpoint(&mut self, what: Endpoint, i: u32, server: u32) {
        let t0 = self.start_us;
        let tcp_share = self.cfg.tcp_share;
        let rng = &mut self.rng;
        let (ip, kind) = match what {
            Endpoint::Softphone => (block(198, 18, 128, i), Kind::Softphone),
            Endpoint::Single => (block(198, 19, 0, i), Kind::SingleSoftphone),
            Endpoint::Overseas => (block(198, 19, 16, i), Kind::OverseasVoip),
        };
        let flavor = Flavor::PHONES[rng.gen_range(0..Flavor::PHONES.len())];
        let tcp = what == Endpoint::Softphone && rng.gen_bool(tcp_share);
        let port = if tcp {
            rng.gen_range(40_000..61_000)
        } else if rng.gen_bool(0.4) {
            // Behind NAT: the router's mapped port.
            rng.gen_range(20_000..65_000)
        } else if rng.gen_bool(0.5) {
            5060
        } else {
            rng.gen_range(5062..5100)
        };
        let sip = SocketAddr::new(ip, port);
        let mut h = Host::new(Role::Phone, kind, flavor, sip);
        h.tcp = tcp;
        h.server = server;
        h.lat_us = rng.gen_range(5 * MS..40 * MS);
        h.accounts = vec![match what {
            Endpoint::Softphone => (80_000 + i).to_string(),
            Endpoint::Single => ids::cn_landline(rng),
            Endpoint::Overseas => ids::digits(rng, 8),
        }];
        h.pt = match flavor {
            Flavor::Yealink => 9,
            Flavor::Zoiper => 0,
            _ => {
                if rng.gen_bool(0.5) {
                    0
                } else {
                    8
                }
            }
        };
        h.rtp_base = even_port(rng, 10_000, 30_000);
        // Favourites: family, friends, the office; abroad for overseas-VoIP users.
        let k = if what == Endpoint::Overseas { rng.gen_range(2..=4) } else { rng.gen_range(3..=5) };
        h.favourites = (0..k)
            .map(|_| match what {
                Endpoint::Overseas if rng.gen_bool(0.6) => ids::foreign_number(rng),
                Endpoint::Overseas => format!("+86{}", ids::cn_mobile(rng)),
                _ if rng.gen_bool(0.6) => ids::cn_mobile(rng),
                _ => ids::cn_landline(rng),
            })
            .collect();
        match what {
            Endpoint::Softphone => {
                h.outgoing_p = rng.gen_range(0.2..0.5);
                h.gap_mean_s = rng.gen_range(1_200.0..3_600.0);
            }
            Endpoint::Single => {
                h.outgoing_p = 0.5;
                h.gap_mean_s = rng.gen_range(1_200.0..3_600.0);
            }
            Endpoint::Overseas => {
                h.outgoing_p = 0.65;
                h.favourite_p = 0.9;
                // Heavy users of cheap international calls: a few calls an hour, so a
                // short capture already shows the same few numbers again and again.
                h.gap_mean_s = rng.gen_range(240.0..900.0);
                h.answer_p = 0.85;
                h.talk_median_s = 300.0;
            }
        }
        let (gap_mean_s, account) = (h.gap_mean_s, h.accounts[0].clone());
        self.hosts.push(h);
        let phone = self.hosts.len() as u32 - 1;

        let server_sip = self.hosts[server as usize].sip;
        let server_flavor = self.hosts[server as usize].flavor;
        const EXPIRIES: [u32; 4] = [120, 300, 600, 3600];
        let expires = if what == Endpoint::Single { 3600 } else { EXPIRIES[self.rng.gen_range(0..EXPIRIES.len())] };
        let refresh_us = u64::from(expires) * SEC * 9 / 10;
        let reg_at = if tcp {
            let c = t0 + self.rng.gen_range(0..2 * SEC);
            self.at(c, Ev::TcpConnect(Box::new((sip, server_sip))));
            c + 10 * MS
        } else {
            t0 + self.rng.gen_range(0..refresh_us.min(300 * SEC))
        };
        let reg = Registration {
            client_host: phone,
            flavor,
            server_flavor,
            client: sip,
            server: server_sip,
            tcp,
            account,
            expires,
            refresh_us,
            call_id: flavor.call_id(&mut self.rng, ip),
            from_tag: flavor.tag(&mut self.rng),
            cseq: self.rng.gen_range(0..50),
            nonce: None,
        };
        self.regs.push(reg);
        self.at(reg_at, Ev::Register(self.regs.len() as u32 - 1));
        // Some providers keep NAT bindings open with OPTIONS.
        if self.rng.gen_bool(0.3) {
            let user = if server_flavor == Flavor::FreeSwitch { "mod_sofia" } else { "kamailio" };
            self.keepalive(server, phone, server_sip, sip, tcp, user.into(), 60 * SEC);
        }
        let first = (self.rng.gen_range(0.0..gap_mean_s) * SEC as f64) as u64;
        let first = self.human_gap(t0, first) + self.rng.gen_range(SEC..10 * SEC);
        self.at(t0 + first, Ev::Phone(phone));
    }
}
