//! Probe enrolment and operator tokens: making, listing, revoking and
//! checking them (SPEC 4.2 "Probe enrolment", "Security").
//!
//! A token is [`TOKEN_BYTES`] random bytes from the operating system, written
//! as URL-safe base64 without padding behind a prefix that tells the kinds
//! apart: [`PROBE_TOKEN_PREFIX`] for a probe, [`OPERATOR_TOKEN_PREFIX`] for an
//! operator. It is shown once, when made; the store keeps only its SHA-256 in
//! hex ([`hash_token`]) and finds the token's owner by that hash. Revoking
//! keeps the row (its name stays taken, its events stay attributed) and sets
//! `revoked_at`; a revoked token is told apart from an unknown one so that
//! the agent can answer 403 rather than 401.
//!
//! No HTTP here: `server::auth` turns these look-ups into extractors.

use base64::Engine as _;
use rand::RngCore as _;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::{now_ms, StoreError};

/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 32;
/// What every probe token starts with.
pub const PROBE_TOKEN_PREFIX: &str = "dkp_";
/// What every operator token starts with.
pub const OPERATOR_TOKEN_PREFIX: &str = "dko_";
/// Longest probe or token name, in characters.
pub const MAX_NAME_LEN: usize = 64;

/// An authentication or enrolment problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A probe with this name is already enrolled (revoked ones included).
    #[error("a probe named {0:?} already exists (names stay taken after revocation; choose another)")]
    DuplicateProbe(String),
    /// No probe has this name.
    #[error("no probe named {0:?}")]
    UnknownProbe(String),
    /// No operator token has this id.
    #[error("no operator token with id {0}")]
    UnknownToken(i64),
    /// A name that cannot be used.
    #[error("bad name {name:?}: {reason}")]
    BadName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for AuthError {
    fn from(e: rusqlite::Error) -> Self {
        AuthError::Store(StoreError::Sqlite(e))
    }
}

/// An operator's role: what the API lets the holder of a token do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Reviews cases; sees owners' identities.
    Analyst,
    /// Manages probes and imports; never sees personal data.
    Engineer,
    /// Reads the audit log; nothing else.
    Auditor,
}

impl Role {
    /// The lowercase name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Engineer => "engineer",
            Role::Auditor => "auditor",
        }
    }

    /// Every role, in the order menus show them.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Analyst, Role::Engineer, Role::Auditor];

    /// Whether this role may see people's identities (owners' id numbers and
    /// names unmasked, exports that name people).
    pub fn may_reveal(self) -> bool {
        matches!(self, Role::Admin | Role::Analyst)
    }

    /// The role with this stored name.
    pub fn from_name(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "analyst" => Some(Role::Analyst),
            "engineer" => Some(Role::Engineer),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A freshly made token: the only time its secret is known.
pub struct NewToken {
    /// The row id (probe id or operator token id).
    pub id: i64,
    /// The secret to hand over.
    pub token: String,
}

impl std::fmt::Debug for NewToken {
    // The secret never reaches a log through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken").field("id", &self.id).field("token", &"<secret>").finish()
    }
}

/// What a token check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck<T> {
    /// A live token of this owner.
    Valid(T),
    /// A token of this owner, revoked at this time (Unix ms).
    Revoked(T, i64),
    /// No such token.
    Unknown,
}

/// A probe as its token identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeIdentity {
    /// `probes.id`.
    pub id: i64,
    /// Its unique name.
    pub name: String,
}

/// An operator as its token identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorIdentity {
    /// `api_tokens.id`.
    pub id: i64,
    /// The token's label.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

/// A probe as `probe list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeInfo {
    /// `probes.id`.
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// Enrolment time, RFC 3339.
    pub created_at: String,
    /// Revocation time, RFC 3339, if revoked.
    pub revoked_at: Option<String>,
    /// Last accepted report, RFC 3339.
    pub last_seen_at: Option<String>,
    /// The latest heartbeat as stored (`{"at", "at_ms", "heartbeat": {…}}`).
    pub heartbeat: Option<serde_json::Value>,
}

/// An operator token as `token list` shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenInfo {
    /// `api_tokens.id`, what `token revoke` takes.
    pub id: i64,
    /// Its label.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Revocation time, RFC 3339, if revoked.
    pub revoked_at: Option<String>,
}

/// What a revocation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Revoked now.
    Revoked,
    /// Already revoked at this time (Unix ms); nothing changed.
    AlreadySince(i64),
}

