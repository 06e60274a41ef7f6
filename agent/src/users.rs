//! People's accounts for the review UI, and their browser sessions.
//!
//! Passwords are hashed with argon2id (the `argon2` crate's default
//! parameters, OWASP's minimum: 19 MiB, 2 passes) into a PHC string with a
//! random salt; the plain password is never stored or logged. A disabled
//! account keeps its row (its name stays taken, the audit log keeps pointing
//! at it) and all its sessions end.
//!
//! A session is [`SESSION_TOKEN_BYTES`] random bytes, given to the browser as
//! a cookie; the store keeps only its SHA-256 (like API tokens), beside a
//! per-session CSRF token. When a session expires is decided by the caller
//! (`server::ui::session`), which passes the time in, so tests can move it.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use rand::RngCore as _;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::auth::{check_name, hash_token, AuthError, Role};
use crate::store::ms_to_rfc3339;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in bytes (argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Random bytes in a session cookie and in a CSRF token.
pub const SESSION_TOKEN_BYTES: usize = 32;

/// An account problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// The name is taken (disabled accounts included).
    #[error("a user named {0:?} already exists (names stay taken after an account is disabled)")]
    Duplicate(String),
    /// No such user.
    #[error("no user named {0:?}")]
    Unknown(String),
    /// The name cannot be used.
    #[error(transparent)]
    BadName(#[from] AuthError),
    /// The password is refused.
    #[error("password refused: {0}")]
    WeakPassword(String),
    /// The current password given for a change is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// Hashing failed (never expected with fixed parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The store failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// An account as the UI and the CLI know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// `users.id`.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// An account as `user list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// `users.id`.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Made, RFC 3339.
    pub created_at: String,
    /// Password last set, RFC 3339.
    pub password_changed_at: String,
    /// Disabled, RFC 3339.
    pub disabled_at: Option<String>,
}

/// What a password check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginCheck {
    /// Right password, live account.
    Ok(User),
    /// Wrong password for a live account.
    WrongPassword,
    /// No account of that name.
    Unknown,
    /// The account is disabled (the password was not checked).
    Disabled,
}

/// Checks a new password against the policy.
pub fn check_password_policy(password: &str, name: &str) -> Result<(), UserError> {
    let weak = |why: &str| Err(UserError::WeakPassword(why.to_owned()));
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return weak(&format!("it must have at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return weak(&format!("it must have at most {MAX_PASSWORD_BYTES} bytes"));
    }
    if password.eq_ignore_ascii_case(name) {
        return weak("it must not be the user name");
    }
    if password.chars().any(char::is_control) {
        return weak("it must not contain control characters");
    }
    Ok(())
}

/// An argon2id PHC string for `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (slow on purpose: run it
/// off the async workers and without holding the store).
pub fn password_matches(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Makes an account.
pub fn add_user(conn: &Connection, name: &str, role: Role, password: &str, now: i64) -> Result<User, UserError> {
    check_name(name)?;
    check_password_policy(password, name)?;
    let exists: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)", [name], |r| r.get(0))?;
    if exists {
        return Err(UserError::Duplicate(name.to_owned()));
    }
    let hash = hash_password(password)?;
    conn.execute(
        "INSERT INTO users (name, role, password_hash, created_at, password_changed_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![name, role.as_str(), hash, now],
    )
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => UserError::Duplicate(name.to_owned()),
        _ => e.into(),
    })?;
    Ok(User { id: conn.last_insert_rowid(), name: name.to_owned(), role })
}

