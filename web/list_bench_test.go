package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
)

// seedCustomers mirrors n customers with spread-out creation times, as the reconciler
// imports them.
func seedCustomers(tb testing.TB, db *store.DB, n int) {
	tb.Helper()
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []string{"pending", "active", "active", "suspended"}
	const batch = 5000
	for start := 0; start < n; start += batch {
		var ms []store.CustomerMirror
		for i := start; i < min(start+batch, n); i++ {
			email := fmt.Sprintf("owner%d@shop%d.test", i, i)
			ms = append(ms, store.CustomerMirror{KirimID: fmt.Sprintf("cus_%026d", i), Name: fmt.Sprintf("Toko Nomor %d Jaya", i),
				Email: email, Status: statuses[i%len(statuses)], TeamID: "team_1",
				CreatedAt: base.Add(time.Duration(i) * time.Second), UpdatedAt: base})
		}
		if _, err := db.ReconcileCustomers(ctx, ms, "seed"); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkCustomerList measures the customer list page over HTTP at 1,000 and 100,000
// customers in the same run: the first page, a search, and a page deep in the list.
// Compare the two sizes: keyset pages, the trigram index and trigger-kept counts are
// meant to make the large one cost about the same.
//
//	go test ./web -run XXX -bench CustomerList -benchtime 200x
func BenchmarkCustomerList(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		h := newHarness(b)
		seedCustomers(b, h.db, n)
		br := h.signedIn()
		mid, err := h.db.CustomerByKirimID(context.Background(), fmt.Sprintf("cus_%026d", n/2))
		if err != nil {
			b.Fatal(err)
		}
		pages := map[string]string{
			"first":    "/admin/customers",
			"search":   "/admin/customers?q=" + url.QueryEscape(fmt.Sprintf("Nomor %d Jaya", n-7)),
			"broad":    "/admin/customers?q=Jaya",
			"deep":     "/admin/customers?after=" + store.CustomerCursor(mid),
			"activity": "/admin/customers?sort=activity",
		}
		for _, name := range []string{"first", "search", "broad", "deep", "activity"} {
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				for b.Loop() {
					req, _ := http.NewRequest("GET", h.URL+pages[name], nil)
					resp, err := br.c.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !strings.Contains(string(body), "Toko Nomor") {
						b.Fatalf("%s: %d", name, resp.StatusCode)
					}
				}
			})
		}
	}
}
