//! The signature database: fingerprints of gateway firmware on SIP and SDP
//! (SPEC section 3.1), kept in a TOML data file so users can extend it
//! without recompiling. `signatures/default.toml` is built in; `--signatures
//! FILE` replaces it.
//!
//! Every field a signature looks at describes the sender of the message, so
//! a match is evidence about the message's source address.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

use super::features::{Feature, FeatureRepr, Numbering, NumberingRepr};
use crate::dissect::{sdp, sip};

/// The database compiled into the binary.
pub const DEFAULT_TOML: &str = include_str!("../../signatures/default.toml");

/// Longest observed value kept in evidence, in characters.
pub const MAX_OBSERVED_CHARS: usize = 160;

/// Largest compiled size of one pattern (guards against pathological input).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Why a signature file was refused.
#[derive(Debug)]
pub struct Error {
    /// Where the database came from (a path or "built-in").
    pub source: String,
    /// What is wrong, naming the signature or key.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

impl std::error::Error for Error {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    version: String,
    verdict: Thresholds,
    #[serde(default, rename = "signature")]
    signatures: Vec<SignatureRepr>,
    behaviour: Option<NumberingRepr>,
    #[serde(default, rename = "feature")]
    features: Vec<FeatureRepr>,
    #[serde(default, rename = "modem_tac")]
    modem_tacs: Vec<ModemTac>,
}

/// A Type Allocation Code (the first 8 digits of an IMEI) of a cellular
/// modem module: such devices are found in SIM boxes, not in people's pockets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemTac {
    /// 8 digits.
    pub tac: String,
    /// The module's maker.
    pub vendor: String,
    /// The module.
    pub model: String,
}

/// Score thresholds for the verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Score at or above which an address is a SIM box.
    pub simbox: f64,
    /// Score at or above which an address is suspect.
    pub suspect: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureRepr {
    id: String,
    vendor: Option<String>,
    group: Option<String>,
    weight: f64,
    field: String,
    description: String,
    pattern: Option<String>,
    name: Option<String>,
    methods: Option<Vec<String>>,
    values: Option<Vec<u32>>,
}

/// What part of a message a signature inspects, and how.
#[derive(Debug, Clone)]
pub enum Rule {
    /// Pattern on User-Agent or Server.
    UserAgent(Regex),
    /// Pattern on the SDP o= value.
    SdpOrigin(Regex),
    /// Pattern on the SDP s= value.
    SdpSession(Regex),
    /// Pattern on each m= line's transport protocol.
    SdpMediaProto(Regex),
    /// Pattern on the first audio stream's codec names joined by ",".
    CodecOrder(Regex),
    /// Pattern on "CODE reason" of a response.
    Response(Regex),
    /// A header by name, with an optional pattern on its value.
    Header(String, Option<Regex>),
    /// Pattern on the top Via branch of a request.
    ViaBranch(Regex),
    /// Pattern on the raw Content-Length value.
    ContentLength(Regex),
    /// The exact set of methods in Allow (upper-case).
    Allow(Vec<String>),
    /// Pattern on a challenge's realm.
    AuthRealm(Regex),
    /// REGISTER expiry values.
    RegisterExpires(Vec<u32>),
}

/// One fingerprint.
#[derive(Debug, Clone)]
pub struct Signature {
    /// Stable id, e.g. `dbl.user_agent.dble`.
    pub id: String,
    /// The vendor it points at.
    pub vendor: Option<String>,
    /// Signatures of one group count once (the strongest).
    pub group: String,
    /// Log-odds weight.
    pub weight: f64,
    /// What it means, for analysts.
    pub description: String,
    /// The field name as written in the file.
    pub field: String,
    /// The rule as written (pattern, header name, set or values), for evidence.
    pub rule_text: String,
    /// The compiled rule.
    pub rule: Rule,
}

/// A loaded, compiled database.
#[derive(Debug, Clone)]
pub struct SignatureDb {
    /// Database version, reported with every result.
    pub version: String,
    /// Verdict thresholds.
    pub thresholds: Thresholds,
    /// The signatures in file order.
    pub signatures: Vec<Signature>,
    /// How numbers and peers are classified for behaviour features.
    pub numbering: Numbering,
    /// The behaviour features in file order.
    pub features: Vec<Feature>,
    /// Modem-module TACs by TAC.
    pub modem_tacs: HashMap<String, ModemTac>,
}

impl SignatureDb {
    /// The built-in database.
    pub fn builtin() -> SignatureDb {
        // The built-in file is tested to load; failing here is a build defect.
        Self::from_toml(DEFAULT_TOML, "built-in signatures").expect("built-in signature database is valid")
    }

