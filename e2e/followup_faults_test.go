package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/mail/mailtest"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// alertReceiver is a team channel that answers the first few posts and then holds the
// rest unanswered until released; it counts the posts of each alert (by Idempotency-Key)
// and the ones it answered 200 to a portal still there to read the answer.
type alertReceiver struct {
	*httptest.Server
	mu        sync.Mutex
	allow     int
	hold      bool
	held      int
	cutOff    int // posts whose portal went away before their answer
	posts     map[string]int
	delivered map[string]int
	open      chan struct{}
}

func startAlertReceiver(t *testing.T, allow int) *alertReceiver {
	return startHoldingReceiver(t, allow, "Idempotency-Key")
}

// startHoldingReceiver is an alertReceiver that tells posts apart by another header
// (webhook-id for the platform's webhooks).
func startHoldingReceiver(t *testing.T, allow int, keyHeader string) *alertReceiver {
	r := &alertReceiver{allow: allow, hold: true, posts: map[string]int{}, delivered: map[string]int{}, open: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		key := req.Header.Get(keyHeader)
		io.Copy(io.Discard, req.Body) // read whole, the server notices a client that goes away
		r.mu.Lock()
		r.posts[key]++
		wait := r.hold && r.allow == 0
		if r.allow > 0 {
			r.allow--
		}
		if wait {
			r.held++
		}
		r.mu.Unlock()
		if wait {
			select {
			case <-r.open:
			case <-req.Context().Done():
			}
			r.mu.Lock()
			r.held--
			r.mu.Unlock()
		}
		if req.Context().Err() != nil { // the portal is gone: it never learns this post arrived
			r.mu.Lock()
			r.cutOff++
			r.mu.Unlock()
			return
		}
		w.WriteHeader(http.StatusOK)
		r.mu.Lock()
		r.delivered[key]++
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *alertReceiver) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold {
		r.hold = false
		close(r.open)
	}
}

func (r *alertReceiver) counts() (posts, delivered, held int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.posts {
		posts += n
	}
	for _, n := range r.delivered {
		delivered += n
	}
	return posts, delivered, r.held
}

// TestKillDuringRemindersAndAlerts: 30 customers emailed three days ago never opened
// their link, and 30 alerts (failed signups) wait for a staff user who asked for alert
// emails and for the team channel. The portal is killed (-9) with reminders and alert
// emails part sent (the next ones held at their final dot) and team-channel posts
// waiting for their answer; after a restart every reminder and every alert email is in
// Mailpit exactly once, and the channel acknowledged each alert exactly once (the posts
// the kill cut off were made again under the same Idempotency-Key).
func TestKillDuringRemindersAndAlerts(t *testing.T) {
	const n = 30
	mp := mailtest.Start(t)
	proxy := startDotProxy(t, mp.SMTPAddr)
	proxy.holdAfter(15)
	channel := startAlertReceiver(t, 5)
	dir := t.TempDir()
	key := secret.GenerateKey()
	seedFollowUpsAndAlerts(t, filepath.Join(dir, "portal.db"), key, n)

	addr, err := freeAddr()
	must(t, err)
	env := []string{"PORTAL_SECRET_KEY=" + key, "SMTP_URL=smtp://u:p@" + proxy.ln.Addr().String() + "?tls=none",
		"KIRIM_API_KEY=", "PORTAL_RECONCILE_INTERVAL=0", "PORTAL_ALERT_WEBHOOK_URL=" + channel.URL + "/hook"}
	logPath := filepath.Join(dir, "portal.log")
	p, err := runPortal(addr, dir, logPath, env...)
	must(t, err)
	defer func() {
		if t.Failed() {
			t.Log(p.log())
		}
	}()
	waitUntil(t, "emails and posts part done, the next ones held", func() bool {
		_, delivered, held := channel.counts()
		return len(mp.All()) >= 15 && proxy.heldNow() >= 1 && delivered >= 5 && held >= 1
	})
	p.kill()
	before := len(mp.All())
	waitUntil(t, "the channel sees the held posts' portal gone", func() bool { _, _, held := channel.counts(); return held == 0 })
	proxy.releaseAfterKill(t)
	channel.release()

	p, err = runPortal(addr, dir, logPath, env...)
	must(t, err)
	defer p.stop()
	query := func(q string) int { return countIn(dir, q) }
	waitUntil(t, "every reminder and alert out", func() bool {
		return len(mp.All()) >= 2*n && outboxDone(t, dir) &&
			query(`SELECT COUNT(*) FROM alerts WHERE webhook_state = 'sent'`) == n
	})
	time.Sleep(time.Second) // a duplicate would arrive now
	reminders, alerts := map[string]int{}, map[string]int{}
	for _, m := range mp.All() {
		switch id := strings.TrimPrefix(m.MessageID, "<"); {
		case strings.HasPrefix(id, "reminder."):
			reminders[m.To[0].Address]++
		case strings.HasPrefix(id, "alert."):
			alerts[id]++
		default:
			t.Errorf("unexpected email %q to %s", m.Subject, m.To[0].Address)
		}
	}
	if len(reminders) != n || len(alerts) != n {
		t.Fatalf("Mailpit holds reminders to %d customers and %d alert emails, want %d and %d", len(reminders), len(alerts), n, n)
	}
	for to, c := range reminders {
		if c != 1 {
			t.Errorf("%s got %d reminders, want 1", to, c)
		}
	}
	for id, c := range alerts {
		if c != 1 {
			t.Errorf("alert email %s arrived %d times", id, c)
		}
	}
	if got := query(`SELECT COUNT(*) FROM follow_ups WHERE reminders_sent = 1 AND unopened_sent_at IS NOT NULL`); got != n {
		t.Errorf("%d follow-ups record their one reminder, want %d", got, n)
	}
	channel.mu.Lock()
	defer channel.mu.Unlock()
	if len(channel.delivered) != n {
		t.Fatalf("the channel acknowledged %d alerts, want %d", len(channel.delivered), n)
	}
	again := 0
	for k, c := range channel.delivered {
		if c != 1 || !strings.HasPrefix(k, "portal-alert-") {
			t.Errorf("alert %q acknowledged %d times", k, c)
		}
		again += channel.posts[k] - 1
	}
	// Only the posts cut off before their answer (by the kill, or by the portal's own
	// timeout while the channel held them) were made again.
	if again != channel.cutOff || again == 0 {
		t.Fatalf("%d posts made again; %d were cut off before their answer", again, channel.cutOff)
	}
	t.Logf("%d emails before the kill; %d posts cut off and made again under their key", before, again)
}

