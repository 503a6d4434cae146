package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

// Bulk onboarding: a CSV import, or an action on many chosen customers, is a batch of
// rows, each worked by a job of its own on the batches' queue. The Kirim client's rate
// limiter paces the jobs to Kirim's write budget. A row's outcome commits with what it
// did (the customer's mirror, the link email), and a create carries an
// Idempotency-Key made of the batch and the row, so a row run again after a crash
// creates and emails nothing twice.

// BatchRowArgs works one row of a batch.
type BatchRowArgs struct {
	BatchID int64 `json:"batch_id"`
	Row     int   `json:"row"`
}

// Kind names the job.
func (BatchRowArgs) Kind() string { return "batches.row" }

// rowAttempts bounds the tries of a row Kirim could not take (River's backoff: about
// half an hour in all); then the row is failed, for "retry failed rows".
const rowAttempts = 6

// InsertOpts makes it unique per row while queued, on the batches' queue.
func (BatchRowArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: whileQueued, MaxAttempts: rowAttempts, Queue: jobs.QueueBatches}
}

// PreviewImport checks an import file's rows against each other and the customers
// already here (by external_ref, else by email) and records the batch for staff to look
// at before anything is sent to Kirim.
func (s *Service) PreviewImport(ctx context.Context, f *ImportFile, title, actor string) (int64, error) {
	rows, err := s.CheckImport(ctx, f)
	if err != nil {
		return 0, err
	}
	return s.db.CreateBatch(ctx, store.NewBatch{Kind: store.BatchImport, Title: title, State: store.BatchPreview,
		Ignored: f.Ignored, Actor: actor}, rows)
}

// CheckImport says what importing the file would do to each row (pending: created),
// recording nothing.
func (s *Service) CheckImport(ctx context.Context, f *ImportFile) ([]store.BatchRow, error) {
	keys, err := s.db.ExistingCustomerKeys(ctx)
	if err != nil {
		return nil, err
	}
	// A row with an external_ref is the same customer as one with that reference; a row
	// without is the same as one with its email (the same owner may run two businesses,
	// told apart by their references).
	refs, emails := map[string]int{}, map[string]int{} // → the line that has it
	rows := make([]store.BatchRow, 0, len(f.Rows))
	for _, r := range f.Rows {
		input, _ := json.Marshal(r)
		row := store.BatchRow{Row: r.Line, Input: string(input), Outcome: store.RowPending}
		email := strings.ToLower(r.Input.Email)
		what, line, existing := "external_ref", refs[r.ExternalRef], keys.Refs[r.ExternalRef]
		if r.ExternalRef == "" {
			what, line, existing = "email", emails[email], keys.Emails[email]
		}
		switch {
		case len(r.Errors) > 0:
			row.Outcome, row.Error = store.RowRejected, r.Errors.Words()
		case r.ExternalRef == "" && email == "":
			// nothing to compare
		case line > 0:
			row.Outcome, row.Error = store.RowSkipped, fmt.Sprintf("Same %s as line %d.", what, line)
		case existing > 0:
			row.Outcome, row.Error, row.CustomerID = store.RowSkipped, fmt.Sprintf("Already a customer (same %s).", what), &existing
		}
		if len(r.Errors) == 0 {
			if r.ExternalRef != "" && refs[r.ExternalRef] == 0 {
				refs[r.ExternalRef] = r.Line
			}
			if email != "" && emails[email] == 0 {
				emails[email] = r.Line
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// BulkAction starts an action on the chosen customers at once: one row each.
func (s *Service) BulkAction(ctx context.Context, kind store.BatchKind, customerIDs []int64, title, actor string) (int64, error) {
	switch kind {
	case store.BatchSendLink, store.BatchRevokeLinks, store.BatchArchive, store.BatchPauseFollowUp:
	default:
		return 0, &InvalidError{FieldErrors{"action": "Choose what to do with the chosen customers."}}
	}
	if len(customerIDs) == 0 {
		return 0, &InvalidError{FieldErrors{"customers": "Choose at least one customer."}}
	}
	rows := make([]store.BatchRow, len(customerIDs))
	for i, id := range customerIDs {
		rows[i] = store.BatchRow{Row: i + 1, CustomerID: &id, Outcome: store.RowPending}
	}
	id, err := s.db.CreateBatch(ctx, store.NewBatch{Kind: kind, Title: title, State: store.BatchPreview, Actor: actor}, rows)
	if err != nil {
		return 0, err
	}
	return id, s.StartBatch(ctx, id, false)
}

// StartBatch starts a previewed batch (sendLinks: email each new customer a setup
// link), or resumes a paused one: a job for each row still pending, enqueued with the
// state in one transaction.
func (s *Service) StartBatch(ctx context.Context, id int64, sendLinks bool) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		state, err := tx.BatchState(ctx, id)
		if err != nil {
			return err
		}
		switch state {
		case store.BatchPreview:
			if err := tx.SetBatchSendLinks(ctx, id, sendLinks); err != nil {
				return err
			}
		case store.BatchPaused:
		default:
			return ErrBatchState
		}
		return s.enqueueRows(ctx, tx, id)
	})
}

// ErrBatchState is an action the batch's state does not allow (starting a finished one).
var ErrBatchState = errors.New("onboarding: the batch is not in a state for that")

func (s *Service) enqueueRows(ctx context.Context, tx *store.Tx, id int64) error {
	if _, err := tx.SetBatchState(ctx, id, store.BatchRunning); err != nil {
		return err
	}
	pending, err := tx.PendingRows(ctx, id)
	if err != nil {
		return err
	}
	if len(pending) == 0 {
		_, err := tx.SetBatchState(ctx, id, store.BatchDone)
		return err
	}
	params := make([]river.InsertManyParams, len(pending))
	for i, r := range pending {
		params[i] = river.InsertManyParams{Args: BatchRowArgs{BatchID: id, Row: r}}
	}
	_, err = s.jobs.InsertManyTx(ctx, tx.SQL(), params)
	return err
}

// PauseBatch stops a running batch after the rows in flight; ResumeBatch goes on.
func (s *Service) PauseBatch(ctx context.Context, id int64) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if state, err := tx.BatchState(ctx, id); err != nil || state != store.BatchRunning {
			return errors.Join(err, errIf(state != store.BatchRunning))
		}
		_, err := tx.SetBatchState(ctx, id, store.BatchPaused)
		return err
	})
}

