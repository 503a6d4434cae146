package onboarding_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/kirimtest"
	"github.com/kirim-portal/portal/kirim/sandbox"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

type env struct {
	svc  *onboarding.Service
	db   *store.DB
	kc   *kirim.Client
	sb   *sandbox.Sandbox
	srv  *httptest.Server
	http *http.Client
	jobs *jobs.Client
	// fault, when set, answers a request to Kirim in its place (true) or lets it pass.
	fault atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

func newEnv(t *testing.T, variant ...sandbox.Variant) *env {
	t.Helper()
	ctx := context.Background()
	master, _ := secret.ParseKey(secret.GenerateKey())
	keys, _ := secret.NewKeyring(master)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "portal.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	var v sandbox.Variant
	if len(variant) > 0 {
		v = variant[0]
	}
	sb, _ := sandbox.New(sandbox.Options{APIKey: "k", Variant: v})
	e := &env{db: db, sb: sb}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := e.fault.Load(); f != nil && (*f)(w, r) {
			return
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { e.srv.Close(); sb.Close(); db.Close() })
	hc, tr := kirimtest.NewClient(t)
	tr.SkipResponse = func(r *http.Response) bool { return r.Header.Get("X-Test-Fault") != "" }
	e.kc, _ = kirim.New(e.srv.URL+"/v1", "k", kirim.WithHTTPClient(hc), kirim.WithRateLimits(0, 0), kirim.WithRetries(1, time.Millisecond))
	e.http = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	jc, workers := openJobs(t, db)
	e.jobs = jc
	e.svc = e.service("https://portal.example.com")
	e.svc.RegisterWorkers(workers)
	startJobs(t, jc)
	return e
}

// openJobs returns the job engine over db, with the workers to register before
// startJobs.
func openJobs(t *testing.T, db *store.DB) (*jobs.Client, *river.Workers) {
	t.Helper()
	jc, workers, err := jobs.Open(context.Background(), db.SQL(), jobs.Config{Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return jc, workers
}

// startJobs starts the engine until the test ends (before the database closes).
func startJobs(t *testing.T, jc *jobs.Client) {
	t.Helper()
	if err := jc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		jc.Stop(ctx)
	})
}

// service returns the workflows as a portal at publicURL runs them; its jobs are
// worked by the env's first service.
func (e *env) service(publicURL string) *onboarding.Service {
	return onboarding.New(onboarding.Deps{DB: e.db, Kirim: e.kc, PublicURL: publicURL, Log: slog.New(slog.DiscardHandler),
		Mail: onboarding.Mail{DevOutbox: true, Renderer: testRenderer{}}, Jobs: e.jobs})
}

// setFault puts f between the portal and Kirim (nil removes it).
func (e *env) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	if f == nil {
		e.fault.Store(nil)
		return
	}
	e.fault.Store(&f)
}

// lostAnswers lets matching requests reach Kirim and be done there, then drops the
// connection before the answer gets back.
func (e *env) lostAnswers(match func(r *http.Request) bool) {
	e.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !match(r) {
			return false
		}
		e.sb.ServeHTTP(httptest.NewRecorder(), r)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
		return true
	})
}

