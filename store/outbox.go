package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Email statuses in the outbox.
const (
	EmailQueued  = "queued"
	EmailSending = "sending"
	EmailSent    = "sent"
	EmailFailed  = "failed"
	// EmailHeld is an email kept in the dev outbox because no SMTP server is set.
	EmailHeld = "held"
)

// Email is one message in the outbox.
type Email struct {
	ID            int64
	CustomerID    *int64
	Kind          string
	FromName      string
	From          string
	To            string
	Subject       string
	HTML          string
	Text          string
	MessageID     string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	SentAt        *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

const emailColumns = `id, customer_id, kind, from_name, from_addr, to_addr, subject, body_html, body_text, body_sealed, message_id,
	status, attempts, next_attempt_at, last_error, sent_at, created_at, updated_at`

// scanEmail reads an email and opens its sealed body (left empty without keys).
func (db *DB) scanEmail(row interface{ Scan(...any) error }) (*Email, error) {
	var e Email
	var lastErr sql.NullString
	var sent nullTime
	var sealed []byte
	err := row.Scan(&e.ID, &e.CustomerID, &e.Kind, &e.FromName, &e.From, &e.To, &e.Subject, &e.HTML, &e.Text, &sealed, &e.MessageID,
		&e.Status, &e.Attempts, timeCol{&e.NextAttemptAt}, &lastErr, &sent, timeCol{&e.CreatedAt}, timeCol{&e.UpdatedAt})
	if err != nil {
		return nil, err
	}
	e.LastError, e.SentAt = lastErr.String, sent.T
	if sealed != nil && db.keys != nil {
		plain, err := db.keys.Open(sealed, emailAAD(e.ID))
		if err != nil {
			return nil, fmt.Errorf("email %d: %w", e.ID, err)
		}
		var b emailBody
		if err := json.Unmarshal(plain, &b); err != nil {
			return nil, fmt.Errorf("email %d: %w", e.ID, err)
		}
		e.HTML, e.Text = b.HTML, b.Text
	}
	return &e, nil
}

// emailBody is what an outbox row keeps sealed: the bodies hold the landing link.
type emailBody struct {
	HTML string `json:"html"`
	Text string `json:"text"`
}

func emailAAD(id int64) []byte { return []byte("outbox/" + strconv.FormatInt(id, 10) + "/body") }

// sealBody seals an email's bodies into its row.
func (db *DB) sealBody(ctx context.Context, tx *sql.Tx, id int64, html, text string) error {
	plain, err := json.Marshal(emailBody{HTML: html, Text: text})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE outbox SET body_sealed = ?, body_html = '', body_text = '' WHERE id = ?`,
		db.keys.Seal(plain, emailAAD(id)), id)
	return err
}

// sealLegacyEmails seals the bodies of emails written before they were kept sealed.
func (db *DB) sealLegacyEmails(ctx context.Context) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, body_html, body_text FROM outbox WHERE body_sealed IS NULL`)
		if err != nil {
			return err
		}
		type legacy struct {
			id         int64
			html, text string
		}
		var todo []legacy
		for rows.Next() {
			var l legacy
			if err := rows.Scan(&l.id, &l.html, &l.text); err != nil {
				rows.Close()
				return err
			}
			todo = append(todo, l)
		}
		rows.Close()
		for _, l := range todo {
			if err := db.sealBody(ctx, tx, l.id, l.html, l.text); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// QueueEmail writes an email to the outbox together with the event that causes it, in
// one transaction: the email exists if and only if the event does.
func (db *DB) QueueEmail(ctx context.Context, e Email, ev Event) (*Email, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = db.queueEmail(ctx, tx, e, ev)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: queue email: %w", err)
	}
	return db.EmailByID(ctx, id)
}

func (db *DB) queueEmail(ctx context.Context, tx *sql.Tx, e Email, ev Event) (int64, error) {
	if db.keys == nil {
		return 0, errors.New("no keys to seal the email with")
	}
	now := db.now()
	if e.Status == "" {
		e.Status = EmailQueued
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO outbox (customer_id, kind, from_name, from_addr, to_addr, subject, body_html,
		body_text, message_id, status, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, '', '', ?, ?, ?, ?, ?)`,
		e.CustomerID, e.Kind, e.FromName, e.From, e.To, e.Subject, e.MessageID, e.Status, now, now, now)
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	// The row id is the associated data, so the body is sealed once it exists.
	if err := db.sealBody(ctx, tx, id, e.HTML, e.Text); err != nil {
		return 0, err
	}
	if ev.Detail == nil {
		ev.Detail = map[string]any{}
	}
	ev.Detail["email"] = id
	ev.CustomerID = e.CustomerID
	_, err = db.addEvent(ctx, tx, ev)
	return id, err
}

// EmailByID returns one email.
func (db *DB) EmailByID(ctx context.Context, id int64) (*Email, error) {
	e, err := db.scanEmail(db.queryRow(ctx, `SELECT `+emailColumns+` FROM outbox WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: email: %w", err)
	}
	return e, nil
}

// Emails lists emails, newest first: one customer's (customerID > 0) or all.
func (db *DB) Emails(ctx context.Context, customerID int64, limit int) ([]*Email, error) {
	q := `SELECT ` + emailColumns + ` FROM outbox`
	var args []any
	if customerID > 0 {
		q += ` WHERE customer_id = ?`
		args = append(args, customerID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: emails: %w", err)
	}
	defer rows.Close()
	var out []*Email
	for rows.Next() {
		e, err := db.scanEmail(rows)
		if err != nil {
			return nil, fmt.Errorf("store: emails: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ClaimEmails marks up to n queued emails due by dueBy as sending and returns them.
// Only one worker gets each email.
func (db *DB) ClaimEmails(ctx context.Context, n int, dueBy time.Time) ([]*Email, error) {
	rows, err := db.query(ctx, `UPDATE outbox SET status = ?, attempts = attempts + 1, updated_at = ?
		WHERE id IN (SELECT id FROM outbox WHERE status = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)
		RETURNING `+emailColumns, EmailSending, db.now(), EmailQueued, formatTime(dueBy), n)
	if err != nil {
		return nil, fmt.Errorf("store: claim emails: %w", err)
	}
	defer rows.Close()
	var out []*Email
	for rows.Next() {
		e, err := db.scanEmail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// RequeueStuck returns emails left in 'sending' (a crash mid-send) for at least
// olderThan to the queue. They keep their Message-ID, so a duplicate is recognisable.
func (db *DB) RequeueStuck(ctx context.Context, olderThan time.Duration) (int, error) {
	res, err := db.exec(ctx, `UPDATE outbox SET status = ?, updated_at = ? WHERE status = ? AND updated_at <= ?`,
		EmailQueued, db.now(), EmailSending, formatTime(db.Now().Add(-olderThan)))
	if err != nil {
		return 0, fmt.Errorf("store: requeue: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// EmailSent records a delivery, with its event.
func (db *DB) EmailSent(ctx context.Context, e *Email) error {
	return db.finishEmail(ctx, e, EmailSent, "", time.Time{}, &Event{Kind: EventEmailSent, Detail: map[string]any{"to": e.To}})
}

// EmailRetry puts an email back in the queue after a temporary failure.
func (db *DB) EmailRetry(ctx context.Context, e *Email, reason string, at time.Time) error {
	return db.finishEmail(ctx, e, EmailQueued, reason, at, nil)
}

// EmailFailed records a permanent failure, with its event.
func (db *DB) EmailFailed(ctx context.Context, e *Email, reason string) error {
	return db.finishEmail(ctx, e, EmailFailed, reason, time.Time{}, &Event{Kind: EventEmailFailed, Detail: map[string]any{"to": e.To, "reason": reason}})
}

func (db *DB) finishEmail(ctx context.Context, e *Email, status, reason string, next time.Time, ev *Event) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		var sent any
		if status == EmailSent {
			sent = now
		}
		nextArg := now
		if !next.IsZero() {
			nextArg = formatTime(next)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, last_error = ?, next_attempt_at = ?, sent_at = coalesce(?, sent_at),
			updated_at = ? WHERE id = ?`, status, nullString(reason), nextArg, sent, now, e.ID); err != nil {
			return err
		}
		if ev == nil {
			return nil
		}
		ev.CustomerID = e.CustomerID
		ev.Detail["email"] = e.ID
		_, err := db.addEvent(ctx, tx, *ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: finish email: %w", err)
	}
	return nil
}

// ResendEmail queues a failed or held email again (staff asked), keeping its Message-ID.
func (db *DB) ResendEmail(ctx context.Context, id int64, actor string) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var customerID *int64
		now := db.now()
		err := tx.QueryRowContext(ctx, `UPDATE outbox SET status = ?, attempts = 0, next_attempt_at = ?, last_error = NULL,
			updated_at = ? WHERE id = ? AND status IN (?, ?, ?) RETURNING customer_id`,
			EmailQueued, now, now, id, EmailFailed, EmailHeld, EmailSent).Scan(&customerID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = db.addEvent(ctx, tx, Event{CustomerID: customerID, Kind: EventEmailRequeued, Actor: actor, Detail: map[string]any{"email": id}})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: resend email: %w", err)
	}
	return nil
}

// QueueEmail writes an email and its event in the transaction (see DB.QueueEmail). An
// email whose Message-ID is in the outbox already is not written again (0): a job run
// twice queues its email once.
func (tx *Tx) QueueEmail(ctx context.Context, e Email, ev Event) (int64, error) {
	var exists bool
	if err := tx.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE message_id = ?)`, e.MessageID).Scan(&exists); err != nil || exists {
		return 0, err
	}
	id, err := tx.db.queueEmail(ctx, tx.tx, e, ev)
	if err != nil {
		return 0, fmt.Errorf("store: queue email: %w", err)
	}
	return id, nil
}
