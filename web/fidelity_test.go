package web

// Tests that hold the portal to Kirim's contract rather than to one reading of it: each
// runs the sandbox in the variants where the docs leave Kirim free to choose, and the
// journey runs under every variant the sandbox knows.

import (
	"context"

	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/kirimtest"
	"github.com/kirim-portal/portal/kirim/sandbox"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
)

// remote is a client straight to the sandbox: another system, or Kirim's dashboard,
// changing things behind the portal's back.
func (h *harness) remote(t *testing.T) *kirim.Client {
	hc, _ := kirimtest.NewClient(t)
	return must(kirim.New(h.kirim.URL+"/v1", "kdv_live_test", kirim.WithHTTPClient(hc), kirim.WithRateLimits(0, 0)))
}

// subscribe registers the portal's webhook endpoint with the sandbox directly (the
// portal registers only https URLs; under test it is on http loopback).
func (h *harness) subscribe(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	sub, err := h.remote(t).CreateWebhookSubscription(ctx, kirim.CreateWebhookSubscriptionParams{URL: h.URL + "/webhooks/kirim", Events: kirim.CustomerEvents})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.db.SaveWebhook(ctx, sub.ID, sub.URL, sub.InitialSecret.Reveal()); err != nil {
		t.Fatal(err)
	}
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting: %s", what)
}

func (h *harness) customer(t *testing.T, id int64) *store.Customer {
	t.Helper()
	c, err := h.db.CustomerByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) newestLink(t *testing.T, customerID int64) *store.SetupLink {
	t.Helper()
	links, err := h.db.SetupLinks(context.Background(), customerID)
	if err != nil || len(links) == 0 {
		t.Fatalf("no link: %v", err)
	}
	return links[0]
}

// returnKey reads the return key of the customer's newest link from the redirect URL
// Kirim holds (the portal keeps only its hash).
func (h *harness) returnKey(t *testing.T, c *store.Customer) string {
	t.Helper()
	links, err := h.remote(t).ListSetupLinks(context.Background(), c.KirimID, "")
	if err != nil || len(links) == 0 || links[0].SuccessRedirectURL == nil {
		t.Fatalf("links in Kirim: %+v %v", links, err)
	}
	rest, _ := strings.CutPrefix(*links[0].SuccessRedirectURL, h.URL+"/onboard/r/")
	key, _, _ := strings.Cut(rest, "/")
	return key
}

// kirimFails makes Kirim (behind the portal) go quiet for some requests: the request
// reaches Kirim and is done, but the answer the portal gets is a proxy's 502.
func kirimFails(match func(r *http.Request) bool, h *harness) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if !match(r) {
			return false
		}
		h.sb.ServeHTTP(httptest.NewRecorder(), r)
		w.Header().Set("X-Test-Fault", "1")
		w.WriteHeader(http.StatusBadGateway)
		return true
	}
}

// failureEvents returns the signup.failed events of a customer, oldest first.
func (h *harness) failureEvents(t *testing.T, customerID int64) []store.Event {
	t.Helper()
	evs, _ := h.db.Events(context.Background(), customerID, time.Time{}, 0, 500)
	var out []store.Event
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == "signup.failed" {
			out = append(out, evs[i])
		}
	}
	return out
}

