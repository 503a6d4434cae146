-- The sender is fixed when an email is queued, so that a branding change afterwards
-- does not change an email staff already saw.

-- +goose Up
ALTER TABLE outbox ADD COLUMN from_name TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN from_addr TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN from_addr;
ALTER TABLE outbox DROP COLUMN from_name;
