package kirim_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/kirimtest"
	"github.com/kirim-portal/portal/kirim/sandbox"
)

const testKey = "kdv_live_SENTINELsentinelSENTINEL1"

// env is a sandbox behind a real HTTP server and a client whose traffic is validated
// against the contract.
type env struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	client *kirim.Client
	// invalid sends requests that break the contract on purpose; responses are checked.
	invalid *kirim.Client
	http    *http.Client
	tr      *kirimtest.Transport
	clock   *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newEnv(t testing.TB, opts sandbox.Options, copts ...kirim.Option) *env {
	t.Helper()
	clk := &clock{t: time.Now().UTC()}
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	hc, tr := kirimtest.NewClient(t)
	// The browser side of the flow: never follow redirects, the test inspects them.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c, err := kirim.New(srv.URL+"/v1", opts.APIKey, append([]kirim.Option{kirim.WithHTTPClient(hc), kirim.WithRateLimits(0, 0)}, copts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ihc, itr := kirimtest.NewClient(t)
	itr.ResponsesOnly = true
	invalid, _ := kirim.New(srv.URL+"/v1", opts.APIKey, kirim.WithHTTPClient(ihc), kirim.WithRateLimits(0, 0))
	return &env{sb: sb, srv: srv, client: c, invalid: invalid, http: hc, tr: tr, clock: clk}
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// TestOnboardingFlow walks the whole journey over HTTP: customer, link, hosted page,
// connect, redirect back, and Kirim's view afterwards; then the failure path.
func TestOnboardingFlow(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.Options{})
	portal := "http://localhost:8080/onboard/r/ret_abc"

	cu, err := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "  Toko   Maju\nJaya ", Email: "owner@tokomaju.test",
		Metadata: map[string]any{"plan": "pro"}, IdempotencyKey: "cust-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^cus_[0-9A-HJKMNP-TV-Z]{26}$`).MatchString(cu.ID) || cu.Status != kirim.CustomerPending || cu.Name != "Toko Maju Jaya" {
		t.Fatalf("created customer: %+v", cu)
	}
	link, err := e.client.CreateSetupLink(ctx, cu.ID, kirim.CreateSetupLinkParams{ExpiresInHours: 48,
		SuccessRedirectURL: portal + "/success", FailureRedirectURL: portal + "/failure", IdempotencyKey: "link-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^csl_[0-9A-HJKMNP-TV-Z]{26}$`).MatchString(link.ID) || link.CustomerID == cu.ID || link.Status != kirim.LinkActive {
		t.Fatalf("created link: %+v", link)
	}
	setupURL := link.SetupURL.Reveal()
	token := setupURL[strings.LastIndex(setupURL, "/")+1:]
	if !regexp.MustCompile(`^csl_[A-Za-z0-9_-]{24}$`).MatchString(token) || link.TokenLast4 != token[len(token)-4:] {
		t.Fatalf("setup_url %q, token_last4 %q", setupURL, link.TokenLast4)
	}
	if got := time.Until(link.ExpiresAt).Round(time.Hour); got != 48*time.Hour {
		t.Fatalf("link expires in %v, want 48h", got)
	}
	// Later reads never show the URL again.
	links, err := e.client.ListSetupLinks(ctx, cu.ID, "")
	if err != nil || len(links) != 1 || links[0].SetupURL != "" {
		t.Fatalf("list links: %+v, %v", links, err)
	}

	// The hosted page names the customer.
	resp, err := e.http.Get(setupURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Toko Maju Jaya") {
		t.Fatalf("hosted page %d: %.300s", resp.StatusCode, page)
	}
	// Connect: Kirim redirects to the success URL with its parameters.
	resp, err = e.http.PostForm(setupURL, url.Values{"outcome": {"success"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc.String(), portal+"/success?") {
		t.Fatalf("redirect %d to %q", resp.StatusCode, loc)
	}
	q := loc.Query()
	if q.Get("customer_id") != cu.ID || q.Get("status") != "success" || q.Get("account_id") == "" {
		t.Fatalf("redirect query %v", q)
	}

	got, err := e.client.GetCustomer(ctx, cu.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != kirim.CustomerActive || len(got.WhatsappAccounts) != 1 {
		t.Fatalf("after connect: status %s, accounts %+v", got.Status, got.WhatsappAccounts)
	}
	acct := got.WhatsappAccounts[0]
	if acct.Status != "connected" || !regexp.MustCompile(`^\d{15}$`).MatchString(str(acct.PhoneNumberID)) || acct.OnboardedAt == nil {
		t.Fatalf("account %+v", acct)
	}
	links, _ = e.client.ListSetupLinks(ctx, cu.ID, kirim.LinkConsumed)
	if len(links) != 1 || links[0].ConsumedAt == nil {
		t.Fatalf("consumed links: %+v", links)
	}
	accounts, err := e.client.ListAccounts(ctx, kirim.AccountFilter{Status: "all", CustomerID: cu.ID})
	if err != nil || len(accounts) != 1 || str(accounts[0].CustomerID) != cu.ID || accounts[0].ID != q.Get("account_id") {
		t.Fatalf("accounts: %+v, %v", accounts, err)
	}

	t.Run("templates", func(t *testing.T) {
		pnid := str(acct.PhoneNumberID)
		first, err := e.client.SyncTemplates(ctx, pnid, "")
		if err != nil || first.Synced == 0 || first.Created != first.Synced || first.Object != "template_sync_result" {
			t.Fatalf("first sync %+v, %v", first, err)
		}
		again, err := e.client.SyncTemplates(ctx, pnid, "")
		if err != nil || again.Created != 0 || again.Updated != 0 || again.Synced != first.Synced {
			t.Fatalf("second sync %+v, %v", again, err)
		}
		e.sb.SetMetaTemplateStatus(pnid, "welcome_offer", "approved")
		third, _ := e.client.SyncTemplates(ctx, pnid, "")
		if third.Updated != 1 {
			t.Fatalf("sync after a change on Meta: %+v", third)
		}
		tpls, err := e.client.ListTemplates(ctx, pnid)
		if err != nil || len(tpls) != first.Synced || tpls[0].Name == "" || tpls[0].Language == "" {
			t.Fatalf("templates %+v, %v", tpls, err)
		}
	})

	t.Run("a consumed link cannot be used again", func(t *testing.T) {
		resp, err := e.http.Get(setupURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if !strings.HasPrefix(loc.String(), portal+"/failure?") || loc.Query().Get("reason") != "link_already_used" {
			t.Fatalf("reuse went to %q", loc)
		}
		if err := e.client.RevokeSetupLink(ctx, cu.ID, link.ID); !kirim.IsConflict(err) {
			t.Fatalf("revoking a consumed link: %v, want 409", err)
		}
	})

	t.Run("failure path", func(t *testing.T) {
		other, _ := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Warung Sari"})
		l, err := e.client.CreateSetupLink(ctx, other.ID, kirim.CreateSetupLinkParams{FailureRedirectURL: portal + "/failure"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.http.Get(l.SetupURL.Reveal() + "?outcome=fail&reason=token_exchange_failed")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if q := loc.Query(); q.Get("status") != "failed" || q.Get("reason") != "token_exchange_failed" || q.Get("customer_id") != other.ID {
			t.Fatalf("failure redirect %q", loc)
		}
		got, _ := e.client.GetCustomer(ctx, other.ID)
		if got.Status != kirim.CustomerPending || len(got.WhatsappAccounts) != 0 {
			t.Fatalf("after a failed signup: %+v", got)
		}
		// The link stays usable after a failed attempt.
		active, _ := e.client.ListSetupLinks(ctx, other.ID, kirim.LinkActive)
		if len(active) != 1 {
			t.Fatalf("active links after failure: %d", len(active))
		}
	})

	if e.tr.Checked < 10 {
		t.Fatalf("only %d exchanges were validated against the contract", e.tr.Checked)
	}
}

func TestCustomers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.Options{})
	for i := range 7 {
		name := []string{"Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta"}[i]
		if _, err := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: name + " Store"}); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Millisecond)
	}

	t.Run("pages and iterator", func(t *testing.T) {
		page, err := e.client.ListCustomers(ctx, kirim.ListCustomersParams{Limit: 3})
		if err != nil || len(page.Data) != 3 || !page.HasMore || page.NextCursor == nil {
			t.Fatalf("first page %+v, %v", page, err)
		}
		if page.Data[0].Name != "Eta Store" {
			t.Fatalf("newest first: got %s", page.Data[0].Name)
		}
		var names []string
		for c, err := range e.client.AllCustomers(ctx, kirim.ListCustomersParams{Limit: 2}) {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, c.Name)
		}
		if len(names) != 7 || names[6] != "Alpha Store" {
			t.Fatalf("iterated %v", names)
		}
	})
	t.Run("search and status", func(t *testing.T) {
		page, err := e.client.ListCustomers(ctx, kirim.ListCustomersParams{Search: "ZETA"})
		if err != nil || len(page.Data) != 1 || page.HasMore || page.NextCursor != nil {
			t.Fatalf("search: %+v, %v", page, err)
		}
		page, _ = e.client.ListCustomers(ctx, kirim.ListCustomersParams{Status: "active"})
		if len(page.Data) != 0 {
			t.Fatalf("no customer is active yet, got %d", len(page.Data))
		}
	})
	t.Run("bad limit and cursor", func(t *testing.T) {
		var kerr *kirim.Error
		_, err := e.invalid.ListCustomers(ctx, kirim.ListCustomersParams{Limit: 101})
		if !errors.As(err, &kerr) || kerr.Code != "invalid_limit" || kerr.Status != 400 {
			t.Fatalf("limit 101: %v", err)
		}
		_, err = e.client.ListCustomers(ctx, kirim.ListCustomersParams{Cursor: "forged"})
		if !errors.As(err, &kerr) || kerr.Code != "invalid_cursor" {
			t.Fatalf("forged cursor: %v", err)
		}
		// A cursor is bound to its filters.
		page, _ := e.client.ListCustomers(ctx, kirim.ListCustomersParams{Limit: 1})
		_, err = e.client.ListCustomers(ctx, kirim.ListCustomersParams{Limit: 1, Status: "pending", Cursor: *page.NextCursor})
		if !errors.As(err, &kerr) || kerr.Code != "invalid_cursor" {
			t.Fatalf("cursor with other filters: %v", err)
		}
	})
	t.Run("update and clear with null", func(t *testing.T) {
		cu, _ := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Kopi Kita", Email: "a@kopi.test", Metadata: map[string]any{"k": "v"}})
		up, err := e.client.UpdateCustomer(ctx, cu.ID, kirim.UpdateCustomerParams{Email: kirim.Null[string](), Status: kirim.Value("suspended")})
		if err != nil || up.Email != nil || up.Status != "suspended" || up.Metadata["k"] != "v" || up.Name != "Kopi Kita" {
			t.Fatalf("update: %+v, %v", up, err)
		}
		_, err = e.invalid.UpdateCustomer(ctx, cu.ID, kirim.UpdateCustomerParams{Status: kirim.Value("archived")})
		if !kirim.IsValidation(err) {
			t.Fatalf("status archived through PATCH: %v, want 400", err)
		}
	})
	t.Run("archive", func(t *testing.T) {
		cu, _ := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Closing Down"})
		l, _ := e.client.CreateSetupLink(ctx, cu.ID, kirim.CreateSetupLinkParams{})
		if err := e.client.ArchiveCustomer(ctx, cu.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := e.client.GetCustomer(ctx, cu.ID)
		if got.Status != kirim.CustomerArchived || got.ArchivedAt == nil {
			t.Fatalf("archived customer %+v", got)
		}
		links, _ := e.client.ListSetupLinks(ctx, cu.ID, "")
		if links[0].ID != l.ID || links[0].Status != kirim.LinkRevoked {
			t.Fatalf("link of an archived customer: %+v", links[0])
		}
	})
	t.Run("validation", func(t *testing.T) {
		for _, tc := range []struct {
			name        string
			p           kirim.CreateCustomerParams
			code, param string
		}{
			{"empty name", kirim.CreateCustomerParams{Name: "   "}, "invalid_field_value", "name"},
			{"long name", kirim.CreateCustomerParams{Name: strings.Repeat("x", 201)}, "invalid_field_value", "name"},
			{"bad email", kirim.CreateCustomerParams{Name: "A", Email: "not-an-email"}, "invalid_field_value", "email"},
			{"too many metadata keys", kirim.CreateCustomerParams{Name: "A", Metadata: manyKeys(65)}, "invalid_field_value", "metadata"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var kerr *kirim.Error
				_, err := e.invalid.CreateCustomer(ctx, tc.p)
				if !errors.As(err, &kerr) || kerr.Status != 400 || kerr.Code != tc.code || kerr.Param != tc.param || kerr.RequestID == "" {
					t.Fatalf("got %v, want 400 %s on %s", err, tc.code, tc.param)
				}
			})
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := e.client.GetCustomer(ctx, "cus_00000000000000000000000000")
		if !kirim.IsNotFound(err) {
			t.Fatalf("got %v, want 404", err)
		}
	})
}

func manyKeys(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m[string(rune('a'+i%26))+strings.Repeat("k", i/26+1)] = i
	}
	return m
}

