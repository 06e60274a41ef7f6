//! IMSI clusters: SIMs proven to work in the same box.
//!
//! The graph's nodes are gateways (only those a probe judged suspect or SIM
//! box), SIMs (IMSI) and modules (IMEI). Edges:
//!
//! * gateway — SIM, gateway — module: a link of at least
//!   [`Config::min_link_confidence`] (control plane, call matching at the
//!   probe, CDR matching here); an ICCID link names its SIM through the
//!   registry;
//! * SIM — module: a CDR or the cell side saw the SIM in the module, but only
//!   for *modules*: IMEIs linked to a gateway, or that carried at least
//!   [`Config::rotation_min_sims`] SIMs. An ordinary phone's IMEI never joins
//!   two people's SIMs.
//!
//! A cluster is the connected part of the graph around a seed (a gateway or a
//! rotating module), found breadth-first with indexed lookups, so a run costs
//! in proportion to what it visits. IMEIs are compared on their first 14
//! digits (the air interface omits the check digit).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::Config;
use crate::import::registry::{imsi_key, imsi_text};

/// A module that carried more SIMs than this is not followed (a placeholder
/// IMEI such as all zeros would otherwise join everything); counted instead.
pub const MAX_SIMS_PER_MODULE: usize = 5_000;

/// A graph node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    /// A gateway by its row id.
    Gateway(i64),
    /// A SIM by IMSI.
    Imsi(String),
    /// A module by the first 14 digits of its IMEI.
    Imei(String),
}

/// A gateway in a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayInfo {
    /// Row id.
    pub id: i64,
    /// The reporting probe's name.
    pub probe: String,
    /// Its address.
    pub address: String,
    /// `suspect` or `simbox`.
    pub verdict: String,
    /// Its score.
    pub score: f64,
    /// Vendor guess.
    pub vendor: Option<String>,
}

/// Why a SIM or module is in a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tie {
    /// `control_plane`, `call_match`, `cdr_match` (a gateway link), `iccid`
    /// (a gateway link by ICCID), `module` (seen in a module of the cluster),
    /// `rotation` (a module it carried).
    pub via: String,
    /// The gateway address or the module IMEI on the other end.
    pub to: String,
    /// Link confidence (1 for module ties).
    pub confidence: f64,
    /// Matched calls behind a call or CDR match.
    pub calls_matched: u64,
}

/// One cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cluster {
    /// Stable name: the smallest `gw:<probe>:<address>` of its gateways, else
    /// `imei:<imei>` of its smallest module.
    pub key: String,
    /// Its gateways.
    pub gateways: Vec<GatewayInfo>,
    /// Its SIMs, each with what tied it in.
    pub imsis: BTreeMap<String, Vec<Tie>>,
    /// Its modules (14 digits), each with what tied it in.
    pub imeis: BTreeMap<String, Vec<Tie>>,
    /// ICCIDs its gateways announced.
    pub iccids: BTreeSet<String>,
    /// Modules skipped for carrying more than [`MAX_SIMS_PER_MODULE`] SIMs.
    pub oversized_modules: Vec<String>,
}

fn imei14(s: &str) -> String {
    s.chars().take(14).collect()
}