func TestCreateCustomerOnceOnly(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	in := onboarding.CustomerInput{Name: "  Kopi   Kita ", Email: "a@kopi.test", Metadata: []onboarding.MetaPair{{Key: "crm", Value: "7"}}}
	a, err := e.svc.CreateCustomer(ctx, in, "intent-0123456789abcdef", "staff@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Kopi Kita" || a.Locale != "en" || a.Stage != onboarding.StageCreated || a.Metadata["crm"] != "7" {
		t.Fatalf("created %+v", a)
	}
	b, err := e.svc.CreateCustomer(ctx, in, "intent-0123456789abcdef", "staff@example.test")
	if err != nil || b.ID != a.ID {
		t.Fatalf("the same intent again: %+v %v", b, err)
	}
	page, _ := e.kc.ListCustomers(ctx, kirim.ListCustomersParams{})
	if len(page.Data) != 1 {
		t.Fatalf("%d customers in Kirim", len(page.Data))
	}
	events, _ := e.db.Events(ctx, a.ID, time.Time{}, 0, 10)
	if len(events) != 1 || events[0].Kind != "customer.created" || events[0].Actor != "staff@example.test" {
		t.Fatalf("events %+v", events)
	}

	t.Run("invalid input changes nothing", func(t *testing.T) {
		_, err := e.svc.CreateCustomer(ctx, onboarding.CustomerInput{Name: strings.Repeat("x", 201), Email: "nope"}, "intent-fedcba9876543210", "s")
		var inv *onboarding.InvalidError
		if !errors.As(err, &inv) || inv.Fields["name"] == "" || inv.Fields["email"] == "" {
			t.Fatalf("got %v", err)
		}
		if _, err := e.db.IntentByKey(ctx, "intent-fedcba9876543210"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("an intent was recorded for invalid input")
		}
	})
}

func TestLinksLifecycle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c, _ := e.svc.CreateCustomer(ctx, onboarding.CustomerInput{Name: "Links"}, "intent-links-0000000001", "s")
	if _, err := e.svc.IssueLink(ctx, c.ID, 0, "s"); err == nil {
		t.Fatal("a 0-hour link was accepted")
	}
	l, err := e.svc.IssueLink(ctx, c.ID, 24, "s")
	if err != nil {
		t.Fatal(err)
	}
	if l.SuccessRedirectURL != "https://portal.example.com/onboard/r/"+store.MaskedReturnKey+"/success" {
		t.Fatalf("the mirror keeps the success URL as %q, want the return key masked", l.SuccessRedirectURL)
	}
	remote, _ := e.kc.ListSetupLinks(ctx, c.KirimID, "")
	key, ok := strings.CutPrefix(*remote[0].SuccessRedirectURL, "https://portal.example.com/onboard/r/")
	if !ok {
		t.Fatalf("Kirim's success URL %q", *remote[0].SuccessRedirectURL)
	}
	if byKey, err := e.db.SetupLinkByReturnKey(ctx, strings.TrimSuffix(key, "/success")); err != nil || byKey.ID != l.ID {
		t.Fatalf("lookup by return key: %v", err)
	}
	got, _ := e.db.CustomerByID(ctx, c.ID)
	if got.Stage != onboarding.StageLinkIssued {
		t.Fatalf("stage %s", got.Stage)
	}
	token, err := e.db.LandingToken(ctx, l.ID)
	if err != nil || len(token) < 32 {
		t.Fatalf("landing token %q %v", token, err)
	}
	if byTok, _, err := e.db.SetupLinkWithCustomer(ctx, token); err != nil || byTok.ID != l.ID {
		t.Fatalf("lookup by landing token: %v", err)
	}

	t.Run("redirects: validated, then changed and cleared", func(t *testing.T) {
		err := e.svc.UpdateLinkRedirects(ctx, c.ID, l.ID, "http://evil.example/x", "", "s")
		var inv *onboarding.InvalidError
		if !errors.As(err, &inv) {
			t.Fatalf("plain http accepted: %v", err)
		}
		if err := e.svc.UpdateLinkRedirects(ctx, c.ID, l.ID, "https://shop.example.com/done", "", "s"); err != nil {
			t.Fatal(err)
		}
		after, _ := e.db.SetupLinkByID(ctx, l.ID)
		if after.SuccessRedirectURL != "https://shop.example.com/done" || after.FailureRedirectURL != "" {
			t.Fatalf("mirror %+v", after)
		}
	})

	t.Run("a used link cannot be revoked", func(t *testing.T) {
		setupURL, _ := e.db.SetupURL(ctx, l.ID)
		resp, err := e.http.Get(setupURL + "?outcome=success")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := e.svc.RevokeLink(ctx, c.ID, l.ID, "s"); !errors.Is(err, onboarding.ErrLinkNotActive) {
			t.Fatalf("got %v, want ErrLinkNotActive", err)
		}
		after, _ := e.db.SetupLinkByID(ctx, l.ID)
		if after.Status != kirim.LinkConsumed {
			t.Fatalf("the mirror was not refreshed: %s", after.Status)
		}
	})

	t.Run("another customer's link is not found", func(t *testing.T) {
		other, _ := e.svc.CreateCustomer(ctx, onboarding.CustomerInput{Name: "Other"}, "intent-links-0000000002", "s")
		if err := e.svc.RevokeLink(ctx, other.ID, l.ID, "s"); !errors.Is(err, onboarding.ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("archive revokes the active links", func(t *testing.T) {
		l2, _ := e.svc.IssueLink(ctx, c.ID, 24, "s")
		if err := e.svc.Archive(ctx, c.ID, "s"); err != nil {
			t.Fatal(err)
		}
		after, _ := e.db.SetupLinkByID(ctx, l2.ID)
		got, _ := e.db.CustomerByID(ctx, c.ID)
		if after.Status != kirim.LinkRevoked || got.Status != kirim.CustomerArchived || got.ArchivedAt == nil {
			t.Fatalf("after archive: link %s, customer %s", after.Status, got.Status)
		}
		if _, err := e.svc.IssueLink(ctx, c.ID, 24, "s"); !errors.Is(err, onboarding.ErrArchived) {
			t.Fatalf("link for an archived customer: %v", err)
		}
	})
}

func TestSuspendUnsuspend(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c, _ := e.svc.CreateCustomer(ctx, onboarding.CustomerInput{Name: "Pause"}, "intent-pause-00000000001", "s")
	if err := e.svc.Suspend(ctx, c.ID, "s"); err != nil {
		t.Fatal(err)
	}
	remote, _ := e.kc.GetCustomer(ctx, c.KirimID)
	if remote.Status != kirim.CustomerSuspended {
		t.Fatalf("Kirim says %s", remote.Status)
	}
	if err := e.svc.Unsuspend(ctx, c.ID, "s"); err != nil {
		t.Fatal(err)
	}
	got, _ := e.db.CustomerByID(ctx, c.ID)
	if got.Status != kirim.CustomerPending {
		t.Fatalf("unsuspended a customer without numbers to %s, want pending", got.Status)
	}
}

// TestReconcile10k: 10,000 customers in Kirim, under Kirim's default rate limits
// (600 reads and 60 writes a minute, enforced by the sandbox) with the client's own
// pacing on. The reconciliation must fit: a page of 100 per call, one call for the
// archived ones (which Kirim may leave out), one for all accounts, no 429. Run with -v
// to see the calls and the time.
func TestReconcile10k(t *testing.T) {
	ctx := context.Background()
	master, _ := secret.ParseKey(secret.GenerateKey())
	keys, _ := secret.NewKeyring(master)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "portal.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sb, _ := sandbox.New(sandbox.Options{APIKey: "k", ReadsPerMinute: 600, WritesPerMinute: 60})
	srv := httptest.NewServer(sb)
	defer func() { srv.Close(); sb.Close() }()
	sb.SeedCustomers(10_000, "Seeded Store")
	kc, _ := kirim.New(srv.URL+"/v1", "k", kirim.WithRetries(0, 0)) // default pacing; a 429 would fail
	jc, _ := openJobs(t, db)
	svc := onboarding.New(onboarding.Deps{DB: db, Kirim: kc, PublicURL: "https://portal.example.com", Jobs: jc})
	sb.ResetCalls()
	start := time.Now()
	rep, err := svc.Reconcile(ctx)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	calls := sb.Calls()
	total := 0
	for k, n := range calls {
		if k != "429" {
			total += n
		}
	}
	t.Logf("reconciled %d customers in %v with %d API calls: %v", rep.Customers, elapsed.Round(time.Millisecond), total, calls)
	if rep.Customers != 10_000 || rep.CustomersChanged != 10_000 {
		t.Fatalf("report %+v", rep)
	}
	if calls["GET /v1/customers"] != 101 || calls["GET /v1/accounts"] != 1 || calls["429"] != 0 || total != 102 {
		t.Fatalf("calls %v, want 100 pages of customers, 1 of archived customers, 1 of accounts, no 429", calls)
	}
	counts, _ := db.CountCustomers(ctx)
	if counts.All != 10_000 {
		t.Fatalf("%d customers mirrored", counts.All)
	}
	// A second run finds nothing to change.
	rep, err = svc.Reconcile(ctx)
	if err != nil || rep.CustomersChanged != 0 {
		t.Fatalf("second run: %+v %v", rep, err)
	}
}

func TestRegisterWebhookSealsTheSecret(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// Kirim accepts only https endpoints; the portal here says it is at https://portal.example.com.
	if err := e.svc.RegisterWebhook(ctx, "staff"); err != nil {
		t.Fatal(err)
	}
	w, err := e.db.Webhook(ctx)
	if err != nil || !strings.HasPrefix(w.Current().ID, "wbs_") || w.Current().URL != "https://portal.example.com/webhooks/kirim" {
		t.Fatalf("settings %+v %v", w, err)
	}
	secrets, err := e.db.WebhookSecrets(ctx)
	if err != nil || len(secrets) != 1 || !strings.HasPrefix(secrets[0], "whsec_") {
		t.Fatalf("secrets %v %v", secrets, err)
	}
	for _, s := range w.Current().SealedSecrets {
		if strings.Contains(s, "whsec_") {
			t.Fatal("the webhook secret is stored in plaintext")
		}
	}
}

// TestRegisterWebhookAfterLostAnswers: answers to the registration get lost (Kirim made
// the subscription each time), staff try again: Kirim holds one subscription, and every
// delivery it signs passes the portal's check. A later registration for another URL
// replaces it and deletes the old one; a Kirim that cannot delete leaves it, and the
// portal keeps accepting its deliveries.
func TestRegisterWebhookAfterLostAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		variant  sandbox.Variant
		wantSubs int
	}{{"delete works", sandbox.Variant{}, 1}, {"no delete", sandbox.Variant{NoSubscriptionDelete: true}, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, tc.variant)
			e.lostAnswers(func(r *http.Request) bool {
				return r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/webhook_subscriptions")
			})
			for range 2 {
				if err := e.svc.RegisterWebhook(ctx, "staff"); !kirim.OutcomeUnknown(err) {
					t.Fatalf("with the answers lost: %v", err)
				}
			}
			e.setFault(nil)
			if err := e.svc.RegisterWebhook(ctx, "staff"); err != nil {
				t.Fatal(err)
			}
			subs := e.sb.Subscriptions()
			if len(subs) != 1 {
				t.Fatalf("Kirim holds %d subscriptions, want 1", len(subs))
			}
			checkDeliveries(t, e, "the first subscription")

			// The portal moves: a new URL replaces the subscription.
			moved := e.service("https://onboard.example.com")
			if err := moved.RegisterWebhook(ctx, "staff"); err != nil {
				t.Fatal(err)
			}
			if subs := e.sb.Subscriptions(); len(subs) != tc.wantSubs || subs[len(subs)-1].URL != "https://onboard.example.com/webhooks/kirim" {
				t.Fatalf("Kirim holds %+v", subs)
			}
			w, _ := e.db.Webhook(ctx)
			if w.Current().URL != "https://onboard.example.com/webhooks/kirim" || len(w.Replaced()) != tc.wantSubs-1 {
				t.Fatalf("settings %+v", w)
			}
			if tc.wantSubs == 2 && !strings.Contains(w.Replaced()[0].DeleteError, "404") {
				t.Fatalf("the kept subscription does not say why: %+v", w.Replaced()[0])
			}
			checkDeliveries(t, e, "after the move")
		})
	}
}

