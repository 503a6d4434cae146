package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/kirim-portal/portal/kirim"
)

type subscription struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description"`
	Secrets     []string  `json:"secrets"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

type delivery struct {
	url     string
	secrets []string
	eventID string
	typ     string
	body    []byte
}

var knownEvents = []string{
	"message.received", "message.status", "conversation.assigned", "conversation.closed",
	"contact.created", "contact.updated", "customer.created", "customer.updated",
	"customer.archived", "customer.onboarded", "customer.setup_link.created", "customer.setup_link.consumed",
}

func (s *Sandbox) createSubscription(r *http.Request, body []byte) (any, *apiError) {
	f, aerr := decodeObject(body)
	if aerr != nil {
		return nil, aerr
	}
	var raw string
	if err := json.Unmarshal(f["url"], &raw); err != nil || raw == "" {
		return nil, errInvalid("missing_required_field", "url", "url is required.")
	}
	u, err := url.Parse(raw)
	// Kirim accepts only https; the sandbox also takes http to loopback for local tests.
	if err != nil || u.Host == "" || !(u.Scheme == "https" || (u.Scheme == "http" && isLocalHost(u.Hostname()))) {
		return nil, errInvalid("invalid_webhook_url", "url", "url must be an https URL.")
	}
	var events []string
	if err := json.Unmarshal(f["events"], &events); err != nil || len(events) == 0 {
		return nil, errInvalid("missing_required_field", "events", "events must list at least one event.")
	}
	for _, e := range events {
		if !slices.Contains(knownEvents, e) {
			return nil, errInvalid("invalid_field_value", "events", "unknown event "+strconv.Quote(e)+".")
		}
	}
	var desc string
	json.Unmarshal(f["description"], &desc)
	now := s.now()
	sub := &subscription{ID: newID("wbs", now), URL: raw, Events: events, Description: desc,
		Secrets: []string{newSecret()}, Status: "active", CreatedAt: now}
	s.st.Subscriptions = append(s.st.Subscriptions, sub)
	return map[string]any{"id": sub.ID, "url": sub.URL, "events": sub.Events, "status": sub.Status,
		"initial_secret": sub.Secrets[0], "description": desc}, nil
}

func (s *Sandbox) deleteSubscription(r *http.Request, _ []byte) (any, *apiError) {
	if s.opts.Variant.NoSubscriptionDelete {
		return nil, errNotFound("route")
	}
	id := r.PathValue("id")
	i := slices.IndexFunc(s.st.Subscriptions, func(sub *subscription) bool { return sub.ID == id })
	if i < 0 {
		return nil, errNotFound("webhook subscription")
	}
	s.st.Subscriptions = slices.Delete(s.st.Subscriptions, i, i+1)
	return map[string]any{"id": id, "object": "webhook_subscription", "deleted": true}, nil
}

// Subscription is a webhook subscription as tests see it.
type Subscription struct {
	ID, URL string
	Events  []string
}

// Subscriptions lists the webhook subscriptions Kirim holds.
func (s *Sandbox) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Subscription
	for _, sub := range s.st.Subscriptions {
		out = append(out, Subscription{ID: sub.ID, URL: sub.URL, Events: slices.Clone(sub.Events)})
	}
	return out
}

// SubscriptionSecrets returns, per subscription, the secrets Kirim signs its
// deliveries with (for tests that sign as Kirim would).
func (s *Sandbox) SubscriptionSecrets() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]string
	for _, sub := range s.st.Subscriptions {
		out = append(out, slices.Clone(sub.Secrets))
	}
	return out
}

// RotateWebhookSecret adds a signing secret to every subscription, as Kirim does during
// a rotation: deliveries are then signed with every active secret. It returns the new one.
func (s *Sandbox) RotateWebhookSecret() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	secret := newSecret()
	for _, sub := range s.st.Subscriptions {
		sub.Secrets = append(sub.Secrets, secret)
	}
	s.dirty = true
	return secret
}

// emit queues a signed delivery of event typ to every subscription that wants it.
// Called with s.mu held.
func (s *Sandbox) emit(typ string, data map[string]any) {
	now := s.now()
	for _, sub := range s.st.Subscriptions {
		if sub.Status != "active" || !slices.Contains(sub.Events, typ) {
			continue
		}
		id := newID("evt", now)
		body, _ := json.Marshal(map[string]any{"id": id, "type": typ, "created_at": now, "data": data, "livemode": false})
		d := delivery{url: sub.URL, secrets: slices.Clone(sub.Secrets), eventID: id, typ: typ, body: body}
		if s.opts.Variant.ReversedWebhooks {
			s.held = append(s.held, d)
			select {
			case s.heldWake <- struct{}{}:
			default:
			}
			continue
		}
		s.queue(d)
	}
}

func (s *Sandbox) queue(d delivery) {
	select {
	case s.deliveries <- d:
	default:
		s.opts.Logger.Warn("sandbox: webhook queue full, event dropped", "type", d.typ)
	}
}

// burstWindow is how long ReversedWebhooks gathers events before it sends them, newest
// first.
const burstWindow = 300 * time.Millisecond

// releaseLoop sends the held bursts of ReversedWebhooks, newest event first, each a
// moment after the previous so that they arrive in that order.
func (s *Sandbox) releaseLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.heldWake:
		}
		select {
		case <-s.stop:
			return
		case <-time.After(burstWindow):
		}
		s.mu.Lock()
		burst := s.held
		s.held = nil
		s.mu.Unlock()
		for i := len(burst) - 1; i >= 0; i-- {
			s.queue(burst[i])
			select {
			case <-s.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

func (s *Sandbox) deliverLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case d := <-s.deliveries:
			copies := 1
			if s.opts.Variant.DuplicateWebhooks {
				copies = 2 // at-least-once: the same event twice, at once
			}
			for range copies {
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					s.deliver(d)
				}()
			}
		}
	}
}

// deliver posts one event with Kirim's headers, retrying on 408, 429, 5xx and network
// errors along the retry schedule; other 4xx answers are final.
func (s *Sandbox) deliver(d delivery) {
	for attempt, wait := range s.opts.WebhookRetryDelays {
		select {
		case <-s.stop:
			return
		case <-time.After(wait):
		}
		req, _ := http.NewRequest(http.MethodPost, d.url, bytes.NewReader(d.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "Kirim-Webhook/1.0")
		req.Header.Set("X-Kirim-Source", "kirim")
		req.Header.Set("X-Kirim-Event", d.typ)
		req.Header.Set("X-Kirim-Event-Id", d.eventID)
		req.Header.Set("X-Kirim-Delivery-Id", newID("wbd", time.Now()))
		req.Header.Set("X-Kirim-Attempt", strconv.Itoa(attempt+1))
		req.Header.Set("X-Kirim-Signature", kirim.SignWebhook(s.now(), d.body, d.secrets...))
		resp, err := s.opts.HTTPClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
			if resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429 {
				s.opts.Logger.Warn("sandbox: webhook refused", "type", d.typ, "status", resp.StatusCode)
				return
			}
		}
		s.opts.Logger.Warn("sandbox: webhook attempt failed", "type", d.typ, "attempt", attempt+1)
	}
}
