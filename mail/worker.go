package mail

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/kirim-portal/portal/store"
)

// Worker sends the outbox: it claims due emails, sends them with bounded concurrency,
// and records each outcome. Temporary failures are retried with backoff; after
// MaxAttempts, or on a permanent failure, the email is failed with the reason.
type Worker struct {
	DB     *store.DB
	Sender Sender
	Log    *slog.Logger
	// FromName and From are the sender of emails queued without one.
	FromName, From string
	// Concurrency bounds parallel SMTP sessions.
	Concurrency int
	// MaxAttempts before giving up on temporary failures.
	MaxAttempts int
	// Poll is how often the outbox is checked; Wake makes it check at once.
	Poll time.Duration
	// Backoff is the wait before attempt n+1 after n failed ones.
	Backoff func(attempts int) time.Duration

	wake chan struct{}
	once sync.Once
}

func (w *Worker) init() {
	w.once.Do(func() {
		w.wake = make(chan struct{}, 1)
		if w.Concurrency <= 0 {
			w.Concurrency = 4
		}
		if w.MaxAttempts <= 0 {
			w.MaxAttempts = 8
		}
		if w.Poll <= 0 {
			w.Poll = 5 * time.Second
		}
		if w.Backoff == nil {
			w.Backoff = func(n int) time.Duration { return min(30*time.Second<<(n-1), time.Hour) }
		}
		if w.Log == nil {
			w.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Wake asks the worker to look at the outbox now (after queueing an email).
func (w *Worker) Wake() {
	w.init()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends. Emails a crash left mid-send go back to the queue first:
// one process sends from a database, so any email still marked sending at start was
// cut off. An SMTP session cut before the end of DATA delivers nothing, and the email
// is sent once after the restart; only a crash in the moment between the server's
// acceptance and the portal recording it sends it twice, under the same Message-ID.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	if n, err := w.DB.RequeueStuck(ctx, 0); err == nil && n > 0 {
		w.Log.Warn("emails interrupted mid-send are queued again", "count", n)
	}
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		if _, err := w.Tick(ctx); err != nil && ctx.Err() == nil {
			w.Log.Error("mail: outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// Tick sends every email due when it starts (each at most once) and returns how many
// it handled.
func (w *Worker) Tick(ctx context.Context) (int, error) {
	w.init()
	start := w.DB.Now()
	total := 0
	for {
		batch, err := w.DB.ClaimEmails(ctx, w.Concurrency, start)
		if err != nil || len(batch) == 0 {
			return total, err
		}
		var wg sync.WaitGroup
		for _, e := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.deliver(ctx, e)
			}()
		}
		wg.Wait()
		total += len(batch)
	}
}

func (w *Worker) deliver(ctx context.Context, e *store.Email) {
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	fromName, from := e.FromName, e.From
	if from == "" {
		fromName, from = w.FromName, w.From
	}
	err := w.Sender.Send(sctx, Message{FromName: fromName, From: from, To: e.To, Subject: e.Subject,
		HTML: e.HTML, Text: e.Text, MessageID: e.MessageID})
	// Record the outcome even if ctx is ending: the send happened or not.
	rctx := context.WithoutCancel(ctx)
	switch {
	case err == nil:
		if err := w.DB.EmailSent(rctx, e); err != nil {
			w.Log.Error("mail: recording a sent email", "email", e.ID, "err", err)
		}
	case IsPermanent(err) || e.Attempts >= w.MaxAttempts:
		reason := err.Error()
		if !IsPermanent(err) {
			reason = "gave up after " + strconv.Itoa(e.Attempts) + " attempts: " + reason
		}
		w.Log.Warn("mail: email failed", "email", e.ID, "reason", reason)
		if err := w.DB.EmailFailed(rctx, e, reason); err != nil {
			w.Log.Error("mail: recording a failed email", "email", e.ID, "err", err)
		}
	default:
		next := w.DB.Now().Add(w.Backoff(e.Attempts))
		w.Log.Info("mail: temporary failure, will retry", "email", e.ID, "attempt", e.Attempts, "at", next.Format(time.RFC3339), "err", err)
		if err := w.DB.EmailRetry(rctx, e, err.Error(), next); err != nil {
			w.Log.Error("mail: recording a retry", "email", e.ID, "err", err)
		}
	}
}
