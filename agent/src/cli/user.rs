//! `duanka-agent user add|list|disable`: accounts for the review UI.
//!
//! `add` never takes the password as an argument (it would sit in shell
//! history and `ps`): it asks on the terminal, twice, or reads one line from
//! stdin when stdin is not a terminal or with `--password-stdin`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;

use super::{actor, table, UserCommand, EXIT_OK, EXIT_USAGE};
use crate::audit::{self, Action};
use crate::store::{now_ms, Store};
use crate::users::{self, UserError};

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
        let password = line.strip_suffix('\n').unwrap_or(&line);
        return Ok(password.strip_suffix('\r').unwrap_or(password).to_owned());
    }
    let first = rpassword::prompt_password("Password: ").context("reading the password")?;
    let again = rpassword::prompt_password("Password again: ").context("reading the password")?;
    if first != again {
        anyhow::bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

/// Runs a `user` command.
pub fn run(command: UserCommand) -> anyhow::Result<u8> {
    match command {
        UserCommand::Add { data, name, role, password_stdin } => {
            let role = role.role();
            let password = read_password(password_stdin)?;
            let store = Store::open(&data.data)?;
            let user = match users::add_user(store.conn(), &name, role, &password, now_ms()) {
                Ok(u) => u,
                Err(e @ (UserError::WeakPassword(_) | UserError::Duplicate(_) | UserError::BadName(_))) => {
                    eprintln!("error: {e}");
                    return Ok(EXIT_USAGE);
                }
                Err(e) => return Err(e.into()),
            };
            audit::append(
                store.conn(),
                &actor(),
                Action::UserAdded,
                &format!("user:{name}"),
                &serde_json::json!({ "role": role.as_str() }),
            )?;
            tracing::info!(user = %name, %role, "account made");
            println!(
                "Made {role} account {name:?} (id {}). Log in at https://ADDR/login on `duanka-agent serve`.",
                user.id
            );
            store.close()?;
            Ok(EXIT_OK)
        }
        UserCommand::List { data, json } => {
            let store = Store::open(&data.data)?;
            let list = users::list_users(store.conn())?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &list)?;
                writeln!(out)?;
            } else if list.is_empty() {
                writeln!(out, "No accounts; make one with `duanka-agent user add NAME --role admin`.")?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|u| {
                        vec![
                            u.id.to_string(),
                            u.name.clone(),
                            u.role.to_string(),
                            u.created_at.clone(),
                            u.password_changed_at.clone(),
                            u.disabled_at.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                table(&mut out, &["ID", "NAME", "ROLE", "CREATED", "PASSWORD SET", "DISABLED"], &rows)?;
            }
            Ok(EXIT_OK)
        }
        UserCommand::Disable { data, name } => {
            let store = Store::open(&data.data)?;
            match users::disable_user(store.conn(), &name, now_ms()) {
                Ok(true) => {
                    audit::append(
                        store.conn(),
                        &actor(),
                        Action::UserDisabled,
                        &format!("user:{name}"),
                        &serde_json::json!({}),
                    )?;
                    tracing::info!(user = %name, "account disabled");
                    println!("Disabled {name:?}: its sessions ended and it cannot log in.");
                }
                Ok(false) => println!("{name:?} was already disabled."),
                Err(e @ UserError::Unknown(_)) => {
                    eprintln!("error: {e}");
                    return Ok(super::EXIT_FAILURE);
                }
                Err(e) => return Err(e.into()),
            }
            store.close()?;
            Ok(EXIT_OK)
        }
    }
}
