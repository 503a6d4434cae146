-- Nothing in the database file (or its WAL, or a backup) leads to a customer's landing
-- page without the portal's key:
-- * email bodies carry the landing link: they are kept sealed (AES-GCM, the row id as
--   associated data) in outbox.body_sealed, and body_html/body_text stay empty;
-- * a link's return key is kept as its SHA-256 only (return_key_hash), and the
--   mirrored redirect URLs show it masked.
-- Rows written before this are sealed and hashed by the portal at start-up (sealing
-- needs the key), and return_key is emptied then.

-- +goose Up
ALTER TABLE outbox ADD COLUMN body_sealed BLOB;
ALTER TABLE setup_links ADD COLUMN return_key_hash BLOB;
CREATE UNIQUE INDEX setup_links_return_key_hash ON setup_links (return_key_hash) WHERE return_key_hash IS NOT NULL;

-- +goose Down
DROP INDEX setup_links_return_key_hash;
ALTER TABLE setup_links DROP COLUMN return_key_hash;
ALTER TABLE outbox DROP COLUMN body_sealed;