// 1. Every page of an account's templates reaches the mirror, and the history counts
// what was stored.
func TestTemplatesBeyondTheFirstPage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		variant sandbox.Variant
	}{
		{"one page", sandbox.Variant{}},
		{"pages of 25", sandbox.Variant{TemplatePageSize: 25}},
		{"pages of 7 and an empty last page", sandbox.Variant{TemplatePageSize: 7, EmptyLastPage: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, withVariant(tc.variant))
			staff := h.signedIn()
			ctx := context.Background()
			c := h.newLinkedCustomer(t, staff, "Template Store")
			h.browser().get(h.signupVia(t, c.ID, "outcome=success"))
			h.srv.ob.Wait()
			accounts, _ := h.db.Accounts(ctx, c.ID)
			a := accounts[0]
			h.sb.AddMetaTemplates(a.PhoneNumberID, 27) // 30 in all: extra_027 is on page 2 of 25
			page := "/admin/customers/" + itoa(c.ID)
			staff.post(page+"/accounts/"+itoa(a.ID)+"/sync", nil)
			tpls, _ := h.db.Templates(ctx, a.ID)
			syncs, _ := h.db.TemplateSyncs(ctx, a.ID, 1)
			if len(tpls) != 30 || syncs[0].Synced != 30 || syncs[0].Created != 27 || syncs[0].Updated != 0 {
				t.Fatalf("%d templates stored; history %+v", len(tpls), syncs[0])
			}
			h.sb.SetMetaTemplateStatus(a.PhoneNumberID, "extra_027", "rejected")
			staff.post(page+"/accounts/"+itoa(a.ID)+"/sync", nil)
			tpls, _ = h.db.Templates(ctx, a.ID)
			syncs, _ = h.db.TemplateSyncs(ctx, a.ID, 1)
			status := ""
			for _, tp := range tpls {
				if tp.Name == "extra_027" {
					status = tp.Status
				}
			}
			if status != "rejected" || syncs[0].Synced != 30 || syncs[0].Created != 0 || syncs[0].Updated != 1 {
				t.Fatalf("extra_027 is %q; history %+v", status, syncs[0])
			}
			if _, body := staff.get(page); !strings.Contains(body, "30 synced, 0 created, 1 updated") {
				t.Fatal("the customer page does not show the honest counts")
			}
		})
	}
}

// 2. Several failed signups in a row are each recorded; a reload of the same failure
// page is not.
func TestSeveralFailuresInARow(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	c := h.newLinkedCustomer(t, staff, "Seven Failures")
	visitor := h.browser()
	reasons := []string{"signup_cancelled", "token_exchange_failed", "link_denied", "meta_timeout", "waba_missing", "otp_failed", "unknown_error"}
	var last string
	for _, r := range reasons {
		last = h.signupVia(t, c.ID, "outcome=fail&reason="+r)
		if resp, _ := visitor.get(last); resp.StatusCode != 200 {
			t.Fatalf("failure page for %s: %d", r, resp.StatusCode)
		}
	}
	visitor.get(last) // a reload
	got := h.failureEvents(t, c.ID)
	if len(got) != len(reasons) {
		t.Fatalf("%d failures recorded, want %d", len(got), len(reasons))
	}
	for i, e := range got {
		if e.Detail["reason"] != reasons[i] {
			t.Fatalf("failure %d has reason %v, want %s", i, e.Detail["reason"], reasons[i])
		}
	}
	// The customer sets off for Kirim again and fails for the same reason: a new event.
	token, _ := h.db.LandingToken(context.Background(), h.newestLink(t, c.ID).ID)
	if resp, _ := visitor.get("/onboard/" + token + "/connect"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("connect: %d", resp.StatusCode)
	}
	visitor.get(h.signupVia(t, c.ID, "outcome=fail&reason=unknown_error"))
	if n := len(h.failureEvents(t, c.ID)); n != len(reasons)+1 {
		t.Fatalf("%d failures after a new attempt, want %d", n, len(reasons)+1)
	}
}

// 3. A link revoked in Kirim is not offered as usable after a failure.
func TestFailureAfterTheLinkDiedInKirim(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	c := h.newLinkedCustomer(t, staff, "Revoked There")
	l := h.newestLink(t, c.ID)
	token, _ := h.db.LandingToken(ctx, l.ID)
	visitor := h.browser()
	if _, body := visitor.get("/onboard/" + token); !strings.Contains(body, "Connect WhatsApp") {
		t.Fatal("the landing page does not offer the active link")
	}
	visitor.get("/onboard/" + token + "/connect")
	back := h.signupVia(t, c.ID, "outcome=fail&reason=signup_cancelled")
	if err := h.remote(t).RevokeSetupLink(ctx, c.KirimID, l.KirimID); err != nil {
		t.Fatal(err)
	}
	_, body := visitor.get(back)
	if strings.Contains(body, ">Try again<") || !strings.Contains(body, "no longer works") || !strings.Contains(body, "Get a fresh link") {
		t.Fatalf("the failure page offers the dead link: %s", body)
	}
	resp, landing := visitor.get("/onboard/" + token)
	if strings.Contains(landing, "/connect") || resp.StatusCode != http.StatusNotFound || !strings.Contains(landing, "Send me a fresh link") {
		t.Fatalf("the landing page after the failure (%d) offers the revoked link: %s", resp.StatusCode, landing)
	}
	if got := h.newestLink(t, c.ID); got.Status != kirim.LinkRevoked {
		t.Fatalf("mirror says %s", got.Status)
	}
}

