-- Bulk onboarding: a batch is a CSV import or a bulk action on chosen customers, one
-- row per line of the file (or per customer), each worked by its own job and paced by
-- the Kirim client. The rows keep their input, their outcome and what they made, so a
-- batch survives a restart, can be paused, cancelled, retried and downloaded.

-- +goose Up
CREATE TABLE batches (
    id          INTEGER PRIMARY KEY,
    -- import, send_link, revoke_links, archive, pause_follow_up
    kind        TEXT    NOT NULL,
    -- the uploaded file's name, or the words of the selection
    title       TEXT    NOT NULL,
    send_links  INTEGER NOT NULL DEFAULT 0,
    -- preview, running, paused, cancelled, done
    state       TEXT    NOT NULL,
    -- the CSV's columns not taken (comma-separated)
    ignored     TEXT,
    actor       TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE batch_rows (
    batch_id    INTEGER NOT NULL REFERENCES batches (id),
    -- the line of the file the row starts on (imports), or its place in the selection
    row         INTEGER NOT NULL,
    -- imports: the row as read (JSON); bulk actions: NULL
    input       TEXT,
    customer_id INTEGER REFERENCES customers (id),
    -- pending, done, skipped (a duplicate, or nothing to do), rejected (invalid),
    -- failed (Kirim refused, or gave up), cancelled
    outcome     TEXT    NOT NULL,
    error       TEXT,
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (batch_id, row)
);
CREATE INDEX batch_rows_outcome ON batch_rows (batch_id, outcome, row);

-- +goose Down
DROP TABLE batch_rows;
DROP TABLE batches;
