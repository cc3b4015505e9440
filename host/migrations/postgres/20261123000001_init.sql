-- The whole schema for PostgreSQL: the same tables and semantics as the
-- SQLite migrations, in PostgreSQL's types.

CREATE TABLE kv (
    tenant     TEXT   NOT NULL,
    plugin     TEXT   NOT NULL,
    key        TEXT   NOT NULL,
    value      BYTEA  NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, plugin, key)
);

CREATE SEQUENCE tenant_claim_seq;

CREATE TABLE tenants (
    id           TEXT   PRIMARY KEY,
    api_key_hash TEXT,
    created_at   BIGINT NOT NULL,
    claim_seq    BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX tenants_api_key ON tenants (api_key_hash) WHERE api_key_hash IS NOT NULL;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE plugin_counters (
    tenant       TEXT   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plugin       TEXT   NOT NULL,
    last_version BIGINT NOT NULL,
    PRIMARY KEY (tenant, plugin)
);

CREATE TABLE plugin_versions (
    tenant      TEXT   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plugin      TEXT   NOT NULL,
    version     BIGINT NOT NULL,
    digest      TEXT   NOT NULL,
    size        BIGINT NOT NULL,
    imports     TEXT   NOT NULL,
    wasm        BYTEA  NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, plugin, version)
);

CREATE TABLE endpoints (
    tenant         TEXT   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT   NOT NULL,
    spec           TEXT   NOT NULL,
    plugin         TEXT   NOT NULL,
    plugin_version BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, plugin, plugin_version) REFERENCES plugin_versions (tenant, plugin, version)
);

CREATE TABLE deliveries (
    id             TEXT   PRIMARY KEY,
    tenant         TEXT   NOT NULL,
    endpoint       TEXT   NOT NULL,
    event_id       TEXT,
    provider       TEXT   NOT NULL,
    event_type     TEXT,
    headers        TEXT   NOT NULL,
    body           BYTEA,
    received_at    BIGINT NOT NULL,
    plugin         TEXT   NOT NULL,
    plugin_version BIGINT NOT NULL,
    lease_ms       BIGINT NOT NULL,
    status         TEXT   NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    run_start      BIGINT NOT NULL DEFAULT 0,
    due_at         BIGINT,
    lease_token    TEXT,
    started_at     BIGINT,
    finished_at    BIGINT,
    last_error     TEXT
);
CREATE UNIQUE INDEX deliveries_event ON deliveries (tenant, endpoint, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX deliveries_tenant_due ON deliveries (tenant, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_tenant_id ON deliveries (tenant, id);
CREATE INDEX deliveries_retention ON deliveries (finished_at) WHERE status = 'succeeded' AND body IS NOT NULL;

CREATE TABLE attempts (
    delivery_id    TEXT    NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt        BIGINT  NOT NULL,
    plugin_version BIGINT  NOT NULL,
    started_at     BIGINT  NOT NULL,
    duration_ms    BIGINT  NOT NULL,
    outcome        TEXT    NOT NULL,
    message        TEXT,
    logs           TEXT    NOT NULL,
    logs_truncated BOOLEAN NOT NULL,
    http_calls     TEXT    NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
