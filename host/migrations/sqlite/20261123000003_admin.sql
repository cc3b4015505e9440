-- Operator settings and tenant API key lookup.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE UNIQUE INDEX tenants_api_key ON tenants (api_key_hash) WHERE api_key_hash IS NOT NULL;
CREATE INDEX deliveries_endpoint_status ON deliveries (tenant, endpoint, status);