    /// Load a database file.
    pub fn load(path: &Path) -> Result<SignatureDb, Error> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error { source: source.clone(), message: format!("cannot read: {e}") })?;
        Self::from_toml(&text, &source)
    }

    /// Parse and compile a database from TOML text; `source` names it in errors.
    pub fn from_toml(text: &str, source: &str) -> Result<SignatureDb, Error> {
        let err = |message: String| Error { source: source.to_string(), message };
        let repr: FileRepr = toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        let t = repr.verdict;
        if !(t.suspect.is_finite() && t.simbox.is_finite() && t.suspect > 0.0 && t.suspect <= t.simbox) {
            return Err(err(format!(
                "[verdict]: need 0 < suspect <= simbox, got suspect = {}, simbox = {}",
                t.suspect, t.simbox
            )));
        }
        let mut ids = HashSet::new();
        let mut signatures = Vec::with_capacity(repr.signatures.len());
        for (i, s) in repr.signatures.into_iter().enumerate() {
            let at = format!("signature #{} (id = {:?})", i + 1, s.id);
            if s.id.trim().is_empty() {
                return Err(err(format!("signature #{}: empty id", i + 1)));
            }
            if !ids.insert(s.id.clone()) {
                return Err(err(format!("{at}: duplicate id")));
            }
            if !s.weight.is_finite() {
                return Err(err(format!("{at}: weight must be a finite number")));
            }
            let (rule, rule_text) = compile_rule(&s).map_err(|m| err(format!("{at}: {m}")))?;
            signatures.push(Signature {
                group: s.group.clone().unwrap_or_else(|| s.id.clone()),
                id: s.id,
                vendor: s.vendor,
                weight: s.weight,
                description: s.description,
                field: s.field,
                rule_text,
                rule,
            });
        }
        let numbering = match repr.behaviour {
            Some(b) => b.compile().map_err(err)?,
            None => Numbering::default(),
        };
        let mut features = Vec::with_capacity(repr.features.len());
        for f in repr.features {
            let f = f.compile().map_err(err)?;
            if !ids.insert(f.kind.id().to_string()) {
                return Err(err(format!("feature {:?}: duplicate id", f.kind.id())));
            }
            features.push(f);
        }
        let mut modem_tacs = HashMap::new();
        for (i, m) in repr.modem_tacs.into_iter().enumerate() {
            if m.tac.len() != 8 || !m.tac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(format!("modem_tac #{}: tac must be 8 digits, got {:?}", i + 1, m.tac)));
            }
            if modem_tacs.insert(m.tac.clone(), m).is_some() {
                return Err(err(format!("modem_tac #{}: duplicate tac", i + 1)));
            }
        }
        Ok(SignatureDb { version: repr.version, thresholds: t, signatures, numbering, features, modem_tacs })
    }

    /// Run every signature over one message from its sender; `hit` gets the
    /// signature index and the observed value for each match.
    pub fn scan(&self, msg: &sip::Message<'_>, sdp: Option<&sdp::Session<'_>>, mut hit: impl FnMut(usize, &[u8])) {
        let mut codecs: Option<Vec<u8>> = None;
        for (i, sig) in self.signatures.iter().enumerate() {
            match &sig.rule {
                Rule::UserAgent(re) => {
                    for v in [msg.user_agent(), msg.server()].into_iter().flatten() {
                        if re.is_match(v) {
                            hit(i, v);
                        }
                    }
                }
                Rule::SdpOrigin(re) => {
                    if let Some(v) = sdp.and_then(|s| s.origin_raw).filter(|v| re.is_match(v)) {
                        hit(i, v);
                    }
                }
                Rule::SdpSession(re) => {
                    if let Some(v) = sdp.and_then(|s| s.session_name).filter(|v| re.is_match(v)) {
                        hit(i, v);
                    }
                }
                Rule::SdpMediaProto(re) => {
                    if let Some(m) = sdp.and_then(|s| s.media.iter().find(|m| re.is_match(m.proto))) {
                        hit(i, m.proto);
                    }
                }
                Rule::CodecOrder(re) => {
                    let joined = codecs.get_or_insert_with(|| sdp.map(codec_list).unwrap_or_default());
                    if !joined.is_empty() && re.is_match(joined) {
                        hit(i, joined);
                    }
                }
                Rule::Response(re) => {
                    if let sip::StartLine::Response { code, reason } = &msg.start {
                        let mut line = code.to_string().into_bytes();
                        line.push(b' ');
                        line.extend_from_slice(reason);
                        if re.is_match(&line) {
                            hit(i, &line);
                        }
                    }
                }
                Rule::Header(name, re) => {
                    if let Some(h) =
                        msg.headers_named(name.as_bytes()).find(|h| re.as_ref().is_none_or(|re| re.is_match(h.value)))
                    {
                        hit(i, h.value);
                    }
                }
                Rule::ViaBranch(re) => {
                    if msg.is_request() {
                        if let Some(b) = msg.vias().next().and_then(|v| v.branch).filter(|b| re.is_match(b)) {
                            hit(i, b);
                        }
                    }
                }
                Rule::ContentLength(re) => {
                    if let Some(h) = msg.header(sip::HeaderName::ContentLength).filter(|h| re.is_match(h.raw_value)) {
                        hit(i, h.raw_value);
                    }
                }
                Rule::Allow(set) => {
                    if msg.header(sip::HeaderName::Allow).is_some() && allow_matches(msg, set) {
                        let joined: Vec<&[u8]> = msg.allow().collect();
                        hit(i, &joined.join(&b", "[..]));
                    }
                }
                Rule::AuthRealm(re) => {
                    if let Some(r) = msg.auth_realm().filter(|r| re.is_match(r)) {
                        hit(i, r);
                    }
                }
                Rule::RegisterExpires(values) => {
                    if matches!(msg.method(), Some(sip::Method::Register)) {
                        let asked = msg.contacts().find_map(|c| match c {
                            sip::Contact::Addr { expires, .. } => expires,
                            _ => None,
                        });
                        if let Some(e) = asked.or_else(|| msg.expires()).filter(|e| *e > 0 && values.contains(e)) {
                            hit(i, e.to_string().as_bytes());
                        }
                    }
                }
            }
        }
    }
}

