package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
)

// signupVia drives Kirim's hosted page for the customer's newest link with the given
// query (outcome=…) and returns where Kirim sends the browser back to, as a local path.
func (h *harness) signupVia(t *testing.T, customerID int64, query string) string {
	t.Helper()
	links, _ := h.db.SetupLinks(context.Background(), customerID)
	setupURL, err := h.db.SetupURL(context.Background(), links[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(setupURL + "?" + query)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, h.URL+"/onboard/r/") {
		t.Fatalf("Kirim sent the browser to %q", loc)
	}
	return strings.TrimPrefix(loc, h.URL)
}

// newLinkedCustomer creates a customer with a link through the UI.
func (h *harness) newLinkedCustomer(t *testing.T, staff *browser, name string) *store.Customer {
	t.Helper()
	page := staff.createCustomer(url.Values{"name": {name}, "email": {"owner@" + strings.ToLower(strings.Fields(name)[0]) + ".test"}})
	staff.get(page)
	staff.post(page+"/links", url.Values{"expires_in_hours": {"168"}})
	page0, _ := h.db.Customers(context.Background(), store.CustomerFilter{Search: name})
	return page0.Customers[0]
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestVerifiedReturn(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	c := h.newLinkedCustomer(t, staff, "Toko Kembali")
	back := h.signupVia(t, c.ID, "outcome=success&phone_number=%2B6281234567890")
	visitor := h.browser()
	resp, body := visitor.get(back)
	if resp.StatusCode != 200 || !strings.Contains(body, "WhatsApp is connected") || !strings.Contains(body, "+6281234567890") {
		t.Fatalf("success page %d: %s", resp.StatusCode, body)
	}
	checkPublicHeaders(t, resp)
	// The same return again, as a reload or a replay, records nothing twice.
	visitor.get(back)
	h.srv.ob.Wait()
	got, _ := h.db.CustomerByID(ctx, c.ID)
	if got.Status != kirim.CustomerActive || got.Stage != onboarding.StageConnected {
		t.Fatalf("after return: status %s, stage %s", got.Status, got.Stage)
	}
	accounts, _ := h.db.Accounts(ctx, c.ID)
	if len(accounts) != 1 || accounts[0].Status != "connected" || accounts[0].PhoneNumber != "+6281234567890" {
		t.Fatalf("accounts %+v", accounts)
	}
	kinds := h.events(c.ID)
	for kind, want := range map[string]int{"account.connected": 1, "signup.succeeded": 1, "templates.synced": 1} {
		if n := count(kinds, kind); n != want {
			t.Errorf("%d %s events, want %d: %v", n, kind, want, kinds)
		}
	}
	syncs, _ := h.db.TemplateSyncs(ctx, accounts[0].ID, 10)
	tpls, _ := h.db.Templates(ctx, accounts[0].ID)
	if len(syncs) != 1 || syncs[0].Trigger != "connected" || syncs[0].Synced != 3 || syncs[0].Created != 3 || len(tpls) != 3 {
		t.Fatalf("template sync %+v, templates %d", syncs, len(tpls))
	}
	_, body = staff.get("/admin/customers/" + itoa(c.ID))
	for _, want := range []string{"+6281234567890", "hello_world", "3 synced, 3 created, 0 updated", "Account connected", "Signup succeeded"} {
		if !strings.Contains(body, want) {
			t.Errorf("customer page lacks %q", want)
		}
	}
	t.Run("staff sync and refresh", func(t *testing.T) {
		page := "/admin/customers/" + itoa(c.ID)
		if resp, _ := staff.post(page+"/accounts/"+itoa(accounts[0].ID)+"/sync", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sync: %d", resp.StatusCode)
		}
		syncs, _ := h.db.TemplateSyncs(ctx, accounts[0].ID, 10)
		if len(syncs) != 2 || syncs[0].Trigger != "staff" || syncs[0].Created != 0 || syncs[0].Synced != 3 {
			t.Fatalf("staff sync %+v", syncs[0])
		}
		h.sb.SetAccountStatus(accounts[0].PhoneNumberID, "degraded")
		staff.post(page+"/accounts/refresh", nil)
		a, _ := h.db.AccountByID(ctx, accounts[0].ID)
		if a.Status != "degraded" {
			t.Fatalf("after refresh: %s", a.Status)
		}
		_, dash := staff.get("/admin/")
		if !strings.Contains(dash, "Number not sending</a>: 1") {
			t.Fatal("the dashboard does not count the degraded number")
		}
		_, queue := staff.get("/admin/attention")
		if !strings.Contains(queue, "Toko Kembali") || !strings.Contains(queue, "degraded") {
			t.Fatal("the needs-attention queue does not list the degraded number")
		}
	})
}

func TestForgedReturnsChangeNothing(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	a := h.newLinkedCustomer(t, staff, "Alpha Store")
	b := h.newLinkedCustomer(t, staff, "Beta Store")
	key := h.returnKey(t, a)
	before := len(h.events(a.ID)) + len(h.events(b.ID))
	visitor := h.browser()
	for name, path := range map[string]string{
		"unknown key, success": "/onboard/r/AAAAAAAAAAAAAAAAAAAAAA/success?customer_id=" + a.KirimID + "&status=success",
		"unknown key, failure": "/onboard/r/AAAAAAAAAAAAAAAAAAAAAA/failure?customer_id=" + a.KirimID + "&status=failed&reason=signup_cancelled",
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := visitor.get(path)
			if resp.StatusCode != 404 || !strings.Contains(body, "We could not confirm this connection") {
				t.Fatalf("%d: %s", resp.StatusCode, body)
			}
			if strings.Contains(body, "Alpha") || strings.Contains(body, "Beta") {
				t.Fatal("the page reveals a customer")
			}
		})
	}
	// The return key names the link; what the query says of the customer or the account
	// proves nothing either way: only Kirim's API does.
	for name, path := range map[string]string{
		"link not consumed":     "/onboard/r/" + key + "/success?customer_id=" + a.KirimID + "&account_id=wba_forged&status=success",
		"another customer's id": "/onboard/r/" + key + "/success?customer_id=" + b.KirimID + "&account_id=wba_x&status=success",
		"no ids at all":         "/onboard/r/" + key + "/success",
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := visitor.get(path)
			if resp.StatusCode != 200 || !strings.Contains(body, "We are confirming your connection") {
				t.Fatalf("%d: %s", resp.StatusCode, body)
			}
			if strings.Contains(body, "Alpha") || strings.Contains(body, "Beta") {
				t.Fatal("the page reveals a customer")
			}
		})
	}
	accountsA, _ := h.db.Accounts(ctx, a.ID)
	accountsB, _ := h.db.Accounts(ctx, b.ID)
	accounts := append(accountsA, accountsB...)
	got, _ := h.db.CustomerByID(ctx, a.ID)
	if after := len(h.events(a.ID)) + len(h.events(b.ID)); after != before || len(accounts) != 0 || got.Status != "pending" {
		t.Fatalf("forged returns changed something: events %d→%d, accounts %d, status %s", before, after, len(accounts), got.Status)
	}
}

