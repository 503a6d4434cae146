package web

import (
	"sync"
	"time"
)

// Sign-in throttling: per client IP and per email (known or not, so that the answer
// never tells whether an account exists). Accounts are also locked in the database, so
// the lock survives a restart.
const (
	maxFailuresPerEmail = 5
	maxFailuresPerIP    = 20
	failureWindow       = 15 * time.Minute
)

// loginGuard counts recent sign-in failures per key.
type loginGuard struct {
	mu       sync.Mutex
	failures map[string][]time.Time
}

func newLoginGuard() *loginGuard { return &loginGuard{failures: map[string][]time.Time{}} }

func (g *loginGuard) recent(key string, now time.Time) []time.Time {
	kept := g.failures[key][:0]
	for _, t := range g.failures[key] {
		if now.Sub(t) < failureWindow {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(g.failures, key)
		return nil
	}
	g.failures[key] = kept
	return kept
}

// blocked reports whether either key has too many recent failures.
func (g *loginGuard) blocked(ip, email string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.recent("ip:"+ip, now)) >= maxFailuresPerIP || len(g.recent("email:"+email, now)) >= maxFailuresPerEmail
}

func (g *loginGuard) fail(ip, email string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.failures) > 100_000 { // bound memory under a spray of addresses
		g.failures = map[string][]time.Time{}
	}
	for _, k := range []string{"ip:" + ip, "email:" + email} {
		g.failures[k] = append(g.recent(k, now), now)
	}
}

func (g *loginGuard) succeed(email string) {
	g.mu.Lock()
	delete(g.failures, "email:"+email)
	g.mu.Unlock()
}

// firstRun holds the one-time setup token while no staff user exists.
type firstRun struct {
	mu   sync.Mutex
	hash []byte
}
