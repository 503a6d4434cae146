package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Event is one entry of a customer's timeline.
type Event struct {
	ID         int64
	CustomerID *int64
	Kind       EventKind
	Actor      string
	Detail     map[string]any
	CreatedAt  time.Time
	// Key, when set, records the event at most once per customer and kind: a second
	// event with the same key is dropped (a reload, a repeated delivery).
	Key string
}

// AddEvent appends an event to the timeline. An event whose Key was recorded before is
// dropped, and its id is then 0.
func (db *DB) AddEvent(ctx context.Context, e Event) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = db.addEvent(ctx, tx, e)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: add event: %w", err)
	}
	return id, nil
}

const (
	insertEvent = `INSERT INTO events (customer_id, kind, actor, detail, created_at, dedupe_key) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (customer_id, kind, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`
	countEventsSince = `SELECT count(*) FROM events WHERE customer_id = ? AND kind = ? AND created_at >= ?`
)

func (db *DB) addEvent(ctx context.Context, tx *sql.Tx, e Event) (int64, error) {
	if e.Actor == "" {
		e.Actor = "system"
	}
	var detail any
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return 0, err
		}
		detail = string(b)
	}
	created := db.now()
	if !e.CreatedAt.IsZero() {
		created = formatTime(e.CreatedAt)
	}
	res, err := db.txExec(ctx, tx, insertEvent, e.CustomerID, e.Kind, e.Actor, detail, created, nullString(e.Key))
	if err != nil {
		return 0, err
	}
	if e.CustomerID != nil {
		db.touch(*e.CustomerID)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil || db.eventHook == nil {
		return id, err
	}
	e.ID = id
	if e.CreatedAt.IsZero() {
		e.CreatedAt = parseTime(created)
	}
	return id, db.eventHook(ctx, &Tx{tx: tx, db: db}, e)
}

// Events returns a customer's timeline, newest first, at most limit rows before the
// keyset (beforeTime, beforeID); pass a zero time for the first page.
func (db *DB) Events(ctx context.Context, customerID int64, before time.Time, beforeID int64, limit int) ([]Event, error) {
	q := `SELECT id, customer_id, kind, actor, detail, created_at FROM events WHERE customer_id = ?`
	args := []any{customerID}
	if !before.IsZero() {
		q += ` AND (created_at, id) < (?, ?)`
		args = append(args, formatTime(before), beforeID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	return db.eventRows(ctx, q, append(args, limit)...)
}

func (db *DB) eventRows(ctx context.Context, q string, args ...any) ([]Event, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var detail sql.NullString
		if err := rows.Scan(&e.ID, &e.CustomerID, &e.Kind, &e.Actor, &detail, timeCol{&e.CreatedAt}); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		if detail.Valid {
			json.Unmarshal([]byte(detail.String), &e.Detail)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AddEventOnce appends the event unless the customer already has one of the same kind
// since the given time (a reload, a repeated redirect). Check and insert share one
// immediate transaction, so two requests at once still record it once.
func (db *DB) AddEventOnce(ctx context.Context, e Event, since time.Time) (added bool, err error) {
	err = db.InTx(ctx, func(tx *Tx) error {
		added, err = tx.AddEventOnce(ctx, e, since)
		return err
	})
	return added, err
}

// AddEventOnce is DB.AddEventOnce in the transaction.
func (tx *Tx) AddEventOnce(ctx context.Context, e Event, since time.Time) (bool, error) {
	var n int
	if err := tx.db.txQueryRow(ctx, tx.tx, countEventsSince, e.CustomerID, e.Kind, formatTime(since)).Scan(&n); err != nil || n > 0 {
		return false, err
	}
	id, err := tx.db.addEvent(ctx, tx.tx, e)
	if err != nil {
		return false, fmt.Errorf("store: add event once: %w", err)
	}
	return id != 0, nil
}

// CountEvents counts a customer's events of one kind since a time.
func (db *DB) CountEvents(ctx context.Context, customerID int64, kind EventKind, since time.Time) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT count(*) FROM events WHERE customer_id = ? AND kind = ? AND created_at >= ?`,
		customerID, kind, formatTime(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count events: %w", err)
	}
	return n, nil
}

// EventTimes lists when a customer's events of a kind happened since a moment, oldest
// first.
func (db *DB) EventTimes(ctx context.Context, customerID int64, kind EventKind, since time.Time) ([]time.Time, error) {
	times, err := column[string](db.query(ctx, `SELECT created_at FROM events WHERE customer_id = ? AND kind = ? AND created_at >= ?
		ORDER BY created_at`, customerID, kind, formatTime(since)))
	if err != nil {
		return nil, fmt.Errorf("store: event times: %w", err)
	}
	out := make([]time.Time, len(times))
	for i, t := range times {
		out[i] = parseTime(t)
	}
	return out, nil
}

// EventByID returns one event of a customer, or ErrNotFound.
func (db *DB) EventByID(ctx context.Context, customerID, id int64) (*Event, error) {
	events, err := db.eventRows(ctx, `SELECT id, customer_id, kind, actor, detail, created_at FROM events WHERE customer_id = ? AND id = ?`, customerID, id)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, ErrNotFound
	}
	return &events[0], nil
}