fn allow_matches(msg: &sip::Message<'_>, set: &[String]) -> bool {
    let mut seen: Vec<String> = msg.allow().map(|m| String::from_utf8_lossy(m).trim().to_ascii_uppercase()).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len() == set.len() && set.iter().all(|m| seen.binary_search(m).is_ok())
}

/// The first audio stream's codecs in offer order, joined by ",".
fn codec_list(s: &sdp::Session<'_>) -> Vec<u8> {
    let Some(audio) = s.media.iter().find(|m| m.kind.eq_ignore_ascii_case(b"audio")) else {
        return Vec::new();
    };
    let names: Vec<&[u8]> = audio.codec_names().collect();
    names.join(&b","[..])
}

fn compile_rule(s: &SignatureRepr) -> Result<(Rule, String), String> {
    let pattern = || -> Result<(Regex, String), String> {
        let p = s.pattern.as_deref().ok_or_else(|| format!("field = {:?} needs `pattern`", s.field))?;
        let re =
            RegexBuilder::new(p).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| format!("bad pattern {p:?}: {e}"))?;
        Ok((re, p.to_string()))
    };
    let unexpected = |key: &str, present: bool| {
        if present {
            Err(format!("field = {:?} does not take `{key}`", s.field))
        } else {
            Ok(())
        }
    };
    let regex_rule = |make: fn(Regex) -> Rule| -> Result<(Rule, String), String> {
        unexpected("name", s.name.is_some())?;
        unexpected("methods", s.methods.is_some())?;
        unexpected("values", s.values.is_some())?;
        let (re, text) = pattern()?;
        Ok((make(re), text))
    };
    match s.field.as_str() {
        "user_agent" => regex_rule(Rule::UserAgent),
        "sdp_origin" => regex_rule(Rule::SdpOrigin),
        "sdp_session" => regex_rule(Rule::SdpSession),
        "sdp_media_proto" => regex_rule(Rule::SdpMediaProto),
        "codec_order" => regex_rule(Rule::CodecOrder),
        "response" => regex_rule(Rule::Response),
        "via_branch" => regex_rule(Rule::ViaBranch),
        "content_length" => regex_rule(Rule::ContentLength),
        "auth_realm" => regex_rule(Rule::AuthRealm),
        "header" => {
            let name = s.name.clone().filter(|n| !n.trim().is_empty()).ok_or("field = \"header\" needs `name`")?;
            unexpected("methods", s.methods.is_some())?;
            unexpected("values", s.values.is_some())?;
            let re = if s.pattern.is_some() { Some(pattern()?) } else { None };
            let text = match &re {
                Some((_, p)) => format!("{name}: {p}"),
                None => format!("{name} present"),
            };
            Ok((Rule::Header(name, re.map(|(r, _)| r)), text))
        }
        "allow" => {
            let methods = s.methods.clone().filter(|m| !m.is_empty()).ok_or("field = \"allow\" needs a non-empty `methods` list")?;
            unexpected("pattern", s.pattern.is_some())?;
            let mut set: Vec<String> = methods.iter().map(|m| m.trim().to_ascii_uppercase()).collect();
            set.sort_unstable();
            set.dedup();
            Ok((Rule::Allow(set), format!("Allow = {}", methods.join(", "))))
        }
        "register_expires" => {
            let values = s.values.clone().filter(|v| !v.is_empty()).ok_or("field = \"register_expires\" needs a non-empty `values` list")?;
            unexpected("pattern", s.pattern.is_some())?;
            let text = format!("expires in {values:?}");
            Ok((Rule::RegisterExpires(values), text))
        }
        other => Err(format!(
            "unknown field {other:?}; known: user_agent, sdp_origin, sdp_session, sdp_media_proto, codec_order, response, header, via_branch, content_length, allow, auth_realm, register_expires"
        )),
    }
}

