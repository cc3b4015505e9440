-- Alerts: tenants' destinations, the outbox of alerts to send, when each
-- (tenant, endpoint, kind) was last raised, and what the rules of an
-- endpoint need shared across hosts.
CREATE TABLE alert_destinations (
    tenant      TEXT    NOT NULL REFERENCES tenants (id),
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL, -- webhook | slack
    url         TEXT    NOT NULL,
    sealed      TEXT,             -- the webhook's signing secret, sealed
    sealed_with TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE alerts (
    id              TEXT    PRIMARY KEY,
    tenant          TEXT    NOT NULL REFERENCES tenants (id),
    scope           TEXT    NOT NULL, -- tenant | operator: whose destination
    destination     TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL, -- the JSON event
    state           TEXT    NOT NULL, -- pending | sent | failed
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    lease_token     TEXT,
    lease_until     INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX alerts_tenant ON alerts (tenant, id);
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE state = 'pending';

CREATE TABLE alert_raises (
    tenant         TEXT    NOT NULL,
    endpoint       TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    last_raised_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, endpoint, kind)
);

CREATE TABLE endpoint_watch (
    tenant           TEXT    NOT NULL,
    endpoint         TEXT    NOT NULL,
    dead_streak      INTEGER NOT NULL DEFAULT 0,
    last_received_at INTEGER,
    PRIMARY KEY (tenant, endpoint)
);
