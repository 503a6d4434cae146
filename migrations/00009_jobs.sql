-- Background work moves onto River (its own tables, migrated beside these):
-- * a webhook delivery's body is kept with its event id, for the job that applies it;
-- * a template sync belongs to the job that runs it (a retried job finishes the same
--   row, and its Idempotency-Key is the same) and, for "sync all", to its run;
-- * sync_runs counts a "sync all" as its jobs finish.

-- +goose Up
ALTER TABLE webhook_events ADD COLUMN body TEXT;
ALTER TABLE template_syncs ADD COLUMN job_id INTEGER;
ALTER TABLE template_syncs ADD COLUMN run_id INTEGER;
CREATE UNIQUE INDEX template_syncs_job ON template_syncs (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX template_syncs_run ON template_syncs (run_id, finished_at) WHERE run_id IS NOT NULL;
CREATE TABLE sync_runs (
    id          INTEGER PRIMARY KEY,
    actor       TEXT    NOT NULL,
    total       INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT    NOT NULL,
    finished_at TEXT
);

-- +goose Down
DROP TABLE sync_runs;
DROP INDEX template_syncs_run;
DROP INDEX template_syncs_job;
ALTER TABLE template_syncs DROP COLUMN run_id;
ALTER TABLE template_syncs DROP COLUMN job_id;
ALTER TABLE webhook_events DROP COLUMN body;
