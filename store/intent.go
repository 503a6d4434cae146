package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Intent is a remote write the portal is about to make. Its Key travels as the
// Idempotency-Key, so a retry after a timeout or a crash never creates twice.
type Intent struct {
	ID        int64
	Kind      string
	Key       string
	Request   string
	State     string // pending, done, failed
	ResultRef string
	LastError string
	CreatedAt time.Time
}

// BeginIntent records an intent, or returns the existing one with the same key (the
// same form submitted again).
func (db *DB) BeginIntent(ctx context.Context, kind, key, request string) (*Intent, error) {
	now := db.now()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO remote_intents (kind, idem_key, request, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO UPDATE SET request = excluded.request, updated_at = excluded.updated_at
			WHERE remote_intents.state <> 'done'`, kind, key, request, now, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: begin intent: %w", err)
	}
	return db.IntentByKey(ctx, key)
}

// IntentByKey returns an intent.
func (db *DB) IntentByKey(ctx context.Context, key string) (*Intent, error) {
	var in Intent
	var ref, lastErr sql.NullString
	err := db.db.QueryRowContext(ctx, `SELECT id, kind, idem_key, request, state, result_ref, last_error, created_at
		FROM remote_intents WHERE idem_key = ?`, key).Scan(&in.ID, &in.Kind, &in.Key, &in.Request, &in.State, &ref, &lastErr, timeCol{&in.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: intent: %w", err)
	}
	in.ResultRef, in.LastError = ref.String, lastErr.String
	return &in, nil
}

// FailIntent records why an intent did not go through. final marks a refusal (the
// request was wrong) as opposed to an outage that a retry may overcome.
func (db *DB) FailIntent(ctx context.Context, key, reason string, final bool) error {
	state := "pending"
	if final {
		state = "failed"
	}
	_, err := db.db.ExecContext(ctx, `UPDATE remote_intents SET state = ?, last_error = ?, updated_at = ? WHERE idem_key = ? AND state <> 'done'`,
		state, reason, db.now(), key)
	if err != nil {
		return fmt.Errorf("store: fail intent: %w", err)
	}
	return nil
}

// FinishIntent marks an intent done with a reference to what it produced.
func (db *DB) FinishIntent(ctx context.Context, key, ref string) error {
	_, err := db.db.ExecContext(ctx, `UPDATE remote_intents SET state = 'done', result_ref = ?, last_error = NULL, updated_at = ? WHERE idem_key = ?`,
		ref, db.now(), key)
	if err != nil {
		return fmt.Errorf("store: finish intent: %w", err)
	}
	return nil
}