// ResumeBatch resumes a paused batch.
func (s *Service) ResumeBatch(ctx context.Context, id int64) error {
	return s.StartBatch(ctx, id, false)
}

// CancelBatch ends a batch: the rows not yet worked are cancelled (rows in flight
// finish).
func (s *Service) CancelBatch(ctx context.Context, id int64) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		ok, err := tx.SetBatchState(ctx, id, store.BatchCancelled)
		if err != nil || !ok {
			return errors.Join(err, errIf(!ok))
		}
		_, err = tx.SetRowsOutcome(ctx, id, store.RowPending, store.RowCancelled)
		return err
	})
}

// RetryFailed works a batch's failed rows again (their Idempotency-Keys unchanged).
func (s *Service) RetryFailed(ctx context.Context, id int64) (int, error) {
	var n int
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		state, err := tx.BatchState(ctx, id)
		if err != nil {
			return err
		}
		if state == store.BatchPreview || state == store.BatchCancelled {
			return ErrBatchState
		}
		if n, err = tx.SetRowsOutcome(ctx, id, store.RowFailed, store.RowPending); err != nil || n == 0 {
			return err
		}
		if err := tx.ReopenBatch(ctx, id); err != nil {
			return err
		}
		if state == store.BatchPaused {
			return nil // resuming works them
		}
		return s.enqueueRows(ctx, tx, id)
	})
	return n, err
}

func errIf(b bool) error {
	if b {
		return ErrBatchState
	}
	return nil
}

// workRow is BatchRowArgs' work.
func (s *Service) workRow(ctx context.Context, j *river.Job[BatchRowArgs]) error {
	r, err := s.db.BatchRowOf(ctx, j.Args.BatchID, j.Args.Row)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || r.Outcome != store.RowPending {
		return err
	}
	b, err := s.db.Batch(ctx, j.Args.BatchID)
	if err != nil || b.State != store.BatchRunning {
		return err // paused: resuming enqueues the row again
	}
	actor := b.Actor
	// The outcome commits with the row's work; a row finished meanwhile rolls it back.
	finish := func(tx *store.Tx, outcome string, customerID *int64, note string) error {
		ok, err := tx.FinishRow(ctx, b.ID, r.Row, outcome, customerID, note)
		if err == nil && !ok {
			err = errRowFinished
		}
		return err
	}
	err = s.doRow(ctx, b, r, actor, finish)
	if err == nil || errors.Is(err, errRowFinished) {
		return nil
	}
	if permanent(err) || j.Attempt >= j.MaxAttempts {
		words := s.words(err)
		if !permanent(err) {
			words = fmt.Sprintf("Gave up after %d tries: %s", j.Attempt, words)
		}
		customer := r.CustomerID
		var ce *createdError
		if errors.As(err, &ce) {
			customer, words = &ce.id, "Created, but the link email failed: "+words
		}
		err := s.db.InTx(ctx, func(tx *store.Tx) error { return finish(tx, store.RowFailed, customer, words) })
		if errors.Is(err, errRowFinished) {
			return nil
		}
		return err
	}
	return err // River tries again with backoff
}

