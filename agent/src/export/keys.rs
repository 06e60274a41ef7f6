//! The agent's Ed25519 signing key, made in `DATA/keys/` on first use.
//!
//! `signing.key` holds the 32-byte secret seed as 64 hex digits, mode 0600
//! (made with that mode, never world-readable even for an instant);
//! `signing.pub` the public key, 64 hex digits, for whoever verifies
//! bundles. An existing key with looser permissions is refused rather than
//! used.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::RngCore as _;

use super::ExportError;

/// The key directory inside the data directory.
pub const KEYS_DIR: &str = "keys";
/// The secret key file.
pub const SECRET_FILE: &str = "signing.key";
/// The public key file.
pub const PUBLIC_FILE: &str = "signing.pub";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io { path: path.to_path_buf(), source }
}

/// The secret key file's path under `data`.
pub fn secret_path(data: &Path) -> PathBuf {
    data.join(KEYS_DIR).join(SECRET_FILE)
}

/// Loads the agent's signing key, making it first if there is none.
pub fn load_or_create(data: &Path) -> Result<SigningKey, ExportError> {
    let dir = data.join(KEYS_DIR);
    let secret = dir.join(SECRET_FILE);
    if secret.exists() {
        return load(&secret);
    }
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&secret).map_err(io(&secret))?;
    writeln!(f, "{}", hex::encode(seed)).map_err(io(&secret))?;
    f.sync_all().map_err(io(&secret))?;
    let public = dir.join(PUBLIC_FILE);
    std::fs::write(&public, format!("{}\n", hex::encode(key.verifying_key().as_bytes()))).map_err(io(&public))?;
    tracing::info!(key = %secret.display(), public = %fingerprint(&key.verifying_key()), "made the agent's signing key");
    Ok(key)
}

fn load(secret: &Path) -> Result<SigningKey, ExportError> {
    let bad = |reason: String| ExportError::Key { path: secret.to_path_buf(), reason };
    let mode = std::fs::metadata(secret).map_err(io(secret))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(bad(format!("mode {:o} lets others read it; chmod 600 it", mode & 0o777)));
    }
    let text = std::fs::read_to_string(secret).map_err(io(secret))?;
    let seed: [u8; 32] = hex::decode(text.trim())
        .map_err(|e| bad(format!("not hex: {e}")))?
        .try_into()
        .map_err(|_| bad("expected 64 hex digits (32 bytes)".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The public key in `data`'s key directory, if the agent has one.
pub fn load_public(data: &Path) -> Result<Option<VerifyingKey>, ExportError> {
    let public = data.join(KEYS_DIR).join(PUBLIC_FILE);
    if !public.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&public).map_err(io(&public))?;
    parse_public(text.trim()).map(Some).map_err(|reason| ExportError::Key { path: public, reason })
}

/// A public key from 64 hex digits.
pub fn parse_public(hex_text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(hex_text.trim())
        .map_err(|e| format!("not hex: {e}"))?
        .try_into()
        .map_err(|_| "expected 64 hex digits (32 bytes)".to_owned())?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

/// A public key as 64 hex digits.
pub fn fingerprint(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_made_once_with_mode_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(secret_path(dir.path())).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = load_or_create(dir.path()).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        assert_eq!(load_public(dir.path()).unwrap().unwrap(), a.verifying_key());
    }

    #[test]
    fn a_readable_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        std::fs::set_permissions(secret_path(dir.path()), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
