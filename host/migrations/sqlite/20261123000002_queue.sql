-- Tenants, plugin versions, endpoints, and the delivery queue with its attempts.

CREATE TABLE tenants (
    id           TEXT    PRIMARY KEY,
    api_key_hash TEXT,
    created_at   INTEGER NOT NULL,
    -- Fair dispatch: the tenant served longest ago is served first.
    claim_seq    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE plugin_versions (
    tenant      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plugin      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    digest      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    imports     TEXT    NOT NULL, -- JSON array of interface names
    wasm        BLOB    NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin, version)
);

CREATE TABLE endpoints (
    tenant         TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT    NOT NULL,
    spec           TEXT    NOT NULL, -- JSON EndpointSpec
    plugin         TEXT    NOT NULL,
    plugin_version INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant, id),
    -- A version bound to an endpoint cannot be deleted.
    FOREIGN KEY (tenant, plugin, plugin_version) REFERENCES plugin_versions (tenant, plugin, version)
);

CREATE TABLE deliveries (
    id             TEXT    PRIMARY KEY,
    tenant         TEXT    NOT NULL,
    endpoint       TEXT    NOT NULL,
    event_id       TEXT,
    provider       TEXT    NOT NULL,
    event_type     TEXT,
    headers        TEXT    NOT NULL, -- JSON [[name, value], ...]
    body           BLOB,             -- NULL once pruned by retention
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
    last_error     TEXT
);

CREATE UNIQUE INDEX deliveries_event ON deliveries (tenant, endpoint, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX deliveries_tenant_due ON deliveries (tenant, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_tenant_id ON deliveries (tenant, id);
CREATE INDEX deliveries_retention ON deliveries (finished_at) WHERE status = 'succeeded' AND body IS NOT NULL;

CREATE TABLE attempts (
    delivery_id    TEXT    NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
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
