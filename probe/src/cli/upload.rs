//! `analyze --agent`: sending an offline analysis to the agent.
//!
//! The capture files' SHA-256 names the upload ([`capture_source`]), so event
//! ids ([`events_from_report`]) are the same every time the same capture is
//! sent and the agent stores each fact once. Batches go one after the other,
//! each retried until delivered, refused, or the one deadline for the whole
//! upload has passed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use duanka_shared::events::{capture_end, events_from_report};
use duanka_shared::report::AnalysisReport;
use sha2::{Digest, Sha256};

use super::AnalyzeArgs;
use crate::uplink::{self, RetryPolicy, Token, Trust, Uplink, UplinkConfig, UplinkError};

/// What `--agent` and its options asked for, checked.
#[derive(Debug)]
pub(super) struct Upload {
    uplink: Uplink,
    deadline: Duration,
}

/// How an upload went.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Summary {
    /// Events in all.
    pub events: usize,
    /// Batches in all.
    pub batches: usize,
    /// Events the agent had not seen.
    pub accepted: u64,
    /// Events the agent already had.
    pub duplicates: u64,
    /// Batches delivered.
    pub delivered: usize,
}

impl Upload {
    /// The upload `args` ask for, `None` without `--agent`. Errors name the
    /// option (never the token's value).
    pub(super) fn from_args(args: &AnalyzeArgs) -> Result<Option<Upload>, String> {
        let Some(url) = args.agent.clone() else { return Ok(None) };
        // clap has checked that --token and one trust option come with --agent.
        let token = args.token.clone().ok_or("--agent needs --token (or DUANKA_TOKEN)")?;
        let token = Token::new(token).map_err(|e| format!("--token: {e}"))?;
        let trust = match (&args.agent_fingerprint, &args.agent_ca) {
            (Some(fp), None) => Trust::Pinned(*fp),
            (None, Some(ca)) => Trust::CaFile(ca.clone()),
            _ => return Err("--agent needs exactly one of --agent-fingerprint and --agent-ca".to_string()),
        };
        let mut config = UplinkConfig::new(url, token, trust);
        config.retry = RetryPolicy { deadline: args.upload_deadline, ..RetryPolicy::default() };
        // No single attempt may outlive the whole upload's deadline.
        config.request_timeout = config.request_timeout.min(args.upload_deadline);
        config.connect_timeout = config.connect_timeout.min(args.upload_deadline);
        let uplink = Uplink::new(config).map_err(|e| e.to_string())?;
        Ok(Some(Upload { uplink, deadline: args.upload_deadline }))
    }

    /// The agent's URL as given.
    pub(super) fn url(&self) -> String {
        self.uplink.url().to_string()
    }

    /// Sends `report` (from `files`); on failure, what was delivered before it.
    pub(super) fn run(&self, report: &AnalysisReport, files: &[PathBuf]) -> Result<Summary, (Summary, String)> {
        let source = capture_source(files).map_err(|e| (Summary::default(), e))?;
        let now = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
        let fallback_at = capture_end(report).map_or(now, str::to_string);
        let events = events_from_report(report, &source, &fallback_at);
        let batches = uplink::batches(events, &report.probe_version);
        let mut summary = Summary {
            events: batches.iter().map(|b| b.events.len()).sum(),
            batches: batches.len(),
            ..Summary::default()
        };
        tracing::info!(events = summary.events, batches = summary.batches, source = %&source[..16], "sending to the agent");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| (summary, format!("cannot start the network runtime: {e}")))?;
        let give_up_at = Instant::now() + self.deadline;
        runtime.block_on(async {
            for (n, batch) in batches.iter().enumerate() {
                let outcome = self
                    .uplink
                    .deliver_by(batch, give_up_at)
                    .await
                    .map_err(|e: UplinkError| (summary, e.to_string()))?;
                summary.delivered += 1;
                summary.accepted += outcome.accepted;
                summary.duplicates += outcome.duplicates;
                tracing::info!(
                    "batch {}/{}: {} events, {} new, {} already known ({} attempt(s))",
                    n + 1,
                    summary.batches,
                    batch.events.len(),
                    outcome.accepted,
                    outcome.duplicates,
                    outcome.attempts
                );
            }
            Ok(summary)
        })
    }
}

/// The name of an upload: the SHA-256 (hex) of the one capture's contents,
/// or, for several, of a manifest listing each file's name, size and
/// SHA-256 (sorted, so the order on the command line does not matter).
pub(super) fn capture_source(files: &[PathBuf]) -> Result<String, String> {
    let digests = files
        .iter()
        .map(|p| file_digest(p).map_err(|e| format!("cannot read {} to name the upload: {e}", p.display())))
        .collect::<Result<Vec<_>, _>>()?;
    if let [(_, digest)] = digests.as_slice() {
        return Ok(digest.clone());
    }
    let mut lines: Vec<String> = files
        .iter()
        .zip(&digests)
        .map(|(p, (size, digest))| {
            let name = p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
            format!("{digest} {size} {name}\n")
        })
        .collect();
    lines.sort();
    Ok(hex::encode(Sha256::digest(lines.concat().as_bytes())))
}

/// A file's size and SHA-256 (hex).
fn file_digest(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_is_named_by_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pcap");
        std::fs::write(&a, b"abc").unwrap();
        assert_eq!(
            capture_source(std::slice::from_ref(&a)).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let copy = dir.path().join("copy.pcap");
        std::fs::write(&copy, b"abc").unwrap();
        assert_eq!(capture_source(std::slice::from_ref(&copy)).unwrap(), capture_source(&[a]).unwrap());
    }

    #[test]
    fn several_files_are_named_by_their_manifest_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pcap");
        let b = dir.path().join("b.pcap");
        std::fs::write(&a, b"abc").unwrap();
        std::fs::write(&b, b"defg").unwrap();
        let ab = capture_source(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(ab, capture_source(&[b.clone(), a.clone()]).unwrap());
        assert_ne!(ab, capture_source(std::slice::from_ref(&a)).unwrap());
        assert_eq!(ab.len(), 64);
        std::fs::write(&b, b"defh").unwrap();
        assert_ne!(ab, capture_source(&[a, b]).unwrap(), "contents count");
        let e = capture_source(&[dir.path().join("missing.pcap")]).unwrap_err();
        assert!(e.contains("missing.pcap"), "{e}");
    }
}
