//! The live probe's TOML configuration (`/etc/duanka/probe.toml`; see
//! `probe/examples/probe.toml` for every key, documented).
//!
//! [`RawConfig`] is what the file says (serde, unknown keys refused);
//! [`Config::load`] checks it and turns it into [`Config`]. Every error names
//! the key (`agent.url: …`) and never quotes a token.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::board::linux::BoardConfig;
use crate::uplink::{AgentUrl, Fingerprint, Token, Trust};

/// Default GSMTAP listen address (SPEC 3.4: UDP 4729, loopback).
pub const DEFAULT_GSMTAP_LISTEN: &str = "127.0.0.1:4729";
/// Default spool size cap, events.
pub const DEFAULT_MAX_EVENTS: u64 = 1_000_000;
/// Default heartbeat interval, seconds.
pub const DEFAULT_HEARTBEAT_S: u64 = 30;
/// Default interval between live reports, seconds.
pub const DEFAULT_REPORT_S: u64 = 5;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[capture]`.
    #[serde(default)]
    pub capture: RawCapture,
    /// `[gsmtap]`.
    #[serde(default)]
    pub gsmtap: Option<RawGsmtap>,
    /// `[agent]`.
    pub agent: Option<RawAgent>,
    /// `[spool]`.
    pub spool: Option<RawSpool>,
    /// `[heartbeat]`.
    #[serde(default)]
    pub heartbeat: RawHeartbeat,
    /// `[metrics]`.
    #[serde(default)]
    pub metrics: Option<RawMetrics>,
    /// `[board]`.
    #[serde(default)]
    pub board: Option<BoardConfig>,
    /// `[signatures]`.
    #[serde(default)]
    pub signatures: Option<RawSignatures>,
}

/// `[capture]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapture {
    /// Interfaces to capture on, promiscuous.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Seconds between live reports of what changed.
    pub report_interval_s: Option<f64>,
    /// Kernel receive buffer (ring) of each capture socket, MiB.
    pub buffer_mib: Option<u64>,
    /// Read through a TPACKET_V3 ring (default) or, if false, with pnet.
    pub ring: Option<bool>,
}

/// `[gsmtap]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGsmtap {
    /// UDP address to listen on.
    pub listen: Option<String>,
}

/// `[agent]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// `https://host:port`.
    pub url: Option<String>,
    /// The probe's token.
    pub token: Option<String>,
    /// A file holding the token.
    pub token_file: Option<PathBuf>,
    /// SHA-256 of the agent's certificate, hex.
    pub fingerprint: Option<String>,
    /// PEM file of the CA that issued the agent's certificate.
    pub ca_file: Option<PathBuf>,
}

/// `[spool]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpool {
    /// The SQLite file.
    pub path: Option<PathBuf>,
    /// Size cap, events.
    pub max_events: Option<u64>,
}

/// `[heartbeat]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeartbeat {
    /// Seconds between heartbeats.
    pub interval_s: Option<f64>,
}

/// `[metrics]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// TCP address of the `/metrics` endpoint.
    pub listen: Option<String>,
}

/// `[signatures]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignatures {
    /// A signature file replacing the built-in database.
    pub path: Option<PathBuf>,
}

/// The checked configuration.
#[derive(Debug)]
pub struct Config {
    /// Interfaces to capture on.
    pub interfaces: Vec<String>,
    /// GSMTAP listener address, if any.
    pub gsmtap: Option<SocketAddr>,
    /// The agent.
    pub agent_url: AgentUrl,
    /// The token.
    pub token: Token,
    /// Trust in the agent.
    pub trust: Trust,
    /// Spool file.
    pub spool_path: PathBuf,
    /// Spool cap.
    pub max_events: u64,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Live report interval.
    pub report_interval: Duration,
    /// Kernel receive buffer (ring) of each capture socket, bytes.
    pub socket_buffer: usize,
    /// How interfaces are read.
    pub capture_method: crate::capture::live::Method,
    /// Metrics endpoint, if any.
    pub metrics: Option<SocketAddr>,
    /// The board, if configured.
    pub board: Option<BoardConfig>,
    /// The file the token came from, if it came from one.
    pub token_file: Option<PathBuf>,
    /// Signature file, if not the built-in one.
    pub signatures: Option<PathBuf>,
}

/// A configuration error, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// What is wrong, starting with the key.
    pub message: String,
}

