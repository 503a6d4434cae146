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
	// Kirim may leave archived customers out of the default list: they are asked for
	// on their own, and each customer is taken once, whichever list shows it.
	seen := map[string]bool{}
	for _, status := range []string{"", kirim.CustomerArchived} {
		for c, err := range s.kirim.AllCustomers(ctx, kirim.ListCustomersParams{Status: status, Limit: 100}) {
			if err != nil {
				return err
			}
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			rep.Customers++
			batch = append(batch, mirror(&c))
			if len(batch) == 100 {
				if err := flush(); err != nil {
					return err
				}
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
	changes, err := s.mirrorAccounts(ctx, accounts, "reconciliation")
	if err != nil {
		return err
	}
	rep.AccountsChanged = len(changes)
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
	return s.deleteReplacedWebhooks(ctx)
}

// webhookData is what the portal reads of an event's data. Kirim documents the
// customer.created payload only: others may carry the customer, only the setup link
// (with the internal customer id), or both.
type webhookData struct {
	Customer  *kirim.Customer  `json:"customer"`
	SetupLink *kirim.SetupLink `json:"setup_link"`
}

// ApplyWebhook applies a verified Kirim event. Deliveries may come late, twice or out
// of order: a customer in the payload is taken only when newer than the mirror (by its
// updated_at, else the event's time), and the onboarding events read the customer, its
// links and its accounts back from Kirim rather than trusting the payload's shape.
func (s *Service) ApplyWebhook(ctx context.Context, ev kirim.WebhookEvent) error {
	var data webhookData
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		s.log.Info("webhook event with unreadable data ignored", "type", ev.Type, "event", ev.ID)
		return nil
	}
	c, err := s.webhookCustomer(ctx, ev, data)
	if errors.Is(err, store.ErrNotFound) {
		s.log.Info("webhook event for a customer the portal does not know yet; reconciliation will bring it", "type", ev.Type, "event", ev.ID)
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := s.db.AddEvent(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventWebhookReceived, Actor: "kirim", Key: ev.ID,
		Detail: map[string]any{"type": ev.Type, "event": ev.ID}}); err != nil {
		return err
	}
	switch ev.Type {
	case "customer.onboarded", "customer.setup_link.consumed", "customer.archived":
		onboarding, err := s.RefreshCustomer(ctx, c.ID, "webhook")
		if err != nil {
			return err
		}
		if onboarding {
			return s.recheckLater(ctx, c.ID, 0)
		}
	case "customer.setup_link.created":
		return s.RefreshLinks(ctx, c.ID)
	}
	return nil
}

// webhookCustomer finds (or, from a full customer object, mirrors) the event's customer.
func (s *Service) webhookCustomer(ctx context.Context, ev kirim.WebhookEvent, data webhookData) (*store.Customer, error) {
	if data.Customer != nil && strings.HasPrefix(data.Customer.ID, "cus_") {
		if data.Customer.Name != "" && data.Customer.Status != "" {
			m := mirror(data.Customer)
			if m.UpdatedAt.IsZero() {
				m.UpdatedAt = ev.CreatedAt
			}
			if _, err := s.db.ReconcileCustomers(ctx, []store.CustomerMirror{m}, "webhook"); err != nil {
				return nil, err
			}
		}
		return s.db.CustomerByKirimID(ctx, data.Customer.ID)
	}
	if data.SetupLink != nil {
		if l, err := s.db.SetupLinkByKirimID(ctx, data.SetupLink.ID); err == nil {
			return s.db.CustomerByID(ctx, l.CustomerID)
		}
		if data.SetupLink.CustomerID != "" {
			return s.db.CustomerByInternalID(ctx, data.SetupLink.CustomerID)
		}
	}
	return nil, store.ErrNotFound
}

// recheckDelays are the waits before each new look at an account Kirim reported as
// still onboarding after a signup; after the last, reconciliation takes over.
var recheckDelays = []time.Duration{2 * time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute}

// AcceptWebhook keeps a verified Kirim delivery and enqueues its application, in one
// transaction, so that Kirim gets its answer at once and nothing is lost if applying
// fails (the job retries). fresh is false for an event seen before: at-least-once
// delivery repeats events, and a repeat is not applied again.
func (s *Service) AcceptWebhook(ctx context.Context, eventID, typ string, body []byte) (fresh bool, err error) {
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if fresh, err = tx.RecordWebhookEvent(ctx, eventID, typ, body); err != nil || !fresh {
			return err
		}
		_, err := s.jobs.InsertTx(ctx, tx.SQL(), ApplyWebhookArgs{EventID: eventID}, nil)
		return err
	})
	return fresh, err
}

