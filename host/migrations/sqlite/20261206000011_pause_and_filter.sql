-- Pausing an endpoint, and deliveries that wait for it or that its event
-- type filter does not run.

-- Since when the endpoint has been paused (ms since the epoch); NULL while it runs.
ALTER TABLE endpoints ADD COLUMN paused_at INTEGER;

-- A paused delivery has no due_at (no claim finds it) but is unfinished: the
-- queue's depth counts it, and resuming its endpoint finds it here.
CREATE INDEX deliveries_paused ON deliveries (tenant, endpoint) WHERE status = 'paused';

-- Retention drops the bodies of filtered deliveries as it does succeeded ones'.
DROP INDEX deliveries_retention;
CREATE INDEX deliveries_retention ON deliveries (finished_at)
    WHERE status IN ('succeeded', 'filtered') AND body_pruned = 0;
