package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/kirimtest"
	"github.com/kirim-portal/portal/kirim/sandbox"
	"github.com/kirim-portal/portal/mail"
	"github.com/kirim-portal/portal/mail/mailtest"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/static"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// harness is the real portal on a loopback port, with a real SQLite file and the Kirim
// sandbox behind a real HTTP server (its traffic checked against the contract).
type harness struct {
	t            testing.TB
	dbDir        string
	variant      sandbox.Variant
	proxies      []string
	kirimTimeout time.Duration
	returnGrace  time.Duration
	clock        *testClock
	mp           *mailtest.Mailpit
	URL          string
	db           *store.DB
	dbPath       string
	sb           *sandbox.Sandbox
	kirim        *httptest.Server
	srv          *Server
	logs         *syncBuffer
}

// kirimProxy lets a test put a fault between the portal and the sandbox.
type kirimProxy struct {
	sb    http.Handler
	fault atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

func (p *kirimProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f := p.fault.Load(); f != nil && (*f)(w, r) {
		return
	}
	p.sb.ServeHTTP(w, r)
}

// testClock is the one clock of the portal and the sandbox, so tests can let links expire.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// setClock sets the portal's and Kirim's clocks to at (they run on from there).
func (h *harness) setClock(at time.Time) {
	h.clock.mu.Lock()
	h.clock.offset = time.Until(at)
	h.clock.mu.Unlock()
}

// advance moves the portal's and Kirim's clocks forward.
func (h *harness) advance(d time.Duration) {
	h.clock.mu.Lock()
	h.clock.offset += d
	h.clock.mu.Unlock()
}

type harnessOption func(*harness)

// withMailpit sends email through a real SMTP server (Mailpit) instead of holding it.
func withMailpit(h *harness) { h.mp = mailtest.Start(h.t) }

// withDBDir keeps the database in dir (a small filesystem, say).
func withDBDir(dir string) harnessOption { return func(h *harness) { h.dbDir = dir } }

// withKirimTimeout bounds how long a page waits for Kirim.
func withKirimTimeout(d time.Duration) harnessOption { return func(h *harness) { h.kirimTimeout = d } }

// withProxies makes the portal trust these proxies' X-Forwarded-For.
func withProxies(list ...string) harnessOption { return func(h *harness) { h.proxies = list } }

// withVariant makes the sandbox take other legal choices where Kirim's docs are silent.
func withVariant(v sandbox.Variant) harnessOption { return func(h *harness) { h.variant = v } }

// withReturnGrace makes the look at an unconfirmed return come after d (default: not
// within a test).
func withReturnGrace(d time.Duration) harnessOption { return func(h *harness) { h.returnGrace = d } }

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, logs: &syncBuffer{}, clock: &testClock{}}
	for _, o := range opts {
		o(h)
	}
	ctx := context.Background()
	master := must(secret.ParseKey(secret.GenerateKey()))
	keys := must(secret.NewKeyring(master))
	if h.dbDir == "" {
		h.dbDir = t.TempDir()
	}
	h.dbPath = filepath.Join(h.dbDir, "portal.db")
	db, err := store.Open(ctx, h.dbPath, keys)
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
	db.Now = h.clock.Now
	sb, err := sandbox.New(sandbox.Options{APIKey: "kdv_live_test", Now: h.clock.Now, Variant: h.variant,
		WebhookRetryDelays: []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	h.sb = sb
	proxy := &kirimProxy{sb: sb}
	h.kirim = httptest.NewServer(proxy)
	hc, tr := kirimtest.NewClient(t)
	tr.SkipResponse = func(r *http.Response) bool { return r.Header.Get("X-Test-Fault") != "" }
	kopts := []kirim.Option{kirim.WithHTTPClient(hc), kirim.WithRateLimits(0, 0), kirim.WithRetries(1, 10*time.Millisecond)}
	if h.kirimTimeout > 0 {
		kopts = append(kopts, kirim.WithMaxElapsed(h.kirimTimeout))
	}
	kc := must(kirim.New(h.kirim.URL+"/v1", "kdv_live_test", kopts...))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.URL = "http://" + ln.Addr().String()
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	cfg := Config{PublicURL: h.URL, TrustedProxies: h.proxies}
	mcfg := onboarding.Mail{From: "Platform <onboarding@platform.test>", Renderer: EmailRenderer()}
	stopWorker := func() {}
	if h.mp != nil {
		smtp := must(mail.ParseURL(h.mp.URL()))
		w := &mail.Worker{DB: db, Sender: smtp, Log: log, Poll: 50 * time.Millisecond}
		mcfg.Wake = w.Wake
		wctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.Run(wctx); close(done) }()
		stopWorker = func() { cancel(); <-done }
	} else {
		mcfg.DevOutbox = true
	}
	jc, workers, err := jobs.Open(ctx, db.SQL(), jobs.Config{Poll: 50 * time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ob := onboarding.New(onboarding.Deps{DB: db, Kirim: kc, PublicURL: h.URL, Log: log, Mail: mcfg, Jobs: jc, Words: Words,
		ReturnGrace:   h.returnGrace,
		WebhookRetry:  50 * time.Millisecond,
		RecheckDelays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}})
	ob.RegisterWorkers(workers)
	if err := jc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.srv = New(cfg, Deps{DB: db, Onboarding: ob, Assets: must(static.Load()), Keys: keys, Log: log})
	go h.srv.Serve(ln)
	t.Cleanup(func() {
		h.srv.Shutdown(context.Background())
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		jc.Stop(sctx)
		cancel()
		stopWorker()
		h.kirim.Close()
		sb.Close()
		db.Close()
	})
	return h
}

// setFault makes Kirim misbehave until cleared with nil. A fault that answers must set
// the X-Test-Fault header (see faultStatus).
func (h *harness) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	p := h.kirim.Config.Handler.(*kirimProxy)
	if f == nil {
		p.fault.Store(nil)
		return
	}
	p.fault.Store(&f)
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	h    *harness
	c    *http.Client
	csrf string
	// email is the staff user signed in (signedIn).
	email string
}

