package web

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

// concrete fills the route's parameters with ids that exist or not (it does not matter:
// the guard answers before the handler).
func concrete(path string) string {
	return regexp.MustCompile(`:[a-z]+(<[a-z]+>)?`).ReplaceAllString(path, "1")
}

// TestEveryAdminRouteIsGuarded walks the route table: without a session every admin
// route sends the browser to /login; with a session, every unsafe one refuses a
// missing or wrong CSRF token.
func TestEveryAdminRouteIsGuarded(t *testing.T) {
	h := newHarness(t)
	anon := h.browser()
	staff := h.signedIn()
	checked := 0
	for _, r := range h.srv.App().GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/admin") || r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		path := concrete(r.Path)
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			if r.Method == "GET" {
				resp, _ := anon.get(path)
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
					t.Fatalf("no session: %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
				}
				return
			}
			resp, _ := anon.post(path, url.Values{"_csrf": {""}})
			if resp.StatusCode != http.StatusForbidden && !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Fatalf("no session: %d", resp.StatusCode)
			}
			for name, token := range map[string][]string{"missing": nil, "wrong": {"forged-token"}} {
				form := url.Values{}
				if token != nil {
					form["_csrf"] = token
				} else {
					form["_csrf"] = []string{""}
				}
				resp, _ := staff.post(path, form)
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("%s CSRF token with a session: %d, want 403", name, resp.StatusCode)
				}
			}
		})
		checked++
	}
	if checked < 12 {
		t.Fatalf("only %d admin routes found", checked)
	}
	// Sign-in and sign-out forms are protected too.
	resp, _ := h.browser().post("/login", url.Values{"email": {"x@example.test"}, "password": {"y"}, "_csrf": {""}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without token: %d", resp.StatusCode)
	}
	// A cross-site form post is refused even with a token.
	req, _ := http.NewRequest("POST", h.URL+"/logout", strings.NewReader("_csrf="+staff.csrf))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, _ := staff.do(req); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin post: %d", resp.StatusCode)
	}
}

