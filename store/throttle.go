package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Limit is at most Max attempts per Scope within a window.
type Limit struct {
	Scope string
	Max   int
}

// Reservation is an attempt counted against its limits; Release takes it back.
type Reservation struct{ ids []int64 }

// ReserveAttempt counts an attempt against every limit within window, in one
// transaction: when any limit is reached, nothing is counted and ok is false. Many
// requests at once can therefore never get past a limit together.
func (db *DB) ReserveAttempt(ctx context.Context, window time.Duration, limits ...Limit) (res Reservation, ok bool, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		now := db.Now()
		since := formatTime(now.Add(-window))
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_attempts WHERE at < ?`, since); err != nil {
			return err
		}
		for _, l := range limits {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM login_attempts WHERE scope = ? AND at >= ?`, l.Scope, since).Scan(&n); err != nil {
				return err
			}
			if n >= l.Max {
				return nil
			}
		}
		for _, l := range limits {
			r, err := tx.ExecContext(ctx, `INSERT INTO login_attempts (scope, at) VALUES (?, ?)`, l.Scope, formatTime(now))
			if err != nil {
				return err
			}
			id, _ := r.LastInsertId()
			res.ids = append(res.ids, id)
		}
		ok = true
		return nil
	})
	if err != nil {
		return Reservation{}, false, fmt.Errorf("store: reserve attempt: %w", err)
	}
	return res, ok, nil
}

// ReleaseAttempt takes back a reservation (the attempt was not made after all).
func (db *DB) ReleaseAttempt(ctx context.Context, r Reservation) error {
	if len(r.ids) == 0 {
		return nil
	}
	args := make([]any, len(r.ids))
	for i, id := range r.ids {
		args[i] = id
	}
	_, err := db.exec(ctx, `DELETE FROM login_attempts WHERE id IN (?`+strings.Repeat(",?", len(args)-1)+`)`, args...)
	if err != nil {
		return fmt.Errorf("store: release attempt: %w", err)
	}
	return nil
}

// ClearAttempts forgets the attempts of a scope (a successful sign-in).
func (db *DB) ClearAttempts(ctx context.Context, scope string) error {
	if _, err := db.exec(ctx, `DELETE FROM login_attempts WHERE scope = ?`, scope); err != nil {
		return fmt.Errorf("store: clear attempts: %w", err)
	}
	return nil
}
