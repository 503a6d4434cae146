-- What holding to Kirim's contract (rather than to one reading of it) needs:
-- * customers.kirim_internal_id: the id setup links and some webhooks carry instead of
--   the cus_ id, learnt from Kirim's link listings;
-- * events.dedupe_key: an event recorded at most once per customer, kind and key (a
--   failure per link, reason and attempt; a success per link);
-- * setup_links.attempts: how often the customer set off for Kirim with this link, which
--   tells a new attempt from a reload of the same failure page;
-- * remote_intents.scope: the form (or setting) a remote create belongs to, whose
--   earlier attempts must be settled before a changed request gets a new key.

-- +goose Up
ALTER TABLE customers ADD COLUMN kirim_internal_id TEXT;
CREATE UNIQUE INDEX customers_kirim_internal_id ON customers (kirim_internal_id) WHERE kirim_internal_id IS NOT NULL;
ALTER TABLE events ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX events_dedupe ON events (customer_id, kind, dedupe_key) WHERE dedupe_key IS NOT NULL;
ALTER TABLE setup_links ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE remote_intents ADD COLUMN scope TEXT;
CREATE INDEX remote_intents_scope ON remote_intents (scope) WHERE scope IS NOT NULL;

-- +goose Down
DROP INDEX remote_intents_scope;
ALTER TABLE remote_intents DROP COLUMN scope;
ALTER TABLE setup_links DROP COLUMN attempts;
DROP INDEX events_dedupe;
ALTER TABLE events DROP COLUMN dedupe_key;
DROP INDEX customers_kirim_internal_id;
ALTER TABLE customers DROP COLUMN kirim_internal_id;