/// Every suspect or SIM-box gateway, and every rotating module.
pub fn all_seeds(tx: &Transaction<'_>, cfg: &Config) -> rusqlite::Result<Vec<Node>> {
    let mut seeds: Vec<Node> = {
        let mut stmt = tx.prepare("SELECT id FROM gateways WHERE verdict != 'clean' ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0).map(Node::Gateway))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut modules = BTreeSet::new();
    {
        let mut stmt = tx.prepare(
            "SELECT substr(imei, 1, 14) AS m FROM cdrs WHERE imei != '' GROUP BY m HAVING count(DISTINCT imsi) >= ?1",
        )?;
        for m in stmt.query_map([cfg.rotation_min_sims as i64], |r| r.get::<_, String>(0))? {
            modules.insert(m?);
        }
        let mut stmt = tx.prepare("SELECT imei FROM devices WHERE json_array_length(imsis_json) >= ?1")?;
        for m in stmt.query_map([cfg.rotation_min_sims as i64], |r| r.get::<_, String>(0))? {
            modules.insert(imei14(&m?));
        }
    }
    seeds.extend(modules.into_iter().map(Node::Imei));
    Ok(seeds)
}

/// The given gateways, when not clean.
pub fn gateway_seeds(tx: &Transaction<'_>, ids: &[i64]) -> rusqlite::Result<Vec<Node>> {
    let mut stmt = tx.prepare_cached("SELECT verdict FROM gateways WHERE id = ?1")?;
    let mut seeds = Vec::new();
    for &id in ids {
        let v: Option<String> = stmt.query_row([id], |r| r.get(0)).optional()?;
        if v.is_some_and(|v| v != "clean") {
            seeds.push(Node::Gateway(id));
        }
    }
    Ok(seeds)
}

/// A gateway link: (kind, value, source, confidence, calls matched).
type LinkRow = (String, String, String, f64, u64);

/// The graph's lookups, with a cache of which IMEIs are modules.
struct Graph<'t, 'c> {
    tx: &'t Transaction<'c>,
    cfg: &'t Config,
    modules: HashMap<String, Option<BTreeSet<String>>>,
}

impl Graph<'_, '_> {
    fn gateway(&self, id: i64) -> rusqlite::Result<Option<GatewayInfo>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT g.id, p.name, g.address, g.verdict, g.score, g.vendor
             FROM gateways g JOIN probes p ON p.id = g.probe_id WHERE g.id = ?1 AND g.verdict != 'clean'",
        )?;
        stmt.query_row([id], |r| {
            Ok(GatewayInfo {
                id: r.get(0)?,
                probe: r.get(1)?,
                address: r.get(2)?,
                verdict: r.get(3)?,
                score: r.get(4)?,
                vendor: r.get(5)?,
            })
        })
        .optional()
    }

    /// A gateway's links at or above the minimum confidence.
    fn links_of(&self, id: i64) -> rusqlite::Result<Vec<LinkRow>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT kind, value, source, confidence, calls_matched FROM gateway_links
             WHERE gateway_id = ?1 AND confidence >= ?2 ORDER BY kind, value, source",
        )?;
        let rows = stmt.query_map(params![id, self.cfg.min_link_confidence], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(4)? as u64))
        })?;
        rows.collect()
    }

    /// Non-clean gateways linked to an identity (`kind`, exact value).
    fn gateways_of(&self, kind: &str, value: &str) -> rusqlite::Result<Vec<i64>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT DISTINCT l.gateway_id FROM gateway_links l JOIN gateways g ON g.id = l.gateway_id
             WHERE l.kind = ?1 AND l.value = ?2 AND l.confidence >= ?3 AND g.verdict != 'clean'",
        )?;
        let rows = stmt.query_map(params![kind, value, self.cfg.min_link_confidence], |r| r.get(0))?;
        rows.collect()
    }

    /// Non-clean gateways linked to a module (any IMEI with these 14 digits).
    fn gateways_of_module(&self, imei: &str) -> rusqlite::Result<Vec<i64>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT DISTINCT l.gateway_id FROM gateway_links l JOIN gateways g ON g.id = l.gateway_id
             WHERE l.kind = 'imei' AND l.value >= ?1 AND l.value < ?1 || 'a'
               AND l.confidence >= ?2 AND g.verdict != 'clean'",
        )?;
        let rows = stmt.query_map(params![imei, self.cfg.min_link_confidence], |r| r.get(0))?;
        rows.collect()
    }

    fn iccid_of(&self, imsi: &str) -> rusqlite::Result<Option<String>> {
        let Some(key) = imsi_key(imsi) else { return Ok(None) };
        let mut stmt = self.tx.prepare_cached("SELECT iccid FROM registry WHERE imsi = ?1")?;
        stmt.query_row([key], |r| r.get(0)).optional()
    }

    fn imsi_of_iccid(&self, iccid: &str) -> rusqlite::Result<Option<String>> {
        let mut stmt = self.tx.prepare_cached("SELECT imsi FROM registry WHERE iccid = ?1")?;
        Ok(stmt.query_row([iccid], |r| r.get(0)).optional()?.map(imsi_text))
    }

    /// Modules (14 digits) a SIM was seen in: CDRs and the cell side.
    fn devices_of(&self, imsi: &str) -> rusqlite::Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        let mut stmt = self.tx.prepare_cached("SELECT DISTINCT imei FROM cdrs WHERE imsi = ?1 AND imei != ''")?;
        for i in stmt.query_map([imsi], |r| r.get::<_, String>(0))? {
            out.insert(imei14(&i?));
        }
        let mut stmt = self.tx.prepare_cached("SELECT imeis_json FROM subscribers WHERE imsi = ?1")?;
        if let Some(json) = stmt.query_row([imsi], |r| r.get::<_, String>(0)).optional()? {
            for i in serde_json::from_str::<Vec<String>>(&json).unwrap_or_default() {
                out.insert(imei14(&i));
            }
        }
        Ok(out)
    }

    /// The SIMs a module carried (CDRs and the cell side), or None past the cap.
    fn sims_of(&mut self, imei: &str) -> rusqlite::Result<Option<BTreeSet<String>>> {
        if let Some(c) = self.modules.get(imei) {
            return Ok(c.clone());
        }
        let mut out = BTreeSet::new();
        let mut stmt =
            self.tx.prepare_cached("SELECT DISTINCT imsi FROM cdrs WHERE imei >= ?1 AND imei < ?1 || 'a' LIMIT ?2")?;
        for i in stmt.query_map(params![imei, MAX_SIMS_PER_MODULE as i64 + 1], |r| r.get::<_, String>(0))? {
            out.insert(i?);
        }
        let mut stmt =
            self.tx.prepare_cached("SELECT imsis_json FROM devices WHERE imei >= ?1 AND imei < ?1 || 'a'")?;
        for json in stmt.query_map([imei], |r| r.get::<_, String>(0))? {
            out.extend(serde_json::from_str::<Vec<String>>(&json?).unwrap_or_default());
        }
        let v = (out.len() <= MAX_SIMS_PER_MODULE).then_some(out);
        self.modules.insert(imei.to_string(), v.clone());
        Ok(v)
    }

    /// Whether an IMEI is a module: linked to a gateway, or rotating SIMs.
    fn is_module(&mut self, imei: &str) -> rusqlite::Result<bool> {
        if !self.gateways_of_module(imei)?.is_empty() {
            return Ok(true);
        }
        Ok(self.sims_of(imei)?.is_some_and(|s| s.len() >= self.cfg.rotation_min_sims))
    }
}

