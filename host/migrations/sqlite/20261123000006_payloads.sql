-- Headers and body are written once, at ingest, and read once per attempt,
-- while the delivery row is rewritten by every claim and every completion.
-- Kept apart, those rewrites touch rows of a few hundred bytes instead of
-- ones of a kibibyte and more: fewer pages per commit, and the commit rate
-- of this queue is bound by the pages it writes.
CREATE TABLE payloads (
    delivery_id TEXT PRIMARY KEY,
    headers     TEXT NOT NULL, -- JSON [[name, value], ...]
    body        BLOB           -- NULL once pruned by retention
);

INSERT INTO payloads (delivery_id, headers, body) SELECT id, headers, body FROM deliveries;

DROP INDEX deliveries_retention;
ALTER TABLE deliveries ADD COLUMN body_pruned INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET body_pruned = 1 WHERE body IS NULL;
ALTER TABLE deliveries DROP COLUMN headers;
ALTER TABLE deliveries DROP COLUMN body;
CREATE INDEX deliveries_retention ON deliveries (finished_at) WHERE status = 'succeeded' AND body_pruned = 0;
