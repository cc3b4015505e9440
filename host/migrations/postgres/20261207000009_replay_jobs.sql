-- Bulk replays: jobs that queue again every delivery of an endpoint
-- matching a filter, a step at a time, from whichever host holds the lease.
CREATE TABLE replay_jobs (
    id          TEXT    PRIMARY KEY,
    tenant      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    endpoint    TEXT    NOT NULL,
    filter      TEXT    NOT NULL, -- JSON ReplayFilter
    to_version  BIGINT,
    state       TEXT    NOT NULL, -- running | done | cancelled | failed
    matched     BIGINT  NOT NULL,
    replayed    BIGINT  NOT NULL,
    skipped     BIGINT  NOT NULL,
    cursor      TEXT    NOT NULL, -- the last delivery id read, or the floor of the first
    scan_from   BIGINT  NOT NULL, -- where the walk began: progress is measured from it
    lease_token TEXT,
    lease_until BIGINT,
    created_at  BIGINT  NOT NULL,
    finished_at BIGINT,
    error       TEXT
);
CREATE INDEX replay_jobs_tenant ON replay_jobs (tenant, id);
CREATE INDEX replay_jobs_running ON replay_jobs (id) WHERE state = 'running';