// 4. A success return is verified through the API whatever form its customer_id and
// account_id take.
func TestSuccessReturnWhateverTheIDs(t *testing.T) {
	for _, name := range []string{"default", "internal-customer-id", "no-customer-id", "phone-number-account-id"} {
		t.Run(name, func(t *testing.T) {
			v := must(sandbox.ParseVariant(name))
			h := newHarness(t, withVariant(v))
			staff := h.signedIn()
			c := h.newLinkedCustomer(t, staff, "Id Forms")
			_, body := h.browser().get(h.signupVia(t, c.ID, "outcome=success&phone_number=%2B6281111111111"))
			if !strings.Contains(body, "WhatsApp is connected") || !strings.Contains(body, "+6281111111111") {
				t.Fatalf("first return: %s", body)
			}
			// A second number: the page names the one just connected, not the first.
			staff.post("/admin/customers/"+itoa(c.ID)+"/links", url.Values{"expires_in_hours": {"24"}})
			_, body = h.browser().get(h.signupVia(t, c.ID, "outcome=success&phone_number=%2B6282222222222"))
			if !strings.Contains(body, "WhatsApp is connected") || !strings.Contains(body, "+6282222222222") {
				t.Fatalf("second return: %s", body)
			}
			h.srv.ob.Wait()
			if n := count(h.events(c.ID), "signup.succeeded"); n != 2 {
				t.Fatalf("%d signup.succeeded events, want 2", n)
			}
			if got := h.customer(t, c.ID); got.Status != kirim.CustomerActive || got.Stage != onboarding.StageConnected {
				t.Fatalf("customer %s / %s", got.Status, got.Stage)
			}
		})
	}
}

// 5. "Refresh from Kirim" after the customer closed the tab brings the customer, its
// links and its accounts up to date together.
func TestRefreshAfterTheCustomerClosedTheTab(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	c := h.newLinkedCustomer(t, staff, "Closed Tab")
	h.signupVia(t, c.ID, "outcome=success") // connected in Kirim; the return page is never opened
	page := "/admin/customers/" + itoa(c.ID)
	staff.get(page)
	if resp, _ := staff.post(page+"/accounts/refresh", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("refresh: %d", resp.StatusCode)
	}
	h.srv.ob.Wait()
	got := h.customer(t, c.ID)
	l := h.newestLink(t, c.ID)
	accounts, _ := h.db.Accounts(context.Background(), c.ID)
	if got.Status != kirim.CustomerActive || got.Stage != onboarding.StageConnected || l.Status != kirim.LinkConsumed ||
		len(accounts) != 1 || accounts[0].Status != kirim.AccountConnected {
		t.Fatalf("after refresh: customer %s/%s, link %s, accounts %+v", got.Status, got.Stage, l.Status, accounts)
	}
}

// 6. Customers archived in Kirim reach the mirror, also when Kirim's default list
// leaves archived customers out.
func TestArchivedInKirim(t *testing.T) {
	for _, tc := range []struct {
		name    string
		variant sandbox.Variant
	}{{"archived listed", sandbox.Variant{}}, {"archived hidden", sandbox.Variant{ArchivedHidden: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, withVariant(tc.variant))
			staff := h.signedIn()
			ctx := context.Background()
			c := h.newLinkedCustomer(t, staff, "Archived There")
			remote := h.remote(t)
			if err := remote.ArchiveCustomer(ctx, c.KirimID); err != nil {
				t.Fatal(err)
			}
			// One the portal never saw, archived before it could.
			unseen, err := remote.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Never Seen"})
			if err != nil {
				t.Fatal(err)
			}
			remote.ArchiveCustomer(ctx, unseen.ID)
			if _, err := h.srv.ob.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
			if got := h.customer(t, c.ID); got.Status != kirim.CustomerArchived || got.ArchivedAt == nil {
				t.Fatalf("the mirror says %s", got.Status)
			}
			seen, err := h.db.CustomerByKirimID(ctx, unseen.ID)
			if err != nil || seen.Status != kirim.CustomerArchived {
				t.Fatalf("the unseen archived customer: %+v %v", seen, err)
			}
			if got := h.newestLink(t, c.ID); got.Status != kirim.LinkRevoked {
				t.Fatalf("the archived customer's link is %s", got.Status)
			}
		})
	}
}

