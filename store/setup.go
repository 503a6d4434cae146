package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// KirimCheck is the last check of the Kirim API key: when, and what Kirim said (the
// organisation's name) or why it failed.
type KirimCheck struct {
	At           time.Time `json:"at"`
	Organization string    `json:"organization,omitempty"`
	Error        string    `json:"error,omitempty"`
}

// LastKirimCheck returns the last check of the Kirim key (zero At: never checked).
func (db *DB) LastKirimCheck(ctx context.Context) (KirimCheck, error) {
	var c KirimCheck
	var raw string
	err := db.queryRow(ctx, `SELECT value FROM settings WHERE key = 'kirim_check'`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("store: kirim check: %w", err)
	}
	return c, json.Unmarshal([]byte(raw), &c)
}

// SaveKirimCheck records a check of the Kirim key.
func (db *DB) SaveKirimCheck(ctx context.Context, c KirimCheck) error {
	raw, _ := json.Marshal(c)
	_, err := db.exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ('kirim_check', ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, string(raw), db.now())
	if err != nil {
		return fmt.Errorf("store: save kirim check: %w", err)
	}
	return nil
}

// LatestEmailOfKind returns the newest email of a kind (ErrNotFound: none yet).
func (db *DB) LatestEmailOfKind(ctx context.Context, kind string) (*Email, error) {
	var id int64
	err := db.queryRow(ctx, `SELECT id FROM outbox WHERE kind = ? ORDER BY id DESC LIMIT 1`, kind).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: latest email: %w", err)
	}
	return db.EmailByID(ctx, id)
}