// TestPendingReturnResolves: the customer comes back before Kirim confirms; the page
// waits, then shows the connection; or, if it never comes, says staff will follow up.
func TestPendingReturnResolves(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	c := h.newLinkedCustomer(t, staff, "Slow Confirm")
	back := h.signupVia(t, c.ID, "outcome=success&confirm=later")
	visitor := h.browser()
	_, body := visitor.get(back)
	if !strings.Contains(body, "We are confirming your connection") {
		t.Fatalf("pending page: %s", body)
	}
	poll := strings.ReplaceAll(regexpFind(t, body, `hx-get="([^"]+)"`), "&amp;", "&")
	_, frag := visitor.get(poll)
	if !strings.Contains(frag, "We are confirming") || !strings.Contains(frag, "attempt=2") {
		t.Fatalf("still pending: %s", frag)
	}
	h.sb.ConfirmPending()
	_, frag = visitor.get(poll)
	if !strings.Contains(frag, "WhatsApp is connected") || strings.Contains(frag, "<html") {
		t.Fatalf("after Kirim confirmed: %s", frag)
	}
	h.srv.ob.Wait()
	if n := count(h.events(c.ID), "account.connected"); n != 1 {
		t.Fatalf("%d account.connected events", n)
	}

	t.Run("never confirmed", func(t *testing.T) {
		c2 := h.newLinkedCustomer(t, staff, "Never Confirm")
		back := h.signupVia(t, c2.ID, "outcome=success&confirm=later")
		q, _ := url.Parse(back)
		last := "/onboard/r/" + strings.Split(q.Path, "/")[3] + "/status?" + q.RawQuery + "&attempt=" + itoa(maxPolls)
		_, frag := visitor.get(last)
		if !strings.Contains(frag, "Almost done") {
			t.Fatalf("after the last poll: %s", frag)
		}
		visitor.get(last)
		if n := count(h.events(c2.ID), "signup.unconfirmed"); n != 1 {
			t.Fatalf("%d signup.unconfirmed events, want 1", n)
		}
	})
}

