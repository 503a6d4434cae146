-- What the customer list needs to stay fast at 100,000 customers: a trigram full-text
-- index for search (name, email, phone numbers) and counters per status and stage kept
-- by triggers, so that neither search nor the counts scan the table.
-- Also: the landing token sealed (AES-GCM) so staff can copy the landing link again;
-- lookups still go through its SHA-256 hash.

-- +goose Up
ALTER TABLE setup_links ADD COLUMN landing_token_sealed BLOB;

CREATE VIRTUAL TABLE customer_search USING fts5(name, email, phones, tokenize = 'trigram');
INSERT INTO customer_search (rowid, name, email, phones)
    SELECT id, name, coalesce(email, ''), '' FROM customers;

CREATE TABLE customer_counts (
    kind  TEXT    NOT NULL, -- 'all', 'status' or 'stage'
    value TEXT    NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
);
INSERT INTO customer_counts (kind, value, n) SELECT 'all', '', count(*) FROM customers;
INSERT INTO customer_counts (kind, value, n) SELECT 'status', status, count(*) FROM customers GROUP BY status;
INSERT INTO customer_counts (kind, value, n) SELECT 'stage', stage, count(*) FROM customers GROUP BY stage;

-- +goose StatementBegin
CREATE TRIGGER customers_ai AFTER INSERT ON customers BEGIN
    INSERT INTO customer_search (rowid, name, email, phones) VALUES (NEW.id, NEW.name, coalesce(NEW.email, ''), '');
    INSERT INTO customer_counts (kind, value, n) VALUES ('all', '', 1)
        ON CONFLICT (kind, value) DO UPDATE SET n = n + 1;
    INSERT INTO customer_counts (kind, value, n) VALUES ('status', NEW.status, 1)
        ON CONFLICT (kind, value) DO UPDATE SET n = n + 1;
    INSERT INTO customer_counts (kind, value, n) VALUES ('stage', NEW.stage, 1)
        ON CONFLICT (kind, value) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER customers_ad AFTER DELETE ON customers BEGIN
    DELETE FROM customer_search WHERE rowid = OLD.id;
    UPDATE customer_counts SET n = n - 1 WHERE (kind, value) IN (VALUES ('all', ''), ('status', OLD.status), ('stage', OLD.stage));
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER customers_au_search AFTER UPDATE OF name, email ON customers BEGIN
    UPDATE customer_search SET name = NEW.name, email = coalesce(NEW.email, '') WHERE rowid = NEW.id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER customers_au_status AFTER UPDATE OF status ON customers WHEN OLD.status <> NEW.status BEGIN
    UPDATE customer_counts SET n = n - 1 WHERE kind = 'status' AND value = OLD.status;
    INSERT INTO customer_counts (kind, value, n) VALUES ('status', NEW.status, 1)
        ON CONFLICT (kind, value) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER customers_au_stage AFTER UPDATE OF stage ON customers WHEN OLD.stage <> NEW.stage BEGIN
    UPDATE customer_counts SET n = n - 1 WHERE kind = 'stage' AND value = OLD.stage;
    INSERT INTO customer_counts (kind, value, n) VALUES ('stage', NEW.stage, 1)
        ON CONFLICT (kind, value) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- Phone numbers are searchable too: keep each customer's list of numbers in the index.
-- +goose StatementBegin
CREATE TRIGGER accounts_ai_search AFTER INSERT ON whatsapp_accounts WHEN NEW.customer_id IS NOT NULL BEGIN
    UPDATE customer_search SET phones = (SELECT coalesce(group_concat(phone_number, ' '), '')
        FROM whatsapp_accounts WHERE customer_id = NEW.customer_id) WHERE rowid = NEW.customer_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER accounts_au_search AFTER UPDATE OF phone_number, customer_id ON whatsapp_accounts BEGIN
    UPDATE customer_search SET phones = (SELECT coalesce(group_concat(phone_number, ' '), '')
        FROM whatsapp_accounts WHERE customer_id = OLD.customer_id) WHERE rowid = OLD.customer_id;
    UPDATE customer_search SET phones = (SELECT coalesce(group_concat(phone_number, ' '), '')
        FROM whatsapp_accounts WHERE customer_id = NEW.customer_id) WHERE rowid = NEW.customer_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER accounts_ad_search AFTER DELETE ON whatsapp_accounts WHEN OLD.customer_id IS NOT NULL BEGIN
    UPDATE customer_search SET phones = (SELECT coalesce(group_concat(phone_number, ' '), '')
        FROM whatsapp_accounts WHERE customer_id = OLD.customer_id) WHERE rowid = OLD.customer_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER accounts_ad_search;
DROP TRIGGER accounts_au_search;
DROP TRIGGER accounts_ai_search;
DROP TRIGGER customers_au_stage;
DROP TRIGGER customers_au_status;
DROP TRIGGER customers_au_search;
DROP TRIGGER customers_ad;
DROP TRIGGER customers_ai;
DROP TABLE customer_counts;
DROP TABLE customer_search;
ALTER TABLE setup_links DROP COLUMN landing_token_sealed;