// 7. After a lost answer or a refusal, a corrected form creates exactly one customer,
// with the corrected values.
func TestCorrectedFormAfterALostOrRefusedAnswer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		variant sandbox.Variant
	}{{"errors not kept", sandbox.Variant{}}, {"errors kept under the key", sandbox.Variant{IdempotentErrors: true}}} {
		t.Run(tc.name+", lost answer", func(t *testing.T) {
			h := newHarness(t, withVariant(tc.variant))
			b := h.signedIn()
			ctx := context.Background()
			_, page := b.get("/admin/customers/new")
			form := url.Values{"intent": {regexpFind(t, page, `name="intent" value="([^"]+)"`)}, "name": {"Lost Answer"}, "email": {"ownr@lost.test"}}
			h.setFault(kirimFails(func(r *http.Request) bool { return r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/customers") }, h))
			resp, body := b.post("/admin/customers", form)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "cannot tell yet whether this went through") || strings.Contains(body, "nothing was changed") {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			h.setFault(nil)
			form.Set("email", "owner@lost.test") // staff fix the typo
			if resp, body := b.post("/admin/customers", form); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("corrected form: %d %s", resp.StatusCode, body)
			}
			b.post("/admin/customers", form) // and again: still one
			remote, _ := h.remote(t).ListCustomers(ctx, kirim.ListCustomersParams{})
			if len(remote.Data) != 1 || remote.Data[0].Email == nil || *remote.Data[0].Email != "owner@lost.test" {
				t.Fatalf("Kirim holds %+v", remote.Data)
			}
			if n, _ := h.db.CountCustomers(ctx); n.All != 1 {
				t.Fatalf("%d customers mirrored", n.All)
			}
			mirrored, _ := h.db.CustomerByKirimID(ctx, remote.Data[0].ID)
			if mirrored.Email != "owner@lost.test" {
				t.Fatalf("mirror has %s", mirrored.Email)
			}
		})
		t.Run(tc.name+", refused", func(t *testing.T) {
			h := newHarness(t, withVariant(tc.variant))
			b := h.signedIn()
			ctx := context.Background()
			_, page := b.get("/admin/customers/new")
			form := url.Values{"intent": {regexpFind(t, page, `name="intent" value="([^"]+)"`)}, "name": {"Refused First"}, "team_id": {"team_typo"}}
			resp, body := b.post("/admin/customers", form)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "No team") {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			form.Set("team_id", sandbox.Teams[1])
			if resp, body := b.post("/admin/customers", form); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("corrected form: %d %s", resp.StatusCode, body)
			}
			remote, _ := h.remote(t).ListCustomers(ctx, kirim.ListCustomersParams{})
			if len(remote.Data) != 1 || remote.Data[0].TeamID != sandbox.Teams[1] {
				t.Fatalf("Kirim holds %+v", remote.Data)
			}
		})
	}
}

// 8. Onboarding webhooks that carry only the link move link, customer and account
// forward without waiting for reconciliation, also when the account reads as
// onboarding at first.
func TestOnboardingWebhooksWithoutTheCustomer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		variant sandbox.Variant
	}{
		{"link only", sandbox.Variant{LinkOnlyWebhooks: true}},
		{"link only, account onboarding first", sandbox.Variant{LinkOnlyWebhooks: true, OnboardingReads: 2}},
		{"full payload, account onboarding first", sandbox.Variant{OnboardingReads: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, withVariant(tc.variant))
			h.subscribe(t)
			staff := h.signedIn()
			ctx := context.Background()
			c := h.newLinkedCustomer(t, staff, "Hooked Store")
			h.signupVia(t, c.ID, "outcome=success") // the customer never comes back
			eventually(t, "the webhooks move the customer to connected", func() bool {
				got := h.customer(t, c.ID)
				accounts, _ := h.db.Accounts(ctx, c.ID)
				return got.Status == kirim.CustomerActive && got.Stage == onboarding.StageConnected &&
					h.newestLink(t, c.ID).Status == kirim.LinkConsumed && len(accounts) == 1 && accounts[0].Status == kirim.AccountConnected
			})
			if got := h.customer(t, c.ID); got.KirimInternalID == "" {
				t.Fatal("the internal customer id was not learnt")
			}
		})
	}
}