/// Every account, oldest first.
pub fn list_users(conn: &Connection) -> Result<Vec<UserInfo>, UserError> {
    let mut stmt =
        conn.prepare("SELECT id, name, role, created_at, password_changed_at, disabled_at FROM users ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(UserInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            role: Role::from_name(&r.get::<_, String>(2)?).unwrap_or(Role::Auditor),
            created_at: ms_to_rfc3339(r.get(3)?),
            password_changed_at: ms_to_rfc3339(r.get(4)?),
            disabled_at: r.get::<_, Option<i64>>(5)?.map(ms_to_rfc3339),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Disables an account and ends its sessions. `Ok(false)` if it was already disabled.
pub fn disable_user(conn: &Connection, name: &str, now: i64) -> Result<bool, UserError> {
    let found: Option<(i64, Option<i64>)> = conn
        .query_row("SELECT id, disabled_at FROM users WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match found {
        None => Err(UserError::Unknown(name.to_owned())),
        Some((_, Some(_))) => Ok(false),
        Some((id, None)) => {
            conn.execute("UPDATE users SET disabled_at = ?2 WHERE id = ?1", params![id, now])?;
            conn.execute(
                "UPDATE sessions SET ended_at = ?2 WHERE user_id = ?1 AND ended_at IS NULL",
                params![id, now],
            )?;
            Ok(true)
        }
    }
}

/// An account's login data: the user, its PHC string, whether it is disabled.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    /// The user.
    pub user: User,
    /// The password hash.
    pub phc: String,
    /// Whether the account is disabled.
    pub disabled: bool,
}

/// The login data of `name`, if there is such an account.
pub fn login_record(conn: &Connection, name: &str) -> Result<Option<LoginRecord>, UserError> {
    Ok(conn
        .query_row("SELECT id, role, password_hash, disabled_at FROM users WHERE name = ?1", [name], |r| {
            Ok(LoginRecord {
                user: User {
                    id: r.get(0)?,
                    name: name.to_owned(),
                    role: Role::from_name(&r.get::<_, String>(1)?).unwrap_or(Role::Auditor),
                },
                phc: r.get(2)?,
                disabled: r.get::<_, Option<i64>>(3)?.is_some(),
            })
        })
        .optional()?)
}

/// Decides a login from its record (slow: argon2). An unknown name still
/// costs one verification, so that timing does not tell which names exist.
pub fn decide_login(record: Option<LoginRecord>, password: &str) -> LoginCheck {
    let Some(r) = record else {
        let _ = password_matches(dummy_hash(), password);
        return LoginCheck::Unknown;
    };
    if r.disabled {
        return LoginCheck::Disabled;
    }
    if !password_matches(&r.phc, password) {
        return LoginCheck::WrongPassword;
    }
    LoginCheck::Ok(r.user)
}

/// Checks a login (both steps at once; the CLI and tests).
pub fn check_login(conn: &Connection, name: &str, password: &str) -> Result<LoginCheck, UserError> {
    Ok(decide_login(login_record(conn, name)?, password))
}

/// A fixed hash to verify against for unknown names.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

/// Changes a user's password after checking the current one; ends the
/// user's other sessions (`keep` is the session hash to keep).
pub fn change_password(
    conn: &Connection,
    user: &User,
    current: &str,
    new: &str,
    keep: &str,
    now: i64,
) -> Result<(), UserError> {
    let phc: String = conn.query_row("SELECT password_hash FROM users WHERE id = ?1", [user.id], |r| r.get(0))?;
    if !password_matches(&phc, current) {
        return Err(UserError::WrongPassword);
    }
    check_password_policy(new, &user.name)?;
    if new == current {
        return Err(UserError::WeakPassword("the new password must differ from the current one".into()));
    }
    conn.execute(
        "UPDATE users SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
        params![user.id, hash_password(new)?, now],
    )?;
    conn.execute(
        "UPDATE sessions SET ended_at = ?3 WHERE user_id = ?1 AND token_hash <> ?2 AND ended_at IS NULL",
        params![user.id, keep, now],
    )?;
    Ok(())
}

/// A new random token (session cookie, CSRF), URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; SESSION_TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new session: (cookie token, CSRF token).
pub fn create_session(conn: &Connection, user_id: i64, now: i64) -> Result<(String, String), UserError> {
    let token = random_token();
    let csrf = random_token();
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![hash_token(&token), user_id, csrf, now],
    )?;
    Ok((token, csrf))
}

/// A stored session with its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// SHA-256 of the cookie.
    pub token_hash: String,
    /// Its user.
    pub user: User,
    /// Whether the user is disabled.
    pub user_disabled: bool,
    /// Its CSRF token.
    pub csrf: String,
    /// Started, Unix ms.
    pub created_at: i64,
    /// Last request, Unix ms.
    pub last_seen_at: i64,
    /// Logged out or expired, Unix ms.
    pub ended_at: Option<i64>,
}

/// The session of a cookie token.
pub fn session_by_token(conn: &Connection, token: &str) -> Result<Option<SessionRow>, UserError> {
    let hash = hash_token(token);
    let row = conn
        .prepare_cached(
            "SELECT s.csrf_token, s.created_at, s.last_seen_at, s.ended_at, u.id, u.name, u.role, u.disabled_at
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
        )?
        .query_row([&hash], |r| {
            Ok(SessionRow {
                token_hash: hash.clone(),
                csrf: r.get(0)?,
                created_at: r.get(1)?,
                last_seen_at: r.get(2)?,
                ended_at: r.get(3)?,
                user: User {
                    id: r.get(4)?,
                    name: r.get(5)?,
                    role: Role::from_name(&r.get::<_, String>(6)?).unwrap_or(Role::Auditor),
                },
                user_disabled: r.get::<_, Option<i64>>(7)?.is_some(),
            })
        })
        .optional()?;
    Ok(row)
}

