package onboarding

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// Outgoing webhooks tell the platform's backend what happens in onboarding. Every
// timeline event of a kind the platform can subscribe to becomes, in the transaction
// that records it, one delivery per endpoint that wants it, and a job that posts it,
// signed per Standard Webhooks. A delivery keeps its webhook-id on every try (at least
// once: receivers de-duplicate on it); it is tried with growing pauses for 3 days; an
// endpoint that fails for 3 days is disabled and staff are told.

// OutgoingEvents are the event types an endpoint can ask for.
var OutgoingEvents = []string{"customer.created", "link.sent", "landing.opened", "signup.succeeded", "signup.failed",
	"account.disconnected", "templates.synced", "attention.raised"}

// outgoingType maps a timeline event to the type the platform hears ("" for none).
func outgoingType(e store.Event) string {
	switch e.Kind {
	case store.EventCustomerCreated:
		return "customer.created"
	case store.EventEmailQueued:
		if e.Detail["link"] != nil {
			return "link.sent"
		}
	case store.EventLandingOpened:
		return "landing.opened"
	case store.EventSignupSucceeded:
		return "signup.succeeded"
	case store.EventSignupFailed:
		return "signup.failed"
	case store.EventAccountStatusChanged:
		if e.Detail["to"] == kirim.AccountDisconnected {
			return "account.disconnected"
		}
	case store.EventTemplatesSynced:
		return "templates.synced"
	case store.EventAttentionRaised:
		return "attention.raised"
	}
	return ""
}

// DeliverWebhookArgs posts one delivery.
type DeliverWebhookArgs struct {
	DeliveryID int64 `json:"delivery_id"`
	// Redelivery tells a redelivery staff asked for from the first job (both unique).
	Redelivery int64 `json:"redelivery,omitempty"`
}

// Kind names the job.
func (DeliverWebhookArgs) Kind() string { return "webhooks.deliver" }

// InsertOpts: one job a delivery while queued, on the outgoing queue, tried until
// the delivery's 3 days are over (the job decides).
func (DeliverWebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: whileQueued, MaxAttempts: 1000, Queue: jobs.QueueAlerts}
}

// deliveryWindow is how long a delivery is tried, and an endpoint may fail before it is
// disabled.
const deliveryWindow = 72 * time.Hour

// webhookEvents hears every timeline event (store.SetEventHook) and writes the
// deliveries it causes, with their jobs, in the event's transaction.
func (s *Service) webhookEvents(ctx context.Context, tx *store.Tx, e store.Event) error {
	typ := outgoingType(e)
	if typ == "" || e.CustomerID == nil {
		return nil
	}
	endpoints, err := tx.EndpointsFor(ctx, typ)
	if err != nil || len(endpoints) == 0 {
		return err
	}
	payload, err := s.webhookPayload(ctx, tx, typ, e)
	if err != nil {
		return err
	}
	for _, ep := range endpoints {
		id, err := tx.AddDelivery(ctx, ep, "msg_"+secret.NewToken(18), typ, string(payload))
		if err != nil {
			return err
		}
		if _, err := s.jobs.InsertTx(ctx, tx.SQL(), DeliverWebhookArgs{DeliveryID: id}, nil); err != nil {
			return err
		}
	}
	return nil
}

// webhookCustomer is the customer in every payload.
type webhookCustomer struct {
	ID          int64  `json:"id"`
	KirimID     string `json:"kirim_id"`
	ExternalRef string `json:"external_ref,omitempty"`
	Name        string `json:"name"`
	Email       string `json:"email,omitempty"`
	Stage       string `json:"stage"`
}