func TestSetupLinks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.Options{})
	cu, _ := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Links Ltd"})

	t.Run("redirect URL rules", func(t *testing.T) {
		for _, bad := range []string{"/relative", "http://example.com/ok", "https://example.com/#frag", "ftp://example.com/"} {
			_, err := e.invalid.CreateSetupLink(ctx, cu.ID, kirim.CreateSetupLinkParams{SuccessRedirectURL: bad})
			if !kirim.IsValidation(err) {
				t.Errorf("%q accepted: %v", bad, err)
			}
		}
		for _, good := range []string{"https://portal.example.com/r", "http://localhost:8080/r", "http://127.0.0.1/r", "http://app.localhost/r"} {
			if _, err := e.client.CreateSetupLink(ctx, cu.ID, kirim.CreateSetupLinkParams{SuccessRedirectURL: good}); err != nil {
				t.Errorf("%q refused: %v", good, err)
			}
		}
	})
	t.Run("lifetime bounds", func(t *testing.T) {
		for _, h := range []int{-1, 721} {
			if _, err := e.invalid.CreateSetupLink(ctx, cu.ID, kirim.CreateSetupLinkParams{ExpiresInHours: h}); !kirim.IsValidation(err) {
				t.Errorf("expires_in_hours %d: %v", h, err)
			}
		}
		l, err := e.client.CreateSetupLink(ctx, cu.ID, kirim.CreateSetupLinkParams{})
		if err != nil || l.ExpiresAt.Sub(l.CreatedAt) != 168*time.Hour {
			t.Fatalf("default lifetime: %v, %v", l.ExpiresAt.Sub(l.CreatedAt), err)
		}
	})
	t.Run("update, clear and revoke", func(t *testing.T) {
		l, _ := e.client.CreateSetupLink(ctx, cu.ID, kirim.CreateSetupLinkParams{SuccessRedirectURL: "https://a.example/s", FailureRedirectURL: "https://a.example/f"})
		up, err := e.client.UpdateSetupLink(ctx, cu.ID, l.ID, kirim.UpdateSetupLinkParams{SuccessRedirectURL: kirim.Value("https://b.example/s"), FailureRedirectURL: kirim.Null[string]()})
		if err != nil || str(up.SuccessRedirectURL) != "https://b.example/s" || up.FailureRedirectURL != nil {
			t.Fatalf("update: %+v, %v", up, err)
		}
		if err := e.client.RevokeSetupLink(ctx, cu.ID, l.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.client.RevokeSetupLink(ctx, cu.ID, l.ID); !kirim.IsConflict(err) {
			t.Fatalf("second revoke: %v, want 409", err)
		}
		if _, err := e.client.UpdateSetupLink(ctx, cu.ID, l.ID, kirim.UpdateSetupLinkParams{SuccessRedirectURL: kirim.Null[string]()}); !kirim.IsConflict(err) {
			t.Fatalf("update of a revoked link: %v, want 409", err)
		}
	})
	t.Run("expiry by the clock", func(t *testing.T) {
		l, _ := e.client.CreateSetupLink(ctx, cu.ID, kirim.CreateSetupLinkParams{ExpiresInHours: 1})
		e.clock.Add(61 * time.Minute)
		expired, _ := e.client.ListSetupLinks(ctx, cu.ID, kirim.LinkExpired)
		found := false
		for _, x := range expired {
			found = found || x.ID == l.ID
		}
		if !found {
			t.Fatal("a link past its expiry is not listed as expired")
		}
		resp, _ := e.http.Get(l.SetupURL.Reveal())
		resp.Body.Close()
		if resp.StatusCode != http.StatusGone {
			t.Fatalf("expired link without failure URL: %d, want 410", resp.StatusCode)
		}
	})
	t.Run("at most 50, newest first", func(t *testing.T) {
		many, _ := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Many Links"})
		var last string
		for range 55 {
			l, err := e.client.CreateSetupLink(ctx, many.ID, kirim.CreateSetupLinkParams{})
			if err != nil {
				t.Fatal(err)
			}
			last = l.ID
		}
		links, _ := e.client.ListSetupLinks(ctx, many.ID, "")
		if len(links) != 50 || links[0].ID != last {
			t.Fatalf("got %d links, first %s; want 50, first %s", len(links), links[0].ID, last)
		}
	})
}

