package web

// Tests of what is exposed to attackers: sign-in under parallel guessing, client
// addresses behind proxies, secrets at rest and in logs, and the small holes a review
// found. Each failed before its fix.

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// postLogin signs in with a fresh browser and returns the status.
func (h *harness) postLogin(email, password string, header http.Header) int {
	b := h.browser()
	b.get("/login")
	form := url.Values{"email": {email}, "password": {password}, "_csrf": {b.csrf}}
	req, _ := http.NewRequest("POST", h.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, _ := b.do(req)
	return resp.StatusCode
}

// statuses counts the answers of n sign-ins at once.
func (h *harness) parallelLogins(n int, attempt func(i int) int) map[int]int {
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := attempt(i)
			mu.Lock()
			got[st]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return got
}

// TestParallelGuessesMeetTheLimit: thirty guesses at once for one account check at most
// five passwords; thirty accounts guessed at once from one address, at most twenty.
func TestParallelGuessesMeetTheLimit(t *testing.T) {
	h := newHarness(t)
	h.seedStaff("target@example.test")
	got := h.parallelLogins(30, func(int) int { return h.postLogin("target@example.test", "wrong guess", nil) })
	if got[http.StatusUnauthorized] != maxFailuresPerEmail || got[http.StatusTooManyRequests]+got[http.StatusServiceUnavailable] != 30-maxFailuresPerEmail {
		t.Fatalf("answers %v: want %d passwords checked, the rest refused", got, maxFailuresPerEmail)
	}
	// The right password, now, is refused too: the account's limit is used up.
	if st := h.postLogin("target@example.test", staffPassword, nil); st != http.StatusTooManyRequests {
		t.Fatalf("sign-in after the guesses: %d", st)
	}
	got = h.parallelLogins(30, func(i int) int { return h.postLogin("n"+itoa(int64(i))+"@example.test", "guess", nil) })
	if checked := got[http.StatusUnauthorized]; checked > maxFailuresPerIP-maxFailuresPerEmail {
		t.Fatalf("answers %v: more than %d checks from one address", got, maxFailuresPerIP)
	}
}

// TestClientIPBehindProxies: the client address is the right-most entry of
// X-Forwarded-For that is not a trusted proxy; what a client prepends changes nothing.
func TestClientIPBehindProxies(t *testing.T) {
	ps := parseProxies([]string{"10.0.0.0/8", "192.0.2.7"})
	addr := netip.MustParseAddr
	for _, tc := range []struct {
		name      string
		socket    string
		forwarded []string
		want      string
	}{
		{"no proxy in front", "203.0.113.5", []string{"1.1.1.1"}, "203.0.113.5"},
		{"one proxy", "10.0.0.2", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a prepended lie", "10.0.0.2", []string{"6.6.6.6, 203.0.113.9"}, "203.0.113.9"},
		{"two proxies", "10.0.0.2", []string{"198.51.100.4, 192.0.2.7"}, "198.51.100.4"},
		{"two header lines", "10.0.0.2", []string{"6.6.6.6", "198.51.100.4"}, "198.51.100.4"},
		{"no header", "10.0.0.2", nil, "10.0.0.2"},
		{"garbage at the end", "10.0.0.2", []string{"203.0.113.9, not-an-ip"}, "10.0.0.2"},
		{"only proxies", "10.0.0.2", []string{"10.1.1.1"}, "10.1.1.1"},
		{"IPv6", "10.0.0.2", []string{"2001:db8::1"}, "2001:db8::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fw [][]byte
			for _, f := range tc.forwarded {
				fw = append(fw, []byte(f))
			}
			if got := ps.clientIP(addr(tc.socket), fw); got.String() != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}

	// Behind a trusted proxy, a varying prefix does not get past the sign-in limit, and
	// the limit is per client, not shared by everyone behind the proxy.
	h := newHarness(t, withProxies("127.0.0.1"))
	for i := range maxFailuresPerIP {
		lie := http.Header{"X-Forwarded-For": {"6.6.6." + itoa(int64(i)) + ", 203.0.113.9"}}
		if st := h.postLogin("u"+itoa(int64(i))+"@example.test", "guess", lie); st != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, st)
		}
	}
	if st := h.postLogin("last@example.test", "guess", http.Header{"X-Forwarded-For": {"9.9.9.9, 203.0.113.9"}}); st != http.StatusTooManyRequests {
		t.Fatalf("the 21st attempt from 203.0.113.9: %d, want 429", st)
	}
	if st := h.postLogin("other@example.test", "guess", http.Header{"X-Forwarded-For": {"198.51.100.1"}}); st != http.StatusUnauthorized {
		t.Fatalf("another client behind the proxy: %d, want 401", st)
	}
	if !strings.Contains(h.logs.String(), "ip=203.0.113.9") || strings.Contains(h.logs.String(), "ip=6.6.6.") {
		t.Fatal("the access log does not name the real client")
	}
}

// TestNoSecretsAtRest: after a whole journey (the link emailed, the landing page, a
// failure, a success), no landing token, return key or setup URL is in the database
// file, its WAL, a backup, or the log.
func TestNoSecretsAtRest(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	staff.createCustomer(url.Values{"name": {"Secret Keeper"}, "email": {"owner@keeper.test"}, "send_email": {"1"}})
	c := must(h.db.Customers(ctx, store.CustomerFilter{})).Customers[0]
	l := h.newestLink(t, c.ID)
	token := must(h.db.LandingToken(ctx, l.ID))
	setupURL := must(h.db.SetupURL(ctx, l.ID))
	key := h.returnKey(t, c)
	visitor := h.browser()
	visitor.get("/onboard/" + token)
	visitor.get("/onboard/" + token + "/connect")
	visitor.get(h.signupVia(t, c.ID, "outcome=fail&reason=signup_cancelled"))
	visitor.get(h.signupVia(t, c.ID, "outcome=success"))
	h.srv.ob.Wait()
	if emails := must(h.db.Emails(ctx, c.ID, 10)); len(emails) != 1 || !strings.Contains(emails[0].Text, token) {
		t.Fatal("the email (opened with the key) does not carry the landing link")
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := h.db.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"landing token": token, "return key": key,
		"setup token": setupURL[strings.LastIndex(setupURL, "/")+1:], "setup URL": setupURL}
	files := map[string][]byte{"the log": []byte(h.logs.String())}
	for _, f := range []string{h.dbPath, h.dbPath + "-wal", backup} {
		files[filepath.Base(f)], _ = os.ReadFile(f)
	}
	if len(files["portal.db-wal"]) == 0 {
		t.Fatal("no WAL to look into")
	}
	for what, s := range secrets {
		for where, b := range files {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("the %s is in %s", what, where)
			}
		}
	}
}

