package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kirim-portal/portal/kirim"
)

// The needs-attention queue is derived from state: a customer's row is worked out again
// in every write transaction that adds to its timeline (db.tx refreshes the customers
// it touched before committing), and by SweepAttention for what changes with time alone
// (a link passing its expiry). Staff's snooze and "handled" stay with the row until its
// reason changes.

// Attention is a customer that needs a person.
type Attention struct {
	CustomerID int64
	Customer   string
	Email      string
	Kind       AttentionKind
	Since      time.Time
	// Detail says more of the reason: the failure code, the numbers, the error.
	Detail string
	// Also lists the customer's other reasons.
	Also         []AttentionKind
	SnoozedUntil *time.Time
}

// attentionFound is one reason that applies.
type attentionFound struct {
	kind   AttentionKind
	since  string
	detail string
}

// touch notes that the open write transaction changed a customer's state (see tx).
func (db *DB) touch(customerID int64) {
	if !containsID(db.touched, customerID) {
		db.touched = append(db.touched, customerID)
	}
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// refreshAttention works out the attention rows of these customers again, in tx.
func (db *DB) refreshAttention(ctx context.Context, tx *sql.Tx, ids []int64) error {
	for _, id := range ids {
		found, err := db.assess(ctx, tx, id)
		if err != nil {
			return fmt.Errorf("store: assess customer %d: %w", id, err)
		}
		if len(found) == 0 {
			if _, err := db.txExec(ctx, tx, `DELETE FROM attention WHERE customer_id = ?`, id); err != nil {
				return err
			}
			continue
		}
		also := make([]string, 0, len(found)-1)
		for _, f := range found[1:] {
			also = append(also, string(f.kind))
		}
		top := found[0]
		var was string
		if err := tx.QueryRowContext(ctx, `SELECT kind || '@' || since FROM attention WHERE customer_id = ?`, id).Scan(&was); err != nil &&
			!errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// A snooze holds while the reason stays the same; a new reason shows at once.
		if _, err := db.txExec(ctx, tx, upsertAttention, id, top.kind, top.since, nullString(top.detail),
			nullString(strings.Join(also, ",")), db.now()); err != nil {
			return err
		}
		// A new reason to need a person: the platform may want to hear of it (it is
		// state, not a timeline event).
		if was != string(top.kind)+"@"+top.since && db.eventHook != nil {
			if err := db.eventHook(ctx, &Tx{tx: tx, db: db}, Event{CustomerID: &id, Kind: EventAttentionRaised, CreatedAt: db.Now(),
				Detail: map[string]any{"reason": string(top.kind), "since": top.since, "detail": top.detail}}); err != nil {
				return err
			}
		}
	}
	return nil
}

const upsertAttention = `INSERT INTO attention (customer_id, kind, since, detail, also, updated_at) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (customer_id) DO UPDATE SET kind = excluded.kind, since = excluded.since, detail = excluded.detail,
		also = excluded.also, updated_at = excluded.updated_at,
		snoozed_until = CASE WHEN attention.kind = excluded.kind AND attention.since = excluded.since
			THEN attention.snoozed_until END`

// assess lists the reasons that apply to a customer now, most pressing first.
func (db *DB) assess(ctx context.Context, tx *sql.Tx, id int64) ([]attentionFound, error) {
	var status, stage, reason, updated string
	err := db.txQueryRow(ctx, tx, `SELECT status, stage, COALESCE(stage_reason, ''), updated_at FROM customers WHERE id = ?`, id).
		Scan(&status, &stage, &reason, &updated)
	if errors.Is(err, sql.ErrNoRows) || err == nil && status != kirim.CustomerPending && status != kirim.CustomerActive {
		return nil, nil // archived or suspended: staff decided already
	}
	if err != nil {
		return nil, err
	}
	var found []attentionFound
	add := func(k AttentionKind, since sql.NullString, detail string) {
		if since.Valid {
			found = append(found, attentionFound{k, since.String, detail})
		}
	}
	row := func(q string, arg any, dest ...any) error {
		err := db.txQueryRow(ctx, tx, q, arg).Scan(dest...)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	}
	connected := stage == StageConnected
	var since sql.NullString
	var detail sql.NullString

	if stage == StageFailed {
		if err := db.txQueryRow(ctx, tx, lastEventAt, id, EventSignupFailed).Scan(&since); err != nil {
			return nil, err
		}
		if !since.Valid {
			since = sql.NullString{String: updated, Valid: true}
		}
		add(AttentionSignupFailed, since, reason)
	}
	if !connected {
		if err := db.txQueryRow(ctx, tx, lastEventAt, id, EventSignupUnconfirmed).Scan(&since); err != nil {
			return nil, err
		}
		if since.Valid {
			var later bool
			if err := db.txQueryRow(ctx, tx, `SELECT EXISTS (SELECT 1 FROM events WHERE customer_id = ? AND kind IN (?, ?) AND created_at >= ?)`,
				id, EventSignupSucceeded, EventAccountConnected, since.String).Scan(&later); err != nil {
				return nil, err
			}
			if !later {
				add(AttentionUnconfirmed, since, "")
			}
		}
	}
	since, detail = sql.NullString{}, sql.NullString{}
	if err := db.txQueryRow(ctx, tx, `SELECT MAX(updated_at), group_concat(COALESCE(phone_number, 'a number') || ' ' || status, ', ')
		FROM whatsapp_accounts WHERE customer_id = ? AND status IN (?, ?)`, id, kirim.AccountDisconnected, kirim.AccountDegraded).
		Scan(&since, &detail); err != nil {
		return nil, err
	}
	add(AttentionNumberDown, since, detail.String)
	if !connected {
		var emailStatus string
		since, detail = sql.NullString{}, sql.NullString{}
		if err := row(`SELECT status, updated_at, last_error FROM outbox WHERE customer_id = ? ORDER BY created_at DESC, id DESC LIMIT 1`,
			id, &emailStatus, &since, &detail); err != nil {
			return nil, err
		}
		if emailStatus == EmailFailed {
			add(AttentionEmailFailed, since, detail.String)
		}
		var linkStatus, expires, linkUpdated string
		if err := row(`SELECT status, expires_at, updated_at FROM setup_links WHERE customer_id = ? ORDER BY created_at DESC, id DESC LIMIT 1`,
			id, &linkStatus, &expires, &linkUpdated); err != nil {
			return nil, err
		}
		switch {
		case linkStatus == kirim.LinkRevoked:
			add(AttentionLinkDead, sql.NullString{String: linkUpdated, Valid: true}, linkStatus)
		case linkStatus == kirim.LinkExpired || linkStatus == kirim.LinkActive && expires <= db.now():
			add(AttentionLinkDead, sql.NullString{String: expires, Valid: true}, kirim.LinkExpired)
		}
	}
	if stage == StageLinkIssued || stage == StageLinkSent {
		var sent int
		since = sql.NullString{}
		if err := row(`SELECT exhausted_at, reminders_sent FROM follow_ups WHERE customer_id = ?`, id, &since, &sent); err != nil {
			return nil, err
		}
		add(AttentionNeverOpened, since, fmt.Sprint(sent))
	}
	since, detail = sql.NullString{}, sql.NullString{}
	if err := db.txQueryRow(ctx, tx, `SELECT MAX(t.synced_at), group_concat(t.name, ', ') FROM templates t
		JOIN whatsapp_accounts a ON a.id = t.account_id WHERE a.customer_id = ? AND t.status = ?`, id, kirim.TemplateRejected).
		Scan(&since, &detail); err != nil {
		return nil, err
	}
	add(AttentionTemplatesRejected, since, detail.String)
	return found, nil
}

const lastEventAt = `SELECT MAX(created_at) FROM events WHERE customer_id = ? AND kind = ?`

// SweepAttention works out again the customers whose state changed with time alone: a
// newest link that passed its expiry while still marked active. It returns how many
// customers it looked at.
func (db *DB) SweepAttention(ctx context.Context) (int, error) {
	ids, err := db.ids(ctx, `SELECT DISTINCT l.customer_id FROM setup_links l
		WHERE l.status = ? AND l.expires_at <= ?
		AND NOT EXISTS (SELECT 1 FROM attention a WHERE a.customer_id = l.customer_id AND a.kind = ?)`,
		kirim.LinkActive, db.now(), AttentionLinkDead)
	if err != nil {
		return 0, err
	}
	return len(ids), db.RefreshAttention(ctx, ids)
}

// RebuildAttention works out every customer's row again (after an upgrade, and from
// `portal` itself when the queue was never built), in transactions of a few hundred.
func (db *DB) RebuildAttention(ctx context.Context) (int, error) {
	ids, err := db.ids(ctx, `SELECT id FROM customers WHERE status IN (?, ?) ORDER BY id`, kirim.CustomerPending, kirim.CustomerActive)
	if err != nil {
		return 0, err
	}
	return len(ids), db.RefreshAttention(ctx, ids)
}

// RefreshAttention works out these customers' rows again, a few hundred a transaction.
func (db *DB) RefreshAttention(ctx context.Context, ids []int64) error {
	for len(ids) > 0 {
		n := min(len(ids), 200)
		batch := ids[:n]
		ids = ids[n:]
		if err := db.tx(ctx, func(tx *sql.Tx) error { return db.refreshAttention(ctx, tx, batch) }); err != nil {
			return fmt.Errorf("store: refresh attention: %w", err)
		}
	}
	return nil
}

// AttentionFilter picks the rows of the queue.
type AttentionFilter struct {
	Kind AttentionKind // "" for every kind
	// Snoozed lists the snoozed rows instead of those waiting.
	Snoozed bool
	// After is the cursor of the previous page (AttentionPage.Next); "" for the first.
	After string
	Limit int
}

// AttentionPage is a page of the queue.
type AttentionPage struct {
	Rows []*Attention
	// Next is the cursor of the next page, "" on the last one.
	Next string
}

// attentionCursor encodes the keyset of a row: its since and customer id.
func attentionCursor(a *Attention) string {
	return base64.RawURLEncoding.EncodeToString([]byte(formatTime(a.Since) + "|" + strconv.FormatInt(a.CustomerID, 10)))
}

func decodeAttentionCursor(s string) (since string, id int64, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	before, after, found := strings.Cut(string(b), "|")
	if err != nil || !found {
		return "", 0, false
	}
	if _, err := time.Parse(timeLayout, before); err != nil {
		return "", 0, false
	}
	id, err = strconv.ParseInt(after, 10, 64)
	return before, id, err == nil && id > 0
}

// visibleAttention is the condition of a row waiting for staff at ?now: not snoozed,
// not handled as it stands.
const visibleAttention = `(a.snoozed_until IS NULL OR a.snoozed_until <= ?) AND (a.handled IS NULL OR a.handled != a.kind || '@' || a.since)`

// AttentionRows lists the queue, newest reason first, a page at a time (keyset on the
// reason's time and the customer). A mangled cursor is ErrNotFound.
func (db *DB) AttentionRows(ctx context.Context, f AttentionFilter) (*AttentionPage, error) {
	now := db.now()
	where, args := visibleAttention, []any{now}
	if f.Snoozed {
		where, args = `a.snoozed_until > ?`, []any{now}
	}
	if f.Kind != "" {
		where += ` AND a.kind = ?`
		args = append(args, f.Kind)
	}
	if f.After != "" {
		since, id, ok := decodeAttentionCursor(f.After)
		if !ok {
			return nil, fmt.Errorf("store: attention: bad cursor: %w", ErrNotFound)
		}
		where += ` AND (a.since, a.customer_id) < (?, ?)`
		args = append(args, since, id)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := db.query(ctx, `SELECT a.customer_id, c.name, COALESCE(c.email, ''), a.kind, a.since, COALESCE(a.detail, ''),
		COALESCE(a.also, ''), a.snoozed_until FROM attention a JOIN customers c ON c.id = a.customer_id
		WHERE `+where+` ORDER BY a.since DESC, a.customer_id DESC LIMIT ?`, append(args, f.Limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("store: attention: %w", err)
	}
	defer rows.Close()
	var out []*Attention
	for rows.Next() {
		var a Attention
		var also string
		var snoozed nullTime
		if err := rows.Scan(&a.CustomerID, &a.Customer, &a.Email, &a.Kind, timeCol{&a.Since}, &a.Detail, &also, &snoozed); err != nil {
			return nil, err
		}
		for _, k := range strings.Split(also, ",") {
			if k != "" {
				a.Also = append(a.Also, AttentionKind(k))
			}
		}
		a.SnoozedUntil = snoozed.T
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	page := &AttentionPage{Rows: out}
	if len(out) > f.Limit {
		page.Rows = out[:f.Limit]
		page.Next = attentionCursor(page.Rows[f.Limit-1])
	}
	return page, nil
}

// AttentionCounts counts the rows waiting, by kind, and the snoozed ones.
func (db *DB) AttentionCounts(ctx context.Context) (waiting map[AttentionKind]int, total, snoozed int, err error) {
	now := db.now()
	rows, err := db.query(ctx, `SELECT a.kind, COUNT(*) FROM attention a WHERE `+visibleAttention+` GROUP BY a.kind`, now)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("store: attention counts: %w", err)
	}
	defer rows.Close()
	waiting = map[AttentionKind]int{}
	for rows.Next() {
		var k AttentionKind
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, 0, 0, err
		}
		waiting[k] = n
		total += n
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, err
	}
	err = db.queryRow(ctx, `SELECT COUNT(*) FROM attention WHERE snoozed_until > ?`, now).Scan(&snoozed)
	return waiting, total, snoozed, err
}

// AttentionWaiting counts the rows waiting for staff (the navigation's badge).
func (db *DB) AttentionWaiting(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM attention a WHERE `+visibleAttention, db.now()).Scan(&n)
	return n, err
}

// AttentionOf returns a customer's row, or ErrNotFound.
func (db *DB) AttentionOf(ctx context.Context, customerID int64) (*Attention, error) {
	var a Attention
	var snoozed nullTime
	var handled sql.NullString
	err := db.queryRow(ctx, `SELECT kind, since, COALESCE(detail, ''), snoozed_until, handled FROM attention WHERE customer_id = ?`, customerID).
		Scan(&a.Kind, timeCol{&a.Since}, &a.Detail, &snoozed, &handled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: attention of %d: %w", customerID, err)
	}
	a.CustomerID, a.SnoozedUntil = customerID, snoozed.T
	if handled.String == string(a.Kind)+"@"+formatTime(a.Since) {
		return nil, ErrNotFound
	}
	return &a, nil
}

// SnoozeAttention hides a customer's row until a time (or until its reason changes),
// with the event on its timeline, in one transaction.
func (tx *Tx) SnoozeAttention(ctx context.Context, customerID int64, until time.Time, ev Event) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE attention SET snoozed_until = ? WHERE customer_id = ?`, formatTime(until), customerID)
	if err != nil {
		return fmt.Errorf("store: snooze: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	ev.CustomerID = &customerID
	_, err = tx.AddEvent(ctx, ev)
	return err
}

// HandleAttention marks a customer's row handled as it stands: it shows again when its
// reason changes. The event (with staff's note) goes on the timeline.
func (tx *Tx) HandleAttention(ctx context.Context, customerID int64, ev Event) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE attention SET handled = kind || '@' || since, snoozed_until = NULL WHERE customer_id = ?`, customerID)
	if err != nil {
		return fmt.Errorf("store: handle: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	ev.CustomerID = &customerID
	_, err = tx.AddEvent(ctx, ev)
	return err
}