func TestMeHealthAuth(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.Options{})
	if err := e.client.Health(ctx); err != nil {
		t.Fatal(err)
	}
	me, err := e.client.Me(ctx)
	if err != nil || me.RateLimits.WritePerMinute != 60 || me.RateLimits.ReadPerMinute != 600 {
		t.Fatalf("me: %+v, %v", me, err)
	}
	bad, _ := kirim.New(e.srv.URL+"/v1", "kdv_live_wrong", kirim.WithHTTPClient(e.http))
	var kerr *kirim.Error
	_, err = bad.ListCustomers(ctx, kirim.ListCustomersParams{})
	if !errors.As(err, &kerr) || kerr.Status != 401 || kerr.Type != "authentication_error" {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestIdempotency(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.Options{})
	a, err := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Once Only", IdempotencyKey: "intent-42"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Once Only", IdempotencyKey: "intent-42"})
	if err != nil || b.ID != a.ID {
		t.Fatalf("replay: %+v, %v; want the first customer %s", b, err, a.ID)
	}
	page, _ := e.client.ListCustomers(ctx, kirim.ListCustomersParams{})
	if len(page.Data) != 1 {
		t.Fatalf("%d customers after a replay, want 1", len(page.Data))
	}
}

func TestWebhookSubscriptionAndDelivery(t *testing.T) {
	ctx := context.Background()
	got := make(chan *http.Request, 10)
	bodies := make(chan []byte, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	defer hook.Close()
	e := newEnv(t, sandbox.Options{Now: time.Now})
	sub, err := e.client.CreateWebhookSubscription(ctx, kirim.CreateWebhookSubscriptionParams{URL: hook.URL + "/webhooks/kirim", Events: kirim.CustomerEvents})
	if err != nil || !strings.HasPrefix(sub.InitialSecret.Reveal(), "whsec_") {
		t.Fatalf("subscription %+v, %v", sub, err)
	}
	if _, err := e.invalid.CreateWebhookSubscription(ctx, kirim.CreateWebhookSubscriptionParams{URL: "http://example.com/hook", Events: kirim.CustomerEvents}); !kirim.IsValidation(err) {
		t.Fatalf("plain http to a public host: %v, want 400 invalid_webhook_url", err)
	}
	if _, err := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Hooked"}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		body := <-bodies
		if r.Header.Get("X-Kirim-Event") != "customer.created" || !strings.HasPrefix(r.Header.Get("X-Kirim-Event-Id"), "evt_") {
			t.Fatalf("headers %v", r.Header)
		}
		if err := kirim.VerifyWebhook(r.Header, body, []string{sub.InitialSecret.Reveal()}, time.Now(), kirim.WebhookTolerance); err != nil {
			t.Fatalf("delivery does not verify: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook delivered")
	}
	// During a rotation every active secret signs: either one alone verifies.
	newSecret := e.sb.RotateWebhookSecret()
	e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Rotated"})
	select {
	case r := <-got:
		body := <-bodies
		if n := strings.Count(r.Header.Get("X-Kirim-Signature"), "v1="); n != 2 {
			t.Fatalf("%d signatures during a rotation, want 2", n)
		}
		for _, secret := range []string{sub.InitialSecret.Reveal(), newSecret} {
			if err := kirim.VerifyWebhook(r.Header, body, []string{secret}, time.Now(), kirim.WebhookTolerance); err != nil {
				t.Fatalf("does not verify with one of the secrets: %v", err)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook delivered after the rotation")
	}
}

// TestWebhookRetries: a delivery that meets a 5xx is tried again, signed anew, with the
// attempt number; a 4xx is final.
func TestWebhookRetries(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var attempts []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, r.Header.Get("X-Kirim-Event")+"#"+r.Header.Get("X-Kirim-Attempt"))
		if r.Header.Get("X-Kirim-Event") == "customer.created" && r.Header.Get("X-Kirim-Attempt") == "1" {
			w.WriteHeader(503)
			return
		}
		if r.Header.Get("X-Kirim-Event") == "customer.updated" {
			w.WriteHeader(400)
		}
	}))
	defer hook.Close()
	e := newEnv(t, sandbox.Options{Now: time.Now, WebhookRetryDelays: []time.Duration{0, 50 * time.Millisecond, 50 * time.Millisecond}})
	e.client.CreateWebhookSubscription(ctx, kirim.CreateWebhookSubscriptionParams{URL: hook.URL, Events: []string{"customer.created", "customer.updated"}})
	cu, _ := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Retry Me"})
	e.client.UpdateCustomer(ctx, cu.ID, kirim.UpdateCustomerParams{Name: kirim.Value("Retried")})
	var got string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		got = strings.Join(attempts, ",")
		mu.Unlock()
		if strings.Count(got, "customer.created#") == 2 && strings.Contains(got, "customer.updated#") {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // room for a wrong extra attempt to show
	mu.Lock()
	got = strings.Join(attempts, ",")
	mu.Unlock()
	if strings.Count(got, "customer.created#") != 2 || !strings.Contains(got, "customer.created#2") || strings.Count(got, "customer.updated#") != 1 {
		t.Fatalf("attempts %s; want created twice (503 then 200) and updated once (400 is final)", got)
	}
}