/// Render observed bytes for evidence: lossy UTF-8, control characters
/// escaped, cut to [`MAX_OBSERVED_CHARS`].
pub fn observed_text(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let mut out = String::with_capacity(s.len().min(MAX_OBSERVED_CHARS + 1));
    for (n, c) in s.chars().enumerate() {
        if n == MAX_OBSERVED_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_database_loads() {
        let db = SignatureDb::builtin();
        assert!(db.signatures.len() >= 15);
        assert!(db.thresholds.suspect < db.thresholds.simbox);
        assert!(
            db.signatures.iter().any(|s| s.id == "libosip2.sdp_origin.userx" && s.weight < 1.0),
            "the libosip2 template is weak alone"
        );
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let base = "version = \"t\"\n[verdict]\nsimbox = 5.0\nsuspect = 2.0\n";
        let cases = [
            ("[[signature]]\nid = \"a\"\nweight = 1.0\nfield = \"user_agent\"\ndescription = \"d\"\n", "needs `pattern`"),
            ("[[signature]]\nid = \"a\"\nweight = 1.0\nfield = \"user_agent\"\npattern = \"(\"\ndescription = \"d\"\n", "bad pattern"),
            ("[[signature]]\nid = \"a\"\nweight = 1.0\nfield = \"nope\"\npattern = \"x\"\ndescription = \"d\"\n", "unknown field \"nope\""),
            ("[[signature]]\nid = \"a\"\nweight = 1.0\nfield = \"allow\"\ndescription = \"d\"\n", "needs a non-empty `methods`"),
            ("[[signature]]\nid = \"a\"\nweight = 1.0\nfield = \"header\"\ndescription = \"d\"\nvalues = [1]\nname = \"X\"\n", "does not take `values`"),
            ("[[signature]]\nid = \"a\"\nweight = 1.0\nfield = \"user_agent\"\npattern = \"x\"\ndescription = \"d\"\ncolour = 1\n", "unknown field `colour`"),
            ("[[modem_tac]]\ntac = \"8619040\"\nvendor = \"v\"\nmodel = \"m\"\n", "tac must be 8 digits"),
            ("[[modem_tac]]\ntac = \"8619040x\"\nvendor = \"v\"\nmodel = \"m\"\n", "tac must be 8 digits"),
            ("[[modem_tac]]\ntac = \"86190402\"\nvendor = \"v\"\nmodel = \"m\"\n[[modem_tac]]\ntac = \"86190402\"\nvendor = \"v\"\nmodel = \"m\"\n", "duplicate tac"),
        ];
        for (sig, want) in cases {
            let e = SignatureDb::from_toml(&format!("{base}{sig}"), "test.toml").unwrap_err();
            assert!(e.to_string().contains(want), "{e} should mention {want}");
            assert!(e.to_string().starts_with("test.toml: "), "{e}");
        }
        let dup = format!("{base}[[signature]]\nid = \"a\"\nweight = 1.0\nfield = \"user_agent\"\npattern = \"x\"\ndescription = \"d\"\n").repeat(1);
        let dup = format!("{dup}[[signature]]\nid = \"a\"\nweight = 1.0\nfield = \"user_agent\"\npattern = \"y\"\ndescription = \"d\"\n");
        assert!(SignatureDb::from_toml(&dup, "t").unwrap_err().to_string().contains("duplicate id"));
        let tacs = format!("{base}[[modem_tac]]\ntac = \"86190402\"\nvendor = \"Quectel\"\nmodel = \"EC25\"\n");
        assert_eq!(SignatureDb::from_toml(&tacs, "t").unwrap().modem_tacs["86190402"].model, "EC25");
        let inverted = "version = \"t\"\n[verdict]\nsimbox = 1.0\nsuspect = 2.0\n";
        assert!(SignatureDb::from_toml(inverted, "t").unwrap_err().to_string().contains("suspect <= simbox"));
    }

    #[test]
    fn observed_text_is_bounded_and_escaped() {
        assert_eq!(observed_text(b"dble"), "dble");
        assert_eq!(observed_text(b"a\x00b"), "a\\u{0}b");
        assert_eq!(observed_text(&[b'x'; 500]).chars().count(), MAX_OBSERVED_CHARS + 1);
    }
}