// TestAdminPagesAreNotKept: admin pages are never cached, htmx keeps no history copy,
// and signing out clears what the browser kept.
func TestAdminPagesAreNotKept(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	resp, body := b.get("/admin/customers")
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	if !strings.Contains(body, `"historyCacheSize":0`) {
		t.Fatal("htmx keeps a history cache of admin pages in localStorage")
	}
	resp, _ = b.post("/logout", nil)
	if got := resp.Header.Get("Clear-Site-Data"); !strings.Contains(got, `"storage"`) || !strings.Contains(got, `"cache"`) {
		t.Fatalf("Clear-Site-Data %q", got)
	}
}

// TestConnectClickRecordedOnce: another site can make a browser fetch the connect URL
// (an <img>): the timeline records one click per window, not one per fetch.
func TestConnectClickRecordedOnce(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	c := h.newLinkedCustomer(t, staff, "Click Once")
	token := must(h.db.LandingToken(context.Background(), h.newestLink(t, c.ID).ID))
	for range 5 {
		if resp, _ := h.browser().get("/onboard/" + token + "/connect"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("connect: %d", resp.StatusCode)
		}
	}
	if n := count(h.events(c.ID), "landing.clicked"); n != 1 {
		t.Fatalf("%d clicks recorded, want 1", n)
	}
}