/// Records a request on a session.
pub fn touch_session(conn: &Connection, token_hash: &str, now: i64) -> Result<(), UserError> {
    conn.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1")?
        .execute(params![token_hash, now])?;
    Ok(())
}

/// Ends a session (logout or expiry).
pub fn end_session(conn: &Connection, token_hash: &str, now: i64) -> Result<(), UserError> {
    conn.execute(
        "UPDATE sessions SET ended_at = ?2 WHERE token_hash = ?1 AND ended_at IS NULL",
        params![token_hash, now],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    const PW: &str = "correct horse battery";

    #[test]
    fn passwords_are_hashed_with_argon2id_and_checked() {
        let store = Store::open_in_memory().unwrap();
        let u = add_user(store.conn(), "alice", Role::Analyst, PW, 1).unwrap();
        let stored: String = store.conn().query_row("SELECT password_hash FROM users", [], |r| r.get(0)).unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains(PW));
        assert_eq!(check_login(store.conn(), "alice", PW).unwrap(), LoginCheck::Ok(u));
        assert_eq!(check_login(store.conn(), "alice", "wrong password!").unwrap(), LoginCheck::WrongPassword);
        assert_eq!(check_login(store.conn(), "bob", PW).unwrap(), LoginCheck::Unknown);
    }

    #[test]
    fn weak_passwords_and_duplicate_names_are_refused() {
        let store = Store::open_in_memory().unwrap();
        assert!(matches!(add_user(store.conn(), "alice", Role::Admin, "short", 1), Err(UserError::WeakPassword(_))));
        assert!(matches!(
            add_user(store.conn(), "alicealice", Role::Admin, "AliceAlice", 1),
            Err(UserError::WeakPassword(_))
        ));
        add_user(store.conn(), "alice", Role::Admin, PW, 1).unwrap();
        assert!(matches!(add_user(store.conn(), "alice", Role::Admin, PW, 1), Err(UserError::Duplicate(_))));
        assert!(matches!(add_user(store.conn(), " bad", Role::Admin, PW, 1), Err(UserError::BadName(_))));
    }

    #[test]
    fn disabling_ends_sessions_and_refuses_logins() {
        let store = Store::open_in_memory().unwrap();
        let u = add_user(store.conn(), "alice", Role::Analyst, PW, 1).unwrap();
        let (token, _) = create_session(store.conn(), u.id, 2).unwrap();
        assert!(disable_user(store.conn(), "alice", 3).unwrap());
        assert!(!disable_user(store.conn(), "alice", 4).unwrap());
        let s = session_by_token(store.conn(), &token).unwrap().unwrap();
        assert_eq!(s.ended_at, Some(3));
        assert!(s.user_disabled);
        assert_eq!(check_login(store.conn(), "alice", PW).unwrap(), LoginCheck::Disabled);
        assert!(matches!(disable_user(store.conn(), "nobody", 5), Err(UserError::Unknown(_))));
    }

    #[test]
    fn password_change_needs_the_current_one_and_ends_other_sessions() {
        let store = Store::open_in_memory().unwrap();
        let u = add_user(store.conn(), "alice", Role::Analyst, PW, 1).unwrap();
        let (mine, _) = create_session(store.conn(), u.id, 2).unwrap();
        let (other, _) = create_session(store.conn(), u.id, 2).unwrap();
        let keep = hash_token(&mine);
        let new = "a much better passphrase";
        assert!(matches!(change_password(store.conn(), &u, "nope", new, &keep, 3), Err(UserError::WrongPassword)));
        change_password(store.conn(), &u, PW, new, &keep, 3).unwrap();
        assert!(matches!(check_login(store.conn(), "alice", new).unwrap(), LoginCheck::Ok(_)));
        assert_eq!(session_by_token(store.conn(), &mine).unwrap().unwrap().ended_at, None);
        assert_eq!(session_by_token(store.conn(), &other).unwrap().unwrap().ended_at, Some(3));
    }

    #[test]
    fn only_the_session_hash_is_stored() {
        let store = Store::open_in_memory().unwrap();
        let u = add_user(store.conn(), "alice", Role::Analyst, PW, 1).unwrap();
        let (token, csrf) = create_session(store.conn(), u.id, 2).unwrap();
        assert_ne!(token, csrf);
        let stored: String = store.conn().query_row("SELECT token_hash FROM sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, hash_token(&token));
        assert!(session_by_token(store.conn(), "not-a-session").unwrap().is_none());
    }
}
