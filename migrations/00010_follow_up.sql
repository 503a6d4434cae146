-- Follow-up that drives customers to connected:
-- * a customer's time zone (reminders go out in its daytime) and a staff pause;
-- * follow_ups: per customer, when its follow-up is next due (the periodic scan reads
--   the due ones through follow_ups_due), what was sent for its current link, and
--   whether the one automatic fresh link was sent;
-- * attention: per customer that needs a person, the most pressing reason (derived from
--   state, refreshed with every timeline event of the customer and by a periodic sweep),
--   with what staff did about it (snoozed until, handled);
-- * alerts: what staff and the team channel were told, at most one a customer an hour;
-- * staff preferences for alerts and the daily digest.

-- +goose Up
ALTER TABLE customers ADD COLUMN time_zone TEXT;
ALTER TABLE customers ADD COLUMN follow_up_paused INTEGER NOT NULL DEFAULT 0;

CREATE TABLE follow_ups (
    customer_id      INTEGER PRIMARY KEY REFERENCES customers (id),
    -- NULL: nothing more is planned
    due_at           TEXT,
    -- the link the reminders below were about (a new link starts afresh)
    link_id          INTEGER,
    unopened_sent_at TEXT,
    expiring_sent_at TEXT,
    reminders_sent   INTEGER NOT NULL DEFAULT 0,
    -- every reminder sent and the landing page still not opened
    exhausted_at     TEXT,
    fresh_link_at    TEXT,
    updated_at       TEXT    NOT NULL
);
CREATE INDEX follow_ups_due ON follow_ups (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE attention (
    customer_id   INTEGER PRIMARY KEY REFERENCES customers (id),
    kind          TEXT NOT NULL,
    since         TEXT NOT NULL,
    detail        TEXT,
    -- the other reasons, by kind, comma-separated
    also          TEXT,
    snoozed_until TEXT,
    -- kind@since that staff marked handled: the row shows again when either changes
    handled       TEXT,
    updated_at    TEXT NOT NULL
);
CREATE INDEX attention_since ON attention (since DESC, customer_id DESC);
CREATE INDEX attention_kind_since ON attention (kind, since DESC, customer_id DESC);

CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY,
    customer_id    INTEGER NOT NULL REFERENCES customers (id),
    kind           TEXT    NOT NULL,
    text           TEXT    NOT NULL,
    -- another alert about the customer went out within the hour: this one was not sent
    suppressed     INTEGER NOT NULL DEFAULT 0,
    -- the team channel: NULL (none configured), pending, sent or failed
    webhook_state  TEXT,
    webhook_tries  INTEGER NOT NULL DEFAULT 0,
    webhook_error  TEXT,
    webhook_at     TEXT,
    created_at     TEXT    NOT NULL
);
CREATE INDEX alerts_customer ON alerts (customer_id, created_at);
CREATE INDEX alerts_webhook ON alerts (webhook_state, created_at);

ALTER TABLE staff_users ADD COLUMN time_zone TEXT;
ALTER TABLE staff_users ADD COLUMN alert_email INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff_users ADD COLUMN alert_digest INTEGER NOT NULL DEFAULT 0;
-- the local date of the last digest (YYYY-MM-DD in the user's time zone)
ALTER TABLE staff_users ADD COLUMN digest_on TEXT;

-- +goose Down
ALTER TABLE staff_users DROP COLUMN digest_on;
ALTER TABLE staff_users DROP COLUMN alert_digest;
ALTER TABLE staff_users DROP COLUMN alert_email;
ALTER TABLE staff_users DROP COLUMN time_zone;
DROP TABLE alerts;
DROP TABLE attention;
DROP TABLE follow_ups;
ALTER TABLE customers DROP COLUMN follow_up_paused;
ALTER TABLE customers DROP COLUMN time_zone;
