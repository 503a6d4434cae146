package onboarding

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

// ErrNotConnected is a template sync of an account that cannot send.
var ErrNotConnected = errors.New("onboarding: the account is not connected")

// SyncTemplates pulls an account's templates from Meta through Kirim, then lists them,
// and records the run (trigger, time, counts or error) with its event.
func (s *Service) SyncTemplates(ctx context.Context, accountID int64, trigger string) error {
	a, err := s.db.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	if a.PhoneNumberID == "" || a.Status != kirim.AccountConnected {
		return ErrNotConnected
	}
	syncID, err := s.db.StartTemplateSync(ctx, accountID, trigger)
	if err != nil {
		return err
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

// goSync syncs one account's templates in the background (after a connection).
func (s *Service) goSync(accountID int64, trigger string) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := s.SyncTemplates(ctx, accountID, trigger); err != nil {
			s.log.Warn("template sync failed", "account", accountID, "err", err)
		}
	}()
}

// Track runs fn in the background as work Wait waits for.
func (s *Service) Track(fn func()) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		fn()
	}()
}

// Wait waits for background work (template syncs) to finish, for shutdown and tests.
func (s *Service) Wait() { s.bg.Wait() }

// SyncAllProgress is the state of a "sync all" run.
type SyncAllProgress struct {
	Running  bool
	Total    int
	Done     int
	Failed   int
	Started  time.Time
	Finished time.Time
}

type syncAll struct {
	mu sync.Mutex
	p  SyncAllProgress
}

// SyncAllStatus returns the progress of the last "sync all".
func (s *Service) SyncAllStatus() SyncAllProgress {
	s.all.mu.Lock()
	defer s.all.mu.Unlock()
	return s.all.p
}

// StartSyncAll syncs every connected account's templates in the background, one after
// another: the client's rate limiter paces the calls. It returns false when a run is
// already going.
func (s *Service) StartSyncAll(actor string) bool {
	s.all.mu.Lock()
	if s.all.p.Running {
		s.all.mu.Unlock()
		return false
	}
	s.all.p = SyncAllProgress{Running: true, Started: s.now()}
	s.all.mu.Unlock()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx := context.Background()
		accounts, err := s.db.AccountsByStatus(ctx, kirim.AccountConnected)
		s.all.mu.Lock()
		s.all.p.Total = len(accounts)
		s.all.mu.Unlock()
		for _, a := range accounts {
			if err != nil {
				break
			}
			serr := s.SyncTemplates(ctx, a.ID, "sync_all")
			s.all.mu.Lock()
			s.all.p.Done++
			if serr != nil {
				s.all.p.Failed++
			}
			s.all.mu.Unlock()
		}
		s.all.mu.Lock()
		s.all.p.Running, s.all.p.Finished = false, s.now()
		s.all.mu.Unlock()
		s.log.Info("template sync of all accounts done", "by", actor, "accounts", len(accounts))
	}()
	return true
}
