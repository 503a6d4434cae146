-- A team of staff: roles (admins manage branding, webhooks, API tokens and staff;
-- operators do the onboarding), disabled accounts, one-time links for invitations and
-- password resets (their SHA-256 kept, never the link), and an audit of staff changes.

-- +goose Up
ALTER TABLE staff_users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'operator'));
ALTER TABLE staff_users ADD COLUMN disabled_at TEXT;

CREATE TABLE staff_links (
    id         INTEGER PRIMARY KEY,
    -- invite or reset
    kind       TEXT    NOT NULL CHECK (kind IN ('invite', 'reset')),
    email      TEXT    NOT NULL COLLATE NOCASE,
    -- the role an invitation gives
    role       TEXT,
    token_hash TEXT    NOT NULL UNIQUE,
    expires_at TEXT    NOT NULL,
    used_at    TEXT,
    created_by TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX staff_links_open ON staff_links (kind, email) WHERE used_at IS NULL;

CREATE TABLE staff_audit (
    id         INTEGER PRIMARY KEY,
    actor      TEXT NOT NULL,
    -- invited, joined, role.changed, disabled, enabled, reset.sent, password.reset,
    -- invite.revoked
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX staff_audit_recent ON staff_audit (id DESC);

-- +goose Down
DROP TABLE staff_audit;
DROP TABLE staff_links;
ALTER TABLE staff_users DROP COLUMN disabled_at;
ALTER TABLE staff_users DROP COLUMN role;