// webhookPayload is the body the platform receives: {type, timestamp, data}.
func (s *Service) webhookPayload(ctx context.Context, tx *store.Tx, typ string, e store.Event) ([]byte, error) {
	c, err := tx.CustomerByID(ctx, *e.CustomerID)
	if err != nil {
		return nil, err
	}
	ref, _ := c.Metadata["external_ref"].(string)
	data := map[string]any{"customer": webhookCustomer{ID: c.ID, KirimID: c.KirimID, ExternalRef: ref, Name: c.Name, Email: c.Email, Stage: c.Stage}}
	for _, k := range []string{"link", "reason", "phone_number", "phone_number_id", "templates", "new", "changed", "since", "detail"} {
		if v, ok := e.Detail[k]; ok {
			data[k] = v
		}
	}
	if typ == "signup.succeeded" {
		phone, _ := e.Detail["phone_number"].(string)
		account, phoneID, err := tx.AccountIDsByPhone(ctx, c.ID, phone)
		if err != nil {
			return nil, err
		}
		data["account_id"], data["phone_number_id"] = account, phoneID
	}
	return json.Marshal(map[string]any{"type": typ, "timestamp": e.CreatedAt.UTC().Format(time.RFC3339), "data": data})
}

// webhookClient posts deliveries; an endpoint slow to answer is given up on after 15 s.
var webhookPoster = &http.Client{Timeout: 15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// deliver posts a delivery once; River tries again with the worker's pauses while the
// delivery's 3 days last.
func (s *Service) deliver(ctx context.Context, j *river.Job[DeliverWebhookArgs]) error {
	d, err := s.db.DeliveryByID(ctx, j.Args.DeliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || d.State != store.DeliveryPending {
		return err
	}
	ep, err := s.db.EndpointByID(ctx, d.EndpointID)
	if errors.Is(err, store.ErrNotFound) || err == nil && ep.State != store.EndpointActive {
		return nil // deleted or disabled: redeliver after enabling
	}
	if err != nil {
		return err
	}
	secrets, err := s.db.EndpointSecrets(ctx, ep.ID)
	if err != nil {
		return err
	}
	status, latency, perr := s.post(ctx, ep.URL, d, secrets)
	now := s.now() // one reading: a delivery as old as the endpoint's failures gives up with it
	final := perr != nil && now.Sub(d.CreatedAt) >= deliveryWindow
	a := store.Attempt{Status: status, Latency: latency, Final: final}
	if perr != nil {
		a.Error = perr.Error()
	}
	since, err := s.db.RecordAttempt(context.WithoutCancel(ctx), d.ID, a)
	if err != nil {
		return err
	}
	if perr == nil {
		return nil
	}
	if since != nil && now.Sub(*since) >= deliveryWindow {
		if err := s.disableEndpoint(ctx, ep); err != nil {
			return err
		}
		return river.JobCancel(perr)
	}
	if final {
		return river.JobCancel(perr)
	}
	return perr
}

// post sends the delivery signed with every live secret (two after a rotation).
func (s *Service) post(ctx context.Context, endpoint string, d *store.Delivery, secrets []string) (int, time.Duration, error) {
	now := time.Now()
	var sigs []string
	for _, sec := range secrets {
		wh, err := standardwebhooks.NewWebhook(sec)
		if err != nil {
			return 0, 0, err
		}
		sig, err := wh.Sign(d.MsgID, now, []byte(d.Payload))
		if err != nil {
			return 0, 0, err
		}
		sigs = append(sigs, sig)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader([]byte(d.Payload)))
	if err != nil {
		return 0, 0, errors.New("the endpoint's URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kirim-portal-webhooks/1")
	req.Header.Set("webhook-id", d.MsgID)
	req.Header.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
	req.Header.Set("webhook-signature", strings.Join(sigs, " "))
	start := time.Now()
	resp, err := webhookPoster.Do(req)
	latency := time.Since(start)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, latency, fmt.Errorf("no answer: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, latency, fmt.Errorf("answered %d", resp.StatusCode)
	}
	return resp.StatusCode, latency, nil
}

// disableEndpoint stops deliveries to an endpoint that failed for 3 days and tells the
// staff users who asked for alert emails.
func (s *Service) disableEndpoint(ctx context.Context, ep *store.Endpoint) error {
	disabled, err := s.db.DisableEndpoint(ctx, ep.ID)
	if err != nil || !disabled {
		return err
	}
	s.log.Warn("a webhook endpoint failed for 3 days and was disabled", "endpoint", ep.ID)
	users, err := s.db.ActiveUsers(ctx)
	if err != nil {
		return err
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return err
	}
	host := ep.URL
	if u, err := url.Parse(ep.URL); err == nil {
		host = u.Host // the path may hold a token
	}
	msg := StaffMessage{Subject: fmt.Sprintf("[%s] Webhook endpoint disabled", b.ProductName), Product: b.ProductName,
		Lead: fmt.Sprintf("The webhook endpoint at %s failed for 3 days, so the portal stopped sending to it. Fix it, then enable it and redeliver on %s/admin/settings/webhooks.",
			host, s.publicURL)}
	at := time.Now().Unix() // an endpoint enabled again may be disabled again: another email
	return s.emailAlertStaff(ctx, users, msg, func(uid int64) string { return fmt.Sprintf("endpoint-disabled.%d.%d.%d", ep.ID, uid, at) })
}

// EndpointInput is an endpoint to create.
type EndpointInput struct {
	URL    string
	Events []string
}

// CreateEndpoint checks and stores an endpoint, and returns its signing secret: shown
// this once.
func (s *Service) CreateEndpoint(ctx context.Context, in EndpointInput, actor string) (*store.Endpoint, string, error) {
	errs := FieldErrors{}
	in.URL = strings.TrimSpace(in.URL)
	if !ValidRedirectURL(in.URL) {
		errs["url"] = "Give the endpoint's full https URL (http only for localhost)."
	}
	var events []string
	for _, e := range in.Events {
		if !slices.Contains(OutgoingEvents, e) {
			errs["events"] = "Unknown event " + e + "."
		} else if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	if len(events) == 0 && errs["events"] == "" {
		errs["events"] = "Choose at least one event."
	}
	if len(errs) > 0 {
		return nil, "", &InvalidError{errs}
	}
	sec := newWebhookSecret()
	ep, err := s.db.CreateEndpoint(ctx, in.URL, events, sec, actor)
	return ep, sec, err
}

// RotateEndpointSecret gives an endpoint a new secret (returned, shown once); the old
// one keeps signing for 24 hours beside it.
func (s *Service) RotateEndpointSecret(ctx context.Context, id int64) (string, error) {
	sec := newWebhookSecret()
	return sec, s.db.RotateEndpointSecret(ctx, id, sec, 24*time.Hour)
}

// Redeliver posts a delivery again, under its webhook-id.
func (s *Service) Redeliver(ctx context.Context, deliveryID int64) error {
	if _, err := s.db.DeliveryByID(ctx, deliveryID); err != nil {
		return err
	}
	if err := s.db.ResetDelivery(ctx, deliveryID); err != nil {
		return err
	}
	// A job of its own: the one that delivered may not be marked completed yet.
	_, err := s.jobs.Insert(ctx, DeliverWebhookArgs{DeliveryID: deliveryID, Redelivery: time.Now().UnixNano()}, nil)
	return err
}

// newWebhookSecret is a Standard Webhooks secret: whsec_ and 32 random bytes.
func newWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// registerWebhookWorkers adds the delivery worker and hooks deliveries to the timeline.
func (s *Service) registerWebhookWorkers(w *river.Workers) {
	s.db.SetEventHook(s.webhookEvents)
	river.AddWorker(w, &deliverWorker{s: s})
}

// deliverWorker paces the tries: 30 s, doubling, at most 6 hours apart (tests shorten
// the first pause).
type deliverWorker struct {
	river.WorkerDefaults[DeliverWebhookArgs]
	s *Service
}

func (w *deliverWorker) Work(ctx context.Context, j *river.Job[DeliverWebhookArgs]) error {
	return w.s.deliver(ctx, j)
}

func (w *deliverWorker) Timeout(*river.Job[DeliverWebhookArgs]) time.Duration { return time.Minute }

func (w *deliverWorker) NextRetry(j *river.Job[DeliverWebhookArgs]) time.Time {
	pause := w.s.webhookRetry
	for i := 1; i < j.Attempt && pause < 6*time.Hour; i++ {
		pause *= 2
	}
	return time.Now().Add(min(pause, 6*time.Hour))
}
