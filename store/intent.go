package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Intent states: pending (sent, or about to be, with no outcome known), done
// (ResultRef names what it made) and failed (Kirim refused it: nothing was made).
const (
	IntentPending = "pending"
	IntentDone    = "done"
	IntentFailed  = "failed"
)

// Intent is a remote write the portal is about to make. Its Key travels as the
// Idempotency-Key, so a retry after a timeout or a crash never creates twice. The Key
// follows the request: the same request keeps it, a changed one gets another, in the
// same Scope (the form it came from).
type Intent struct {
	ID        int64
	Kind      string
	Scope     string
	Key       string
	Request   string
	State     string
	ResultRef string
	LastError string
	CreatedAt time.Time
}

// BeginIntent records an intent (state pending: sent, or about to be, with no known
// outcome), or returns the existing one with the same key (the same request again).
func (db *DB) BeginIntent(ctx context.Context, kind, scope, key, request string) (*Intent, error) {
	now := db.now()
	_, err := db.exec(ctx, `INSERT INTO remote_intents (kind, scope, idem_key, request, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO UPDATE SET updated_at = excluded.updated_at
		WHERE remote_intents.state <> 'done'`, kind, nullString(scope), key, request, now, now)
	if err != nil {
		return nil, fmt.Errorf("store: begin intent: %w", err)
	}
	return db.IntentByKey(ctx, key)
}

const intentColumns = `id, kind, coalesce(scope, ''), idem_key, request, state, coalesce(result_ref, ''), coalesce(last_error, ''), created_at`

func scanIntent(row interface{ Scan(...any) error }) (*Intent, error) {
	var in Intent
	err := row.Scan(&in.ID, &in.Kind, &in.Scope, &in.Key, &in.Request, &in.State, &in.ResultRef, &in.LastError, timeCol{&in.CreatedAt})
	return &in, err
}

// IntentByKey returns an intent.
func (db *DB) IntentByKey(ctx context.Context, key string) (*Intent, error) {
	in, err := scanIntent(db.queryRow(ctx, `SELECT `+intentColumns+` FROM remote_intents WHERE idem_key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: intent: %w", err)
	}
	return in, nil
}

// PendingIntents returns the intents whose outcome is unknown, oldest first.
func (db *DB) PendingIntents(ctx context.Context) ([]*Intent, error) {
	return db.intents(ctx, `state = ?`, IntentPending)
}

// IntentsInScope returns the intents of one scope, oldest first.
func (db *DB) IntentsInScope(ctx context.Context, scope string) ([]*Intent, error) {
	return db.intents(ctx, `scope = ?`, scope)
}

func (db *DB) intents(ctx context.Context, where string, arg any) ([]*Intent, error) {
	rows, err := db.query(ctx, `SELECT `+intentColumns+` FROM remote_intents WHERE `+where+` ORDER BY id`, arg)
	if err != nil {
		return nil, fmt.Errorf("store: intents: %w", err)
	}
	defer rows.Close()
	var out []*Intent
	for rows.Next() {
		in, err := scanIntent(rows)
		if err != nil {
			return nil, fmt.Errorf("store: intents: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// FailIntent records why an intent did not go through. final marks a refusal (the
// request was wrong) as opposed to an outage that a retry may overcome.
func (db *DB) FailIntent(ctx context.Context, key, reason string, final bool) error {
	state := IntentPending
	if final {
		state = IntentFailed
	}
	_, err := db.exec(ctx, `UPDATE remote_intents SET state = ?, last_error = ?, updated_at = ? WHERE idem_key = ? AND state <> ?`,
		state, reason, db.now(), key, IntentDone)
	if err != nil {
		return fmt.Errorf("store: fail intent: %w", err)
	}
	return nil
}

// FinishIntent marks an intent done with a reference to what it produced.
func (db *DB) FinishIntent(ctx context.Context, key, ref string) error {
	return db.InTx(ctx, func(tx *Tx) error { return tx.FinishIntent(ctx, key, ref) })
}