/// A new random token with `prefix`.
pub fn generate_token(prefix: &str) -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of the whole token text, lowercase hex: what the store keeps.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Checks a probe or token name: 1 to [`MAX_NAME_LEN`] characters, no control
/// characters, no surrounding spaces.
pub fn check_name(name: &str) -> Result<(), AuthError> {
    let bad = |reason| Err(AuthError::BadName { name: name.to_owned(), reason });
    if name.is_empty() {
        return bad("empty");
    }
    if name.chars().count() > MAX_NAME_LEN {
        return bad("longer than 64 characters");
    }
    if name.chars().any(char::is_control) {
        return bad("contains control characters");
    }
    if name.trim() != name {
        return bad("starts or ends with spaces");
    }
    Ok(())
}

/// Enrols a probe: stores the hash of a new token and returns the token.
pub fn enrol_probe(conn: &Connection, name: &str) -> Result<NewToken, AuthError> {
    check_name(name)?;
    let exists: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM probes WHERE name = ?1)", [name], |r| r.get(0))?;
    if exists {
        return Err(AuthError::DuplicateProbe(name.to_owned()));
    }
    let token = generate_token(PROBE_TOKEN_PREFIX);
    conn.execute(
        "INSERT INTO probes (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
        params![name, hash_token(&token), now_ms()],
    )
    .map_err(|e| match e.sqlite_error_code() {
        // Another enrolment of the same name won the race.
        Some(rusqlite::ErrorCode::ConstraintViolation) => AuthError::DuplicateProbe(name.to_owned()),
        _ => e.into(),
    })?;
    Ok(NewToken { id: conn.last_insert_rowid(), token })
}