/// The clusters around the seeds (each cluster once, whatever seeds it holds).
pub fn build(tx: &Transaction<'_>, cfg: &Config, seeds: &[Node]) -> rusqlite::Result<Vec<Cluster>> {
    let mut g = Graph { tx, cfg, modules: HashMap::new() };
    let mut visited: HashSet<Node> = HashSet::new();
    let mut clusters = Vec::new();
    for seed in seeds {
        if visited.contains(seed) {
            continue;
        }
        let mut c = Cluster::default();
        let mut queue = VecDeque::from([seed.clone()]);
        visited.insert(seed.clone());
        let mut push = |n: Node, queue: &mut VecDeque<Node>| {
            if visited.insert(n.clone()) {
                queue.push_back(n);
            }
        };
        while let Some(node) = queue.pop_front() {
            match node {
                Node::Gateway(id) => {
                    let Some(info) = g.gateway(id)? else { continue };
                    for (kind, value, source, confidence, calls) in g.links_of(id)? {
                        let tie = Tie { via: source, to: info.address.clone(), confidence, calls_matched: calls };
                        match kind.as_str() {
                            "imsi" => {
                                c.imsis.entry(value.clone()).or_default().push(tie);
                                push(Node::Imsi(value), &mut queue);
                            }
                            "imei" => {
                                let m = imei14(&value);
                                c.imeis.entry(m.clone()).or_default().push(tie);
                                push(Node::Imei(m), &mut queue);
                            }
                            _ => {
                                c.iccids.insert(value.clone());
                                if let Some(imsi) = g.imsi_of_iccid(&value)? {
                                    c.imsis.entry(imsi.clone()).or_default().push(Tie { via: "iccid".into(), ..tie });
                                    push(Node::Imsi(imsi), &mut queue);
                                }
                            }
                        }
                    }
                    c.gateways.push(info);
                }
                Node::Imsi(imsi) => {
                    c.imsis.entry(imsi.clone()).or_default();
                    for gw in g.gateways_of("imsi", &imsi)? {
                        push(Node::Gateway(gw), &mut queue);
                    }
                    if let Some(iccid) = g.iccid_of(&imsi)? {
                        for gw in g.gateways_of("iccid", &iccid)? {
                            push(Node::Gateway(gw), &mut queue);
                        }
                    }
                    for m in g.devices_of(&imsi)? {
                        if g.is_module(&m)? {
                            c.imeis.entry(m.clone()).or_default().push(Tie {
                                via: "module".into(),
                                to: imsi.clone(),
                                confidence: 1.0,
                                calls_matched: 0,
                            });
                            push(Node::Imei(m), &mut queue);
                        }
                    }
                }
                Node::Imei(m) => {
                    c.imeis.entry(m.clone()).or_default();
                    for gw in g.gateways_of_module(&m)? {
                        push(Node::Gateway(gw), &mut queue);
                    }
                    match g.sims_of(&m)? {
                        None => c.oversized_modules.push(m.clone()),
                        Some(sims) if sims.len() >= cfg.rotation_min_sims || !g.gateways_of_module(&m)?.is_empty() => {
                            for imsi in sims {
                                c.imsis.entry(imsi.clone()).or_default().push(Tie {
                                    via: "rotation".into(),
                                    to: m.clone(),
                                    confidence: 1.0,
                                    calls_matched: 0,
                                });
                                push(Node::Imsi(imsi), &mut queue);
                            }
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        c.gateways.sort_by_key(|gw| gw.id);
        c.key = c
            .gateways
            .iter()
            .map(|gw| format!("gw:{}:{}", gw.probe, gw.address))
            .min()
            .or_else(|| c.imeis.keys().next().map(|m| format!("imei:{m}")))
            .unwrap_or_default();
        if !c.key.is_empty() && !c.imsis.is_empty() {
            clusters.push(c);
        }
    }
    Ok(clusters)
}
