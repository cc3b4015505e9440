-- The hosts serving this database, each heartbeating every few seconds, so
-- limits they share (ingest rates) can be divided among the live ones.
CREATE TABLE hosts (
    id      TEXT   PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
