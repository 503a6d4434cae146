// Package web is the portal's HTTP face: one Fiber app, one route table, thin handlers
// and one error handler. The workflows live in onboarding/; the data in store/.
package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gorilla/sessions"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/static"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// Config is what the web layer needs to know about its deployment.
type Config struct {
	// PublicURL is where browsers reach the portal (links in emails, redirect URLs).
	PublicURL string
	// TrustedProxies are the proxies (IPs or CIDRs) whose X-Forwarded-For is believed.
	TrustedProxies []string
	// Sandbox, when set, is the built-in Kirim sandbox, mounted under /sandbox.
	Sandbox http.Handler
}

// Deps are the services the handlers use.
type Deps struct {
	DB         *store.DB
	Onboarding *onboarding.Service
	Assets     *static.Assets
	Keys       *secret.Keyring
	Log        *slog.Logger
}

// Server holds the dependencies of every handler.
type Server struct {
	cfg      Config
	db       *store.DB
	ob       *onboarding.Service
	assets   *static.Assets
	log      *slog.Logger
	sessions *sessions.CookieStore
	hashes   *hashGate
	setup    *firstRun
	proxies  proxies
	app      *fiber.App
	// apiLimiters are the API tokens' rate limits; apiKeys the Idempotency-Keys being
	// answered.
	apiLimiters apiLimiters
	apiKeys     sync.Map
}

// New builds the portal's Fiber app.
func New(cfg Config, d Deps) *Server {
	s := &Server{cfg: cfg, db: d.DB, ob: d.Onboarding, assets: d.Assets, log: d.Log,
		hashes: newHashGate(hashSlots), setup: &firstRun{}, proxies: parseProxies(cfg.TrustedProxies)}
	s.sessions = newSessionStore(d.Keys.SessionKeys(), s.secure())
	fc := fiber.Config{
		AppName:               "kirim-portal",
		DisableStartupMessage: true,
		// Values from the request outlive handlers (logs, goroutines): copy them.
		Immutable:    true,
		ReadTimeout:  15 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  90 * time.Second,
		BodyLimit:    6 << 20, // a 5 MB CSV import with its form
		ErrorHandler: s.handleError,
	}
	if len(cfg.TrustedProxies) > 0 {
		// Fiber then believes X-Forwarded-Proto/Host from these proxies only. The client
		// address is worked out by withClientIP: Fiber's c.IP() would return the raw
		// X-Forwarded-For list, which a client can prefix at will.
		fc.EnableTrustedProxyCheck = true
		fc.TrustedProxies = cfg.TrustedProxies
	}
	s.app = fiber.New(fc)
	s.routes()
	s.bootstrap(context.Background())
	return s
}

// App returns the Fiber app (tests drive it with app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for in-flight requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

// secure reports whether the portal is served over HTTPS (cookies get Secure).
func (s *Server) secure() bool { return strings.HasPrefix(s.cfg.PublicURL, "https://") }
