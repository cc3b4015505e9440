-- Version numbers are never reused, even after a version is deleted: a
-- delivery pinned to "v2" must never run different code later.
CREATE TABLE plugin_counters (
    tenant       TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plugin       TEXT    NOT NULL,
    last_version INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin)
) WITHOUT ROWID;

INSERT INTO plugin_counters (tenant, plugin, last_version)
SELECT tenant, plugin, MAX(version) FROM plugin_versions GROUP BY tenant, plugin;
