package web

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

func (h *harness) postWebhook(t *testing.T, eventID string, body []byte, signature string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", h.URL+"/webhooks/kirim", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Kirim-Event-Id", eventID)
	req.Header.Set("X-Kirim-Signature", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestWebhook(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	c := h.newLinkedCustomer(t, staff, "Hook Store")
	if resp := h.postWebhook(t, "evt_0", []byte(`{}`), "t=1,v1=00"); resp.StatusCode != 404 {
		t.Fatalf("before registration: %d, want 404", resp.StatusCode)
	}
	if err := h.db.SaveWebhook(ctx, "wbs_1", h.URL+"/webhooks/kirim", "whsec_old"); err != nil {
		t.Fatal(err)
	}
	if err := h.db.SaveWebhook(ctx, "wbs_1", h.URL+"/webhooks/kirim", "whsec_new"); err != nil {
		t.Fatal(err)
	}
	remote, _ := kirim.New(h.kirim.URL+"/v1", "kdv_live_test")
	kc, _ := remote.UpdateCustomer(ctx, c.KirimID, kirim.UpdateCustomerParams{Name: kirim.Value("Hook Store Renamed")})
	body, _ := json.Marshal(map[string]any{"id": "evt_1", "type": "customer.updated", "created_at": time.Now(),
		"data": map[string]any{"customer": kc}, "livemode": false})

	for name, tc := range map[string]struct {
		sig  string
		body []byte
	}{
		"bad signature":   {kirim.SignWebhook(time.Now(), body, "whsec_wrong"), body},
		"old timestamp":   {kirim.SignWebhook(time.Now().Add(-10*time.Minute), body, "whsec_new"), body},
		"tampered body":   {kirim.SignWebhook(time.Now(), body, "whsec_new"), []byte(strings.Replace(string(body), "Renamed", "Hacked", 1))},
		"no v1 signature": {"t=" + itoa(time.Now().Unix()), body},
	} {
		t.Run(name, func(t *testing.T) {
			if resp := h.postWebhook(t, "evt_1", tc.body, tc.sig); resp.StatusCode != 401 {
				t.Fatalf("%d, want 401", resp.StatusCode)
			}
		})
	}
	got, _ := h.db.CustomerByID(ctx, c.ID)
	if got.Name != "Hook Store" {
		t.Fatal("a refused webhook changed the customer")
	}
	// Signed by the old secret (still active during a rotation): accepted and applied.
	if resp := h.postWebhook(t, "evt_1", body, kirim.SignWebhook(time.Now(), body, "whsec_old")); resp.StatusCode != 200 {
		t.Fatalf("valid webhook: %d", resp.StatusCode)
	}
	h.srv.ob.Wait()
	got, _ = h.db.CustomerByID(ctx, c.ID)
	if got.Name != "Hook Store Renamed" {
		t.Fatalf("webhook not applied: %s", got.Name)
	}
	// The same event again (Kirim retrying, or a replay) is not applied twice.
	resp := h.postWebhook(t, "evt_1", body, kirim.SignWebhook(time.Now(), body, "whsec_new", "whsec_old"))
	h.srv.ob.Wait()
	if resp.StatusCode != 200 || count(h.events(c.ID), "webhook.received") != 1 || count(h.events(c.ID), "customer.synced") != 1 {
		t.Fatalf("replay: %d, events %v", resp.StatusCode, h.events(c.ID))
	}
	t.Run("registration needs https", func(t *testing.T) {
		staff.get("/admin/settings/branding")
		staff.post("/admin/settings/webhook", nil)
		_, page := staff.get("/admin/settings/branding")
		if !strings.Contains(page, "https only") {
			t.Fatal("registering over http was not refused with a reason")
		}
	})
}

// TestReconcileRepairsDrift: the mirror edited behind the portal's back, and Kirim
// changed without telling it, are both put right by a reconciliation.
func TestReconcileRepairsDrift(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	c := h.newLinkedCustomer(t, staff, "Drift Store")
	other := h.newLinkedCustomer(t, staff, "Renamed Store")
	back := h.signupVia(t, c.ID, "outcome=success")
	_ = back // the customer never came back to the portal: only Kirim knows

	// Behind the portal's back: the mirror edited by hand, Kirim renamed a customer and
	// a number degraded.
	sqlExec(t, h, `UPDATE customers SET name = 'Tampered', status = 'suspended' WHERE id = ?`, c.ID)
	sqlExec(t, h, `UPDATE setup_links SET status = 'active' WHERE customer_id = ?`, c.ID)
	h.sb.SetCustomerName(other.KirimID, "Renamed In Kirim")

	staff.get("/admin/")
	if resp, _ := staff.post("/admin/reconcile", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reconcile: %d", resp.StatusCode)
	}
	h.srv.ob.Wait()
	got, _ := h.db.CustomerByID(ctx, c.ID)
	if got.Name != "Drift Store" || got.Status != kirim.CustomerActive || got.Stage != "connected" {
		t.Fatalf("after reconcile: %+v", got)
	}
	links, _ := h.db.SetupLinks(ctx, c.ID)
	if links[0].Status != kirim.LinkConsumed {
		t.Fatalf("link %s", links[0].Status)
	}
	accounts, _ := h.db.Accounts(ctx, c.ID)
	if len(accounts) != 1 || accounts[0].Status != "connected" {
		t.Fatalf("accounts %+v", accounts)
	}
	o, _ := h.db.CustomerByID(ctx, other.ID)
	if o.Name != "Renamed In Kirim" {
		t.Fatalf("other %s", o.Name)
	}
	for _, k := range []string{"customer.synced", "account.connected"} {
		if !contains(h.events(c.ID), k) {
			t.Errorf("timeline lacks %s: %v", k, h.events(c.ID))
		}
	}
	_, dash := staff.get("/admin/")
	if !strings.Contains(dash, "Last checked") {
		t.Fatal("the dashboard does not report the reconciliation")
	}
}

// sqlExec edits the database file directly, as a person with the sqlite3 shell would.
func sqlExec(t *testing.T, h *harness, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", store.DSN(h.dbPath))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatal(err)
	}
}
