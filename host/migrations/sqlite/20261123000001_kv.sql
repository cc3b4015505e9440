-- Plugin key-value data, one namespace per tenant and plugin.
CREATE TABLE kv (
    tenant     TEXT    NOT NULL,
    plugin     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      BLOB    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin, key)
) WITHOUT ROWID;