func TestSignInOut(t *testing.T) {
	h := newHarness(t)
	h.seedStaff("ops@example.test")
	b := h.browser()
	b.get("/login")
	resp, body := b.post("/login", url.Values{"email": {"ops@example.test"}, "password": {"wrong password"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Email or password is incorrect.") {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if !strings.Contains(body, `value="ops@example.test"`) {
		t.Fatal("the email typed was not kept")
	}
	resp, _ = b.post("/login", url.Values{"email": {"OPS@example.test"}, "password": {staffPassword}, "next": {"/admin/customers"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/customers" {
		t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookie := b.c.Jar.Cookies(mustURL(h.URL))
	var sessionCookie *http.Cookie
	for _, c := range cookie {
		if c.Name == sessionCookie0 {
			sessionCookie = c
		}
	}
	if sessionCookie == nil {
		t.Fatal("no session cookie")
	}
	resp, body = b.get("/admin/customers")
	if resp.StatusCode != 200 || !strings.Contains(body, "ops@example.test") {
		t.Fatalf("admin page: %d", resp.StatusCode)
	}
	t.Run("open redirect refused", func(t *testing.T) {
		if got := safeNext("//evil.example/admin/"); got != "/admin/" {
			t.Fatalf("got %q", got)
		}
		if got := safeNext("https://evil.example/"); got != "/admin/" {
			t.Fatalf("got %q", got)
		}
	})
	resp, _ = b.post("/logout", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	// The old cookie, replayed, no longer opens anything: the session version moved on.
	replay := h.browser()
	replay.c.Jar.SetCookies(mustURL(h.URL), []*http.Cookie{sessionCookie})
	if resp, _ := replay.get("/admin/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("old cookie after logout: %d, want redirect to /login", resp.StatusCode)
	}
	cookieHeader := resp.Header.Values("Set-Cookie")
	for _, c := range cookieHeader {
		if strings.HasPrefix(c, sessionCookie0) && (!strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax")) {
			t.Fatalf("session cookie without safe options: %s", c)
		}
	}
}

const sessionCookie0 = sessionCookie

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestPasswordChangeRevokesOtherSessions(t *testing.T) {
	h := newHarness(t)
	h.seedStaff("pw@example.test")
	a, other := h.browser(), h.browser()
	for _, b := range []*browser{a, other} {
		b.get("/login")
		b.post("/login", url.Values{"email": {"pw@example.test"}, "password": {staffPassword}})
	}
	a.get("/admin/account")
	resp, body := a.post("/admin/account/password", url.Values{"current": {"nope"}, "password": {"short"}, "confirm": {"short"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "not your current password") || !strings.Contains(body, "at least 12") {
		t.Fatalf("bad change: %d", resp.StatusCode)
	}
	resp, _ = a.post("/admin/account/password", url.Values{"current": {staffPassword}, "password": {"a brand new passphrase"}, "confirm": {"a brand new passphrase"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d", resp.StatusCode)
	}
	if resp, _ := a.get("/admin/"); resp.StatusCode != 200 {
		t.Fatalf("the browser that changed it was signed out: %d", resp.StatusCode)
	}
	if resp, _ := other.get("/admin/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another session survived the password change: %d", resp.StatusCode)
	}
}

// TestLoginThrottle: repeated failures lock sign-in, with the same answer whether the
// account exists or not.
func TestLoginThrottle(t *testing.T) {
	h := newHarness(t)
	h.seedStaff("locked@example.test")
	b := h.browser()
	b.get("/login")
	answers := map[string]string{}
	for _, email := range []string{"locked@example.test", "nobody@example.test"} {
		for i := range maxFailuresPerEmail {
			resp, body := b.post("/login", url.Values{"email": {email}, "password": {"guess"}})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s attempt %d: %d", email, i, resp.StatusCode)
			}
			answers[email] = strings.ReplaceAll(body, email, "EMAIL")
		}
		resp, body := b.post("/login", url.Values{"email": {email}, "password": {staffPassword}})
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many sign-in attempts") {
			t.Fatalf("%s after %d failures: %d", email, maxFailuresPerEmail, resp.StatusCode)
		}
	}
	strip := regexp.MustCompile(`value="[^"]{20,}"`)
	if strip.ReplaceAllString(answers["locked@example.test"], "") != strip.ReplaceAllString(answers["nobody@example.test"], "") {
		t.Fatal("a wrong password and an unknown account get different answers")
	}
	// One policy for both, kept in the database (a restart changes nothing), and it
	// decays: after the window both may try again, and the right password works.
	h.advance(failureWindow + time.Second)
	for _, email := range []string{"locked@example.test", "nobody@example.test"} {
		b := h.browser()
		b.get("/login")
		resp, _ := b.post("/login", url.Values{"email": {email}, "password": {staffPassword}})
		want := http.StatusUnauthorized
		if email == "locked@example.test" {
			want = http.StatusSeeOther
		}
		if resp.StatusCode != want {
			t.Fatalf("%s after the window: %d, want %d", email, resp.StatusCode, want)
		}
	}
}

func TestFirstRunSetupLink(t *testing.T) {
	h := newHarness(t)
	line := regexp.MustCompile(`setup_url=(\S+)`).FindStringSubmatch(h.logs.String())
	if line == nil {
		t.Fatalf("no setup link in the log: %s", h.logs.String())
	}
	path := strings.TrimPrefix(line[1], h.URL)
	b := h.browser()
	if resp, body := b.get("/login"); !strings.Contains(body, "No staff account exists yet") || resp.StatusCode != 200 {
		t.Fatal("the login page does not explain the first run")
	}
	if resp, _ := b.get("/setup/wrong-token"); resp.StatusCode != 404 {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	b.get(path)
	resp, _ := b.post(path, url.Values{"email": {"first@example.test"}, "password": {"a long first password"}, "confirm": {"a long first password"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setup: %d", resp.StatusCode)
	}
	if resp, _ := b.get("/admin/"); resp.StatusCode != 200 {
		t.Fatalf("not signed in after setup: %d", resp.StatusCode)
	}
	if resp, _ := h.browser().get(path); resp.StatusCode != 404 {
		t.Fatalf("the setup link works twice: %d", resp.StatusCode)
	}
}

func TestCustomerLifecycle(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	ctx := context.Background()

	t.Run("bad input shows field errors and keeps what was typed", func(t *testing.T) {
		_, page := b.get("/admin/customers/new")
		intent := regexp.MustCompile(`name="intent" value="([^"]+)"`).FindStringSubmatch(page)[1]
		resp, body := b.post("/admin/customers", url.Values{"intent": {intent}, "name": {"Toko Baik"}, "email": {"not-an-email"},
			"meta_key": {"", "plan"}, "meta_value": {"orphan", "gold"}})
		if resp.StatusCode != 422 || !strings.Contains(body, "Enter an email address") || !strings.Contains(body, "needs a key") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if !strings.Contains(body, `value="Toko Baik"`) || !strings.Contains(body, `value="gold"`) {
			t.Fatal("typed values lost")
		}
		if n, _ := h.db.CountCustomers(ctx); n.All != 0 {
			t.Fatal("a refused form created a customer")
		}
	})

	page := b.createCustomer(url.Values{"name": {"Toko   Maju"}, "email": {"owner@maju.test"}, "locale": {"id"},
		"meta_key": {"crm_id"}, "meta_value": {"42"}})
	resp, body := b.get(page)
	if resp.StatusCode != 200 || !strings.Contains(body, "Toko Maju") || !strings.Contains(body, "Customer Toko Maju created.") {
		t.Fatalf("customer page: %d", resp.StatusCode)
	}
	cu, err := h.db.Customers(ctx, store.CustomerFilter{})
	if err != nil || len(cu.Customers) != 1 || cu.Customers[0].Locale != "id" || cu.Customers[0].Metadata["crm_id"] != "42" {
		t.Fatalf("mirror: %+v %v", cu, err)
	}
	kc := cu.Customers[0]

	t.Run("generate a link", func(t *testing.T) {
		resp, _ := b.post(page+"/links", url.Values{"expires_in_hours": {"72"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("issue link: %d", resp.StatusCode)
		}
		_, body := b.get(page)
		landing := regexp.MustCompile(`id="landing-url" readonly value="([^"]+)"`).FindStringSubmatch(body)
		if landing == nil || !strings.HasPrefix(landing[1], h.URL+"/onboard/") {
			t.Fatalf("no landing link on the page")
		}
		links, _ := h.db.SetupLinks(ctx, kc.ID)
		setupURL, err := h.db.SetupURL(ctx, links[0].ID)
		if err != nil || !strings.Contains(setupURL, "/onboard/csl_") {
			t.Fatalf("setup url %q %v", setupURL, err)
		}
		// Neither the setup URL nor the landing token is in the database file.
		h.db.Close()
		raw, _ := os.ReadFile(h.dbPath)
		wal, _ := os.ReadFile(h.dbPath + "-wal")
		raw = append(raw, wal...)
		token := strings.TrimPrefix(landing[1], h.URL+"/onboard/")
		if bytes.Contains(raw, []byte(setupURL[strings.LastIndex(setupURL, "/")+1:])) || bytes.Contains(raw, []byte(token)) {
			t.Fatal("plaintext setup token or landing token in the database file")
		}
		db, err := store.Open(ctx, h.dbPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		h.db = db
	})
}

func TestEscapedEverywhere(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	evil := `<script>alert(1)</script>`
	page := b.createCustomer(url.Values{"name": {evil}, "email": {"x@evil.test"}, "meta_key": {`"><img src=x onerror=alert(2)>`}, "meta_value": {evil}})
	for _, path := range []string{page, page + "/edit", "/admin/customers", "/admin/customers?q=script", "/admin/"} {
		_, body := b.get(path)
		if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<img src=x") {
			t.Fatalf("%s renders the name unescaped", path)
		}
		if path != "/admin/" && !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatalf("%s does not show the escaped name", path)
		}
	}
}

// TestKirimOutageLeavesNothingHalfMade: Kirim down while creating a customer shows an
// error and writes no customer; Kirim doing the work but the answer getting lost, then
// a resubmission, gives exactly one customer.
func TestKirimOutageLeavesNothingHalfMade(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	ctx := context.Background()
	h.setFault(faultStatus(503))
	_, page := b.get("/admin/customers/new")
	intent := regexp.MustCompile(`name="intent" value="([^"]+)"`).FindStringSubmatch(page)[1]
	form := url.Values{"intent": {intent}, "name": {"Outage Store"}}
	resp, body := b.post("/admin/customers", form)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "cannot tell yet whether this went through") || !strings.Contains(body, `value="Outage Store"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if n, _ := h.db.CountCustomers(ctx); n.All != 0 {
		t.Fatal("a customer row exists after an outage")
	}

	// Kirim creates the customer but the answer is lost on the way back.
	dropped := false
	h.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == "POST" && !dropped {
			dropped = true
			h.sb.ServeHTTP(httptest.NewRecorder(), r)
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
			return true
		}
		return false
	})
	resp, body = b.post("/admin/customers", form)
	if resp.StatusCode != http.StatusSeeOther {
		// The client's own retry (same Idempotency-Key) got the replay: done already.
		if !strings.Contains(body, "cannot tell yet whether this went through") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		resp, _ = b.post("/admin/customers", form) // staff submit again
	}
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resubmission: %d", resp.StatusCode)
	}
	b.post("/admin/customers", form) // and once more, for good measure
	h.setFault(nil)
	if n, _ := h.db.CountCustomers(ctx); n.All != 1 {
		t.Fatalf("%d local customers, want 1", n.All)
	}
	c, _ := kirim.New(h.kirim.URL+"/v1", "kdv_live_test")
	remote, _ := c.ListCustomers(ctx, kirim.ListCustomersParams{})
	if len(remote.Data) != 1 {
		t.Fatalf("%d customers in Kirim, want 1", len(remote.Data))
	}
}

func TestEditSuspendArchive(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	ctx := context.Background()
	page := b.createCustomer(url.Values{"name": {"Before"}, "email": {"a@before.test"}, "meta_key": {"k"}, "meta_value": {"v"}})
	b.get(page + "/edit")
	resp, body := b.post(page, url.Values{"name": {""}, "email": {"a@before.test"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "Enter the customer") {
		t.Fatalf("empty name: %d", resp.StatusCode)
	}
	resp, _ = b.post(page, url.Values{"name": {"After"}, "email": {""}, "locale": {"id"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d", resp.StatusCode)
	}
	page0, _ := h.db.Customers(ctx, store.CustomerFilter{})
	c := page0.Customers[0]
	if c.Name != "After" || c.Email != "" || c.Locale != "id" || len(c.Metadata) != 0 {
		t.Fatalf("after edit: %+v", c)
	}
	kc, _ := kirim.New(h.kirim.URL+"/v1", "kdv_live_test")
	remote, _ := kc.GetCustomer(ctx, c.KirimID)
	if remote.Name != "After" || remote.Email != nil || remote.Metadata != nil {
		t.Fatalf("Kirim after edit: %+v", remote)
	}
	b.get(page)
	b.post(page+"/links", url.Values{"expires_in_hours": {"24"}})
	b.get(page)
	if resp, _ := b.post(page+"/archive", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("archive: %d", resp.StatusCode)
	}
	_, body = b.get(page)
	if !strings.Contains(body, "Customer archived.") || strings.Contains(body, "Generate link") || strings.Contains(body, ">Edit<") {
		t.Fatal("the archived customer's page still offers actions")
	}
	links, _ := h.db.SetupLinks(ctx, c.ID)
	if links[0].Status != kirim.LinkRevoked {
		t.Fatalf("link after archive: %s", links[0].Status)
	}
	// A forged suspend of an archived customer is refused with a message.
	b.post(page+"/suspend", nil)
	_, body = b.get(page)
	if !strings.Contains(body, "This customer is archived.") {
		t.Fatal("suspending an archived customer is not refused with a message")
	}
}
