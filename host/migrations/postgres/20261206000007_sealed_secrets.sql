-- Secrets at rest are sealed under the master key (store/sealing.rs).

-- The id of the key that sealed the secrets in `spec`; NULL for rows written
-- before sealing, which the server seals when it starts.
ALTER TABLE endpoints ADD COLUMN sealed_with TEXT;

-- Plugin secrets: written through the API, never read back through it, and
-- read by the endpoint's plugin through `secret::get`.
CREATE TABLE endpoint_secrets (
    tenant      TEXT    NOT NULL,
    endpoint    TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    sealed      TEXT    NOT NULL,
    sealed_with TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (tenant, endpoint, name),
    FOREIGN KEY (tenant, endpoint) REFERENCES endpoints (tenant, id) ON DELETE CASCADE
);
