package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kirim-portal/portal/store/secret"
)

// API token scopes.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// NewAPITokenSecret makes a token: a recognisable prefix (secret scanners look for it)
// and 192 random bits.
func NewAPITokenSecret() string { return "kpt_" + secret.NewToken(24) }

// APIToken is a token the platform's backend calls the API with. Only its SHA-256 is
// kept; the token itself is shown once.
type APIToken struct {
	ID         int64
	Name       string
	Scope      string
	Last4      string
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// CreateAPIToken stores a new token (its hash) and audits it.
func (db *DB) CreateAPIToken(ctx context.Context, name, scope, token, actor string) (*APIToken, error) {
	sum := sha256.Sum256([]byte(token))
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		if err := tx.QueryRowContext(ctx, `INSERT INTO api_tokens (name, scope, hash, last4, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, name, scope, sum[:], token[len(token)-4:], actor, now).Scan(&id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_audit (token_id, action, actor, created_at) VALUES (?, 'token.created', ?, ?)`, id, actor, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: create token: %w", err)
	}
	return db.APITokenByID(ctx, id)
}

const apiTokenColumns = `id, name, scope, last4, created_by, created_at, last_used_at, revoked_at`

func scanAPIToken(row interface{ Scan(...any) error }) (*APIToken, error) {
	var t APIToken
	var created string
	var used, revoked nullTime
	if err := row.Scan(&t.ID, &t.Name, &t.Scope, &t.Last4, &t.CreatedBy, &created, &used, &revoked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = parseTime(created), used.T, revoked.T
	return &t, nil
}

// APITokenByID returns a token, revoked or not, or ErrNotFound.
func (db *DB) APITokenByID(ctx context.Context, id int64) (*APIToken, error) {
	return scanAPIToken(db.queryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE id = ?`, id))
}

// APITokenFor returns the live token a bearer presents, or ErrNotFound (unknown or
// revoked), and notes its use (once a minute at most: reads stay reads).
func (db *DB) APITokenFor(ctx context.Context, token string) (*APIToken, error) {
	sum := sha256.Sum256([]byte(token))
	t, err := scanAPIToken(db.queryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE hash = ? AND revoked_at IS NULL`, sum[:]))
	if err != nil {
		return nil, err
	}
	if now := db.Now(); t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if _, err := db.exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, formatTime(now), t.ID); err != nil {
			return nil, fmt.Errorf("store: token used: %w", err)
		}
	}
	return t, nil
}

// APITokens lists every token, newest first.
func (db *DB) APITokens(ctx context.Context) ([]*APIToken, error) {
	rows, err := db.query(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	defer rows.Close()
	var out []*APIToken
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAPIToken revokes a token at once and audits it; ErrNotFound when there is no
// such live token.
func (db *DB) RevokeAPIToken(ctx context.Context, id int64, actor string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, now, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO api_audit (token_id, action, actor, created_at) VALUES (?, 'token.revoked', ?, ?)`, id, actor, now)
		return err
	})
}

// AuditAPI records what a token did.
func (db *DB) AuditAPI(ctx context.Context, tokenID int64, action, actor string) error {
	_, err := db.exec(ctx, `INSERT INTO api_audit (token_id, action, actor, created_at) VALUES (?, ?, ?, ?)`, tokenID, action, actor, db.now())
	return err
}

// APIAuditEntry is one line of the audit list.
type APIAuditEntry struct {
	Token     string
	Action    string
	Actor     string
	CreatedAt time.Time
}

// APIAudit lists the newest audit entries.
func (db *DB) APIAudit(ctx context.Context, limit int) ([]APIAuditEntry, error) {
	rows, err := db.query(ctx, `SELECT COALESCE(t.name, ''), a.action, a.actor, a.created_at FROM api_audit a
		LEFT JOIN api_tokens t ON t.id = a.token_id ORDER BY a.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	defer rows.Close()
	var out []APIAuditEntry
	for rows.Next() {
		var e APIAuditEntry
		var at string
		if err := rows.Scan(&e.Token, &e.Action, &e.Actor, &at); err != nil {
			return nil, err
		}
		e.CreatedAt = parseTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// IdempotentAnswer is the answer kept for an Idempotency-Key.
type IdempotentAnswer struct {
	Request  []byte
	Status   int
	Response []byte
}

// IdempotencyTTL is how long an answer is replayed.
const IdempotencyTTL = 24 * time.Hour

// IdempotentAnswerFor returns the answer kept for a token's key within the last 24
// hours, or ErrNotFound.
func (db *DB) IdempotentAnswerFor(ctx context.Context, tokenID int64, key string) (*IdempotentAnswer, error) {
	var a IdempotentAnswer
	err := db.queryRow(ctx, `SELECT request, status, response FROM api_idempotency WHERE token_id = ? AND key = ? AND created_at > ?`,
		tokenID, key, formatTime(db.Now().Add(-IdempotencyTTL))).Scan(&a.Request, &a.Status, &a.Response)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &a, err
}

// KeepIdempotentAnswer keeps the answer to a key (replacing an expired one) and drops
// answers older than a day.
func (db *DB) KeepIdempotentAnswer(ctx context.Context, tokenID int64, key string, a IdempotentAnswer) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		now := db.Now()
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_idempotency WHERE created_at <= ?`, formatTime(now.Add(-IdempotencyTTL))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_idempotency (token_id, key, request, status, response, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (token_id, key) DO NOTHING`, tokenID, key, a.Request, a.Status, a.Response, formatTime(now))
		return err
	})
}
