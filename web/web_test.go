package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/static"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newTestServer(t *testing.T) (*Server, *store.DB, *syncBuffer) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	keys, _ := secret.NewKeyring(must(secret.ParseKey(secret.GenerateKey())))
	log := slog.New(slog.NewTextHandler(logs, nil))
	s := New(Config{PublicURL: "http://localhost:8080"}, Deps{DB: db, Assets: assets, Keys: keys, Log: log})
	return s, db, logs
}

func get(t *testing.T, app *fiber.App, path string) (*http.Response, string) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	s, _, _ := newTestServer(t)
	_, home := get(t, s.App(), "/")
	css := regexp.MustCompile(`/static/app\.[0-9a-f]{10}\.css`).FindString(home)
	if css == "" {
		t.Fatalf("home page links no hashed stylesheet: %s", home)
	}
	nonces := map[string]bool{}
	for _, path := range []string{"/", "/healthz", "/readyz", "/no-such-page", css} {
		t.Run(path, func(t *testing.T) {
			resp, _ := get(t, s.App(), path)
			csp := resp.Header.Get("Content-Security-Policy")
			nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)
			if nonce == nil || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Fatalf("CSP %q", csp)
			}
			nonces[nonce[1]] = true
			for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin", "X-Frame-Options": "DENY"} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
			if !strings.HasPrefix(resp.Header.Get("X-Request-Id"), "req_") {
				t.Errorf("no request id")
			}
		})
	}
	if len(nonces) != 5 {
		t.Fatalf("%d distinct nonces over 5 requests", len(nonces))
	}
}

func TestStaticAssets(t *testing.T) {
	s, _, _ := newTestServer(t)
	url := s.assets.URL("app.css")
	resp, body := get(t, s.App(), url)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, ":root") {
		t.Fatalf("%s: %d %v", url, resp.StatusCode, resp.Header)
	}
	if resp, _ := get(t, s.App(), "/static/app.0000000000.css"); resp.StatusCode != 404 {
		t.Fatalf("a stale hash answered %d, want 404", resp.StatusCode)
	}
}

func TestReadyz(t *testing.T) {
	s, db, _ := newTestServer(t)
	if resp, _ := get(t, s.App(), "/readyz"); resp.StatusCode != 200 {
		t.Fatalf("readyz %d", resp.StatusCode)
	}
	db.Close()
	if resp, _ := get(t, s.App(), "/readyz"); resp.StatusCode != 503 {
		t.Fatalf("readyz with the database closed: %d, want 503", resp.StatusCode)
	}
	if resp, _ := get(t, s.App(), "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz must not depend on the database: %d", resp.StatusCode)
	}
}

func TestAccessLogHidesTokens(t *testing.T) {
	s, _, logs := newTestServer(t)
	get(t, s.App(), "/onboard/LANDINGTOKENSECRET/go?account_id=QUERYSECRET")
	get(t, s.App(), "/sandbox/onboard/csl_SETUPTOKENSECRET?outcome=success")
	get(t, s.App(), "/onboard/r/RETURNKEYSECRET/failure?reason=x")
	get(t, s.App(), "/onboard/r/RETURNKEYSECRET2")
	get(t, s.App(), "/setup/FIRSTRUNSECRET")
	out := logs.String()
	for _, want := range []string{"path=/onboard/[token]/go", "path=/onboard/r/[key]/failure", "path=/setup/[token]"} {
		if !strings.Contains(out, want) {
			t.Fatalf("request not logged as %s: %s", want, out)
		}
	}
	for _, secret := range []string{"LANDINGTOKENSECRET", "QUERYSECRET", "SETUPTOKENSECRET", "RETURNKEYSECRET", "FIRSTRUNSECRET"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains %s: %s", secret, out)
		}
	}
}

func TestInternalErrorPage(t *testing.T) {
	s, _, logs := newTestServer(t)
	// The server's own middleware and error handler around a failing handler.
	app := fiber.New(fiber.Config{ErrorHandler: s.handleError})
	app.Use(s.requestID, s.accessLog, s.securityHeaders)
	app.Get("/boom", func(c *fiber.Ctx) error { return errors.New("database exploded at /var/lib/x") })
	resp, body := get(t, app, "/boom")
	if resp.StatusCode != 500 || strings.Contains(body, "exploded") || !strings.Contains(body, "Something went wrong") {
		t.Fatalf("%d: %s", resp.StatusCode, body)
	}
	rid := resp.Header.Get("X-Request-Id")
	if !strings.Contains(body, rid) {
		t.Fatalf("the page does not show the reference %s", rid)
	}
	if n := strings.Count(logs.String(), "database exploded"); n != 1 {
		t.Fatalf("internal error logged %d times, want once: %s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "request_id="+rid) {
		t.Fatal("the error log line lacks the request id")
	}
	// A 404 is not an internal error: no error log line.
	get(t, s.App(), "/nope")
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Fatalf("%d error lines after a 404, want still 1", n)
	}
}

func TestSessionCookieOptions(t *testing.T) {
	for _, secure := range []bool{false, true} {
		st := newSessionStore([][]byte{make([]byte, 64), make([]byte, 32)}, secure)
		o := st.Options
		if !o.HttpOnly || o.SameSite != http.SameSiteLaxMode || o.Secure != secure || o.MaxAge != int(sessionAbsolute/time.Second) {
			t.Fatalf("secure=%v: options %+v", secure, o)
		}
	}
}
