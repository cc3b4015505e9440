-- An endpoint's `limits.max_concurrent`, where a claim can read it; NULL
-- when only its tenant's share bounds it.
ALTER TABLE endpoints ADD COLUMN max_concurrent BIGINT;

-- A claim counts an endpoint's running deliveries to keep it within its
-- limit; they are few (at most the workers of every host), so this index
-- stays small however long the queue.
CREATE INDEX deliveries_running ON deliveries (tenant, endpoint) WHERE status = 'running';

-- A delivery over its endpoint's limit waits without a due_at, so claims
-- never scan past it; a claim that finds the endpoint with room again lets
-- the oldest run. Counted in the queue's depth through this index.
CREATE INDEX deliveries_waiting ON deliveries (tenant, endpoint, id) WHERE status = 'waiting';

-- Since when the endpoint has had deliveries waiting for room; NULL when it
-- has none, so a claim looks only at the few endpoints that do.
ALTER TABLE endpoints ADD COLUMN waiting_since BIGINT;
CREATE INDEX endpoints_waiting ON endpoints (tenant, waiting_since) WHERE waiting_since IS NOT NULL;