/// Every probe, oldest first.
pub fn list_probes(conn: &Connection) -> Result<Vec<ProbeInfo>, AuthError> {
    let mut stmt =
        conn.prepare("SELECT id, name, created_at, revoked_at, last_seen_at, heartbeat_json FROM probes ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        let heartbeat: Option<String> = r.get(5)?;
        Ok(ProbeInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: crate::store::ms_to_rfc3339(r.get(2)?),
            revoked_at: r.get::<_, Option<i64>>(3)?.map(crate::store::ms_to_rfc3339),
            last_seen_at: r.get::<_, Option<i64>>(4)?.map(crate::store::ms_to_rfc3339),
            heartbeat: heartbeat.and_then(|h| serde_json::from_str(&h).ok()),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes a probe by name; its reports are refused from then on.
pub fn revoke_probe(conn: &Connection, name: &str) -> Result<Revocation, AuthError> {
    let found: Option<Option<i64>> =
        conn.query_row("SELECT revoked_at FROM probes WHERE name = ?1", [name], |r| r.get(0)).optional()?;
    match found {
        None => Err(AuthError::UnknownProbe(name.to_owned())),
        Some(Some(at)) => Ok(Revocation::AlreadySince(at)),
        Some(None) => {
            conn.execute("UPDATE probes SET revoked_at = ?1 WHERE name = ?2", params![now_ms(), name])?;
            Ok(Revocation::Revoked)
        }
    }
}

/// Makes an operator token with `role`, labelled `name`.
pub fn add_operator(conn: &Connection, name: &str, role: Role) -> Result<NewToken, AuthError> {
    check_name(name)?;
    let token = generate_token(OPERATOR_TOKEN_PREFIX);
    conn.execute(
        "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, role.as_str(), hash_token(&token), now_ms()],
    )?;
    Ok(NewToken { id: conn.last_insert_rowid(), token })
}

/// Every operator token, oldest first.
pub fn list_operators(conn: &Connection) -> Result<Vec<TokenInfo>, AuthError> {
    let mut stmt = conn.prepare("SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        let role: String = r.get(2)?;
        Ok(TokenInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            // The table's CHECK constraint admits only the role names.
            role: Role::from_name(&role).unwrap_or(Role::Engineer),
            created_at: crate::store::ms_to_rfc3339(r.get(3)?),
            revoked_at: r.get::<_, Option<i64>>(4)?.map(crate::store::ms_to_rfc3339),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes an operator token by id.
pub fn revoke_operator(conn: &Connection, id: i64) -> Result<Revocation, AuthError> {
    let found: Option<Option<i64>> =
        conn.query_row("SELECT revoked_at FROM api_tokens WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    match found {
        None => Err(AuthError::UnknownToken(id)),
        Some(Some(at)) => Ok(Revocation::AlreadySince(at)),
        Some(None) => {
            conn.execute("UPDATE api_tokens SET revoked_at = ?1 WHERE id = ?2", params![now_ms(), id])?;
            Ok(Revocation::Revoked)
        }
    }
}

/// The probe holding `token`.
pub fn probe_by_token(conn: &Connection, token: &str) -> Result<TokenCheck<ProbeIdentity>, AuthError> {
    let row: Option<(i64, String, Option<i64>)> = conn
        .prepare_cached("SELECT id, name, revoked_at FROM probes WHERE token_hash = ?1")?
        .query_row([hash_token(token)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(match row {
        None => TokenCheck::Unknown,
        Some((id, name, None)) => TokenCheck::Valid(ProbeIdentity { id, name }),
        Some((id, name, Some(at))) => TokenCheck::Revoked(ProbeIdentity { id, name }, at),
    })
}

/// The operator holding `token`.
pub fn operator_by_token(conn: &Connection, token: &str) -> Result<TokenCheck<OperatorIdentity>, AuthError> {
    let row: Option<(i64, String, String, Option<i64>)> = conn
        .prepare_cached("SELECT id, name, role, revoked_at FROM api_tokens WHERE token_hash = ?1")?
        .query_row([hash_token(token)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    Ok(match row {
        None => TokenCheck::Unknown,
        Some((id, name, role, revoked)) => {
            let identity = OperatorIdentity { id, name, role: Role::from_name(&role).unwrap_or(Role::Engineer) };
            match revoked {
                None => TokenCheck::Valid(identity),
                Some(at) => TokenCheck::Revoked(identity, at),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn tokens_are_prefixed_random_and_url_safe() {
        let a = generate_token(PROBE_TOKEN_PREFIX);
        let b = generate_token(PROBE_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("dkp_"));
        // 32 bytes in unpadded base64 are 43 characters.
        assert_eq!(a.len(), 4 + 43);
        assert!(a[4..].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{a}");
    }

    #[test]
    fn only_the_hash_is_stored_and_it_finds_the_probe() {
        let store = Store::open_in_memory().unwrap();
        let new = enrol_probe(store.conn(), "site-1").unwrap();
        let stored: String = store.conn().query_row("SELECT token_hash FROM probes", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, hash_token(&new.token));
        assert_eq!(stored.len(), 64);
        assert!(!stored.contains(&new.token));
        assert_eq!(
            probe_by_token(store.conn(), &new.token).unwrap(),
            TokenCheck::Valid(ProbeIdentity { id: new.id, name: "site-1".into() })
        );
        assert_eq!(probe_by_token(store.conn(), "dkp_nope").unwrap(), TokenCheck::Unknown);
    }

    #[test]
    fn duplicate_probe_names_are_refused() {
        let store = Store::open_in_memory().unwrap();
        enrol_probe(store.conn(), "site-1").unwrap();
        let err = enrol_probe(store.conn(), "site-1").unwrap_err();
        assert!(matches!(err, AuthError::DuplicateProbe(_)), "{err}");
        assert!(err.to_string().contains("already exists"), "{err}");
    }

    #[test]
    fn bad_names_are_refused() {
        let store = Store::open_in_memory().unwrap();
        for name in ["", " padded", "tab\there", &"x".repeat(65)] {
            assert!(matches!(enrol_probe(store.conn(), name), Err(AuthError::BadName { .. })), "{name:?}");
        }
        assert!(enrol_probe(store.conn(), &"x".repeat(64)).is_ok());
    }

    #[test]
    fn revoked_probe_is_told_apart_from_unknown() {
        let store = Store::open_in_memory().unwrap();
        let new = enrol_probe(store.conn(), "site-1").unwrap();
        assert_eq!(revoke_probe(store.conn(), "site-1").unwrap(), Revocation::Revoked);
        assert!(matches!(revoke_probe(store.conn(), "site-1").unwrap(), Revocation::AlreadySince(_)));
        assert!(matches!(probe_by_token(store.conn(), &new.token).unwrap(), TokenCheck::Revoked(..)));
        assert!(matches!(revoke_probe(store.conn(), "nobody"), Err(AuthError::UnknownProbe(_))));
    }

    #[test]
    fn operator_tokens_carry_their_role_and_revoke_by_id() {
        let store = Store::open_in_memory().unwrap();
        let new = add_operator(store.conn(), "alice", Role::Analyst).unwrap();
        assert!(new.token.starts_with(OPERATOR_TOKEN_PREFIX));
        match operator_by_token(store.conn(), &new.token).unwrap() {
            TokenCheck::Valid(op) => assert_eq!((op.name.as_str(), op.role), ("alice", Role::Analyst)),
            other => panic!("{other:?}"),
        }
        // A probe token is not an operator token, even with the same bytes.
        assert_eq!(probe_by_token(store.conn(), &new.token).unwrap(), TokenCheck::Unknown);
        assert_eq!(revoke_operator(store.conn(), new.id).unwrap(), Revocation::Revoked);
        assert!(matches!(operator_by_token(store.conn(), &new.token).unwrap(), TokenCheck::Revoked(..)));
        assert!(matches!(revoke_operator(store.conn(), 999), Err(AuthError::UnknownToken(999))));
        let list = list_operators(store.conn()).unwrap();
        assert_eq!(list.len(), 1);
        assert!(list[0].revoked_at.is_some());
    }

    #[test]
    fn new_token_debug_hides_the_secret() {
        let t = NewToken { id: 1, token: "dkp_secret".into() };
        assert!(!format!("{t:?}").contains("dkp_secret"));
    }
}