// checkDeliveries signs an event the way Kirim does for each subscription it holds and
// checks the portal accepts every one.
func checkDeliveries(t *testing.T, e *env, when string) {
	t.Helper()
	secrets, err := e.db.WebhookSecrets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"evt_1","type":"customer.updated","data":{}}`)
	for _, sub := range e.sb.SubscriptionSecrets() {
		h := http.Header{"X-Kirim-Signature": {kirim.SignWebhook(time.Now(), body, sub...)}}
		if err := kirim.VerifyWebhook(h, body, secrets, time.Now(), kirim.WebhookTolerance); err != nil {
			t.Fatalf("%s: a delivery Kirim signs fails the portal's check: %v", when, err)
		}
	}
}

// testRenderer renders emails plainly (web renders them with the templ views).
type testRenderer struct{}

func (testRenderer) SetupEmail(_ context.Context, e onboarding.SetupEmail) (subject, html, text string, err error) {
	return "Connect " + e.Customer, "<a href=\"" + e.LandingURL + "\">Connect</a>", "Connect: " + e.LandingURL, nil
}

func (testRenderer) ReminderEmail(_ context.Context, e onboarding.ReminderEmail) (subject, html, text string, err error) {
	return "Reminder " + e.Kind, "<a href=\"" + e.LandingURL + "\">Connect</a>", "Connect: " + e.LandingURL, nil
}

func (testRenderer) StaffMessage(_ context.Context, m onboarding.StaffMessage) (html, text string, err error) {
	return "<p>" + m.Lead + "</p>", m.Lead, nil
}

// TestReportUnsettled: at start, requests whose answer never came are logged while
// Kirim still remembers their key (sending the form again settles them), and closed
// as failed, with what that means, once it no longer does.
func TestReportUnsettled(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.db.Now = func() time.Time { return time.Now().Add(-25 * time.Hour) }
	e.db.BeginIntent(ctx, "customer.create", "customer.create:old-form-key", "cus-old", `{"name":"Old"}`)
	e.db.Now = time.Now
	e.db.BeginIntent(ctx, "customer.create", "customer.create:new-form-key", "cus-new", `{"name":"New"}`)
	var logs strings.Builder
	svc := onboarding.New(onboarding.Deps{DB: e.db, Kirim: e.kc, PublicURL: "https://portal.example.com",
		Log: slog.New(slog.NewTextHandler(&logs, nil)), Jobs: e.jobs})
	if err := svc.ReportUnsettled(ctx); err != nil {
		t.Fatal(err)
	}
	old, _ := e.db.IntentByKey(ctx, "cus-old")
	young, _ := e.db.IntentByKey(ctx, "cus-new")
	if old.State != store.IntentFailed || !strings.Contains(old.LastError, "reconciliation has brought it in") {
		t.Fatalf("the day-old intent: %+v", old)
	}
	if young.State != store.IntentPending || !strings.Contains(logs.String(), "no known outcome yet") {
		t.Fatalf("the young intent: %+v; log: %s", young, logs.String())
	}
}
