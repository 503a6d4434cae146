package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"sync"
	"time"

	"github.com/kirim-portal/portal/store"
)

// Sign-in throttling: per client IP and per email (known or not, so that the answer
// never tells whether an account exists), kept in the database so that it survives a
// restart, and reserved before the password is checked so that many guesses at once
// cannot slip past the limit together.
const (
	maxFailuresPerEmail = 5
	maxFailuresPerIP    = 20
	failureWindow       = 15 * time.Minute
)

// Password checks are bounded: each argon2id check takes 64 MiB, so only hashSlots
// run at once, and a request waits at most hashWait for a slot before it is told the
// portal is busy (2 × 64 MiB keeps 200 sign-ins at once far under 400 MiB).
const (
	hashSlots = 2
	hashWait  = 3 * time.Second
)

// maxPasswordLen bounds what is hashed (a 4 MB "password" costs more to hash).
const maxPasswordLen = 1024

func emailScope(email string) string {
	sum := sha256.Sum256([]byte(email))
	return "email:" + hex.EncodeToString(sum[:16])
}

func loginLimits(ip, email string) []store.Limit {
	return []store.Limit{{Scope: emailScope(email), Max: maxFailuresPerEmail}, {Scope: "ip:" + ip, Max: maxFailuresPerIP}}
}

// hashGate bounds the password checks that run at once.
type hashGate struct{ slots chan struct{} }

func newHashGate(n int) *hashGate { return &hashGate{slots: make(chan struct{}, n)} }

// enter waits up to wait for a slot; false means the portal is too busy.
func (g *hashGate) enter(ctx context.Context, wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// leave frees the slot. A check leaves 64 MiB of garbage that the collector would pace
// itself on (letting the heap grow to twice that before collecting again, so that an
// export right after a sign-in holds 100 MiB more than it needs): the last check out
// has it collected.
func (g *hashGate) leave() {
	<-g.slots
	if len(g.slots) == 0 {
		go runtime.GC()
	}
}

// firstRun holds the one-time setup token while no staff user exists.
type firstRun struct {
	mu   sync.Mutex
	hash []byte
}
