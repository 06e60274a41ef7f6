-- The registry's IMSI keeps its uniqueness through an index of its own,
-- `registry_imsi`, instead of the primary key's automatic one. An index SQLite
-- made for a primary key cannot be dropped; this one can. An import into an
-- empty registry drops all four indexes, appends the rows as the file is read
-- and builds the indexes once at the end, each by one sort (see "Bulk loads" in
-- agent/src/import/mod.rs). `ON CONFLICT (imsi)` upserts use the unique index.
CREATE TABLE carrier.registry_v2 (
    imsi           TEXT    NOT NULL,
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
INSERT INTO carrier.registry_v2
    SELECT imsi, msisdn, iccid, carrier, owner_id, owner_id_kind, owner_name,
           outlet_id, outlet_name, channel, activated_at, import_id
    FROM carrier.registry ORDER BY imsi;
DROP TABLE carrier.registry;
ALTER TABLE carrier.registry_v2 RENAME TO registry;
CREATE UNIQUE INDEX carrier.registry_imsi ON registry (imsi);
CREATE INDEX carrier.registry_owner ON registry (owner_id);
CREATE INDEX carrier.registry_outlet ON registry (outlet_id, activated_at);
CREATE INDEX carrier.registry_iccid ON registry (iccid);
