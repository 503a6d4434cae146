package e2e

// Faults done for real to the built portal: kill -9 while it sends email, while it
// reconciles and while it syncs every number's templates, then a restart; the outcome is counted where it lands (Mailpit, the
// Kirim sandbox, the database).

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/sandbox"
	"github.com/kirim-portal/portal/mail/mailtest"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// dotProxy stands between the portal and the SMTP server and can hold each message
// just before the "." that ends its DATA: until then the server has not accepted it.
type dotProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	allow  int  // messages still let through while holding
	hold   bool // hold every further message at its final dot
	held   int  // messages waiting at their final dot
	open   chan struct{}
}

func startDotProxy(t *testing.T, target string) *dotProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dotProxy{ln: ln, target: target, open: make(chan struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return p
}

// holdAfter lets n more messages through, then holds the others at their final dot.
func (p *dotProxy) holdAfter(n int) {
	p.mu.Lock()
	p.allow, p.hold = n, true
	p.mu.Unlock()
}

// release lets every message through from now on.
func (p *dotProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hold {
		p.hold = false
		close(p.open)
	}
}

func (p *dotProxy) heldNow() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

func (p *dotProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() { io.Copy(client, server); client.Close() }()
	end := []byte("\r\n.\r\n")
	var out []byte
	inData := false
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if err != nil {
			return
		}
		out = append(out, buf[:n]...)
		for len(out) > 0 {
			if !inData {
				// Commands go through a line at a time; DATA starts the message.
				i := bytes.Index(out, []byte("\r\n"))
				if i < 0 {
					break
				}
				line := out[:i+2]
				if _, err := server.Write(line); err != nil {
					return
				}
				inData = bytes.EqualFold(bytes.TrimSpace(line), []byte("DATA"))
				out = out[i+2:]
				continue
			}
			i := bytes.Index(out, end)
			if i < 0 {
				// Keep a tail that may be the start of the end marker.
				keep := 0
				for k := min(len(end)-1, len(out)); k > 0; k-- {
					if bytes.HasSuffix(out, end[:k]) {
						keep = k
						break
					}
				}
				if _, err := server.Write(out[:len(out)-keep]); err != nil {
					return
				}
				out = append([]byte(nil), out[len(out)-keep:]...)
				break
			}
			// The message up to the line break before its dot goes on; the dot waits.
			if _, err := server.Write(out[:i+2]); err != nil {
				return
			}
			if !p.pass(client) {
				return
			}
			if _, err := server.Write(end[2:]); err != nil {
				return
			}
			out, inData = out[i+len(end):], false
		}
	}
}

// pass decides about a message at its final dot: let it through, or hold it until
// release (false: the client went away meanwhile).
func (p *dotProxy) pass(client net.Conn) bool {
	p.mu.Lock()
	if !p.hold || p.allow > 0 {
		if p.hold {
			p.allow--
		}
		p.mu.Unlock()
		return true
	}
	p.held++
	open := p.open
	p.mu.Unlock()
	gone := make(chan struct{})
	go func() { // a read returns when the client dies
		client.SetReadDeadline(time.Time{})
		var b [1]byte
		client.Read(b[:])
		close(gone)
	}()
	ok := false
	select {
	case <-open:
		ok = true
	case <-gone:
	}
	p.mu.Lock()
	p.held--
	p.mu.Unlock()
	return ok
}

// releaseAfterKill lets messages through once every held one has seen its client die
// (so that none of them goes on to the server).
func (p *dotProxy) releaseAfterKill(t *testing.T) {
	waitUntil(t, "the held messages' client gone", func() bool { return p.heldNow() == 0 })
	p.release()
}

// countIn reads one number from the database in dir, beside the running portal (-1
// when it cannot).
func countIn(dir, q string) int {
	db, err := store.Open(context.Background(), filepath.Join(dir, "portal.db"), nil)
	if err != nil {
		return -1
	}
	defer db.Close()
	var v int
	if err := db.SQL().QueryRow(q).Scan(&v); err != nil {
		return -1
	}
	return v
}

// waitUntil polls cond for up to a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting: %s", what)
}

