-- The customer list pages by id (newest first); filters by status and stage use these
-- indexes, whose implicit last column is the id. The created_at ones are no longer read.

-- +goose Up
DROP INDEX customers_newest;
DROP INDEX customers_status_newest;
DROP INDEX customers_stage_newest;
CREATE INDEX customers_status ON customers (status);
CREATE INDEX customers_stage ON customers (stage);

-- +goose Down
DROP INDEX customers_stage;
DROP INDEX customers_status;
CREATE INDEX customers_status_newest ON customers (status, created_at DESC, id DESC);
CREATE INDEX customers_stage_newest ON customers (stage, created_at DESC, id DESC);
CREATE INDEX customers_newest ON customers (created_at DESC, id DESC);