// RegisterWebhook subscribes the portal's /webhooks/kirim to Kirim's customer events
// and keeps the signing secret sealed. The request carries an Idempotency-Key that
// follows it, so registering again after a lost answer gets the same subscription, not
// a second one. A subscription to another URL (the public URL changed) replaces the
// previous one, which is then deleted in Kirim; until that succeeds, its secret is kept
// so that its deliveries still pass the signature check. Kirim delivers only to https.
func (s *Service) RegisterWebhook(ctx context.Context, actor string) error {
	if !strings.HasPrefix(s.publicURL, "https://") {
		return ErrNeedsHTTPS
	}
	p := kirim.CreateWebhookSubscriptionParams{URL: s.publicURL + "/webhooks/kirim", Events: kirim.CustomerEvents,
		Description: "Kirim Onboarding Portal"}
	const scope = "webhook.register"
	key := idempotencyKey("wbs", "register", p)
	earlier, err := s.db.IntentsInScope(ctx, scope)
	if err != nil {
		return err
	}
	for _, it := range earlier {
		if it.State == store.IntentPending && it.Key != key {
			if err := s.settleWebhook(ctx, it); err != nil {
				return err
			}
		}
	}
	body, _ := json.Marshal(p)
	if _, err := s.db.BeginIntent(ctx, "webhook.register", scope, key, string(body)); err != nil {
		return err
	}
	p.IdempotencyKey = key
	sub, err := s.kirim.CreateWebhookSubscription(ctx, p)
	if err != nil {
		return errors.Join(err, s.db.FailIntent(ctx, key, err.Error(), !kirim.OutcomeUnknown(err)))
	}
	if err := s.db.SaveWebhook(ctx, sub.ID, p.URL, sub.InitialSecret.Reveal()); err != nil {
		return err
	}
	if err := s.db.FinishIntent(ctx, key, sub.ID); err != nil {
		return err
	}
	if _, err := s.db.AddEvent(ctx, store.Event{Kind: store.EventWebhookRegistered, Actor: actor, Detail: map[string]any{"subscription": sub.ID}}); err != nil {
		return err
	}
	return s.deleteReplacedWebhooks(ctx)
}

// settleWebhook sends an earlier registration of unknown outcome again under its own
// key; a subscription it made is kept (and then replaced).
func (s *Service) settleWebhook(ctx context.Context, it *store.Intent) error {
	var p kirim.CreateWebhookSubscriptionParams
	if err := json.Unmarshal([]byte(it.Request), &p); err != nil {
		return err
	}
	p.IdempotencyKey = it.Key
	sub, err := s.kirim.CreateWebhookSubscription(ctx, p)
	if err != nil {
		final := !kirim.OutcomeUnknown(err)
		if ferr := s.db.FailIntent(ctx, it.Key, err.Error(), final); ferr != nil || final {
			return ferr
		}
		return err
	}
	if err := s.db.SaveWebhook(ctx, sub.ID, p.URL, sub.InitialSecret.Reveal()); err != nil {
		return err
	}
	return s.db.FinishIntent(ctx, it.Key, sub.ID)
}

// deleteReplacedWebhooks asks Kirim to delete the subscriptions a newer one replaced.
// Kirim's contract does not name this operation: a 404 (gone, or no such operation)
// keeps the subscription's secret and says so on the settings page; an outage is tried
// again at the next reconciliation.
func (s *Service) deleteReplacedWebhooks(ctx context.Context) error {
	w, err := s.db.Webhook(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, sub := range w.Replaced() {
		if sub.DeleteError != "" && !strings.HasPrefix(sub.DeleteError, retryLater) {
			continue
		}
		err := s.kirim.DeleteWebhookSubscription(ctx, sub.ID)
		switch {
		case err == nil:
			if err := s.db.DropWebhook(ctx, sub.ID); err != nil {
				return err
			}
		case kirim.IsNotFound(err):
			if err := s.db.SetWebhookDeleteError(ctx, sub.ID, "Kirim answered 404: the subscription may be deleted already, or this Kirim cannot delete subscriptions through its API. Its deliveries are still accepted; delete it in Kirim's dashboard if it is there."); err != nil {
				return err
			}
		default:
			if err := s.db.SetWebhookDeleteError(ctx, sub.ID, retryLater+err.Error()); err != nil {
				return err
			}
		}
	}
	return nil
}

// retryLater starts a delete error that the next reconciliation tries again.
const retryLater = "Will try again: "