// doRow does what the batch does to one row and records its outcome with it.
func (s *Service) doRow(ctx context.Context, b *store.Batch, r *store.BatchRow, actor string,
	finish func(*store.Tx, string, *int64, string) error) error {
	done := func(id int64, note string) error {
		return s.db.InTx(ctx, func(tx *store.Tx) error { return finish(tx, store.RowDone, &id, note) })
	}
	if b.Kind == store.BatchImport {
		return s.importRow(ctx, b, r, actor, finish)
	}
	id := *r.CustomerID
	switch b.Kind {
	case store.BatchSendLink:
		_, err := s.sendLinkEmail(ctx, id, false, actor, func(tx *store.Tx) error { return finish(tx, store.RowDone, &id, "") })
		return err
	case store.BatchRevokeLinks:
		n, err := s.revokeActiveLinks(ctx, id, actor)
		if err != nil {
			return err
		}
		return done(id, fmt.Sprintf("%d active links revoked.", n))
	case store.BatchArchive:
		c, err := s.db.CustomerByID(ctx, id)
		if err != nil {
			return err
		}
		if c.Status == kirim.CustomerArchived {
			return done(id, "Archived already.")
		}
		if err := s.Archive(ctx, id, actor); err != nil {
			return err
		}
		return done(id, "")
	case store.BatchPauseFollowUp:
		if err := s.SetFollowUpPaused(ctx, id, true, actor); err != nil {
			return err
		}
		return done(id, "")
	}
	return fmt.Errorf("onboarding: unknown batch kind %q", b.Kind)
}

// importRow creates one customer of an import (and emails its link), under an
// Idempotency-Key of its own: run again, Kirim replays its first answer.
func (s *Service) importRow(ctx context.Context, b *store.Batch, r *store.BatchRow, actor string,
	finish func(*store.Tx, string, *int64, string) error) error {
	var in ImportRow
	if err := json.Unmarshal([]byte(r.Input), &in); err != nil {
		return fmt.Errorf("onboarding: batch %d row %d: %w", b.ID, r.Row, err)
	}
	c, err := s.createCustomer(ctx, in.Input, fmt.Sprintf("import-batch-%06d-row-%06d", b.ID, r.Row), actor)
	if err != nil {
		return err
	}
	if in.TimeZone != "" && c.TimeZone != in.TimeZone {
		if err := s.SetCustomerTimeZone(ctx, c.ID, in.TimeZone, actor); err != nil {
			return err
		}
	}
	if !b.SendLinks || c.Email == "" {
		note := ""
		if b.SendLinks {
			note = "No email address: no link sent."
		}
		return s.db.InTx(ctx, func(tx *store.Tx) error { return finish(tx, store.RowDone, &c.ID, note) })
	}
	_, err = s.sendLinkEmail(ctx, c.ID, false, actor, func(tx *store.Tx) error { return finish(tx, store.RowDone, &c.ID, "") })
	if err != nil {
		return &createdError{id: c.ID, err: err}
	}
	return nil
}

// errRowFinished is a row another run of its job finished first.
var errRowFinished = errors.New("onboarding: the row is finished already")

// createdError is a row whose customer was created but whose link email failed.
type createdError struct {
	id  int64
	err error
}

func (e *createdError) Error() string { return e.err.Error() }
func (e *createdError) Unwrap() error { return e.err }

// revokeActiveLinks revokes every link of the customer Kirim still holds active.
func (s *Service) revokeActiveLinks(ctx context.Context, customerID int64, actor string) (int, error) {
	links, err := s.db.SetupLinks(ctx, customerID)
	if err != nil {
		return 0, err
	}
	n := 0
	now := s.now()
	for _, l := range links {
		if LinkStatus(l, now) != kirim.LinkActive {
			continue
		}
		if err := s.RevokeLink(ctx, customerID, l.ID, actor); err != nil && !errors.Is(err, ErrLinkNotActive) {
			return n, err
		}
		n++
	}
	return n, nil
}

// permanent reports an error that trying again does not change: bad input, Kirim's
// refusal, a customer archived or without email.
func permanent(err error) bool {
	var inv *InvalidError
	var ke *kirim.Error
	switch {
	case errors.As(err, &inv), errors.Is(err, ErrArchived), errors.Is(err, ErrNoEmail), errors.Is(err, store.ErrNotFound):
		return true
	case errors.As(err, &ke):
		return !ke.Uncertain && !kirim.IsUnavailable(ke) && !kirim.IsRateLimited(ke)
	}
	return false
}

// words says an error as staff read it (web's table, through Deps.Words).
func (s *Service) words(err error) string {
	if s.wordsOf != nil {
		return s.wordsOf(err)
	}
	return err.Error()
}

// BatchETA estimates when a running batch finishes from its pace since it (re)started;
// zero when it cannot tell yet.
func BatchETA(b *store.Batch, now time.Time) time.Duration {
	if b.State != store.BatchRunning || b.StartedAt == nil || b.Recent < 3 || b.Counts.Pending == 0 {
		return 0
	}
	per := now.Sub(*b.StartedAt) / time.Duration(b.Recent)
	return per * time.Duration(b.Counts.Pending)
}

// registerBatchWorkers adds the batches' worker.
func (s *Service) registerBatchWorkers(w *river.Workers) {
	jobs.Add(w, 5*time.Minute, s.workRow)
}
