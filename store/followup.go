package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// FollowUpPolicy is how the portal chases customers who have not connected: what the
// follow-up settings page edits.
type FollowUpPolicy struct {
	// Enabled turns reminders and fresh links on (alerts follow their own settings).
	Enabled bool `json:"enabled"`
	// UnopenedAfterHours: a reminder this long after the link email when the landing
	// page was not opened (0: none).
	UnopenedAfterHours int `json:"unopened_after_hours"`
	// BeforeExpiryHours: a reminder this long before the link expires when the customer
	// has not connected (0: none).
	BeforeExpiryHours int `json:"before_expiry_hours"`
	// MaxReminders bounds the reminders about one link.
	MaxReminders int `json:"max_reminders"`
	// WindowStart and WindowEnd are the hours (customer's time) reminders go out in.
	WindowStart int `json:"window_start"`
	WindowEnd   int `json:"window_end"`
	// DefaultTimeZone is the zone of customers whose language implies none (IANA name).
	DefaultTimeZone string `json:"default_time_zone"`
	// FreshLinkOnExpiry emails a fresh link, once a customer, when the link expires
	// unused.
	FreshLinkOnExpiry bool `json:"fresh_link_on_expiry"`
	// AlertWebhookSealed is the team channel's webhook URL, sealed (it holds a token);
	// PORTAL_ALERT_WEBHOOK_URL, when set, takes its place.
	AlertWebhookSealed []byte `json:"alert_webhook_sealed,omitempty"`
}

// DefaultFollowUpPolicy is what a fresh install does.
func DefaultFollowUpPolicy() FollowUpPolicy {
	return FollowUpPolicy{Enabled: true, UnopenedAfterHours: 48, BeforeExpiryHours: 24, MaxReminders: 2,
		WindowStart: 8, WindowEnd: 20, DefaultTimeZone: "UTC", FreshLinkOnExpiry: true}
}

// FollowUpPolicy returns the saved policy, or the defaults.
func (db *DB) FollowUpPolicy(ctx context.Context) (FollowUpPolicy, error) {
	p := DefaultFollowUpPolicy()
	var raw string
	err := db.queryRow(ctx, `SELECT value FROM settings WHERE key = 'follow_up'`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("store: follow-up policy: %w", err)
	}
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return DefaultFollowUpPolicy(), fmt.Errorf("store: follow-up policy: %w", err)
	}
	return p, nil
}

// SaveFollowUpPolicy stores the policy with its event and has every planned follow-up
// worked out again under it, in one transaction.
func (tx *Tx) SaveFollowUpPolicy(ctx context.Context, p FollowUpPolicy, ev Event) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	now := tx.db.now()
	if _, err := tx.tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ('follow_up', ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, string(raw), now); err != nil {
		return fmt.Errorf("store: save follow-up policy: %w", err)
	}
	if _, err := tx.tx.ExecContext(ctx, `UPDATE follow_ups SET due_at = ? WHERE due_at IS NOT NULL`, now); err != nil {
		return fmt.Errorf("store: replan follow-ups: %w", err)
	}
	_, err = tx.AddEvent(ctx, ev)
	return err
}

// SealAlertWebhook seals the team channel's URL for the policy ("" clears it).
func (db *DB) SealAlertWebhook(url string) []byte {
	if url == "" {
		return nil
	}
	return db.keys.Seal([]byte(url), []byte("alert_webhook"))
}

// AlertWebhook opens the sealed URL of the policy ("" when none).
func (db *DB) AlertWebhook(p FollowUpPolicy) (string, error) {
	if len(p.AlertWebhookSealed) == 0 {
		return "", nil
	}
	b, err := db.keys.Open(p.AlertWebhookSealed, []byte("alert_webhook"))
	if err != nil {
		return "", fmt.Errorf("store: alert webhook: %w", err)
	}
	return string(b), nil
}

// FollowUp is where a customer's follow-up stands.
type FollowUp struct {
	CustomerID int64
	// DueAt is when it is next worked on (nil: nothing planned).
	DueAt          *time.Time
	LinkID         int64
	UnopenedSentAt *time.Time
	ExpiringSentAt *time.Time
	RemindersSent  int
	ExhaustedAt    *time.Time
	FreshLinkAt    *time.Time
}