// 9. A late, older customer.updated does not roll the mirror back.
func TestLateOlderWebhookEvents(t *testing.T) {
	h := newHarness(t, withVariant(sandbox.Variant{ReversedWebhooks: true, DuplicateWebhooks: true}))
	h.subscribe(t)
	staff := h.signedIn()
	ctx := context.Background()
	page := staff.createCustomer(url.Values{"name": {"First Name"}})
	c := must(h.db.Customers(ctx, store.CustomerFilter{})).Customers[0]
	remote := h.remote(t)
	remote.UpdateCustomer(ctx, c.KirimID, kirim.UpdateCustomerParams{Name: kirim.Value("Second Name")})
	h.advance(time.Second)
	remote.UpdateCustomer(ctx, c.KirimID, kirim.UpdateCustomerParams{Name: kirim.Value("Third Name")})
	eventually(t, "both updates delivered", func() bool { return count(h.events(c.ID), "webhook.received") >= 3 })
	h.srv.ob.Wait()
	if got := h.customer(t, c.ID); got.Name != "Third Name" {
		t.Fatalf("the mirror went back to %q", got.Name)
	}
	if n := count(h.events(c.ID), "webhook.received"); n != 3 {
		t.Fatalf("%d webhook events recorded, want 3 (created and two updates, each once)", n)
	}
	_, body := staff.get(page)
	if !strings.Contains(body, "Third Name") {
		t.Fatal("the customer page does not show the newest name")
	}
}

// 11. The failure reason comes in reason, error or error_code; unknown codes get the
// generic words and keep their code on the timeline.
func TestFailureReasonCodes(t *testing.T) {
	for _, name := range []string{"default", "error-param", "error-code-param"} {
		t.Run(name, func(t *testing.T) {
			v := must(sandbox.ParseVariant(name))
			h := newHarness(t, withVariant(v))
			staff := h.signedIn()
			c := h.newLinkedCustomer(t, staff, "Reason Store")
			visitor := h.browser()
			_, body := visitor.get(h.signupVia(t, c.ID, "outcome=fail&reason=token_exchange_failed"))
			want := "We could not get access to your number this time"
			if v.OtherReasonCodes { // META_TOKEN_EXCHANGE: not a code the portal knows
				want = "Error code: META_TOKEN_EXCHANGE"
			}
			if !strings.Contains(body, want) {
				t.Fatalf("failure page lacks %q: %s", want, body)
			}
			got := h.failureEvents(t, c.ID)
			if len(got) != 1 || got[0].Detail["reason"] == "unknown" {
				t.Fatalf("failures %+v", got)
			}
		})
	}
	t.Run("spellings", func(t *testing.T) {
		h := newHarness(t)
		staff := h.signedIn()
		c := h.newLinkedCustomer(t, staff, "Spelling Store")
		key := h.returnKey(t, c)
		visitor := h.browser()
		for q, want := range map[string]string{
			"status=failed&error=SIGNUP_CANCELLED":      "closed or cancelled before it finished",
			"status=failed&error_code=otp%3Cb%3Efailed": "Error code: otp_b_failed",
			"status=failed": "Error code: unknown",
		} {
			_, body := visitor.get("/onboard/r/" + key + "/failure?" + q)
			if !strings.Contains(body, want) {
				t.Errorf("%s: page lacks %q", q, want)
			}
		}
		reasons := map[any]bool{}
		for _, e := range h.failureEvents(t, c.ID) {
			reasons[e.Detail["reason"]] = true
		}
		for _, want := range []string{"SIGNUP_CANCELLED", "otp_b_failed", "unknown"} {
			if !reasons[want] {
				t.Errorf("the timeline lacks the code %q: %v", want, reasons)
			}
		}
	})
}

