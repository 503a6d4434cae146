-- The first schema: everything the portal keeps on its own, and its mirror of Kirim.
-- Times are TEXT in one fixed-width UTC layout (2006-01-02T15:04:05.000000Z) so that
-- they sort as text and read well in the sqlite3 shell; store/ writes and parses them.

-- +goose Up
CREATE TABLE staff_users (
    id              INTEGER PRIMARY KEY,
    email           TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash   TEXT    NOT NULL,
    -- bumped on logout-everywhere and password change: older session cookies stop working
    session_version INTEGER NOT NULL DEFAULT 1,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    last_login_at   TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);

-- Settings and branding, one JSON value per key.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Uploaded brand files (the logo), served by the portal itself.
CREATE TABLE brand_assets (
    name         TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    data         BLOB NOT NULL,
    updated_at   TEXT NOT NULL
);

-- A remote write the portal intends to make. Its key is sent as Idempotency-Key, so a
-- retry after a timeout or a crash replays the first answer instead of creating twice.
CREATE TABLE remote_intents (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    idem_key     TEXT NOT NULL UNIQUE,
    request      TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    result_ref   TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX remote_intents_state ON remote_intents (state, created_at);

-- Mirror of Kirim customers plus what only the portal knows (locale, stage).
CREATE TABLE customers (
    id               INTEGER PRIMARY KEY,
    kirim_id         TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL,
    email            TEXT,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'archived')),
    metadata         TEXT,
    team_id          TEXT,
    locale           TEXT    NOT NULL DEFAULT 'en',
    -- onboarding stage, derived from events and kept here for filtering the list
    stage            TEXT    NOT NULL DEFAULT 'created',
    stage_reason     TEXT,
    archived_at      TEXT,
    kirim_created_at TEXT    NOT NULL,
    kirim_updated_at TEXT    NOT NULL,
    synced_at        TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);
CREATE INDEX customers_newest ON customers (created_at DESC, id DESC);
CREATE INDEX customers_status_newest ON customers (status, created_at DESC, id DESC);
CREATE INDEX customers_stage_newest ON customers (stage, created_at DESC, id DESC);

-- Mirror of setup links plus the encrypted setup_url (AES-GCM, row id as associated
-- data), the SHA-256 of the portal's own landing token, and the path segment that binds
-- the return pages to this link.
CREATE TABLE setup_links (
    id                   INTEGER PRIMARY KEY,
    kirim_id             TEXT    NOT NULL UNIQUE,
    customer_id          INTEGER NOT NULL REFERENCES customers (id),
    status               TEXT    NOT NULL CHECK (status IN ('active', 'consumed', 'expired', 'revoked')),
    token_last4          TEXT    NOT NULL,
    expires_at           TEXT    NOT NULL,
    consumed_at          TEXT,
    success_redirect_url TEXT,
    failure_redirect_url TEXT,
    setup_url_sealed     BLOB,
    landing_token_hash   BLOB UNIQUE,
    return_key           TEXT UNIQUE,
    kirim_created_at     TEXT    NOT NULL,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL
);
CREATE INDEX setup_links_customer ON setup_links (customer_id, created_at DESC, id DESC);
CREATE INDEX setup_links_status_expiry ON setup_links (status, expires_at);

-- Mirror of WhatsApp accounts. phone_number_id is NULL while onboarding is in flight
-- (SQLite allows many NULLs under UNIQUE).
CREATE TABLE whatsapp_accounts (
    id                INTEGER PRIMARY KEY,
    phone_number_id   TEXT UNIQUE,
    customer_id       INTEGER REFERENCES customers (id),
    kirim_customer_id TEXT,
    phone_number      TEXT,
    name              TEXT,
    status            TEXT NOT NULL,
    onboarded_at      TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX whatsapp_accounts_customer ON whatsapp_accounts (customer_id);
CREATE INDEX whatsapp_accounts_status ON whatsapp_accounts (status);

CREATE TABLE templates (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES whatsapp_accounts (id),
    name       TEXT    NOT NULL,
    language   TEXT    NOT NULL,
    category   TEXT,
    status     TEXT    NOT NULL,
    synced_at  TEXT    NOT NULL,
    UNIQUE (account_id, name, language)
);

CREATE TABLE template_syncs (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES whatsapp_accounts (id),
    trigger     TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    synced      INTEGER,
    created     INTEGER,
    updated     INTEGER,
    error       TEXT
);
CREATE INDEX template_syncs_account ON template_syncs (account_id, started_at DESC, id DESC);

-- Email outbox: written in the same transaction as the event that causes it, sent by
-- the mail worker. message_id is stable so that a resend after a crash is recognisable.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    customer_id     INTEGER REFERENCES customers (id),
    kind            TEXT    NOT NULL,
    to_addr         TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body_html       TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    message_id      TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'held')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    sent_at         TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_customer ON outbox (customer_id, created_at DESC, id DESC);

-- Every customer's journey as one timeline; the dashboard counts it as a funnel.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers (id),
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL DEFAULT 'system',
    detail      TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX events_customer ON events (customer_id, created_at DESC, id DESC);
CREATE INDEX events_kind ON events (kind, created_at);

-- Kirim webhook deliveries already applied, for dedupe on X-Kirim-Event-Id.
CREATE TABLE webhook_events (
    event_id    TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    received_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE webhook_events;
DROP TABLE events;
DROP TABLE outbox;
DROP TABLE template_syncs;
DROP TABLE templates;
DROP TABLE whatsapp_accounts;
DROP TABLE setup_links;
DROP TABLE customers;
DROP TABLE remote_intents;
DROP TABLE brand_assets;
DROP TABLE settings;
DROP TABLE staff_users;
