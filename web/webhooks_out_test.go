package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/kirim-portal/portal/store"
)

// platformReceiver is the platform's backend: it checks every signature with the
// Standard Webhooks reference library against the secrets it was given, and counts the
// posts it acknowledged per webhook-id.
type platformReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	secrets []string
	down    atomic.Bool
	acked   map[string]int
	refused int
	bad     []string
	events  []map[string]any
}

func startPlatformReceiver(t *testing.T) *platformReceiver {
	r := &platformReceiver{acked: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down.Load() {
			r.refused++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		verified := false
		for _, s := range r.secrets {
			wh, _ := standardwebhooks.NewWebhook(s)
			if wh.Verify(body, req.Header) == nil {
				verified = true
			}
		}
		if !verified {
			r.bad = append(r.bad, req.Header.Get("webhook-id"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id := req.Header.Get("webhook-id")
		if r.acked[id] == 0 {
			var ev map[string]any
			json.Unmarshal(body, &ev)
			r.events = append(r.events, ev)
		}
		r.acked[id]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *platformReceiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e["type"].(string))
	}
	return out
}

func (r *platformReceiver) event(typ string) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e["type"] == typ {
			return e
		}
	}
	return nil
}

// TestOutgoingWebhooks: the platform adds an endpoint through the API and creates a
// customer with its link emailed while its receiver is down; once it is back, every
// event arrives, signed, once per webhook-id. The customer connects in the sandbox and
// the platform hears signup.succeeded with the phone_number_id and its own reference. A
// receiver that knows only the rotated secret verifies what follows; the log shows
// every delivery and redelivers one under its webhook-id.
func TestOutgoingWebhooks(t *testing.T) {
	h := newHarness(t)
	w := h.apiClient(t, store.ScopeWrite)
	recv := startPlatformReceiver(t)
	status, ep, _ := w.call("POST", "/webhook_endpoints", map[string]any{"url": recv.URL + "/hooks/kirim-portal",
		"events": []string{"customer.created", "link.sent", "landing.opened", "signup.succeeded", "signup.failed", "attention.raised"}})
	secret, _ := ep["secret"].(string)
	if status != 201 || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("endpoint: %d %v", status, ep)
	}
	recv.secrets = []string{secret}
	if status, list, _ := w.call("GET", "/webhook_endpoints", nil); status != 200 || len(list["data"].([]any)) != 1 || list["data"].([]any)[0].(map[string]any)["secret"] != nil {
		t.Fatalf("list shows the secret, or not the endpoint: %v", list)
	}

	recv.down.Store(true)
	status, c, _ := w.call("POST", "/customers", map[string]any{"name": "Toko Hook", "email": "owner@hook.test", "external_ref": "P-77", "send_link": true})
	if status != 201 {
		t.Fatalf("create: %d %v", status, c)
	}
	id := int64(c["id"].(float64))
	eventually(t, "tries refused while the receiver is down", func() bool { recv.mu.Lock(); defer recv.mu.Unlock(); return recv.refused >= 4 })
	recv.down.Store(false)
	eventually(t, "customer.created and link.sent delivered", func() bool { return len(recv.types()) >= 2 })

	back := h.signupVia(t, id, "outcome=success&phone_number=%2B6281299990000")
	h.browser().get(back)
	h.srv.ob.Wait()
	eventually(t, "signup.succeeded delivered", func() bool { return recv.event("signup.succeeded") != nil })
	data := recv.event("signup.succeeded")["data"].(map[string]any)
	customer := data["customer"].(map[string]any)
	if data["phone_number"] != "+6281299990000" || data["phone_number_id"] == "" || data["account_id"] == "" || customer["external_ref"] != "P-77" {
		t.Fatalf("signup.succeeded: %v", data)
	}

	// Rotate: the new secret signs, and the receiver that knows only it verifies.
	b := h.signedIn()
	b.get("/admin/settings/webhooks")
	_, page := b.post(fmt.Sprintf("/admin/settings/webhooks/%d/rotate", int64(ep["id"].(float64))), url.Values{})
	m := regexp.MustCompile(`value="(whsec_[^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the rotated secret is not shown")
	}
	recv.mu.Lock()
	recv.secrets = []string{m[1]}
	recv.mu.Unlock()
	if status, _, _ := w.call("POST", "/customers", map[string]any{"name": "Toko Hook Dua"}); status != 201 {
		t.Fatalf("second create: %d", status)
	}
	eventually(t, "an event signed with the new secret", func() bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for _, e := range recv.events {
			if e["type"] == "customer.created" && e["data"].(map[string]any)["customer"].(map[string]any)["name"] == "Toko Hook Dua" {
				return true
			}
		}
		return false
	})

	recv.mu.Lock()
	for msg, n := range recv.acked {
		if n != 1 {
			t.Errorf("webhook-id %s acknowledged %d times", msg, n)
		}
	}
	if len(recv.bad) > 0 {
		t.Errorf("signatures that did not verify: %v", recv.bad)
	}
	recv.mu.Unlock()
	for _, typ := range []string{"customer.created", "link.sent", "signup.succeeded"} {
		if recv.event(typ) == nil {
			t.Errorf("no %s delivered (got %v)", typ, recv.types())
		}
	}

	// A failed signup: the platform hears the reason, and that the customer now needs a
	// person.
	_, c3, _ := w.call("POST", "/customers", map[string]any{"name": "Toko Gagal Daftar", "email": "owner@gagal.test", "send_link": true})
	h.fail(t, int64(c3["id"].(float64)), "token_exchange_failed")
	eventually(t, "signup.failed and attention.raised delivered", func() bool {
		return recv.event("signup.failed") != nil && recv.event("attention.raised") != nil
	})
	if d := recv.event("signup.failed")["data"].(map[string]any); d["reason"] != "token_exchange_failed" {
		t.Errorf("signup.failed: %v", d)
	}
	if d := recv.event("attention.raised")["data"].(map[string]any); d["reason"] != "signup_failed" || d["customer"].(map[string]any)["name"] != "Toko Gagal Daftar" {
		t.Errorf("attention.raised: %v", d)
	}

	_, page = b.get("/admin/settings/webhooks")
	if !strings.Contains(page, "customer.created") || !strings.Contains(page, "delivered") || strings.Contains(page, secret) {
		t.Fatal("the delivery log is not shown, or the secret is")
	}
	delivery := regexp.MustCompile(`/admin/settings/webhooks/deliveries/(\d+)/redeliver`).FindStringSubmatch(page)
	if resp, body := b.post("/admin/settings/webhooks/deliveries/"+delivery[1]+"/redeliver", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("redeliver: %d %.300s", resp.StatusCode, body)
	}
	eventually(t, "the redelivery under the same webhook-id", func() bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for _, n := range recv.acked {
			if n == 2 {
				return true
			}
		}
		return false
	})
}

// TestFailingEndpointDisabledAfterThreeDays: an endpoint that keeps failing is tried
// with growing pauses; once it has failed for 3 days it is disabled, the delivery is
// given up, and the staff users who asked for alert emails are told (Mailpit).
func TestFailingEndpointDisabledAfterThreeDays(t *testing.T) {
	h := newHarness(t, withMailpit)
	staff := h.signedIn()
	staff.get("/admin/account")
	if resp, _ := staff.post("/admin/account/alerts", url.Values{"alert_email": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("alert prefs: %d", resp.StatusCode)
	}
	w := h.apiClient(t, store.ScopeWrite)
	recv := startPlatformReceiver(t)
	recv.down.Store(true)
	status, ep, _ := w.call("POST", "/webhook_endpoints", map[string]any{"url": recv.URL + "/hooks?token=s3cret", "events": []string{"customer.created"}})
	if status != 201 {
		t.Fatalf("endpoint: %d", status)
	}
	w.call("POST", "/customers", map[string]any{"name": "Toko Gagal"})
	eventually(t, "a few tries refused", func() bool { recv.mu.Lock(); defer recv.mu.Unlock(); return recv.refused >= 3 })
	h.advance(73 * time.Hour)
	epID := int64(ep["id"].(float64))
	eventually(t, "the endpoint disabled", func() bool {
		e, err := h.db.EndpointByID(context.Background(), epID)
		return err == nil && e.State == store.EndpointDisabled
	})
	ds, _ := h.db.Deliveries(context.Background(), epID, 10)
	if len(ds) != 1 || ds[0].State != store.DeliveryFailed || ds[0].LastStatus != http.StatusServiceUnavailable {
		t.Fatalf("the delivery: %+v", ds[0])
	}
	msgs := h.mp.WaitForSearch("subject:\"Webhook endpoint disabled\"", 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d alert emails about the endpoint", len(msgs))
	}
	if body := h.mp.Message(msgs[0].ID).Text; strings.Contains(body, "s3cret") || !strings.Contains(body, recv.Listener.Addr().String()) {
		t.Fatalf("the alert names the URL's secret, or not its host:\n%s", body)
	}
	recv.mu.Lock()
	refused := recv.refused
	recv.mu.Unlock()
	w.call("POST", "/customers", map[string]any{"name": "Toko Sesudah"})
	h.srv.ob.Wait()
	time.Sleep(300 * time.Millisecond)
	recv.mu.Lock()
	if recv.refused != refused {
		t.Fatal("a disabled endpoint was posted to")
	}
	recv.mu.Unlock()
	if status, _, _ := w.call("DELETE", fmt.Sprintf("/webhook_endpoints/%d", epID), nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	if status, list, _ := w.call("GET", "/webhook_endpoints", nil); status != 200 || len(list["data"].([]any)) != 0 {
		t.Fatalf("after delete: %d %v", status, list)
	}
}
