package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Alert states of the team channel.
const (
	AlertPending = "pending"
	AlertSent    = "sent"
	AlertFailed  = "failed"
)

// AlertQuietPeriod is how long after an alert about a customer the next one is
// suppressed: at most one an hour, whatever the channel.
const AlertQuietPeriod = time.Hour

// Alert is what staff and the team channel were told about a customer.
type Alert struct {
	ID           int64
	CustomerID   int64
	Customer     string
	Kind         string
	Text         string
	Suppressed   bool
	WebhookState string // "" when no team channel was set
	WebhookTries int
	WebhookError string
	WebhookAt    *time.Time
	CreatedAt    time.Time
}

// RaiseAlert records an alert in the workflow's transaction, with its event on the
// customer's timeline. It returns the alert's id, or 0 when another alert about the
// customer went out within the quiet period (recorded as suppressed). webhook says
// whether a team channel is set.
func (tx *Tx) RaiseAlert(ctx context.Context, customerID int64, kind, text string, webhook bool) (int64, error) {
	since := formatTime(tx.db.Now().Add(-AlertQuietPeriod))
	var recent bool
	if err := tx.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM alerts WHERE customer_id = ? AND suppressed = 0 AND created_at > ?)`,
		customerID, since).Scan(&recent); err != nil {
		return 0, fmt.Errorf("store: raise alert: %w", err)
	}
	var state any
	if webhook && !recent {
		state = AlertPending
	}
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO alerts (customer_id, kind, text, suppressed, webhook_state, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		customerID, kind, text, recent, state, tx.db.now())
	if err != nil {
		return 0, fmt.Errorf("store: raise alert: %w", err)
	}
	if recent {
		return 0, nil
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	_, err = tx.AddEvent(ctx, Event{CustomerID: &customerID, Kind: EventStaffAlerted, Detail: map[string]any{"alert": id, "what": kind}})
	return id, err
}

const alertColumns = `a.id, a.customer_id, c.name, a.kind, a.text, a.suppressed, COALESCE(a.webhook_state, ''), a.webhook_tries,
	COALESCE(a.webhook_error, ''), a.webhook_at, a.created_at`

func scanAlert(row interface{ Scan(...any) error }) (*Alert, error) {
	var a Alert
	var at nullTime
	if err := row.Scan(&a.ID, &a.CustomerID, &a.Customer, &a.Kind, &a.Text, &a.Suppressed, &a.WebhookState, &a.WebhookTries,
		&a.WebhookError, &at, timeCol{&a.CreatedAt}); err != nil {
		return nil, err
	}
	a.WebhookAt = at.T
	return &a, nil
}

// AlertByID returns an alert.
func (db *DB) AlertByID(ctx context.Context, id int64) (*Alert, error) {
	a, err := scanAlert(db.queryRow(ctx, `SELECT `+alertColumns+` FROM alerts a JOIN customers c ON c.id = a.customer_id WHERE a.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: alert: %w", err)
	}
	return a, nil
}

// RecordAlertDelivery records a try at the team channel: sent, or its error (state
// failed once the job gives up, pending while it will try again).
func (db *DB) RecordAlertDelivery(ctx context.Context, id int64, state, errText string) error {
	_, err := db.exec(ctx, `UPDATE alerts SET webhook_state = ?, webhook_tries = webhook_tries + 1, webhook_error = ?, webhook_at = ?
		WHERE id = ?`, state, nullString(errText), db.now(), id)
	if err != nil {
		return fmt.Errorf("store: alert delivery: %w", err)
	}
	return nil
}

// RecentAlerts lists the newest alerts (the follow-up settings page shows how the team
// channel fares).
func (db *DB) RecentAlerts(ctx context.Context, limit int) ([]*Alert, error) {
	rows, err := db.query(ctx, `SELECT `+alertColumns+` FROM alerts a JOIN customers c ON c.id = a.customer_id
		ORDER BY a.created_at DESC, a.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: alerts: %w", err)
	}
	defer rows.Close()
	var out []*Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
