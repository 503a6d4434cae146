package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A batch is a CSV import or a bulk action on chosen customers: one row per line of the
// file (or per customer), each worked by a job of its own. Rows keep their input and
// outcome, so a batch survives a restart and can be paused, cancelled and retried.

// BatchKind says what a batch does.
type BatchKind string

// Batch kinds.
const (
	BatchImport        BatchKind = "import"
	BatchSendLink      BatchKind = "send_link"
	BatchRevokeLinks   BatchKind = "revoke_links"
	BatchArchive       BatchKind = "archive"
	BatchPauseFollowUp BatchKind = "pause_follow_up"
)

// Batch states.
const (
	BatchPreview   = "preview" // an import read and checked, not started
	BatchRunning   = "running"
	BatchPaused    = "paused"
	BatchCancelled = "cancelled"
	BatchDone      = "done"
)

// Row outcomes.
const (
	RowPending   = "pending"
	RowDone      = "done"
	RowSkipped   = "skipped"  // a duplicate, or nothing to do
	RowRejected  = "rejected" // invalid: never sent to Kirim
	RowFailed    = "failed"   // Kirim refused it, or the portal gave up
	RowCancelled = "cancelled"
)

// Batch is a batch with its rows counted by outcome.
type Batch struct {
	ID        int64
	Kind      BatchKind
	Title     string
	SendLinks bool
	State     string
	// Ignored are the columns of the file that were not taken.
	Ignored    []string
	Actor      string
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	Counts     BatchCounts
	// Recent counts the rows finished since StartedAt (the pace of the run).
	Recent int
}

// BatchCounts counts a batch's rows by outcome.
type BatchCounts struct {
	Pending, Done, Skipped, Rejected, Failed, Cancelled int
}

// Total is the number of rows.
func (c BatchCounts) Total() int {
	return c.Pending + c.Done + c.Skipped + c.Rejected + c.Failed + c.Cancelled
}

// NewBatch is a batch to create.
type NewBatch struct {
	Kind      BatchKind
	Title     string
	SendLinks bool
	State     string
	Ignored   []string
	Actor     string
}

// BatchRow is one row of a batch.
type BatchRow struct {
	BatchID    int64
	Row        int
	Input      string
	CustomerID *int64
	Outcome    string
	Error      string
	UpdatedAt  time.Time
}

