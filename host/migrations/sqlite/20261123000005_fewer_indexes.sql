-- Every index on deliveries is written on each of a delivery's three writes
-- (ingest, claim, completion). These two earned less than they cost: the
-- next due time is read per tenant from deliveries_tenant_due, and admin
-- filters by endpoint or status scan one tenant's deliveries.
DROP INDEX deliveries_due;
DROP INDEX deliveries_endpoint_status;