// TestJourneyUnderEveryVariant runs the whole journey against each of the sandbox's
// variants: staff create and email a customer; the customer opens the landing page,
// fails once, tries again and connects; templates sync over every page; Kirim's
// webhooks arrive in the variant's shape and order; the customer is archived in Kirim
// and reconciliation brings that back.
func TestJourneyUnderEveryVariant(t *testing.T) {
	for _, nv := range sandbox.Variants {
		t.Run(nv.Name, func(t *testing.T) {
			h := newHarness(t, withVariant(nv.Variant))
			h.subscribe(t)
			ctx := context.Background()
			staff := h.signedIn()
			page := staff.createCustomer(url.Values{"name": {"Journey " + nv.Name}, "email": {"owner@journey.test"}, "send_email": {"1"}})
			c := must(h.db.Customers(ctx, store.CustomerFilter{})).Customers[0]
			if emails, _ := h.db.Emails(ctx, c.ID, 10); len(emails) != 1 {
				t.Fatalf("%d emails", len(emails))
			}
			token, _ := h.db.LandingToken(ctx, h.newestLink(t, c.ID).ID)
			visitor := h.browser()
			visitor.get("/onboard/" + token)
			resp, _ := visitor.get("/onboard/" + token + "/connect")
			setupURL := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || !strings.Contains(setupURL, "/onboard/csl_") {
				t.Fatalf("connect: %d %s", resp.StatusCode, setupURL)
			}

			// A first attempt fails.
			back := kirimRedirect(t, setupURL+"?outcome=fail&reason=signup_cancelled", h.URL)
			resp, body := visitor.get(back)
			if resp.StatusCode != 200 || !strings.Contains(body, "The connection did not go through") || !strings.Contains(body, ">Try again<") {
				t.Fatalf("failure page %d: %s", resp.StatusCode, body)
			}
			if got := h.customer(t, c.ID); got.Stage != onboarding.StageFailed || len(h.failureEvents(t, c.ID)) != 1 {
				t.Fatalf("after the failure: stage %s, failures %d", got.Stage, len(h.failureEvents(t, c.ID)))
			}

			// Try again, and connect.
			tryAgain := regexpFind(t, body, `href="(/onboard/[A-Za-z0-9_-]{32})"`)
			if _, landing := visitor.get(tryAgain); !strings.Contains(landing, "/connect") {
				t.Fatal("try again does not lead to a usable landing page")
			}
			resp, _ = visitor.get(tryAgain + "/connect")
			back = kirimRedirect(t, resp.Header.Get("Location")+"?outcome=success&phone_number=%2B6287777777777", h.URL)
			_, body = visitor.get(back)
			for i := 0; strings.Contains(body, "We are confirming your connection") && i < maxPolls; i++ {
				_, body = visitor.get(strings.ReplaceAll(regexpFind(t, body, `hx-get="([^"]+)"`), "&amp;", "&"))
			}
			if !strings.Contains(body, "WhatsApp is connected") || !strings.Contains(body, "+6287777777777") {
				t.Fatalf("success page: %s", body)
			}
			h.srv.ob.Wait()
			got := h.customer(t, c.ID)
			accounts, _ := h.db.Accounts(ctx, c.ID)
			if got.Status != kirim.CustomerActive || got.Stage != onboarding.StageConnected || h.newestLink(t, c.ID).Status != kirim.LinkConsumed ||
				len(accounts) != 1 || accounts[0].Status != kirim.AccountConnected {
				t.Fatalf("after connecting: customer %s/%s, accounts %+v", got.Status, got.Stage, accounts)
			}

			// Templates, over however many pages Kirim gives them in.
			a := accounts[0]
			h.sb.AddMetaTemplates(a.PhoneNumberID, 27)
			staff.post(page+"/accounts/"+itoa(a.ID)+"/sync", nil)
			if tpls, _ := h.db.Templates(ctx, a.ID); len(tpls) != 30 {
				t.Fatalf("%d templates stored, want 30", len(tpls))
			}

			// Kirim's webhooks arrived, in whatever shape and order.
			eventually(t, "webhooks applied", func() bool { return count(h.events(c.ID), "webhook.received") >= 3 })

			// Archived in Kirim; reconciliation brings it back.
			if err := h.remote(t).ArchiveCustomer(ctx, c.KirimID); err != nil {
				t.Fatal(err)
			}
			if _, err := h.srv.ob.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the archive reaches the mirror", func() bool { return h.customer(t, c.ID).Status == kirim.CustomerArchived })
			if _, body := staff.get(page); !strings.Contains(body, "archived") {
				t.Fatal("the customer page does not say archived")
			}
		})
	}
}

// kirimRedirect follows Kirim's hosted page (one request: outcome in the query) and
// returns where Kirim sends the browser, as a path on the portal.
func kirimRedirect(t *testing.T, hosted, portal string) string {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(hosted)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, portal+"/onboard/r/") {
		t.Fatalf("Kirim sent the browser to %q (%d)", loc, resp.StatusCode)
	}
	return strings.TrimPrefix(loc, portal)
}
