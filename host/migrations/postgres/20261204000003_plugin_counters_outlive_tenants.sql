-- A tenant's version counters outlive the tenant: a tenant created again
-- under the same id continues the numbering, so (tenant, plugin, version)
-- never names two different components, and no host's cache of loaded
-- plugins can run the deleted tenant's code for the new one.
ALTER TABLE plugin_counters DROP CONSTRAINT plugin_counters_tenant_fkey;