// TestKillDuringEmailSending: forty emails in the outbox; the portal is killed (-9)
// with ten sent and others mid-session (DATA written, the final dot not yet); after a
// restart every email arrives exactly once.
func TestKillDuringEmailSending(t *testing.T) {
	mp := mailtest.Start(t)
	proxy := startDotProxy(t, mp.SMTPAddr)
	proxy.holdAfter(10)
	dir := t.TempDir()
	key := secret.GenerateKey()
	const n = 40
	seedOutbox(t, filepath.Join(dir, "portal.db"), key, n)

	addr, err := freeAddr()
	must(t, err)
	env := []string{"PORTAL_SECRET_KEY=" + key, "SMTP_URL=smtp://u:p@" + proxy.ln.Addr().String() + "?tls=none",
		"KIRIM_API_KEY=", "PORTAL_RECONCILE_INTERVAL=0"}
	logPath := filepath.Join(dir, "portal.log")
	p, err := runPortal(addr, dir, logPath, env...)
	must(t, err)
	defer func() {
		if t.Failed() {
			t.Log(p.log())
		}
	}()
	waitUntil(t, "ten emails sent and the next ones held at their final dot", func() bool {
		return len(mp.All()) >= 10 && proxy.heldNow() >= 1
	})
	p.kill()
	if got := len(mp.All()); got != 10 {
		t.Fatalf("%d emails arrived before the kill, want 10", got)
	}
	proxy.releaseAfterKill(t)

	p, err = runPortal(addr, dir, logPath, env...)
	must(t, err)
	defer p.stop()
	waitUntil(t, "every email sent", func() bool { return len(mp.All()) >= n && outboxDone(t, dir) })
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive now
	msgs := mp.All()
	ids := map[string]int{}
	for _, m := range msgs {
		ids[m.MessageID]++
	}
	if len(msgs) != n || len(ids) != n {
		t.Fatalf("%d messages in Mailpit with %d distinct Message-IDs, want %d and %d", len(msgs), len(ids), n, n)
	}
}

// seedOutbox queues n emails in a new database.
func seedOutbox(t *testing.T, path, key string, n int) {
	t.Helper()
	ctx := context.Background()
	master, _ := secret.ParseKey(key)
	keys, _ := secret.NewKeyring(master)
	db, err := store.Open(ctx, path, keys)
	must(t, err)
	defer db.Close()
	for i := range n {
		id := strconv.Itoa(i)
		if _, err := db.QueueEmail(ctx, store.Email{Kind: "test", From: "onboarding@platform.test", To: "c" + id + "@kill.test",
			Subject: "Email " + id, HTML: "<p>Email " + id + "</p>", Text: "Email " + id,
			MessageID: "<kill." + id + "@platform.test>"}, store.Event{Kind: store.EventEmailQueued}); err != nil {
			t.Fatal(err)
		}
	}
}

// outboxDone reads the portal's database (alongside the running portal) and reports
// whether every email is sent.
func outboxDone(t *testing.T, dir string) bool {
	db, err := store.Open(context.Background(), filepath.Join(dir, "portal.db"), nil)
	if err != nil {
		return false
	}
	defer db.Close()
	emails, err := db.Emails(context.Background(), 0, 1000)
	if err != nil {
		return false
	}
	for _, e := range emails {
		if e.Status != store.EmailSent {
			return false
		}
	}
	return true
}

