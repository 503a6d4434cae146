package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
)

// The workflows' background work, as River jobs. A job is enqueued in the transaction
// of the write that causes it (InsertTx with the store.Tx), is unique where a repeat
// would double an effect, and is safe to run twice: its Kirim calls carry
// Idempotency-Keys and its rows are unique.

// whileQueued makes a job unique among the jobs still to run (or running): asking
// again while one waits changes nothing.
var whileQueued = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

// ReconcileArgs reconciles the mirror with Kirim: on a schedule, and when staff ask.
type ReconcileArgs struct{}

// Kind names the job.
func (ReconcileArgs) Kind() string { return "reconcile" }

// InsertOpts makes it one at a time.
func (ReconcileArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: whileQueued} }

// SyncAllArgs syncs every connected account's templates (one job an account).
type SyncAllArgs struct {
	Actor string `json:"actor"`
}

// Kind names the job.
func (SyncAllArgs) Kind() string { return "templates.sync_all" }

// InsertOpts makes it one at a time.
func (SyncAllArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: whileQueued.ByState}}
}

// SyncTemplatesArgs syncs one account's templates.
type SyncTemplatesArgs struct {
	AccountID int64  `json:"account_id"`
	Trigger   string `json:"trigger"`
	// RunID is the "sync all" run it belongs to (0: none).
	RunID int64 `json:"run_id,omitempty"`
}

// Kind names the job.
func (SyncTemplatesArgs) Kind() string { return "templates.sync" }

// InsertOpts makes it unique per account and run while queued.
func (SyncTemplatesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: whileQueued, MaxAttempts: 5}
}

// ApplyWebhookArgs applies a Kirim webhook event kept when it was received.
type ApplyWebhookArgs struct {
	EventID string `json:"event_id"`
}

// Kind names the job.
func (ApplyWebhookArgs) Kind() string { return "kirim.webhook" }

// InsertOpts retries it for about a day (River's backoff) before giving it to the
// next reconciliation.
func (ApplyWebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: whileQueued, MaxAttempts: 12}
}

// RecheckArgs looks again at a customer's accounts that Kirim reported onboarding.
type RecheckArgs struct {
	CustomerID int64 `json:"customer_id"`
	// Attempt counts the looks so far; after the last, reconciliation takes over.
	Attempt int `json:"attempt"`
}

// Kind names the job.
func (RecheckArgs) Kind() string { return "accounts.recheck" }

// InsertOpts makes it unique per customer and attempt.
func (RecheckArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: whileQueued} }

// Periodic are the workflows' scheduled jobs: reconciliation every interval (the first
// right at start; zero: never), the follow-up's scan every minute, the attention
// queue's sweep every five minutes and the daily digests' check every ten.
func Periodic(reconcileEvery time.Duration) []*river.PeriodicJob {
	every := func(d time.Duration, args river.JobArgs, onStart bool) *river.PeriodicJob {
		return river.NewPeriodicJob(river.PeriodicInterval(d), func() (river.JobArgs, *river.InsertOpts) { return args, nil },
			&river.PeriodicJobOpts{RunOnStart: onStart})
	}
	out := []*river.PeriodicJob{
		every(time.Minute, FollowUpScanArgs{}, true),
		every(5*time.Minute, AttentionSweepArgs{}, true),
		every(10*time.Minute, DigestArgs{}, true),
	}
	if reconcileEvery > 0 {
		out = append(out, every(reconcileEvery, ReconcileArgs{}, true))
	}
	return out
}

// RegisterWorkers adds the workflows' workers to the job engine.
func (s *Service) RegisterWorkers(w *river.Workers) {
	s.registerFollowUpWorkers(w)
	s.registerAlertWorkers(w)
	s.registerAttentionWorkers(w)
	s.registerBatchWorkers(w)
	s.registerWebhookWorkers(w)
	jobs.Add(w, time.Minute, s.confirmReturn)
	jobs.Add(w, 30*time.Minute, func(ctx context.Context, j *river.Job[ReconcileArgs]) error {
		rep, err := s.Reconcile(ctx)
		if errors.Is(err, ErrBusy) {
			return nil
		}
		if err == nil {
			s.log.Info("reconciled with Kirim", "customers", rep.Customers, "changed", rep.CustomersChanged,
				"accounts", rep.Accounts, "accounts_changed", rep.AccountsChanged, "links_checked", rep.LinksChecked,
				"duration", rep.Duration.Round(time.Millisecond).String())
		}
		return err
	})
	jobs.Add(w, 5*time.Minute, func(ctx context.Context, j *river.Job[SyncAllArgs]) error {
		return s.startSyncAll(ctx, j)
	})
	jobs.Add(w, 10*time.Minute, func(ctx context.Context, j *river.Job[SyncTemplatesArgs]) error {
		err := s.syncTemplates(ctx, j.Args, j.ID)
		var ke *kirim.Error
		if errors.As(err, &ke) && !kirim.IsUnavailable(ke) && !kirim.IsRateLimited(ke) {
			return river.JobCancel(err) // recorded as failed; trying again changes nothing
		}
		return err
	})
	jobs.Add(w, time.Minute, func(ctx context.Context, j *river.Job[ApplyWebhookArgs]) error {
		body, err := s.db.WebhookEventBody(ctx, j.Args.EventID)
		if err != nil {
			return err
		}
		var ev kirim.WebhookEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			return river.JobCancel(fmt.Errorf("webhook event %s: %w", j.Args.EventID, err))
		}
		return s.ApplyWebhook(ctx, ev)
	})
	jobs.Add(w, time.Minute, func(ctx context.Context, j *river.Job[RecheckArgs]) error {
		onboarding, err := s.RefreshCustomer(ctx, j.Args.CustomerID, "webhook")
		if err != nil || !onboarding {
			return err
		}
		return s.recheckLater(ctx, j.Args.CustomerID, j.Args.Attempt+1)
	})
}

// recheckLater looks at a customer's accounts again after the attempt's delay, unless
// the attempts are spent.
func (s *Service) recheckLater(ctx context.Context, customerID int64, attempt int) error {
	if attempt >= len(s.recheckDelays) {
		s.log.Info("an account is still onboarding; reconciliation will look again", "customer", customerID)
		return nil
	}
	_, err := s.jobs.Insert(ctx, RecheckArgs{CustomerID: customerID, Attempt: attempt},
		&river.InsertOpts{ScheduledAt: time.Now().Add(s.recheckDelays[attempt])})
	return err
}

// StartReconcile asks for a reconciliation now (staff asked for it); false when one is
// already waiting or running.
func (s *Service) StartReconcile(ctx context.Context) (bool, error) {
	res, err := s.jobs.Insert(ctx, ReconcileArgs{}, nil)
	if err != nil {
		return false, err
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// Wait waits until no job is waiting to run now or running (tests, and the pages that
// show progress), at most 30 s.
func (s *Service) Wait() {
	ctx := context.Background()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		res, err := s.jobs.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable, rivertype.JobStateRunning).First(1))
		if err != nil || len(res.Jobs) == 0 {
			return
		}
	}
}
