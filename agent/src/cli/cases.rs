//! `correlate` and `cases …`: the local CLI acts as admin (it sees owners'
//! identities unmasked) and writes its name into case history as `cli:<user>`.

use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use super::{actor, CasesCommand, CorrelateArgs, DataArgs, StateArg, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use crate::cases::{self, CaseError, ListFilter, State};
use crate::correlate::{self, Config};
use crate::store::Store;

fn open(data: &DataArgs) -> anyhow::Result<Store> {
    Store::open(&data.data).with_context(|| format!("opening the store in {}", data.data.display()))
}

fn state(s: StateArg) -> State {
    match s {
        StateArg::New => State::New,
        StateArg::Reviewing => State::Reviewing,
        StateArg::Confirmed => State::Confirmed,
        StateArg::Dismissed => State::Dismissed,
    }
}

/// `duanka-agent correlate`.
pub fn correlate(args: CorrelateArgs) -> anyhow::Result<u8> {
    let mut store = open(&args.data)?;
    let out = correlate::full(store.conn_mut(), &Config::default())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "correlated in {:.2} s: {} gateway calls checked against CDRs, {} CDR links; {} clusters; \
             cases: {} opened, {} updated, {} reopened, {} merged",
            out.elapsed_s,
            out.calls_checked,
            out.cdr_links,
            out.clusters,
            out.cases_opened,
            out.cases_updated,
            out.cases_reopened,
            out.cases_merged
        );
    }
    Ok(EXIT_OK)
}

/// `duanka-agent cases …`.
pub fn cases(cmd: CasesCommand) -> anyhow::Result<u8> {
    match cmd {
        CasesCommand::List { data, state: s, json } => {
            let store = open(&data)?;
            let filter = ListFilter { state: s.map(state), ..ListFilter::default() };
            let list = cases::list(store.conn(), &filter)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(EXIT_OK);
            }
            if list.is_empty() {
                println!("no cases");
                return Ok(EXIT_OK);
            }
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            t.set_header(["id", "state", "severity", "title", "gateways", "SIMs", "owners", "updated"]);
            for c in &list {
                t.add_row([
                    c.id.to_string(),
                    c.state.clone(),
                    c.severity.clone(),
                    c.title.clone(),
                    c.gateways.join(" "),
                    c.imsis.len().to_string(),
                    c.owners.to_string(),
                    c.updated_at.clone(),
                ]);
            }
            println!("{t}");
            Ok(EXIT_OK)
        }
        CasesCommand::Show { data, id, json } => {
            let store = open(&data)?;
            let d = match cases::show(store.conn(), id, true) {
                Ok(d) => d,
                Err(CaseError::NotFound(id)) => {
                    eprintln!("error: no case {id}");
                    return Ok(EXIT_FAILURE);
                }
                Err(e) => return Err(e.into()),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
                return Ok(EXIT_OK);
            }
            println!("case {} — {} ({}, {})", d.id, d.title, d.state, d.severity);
            println!("opened {}, updated {}", d.created_at, d.updated_at);
            for g in &d.gateways {
                println!("gateway {} (probe {}): {} score {}", g.address, g.probe, g.verdict, g.score);
            }
            println!("\nfindings:");
            for f in &d.findings {
                println!("  - {}", f.text);
            }
            if !d.owners.is_empty() {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED);
                t.set_header(["owner", "name", "cards in case", "cards registered", "over limit", "other cases"]);
                for o in &d.owners {
                    t.add_row([
                        o.owner_id.clone(),
                        o.owner_name.clone(),
                        o.cards_in_case.to_string(),
                        o.cards_registered.to_string(),
                        if o.over_limit { "yes".into() } else { "".into() },
                        o.other_cases.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" "),
                    ]);
                }
                println!("\n{t}");
            }
            println!("\nevidence:");
            for e in &d.evidence {
                println!(
                    "  {} {} {:+.1}{} — {} ({})",
                    e.gateway,
                    e.id,
                    e.weight,
                    if e.counted { "" } else { " (not counted)" },
                    e.observed,
                    e.threshold
                );
            }
            println!("\nhistory:");
            for h in &d.history {
                println!(
                    "  {} {} {} → {}: {}",
                    h.at,
                    h.actor,
                    h.from_state.as_deref().unwrap_or("-"),
                    h.to_state,
                    h.reason
                );
            }
            Ok(EXIT_OK)
        }
        CasesCommand::Set { data, id, state: s, reason } => {
            let mut store = open(&data)?;
            let to = state(s);
            let decided = (|| {
                let tx = store.conn_mut().transaction()?;
                let from: Option<String> = rusqlite::OptionalExtension::optional(tx.query_row(
                    "SELECT state FROM cases WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                ))?;
                cases::set_state_in(&tx, id, to, &actor(), &reason)?;
                let detail = serde_json::json!({ "from": from, "to": to.as_str(), "reason": reason.trim() });
                crate::audit::append(&tx, &actor(), crate::audit::Action::Decision, &format!("case:{id}"), &detail)
                    .map_err(|crate::audit::AuditError::Sqlite(e)| CaseError::Store(e))?;
                tx.commit()?;
                Ok::<(), CaseError>(())
            })();
            match decided {
                Ok(()) => {
                    println!("case {id} is now {}", state(s).as_str());
                    Ok(EXIT_OK)
                }
                Err(e @ (CaseError::BadTransition { .. } | CaseError::NoReason)) => {
                    eprintln!("error: {e}");
                    Ok(EXIT_USAGE)
                }
                Err(CaseError::NotFound(id)) => {
                    eprintln!("error: no case {id}");
                    Ok(EXIT_FAILURE)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
