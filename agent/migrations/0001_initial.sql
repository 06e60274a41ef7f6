-- The agent's store, first version. Forward-only: later changes are new files.
--
-- Conventions:
--   * every `*_at` column is INTEGER Unix time in milliseconds, UTC;
--   * identities (IMSI, IMEI, ICCID, MSISDN) are TEXT digits;
--   * `*_json` columns hold JSON written by the agent (serde_json).

-- Probes and their enrolment tokens (only the SHA-256 of a token is kept).
CREATE TABLE probes (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    token_hash      TEXT    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    last_seen_at    INTEGER,
    heartbeat_json  TEXT
);

-- Operator tokens for the API and CLI (until user accounts arrive).
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'analyst', 'engineer')),
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- Every accepted event, keyed by the id its probe gave it: a resent batch
-- inserts nothing new.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    probe_id     INTEGER NOT NULL REFERENCES probes(id),
    event_id     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    occurred_at  INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    body_json    TEXT    NOT NULL,
    UNIQUE (probe_id, event_id)
);

-- Gateways as probes report them; the latest detection wins.
CREATE TABLE gateways (
    id             INTEGER PRIMARY KEY,
    probe_id       INTEGER NOT NULL REFERENCES probes(id),
    address        TEXT    NOT NULL,
    verdict        TEXT    NOT NULL CHECK (verdict IN ('clean', 'suspect', 'simbox')),
    score          REAL    NOT NULL,
    vendor         TEXT,
    first_seen_at  INTEGER,
    last_seen_at   INTEGER,
    detected_at    INTEGER,
    report_json    TEXT    NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (probe_id, address)
);

-- Gateway ↔ identity links: from the GoIP control plane, from SIP↔GSM call
-- matching at the probe, or from SIP↔CDR call matching at the agent.
CREATE TABLE gateway_links (
    gateway_id     INTEGER NOT NULL REFERENCES gateways(id),
    kind           TEXT    NOT NULL CHECK (kind IN ('imsi', 'imei', 'iccid')),
    value          TEXT    NOT NULL,
    source         TEXT    NOT NULL CHECK (source IN ('control_plane', 'call_match', 'cdr_match')),
    confidence     REAL    NOT NULL,
    calls_matched  INTEGER NOT NULL DEFAULT 0,
    first_seen_at  INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    PRIMARY KEY (gateway_id, kind, value, source)
);
CREATE INDEX gateway_links_value ON gateway_links (kind, value);

-- SIP calls seen at gateways (the legs matched against CDRs).
CREATE TABLE gateway_calls (
    gateway_id  INTEGER NOT NULL REFERENCES gateways(id),
    called      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    direction   TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    answered    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (gateway_id, called, started_at)
);

-- The cell side as probes report it.
CREATE TABLE subscribers (
    imsi           TEXT    PRIMARY KEY,
    probe_id       INTEGER NOT NULL REFERENCES probes(id),
    flags_json     TEXT    NOT NULL DEFAULT '[]',
    imeis_json     TEXT    NOT NULL DEFAULT '[]',
    first_seen_at  INTEGER,
    last_seen_at   INTEGER,
    report_json    TEXT    NOT NULL
);
CREATE TABLE devices (
    imei         TEXT    PRIMARY KEY,
    probe_id     INTEGER NOT NULL REFERENCES probes(id),
    tac          TEXT    NOT NULL,
    luhn_valid   INTEGER,
    flags_json   TEXT    NOT NULL DEFAULT '[]',
    imsis_json   TEXT    NOT NULL DEFAULT '[]',
    report_json  TEXT    NOT NULL
);
CREATE TABLE cells (
    probe_id      INTEGER NOT NULL REFERENCES probes(id),
    mcc           INTEGER NOT NULL,
    mnc           INTEGER NOT NULL,
    lac           INTEGER NOT NULL,
    cell_id       INTEGER NOT NULL,
    arfcn         INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (probe_id, mcc, mnc, lac, cell_id)
);

-- Hardware alarms (tamper switch, …).
CREATE TABLE alarms (
    id           INTEGER PRIMARY KEY,
    probe_id     INTEGER NOT NULL REFERENCES probes(id),
    kind         TEXT    NOT NULL,
    detail       TEXT    NOT NULL,
    occurred_at  INTEGER NOT NULL,
    acknowledged_at INTEGER
);

-- The carriers' registry, CDRs and their imports live in the attached
-- `carrier` database: see 0002_carrier.sql.

-- Cards on a carrier block list (from confirmed cases), to notice them coming back.
CREATE TABLE blocked_cards (
    imsi        TEXT    NOT NULL,
    iccid       TEXT,
    msisdn      TEXT,
    owner_id    TEXT,
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    blocked_at  INTEGER NOT NULL,
    PRIMARY KEY (imsi, case_id)
);

-- Cases: one per IMSI cluster. `cluster_key` is stable across correlation runs.
CREATE TABLE cases (
    id               INTEGER PRIMARY KEY,
    cluster_key      TEXT    NOT NULL UNIQUE,
    state            TEXT    NOT NULL CHECK (state IN ('new', 'reviewing', 'confirmed', 'dismissed')),
    severity         TEXT    NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    title            TEXT    NOT NULL,
    summary_json     TEXT    NOT NULL,
    evidence_digest  TEXT    NOT NULL,
    assignee         TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX cases_state ON cases (state, severity);

CREATE TABLE case_members (
    case_id  INTEGER NOT NULL REFERENCES cases(id),
    kind     TEXT    NOT NULL CHECK (kind IN ('gateway', 'imsi', 'imei', 'iccid', 'owner', 'outlet')),
    value    TEXT    NOT NULL,
    PRIMARY KEY (case_id, kind, value)
);
CREATE INDEX case_members_value ON case_members (kind, value);

-- Every change of a case: who, when, why.
CREATE TABLE case_history (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    from_state  TEXT,
    to_state    TEXT    NOT NULL,
    reason      TEXT    NOT NULL
);

CREATE TABLE case_notes (
    id       INTEGER PRIMARY KEY,
    case_id  INTEGER NOT NULL REFERENCES cases(id),
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    text     TEXT    NOT NULL
);
