package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

// ReconcileReport says what one reconciliation did.
type ReconcileReport struct {
	Started          time.Time
	Duration         time.Duration
	Customers        int
	CustomersChanged int
	Accounts         int
	AccountsChanged  int
	LinksChecked     int
	Err              string
}

type reconcileState struct {
	mu      sync.Mutex
	running bool
	last    *ReconcileReport
}

// Errors of reconciliation and webhooks.
var (
	ErrBusy       = errors.New("onboarding: a reconciliation is already running")
	ErrNeedsHTTPS = errors.New("onboarding: Kirim delivers webhooks to https only")
)

// LastReconcile returns the report of the last finished run, if any, and whether one runs now.
func (s *Service) LastReconcile() (*ReconcileReport, bool) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.last, s.rec.running
}

// Reconcile brings the mirror back to Kirim's truth: every customer (a page of 100 per
// call), every account (one call), and the links of customers the mirror thinks have an
// active one. Changes become timeline events. It writes a page at a time, so the UI is
// never blocked for long.
func (s *Service) Reconcile(ctx context.Context) (*ReconcileReport, error) {
	s.rec.mu.Lock()
	if s.rec.running {
		s.rec.mu.Unlock()
		return nil, ErrBusy
	}
	s.rec.running = true
	s.rec.mu.Unlock()
	rep := &ReconcileReport{Started: s.now()}
	err := s.reconcile(ctx, rep)
	rep.Duration = s.now().Sub(rep.Started)
	if err != nil {
		rep.Err = err.Error()
	}
	s.rec.mu.Lock()
	s.rec.running, s.rec.last = false, rep
	s.rec.mu.Unlock()
	return rep, err
}

func (s *Service) reconcile(ctx context.Context, rep *ReconcileReport) error {
	var batch []store.CustomerMirror
	flush := func() error {
		diffs, err := s.db.ReconcileCustomers(ctx, batch, "reconciliation")
		rep.CustomersChanged += len(diffs)
		batch = batch[:0]
		return err
	}
	for c, err := range s.kirim.AllCustomers(ctx, kirim.ListCustomersParams{Limit: 100}) {
		if err != nil {
			return err
		}
		rep.Customers++
		batch = append(batch, mirror(&c))
		if len(batch) == 100 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	accounts, err := s.kirim.ListAccounts(ctx, kirim.AccountFilter{Status: "all"})
	if err != nil {
		return err
	}
	rep.Accounts = len(accounts)
	changes, err := s.db.SyncAccounts(ctx, accountMirrors(accounts))
	if err != nil {
		return err
	}
	rep.AccountsChanged = len(changes)
	if err := s.afterAccountChanges(ctx, changes, "reconciliation"); err != nil {
		return err
	}
	ids, err := s.db.CustomersWithActiveLinks(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.RefreshLinks(ctx, id); err != nil {
			return err
		}
		rep.LinksChecked++
	}
	return nil
}

// RunReconciler reconciles every interval until ctx ends (the first run right away).
func (s *Service) RunReconciler(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if rep, err := s.Reconcile(ctx); err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
			s.log.Warn("reconciliation failed", "err", err)
		} else if rep != nil {
			s.log.Info("reconciled with Kirim", "customers", rep.Customers, "changed", rep.CustomersChanged,
				"accounts", rep.Accounts, "accounts_changed", rep.AccountsChanged, "links_checked", rep.LinksChecked,
				"duration", rep.Duration.Round(time.Millisecond).String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StartReconcile runs a reconciliation in the background (staff asked for it).
func (s *Service) StartReconcile() bool {
	if _, running := s.LastReconcile(); running {
		return false
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		if _, err := s.Reconcile(ctx); err != nil && !errors.Is(err, ErrBusy) {
			s.log.Warn("reconciliation failed", "err", err)
		}
	}()
	return true
}

// ApplyWebhook applies a verified Kirim event through the same code as reconciliation.
func (s *Service) ApplyWebhook(ctx context.Context, ev kirim.WebhookEvent) error {
	var data struct {
		Customer *kirim.Customer `json:"customer"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.Customer == nil || data.Customer.ID == "" {
		s.log.Info("webhook event without a customer ignored", "type", ev.Type)
		return nil
	}
	if _, err := s.db.ReconcileCustomers(ctx, []store.CustomerMirror{mirror(data.Customer)}, "webhook"); err != nil {
		return err
	}
	c, err := s.db.CustomerByKirimID(ctx, data.Customer.ID)
	if err != nil {
		return err
	}
	if _, err := s.db.AddEvent(ctx, store.Event{CustomerID: &c.ID, Kind: "webhook.received", Actor: "kirim",
		Detail: map[string]any{"type": ev.Type, "event": ev.ID}}); err != nil {
		return err
	}
	switch ev.Type {
	case "customer.onboarded":
		return s.RefreshAccounts(ctx, c.ID, "kirim")
	case "customer.setup_link.created", "customer.setup_link.consumed", "customer.archived":
		return s.RefreshLinks(ctx, c.ID)
	}
	return nil
}

// ApplyWebhookLater applies an event in the background, so the webhook answers at once.
// A failure is logged; the next reconciliation repairs what it missed.
func (s *Service) ApplyWebhookLater(ev kirim.WebhookEvent) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.ApplyWebhook(ctx, ev); err != nil {
			s.log.Warn("applying a webhook event failed; the reconciler will catch up", "type", ev.Type, "err", err)
		}
	}()
}

// RegisterWebhook subscribes the portal's /webhooks/kirim to Kirim's customer events
// and keeps the signing secret sealed. Kirim delivers only to https.
func (s *Service) RegisterWebhook(ctx context.Context, actor string) error {
	if !strings.HasPrefix(s.publicURL, "https://") {
		return ErrNeedsHTTPS
	}
	url := s.publicURL + "/webhooks/kirim"
	sub, err := s.kirim.CreateWebhookSubscription(ctx, kirim.CreateWebhookSubscriptionParams{URL: url, Events: kirim.CustomerEvents,
		Description: "Kirim Onboarding Portal"})
	if err != nil {
		return err
	}
	if err := s.db.SaveWebhook(ctx, sub.ID, url, sub.InitialSecret.Reveal()); err != nil {
		return err
	}
	_, err = s.db.AddEvent(ctx, store.Event{Kind: "settings.webhook_registered", Actor: actor, Detail: map[string]any{"subscription": sub.ID}})
	return err
}
