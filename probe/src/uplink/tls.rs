//! TLS towards the agent: rustls with the *ring* provider, and the two ways
//! a probe trusts the agent (SPEC 4.1 Uplink).
//!
//! - [`Trust::Pinned`]: the agent's certificate is known by the SHA-256 of its
//!   DER encoding (what `openssl x509 -noout -fingerprint -sha256` prints).
//!   The end-entity certificate the server presents must have exactly that
//!   digest; chain, name and validity period are not looked at (the pin *is*
//!   the trust: the usual set-up is a self-signed agent certificate), but the
//!   handshake signatures are still verified with the certificate's key, so a
//!   server that merely replays the certificate cannot complete the handshake.
//! - [`Trust::CaFile`] / [`Trust::CaPem`]: ordinary WebPKI verification against
//!   the given root(s) only (not the system store), host name included.
//!
//! The provider is passed to every config explicitly: nothing is installed
//! process-wide, and no aws-lc code is built.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use super::{ErrorKind, UplinkError};

/// A SHA-256 certificate fingerprint: the digest of the DER certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Parses 64 hex digits, upper or lower case, optionally `:`-separated
/// (`ab:cd:…`, as openssl prints it) and optionally prefixed `sha256:`.
impl FromStr for Fingerprint {
    type Err = UplinkError;

    fn from_str(s: &str) -> Result<Fingerprint, UplinkError> {
        let s = s.trim();
        let s = s.get(..7).filter(|p| p.eq_ignore_ascii_case("sha256:")).map_or(s, |_| &s[7..]);
        let digits: String = s.chars().filter(|c| *c != ':').collect();
        let bad = |why: &str| {
            UplinkError::new(
                ErrorKind::Config,
                format!("not a SHA-256 fingerprint ({why}): expected 64 hex digits, optionally `:`-separated"),
            )
        };
        if let Some(c) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(bad(&format!("{c:?} is not a hex digit")));
        }
        if digits.len() != 64 {
            return Err(bad(&format!("{} digits", digits.len())));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(&digits, &mut out).map_err(|_| bad("not hex"))?;
        Ok(Fingerprint(out))
    }
}

/// Lowercase hex, no separators (as `sha256sum` prints it).
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// How the probe decides that the server it reached is its agent.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The agent's certificate has this fingerprint.
    Pinned(Fingerprint),
    /// The agent's certificate chains to a root in this PEM file.
    CaFile(PathBuf),
    /// The agent's certificate chains to a root in this PEM text.
    CaPem(Vec<u8>),
}

/// The handshake failed because the certificate was not the pinned one.
/// Carried inside rustls' error so the transport can tell it apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FingerprintMismatch {
    /// The pin.
    pub expected: Fingerprint,
    /// What the server presented.
    pub got: Fingerprint,
}

impl fmt::Display for FingerprintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "certificate fingerprint mismatch: expected {}, got {}", self.expected, self.got)
    }
}

impl std::error::Error for FingerprintMismatch {}

/// The crypto provider every config uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config for `trust`, speaking HTTP/1.1 (ALPN).
pub fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>, UplinkError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| UplinkError::new(ErrorKind::Config, format!("TLS set-up: {e}")))?;
    let mut config = match trust {
        Trust::Pinned(fp) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
                expected: *fp,
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Trust::CaFile(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                UplinkError::new(ErrorKind::Config, format!("cannot read the agent CA file {}: {e}", path.display()))
            })?;
            builder.with_root_certificates(roots(&pem, &path.display().to_string())?).with_no_client_auth()
        }
        Trust::CaPem(pem) => builder.with_root_certificates(roots(pem, "the agent CA")?).with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The CERTIFICATE blocks of a PEM text as trust anchors; `what` names the
/// source in errors.
fn roots(pem: &[u8], what: &str) -> Result<RootCertStore, UplinkError> {
    let config = |msg: String| UplinkError::new(ErrorKind::Config, msg);
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| config(format!("{what}: bad PEM: {e}")))?;
        store.add(cert).map_err(|e| config(format!("{what}: not a usable CA certificate: {e}")))?;
    }
    if store.is_empty() {
        return Err(config(format!("{what}: no CERTIFICATE in the PEM file")));
    }
    Ok(store)
}

/// Accepts exactly the pinned end-entity certificate; see the module docs.
#[derive(Debug)]
struct PinnedVerifier {
    expected: Fingerprint,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Fingerprint::of_der(end_entity.as_ref());
        if got == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            let mismatch = FingerprintMismatch { expected: self.expected, got };
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(mismatch)))))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The pin mismatch inside a handshake error, if that is what it was.
pub(crate) fn fingerprint_mismatch(error: &rustls::Error) -> Option<FingerprintMismatch> {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<FingerprintMismatch>().copied()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn fingerprint_forms() {
        let expected: Fingerprint = HEX.parse().unwrap();
        let colons: String = HEX
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        let table = [
            HEX.to_string(),
            HEX.to_uppercase(),
            colons.clone(),
            format!("  {colons}\n"),
            format!("sha256:{HEX}"),
            format!("SHA256:{colons}"),
        ];
        for input in table {
            assert_eq!(input.parse::<Fingerprint>().unwrap(), expected, "{input:?}");
        }
        assert_eq!(expected.to_string(), HEX);
        assert_eq!(expected.as_bytes()[..2], [0x01, 0x23]);
    }

    #[test]
    fn bad_fingerprints_say_why() {
        let table = [
            ("", "0 digits"),
            (&HEX[..62], "62 digits"),
            ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefab", "66 digits"),
            ("g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "'g' is not a hex digit"),
            ("01 23", "' ' is not a hex digit"),
            ("sha1:0123", "'s' is not a hex digit"),
        ];
        for (input, why) in table {
            let e = input.parse::<Fingerprint>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(e.to_string().contains(why), "{input:?}: {e}");
            assert!(e.to_string().contains("64 hex digits"), "{e}");
        }
    }

    #[test]
    fn fingerprint_of_der_is_sha256() {
        // SHA-256 of the empty input.
        assert_eq!(
            Fingerprint::of_der(b"").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn ca_pem_without_certificates_is_refused() {
        let e = client_config(&Trust::CaPem(b"hello".to_vec())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("no CERTIFICATE"), "{e}");
        let e = client_config(&Trust::CaFile("/nonexistent/ca.pem".into())).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn mismatch_survives_the_rustls_error() {
        let mismatch = FingerprintMismatch { expected: HEX.parse().unwrap(), got: Fingerprint::of_der(b"") };
        let e = rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(mismatch))));
        let back = fingerprint_mismatch(&e).unwrap();
        assert_eq!(back.got, Fingerprint::of_der(b""));
        assert_eq!(
            back.to_string(),
            format!("certificate fingerprint mismatch: expected {HEX}, got {}", Fingerprint::of_der(b""))
        );
        assert!(fingerprint_mismatch(&rustls::Error::InvalidCertificate(CertificateError::Expired)).is_none());
    }
}