// PlanFollowUp asks for a customer's follow-up to be worked out at a time (now, when a
// link email goes out), keeping an earlier plan.
func (tx *Tx) PlanFollowUp(ctx context.Context, customerID int64, at time.Time) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO follow_ups (customer_id, due_at, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (customer_id) DO UPDATE SET due_at = CASE WHEN follow_ups.due_at IS NULL OR excluded.due_at < follow_ups.due_at
			THEN excluded.due_at ELSE follow_ups.due_at END, updated_at = excluded.updated_at`,
		customerID, formatTime(at), tx.db.now())
	if err != nil {
		return fmt.Errorf("store: plan follow-up: %w", err)
	}
	return nil
}

// FollowUpOf returns a customer's follow-up, or ErrNotFound.
func (db *DB) FollowUpOf(ctx context.Context, customerID int64) (*FollowUp, error) {
	return scanFollowUp(db.queryRow(ctx, `SELECT `+followUpColumns+` FROM follow_ups WHERE customer_id = ?`, customerID))
}

// FollowUpOf is DB.FollowUpOf in the transaction.
func (tx *Tx) FollowUpOf(ctx context.Context, customerID int64) (*FollowUp, error) {
	return scanFollowUp(tx.tx.QueryRowContext(ctx, `SELECT `+followUpColumns+` FROM follow_ups WHERE customer_id = ?`, customerID))
}

const followUpColumns = `customer_id, due_at, COALESCE(link_id, 0), unopened_sent_at, expiring_sent_at, reminders_sent, exhausted_at, fresh_link_at`

func scanFollowUp(row *sql.Row) (*FollowUp, error) {
	var f FollowUp
	var due, unopened, expiring, exhausted, fresh nullTime
	err := row.Scan(&f.CustomerID, &due, &f.LinkID, &unopened, &expiring, &f.RemindersSent, &exhausted, &fresh)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: follow-up: %w", err)
	}
	f.DueAt, f.UnopenedSentAt, f.ExpiringSentAt, f.ExhaustedAt, f.FreshLinkAt = due.T, unopened.T, expiring.T, exhausted.T, fresh.T
	return &f, nil
}

// SaveFollowUp stores where a customer's follow-up stands (the follow-up job's write).
func (tx *Tx) SaveFollowUp(ctx context.Context, f FollowUp) error {
	t := func(p *time.Time) any {
		if p == nil {
			return nil
		}
		return formatTime(*p)
	}
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO follow_ups (customer_id, due_at, link_id, unopened_sent_at, expiring_sent_at,
		reminders_sent, exhausted_at, fresh_link_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (customer_id) DO UPDATE SET due_at = excluded.due_at, link_id = excluded.link_id,
			unopened_sent_at = excluded.unopened_sent_at, expiring_sent_at = excluded.expiring_sent_at,
			reminders_sent = excluded.reminders_sent, exhausted_at = excluded.exhausted_at,
			fresh_link_at = excluded.fresh_link_at, updated_at = excluded.updated_at`,
		f.CustomerID, t(f.DueAt), nullInt(f.LinkID), t(f.UnopenedSentAt), t(f.ExpiringSentAt), f.RemindersSent,
		t(f.ExhaustedAt), t(f.FreshLinkAt), tx.db.now())
	if err != nil {
		return fmt.Errorf("store: save follow-up: %w", err)
	}
	tx.db.touch(f.CustomerID)
	return nil
}

// DueFollowUps lists the customers whose follow-up is due at now, earliest first, at
// most limit (through the index on the due time).
func (db *DB) DueFollowUps(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	return db.ids(ctx, `SELECT customer_id FROM follow_ups WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?`,
		formatTime(now), limit)
}

// SetFollowUpPaused pauses or resumes a customer's follow-up, with its event; resuming
// has the follow-up worked out again at once.
func (tx *Tx) SetFollowUpPaused(ctx context.Context, customerID int64, paused bool, ev Event) error {
	if _, err := tx.tx.ExecContext(ctx, `UPDATE customers SET follow_up_paused = ?, updated_at = ? WHERE id = ?`,
		paused, tx.db.now(), customerID); err != nil {
		return fmt.Errorf("store: pause follow-up: %w", err)
	}
	if !paused {
		if _, err := tx.tx.ExecContext(ctx, `UPDATE follow_ups SET due_at = ? WHERE customer_id = ?`, tx.db.now(), customerID); err != nil {
			return fmt.Errorf("store: resume follow-up: %w", err)
		}
	}
	ev.CustomerID = &customerID
	_, err := tx.AddEvent(ctx, ev)
	return err
}

// SetCustomerTimeZone sets the zone a customer's reminders are timed in ("": from the
// language), with its event, and has its follow-up worked out again.
func (tx *Tx) SetCustomerTimeZone(ctx context.Context, customerID int64, zone string, ev Event) error {
	if _, err := tx.tx.ExecContext(ctx, `UPDATE customers SET time_zone = ?, updated_at = ? WHERE id = ?`,
		nullString(zone), tx.db.now(), customerID); err != nil {
		return fmt.Errorf("store: set time zone: %w", err)
	}
	if _, err := tx.tx.ExecContext(ctx, `UPDATE follow_ups SET due_at = ? WHERE customer_id = ? AND due_at IS NOT NULL`,
		tx.db.now(), customerID); err != nil {
		return err
	}
	ev.CustomerID = &customerID
	_, err := tx.AddEvent(ctx, ev)
	return err
}

// LinkEmailedAt returns when the setup email of the link last went out to the customer
// (reminders aside; nil: never).
func (tx *Tx) LinkEmailedAt(ctx context.Context, customerID int64, linkKirimID string) (*time.Time, error) {
	var at nullTime
	err := tx.tx.QueryRowContext(ctx, `SELECT MAX(created_at) FROM events WHERE customer_id = ? AND kind = ?
		AND json_extract(detail, '$.link') = ?`, customerID, EventEmailQueued, linkKirimID).Scan(&at)
	if err != nil {
		return nil, fmt.Errorf("store: link emailed: %w", err)
	}
	return at.T, nil
}

// OpenedSince reports whether the customer opened the landing page at or after t.
func (tx *Tx) OpenedSince(ctx context.Context, customerID int64, t time.Time) (bool, error) {
	var n int
	err := tx.tx.QueryRowContext(ctx, countEventsSince, customerID, EventLandingOpened, formatTime(t)).Scan(&n)
	return n > 0, err
}
