-- A tenant's version counters outlive the tenant: a tenant created again
-- under the same id continues the numbering, so (tenant, plugin, version)
-- never names two different components, and no host's cache of loaded
-- plugins can run the deleted tenant's code for the new one.
CREATE TABLE plugin_counters_new (
    tenant       TEXT    NOT NULL,
    plugin       TEXT    NOT NULL,
    last_version INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin)
) WITHOUT ROWID;

INSERT INTO plugin_counters_new (tenant, plugin, last_version)
SELECT tenant, plugin, last_version FROM plugin_counters;

DROP TABLE plugin_counters;

ALTER TABLE plugin_counters_new RENAME TO plugin_counters;