// CreateBatch writes a batch and its rows in one transaction.
func (db *DB) CreateBatch(ctx context.Context, b NewBatch, rows []BatchRow) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		err := tx.QueryRowContext(ctx, `INSERT INTO batches (kind, title, send_links, state, ignored, actor, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, b.Kind, b.Title, b.SendLinks, b.State,
			nullString(strings.Join(b.Ignored, ",")), b.Actor, now, now).Scan(&id)
		if err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO batch_rows (batch_id, row, input, customer_id, outcome, error, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rows {
			if _, err := st.ExecContext(ctx, id, r.Row, nullString(r.Input), r.CustomerID, r.Outcome, nullString(r.Error), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: create batch: %w", err)
	}
	return id, nil
}

const batchColumns = `b.id, b.kind, b.title, b.send_links, b.state, COALESCE(b.ignored, ''), b.actor, b.created_at, b.started_at, b.finished_at`

func scanBatch(row interface{ Scan(...any) error }) (*Batch, error) {
	var b Batch
	var ignored, created string
	var started, finished nullTime
	if err := row.Scan(&b.ID, &b.Kind, &b.Title, &b.SendLinks, &b.State, &ignored, &b.Actor, &created, &started, &finished); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	if ignored != "" {
		b.Ignored = strings.Split(ignored, ",")
	}
	b.CreatedAt, b.StartedAt, b.FinishedAt = parseTime(created), started.T, finished.T
	return &b, nil
}

// Batch returns a batch without its counts, or ErrNotFound.
func (db *DB) Batch(ctx context.Context, id int64) (*Batch, error) {
	return scanBatch(db.queryRow(ctx, `SELECT `+batchColumns+` FROM batches b WHERE b.id = ?`, id))
}

// BatchByID returns a batch with its counts, or ErrNotFound.
func (db *DB) BatchByID(ctx context.Context, id int64) (*Batch, error) {
	b, err := db.Batch(ctx, id)
	if err != nil {
		return nil, err
	}
	return b, db.countBatch(ctx, b)
}

func (db *DB) countBatch(ctx context.Context, b *Batch) error {
	rows, err := db.query(ctx, `SELECT outcome, COUNT(*) FROM batch_rows WHERE batch_id = ? GROUP BY outcome`, b.ID)
	if err != nil {
		return fmt.Errorf("store: count batch: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var outcome string
		var n int
		if err := rows.Scan(&outcome, &n); err != nil {
			return err
		}
		switch outcome {
		case RowPending:
			b.Counts.Pending = n
		case RowDone:
			b.Counts.Done = n
		case RowSkipped:
			b.Counts.Skipped = n
		case RowRejected:
			b.Counts.Rejected = n
		case RowFailed:
			b.Counts.Failed = n
		case RowCancelled:
			b.Counts.Cancelled = n
		}
	}
	if err := rows.Err(); err != nil || b.StartedAt == nil {
		return err
	}
	return db.queryRow(ctx, `SELECT COUNT(*) FROM batch_rows WHERE batch_id = ? AND outcome IN (?, ?) AND updated_at >= ?`,
		b.ID, RowDone, RowFailed, formatTime(*b.StartedAt)).Scan(&b.Recent)
}

// Batches lists the newest batches with their counts.
func (db *DB) Batches(ctx context.Context, limit int) ([]*Batch, error) {
	rows, err := db.query(ctx, `SELECT `+batchColumns+` FROM batches b ORDER BY b.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: batches: %w", err)
	}
	var out []*Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, b := range out {
		if err := db.countBatch(ctx, b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetBatchState moves a batch to a state: running (re)starts its pace, and done or
// cancelled finish it. From cancelled or done it moves no more (false).
func (tx *Tx) SetBatchState(ctx context.Context, id int64, state string) (bool, error) {
	now := tx.db.now()
	res, err := tx.tx.ExecContext(ctx, `UPDATE batches SET state = ?, updated_at = ?,
		started_at = CASE WHEN ? = 'running' THEN ? ELSE started_at END,
		finished_at = CASE WHEN ? IN ('done', 'cancelled') THEN ? ELSE finished_at END
		WHERE id = ? AND state NOT IN ('done', 'cancelled')`, state, now, state, now, state, now, id)
	if err != nil {
		return false, fmt.Errorf("store: batch state: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SetBatchSendLinks records whether an import emails each new customer a setup link.
func (tx *Tx) SetBatchSendLinks(ctx context.Context, id int64, send bool) error {
	_, err := tx.tx.ExecContext(ctx, `UPDATE batches SET send_links = ?, updated_at = ? WHERE id = ?`, send, tx.db.now(), id)
	return err
}

// ReopenBatch makes a done batch running again (its failed rows are retried).
func (tx *Tx) ReopenBatch(ctx context.Context, id int64) error {
	_, err := tx.tx.ExecContext(ctx, `UPDATE batches SET state = ?, finished_at = NULL, updated_at = ? WHERE id = ? AND state = ?`,
		BatchRunning, tx.db.now(), id, BatchDone)
	return err
}

// BatchState returns the state of a batch in tx.
func (tx *Tx) BatchState(ctx context.Context, id int64) (string, error) {
	var state string
	err := tx.tx.QueryRowContext(ctx, `SELECT state FROM batches WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return state, err
}

// PendingRows lists the rows of a batch still to work.
func (tx *Tx) PendingRows(ctx context.Context, id int64) ([]int, error) {
	return column[int](tx.tx.QueryContext(ctx, `SELECT row FROM batch_rows WHERE batch_id = ? AND outcome = ? ORDER BY row`, id, RowPending))
}

// BatchRowOf returns one row of a batch, or ErrNotFound.
func (db *DB) BatchRowOf(ctx context.Context, id int64, row int) (*BatchRow, error) {
	r, err := scanBatchRow(db.queryRow(ctx, `SELECT `+batchRowColumns+` FROM batch_rows WHERE batch_id = ? AND row = ?`, id, row))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return r, err
}

const batchRowColumns = `batch_id, row, COALESCE(input, ''), customer_id, outcome, COALESCE(error, ''), updated_at`

func scanBatchRow(row interface{ Scan(...any) error }) (*BatchRow, error) {
	var r BatchRow
	var customer sql.NullInt64
	var updated string
	if err := row.Scan(&r.BatchID, &r.Row, &r.Input, &customer, &r.Outcome, &r.Error, &updated); err != nil {
		return nil, err
	}
	if customer.Valid {
		r.CustomerID = &customer.Int64
	}
	r.UpdatedAt = parseTime(updated)
	return &r, nil
}

// FinishRow records the outcome of a row still pending, or cancelled while its job was
// in flight (what the job did stands); the batch is done once no row is left pending.
// It returns false when the row was finished already (a job run twice).
func (tx *Tx) FinishRow(ctx context.Context, id int64, row int, outcome string, customerID *int64, errText string) (bool, error) {
	now := tx.db.now()
	res, err := tx.tx.ExecContext(ctx, `UPDATE batch_rows SET outcome = ?, customer_id = COALESCE(?, customer_id), error = ?, updated_at = ?
		WHERE batch_id = ? AND row = ? AND outcome IN (?, ?)`, outcome, customerID, nullString(errText), now, id, row, RowPending, RowCancelled)
	if err != nil {
		return false, fmt.Errorf("store: finish row: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	_, err = tx.tx.ExecContext(ctx, `UPDATE batches SET state = ?, finished_at = ?, updated_at = ? WHERE id = ? AND state = ?
		AND NOT EXISTS (SELECT 1 FROM batch_rows WHERE batch_id = ? AND outcome = ?)`, BatchDone, now, now, id, BatchRunning, id, RowPending)
	return true, err
}

// SetRowsOutcome moves a batch's rows from one outcome to another (pending to
// cancelled, failed to pending) and returns how many moved.
func (tx *Tx) SetRowsOutcome(ctx context.Context, id int64, from, to string) (int, error) {
	res, err := tx.tx.ExecContext(ctx, `UPDATE batch_rows SET outcome = ?, error = NULL, updated_at = ? WHERE batch_id = ? AND outcome = ?`,
		to, tx.db.now(), id, from)
	if err != nil {
		return 0, fmt.Errorf("store: set rows: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// BatchRows returns up to limit rows of a batch after the row number after, with the
// given outcomes (all when none).
func (db *DB) BatchRows(ctx context.Context, id int64, after, limit int, outcomes ...string) ([]*BatchRow, error) {
	q := `SELECT ` + batchRowColumns + ` FROM batch_rows WHERE batch_id = ? AND row > ?`
	args := []any{id, after}
	if len(outcomes) > 0 {
		q += ` AND outcome IN (?` + strings.Repeat(", ?", len(outcomes)-1) + `)`
		for _, o := range outcomes {
			args = append(args, o)
		}
	}
	rows, err := db.query(ctx, q+` ORDER BY row LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: batch rows: %w", err)
	}
	defer rows.Close()
	var out []*BatchRow
	for rows.Next() {
		r, err := scanBatchRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CustomerKeys are the existing customers an import is checked against: by external
// reference (metadata external_ref) and by email, lower-cased. Archived customers are
// left out (importing one again makes a new customer).
type CustomerKeys struct {
	Refs, Emails map[string]int64
}

// ExistingCustomerKeys reads the keys of every customer not archived.
func (db *DB) ExistingCustomerKeys(ctx context.Context) (CustomerKeys, error) {
	k := CustomerKeys{Refs: map[string]int64{}, Emails: map[string]int64{}}
	rows, err := db.query(ctx, `SELECT id, lower(COALESCE(email, '')), COALESCE(json_extract(metadata, '$.external_ref'), '')
		FROM customers WHERE status != 'archived'`)
	if err != nil {
		return k, fmt.Errorf("store: customer keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var email, ref string
		if err := rows.Scan(&id, &email, &ref); err != nil {
			return k, err
		}
		if email != "" {
			k.Emails[email] = id
		}
		if ref != "" {
			k.Refs[ref] = id
		}
	}
	return k, rows.Err()
}
