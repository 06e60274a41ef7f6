//! The evidence bundle of one case: a zip that a court or another agency can
//! check without trusting whoever handed it over.
//!
//! Contents (format `duanka-bundle/1`):
//!
//! | file | what |
//! |---|---|
//! | `case.json` | the case in full, identities unmasked (as `cases show --json`) |
//! | `timeline.csv` | `at,kind,actor,what`, oldest first |
//! | `evidence.csv` | every piece of probe evidence: gateway, kind, id, weight, counted, observed, threshold, detail |
//! | `reports/gateway-ID.json` | each gateway's full detection report as the probe sent it |
//! | `manifest.json` | format, case, when, by whom, the agent's public key, and every other file's SHA-256 and size |
//! | `manifest.sig` | the Ed25519 signature of `manifest.json`'s exact bytes, 128 hex digits |
//!
//! [`verify`] checks, in order: the manifest and signature are there and
//! readable; the signature is valid for the expected public key (and the
//! manifest names that key); every listed file is present with its hash and
//! size; no file is present that the manifest does not list. It reports
//! every failure, not only the first.

use std::io::{Read as _, Write as _};

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ExportError;
use crate::cases;

/// The format tag in the manifest.
pub const FORMAT: &str = "duanka-bundle/1";
/// The manifest's name in the zip.
pub const MANIFEST: &str = "manifest.json";
/// The signature's name in the zip.
pub const SIGNATURE: &str = "manifest.sig";
/// Largest file inside a bundle that [`verify`] reads (a bound against zip bombs).
pub const MAX_ENTRY_BYTES: u64 = 256 * 1024 * 1024;

/// One file of the bundle in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path inside the zip.
    pub name: String,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The case.
    pub case_id: i64,
    /// When the bundle was made, RFC 3339.
    pub created_at: String,
    /// Who asked for it.
    pub created_by: String,
    /// The signer's public key, 64 hex digits.
    pub public_key: String,
    /// Every other file.
    pub files: Vec<ManifestFile>,
}

/// A finished bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The zip's bytes.
    pub bytes: Vec<u8>,
    /// Its manifest.
    pub manifest: Manifest,
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Builds and signs the bundle of case `id`.
pub fn create(conn: &Connection, id: i64, key: &SigningKey, created_by: &str) -> Result<Bundle, ExportError> {
    let detail = cases::show(conn, id, true)?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    files.push(("case.json".into(), serde_json::to_vec_pretty(&detail)?));

    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["at", "kind", "actor", "what"])?;
    for e in cases::timeline(conn, &detail)? {
        w.write_record([e.at.as_str(), e.kind, &super::safe_cell(&e.actor), &super::safe_cell(&e.what)])?;
    }
    files.push(("timeline.csv".into(), w.into_inner().map_err(|e| ExportError::Csv(e.into_error().into()))?));

    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["gateway", "kind", "id", "weight", "counted", "observed", "threshold", "detail"])?;
    for e in &detail.evidence {
        w.write_record([
            e.gateway.as_str(),
            &e.kind,
            &e.id,
            &e.weight.to_string(),
            &e.counted.to_string(),
            &super::safe_cell(&e.observed),
            &super::safe_cell(&e.threshold),
            &super::safe_cell(&e.detail),
        ])?;
    }
    files.push(("evidence.csv".into(), w.into_inner().map_err(|e| ExportError::Csv(e.into_error().into()))?));

    let mut report = conn.prepare_cached("SELECT report_json FROM gateways WHERE id = ?1")?;
    for g in &detail.gateways {
        if let Some(json) = report.query_row([g.id], |r| r.get::<_, String>(0)).optional()? {
            files.push((format!("reports/gateway-{}.json", g.id), json.into_bytes()));
        }
    }

    let manifest = Manifest {
        format: FORMAT.into(),
        case_id: id,
        created_at: crate::store::ms_to_rfc3339(crate::store::now_ms()),
        created_by: created_by.into(),
        public_key: super::keys::fingerprint(&key.verifying_key()),
        files: files
            .iter()
            .map(|(name, bytes)| ManifestFile { name: name.clone(), sha256: sha256(bytes), bytes: bytes.len() as u64 })
            .collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let signature = key.sign(&manifest_bytes);

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let io = |source| ExportError::Io { path: "bundle.zip".into(), source };
    for (name, bytes) in &files {
        zip.start_file(name.as_str(), options)?;
        zip.write_all(bytes).map_err(io)?;
    }
    zip.start_file(MANIFEST, options)?;
    zip.write_all(&manifest_bytes).map_err(io)?;
    zip.start_file(SIGNATURE, options)?;
    zip.write_all(format!("{}\n", hex::encode(signature.to_bytes())).as_bytes()).map_err(io)?;
    let bytes = zip.finish()?.into_inner();
    Ok(Bundle { bytes, manifest })
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The case, if the manifest could be read.
    pub case_id: Option<i64>,
    /// The key the manifest names.
    pub manifest_key: Option<String>,
    /// Files whose hash matched.
    pub files_ok: u64,
    /// Everything that failed, each naming the file or check.
    pub failures: Vec<String>,
}

