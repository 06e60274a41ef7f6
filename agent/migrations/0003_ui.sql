-- The review UI: people's accounts and sessions, the `auditor` role, the
-- tamper-evident audit log, and the indexes the case list needs at 100,000 cases.

-- Operator tokens gain the `auditor` role. SQLite cannot change a CHECK
-- constraint in place, so the table is rebuilt (nothing references it).
CREATE TABLE api_tokens_new (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'analyst', 'engineer', 'auditor')),
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
INSERT INTO api_tokens_new (id, name, role, token_hash, created_at, revoked_at)
    SELECT id, name, role, token_hash, created_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;

-- People who log in to the UI. `password_hash` is an argon2id PHC string.
CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    role                 TEXT    NOT NULL CHECK (role IN ('admin', 'analyst', 'engineer', 'auditor')),
    password_hash        TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    password_changed_at  INTEGER NOT NULL,
    disabled_at          INTEGER
);

-- Logged-in browsers. Only the SHA-256 of the session cookie is kept; the
-- CSRF token is per session and compared in constant time.
CREATE TABLE sessions (
    token_hash    TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    csrf_token    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    ended_at      INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Append-only audit log, hash-chained: `hash` is the SHA-256 of the record's
-- canonical bytes, which include `prev_hash` (see agent/src/audit.rs).
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- The case list sorts by severity rank then last change (the default), or by
-- last change, or by opening time, with optional state and severity filters.
-- The rank expression must match cases::view::SEVERITY_RANK exactly.
CREATE INDEX cases_rank_updated ON cases (
    (CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END), updated_at DESC, id);
CREATE INDEX cases_updated ON cases (updated_at, id);
CREATE INDEX cases_created ON cases (created_at, id);
CREATE INDEX cases_state_updated ON cases (state, updated_at, id);
CREATE INDEX cases_severity_updated ON cases (severity, updated_at, id);

-- Dashboard: gateways by day of first detection.
CREATE INDEX gateways_detected ON gateways (detected_at);
