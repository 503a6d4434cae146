package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// WebhookSubscription is one Kirim webhook subscription the portal made.
type WebhookSubscription struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// SealedSecrets are its signing secrets, sealed; WebhookSecrets opens them.
	SealedSecrets []string `json:"sealed_secrets"`
	// ReplacedAt is when a newer subscription took over; the portal then asks Kirim to
	// delete this one, and DeleteError says why Kirim still has it.
	ReplacedAt  *time.Time `json:"replaced_at,omitempty"`
	DeleteError string     `json:"delete_error,omitempty"`
}

// WebhookSettings are the portal's Kirim webhook subscriptions: the current one and
// any replaced one Kirim may still deliver from. Every one's secrets are kept until it
// is deleted, so that no delivery of a subscription the portal made fails its check.
type WebhookSettings struct {
	Subscriptions []WebhookSubscription `json:"subscriptions"`

	// Before schema 6 one subscription was kept in these fields; reading moves them.
	SubscriptionID string   `json:"subscription_id,omitempty"`
	URL            string   `json:"url,omitempty"`
	SealedSecrets  []string `json:"sealed_secrets,omitempty"`
}

// Current returns the subscription in use, or nil.
func (w *WebhookSettings) Current() *WebhookSubscription {
	for i := len(w.Subscriptions) - 1; i >= 0; i-- {
		if w.Subscriptions[i].ReplacedAt == nil {
			return &w.Subscriptions[i]
		}
	}
	return nil
}

// Replaced returns the subscriptions a newer one took over that Kirim may still have.
func (w *WebhookSettings) Replaced() []WebhookSubscription {
	var out []WebhookSubscription
	for _, s := range w.Subscriptions {
		if s.ReplacedAt != nil {
			out = append(out, s)
		}
	}
	return out
}

var webhookAAD = []byte("settings/webhook/secret")

// SaveWebhook stores a subscription with its signing secret sealed, and makes it the
// current one: any other becomes replaced. A secret already kept is not added twice;
// an added one joins the subscription's others (Kirim signs with every active secret
// during a rotation).
func (db *DB) SaveWebhook(ctx context.Context, subscriptionID, url, secret string) error {
	if db.keys == nil {
		return errors.New("store: save webhook: no keys to seal secrets with")
	}
	return db.updateWebhook(ctx, func(w *WebhookSettings) error {
		now := db.Now().UTC()
		i := slices.IndexFunc(w.Subscriptions, func(s WebhookSubscription) bool { return s.ID == subscriptionID })
		if i < 0 {
			w.Subscriptions = append(w.Subscriptions, WebhookSubscription{ID: subscriptionID})
			i = len(w.Subscriptions) - 1
		}
		sub := &w.Subscriptions[i]
		sub.URL, sub.ReplacedAt, sub.DeleteError = url, nil, ""
		if !slices.Contains(db.openSecrets(sub.SealedSecrets), secret) {
			sub.SealedSecrets = append(sub.SealedSecrets, base64.StdEncoding.EncodeToString(db.keys.Seal([]byte(secret), webhookAAD)))
		}
		for j := range w.Subscriptions {
			if j != i && w.Subscriptions[j].ReplacedAt == nil {
				w.Subscriptions[j].ReplacedAt = &now
			}
		}
		// The current one goes last.
		cur := w.Subscriptions[i]
		w.Subscriptions = append(slices.Delete(w.Subscriptions, i, i+1), cur)
		return nil
	})
}

// DropWebhook forgets a subscription Kirim has deleted, with its secrets.
func (db *DB) DropWebhook(ctx context.Context, subscriptionID string) error {
	return db.updateWebhook(ctx, func(w *WebhookSettings) error {
		w.Subscriptions = slices.DeleteFunc(w.Subscriptions, func(s WebhookSubscription) bool { return s.ID == subscriptionID })
		return nil
	})
}

// SetWebhookDeleteError records why a replaced subscription could not be deleted.
func (db *DB) SetWebhookDeleteError(ctx context.Context, subscriptionID, reason string) error {
	return db.updateWebhook(ctx, func(w *WebhookSettings) error {
		for i := range w.Subscriptions {
			if w.Subscriptions[i].ID == subscriptionID {
				w.Subscriptions[i].DeleteError = reason
			}
		}
		return nil
	})
}

// updateWebhook reads, changes and writes the webhook settings in one transaction.
func (db *DB) updateWebhook(ctx context.Context, change func(*WebhookSettings) error) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		w, err := readWebhook(ctx, tx)
		if errors.Is(err, ErrNotFound) {
			w, err = &WebhookSettings{}, nil
		}
		if err != nil {
			return err
		}
		if err := change(w); err != nil {
			return err
		}
		raw, err := json.Marshal(w)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ('webhook', ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, string(raw), db.now())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: webhook settings: %w", err)
	}
	return nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readWebhook(ctx context.Context, q queryer) (*WebhookSettings, error) {
	var raw string
	if err := q.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'webhook'`).Scan(&raw); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	var w WebhookSettings
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return nil, err
	}
	if w.SubscriptionID != "" {
		w.Subscriptions = append(w.Subscriptions, WebhookSubscription{ID: w.SubscriptionID, URL: w.URL, SealedSecrets: w.SealedSecrets})
		w.SubscriptionID, w.URL, w.SealedSecrets = "", "", nil
	}
	return &w, nil
}

// Webhook returns the webhook settings; ErrNotFound when no subscription was ever made.
func (db *DB) Webhook(ctx context.Context) (*WebhookSettings, error) {
	w, err := readWebhook(ctx, db.db)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("store: webhook: %w", err)
	}
	if err == nil && len(w.Subscriptions) == 0 {
		err = ErrNotFound
	}
	return w, err
}

// WebhookSecrets opens the signing secrets of every kept subscription.
func (db *DB) WebhookSecrets(ctx context.Context) ([]string, error) {
	w, err := db.Webhook(ctx)
	if err != nil {
		return nil, err
	}
	if db.keys == nil {
		return nil, errors.New("store: no keys to open secrets with")
	}
	var out []string
	for _, s := range w.Subscriptions {
		out = append(out, db.openSecrets(s.SealedSecrets)...)
	}
	return out, nil
}

func (db *DB) openSecrets(sealed []string) []string {
	var out []string
	for _, s := range sealed {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			continue
		}
		if plain, err := db.keys.Open(b, webhookAAD); err == nil {
			out = append(out, string(plain))
		}
	}
	return out
}

// RecordWebhookEvent keeps a delivery's event id and body; fresh is false for an event
// seen before (at-least-once delivery).
func (tx *Tx) RecordWebhookEvent(ctx context.Context, eventID, typ string, body []byte) (fresh bool, err error) {
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO webhook_events (event_id, type, received_at, body) VALUES (?, ?, ?, ?)
		ON CONFLICT (event_id) DO NOTHING`, eventID, typ, tx.db.now(), string(body))
	if err != nil {
		return false, fmt.Errorf("store: webhook event: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// WebhookEventBody returns a kept delivery's body.
func (db *DB) WebhookEventBody(ctx context.Context, eventID string) ([]byte, error) {
	var body sql.NullString
	err := db.queryRow(ctx, `SELECT body FROM webhook_events WHERE event_id = ?`, eventID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: webhook event: %w", err)
	}
	return []byte(body.String), nil
}
