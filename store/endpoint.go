package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Outgoing webhooks: the platform's endpoints and what was delivered to them. A
// delivery is written in the transaction of the event it tells of (see SetEventHook),
// with its job; its tries are kept for the delivery log.

// Endpoint states.
const (
	EndpointActive   = "active"
	EndpointDisabled = "disabled"
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Endpoint is a URL of the platform's that hears of onboarding events.
type Endpoint struct {
	ID           int64
	URL          string
	Events       []string
	State        string
	FailingSince *time.Time
	DisabledAt   *time.Time
	PrevUntil    *time.Time
	CreatedBy    string
	CreatedAt    time.Time
}

// EventHook is told of every timeline event in the transaction that adds it.
type EventHook func(ctx context.Context, tx *Tx, e Event) error

// SetEventHook sets the hook (once, before the database is used by others).
func (db *DB) SetEventHook(h EventHook) { db.eventHook = h }

func endpointAAD(id int64) []byte { return []byte(fmt.Sprintf("webhook_endpoints.%d.secret", id)) }

// CreateEndpoint stores an endpoint and its signing secret (sealed).
func (db *DB) CreateEndpoint(ctx context.Context, url string, events []string, secret, actor string) (*Endpoint, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		if err := tx.QueryRowContext(ctx, `INSERT INTO webhook_endpoints (url, events, secret, created_by, created_at, updated_at)
			VALUES (?, ?, x'', ?, ?, ?) RETURNING id`, url, strings.Join(events, ","), actor, now, now).Scan(&id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET secret = ? WHERE id = ?`, db.keys.Seal([]byte(secret), endpointAAD(id)), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: create endpoint: %w", err)
	}
	return db.EndpointByID(ctx, id)
}

const endpointColumns = `id, url, events, state, failing_since, disabled_at, prev_until, created_by, created_at`

func scanEndpoint(row interface{ Scan(...any) error }) (*Endpoint, error) {
	var e Endpoint
	var events, created string
	var failing, disabled, prev nullTime
	if err := row.Scan(&e.ID, &e.URL, &events, &e.State, &failing, &disabled, &prev, &e.CreatedBy, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	e.Events, e.FailingSince, e.DisabledAt, e.PrevUntil, e.CreatedAt = strings.Split(events, ","), failing.T, disabled.T, prev.T, parseTime(created)
	return &e, nil
}

// EndpointByID returns an endpoint, or ErrNotFound.
func (db *DB) EndpointByID(ctx context.Context, id int64) (*Endpoint, error) {
	return scanEndpoint(db.queryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ?`, id))
}

// Endpoints lists every endpoint, newest first.
func (db *DB) Endpoints(ctx context.Context) ([]*Endpoint, error) {
	rows, err := db.query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: endpoints: %w", err)
	}
	defer rows.Close()
	var out []*Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EndpointSecrets returns the secrets a delivery is signed with now: the current one,
// and the one before a rotation while its overlap lasts.
func (db *DB) EndpointSecrets(ctx context.Context, id int64) ([]string, error) {
	var cur, prev []byte
	var until sql.NullString
	if err := db.queryRow(ctx, `SELECT secret, prev_secret, prev_until FROM webhook_endpoints WHERE id = ?`, id).Scan(&cur, &prev, &until); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	sealed := [][]byte{cur}
	if len(prev) > 0 && until.Valid && parseTime(until.String).After(db.Now()) {
		sealed = append(sealed, prev)
	}
	var out []string
	for _, b := range sealed {
		plain, err := db.keys.Open(b, endpointAAD(id))
		if err != nil {
			return nil, fmt.Errorf("store: endpoint secret: %w", err)
		}
		out = append(out, string(plain))
	}
	return out, nil
}

