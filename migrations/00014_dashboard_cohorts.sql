-- The dashboard at 100,000 customers and a million events, without scanning events:
-- each customer's milestones (when it first reached each funnel step, and its last
-- activity), and counters per creation day (its cohort) kept by triggers: how many
-- reached each step, failures by reason, and times to connect in buckets. A date range
-- then sums at most one row per day. Days are UTC.

-- +goose Up
CREATE TABLE customer_milestones (
    customer_id  INTEGER PRIMARY KEY REFERENCES customers (id),
    -- the customer's creation day (YYYY-MM-DD), its cohort
    day          TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    emailed_at   TEXT,
    opened_at    TEXT,
    started_at   TEXT,
    connected_at TEXT,
    failed_at    TEXT,
    -- the newest event: the customer list sorts by it
    last_at      TEXT NOT NULL
);
CREATE INDEX customer_milestones_last ON customer_milestones (last_at DESC, customer_id DESC);

CREATE TABLE cohort_days (
    day       TEXT PRIMARY KEY,
    created   INTEGER NOT NULL DEFAULT 0,
    emailed   INTEGER NOT NULL DEFAULT 0,
    opened    INTEGER NOT NULL DEFAULT 0,
    started   INTEGER NOT NULL DEFAULT 0,
    connected INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- every failed signup, by the failing customer's cohort and the reason
CREATE TABLE cohort_failures (
    day    TEXT    NOT NULL,
    reason TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (day, reason)
) WITHOUT ROWID;

-- time from creation to the first connection, in buckets (0: under 5 minutes, 1: under
-- 15, 2: 30 min, 3: 1 h, 4: 2 h, 5: 4 h, 6: 8 h, 7: 1 day, 8: 2 days, 9: 3 days,
-- 10: 7 days, 11: 14 days, 12: longer)
CREATE TABLE cohort_connect_times (
    day    TEXT    NOT NULL,
    bucket INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (day, bucket)
) WITHOUT ROWID;

-- What exists already.
INSERT INTO customer_milestones (customer_id, day, created_at, emailed_at, opened_at, started_at, connected_at, failed_at, last_at)
    SELECT c.id, substr(c.created_at, 1, 10), c.created_at,
        (SELECT min(created_at) FROM events WHERE customer_id = c.id AND kind = 'email.sent'),
        (SELECT min(created_at) FROM events WHERE customer_id = c.id AND kind = 'landing.opened'),
        (SELECT min(created_at) FROM events WHERE customer_id = c.id AND kind = 'landing.clicked'),
        (SELECT min(created_at) FROM events WHERE customer_id = c.id AND kind = 'account.connected'),
        (SELECT min(created_at) FROM events WHERE customer_id = c.id AND kind = 'signup.failed'),
        coalesce((SELECT max(created_at) FROM events WHERE customer_id = c.id), c.created_at)
    FROM customers c;
INSERT INTO cohort_days (day, created, emailed, opened, started, connected, failed)
    SELECT day, count(*), count(emailed_at), count(opened_at), count(started_at), count(connected_at), count(failed_at)
    FROM customer_milestones GROUP BY day;
INSERT INTO cohort_failures (day, reason, n)
    SELECT m.day, coalesce(json_extract(e.detail, '$.reason'), 'unknown'), count(*)
    FROM events e JOIN customer_milestones m ON m.customer_id = e.customer_id
    WHERE e.kind = 'signup.failed' GROUP BY 1, 2;

-- +goose StatementBegin
CREATE VIEW connect_bucket_of (customer_id, day, bucket) AS
    SELECT customer_id, day, CASE
        WHEN s < 300 THEN 0 WHEN s < 900 THEN 1 WHEN s < 1800 THEN 2 WHEN s < 3600 THEN 3
        WHEN s < 7200 THEN 4 WHEN s < 14400 THEN 5 WHEN s < 28800 THEN 6 WHEN s < 86400 THEN 7
        WHEN s < 172800 THEN 8 WHEN s < 259200 THEN 9 WHEN s < 604800 THEN 10 WHEN s < 1209600 THEN 11
        ELSE 12 END
    FROM (SELECT customer_id, day, (julianday(connected_at) - julianday(created_at)) * 86400 AS s
          FROM customer_milestones WHERE connected_at IS NOT NULL);
-- +goose StatementEnd
INSERT INTO cohort_connect_times (day, bucket, n) SELECT day, bucket, count(*) FROM connect_bucket_of GROUP BY 1, 2;

-- +goose StatementBegin
CREATE TRIGGER customers_milestones AFTER INSERT ON customers BEGIN
    INSERT INTO customer_milestones (customer_id, day, created_at, last_at)
        VALUES (NEW.id, substr(NEW.created_at, 1, 10), NEW.created_at, NEW.created_at);
    INSERT INTO cohort_days (day, created) VALUES (substr(NEW.created_at, 1, 10), 1)
        ON CONFLICT (day) DO UPDATE SET created = created + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER events_last_activity AFTER INSERT ON events WHEN NEW.customer_id IS NOT NULL BEGIN
    UPDATE customer_milestones SET last_at = max(last_at, NEW.created_at) WHERE customer_id = NEW.customer_id;
END;
-- +goose StatementEnd

-- One trigger per step: the first event of its kind sets the milestone and counts it.
-- +goose StatementBegin
CREATE TRIGGER events_emailed AFTER INSERT ON events WHEN NEW.kind = 'email.sent' AND NEW.customer_id IS NOT NULL BEGIN
    INSERT INTO cohort_days (day, emailed) SELECT day, 1 FROM customer_milestones
        WHERE customer_id = NEW.customer_id AND emailed_at IS NULL
        ON CONFLICT (day) DO UPDATE SET emailed = emailed + 1;
    UPDATE customer_milestones SET emailed_at = NEW.created_at WHERE customer_id = NEW.customer_id AND emailed_at IS NULL;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER events_opened AFTER INSERT ON events WHEN NEW.kind = 'landing.opened' AND NEW.customer_id IS NOT NULL BEGIN
    INSERT INTO cohort_days (day, opened) SELECT day, 1 FROM customer_milestones
        WHERE customer_id = NEW.customer_id AND opened_at IS NULL
        ON CONFLICT (day) DO UPDATE SET opened = opened + 1;
    UPDATE customer_milestones SET opened_at = NEW.created_at WHERE customer_id = NEW.customer_id AND opened_at IS NULL;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER events_started AFTER INSERT ON events WHEN NEW.kind = 'landing.clicked' AND NEW.customer_id IS NOT NULL BEGIN
    INSERT INTO cohort_days (day, started) SELECT day, 1 FROM customer_milestones
        WHERE customer_id = NEW.customer_id AND started_at IS NULL
        ON CONFLICT (day) DO UPDATE SET started = started + 1;
    UPDATE customer_milestones SET started_at = NEW.created_at WHERE customer_id = NEW.customer_id AND started_at IS NULL;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER events_connected AFTER INSERT ON events WHEN NEW.kind = 'account.connected' AND NEW.customer_id IS NOT NULL BEGIN
    INSERT INTO cohort_days (day, connected) SELECT day, 1 FROM customer_milestones
        WHERE customer_id = NEW.customer_id AND connected_at IS NULL
        ON CONFLICT (day) DO UPDATE SET connected = connected + 1;
    UPDATE customer_milestones SET connected_at = NEW.created_at WHERE customer_id = NEW.customer_id AND connected_at IS NULL;
    INSERT INTO cohort_connect_times (day, bucket, n) SELECT day, bucket, 1 FROM connect_bucket_of
        WHERE customer_id = NEW.customer_id AND (SELECT connected_at FROM customer_milestones WHERE customer_id = NEW.customer_id) = NEW.created_at
        ON CONFLICT (day, bucket) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER events_failed AFTER INSERT ON events WHEN NEW.kind = 'signup.failed' AND NEW.customer_id IS NOT NULL BEGIN
    INSERT INTO cohort_days (day, failed) SELECT day, 1 FROM customer_milestones
        WHERE customer_id = NEW.customer_id AND failed_at IS NULL
        ON CONFLICT (day) DO UPDATE SET failed = failed + 1;
    UPDATE customer_milestones SET failed_at = NEW.created_at WHERE customer_id = NEW.customer_id AND failed_at IS NULL;
    INSERT INTO cohort_failures (day, reason, n)
        SELECT day, coalesce(json_extract(NEW.detail, '$.reason'), 'unknown'), 1 FROM customer_milestones WHERE customer_id = NEW.customer_id
        ON CONFLICT (day, reason) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER events_failed;
DROP TRIGGER events_connected;
DROP TRIGGER events_started;
DROP TRIGGER events_opened;
DROP TRIGGER events_emailed;
DROP TRIGGER events_last_activity;
DROP TRIGGER customers_milestones;
DROP VIEW connect_bucket_of;
DROP TABLE cohort_connect_times;
DROP TABLE cohort_failures;
DROP TABLE cohort_days;
DROP TABLE customer_milestones;
