-- Payloads keyed by an integer the delivery row carries (its rowid), not by
-- the delivery's text id: one B-tree fewer to write per webhook, since a
-- table keyed by text is a table and an index. SQLite cannot give an
-- existing table an INTEGER PRIMARY KEY, so the tables are rebuilt. The
-- migration runs in a transaction with foreign keys on, where dropping the
-- old deliveries would cascade to every attempt that references it: so the
-- attempts are rebuilt first, referencing the new table, and nothing
-- references the old one by the time it goes.

CREATE TABLE deliveries_new (
    seq            INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    tenant         TEXT    NOT NULL,
    endpoint       TEXT    NOT NULL,
    event_id       TEXT,
    provider       TEXT    NOT NULL,
    event_type     TEXT,
    received_at    INTEGER NOT NULL,
    plugin         TEXT    NOT NULL,
    plugin_version INTEGER NOT NULL,
    lease_ms       INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    -- attempts at the start of the current run (a replay starts a new run)
    run_start      INTEGER NOT NULL DEFAULT 0,
    -- When it may next be claimed; NULL once finished. A running delivery's
    -- due_at is its lease expiry, so a dead host's work comes back by itself.
    due_at         INTEGER,
    lease_token    TEXT,
    started_at     INTEGER,
    finished_at    INTEGER,
    last_error     TEXT,
    body_pruned    INTEGER NOT NULL DEFAULT 0
);

INSERT INTO deliveries_new (seq, id, tenant, endpoint, event_id, provider, event_type, received_at,
                            plugin, plugin_version, lease_ms, status, attempts, run_start, due_at,
                            lease_token, started_at, finished_at, last_error, body_pruned)
SELECT rowid, id, tenant, endpoint, event_id, provider, event_type, received_at,
       plugin, plugin_version, lease_ms, status, attempts, run_start, due_at,
       lease_token, started_at, finished_at, last_error, body_pruned
FROM deliveries ORDER BY rowid;

CREATE TABLE payloads_new (
    seq     INTEGER PRIMARY KEY, -- the delivery's seq
    headers TEXT NOT NULL,       -- JSON [[name, value], ...]
    body    BLOB                 -- NULL once pruned by retention
);

INSERT INTO payloads_new (seq, headers, body)
SELECT d.seq, p.headers, p.body FROM payloads p JOIN deliveries_new d ON d.id = p.delivery_id;

CREATE TABLE attempts_new (
    delivery_id    TEXT    NOT NULL REFERENCES deliveries_new (id) ON DELETE CASCADE,
    attempt        INTEGER NOT NULL,
    plugin_version INTEGER NOT NULL,
    started_at     INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    outcome        TEXT    NOT NULL,
    message        TEXT,
    logs           TEXT    NOT NULL, -- JSON [LogLine]
    logs_truncated INTEGER NOT NULL,
    http_calls     TEXT    NOT NULL, -- JSON [OutboundCall]
    PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;

INSERT INTO attempts_new SELECT * FROM attempts;

DROP TABLE attempts;
DROP TABLE payloads;
DROP TABLE deliveries;
-- Renaming also points attempts_new's foreign key at `deliveries`.
ALTER TABLE deliveries_new RENAME TO deliveries;
ALTER TABLE attempts_new RENAME TO attempts;
ALTER TABLE payloads_new RENAME TO payloads;

CREATE UNIQUE INDEX deliveries_event ON deliveries (tenant, endpoint, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX deliveries_tenant_due ON deliveries (tenant, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_tenant_id ON deliveries (tenant, id);
CREATE INDEX deliveries_retention ON deliveries (finished_at) WHERE status = 'succeeded' AND body_pruned = 0;
