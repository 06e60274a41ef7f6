-- The carriers' records in their own database file, `carrier.db`, attached
-- to every connection as `carrier` (store/mod.rs): bulk imports of millions
-- of rows with random keys want large pages (64 KiB), while ingest's many
-- small updates want small ones (main: 4 KiB). Unqualified names resolve to
-- these tables, so queries read as if they were in one database. An import
-- writes only here (its rows and its `imports` row), so it stays one atomic
-- transaction.

-- The carriers' subscriber registry (one row per SIM; re-import updates).
CREATE TABLE carrier.registry (
    imsi           TEXT    PRIMARY KEY,
    msisdn         TEXT    NOT NULL,
    iccid          TEXT    NOT NULL,
    carrier        TEXT    NOT NULL,
    owner_id       TEXT    NOT NULL,
    owner_id_kind  TEXT    NOT NULL CHECK (owner_id_kind IN ('resident', 'passport')),
    owner_name     TEXT    NOT NULL,
    outlet_id      TEXT    NOT NULL,
    outlet_name    TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    activated_at   INTEGER NOT NULL,
    import_id      INTEGER NOT NULL REFERENCES imports(id)
);
CREATE INDEX carrier.registry_owner ON registry (owner_id);
CREATE INDEX carrier.registry_outlet ON registry (outlet_id, activated_at);
CREATE INDEX carrier.registry_iccid ON registry (iccid);

-- The carriers' call detail records (mobile-originated calls).
CREATE TABLE carrier.cdrs (
    imsi        TEXT    NOT NULL,
    imei        TEXT    NOT NULL,
    msisdn      TEXT    NOT NULL,
    called      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_s  INTEGER NOT NULL,
    cell        TEXT    NOT NULL,
    import_id   INTEGER NOT NULL REFERENCES imports(id),
    PRIMARY KEY (imsi, started_at, called)
);
CREATE INDEX carrier.cdrs_called ON cdrs (called, started_at);
CREATE INDEX carrier.cdrs_imei ON cdrs (imei);

-- One row per import run.
CREATE TABLE carrier.imports (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('registry', 'cdr')),
    file         TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    rows         INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    actor        TEXT    NOT NULL
);