impl Verification {
    /// True if nothing failed.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Checks a bundle's bytes against `expected`, the agent's public key.
pub fn verify(bytes: &[u8], expected: &VerifyingKey) -> Verification {
    let mut v = Verification { case_id: None, manifest_key: None, files_ok: 0, failures: Vec::new() };
    let mut zip = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => {
            v.failures.push(format!("not a readable zip: {e}"));
            return v;
        }
    };
    let mut read = |name: &str| -> Result<Vec<u8>, String> {
        let entry = zip.by_name(name).map_err(|e| format!("{name}: {e}"))?;
        if entry.size() > MAX_ENTRY_BYTES {
            return Err(format!(
                "{name}: {} bytes, more than the {MAX_ENTRY_BYTES} a bundle file may have",
                entry.size()
            ));
        }
        let mut out = Vec::new();
        entry.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut out).map_err(|e| format!("{name}: {e}"))?;
        Ok(out)
    };
    let manifest_bytes = match read(MANIFEST) {
        Ok(b) => b,
        Err(e) => {
            v.failures.push(format!("manifest missing or unreadable: {e}"));
            return v;
        }
    };
    match read(SIGNATURE).and_then(|s| {
        let text = String::from_utf8(s).map_err(|_| format!("{SIGNATURE}: not text"))?;
        let raw: [u8; 64] = hex::decode(text.trim())
            .map_err(|e| format!("{SIGNATURE}: not hex: {e}"))?
            .try_into()
            .map_err(|_| format!("{SIGNATURE}: expected 128 hex digits"))?;
        Ok(Signature::from_bytes(&raw))
    }) {
        Ok(sig) => {
            if expected.verify(&manifest_bytes, &sig).is_err() {
                v.failures.push(format!(
                    "signature: {SIGNATURE} is not a valid signature of {MANIFEST} by key {}",
                    super::keys::fingerprint(expected)
                ));
            }
        }
        Err(e) => v.failures.push(format!("signature missing or unreadable: {e}")),
    }
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            v.failures.push(format!("{MANIFEST}: not a bundle manifest: {e}"));
            return v;
        }
    };
    v.case_id = Some(manifest.case_id);
    v.manifest_key = Some(manifest.public_key.clone());
    if manifest.format != FORMAT {
        v.failures.push(format!("{MANIFEST}: format {:?}, expected {FORMAT:?}", manifest.format));
    }
    if manifest.public_key != super::keys::fingerprint(expected) {
        v.failures.push(format!(
            "{MANIFEST}: signed by key {}, expected the agent's key {}",
            manifest.public_key,
            super::keys::fingerprint(expected)
        ));
    }
    for f in &manifest.files {
        match read(&f.name) {
            Ok(bytes) if sha256(&bytes) == f.sha256 && bytes.len() as u64 == f.bytes => v.files_ok += 1,
            Ok(bytes) => v.failures.push(format!(
                "{}: SHA-256 {} ({} bytes), the manifest says {} ({} bytes)",
                f.name,
                sha256(&bytes),
                bytes.len(),
                f.sha256,
                f.bytes
            )),
            Err(e) => v.failures.push(format!("{}: listed in the manifest but missing: {e}", f.name)),
        }
    }
    let listed: std::collections::BTreeSet<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    for name in zip.file_names() {
        if name != MANIFEST && name != SIGNATURE && !listed.contains(name) {
            v.failures.push(format!("{name}: present but not in the manifest"));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rezip(bytes: &[u8], change: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>, extra: Option<(&str, &[u8])>) -> Vec<u8> {
        let mut src = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for i in 0..src.len() {
            let mut f = src.by_index(i).unwrap();
            let name = f.name().to_owned();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            if let Some(data) = change(&name, data) {
                out.start_file(name, opts).unwrap();
                out.write_all(&data).unwrap();
            }
        }
        if let Some((name, data)) = extra {
            out.start_file(name, opts).unwrap();
            out.write_all(data).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    fn bundle() -> (Bundle, SigningKey) {
        let store = crate::store::Store::open_in_memory().unwrap();
        store
            .conn()
            .execute_batch(
                "INSERT INTO cases (id, cluster_key, state, severity, title, summary_json, evidence_digest, created_at, updated_at)
                 VALUES (1, 'k', 'new', 'high', 'gateway at 198.51.100.1', '{}', '', 0, 0);
                 INSERT INTO case_history (case_id, at, actor, from_state, to_state, reason) VALUES (1, 0, 'correlator', NULL, 'new', 'opened');",
            )
            .unwrap();
        let key = SigningKey::from_bytes(&[7u8; 32]);
        (create(store.conn(), 1, &key, "user:alice").unwrap(), key)
    }

    #[test]
    fn a_fresh_bundle_verifies() {
        let (b, key) = bundle();
        let v = verify(&b.bytes, &key.verifying_key());
        assert!(v.ok(), "{:?}", v.failures);
        assert_eq!(v.case_id, Some(1));
        assert_eq!(v.files_ok, 3);
        assert!(b.manifest.files.iter().any(|f| f.name == "timeline.csv"));
    }

    #[test]
    fn an_edited_file_is_named() {
        let (b, key) = bundle();
        let edited = rezip(&b.bytes, |n, d| Some(if n == "timeline.csv" { b"at,kind\n".to_vec() } else { d }), None);
        let v = verify(&edited, &key.verifying_key());
        assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
        assert!(v.failures[0].starts_with("timeline.csv: SHA-256"), "{:?}", v.failures);
    }

    #[test]
    fn an_edited_manifest_breaks_the_signature() {
        let (b, key) = bundle();
        let edited = rezip(
            &b.bytes,
            |n, d| {
                Some(if n == MANIFEST {
                    String::from_utf8(d).unwrap().replace("alice", "mallo").into_bytes()
                } else {
                    d
                })
            },
            None,
        );
        let v = verify(&edited, &key.verifying_key());
        assert!(v.failures.iter().any(|f| f.starts_with("signature:")), "{:?}", v.failures);
    }

    #[test]
    fn another_key_missing_and_extra_files_are_named() {
        let (b, _) = bundle();
        let other = SigningKey::from_bytes(&[9u8; 32]).verifying_key();
        let v = verify(&b.bytes, &other);
        assert!(v.failures.iter().any(|f| f.contains("expected the agent's key")), "{:?}", v.failures);
        let (b, key) = bundle();
        let cut = rezip(&b.bytes, |n, d| (n != "evidence.csv").then_some(d), Some(("extra.txt", b"hi")));
        let v = verify(&cut, &key.verifying_key());
        assert!(v.failures.iter().any(|f| f.starts_with("evidence.csv: listed")), "{:?}", v.failures);
        assert!(v.failures.iter().any(|f| f.starts_with("extra.txt: present")), "{:?}", v.failures);
        assert!(!verify(b"not a zip", &key.verifying_key()).ok());
    }
}