// RotateEndpointSecret makes secret the endpoint's signing secret; the previous one
// keeps signing too for overlap.
func (db *DB) RotateEndpointSecret(ctx context.Context, id int64, secret string, overlap time.Duration) error {
	res, err := db.exec(ctx, `UPDATE webhook_endpoints SET prev_secret = secret, prev_until = ?, secret = ?, updated_at = ? WHERE id = ?`,
		formatTime(db.Now().Add(overlap)), db.keys.Seal([]byte(secret), endpointAAD(id)), db.now(), id)
	if err != nil {
		return fmt.Errorf("store: rotate: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteEndpoint removes an endpoint with its deliveries and their tries.
func (db *DB) DeleteEndpoint(ctx context.Context, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?)`,
			`DELETE FROM webhook_deliveries WHERE endpoint_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// EnableEndpoint makes a disabled endpoint active again.
func (db *DB) EnableEndpoint(ctx context.Context, id int64) error {
	_, err := db.exec(ctx, `UPDATE webhook_endpoints SET state = ?, disabled_at = NULL, failing_since = NULL, updated_at = ? WHERE id = ?`,
		EndpointActive, db.now(), id)
	return err
}

// EndpointsFor lists the active endpoints that want an event type.
func (tx *Tx) EndpointsFor(ctx context.Context, eventType string) ([]int64, error) {
	return column[int64](tx.tx.QueryContext(ctx, `SELECT id FROM webhook_endpoints WHERE state = ? AND (',' || events || ',') LIKE ?`,
		EndpointActive, "%,"+eventType+",%"))
}

// AddDelivery records a delivery to make, in the event's transaction.
func (tx *Tx) AddDelivery(ctx context.Context, endpointID int64, msgID, eventType, payload string) (int64, error) {
	now := tx.db.now()
	var id int64
	err := tx.tx.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (endpoint_id, msg_id, type, payload, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, endpointID, msgID, eventType, payload, now, now).Scan(&id)
	return id, err
}

// Delivery is one event told to one endpoint.
type Delivery struct {
	ID          int64
	EndpointID  int64
	MsgID       string
	Type        string
	Payload     string
	State       string
	Attempts    int
	LastStatus  int
	LastError   string
	LastLatency int
	CreatedAt   time.Time
	DeliveredAt *time.Time
}

const deliveryColumns = `id, endpoint_id, msg_id, type, payload, state, attempts, COALESCE(last_status, 0), COALESCE(last_error, ''),
	COALESCE(last_latency_ms, 0), created_at, delivered_at`

func scanDelivery(row interface{ Scan(...any) error }) (*Delivery, error) {
	var d Delivery
	var created string
	var delivered nullTime
	if err := row.Scan(&d.ID, &d.EndpointID, &d.MsgID, &d.Type, &d.Payload, &d.State, &d.Attempts, &d.LastStatus, &d.LastError,
		&d.LastLatency, &created, &delivered); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	d.CreatedAt, d.DeliveredAt = parseTime(created), delivered.T
	return &d, nil
}

// DeliveryByID returns a delivery, or ErrNotFound.
func (db *DB) DeliveryByID(ctx context.Context, id int64) (*Delivery, error) {
	return scanDelivery(db.queryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = ?`, id))
}

// Deliveries lists an endpoint's newest deliveries.
func (db *DB) Deliveries(ctx context.Context, endpointID int64, limit int) ([]*Delivery, error) {
	rows, err := db.query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?`, endpointID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	defer rows.Close()
	var out []*Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Attempt is one try of a delivery.
type Attempt struct {
	Status  int
	Latency time.Duration
	Error   string
	// Final: the delivery gives up with this try.
	Final bool
}

// RecordAttempt records a try: delivered on a 2xx; otherwise the endpoint is failing
// since its first failure after a success. It returns when the endpoint started
// failing (nil once delivered).
func (db *DB) RecordAttempt(ctx context.Context, deliveryID int64, a Attempt) (*time.Time, error) {
	var since nullTime
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		ok := a.Status >= 200 && a.Status < 300
		state := DeliveryPending
		switch {
		case ok:
			state = DeliveryDelivered
		case a.Final:
			state = DeliveryFailed
		}
		var endpoint int64
		var attempt int
		if err := tx.QueryRowContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?, last_status = ?, last_error = ?,
			last_latency_ms = ?, delivered_at = CASE WHEN ? THEN ? END, updated_at = ? WHERE id = ? RETURNING endpoint_id, attempts`,
			state, nullInt(int64(a.Status)), nullString(a.Error), a.Latency.Milliseconds(), ok, now, now, deliveryID).Scan(&endpoint, &attempt); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, status, latency_ms, error, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, deliveryID, attempt, nullInt(int64(a.Status)), a.Latency.Milliseconds(), nullString(a.Error), now); err != nil {
			return err
		}
		if ok {
			_, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?`, endpoint)
			return err
		}
		return tx.QueryRowContext(ctx, `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?) WHERE id = ?
			RETURNING failing_since`, now, endpoint).Scan(&since)
	})
	if err != nil {
		return nil, fmt.Errorf("store: record attempt: %w", err)
	}
	return since.T, nil
}

// DisableEndpoint stops deliveries to an endpoint (it failed for too long); false when
// it was disabled already.
func (db *DB) DisableEndpoint(ctx context.Context, id int64) (bool, error) {
	res, err := db.exec(ctx, `UPDATE webhook_endpoints SET state = ?, disabled_at = ?, updated_at = ? WHERE id = ? AND state = ?`,
		EndpointDisabled, db.now(), db.now(), id, EndpointActive)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ResetDelivery makes a delivery pending again (redeliver), keeping its webhook-id.
func (db *DB) ResetDelivery(ctx context.Context, id int64) error {
	_, err := db.exec(ctx, `UPDATE webhook_deliveries SET state = ?, updated_at = ? WHERE id = ?`, DeliveryPending, db.now(), id)
	return err
}

// CustomerByID reads a customer in tx (what an event's webhook tells of it).
func (tx *Tx) CustomerByID(ctx context.Context, id int64) (*Customer, error) {
	c, err := scanCustomer(tx.tx.QueryRowContext(ctx, `SELECT `+customerColumns+` FROM customers c WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return c, err
}

// AccountIDsByPhone returns Kirim's account id and the phone_number_id of a customer's
// number, in tx ("" when the mirror has none).
func (tx *Tx) AccountIDsByPhone(ctx context.Context, customerID int64, phone string) (accountID, phoneNumberID string, err error) {
	err = tx.tx.QueryRowContext(ctx, `SELECT COALESCE(kirim_id, ''), COALESCE(phone_number_id, '') FROM whatsapp_accounts
		WHERE customer_id = ? AND phone_number = ? ORDER BY id DESC LIMIT 1`, customerID, phone).Scan(&accountID, &phoneNumberID)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return accountID, phoneNumberID, err
}
