-- Headers and body are written once, at ingest, and read once per attempt,
-- while the delivery row is rewritten (a new tuple, under MVCC) by every
-- claim and every completion. Kept apart, those rewrites copy a row of a few
-- hundred bytes instead of one of a kibibyte and more.
CREATE TABLE payloads (
    delivery_id TEXT  PRIMARY KEY,
    headers     TEXT  NOT NULL, -- JSON [[name, value], ...]
    body        BYTEA           -- NULL once pruned by retention
);

INSERT INTO payloads (delivery_id, headers, body) SELECT id, headers, body FROM deliveries;

DROP INDEX deliveries_retention;
ALTER TABLE deliveries ADD COLUMN body_pruned BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE deliveries SET body_pruned = TRUE WHERE body IS NULL;
ALTER TABLE deliveries DROP COLUMN headers, DROP COLUMN body;
CREATE INDEX deliveries_retention ON deliveries (finished_at) WHERE status = 'succeeded' AND NOT body_pruned;