// TestBadInputIsRefusedInWords: a NUL byte in the search, a create form without its
// key, a sender name with a control character, a CSRF token in the query string.
func TestBadInputIsRefusedInWords(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	for _, q := range []string{"a\x00b", "\x00", "caf\xc3", strings.Repeat("é", 500)} {
		resp, _ := b.get("/admin/customers?q=" + url.QueryEscape(q))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("search %q: %d", q, resp.StatusCode)
		}
	}
	resp, body := b.post("/admin/customers", url.Values{"name": {"No Intent"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "reload the page") {
		t.Fatalf("create without its key: %d", resp.StatusCode)
	}
	if n, _ := h.db.CountCustomers(context.Background()); n.All != 0 {
		t.Fatal("a customer was created from a form without its key")
	}
	b.get("/admin/settings/branding")
	resp, body = b.post("/admin/settings/branding", url.Values{"product_name": {"Platform"}, "primary_color": {"#0B6E4F"},
		"accent_color": {"#0B6E4F"}, "sender_name": {"Platform\vTeam"}, "default_link_hours": {"168"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "without control characters") {
		t.Fatalf("a sender name with a vertical tab: %d", resp.StatusCode)
	}
	if strings.Contains(h.logs.String(), "level=ERROR") {
		t.Fatalf("bad input logged an error: %s", h.logs.String())
	}
	// The CSRF token from the query string is not taken.
	req, _ := http.NewRequest("POST", h.URL+"/admin/customers?_csrf="+url.QueryEscape(b.csrf), strings.NewReader("name=Via+Query"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := b.do(req); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("CSRF token in the query: %d, want 403", resp.StatusCode)
	}
}

// TestFirstRunLinkIsSingleUse: ten submissions of the setup link at once make one
// staff user.
func TestFirstRunLinkIsSingleUse(t *testing.T) {
	h := newHarness(t)
	path := strings.TrimPrefix(regexp.MustCompile(`setup_url=(\S+)`).FindStringSubmatch(h.logs.String())[1], h.URL)
	got := h.parallelLogins(10, func(i int) int {
		b := h.browser()
		b.get(path)
		pw := "a long first password"
		resp, _ := b.post(path, url.Values{"email": {"first" + itoa(int64(i)) + "@example.test"}, "password": {pw}, "confirm": {pw}})
		return resp.StatusCode
	})
	if n, _ := h.db.CountUsers(context.Background()); n != 1 || got[http.StatusSeeOther] != 1 {
		t.Fatalf("%d staff users, answers %v; want one user", n, got)
	}
}

// TestKirimSlowShowsTimeout: Kirim answering after 20 s; the page says so in words
// within the portal's deadline, and nothing is left running.
func TestKirimSlowShowsTimeout(t *testing.T) {
	h := newHarness(t, withKirimTimeout(time.Second))
	b := h.signedIn()
	release := make(chan struct{})
	h.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-time.After(20 * time.Second):
		case <-r.Context().Done():
		case <-release:
		}
		return false
	})
	start := time.Now()
	_, page := b.get("/admin/customers/new")
	form := url.Values{"intent": {regexpFind(t, page, `name="intent" value="([^"]+)"`)}, "name": {"Slow Kirim"}}
	resp, body := b.post("/admin/customers", form)
	took := time.Since(start)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, "did not answer within") || took > 10*time.Second {
		t.Fatalf("%d after %v: %s", resp.StatusCode, took, body)
	}
	c := h.mirroredCustomer(t)
	resp, _ = b.get("/admin/customers/" + itoa(c.ID))
	if resp.StatusCode != 200 {
		t.Fatalf("a page that needs no Kirim: %d", resp.StatusCode)
	}
	b.post("/admin/customers/"+itoa(c.ID)+"/accounts/refresh", nil)
	if _, body := b.get("/admin/customers/" + itoa(c.ID)); !strings.Contains(body, "did not answer within") {
		t.Fatalf("refresh: no timeout in words: %s", body)
	}
	close(release)
	h.setFault(nil)
	if n := waitingOnKirim(t); n > 0 {
		t.Fatalf("%d goroutines still waiting on Kirim", n)
	}
}

// mirroredCustomer mirrors a customer straight into the store (no Kirim call).
func (h *harness) mirroredCustomer(t *testing.T) *store.Customer {
	t.Helper()
	ctx := context.Background()
	const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	raw := []byte(secret.NewToken(20))
	for i := range raw {
		raw[i] = crockford[int(raw[i])%32]
	}
	id := "cus_01" + string(raw[:24])
	if _, err := h.db.ReconcileCustomers(ctx, []store.CustomerMirror{{KirimID: id, Name: "Quick", Status: kirim.CustomerPending}}, "test"); err != nil {
		t.Fatal(err)
	}
	return must(h.db.CustomerByKirimID(ctx, id))
}

// waitingOnKirim waits up to 5 s for no goroutine to be in the Kirim client or in the
// sandbox's handler, and returns how many still are.
func waitingOnKirim(t *testing.T) int {
	t.Helper()
	n := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		buf := make([]byte, 1<<22)
		buf = buf[:runtime.Stack(buf, true)]
		n = 0
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "portal/kirim.(*Client)") || strings.Contains(g, "(*kirimProxy).ServeHTTP") {
				n++
			}
		}
		if n == 0 {
			return 0
		}
	}
	return n
}