fn seconds(key: &str, v: Option<f64>, default: u64) -> Result<Duration, String> {
    match v {
        None => Ok(Duration::from_secs(default)),
        Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        Some(s) => Err(format!("{key}: {s} is not a number of seconds in (0, 86400]")),
    }
}

fn addr(key: &str, v: &str) -> Result<SocketAddr, String> {
    v.parse().map_err(|_| format!("{key}: {v:?} is not an IP:PORT address"))
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let err = |message: String| ConfigError { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        Config::parse(&text, path.parent().unwrap_or(Path::new("."))).map_err(err)
    }

    /// Checks TOML `text`; relative paths are relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        let rel = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let agent = raw.agent.ok_or("[agent]: missing (url, token or token_file, fingerprint or ca_file)")?;
        let url = agent.url.ok_or("agent.url: missing")?;
        let agent_url: AgentUrl = url.parse().map_err(|e| format!("agent.url: {e}"))?;
        if !agent_url.is_https() {
            return Err(format!("agent.url: {url:?} must be https://"));
        }
        let token_file = agent.token_file.clone().map(rel);
        let token = match (agent.token, agent.token_file) {
            (Some(t), None) => t,
            (None, Some(f)) => {
                let f = rel(f);
                let t = std::fs::read_to_string(&f)
                    .map_err(|e| format!("agent.token_file: cannot read {}: {e}", f.display()))?
                    .trim()
                    .to_string();
                if t.is_empty() {
                    return Err(format!(
                        "agent.token_file: {} is empty (wiped after a tamper alarm? enrol the probe again \
                         with `duanka-agent probe add` and write the new token there)",
                        f.display()
                    ));
                }
                t
            }
            (Some(_), Some(_)) => return Err("agent.token and agent.token_file: give only one".into()),
            (None, None) => return Err("agent.token: missing (or agent.token_file)".into()),
        };
        let token = Token::new(token).map_err(|e| format!("agent.token: {e}"))?;
        let trust = match (agent.fingerprint, agent.ca_file) {
            (Some(fp), None) => {
                Trust::Pinned(fp.parse::<Fingerprint>().map_err(|e| format!("agent.fingerprint: {e}"))?)
            }
            (None, Some(ca)) => {
                let ca = rel(ca);
                if !ca.is_file() {
                    return Err(format!("agent.ca_file: {} is not a readable file", ca.display()));
                }
                Trust::CaFile(ca)
            }
            (Some(_), Some(_)) => return Err("agent.fingerprint and agent.ca_file: give only one".into()),
            (None, None) => return Err("agent.fingerprint: missing (or agent.ca_file)".into()),
        };
        let spool = raw.spool.ok_or("[spool]: missing (path)")?;
        let spool_path = rel(spool.path.ok_or("spool.path: missing")?);
        let max_events = spool.max_events.unwrap_or(DEFAULT_MAX_EVENTS);
        if max_events < 100 {
            return Err(format!("spool.max_events: {max_events} is below the minimum of 100"));
        }
        for (i, name) in raw.capture.interfaces.iter().enumerate() {
            if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
                return Err(format!("capture.interfaces[{i}]: {name:?} is not an interface name"));
            }
        }
        let gsmtap = match raw.gsmtap {
            None => None,
            Some(g) => Some(addr("gsmtap.listen", g.listen.as_deref().unwrap_or(DEFAULT_GSMTAP_LISTEN))?),
        };
        if raw.capture.interfaces.is_empty() && gsmtap.is_none() {
            return Err("capture.interfaces: no source (list an interface, or add a [gsmtap] listener)".into());
        }
        if raw.board.as_ref().is_some_and(|b| b.tamper_clears_token) && token_file.is_none() {
            return Err("board.tamper_clears_token: needs agent.token_file (an inline token cannot be wiped)".into());
        }
        let metrics = match raw.metrics {
            None => None,
            Some(m) => Some(addr("metrics.listen", m.listen.as_deref().ok_or("metrics.listen: missing")?)?),
        };
        Ok(Config {
            interfaces: raw.capture.interfaces,
            gsmtap,
            agent_url,
            token,
            trust,
            spool_path,
            max_events,
            heartbeat: seconds("heartbeat.interval_s", raw.heartbeat.interval_s, DEFAULT_HEARTBEAT_S)?,
            report_interval: seconds("capture.report_interval_s", raw.capture.report_interval_s, DEFAULT_REPORT_S)?,
            capture_method: if raw.capture.ring.unwrap_or(true) {
                crate::capture::live::Method::Ring
            } else {
                crate::capture::live::Method::Pnet
            },
            socket_buffer: match raw.capture.buffer_mib {
                None => crate::capture::live::DEFAULT_SOCKET_BUFFER,
                Some(m @ 1..=1024) => (m as usize) << 20,
                Some(m) => return Err(format!("capture.buffer_mib: {m} is not a size in MiB in 1..=1024")),
            },
            metrics,
            board: raw.board,
            token_file,
            signatures: raw.signatures.and_then(|s| s.path).map(rel),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "ab";

    fn good() -> String {
        format!(
            "[capture]\ninterfaces = [\"eth1\"]\n[gsmtap]\nlisten = \"127.0.0.1:4729\"\n\
             [agent]\nurl = \"https://agent.example:8443\"\ntoken = \"tok-123\"\nfingerprint = \"{}\"\n\
             [spool]\npath = \"spool.db\"\nmax_events = 1000\n[heartbeat]\ninterval_s = 10\n\
             [metrics]\nlisten = \"127.0.0.1:9464\"\n",
            FP.repeat(32)
        )
    }

    #[test]
    fn a_good_config_loads_with_relative_paths_resolved() {
        let c = Config::parse(&good(), Path::new("/etc/duanka")).unwrap();
        assert_eq!(c.interfaces, vec!["eth1"]);
        assert_eq!(c.gsmtap, Some("127.0.0.1:4729".parse().unwrap()));
        assert_eq!(c.spool_path, PathBuf::from("/etc/duanka/spool.db"));
        assert_eq!((c.max_events, c.heartbeat), (1000, Duration::from_secs(10)));
        assert_eq!(c.metrics, Some("127.0.0.1:9464".parse().unwrap()));
        assert!(c.board.is_none());
        assert!(!format!("{c:?}").contains("tok-123"), "the token never shows");
    }

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../../examples/probe.toml");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "tok-example\n").unwrap();
        let c = Config::parse(text, dir.path()).unwrap();
        assert_eq!(c.token, Token::new("tok-example").unwrap());
    }

    #[test]
    fn errors_name_the_key() {
        let base = good();
        let table: Vec<(String, &str)> = vec![
            (base.replace("url = \"https://agent.example:8443\"\n", ""), "agent.url: missing"),
            (base.replace("https://agent.example:8443", "http://agent.example"), "agent.url:"),
            (base.replace("token = \"tok-123\"\n", ""), "agent.token: missing"),
            (base.replace("tok-123", "has space"), "agent.token:"),
            (base.replace(&FP.repeat(32), "zz"), "agent.fingerprint:"),
            (base.replace("max_events = 1000", "max_events = 5"), "spool.max_events:"),
            (base.replace("interval_s = 10", "interval_s = -1"), "heartbeat.interval_s:"),
            (base.replace("127.0.0.1:9464", "nowhere"), "metrics.listen:"),
            (base.replace("127.0.0.1:4729", "localhost"), "gsmtap.listen:"),
            (base.replace("interfaces = [\"eth1\"]", "interfaces = [\"a/b\"]"), "capture.interfaces[0]:"),
            (base.replace("[capture]\n", "[capture]\nbuffer_mib = 0\n"), "capture.buffer_mib: 0 is not"),
            (base.replace("[heartbeat]", "[heartbeat]\nbogus = 1"), "unknown field `bogus`"),
            (
                format!("{base}[board]\ntamper_clears_token = true\n"),
                "board.tamper_clears_token: needs agent.token_file",
            ),
            (base.replace("path = \"spool.db\"\n", ""), "spool.path: missing"),
        ];
        for (text, want) in table {
            let e = Config::parse(&text, Path::new("/")).unwrap_err();
            assert!(e.contains(want), "want {want:?} in {e:?}");
            assert!(!e.contains("tok-123") && !e.contains("has space"), "token leaked: {e}");
        }
        let no_source =
            base.replace("interfaces = [\"eth1\"]", "").replace("[gsmtap]\nlisten = \"127.0.0.1:4729\"\n", "");
        assert!(Config::parse(&no_source, Path::new("/")).unwrap_err().contains("capture.interfaces: no source"));
    }
}
