//! `duanka-agent token add|list|revoke`: operator tokens for the API.
//!
//! `add` prints the token once, alone on the last line of stdout; only its
//! hash is stored. `list` never shows tokens, only their ids, names and roles.

use std::io::Write as _;

use super::{table, TokenCommand, EXIT_OK};
use crate::auth::{self, Revocation, Role};
use crate::store::{ms_to_rfc3339, Store};

/// Runs a `token` command.
pub fn run(command: &TokenCommand) -> anyhow::Result<u8> {
    let store = Store::open(&command.data().data)?;
    let mut out = std::io::stdout().lock();
    match command {
        TokenCommand::Add { role, name, .. } => {
            let role: Role = role.role();
            let new = auth::add_operator(store.conn(), name, role)?;
            crate::audit::append(
                store.conn(),
                &super::actor(),
                crate::audit::Action::TokenAdded,
                &format!("token:{}", new.id),
                &serde_json::json!({ "name": name, "role": role.as_str() }),
            )?;
            tracing::info!(id = new.id, %role, "operator token made");
            writeln!(out, "Made {role} token {} for {name:?}.", new.id)?;
            writeln!(out, "The token follows; it is shown only now (the agent keeps only a hash):")?;
            writeln!(out, "{}", new.token)?;
        }
        TokenCommand::List { json, .. } => {
            let tokens = auth::list_operators(store.conn())?;
            if *json {
                serde_json::to_writer_pretty(&mut out, &tokens)?;
                writeln!(out)?;
            } else if tokens.is_empty() {
                writeln!(out, "No operator tokens; make one with `duanka-agent token add --role admin`.")?;
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            t.role.to_string(),
                            t.created_at.clone(),
                            t.revoked_at.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                table(&mut out, &["ID", "NAME", "ROLE", "CREATED", "REVOKED"], &rows)?;
            }
        }
        TokenCommand::Revoke { id, .. } => match auth::revoke_operator(store.conn(), *id)? {
            Revocation::Revoked => {
                crate::audit::append(
                    store.conn(),
                    &super::actor(),
                    crate::audit::Action::TokenRevoked,
                    &format!("token:{id}"),
                    &serde_json::json!({}),
                )?;
                tracing::info!(id, "operator token revoked");
                writeln!(out, "Revoked operator token {id}.")?;
            }
            Revocation::AlreadySince(at) => {
                writeln!(out, "Operator token {id} was already revoked at {}.", ms_to_rfc3339(at))?;
            }
        },
    }
    out.flush()?;
    drop(out);
    store.close()?;
    Ok(EXIT_OK)
}
