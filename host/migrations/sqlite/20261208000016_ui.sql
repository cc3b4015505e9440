-- Dashboard sessions: a random cookie, stored as its SHA-256, bound to the
-- credential it signed in with (a rotated key or operator token ends it).
-- `tenant` is the tenant signed in, or '' for the operator.
CREATE TABLE ui_sessions (
    id_hash    TEXT    PRIMARY KEY,
    tenant     TEXT    NOT NULL,
    key_hash   TEXT    NOT NULL,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX ui_sessions_tenant ON ui_sessions (tenant, created_at);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);

-- The delivery list's usual questions, each a short index walk however many
-- deliveries a tenant has: what died or is failing (rare rows, so these
-- partial indexes cost the hot path nothing while deliveries succeed).
CREATE INDEX deliveries_dead ON deliveries (tenant, id) WHERE status = 'dead';
CREATE INDEX deliveries_retrying ON deliveries (tenant, id) WHERE status = 'retrying';
