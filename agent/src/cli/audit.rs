//! `duanka-agent audit verify|list`.

use super::{table, AuditCommand, EXIT_OK, EXIT_UNVERIFIED};
use crate::audit;
use crate::store::{ms_to_rfc3339, Store};

/// Runs an `audit` command.
pub fn run(command: AuditCommand) -> anyhow::Result<u8> {
    match command {
        AuditCommand::Verify { data, json } => {
            let store = Store::open(&data.data)?;
            let v = audit::verify(store.conn())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                match &v.broken {
                    None => println!(
                        "audit log intact: {} records; head {}",
                        v.records,
                        v.head.as_deref().unwrap_or("(empty log)")
                    ),
                    Some(b) => println!("audit log BROKEN at record {}: {}", b.id, b.reason),
                }
            }
            Ok(if v.broken.is_some() { EXIT_UNVERIFIED } else { EXIT_OK })
        }
        AuditCommand::List { data, limit, action, json } => {
            let store = Store::open(&data.data)?;
            let records = audit::list(store.conn(), &audit::ListFilter { action, limit, ..Default::default() })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&records)?);
            } else {
                let rows: Vec<Vec<String>> = records
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.to_string(),
                            ms_to_rfc3339(r.at),
                            r.actor.clone(),
                            r.action.clone(),
                            r.target.clone(),
                            r.detail.clone(),
                        ]
                    })
                    .collect();
                table(&mut std::io::stdout().lock(), &["ID", "AT", "ACTOR", "ACTION", "TARGET", "DETAIL"], &rows)?;
            }
            Ok(EXIT_OK)
        }
    }
}
