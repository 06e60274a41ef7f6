//! `duanka-agent probe add|list|revoke`: probe enrolment.
//!
//! `add` prints the token once, alone on the last line of stdout, so that a
//! script can take it with `tail -n1`; only its hash is stored.

use std::io::Write as _;

use super::{table, ProbeCommand, EXIT_OK};
use crate::auth::{self, ProbeInfo, Revocation};
use crate::store::{ms_to_rfc3339, Store};

/// Runs a `probe` command.
pub fn run(command: &ProbeCommand) -> anyhow::Result<u8> {
    let store = Store::open(&command.data().data)?;
    let mut out = std::io::stdout().lock();
    match command {
        ProbeCommand::Add { name, .. } => {
            let new = auth::enrol_probe(store.conn(), name)?;
            let target = format!("probe:{name}");
            crate::audit::append(
                store.conn(),
                &super::actor(),
                crate::audit::Action::ProbeAdded,
                &target,
                &serde_json::json!({ "id": new.id }),
            )?;
            tracing::info!(probe = %name, id = new.id, "probe enrolled");
            writeln!(out, "Enrolled probe {name:?} (id {}).", new.id)?;
            writeln!(out, "Its token follows; it is shown only now (the agent keeps only a hash):")?;
            writeln!(out, "{}", new.token)?;
        }
        ProbeCommand::List { json, .. } => {
            let probes = auth::list_probes(store.conn())?;
            if *json {
                serde_json::to_writer_pretty(&mut out, &probes)?;
                writeln!(out)?;
            } else if probes.is_empty() {
                writeln!(out, "No probes enrolled; add one with `duanka-agent probe add NAME`.")?;
            } else {
                let rows: Vec<Vec<String>> = probes.iter().map(row).collect();
                table(&mut out, &["ID", "NAME", "CREATED", "REVOKED", "LAST SEEN", "LAST HEARTBEAT"], &rows)?;
            }
        }
        ProbeCommand::Revoke { name, .. } => match auth::revoke_probe(store.conn(), name)? {
            Revocation::Revoked => {
                let target = format!("probe:{name}");
                crate::audit::append(
                    store.conn(),
                    &super::actor(),
                    crate::audit::Action::ProbeRevoked,
                    &target,
                    &serde_json::json!({}),
                )?;
                tracing::info!(probe = %name, "probe revoked");
                writeln!(out, "Revoked probe {name:?}: its reports are refused from now on.")?;
            }
            Revocation::AlreadySince(at) => {
                writeln!(out, "Probe {name:?} was already revoked at {}.", ms_to_rfc3339(at))?;
            }
        },
    }
    out.flush()?;
    drop(out);
    store.close()?;
    Ok(EXIT_OK)
}

fn row(p: &ProbeInfo) -> Vec<String> {
    let dash = || "-".to_owned();
    vec![
        p.id.to_string(),
        p.name.clone(),
        p.created_at.clone(),
        p.revoked_at.clone().unwrap_or_else(dash),
        p.last_seen_at.clone().unwrap_or_else(dash),
        p.heartbeat.as_ref().map(heartbeat_summary).unwrap_or_else(dash),
    ]
}

/// `at 2026-…: 1200 packets, 3 drops, spool 0, uplink up, board ok`.
pub(crate) fn heartbeat_summary(stored: &serde_json::Value) -> String {
    let hb = &stored["heartbeat"];
    let mut parts = vec![
        format!("{} packets", hb["packets"].as_u64().unwrap_or(0)),
        format!("{} drops", hb["drops"].as_u64().unwrap_or(0)),
        format!("spool {}", hb["spool_depth"].as_u64().unwrap_or(0)),
    ];
    for key in ["uplink", "board"] {
        if let Some(v) = hb[key].as_str() {
            parts.push(format!("{key} {v}"));
        }
    }
    format!("at {}: {}", stored["at"].as_str().unwrap_or("?"), parts.join(", "))
}
