//! `duanka-agent export blocklist|disciplinary` and `bundle create|verify`.
//! Exports are audit-logged as `cli:<user>`; verification writes nothing.

use std::io::Write as _;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use super::{actor, BundleCommand, ExportCommand, EXIT_FAILURE, EXIT_OK, EXIT_UNVERIFIED};
use crate::audit::{self, Action};
use crate::export::{bundle as bundles, keys, lists};
use crate::store::Store;

fn write_out(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        return Ok(out.flush()?);
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Runs an `export` command.
pub fn export(command: ExportCommand) -> anyhow::Result<u8> {
    let (what, args, build): (&str, _, lists::ListBuilder) = match command {
        ExportCommand::Blocklist(a) => ("blocklist", a, lists::block_list),
        ExportCommand::Disciplinary(a) => ("disciplinary", a, lists::disciplinary_list),
    };
    let store = Store::open(&args.data.data)?;
    let e = build(store.conn())?;
    write_out(&args.out, &e.bytes)?;
    let detail = serde_json::json!({
        "kind": what, "file": args.out.display().to_string(), "rows": e.rows, "cases": e.cases,
        "sha256": hex::encode(Sha256::digest(&e.bytes)),
    });
    audit::append(store.conn(), &actor(), Action::Export, &format!("export:{what}"), &detail)?;
    eprintln!("{what}: {} rows from {} confirmed case(s) → {}", e.rows, e.cases.len(), args.out.display());
    store.close()?;
    Ok(EXIT_OK)
}

/// Runs a `bundle` command.
pub fn bundle(command: BundleCommand) -> anyhow::Result<u8> {
    match command {
        BundleCommand::Create { data, case, out } => {
            let store = Store::open(&data.data)?;
            let key = keys::load_or_create(&data.data)?;
            let b = match bundles::create(store.conn(), case, &key, &actor()) {
                Ok(b) => b,
                Err(crate::export::ExportError::Case(crate::cases::CaseError::NotFound(id))) => {
                    eprintln!("error: no case {id}");
                    return Ok(EXIT_FAILURE);
                }
                Err(e) => return Err(e.into()),
            };
            write_out(&out, &b.bytes)?;
            let detail = serde_json::json!({
                "kind": "bundle", "case": case, "file": out.display().to_string(), "files": b.manifest.files.len(),
                "sha256": hex::encode(Sha256::digest(&b.bytes)), "key": b.manifest.public_key,
            });
            audit::append(store.conn(), &actor(), Action::Export, &format!("case:{case}"), &detail)?;
            eprintln!(
                "bundle of case {case}: {} files, signed by {} → {}",
                b.manifest.files.len(),
                b.manifest.public_key,
                out.display()
            );
            store.close()?;
            Ok(EXIT_OK)
        }
        BundleCommand::Verify { data, key, file, json } => {
            let expected = match &key {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(path).with_context(|| format!("reading the key {}", path.display()))?;
                    keys::parse_public(&text).map_err(|e| anyhow::anyhow!("key {}: {e}", path.display()))?
                }
                None => keys::load_public(&data)?.with_context(|| {
                    format!(
                        "no agent key in {} (keys/{}); give the agent's --data or --key FILE",
                        data.display(),
                        keys::PUBLIC_FILE
                    )
                })?,
            };
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let v = bundles::verify(&bytes, &expected);
            if json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "ok": v.ok(), "verification": v }))?);
            } else if v.ok() {
                println!(
                    "{}: OK — case {}, {} files match, signed by {}",
                    file.display(),
                    v.case_id.unwrap_or_default(),
                    v.files_ok,
                    keys::fingerprint(&expected)
                );
            } else {
                println!("{}: FAILED", file.display());
                for f in &v.failures {
                    println!("  - {f}");
                }
            }
            Ok(if v.ok() { EXIT_OK } else { EXIT_UNVERIFIED })
        }
    }
}