// TestKillDuringReconciliation: Kirim holds 20,000 customers; the portal is killed (-9)
// while its first reconciliation has mirrored part of them; after a restart the mirror
// holds each exactly once, and Kirim still holds 20,000 (reconciling creates nothing).
func TestKillDuringReconciliation(t *testing.T) {
	const n = 20_000
	sbAddr, err := freeAddr()
	must(t, err)
	sb := exec.Command(portalBin, "sandbox", "--addr", sbAddr, "--api-key", "kdv_live_fault", "--seed", strconv.Itoa(n))
	must(t, sb.Start())
	t.Cleanup(func() { sb.Process.Signal(os.Interrupt); sb.Wait() })
	must(t, waitHealthy("http://"+sbAddr+"/v1/health"))
	addr, err := freeAddr()
	must(t, err)
	dir := t.TempDir()
	env := []string{"KIRIM_API_KEY=kdv_live_fault", "KIRIM_BASE_URL=http://" + sbAddr + "/v1"}
	logPath := filepath.Join(dir, "portal.log")
	p, err := runPortal(addr, dir, logPath, env...)
	must(t, err)
	mirrored := func() int {
		db, err := store.Open(context.Background(), filepath.Join(dir, "portal.db"), nil)
		if err != nil {
			return -1
		}
		defer db.Close()
		c, err := db.CountCustomers(context.Background())
		if err != nil {
			return -1
		}
		return c.All
	}
	waitUntil(t, "a part of the customers mirrored", func() bool { return mirrored() >= n/10 })
	p.kill()
	if got := mirrored(); got >= n {
		t.Fatalf("the reconciliation had finished (%d) before the kill: make it bigger", got)
	}
	p, err = runPortal(addr, dir, logPath, env...)
	must(t, err)
	defer p.stop()
	waitUntil(t, "every customer mirrored", func() bool { return mirrored() == n })
	kc, _ := kirim.New("http://"+sbAddr+"/v1", "kdv_live_fault", kirim.WithRateLimits(0, 0))
	remote := 0
	for _, err := range kc.AllCustomers(context.Background(), kirim.ListCustomersParams{Limit: 100}) {
		must(t, err)
		remote++
	}
	if remote != n {
		t.Fatalf("Kirim holds %d customers after the reconciliations, want %d", remote, n)
	}
	time.Sleep(time.Second)
	if got := mirrored(); got != n {
		t.Fatalf("the mirror holds %d customers, want %d", got, n)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	must(t, err)
	resp.Body.Close()
}

// TestKillDuringTemplateSyncAll: 300 connected numbers with two new templates each on
// Meta's side; staff press "Sync all templates" and the portal is killed (-9) part way.
// After a restart the run finishes by itself: every number holds its five templates,
// the run counts 300 done, one history row each, and Kirim was asked to sync each
// number under one Idempotency-Key: the jobs the kill interrupted (running, or done
// but not yet marked so) asked again as a replay, which Kirim answers from its cache.
func TestKillDuringTemplateSyncAll(t *testing.T) {
	const n = 300
	sb, err := sandbox.New(sandbox.Options{APIKey: "kdv_live_syncall", ReadsPerMinute: 60_000, WritesPerMinute: 60_000})
	must(t, err)
	defer sb.Close()
	sb.SeedConnected(n, "Synced Store")
	var slow atomic.Bool
	var mu sync.Mutex
	syncCalls := map[string][]string{} // phone_number_id → the Idempotency-Keys of its calls
	kirimSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := syncPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPost && slow.Load() {
			mu.Lock()
			syncCalls[m[1]] = append(syncCalls[m[1]], r.Header.Get("Idempotency-Key"))
			mu.Unlock()
			time.Sleep(80 * time.Millisecond) // Meta takes its time: the run lasts seconds
		}
		sb.ServeHTTP(w, r)
	}))
	defer kirimSrv.Close()

	addr, err := freeAddr()
	must(t, err)
	dir := t.TempDir()
	env := []string{"KIRIM_API_KEY=kdv_live_syncall", "KIRIM_BASE_URL=" + kirimSrv.URL + "/v1"}
	logPath := filepath.Join(dir, "portal.log")
	p, err := runPortal(addr, dir, logPath, env...)
	must(t, err)
	query := func(q string) int { return countIn(dir, q) }
	// The reconciliation at start mirrors the numbers and syncs each once.
	waitUntil(t, "every number mirrored and synced", func() bool {
		return query(`SELECT COUNT(*) FROM template_syncs WHERE finished_at IS NOT NULL AND error IS NULL`) == n
	})
	for _, id := range sb.PhoneNumberIDs() {
		sb.AddMetaTemplates(id, 2)
	}
	slow.Store(true)

	page := newPage(t)
	signInAt(t, page, "http://"+addr)
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sync all templates"}).Click())
	must(t, expect.Page(page).ToHaveURL("http://"+addr+"/admin/"))
	waitUntil(t, "a part of the run done", func() bool { return query(`SELECT done FROM sync_runs`) >= n/10 })
	p.kill()
	if done := query(`SELECT done FROM sync_runs`); done >= n {
		t.Fatalf("the run had finished (%d) before the kill: make it slower", done)
	}

	p, err = runPortal(addr, dir, logPath, env...)
	must(t, err)
	defer p.stop()
	waitUntil(t, "the run finished after the restart", func() bool {
		return query(`SELECT COUNT(*) FROM sync_runs WHERE finished_at IS NOT NULL`) == 1
	})
	if runs, done, failed := query(`SELECT COUNT(*) FROM sync_runs`), query(`SELECT done FROM sync_runs`), query(`SELECT failed FROM sync_runs`); runs != 1 || done != n || failed != 0 {
		t.Fatalf("%d runs, %d done, %d failed; want 1 run of %d done", runs, done, failed, n)
	}
	if rows := query(`SELECT COUNT(*) FROM template_syncs WHERE run_id IS NOT NULL`); rows != n {
		t.Fatalf("%d history rows for the run, want one per number (%d)", rows, n)
	}
	if short := query(`SELECT COUNT(*) FROM (SELECT account_id FROM templates GROUP BY account_id HAVING COUNT(*) != 5)`); short != 0 {
		t.Fatalf("%d numbers do not hold their five templates", short)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(syncCalls) != n {
		t.Fatalf("Kirim was asked to sync %d numbers, want %d", len(syncCalls), n)
	}
	again, total := 0, 0
	for id, keys := range syncCalls {
		total += len(keys)
		if len(keys) > 1 {
			again++
		}
		for _, k := range keys {
			if k == "" || k != keys[0] {
				t.Errorf("number %s synced under keys %q: a second sync, not a replay", id, keys)
				break
			}
		}
	}
	// Only the jobs the kill caught in flight (running, or finished but their
	// completion still in River's batch) are asked again: a few, not the run.
	if again > n/10 {
		t.Fatalf("%d numbers asked again after the restart", again)
	}
	t.Logf("%d sync calls for %d numbers; %d replayed after the kill", total, n, again)
}

var syncPath = regexp.MustCompile(`^/v1/(\d+)/templates/sync$`)
