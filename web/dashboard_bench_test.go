package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
)

// seedJourneys mirrors n customers created over the past year and writes ten events
// for each (a million at 100,000): emails, visits, clicks, and a connection or a
// failure, as customers on their way produce them.
func seedJourneys(tb testing.TB, db *store.DB, n int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	created := func(i int) time.Time { return now.Add(-time.Duration(i) * 365 * 24 * time.Hour / time.Duration(n)) }
	const batch = 5000
	for start := 0; start < n; start += batch {
		var ms []store.CustomerMirror
		for i := start; i < min(start+batch, n); i++ {
			ms = append(ms, store.CustomerMirror{KirimID: fmt.Sprintf("cus_%026d", i), Name: fmt.Sprintf("Toko Nomor %d Jaya", i),
				Status: "pending", CreatedAt: created(i), UpdatedAt: created(i)})
		}
		if _, err := db.ReconcileCustomers(ctx, ms, "seed"); err != nil {
			tb.Fatal(err)
		}
	}
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO events (customer_id, kind, detail, created_at)
		SELECT id, ?, ?, ? FROM customers WHERE kirim_id = ?`)
	if err != nil {
		tb.Fatal(err)
	}
	kinds := []store.EventKind{store.EventEmailQueued, store.EventEmailSent, store.EventLandingOpened, store.EventLandingOpened,
		store.EventLandingClicked, store.EventEmailQueued, store.EventEmailSent, store.EventLandingOpened, store.EventLandingClicked}
	for i := range n {
		at := created(i)
		for k, kind := range kinds {
			if _, err := ins.ExecContext(ctx, kind, nil, at.Add(time.Duration(k+1)*time.Hour).Format("2006-01-02T15:04:05.000000Z"), fmt.Sprintf("cus_%026d", i)); err != nil {
				tb.Fatal(err)
			}
		}
		last, detail := store.EventAccountConnected, any(nil)
		if i%3 == 0 {
			last, detail = store.EventSignupFailed, `{"reason":"signup_cancelled"}`
		}
		if _, err := ins.ExecContext(ctx, last, detail, at.Add(12*time.Hour).Format("2006-01-02T15:04:05.000000Z"), fmt.Sprintf("cus_%026d", i)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkDashboard measures the dashboard over HTTP at 1,000 customers (10,000
// events) and 100,000 customers (1,000,000 events) in the same run, for the default
// range (the last 30 days), this week and all time. The funnel, failures and times to
// connect are read from counters per creation day, so the large one should cost about
// the same.
//
//	go test ./web -run XXX -bench Dashboard -benchtime 200x
func BenchmarkDashboard(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		h := newHarness(b)
		seedJourneys(b, h.db, n)
		br := h.signedIn()
		for _, r := range []string{"30d", "week", "all"} {
			b.Run(fmt.Sprintf("%s/n=%d", r, n), func(b *testing.B) {
				for b.Loop() {
					req, _ := http.NewRequest("GET", h.URL+"/admin/?range="+r, nil)
					resp, err := br.c.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !strings.Contains(string(body), "Median time to connect: <strong>under 24 h") {
						b.Fatalf("%s: %d", r, resp.StatusCode)
					}
				}
			})
		}
	}
}
