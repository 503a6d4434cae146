-- Kirim's own account id (wba_…, when it sends one) identifies an account before Meta
-- has given it a phone_number_id. Webhook secrets are sealed in settings (no schema).

-- +goose Up
ALTER TABLE whatsapp_accounts ADD COLUMN kirim_id TEXT;
CREATE UNIQUE INDEX whatsapp_accounts_kirim_id ON whatsapp_accounts (kirim_id) WHERE kirim_id IS NOT NULL;

-- +goose Down
DROP INDEX whatsapp_accounts_kirim_id;
ALTER TABLE whatsapp_accounts DROP COLUMN kirim_id;