// seedFollowUpsAndAlerts writes a new database as three days of a portal's life would:
// a staff user who asked for alert emails, a sending window all day, and n customers
// emailed a link three days ago (their reminder is due) with an alert each, its
// delivery waiting as a job.
func seedFollowUpsAndAlerts(t *testing.T, path, key string, n int) {
	t.Helper()
	ctx := context.Background()
	master, _ := secret.ParseKey(key)
	keys, _ := secret.NewKeyring(master)
	db, err := store.Open(ctx, path, keys)
	must(t, err)
	defer db.Close()
	must(t, jobs.Migrate(ctx, db.SQL()))
	engine, err := river.NewClient(riversqlite.New(db.SQL()), &river.Config{})
	must(t, err)

	now := time.Now()
	db.Now = func() time.Time { return now.Add(-72 * time.Hour) }
	u, err := db.CreateUser(ctx, staffEmail, secret.HashPassword(staffPassword))
	must(t, err)
	must(t, db.SaveUserPrefs(ctx, u.ID, store.UserPrefs{AlertEmail: true}))
	policy := store.DefaultFollowUpPolicy()
	policy.WindowStart, policy.WindowEnd, policy.FreshLinkOnExpiry = 0, 24, false
	must(t, db.InTx(ctx, func(tx *store.Tx) error {
		return tx.SaveFollowUpPolicy(ctx, policy, store.Event{Kind: store.EventFollowUpChanged, Actor: "seed"})
	}))
	for i := range n {
		id := fmt.Sprintf("%02d", i)
		c, err := db.CreateCustomer(ctx, store.CustomerMirror{KirimID: "cus_kill" + id, Name: "Toko Kill " + id,
			Email: "owner" + id + "@kill.test", Status: "active", TeamID: "team_1", CreatedAt: db.Now(), UpdatedAt: db.Now()},
			"en", "", store.Event{Kind: store.EventCustomerCreated, Actor: "seed"})
		must(t, err)
		l, err := db.CreateSetupLink(ctx, c.ID, store.NewSetupLink{KirimID: "sl_kill" + id, Status: "active", TokenLast4: "ab" + id,
			ExpiresAt: now.Add(5 * 24 * time.Hour), KirimCreatedAt: db.Now(), SetupURL: "https://kirim.test/setup/" + id,
			LandingToken: "landing-kill-" + id, ReturnKey: "return-kill-" + id}, store.Event{Kind: store.EventLinkIssued, Actor: "seed"})
		must(t, err)
		must(t, db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.AddEvent(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventEmailQueued, Actor: "seed",
				Detail: map[string]any{"to": c.Email, "link": l.KirimID}}); err != nil {
				return err
			}
			if err := tx.PlanFollowUp(ctx, c.ID, db.Now()); err != nil {
				return err
			}
			alert, err := tx.RaiseAlert(ctx, c.ID, onboarding.AlertSignupFailed, "Meta could not hand over access to the number.", true)
			if err != nil {
				return err
			}
			_, err = engine.InsertTx(ctx, tx.SQL(), onboarding.AlertArgs{AlertID: alert}, nil)
			return err
		}))
	}
}