func (h *harness) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{h: h, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.h.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := csrfField.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", b.h.URL+path, nil)
	return b.do(req)
}

// post submits a form with the CSRF token of the last page seen (unless the form sets
// its own _csrf).
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.h.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

const staffPassword = "a long staff password"

func (h *harness) seedStaff(email string) *store.User {
	h.t.Helper()
	u, err := h.db.CreateUser(context.Background(), email, secret.HashPassword(staffPassword))
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// signedIn returns a browser signed in as a fresh staff user.
func (h *harness) signedIn() *browser {
	h.t.Helper()
	email := "staff" + secret.NewToken(4) + "@example.test"
	h.seedStaff(email)
	b := h.browser()
	b.get("/login")
	resp, body := b.post("/login", url.Values{"email": {email}, "password": {staffPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	b.get("/admin/")
	b.email = email
	return b
}

// createCustomer submits the new-customer form and returns the customer page path.
func (b *browser) createCustomer(form url.Values) string {
	b.h.t.Helper()
	_, page := b.get("/admin/customers/new")
	intent := regexp.MustCompile(`name="intent" value="([^"]+)"`).FindStringSubmatch(page)
	if intent == nil {
		b.h.t.Fatal("the new-customer form has no intent key")
	}
	form.Set("intent", intent[1])
	resp, body := b.post("/admin/customers", form)
	if resp.StatusCode != http.StatusSeeOther {
		b.h.t.Fatalf("create customer: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// faultStatus is a fault that answers every request with status, as a broken proxy would.
func faultStatus(status int) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("X-Test-Fault", "1")
		w.WriteHeader(status)
		return true
	}
}

// upload posts a multipart form with one file and the CSRF token.
func (b *browser) upload(path, field, name string, data []byte) (*http.Response, string) {
	f := multipartFile(b.csrf, field, name, data)
	req, _ := http.NewRequest("POST", b.h.URL+path, f.body)
	req.Header.Set("Content-Type", f.contentType)
	return b.do(req)
}

// multipartBody is a form with one file and the CSRF token.
type multipartBody struct {
	body        *bytes.Reader
	contentType string
}

func multipartFile(csrf, field, name string, data []byte) multipartBody {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("_csrf", csrf)
	fw, _ := w.CreateFormFile(field, name)
	fw.Write(data)
	w.Close()
	return multipartBody{bytes.NewReader(buf.Bytes()), w.FormDataContentType()}
}

func regexpFind(t testing.TB, s, expr string) string {
	t.Helper()
	m := regexp.MustCompile(expr).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s not found", expr)
	}
	return m[1]
}
