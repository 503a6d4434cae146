-- One sign-in throttle for every address typed in, known or not, kept in the database
-- so that it survives a restart and answers the same for both: each attempt is
-- reserved here (per email, per client IP) before the password is checked. The
-- per-account lock columns it replaces are dropped.

-- +goose Up
CREATE TABLE login_attempts (
    id    INTEGER PRIMARY KEY,
    -- "email:<sha256 of the lower-case address>" or "ip:<address>"
    scope TEXT NOT NULL,
    at    TEXT NOT NULL
);
CREATE INDEX login_attempts_scope ON login_attempts (scope, at);
CREATE INDEX login_attempts_at ON login_attempts (at);
ALTER TABLE staff_users DROP COLUMN failed_attempts;
ALTER TABLE staff_users DROP COLUMN locked_until;

-- +goose Down
ALTER TABLE staff_users ADD COLUMN locked_until TEXT;
ALTER TABLE staff_users ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
DROP TABLE login_attempts;