func TestFailureReturn(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	c := h.newLinkedCustomer(t, staff, "Gagal Store")
	visitor := h.browser()
	links, _ := h.db.SetupLinks(ctx, c.ID)
	token, _ := h.db.LandingToken(ctx, links[0].ID)
	visitor.get("/onboard/" + token + "/connect") // the customer sets off for Kirim from the landing page
	back := h.signupVia(t, c.ID, "outcome=fail&reason=signup_cancelled")
	resp, body := visitor.get(back)
	if resp.StatusCode != 200 || !strings.Contains(body, "closed or cancelled before it finished") || strings.Contains(body, "Error code") {
		t.Fatalf("failure page %d: %s", resp.StatusCode, body)
	}
	visitor.get(back) // a reload is not a second failure
	got, _ := h.db.CustomerByID(ctx, c.ID)
	if got.Stage != onboarding.StageFailed || got.StageReason != "signup_cancelled" {
		t.Fatalf("stage %s (%s)", got.Stage, got.StageReason)
	}
	evs, _ := h.db.Events(ctx, c.ID, time.Time{}, 0, 50)
	failures := 0
	for _, e := range evs {
		if e.Kind == "signup.failed" {
			failures++
			if e.Detail["next_step"] == nil || e.Detail["reason"] != "signup_cancelled" {
				t.Fatalf("event %+v", e)
			}
		}
	}
	if failures != 1 {
		t.Fatalf("%d signup.failed events", failures)
	}
	_, page := staff.get("/admin/customers/" + itoa(c.ID))
	if !strings.Contains(page, "Ask the customer whether something stopped them") {
		t.Fatal("the timeline does not suggest a next step")
	}
	// Try again: back to the landing page, which still offers the same active link.
	tryAgain := regexpFind(t, body, `href="(/onboard/[A-Za-z0-9_-]{32})"`)
	if _, landing := visitor.get(tryAgain); !strings.Contains(landing, "Connect WhatsApp") {
		t.Fatal("try again does not lead to a working landing page")
	}
	// Whoever else opens the same return URL learns no way to the landing page.
	if _, other := h.browser().get(back); strings.Contains(other, "/onboard/"+token) || !strings.Contains(other, "open the link in the email") {
		t.Fatalf("another browser is offered the landing page: %s", other)
	}
	t.Run("unknown reason shows its code", func(t *testing.T) {
		back := h.signupVia(t, c.ID, "outcome=fail&reason=meta_was_sleepy")
		_, body := visitor.get(back)
		if !strings.Contains(body, "Something went wrong during the signup") || !strings.Contains(body, "Error code: meta_was_sleepy") {
			t.Fatalf("%s", body)
		}
	})
	_, dash := staff.get("/admin/")
	if !strings.Contains(dash, "signup cancelled") || !strings.Contains(dash, "meta was sleepy") {
		t.Fatal("the dashboard does not count failures by reason")
	}
}

func TestDashboardAndSyncAll(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	soon := staff.createCustomer(url.Values{"name": {"Expiring Soon"}})
	staff.get(soon)
	staff.post(soon+"/links", url.Values{"expires_in_hours": {"24"}})
	c := h.newLinkedCustomer(t, staff, "Connected Co")
	visitor := h.browser()
	visitor.get(h.signupVia(t, c.ID, "outcome=success"))
	h.srv.ob.Wait()

	_, dash := staff.get("/admin/")
	for _, want := range []string{"Expiring Soon", "link expires in 24 h", "Onboarding funnel", "Median time to connect"} {
		if !strings.Contains(dash, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if resp, _ := staff.post("/admin/templates/sync", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sync all: %d", resp.StatusCode)
	}
	h.srv.ob.Wait()
	accounts, _ := h.db.Accounts(ctx, c.ID)
	syncs, _ := h.db.TemplateSyncs(ctx, accounts[0].ID, 10)
	if len(syncs) != 2 || syncs[0].Trigger != "sync_all" || syncs[0].Error != "" {
		t.Fatalf("syncs %+v", syncs)
	}
	_, dash = staff.get("/admin/")
	if !strings.Contains(dash, "Last sync of all templates: 1 accounts, 0 failed") {
		t.Fatal("the dashboard does not report the sync of all templates")
	}
}
