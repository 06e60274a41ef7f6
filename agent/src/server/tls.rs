//! The agent's TLS: its certificate (self-signed and kept in `DATA/tls/`, or
//! given as PEM files), the certificate's fingerprint that probes pin, and a
//! client configuration that trusts exactly one fingerprint.
//!
//! rustls with the ring provider only (no aws-lc). A self-signed certificate
//! is an ECDSA P-256 key and certificate made with rcgen on first start:
//! `tls/key.pem` (mode 0600, directory 0700) and `tls/cert.pem`; later starts
//! reuse them, so the fingerprint stays the same. The fingerprint is the
//! SHA-256 of the leaf certificate's DER, in 64 lowercase hex digits.

use std::fs;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use sha2::{Digest, Sha256};

/// The directory inside the data directory that holds the self-signed pair.
pub const TLS_DIR: &str = "tls";
/// The certificate's file name in [`TLS_DIR`].
pub const CERT_FILE: &str = "cert.pem";
/// The private key's file name in [`TLS_DIR`].
pub const KEY_FILE: &str = "key.pem";

/// A TLS set-up problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Only one of the self-signed pair exists.
    #[error("{present} exists but {missing} does not; restore it, or remove {dir} to make a new certificate (probes pinning the old fingerprint must then be updated)")]
    HalfPair {
        /// The file found.
        present: PathBuf,
        /// The file missing.
        missing: PathBuf,
        /// The directory.
        dir: PathBuf,
    },
    /// The certificate could not be made.
    #[error("making a certificate: {0}")]
    Generate(String),
    /// rustls refused the certificate or key.
    #[error("certificate or key refused: {0}")]
    Rustls(String),
}

/// A certificate chain and its key, ready for rustls.
#[derive(Debug)]
pub struct TlsMaterial {
    /// Leaf first.
    pub certs: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl TlsMaterial {
    /// The leaf certificate's [`fingerprint`].
    pub fn fingerprint(&self) -> String {
        self.certs.first().map(|c| fingerprint(c)).unwrap_or_default()
    }
}

/// SHA-256 of a certificate's DER, 64 lowercase hex digits.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    hex::encode(Sha256::digest(cert.as_ref()))
}

/// Loads the self-signed pair from `dir`, making it first if neither file
/// exists. `listen` adds the listening IP to the names, if it is specific.
pub fn load_or_create_self_signed(dir: &Path, listen: SocketAddr) -> Result<TlsMaterial, TlsError> {
    let cert = dir.join(CERT_FILE);
    let key = dir.join(KEY_FILE);
    match (cert.exists(), key.exists()) {
        (true, true) => load_pem_files(&cert, &key),
        (true, false) => Err(TlsError::HalfPair { present: cert, missing: key, dir: dir.to_path_buf() }),
        (false, true) => Err(TlsError::HalfPair { present: key, missing: cert, dir: dir.to_path_buf() }),
        (false, false) => {
            create_self_signed(dir, listen)?;
            tracing::info!(dir = %dir.display(), "made a self-signed certificate");
            load_pem_files(&cert, &key)
        }
    }
}

fn create_self_signed(dir: &Path, listen: SocketAddr) -> Result<(), TlsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if !listen.ip().is_unspecified() && !listen.ip().is_loopback() {
        names.push(listen.ip().to_string());
    }
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let key_pair = rcgen::KeyPair::generate().map_err(generate)?;
    let mut params = rcgen::CertificateParams::new(names).map_err(generate)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "duanka-agent");
    let cert = params.self_signed(&key_pair).map_err(generate)?;

    create_private_dir(dir).map_err(io(dir))?;
    // Key first, each written to a temporary name and renamed, so a crash
    // leaves either nothing or a whole file.
    write_file(&dir.join(KEY_FILE), key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_file(&dir.join(CERT_FILE), cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let tmp = path.with_extension("tmp");
    let io = |source| TlsError::Io { path: path.to_path_buf(), source };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

/// Loads a PEM certificate chain (leaf first) and a PEM private key.
pub fn load_pem_files(cert: &Path, key: &Path) -> Result<TlsMaterial, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_error(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(cert, e))?;
    if certs.is_empty() {
        return Err(TlsError::Pem { path: cert.to_path_buf(), reason: "no CERTIFICATE block found".into() });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, e))?;
    Ok(TlsMaterial { certs, key })
}

fn pem_error(path: &Path, e: rustls::pki_types::pem::Error) -> TlsError {
    match e {
        rustls::pki_types::pem::Error::Io(source) => TlsError::Io { path: path.to_path_buf(), source },
        rustls::pki_types::pem::Error::NoItemsFound => {
            TlsError::Pem { path: path.to_path_buf(), reason: "no PEM block of the expected kind found".into() }
        }
        other => TlsError::Pem { path: path.to_path_buf(), reason: other.to_string() },
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The server's rustls configuration: TLS 1.2 and 1.3, HTTP/1.1 by ALPN.
pub fn server_config(material: TlsMaterial) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(material.certs, material.key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_addr() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    #[test]
    fn self_signed_pair_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join(TLS_DIR);
        let first = load_or_create_self_signed(&tls, any_addr()).unwrap();
        let fp = first.fingerprint();
        assert_eq!(fp.len(), 64);
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{fp}");
        let again = load_or_create_self_signed(&tls, any_addr()).unwrap();
        assert_eq!(again.fingerprint(), fp);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(tls.join(KEY_FILE)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        server_config(again).unwrap();
    }

    #[test]
    fn half_a_pair_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create_self_signed(dir.path(), any_addr()).unwrap();
        fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let err = load_or_create_self_signed(dir.path(), any_addr()).unwrap_err();
        assert!(matches!(err, TlsError::HalfPair { .. }), "{err}");
    }

    #[test]
    fn bad_pem_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        fs::write(&junk, "not a certificate").unwrap();
        let err = load_pem_files(&junk, &junk).unwrap_err();
        assert!(err.to_string().contains("junk.pem"), "{err}");
        let err = load_pem_files(&dir.path().join("missing.pem"), &junk).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }
}
