package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// WebhookSettings is the registered Kirim webhook subscription.
type WebhookSettings struct {
	SubscriptionID string `json:"subscription_id"`
	URL            string `json:"url"`
	// Secrets are sealed; WebhookSecrets opens them.
	SealedSecrets []string `json:"sealed_secrets"`
}

var webhookAAD = []byte("settings/webhook/secret")

// SaveWebhook stores the subscription with its signing secret sealed. Older secrets are
// kept (Kirim signs with every active secret during a rotation).
func (db *DB) SaveWebhook(ctx context.Context, subscriptionID, url, secret string) error {
	if db.keys == nil {
		return errors.New("store: save webhook: no keys to seal secrets with")
	}
	w, err := db.Webhook(ctx)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if w == nil || w.SubscriptionID != subscriptionID {
		w = &WebhookSettings{}
	}
	w.SubscriptionID, w.URL = subscriptionID, url
	w.SealedSecrets = append(w.SealedSecrets, base64.StdEncoding.EncodeToString(db.keys.Seal([]byte(secret), webhookAAD)))
	raw, _ := json.Marshal(w)
	_, err = db.db.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ('webhook', ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, string(raw), db.now())
	if err != nil {
		return fmt.Errorf("store: save webhook: %w", err)
	}
	return nil
}

// Webhook returns the registered subscription.
func (db *DB) Webhook(ctx context.Context) (*WebhookSettings, error) {
	var raw string
	if err := db.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'webhook'`).Scan(&raw); err != nil {
		return nil, ErrNotFound
	}
	var w WebhookSettings
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return nil, fmt.Errorf("store: webhook: %w", err)
	}
	return &w, nil
}

// WebhookSecrets opens the signing secrets.
func (db *DB) WebhookSecrets(ctx context.Context) ([]string, error) {
	w, err := db.Webhook(ctx)
	if err != nil {
		return nil, err
	}
	if db.keys == nil {
		return nil, errors.New("store: no keys to open secrets with")
	}
	var out []string
	for _, s := range w.SealedSecrets {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			continue
		}
		if plain, err := db.keys.Open(b, webhookAAD); err == nil {
			out = append(out, string(plain))
		}
	}
	return out, nil
}

// RecordWebhookEvent notes a delivery's event id; fresh is false for one seen before.
func (db *DB) RecordWebhookEvent(ctx context.Context, eventID, typ string) (fresh bool, err error) {
	res, err := db.db.ExecContext(ctx, `INSERT INTO webhook_events (event_id, type, received_at) VALUES (?, ?, ?)
		ON CONFLICT (event_id) DO NOTHING`, eventID, typ, db.now())
	if err != nil {
		return false, fmt.Errorf("store: webhook event: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
