package onboarding

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

// ErrNotConnected is a template sync of an account that cannot send.
var ErrNotConnected = errors.New("onboarding: the account is not connected")

// SyncTemplates pulls an account's templates from Meta through Kirim, then lists them,
// and records the run (trigger, time, counts or error) with its event.
func (s *Service) SyncTemplates(ctx context.Context, accountID int64, trigger string) error {
	return s.syncTemplates(ctx, SyncTemplatesArgs{AccountID: accountID, Trigger: trigger}, 0)
}

// syncTemplates is SyncTemplates as the job jobID (0: not a job) runs it: a retried
// job finishes the same history row, under the same Idempotency-Key.
func (s *Service) syncTemplates(ctx context.Context, args SyncTemplatesArgs, jobID int64) error {
	a, err := s.db.AccountByID(ctx, args.AccountID)
	if err != nil {
		return err
	}
	connected := a.PhoneNumberID != "" && a.Status == kirim.AccountConnected
	if !connected && args.RunID == 0 {
		return ErrNotConnected
	}
	syncID, err := s.db.StartTemplateSyncJob(ctx, args.AccountID, args.Trigger, jobID, args.RunID)
	if err != nil {
		return err
	}
	if !connected { // the run counts it, as failed: the number stopped sending meanwhile
		return s.db.FinishTemplateSync(context.WithoutCancel(ctx), syncID, nil, "the number is no longer connected")
	}
	_, err = s.kirim.SyncTemplates(ctx, a.PhoneNumberID, "template-sync-"+strconv.FormatInt(syncID, 10))
	if err == nil {
		// Kirim's own summary counts what it holds; the history counts what the mirror
		// took in, from the whole list, every page of it.
		var tpls []kirim.Template
		if tpls, err = s.kirim.ListTemplates(ctx, a.PhoneNumberID); err == nil {
			list := make([]store.Template, 0, len(tpls))
			for _, t := range tpls {
				list = append(list, store.Template{Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status})
			}
			return s.db.FinishTemplateSync(context.WithoutCancel(ctx), syncID, list, "")
		}
	}
	return errors.Join(err, s.db.FinishTemplateSync(context.WithoutCancel(ctx), syncID, nil, err.Error()))
}

// SyncCustomerTemplates syncs an account of this customer (another's is not found).
func (s *Service) SyncCustomerTemplates(ctx context.Context, customerID, accountID int64, trigger string) error {
	a, err := s.db.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	if a.CustomerID == nil || *a.CustomerID != customerID {
		return ErrNotFound
	}
	return s.SyncTemplates(ctx, accountID, trigger)
}

// SyncAllProgress is the state of the last "sync all".
type SyncAllProgress struct {
	Running  bool
	Total    int
	Done     int
	Failed   int
	Started  time.Time
	Finished time.Time
}

// SyncAllStatus returns the progress of the last "sync all".
func (s *Service) SyncAllStatus(ctx context.Context) (SyncAllProgress, error) {
	r, err := s.db.LastSyncRun(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return SyncAllProgress{}, nil
	}
	if err != nil {
		return SyncAllProgress{}, err
	}
	p := SyncAllProgress{Running: r.FinishedAt == nil, Total: r.Total, Done: r.Done, Failed: r.Failed, Started: r.StartedAt}
	if r.FinishedAt != nil {
		p.Finished = *r.FinishedAt
	}
	return p, nil
}

// StartSyncAll asks for every connected account's templates to be synced, as jobs (one
// an account, paced by the client's rate limiter). It returns false when a run is
// already going.
func (s *Service) StartSyncAll(ctx context.Context, actor string) (bool, error) {
	p, err := s.SyncAllStatus(ctx)
	if err != nil || p.Running {
		return false, err
	}
	res, err := s.jobs.Insert(ctx, SyncAllArgs{Actor: actor}, nil)
	if err != nil {
		return false, err
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// startSyncAll records a "sync all" run and enqueues a sync of every connected account
// with it, in one transaction with the job's completion (run again after a crash, it
// would start a second run).
func (s *Service) startSyncAll(ctx context.Context, j *river.Job[SyncAllArgs]) error {
	actor := j.Args.Actor
	accounts, err := s.db.AccountsByStatus(ctx, kirim.AccountConnected)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		run, err := tx.StartSyncRun(ctx, actor, len(accounts))
		if err != nil {
			return err
		}
		params := make([]river.InsertManyParams, 0, len(accounts))
		for _, a := range accounts {
			params = append(params, river.InsertManyParams{Args: SyncTemplatesArgs{AccountID: a.ID, Trigger: "sync_all", RunID: run}})
		}
		if len(params) > 0 {
			if _, err = s.jobs.InsertManyTx(ctx, tx.SQL(), params); err != nil {
				return err
			}
		}
		return jobs.CompleteTx(ctx, tx.SQL(), j)
	})
}
