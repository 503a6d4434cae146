-- The platform's API: tokens its backend authenticates with (kept as SHA-256 only),
-- what was done with them, and the answers to idempotent POSTs (replayed for 24 hours).

-- +goose Up
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    -- read or write
    scope        TEXT    NOT NULL,
    hash         BLOB    NOT NULL UNIQUE,
    last4        TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE api_audit (
    id         INTEGER PRIMARY KEY,
    token_id   INTEGER REFERENCES api_tokens (id),
    -- token.created, token.revoked, or the request: "POST /api/v1/customers 201"
    action     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX api_audit_recent ON api_audit (id DESC);

CREATE TABLE api_idempotency (
    token_id   INTEGER NOT NULL REFERENCES api_tokens (id),
    key        TEXT    NOT NULL,
    -- the method, path and body the key was first used with
    request    BLOB    NOT NULL,
    status     INTEGER NOT NULL,
    response   BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (token_id, key)
);
CREATE INDEX api_idempotency_age ON api_idempotency (created_at);

-- +goose Down
DROP TABLE api_idempotency;
DROP TABLE api_audit;
DROP TABLE api_tokens;
