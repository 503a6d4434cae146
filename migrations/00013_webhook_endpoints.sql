-- Outgoing webhooks: the platform's endpoints (their signing secrets sealed, the one
-- before a rotation kept for a day), one delivery per event and endpoint (its
-- webhook-id the same on every try), and every try of it.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id             INTEGER PRIMARY KEY,
    url            TEXT    NOT NULL,
    -- the event types wanted, comma-separated
    events         TEXT    NOT NULL,
    secret         BLOB    NOT NULL,
    -- after a rotation: the previous secret, still signing until prev_until
    prev_secret    BLOB,
    prev_until     TEXT,
    -- active or disabled
    state          TEXT    NOT NULL DEFAULT 'active',
    -- the first failure since the last success
    failing_since  TEXT,
    disabled_at    TEXT,
    created_by     TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id),
    -- the webhook-id header: the same on every try, for receivers to de-duplicate
    msg_id          TEXT    NOT NULL UNIQUE,
    type            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    -- pending, delivered or failed (gave up after 3 days)
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    last_latency_ms INTEGER,
    created_at      TEXT    NOT NULL,
    delivered_at    TEXT,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id),
    attempt     INTEGER NOT NULL,
    status      INTEGER,
    latency_ms  INTEGER NOT NULL,
    error       TEXT,
    created_at  TEXT    NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
