//! Human-readable output: the gateway table and the summary.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use duanka_shared::report::{AnalysisReport, Verdict};

use crate::detect::SignatureDb;

/// Accounts listed per gateway before "+N more".
const ACCOUNTS_SHOWN: usize = 3;

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    if let Some((w, _)) = terminal_width() {
        t.set_width(w);
    } else {
        t.set_width(160);
    }
    t
}

fn terminal_width() -> Option<(u16, u16)> {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).map(|w| (w, 0))
}

/// Write the gateway table and the summary.
pub fn write_table(out: &mut impl Write, r: &AnalysisReport, all: bool, evidence_lines: usize) -> io::Result<()> {
    let shown: Vec<_> = r.gateways.iter().filter(|g| all || g.verdict != Verdict::Clean).collect();
    let hidden = r.gateways.len() - shown.len();
    if shown.is_empty() {
        writeln!(out, "No SIM-box or suspect gateway found among {} SIP addresses.", r.gateways.len())?;
    } else {
        let mut t = new_table();
        t.set_header(["Address", "Verdict", "Score", "Vendor", "Accounts", "Calls in/out (answered)", "Top evidence"]);
        for g in &shown {
            let mut accounts: Vec<String> = g.accounts.iter().take(ACCOUNTS_SHOWN).cloned().collect();
            if g.accounts.len() > ACCOUNTS_SHOWN {
                accounts.push(format!("+{} more", g.accounts.len() - ACCOUNTS_SHOWN));
            }
            let evidence: Vec<String> = g
                .evidence
                .iter()
                .filter(|e| e.counted)
                .take(evidence_lines)
                .map(|e| format!("{:+.1} {}: {}", e.weight, e.id, e.observed))
                .collect();
            t.add_row(vec![
                g.address.clone(),
                g.verdict.to_string(),
                format!("{:.1}", g.score),
                g.vendor.clone().unwrap_or_else(|| "-".into()),
                if accounts.is_empty() { "-".into() } else { accounts.join("\n") },
                format!("{}/{} ({})", g.calls_in, g.calls_out, g.calls_answered),
                evidence.join("\n"),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    if hidden > 0 {
        writeln!(out, "{hidden} clean address(es) not shown; --all lists them, --json gives everything.")?;
    }
    let simbox = r.gateways.iter().filter(|g| g.verdict == Verdict::Simbox).count();
    let suspect = r.gateways.iter().filter(|g| g.verdict == Verdict::Suspect).count();
    writeln!(out)?;
    writeln!(
        out,
        "Summary: {} packets in {} file(s); {} SIP messages ({} invalid, {} over TCP); {} calls ({} answered), {} registrations",
        r.packets,
        r.files.len(),
        r.sip.messages,
        r.sip.invalid,
        r.sip.over_tcp,
        r.sip.calls,
        r.sip.calls_answered,
        r.sip.registrations
    )?;
    writeln!(
        out,
        "Verdicts: {simbox} simbox, {suspect} suspect, {} clean (signatures {})",
        r.gateways.len() - simbox - suspect,
        r.signatures_version
    )?;
    if !r.decode_errors.is_empty() {
        let parts: Vec<String> = r.decode_errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "Decode errors: {}", parts.join(", "))?;
    }
    if !r.sip.invalid_by_kind.is_empty() {
        let parts: Vec<String> = r.sip.invalid_by_kind.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "Invalid SIP: {}", parts.join(", "))?;
    }
    if !r.limits.is_empty() {
        let parts: Vec<String> = r.limits.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "Table limits hit: {}", parts.join(", "))?;
    }
    for f in r.files.iter().filter(|f| f.warning.is_some()) {
        writeln!(out, "Warning: {}", f.warning.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

/// Write the signature list.
pub fn write_signatures(out: &mut impl Write, db: &SignatureDb) -> io::Result<()> {
    let mut t = new_table();
    t.set_header(["Id", "Vendor", "Weight", "Field", "Rule", "Description"]);
    for s in &db.signatures {
        t.add_row(vec![
            s.id.clone(),
            s.vendor.clone().unwrap_or_else(|| "-".into()),
            format!("{:.1}", s.weight),
            s.field.clone(),
            s.rule_text.clone(),
            s.description.clone(),
        ]);
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "{} signatures, version {}; verdicts: simbox >= {}, suspect >= {}",
        db.signatures.len(),
        db.version,
        db.thresholds.simbox,
        db.thresholds.suspect
    )
}
