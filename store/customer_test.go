package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
)

// TestCustomerSearch checks what staff type into the search box finds what they mean,
// on both of the search's paths (rare and common text) and with pages.
func TestCustomerSearch(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ms []store.CustomerMirror
	for i := range 600 {
		email := fmt.Sprintf("owner%d@warung%d.test", i, i)
		status := "pending"
		if i%3 == 0 {
			status = "active"
		}
		ms = append(ms, store.CustomerMirror{KirimID: fmt.Sprintf("cus_%026d", i), Name: fmt.Sprintf("Warung Makan %d Sederhana", i),
			Email: email, Status: status, CreatedAt: base.Add(time.Duration(i) * time.Minute), UpdatedAt: base})
	}
	if _, err := db.ReconcileCustomers(ctx, ms, "seed"); err != nil {
		t.Fatal(err)
	}
	special, _ := db.CustomerByKirimID(ctx, fmt.Sprintf("cus_%026d", 42))
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, _, err := tx.MirrorAccount(ctx, store.AccountMirror{PhoneNumberID: "100000000000042", PhoneNumber: "+6281277776666",
			Status: "connected", KirimCustomerID: special.KirimID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	all := func(f store.CustomerFilter) []string {
		var names []string
		for {
			page, err := db.Customers(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page.Customers {
				names = append(names, c.Name)
			}
			if page.Next == "" {
				return names
			}
			f.After = page.Next
		}
	}
	for _, tc := range []struct {
		name   string
		filter store.CustomerFilter
		want   int
		first  string
	}{
		{"rare text in the name", store.CustomerFilter{Search: "Makan 421 Seder"}, 1, "Warung Makan 421 Sederhana"},
		{"any letter case", store.CustomerFilter{Search: "mAKAN 421"}, 1, "Warung Makan 421 Sederhana"},
		{"email", store.CustomerFilter{Search: "owner13@warung13"}, 1, "Warung Makan 13 Sederhana"},
		{"phone number", store.CustomerFilter{Search: "7777666"}, 1, "Warung Makan 42 Sederhana"},
		{"common text, paged", store.CustomerFilter{Search: "Sederhana", Limit: 25}, 600, "Warung Makan 599 Sederhana"},
		{"common text with a filter", store.CustomerFilter{Search: "Warung Makan", Status: "active", Limit: 50}, 200, "Warung Makan 597 Sederhana"},
		{"number shared by some", store.CustomerFilter{Search: "Makan 5"}, 111, "Warung Makan 599 Sederhana"},
		{"short text", store.CustomerFilter{Search: "42"}, 16, "Warung Makan 542 Sederhana"},
		{"nothing matches", store.CustomerFilter{Search: "Toko Roti"}, 0, ""},
		{"quotes are text", store.CustomerFilter{Search: `"Makan`}, 0, ""},
		{"no search", store.CustomerFilter{Limit: 100}, 600, "Warung Makan 599 Sederhana"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := all(tc.filter)
			if len(got) != tc.want || (tc.want > 0 && got[0] != tc.first) {
				first := ""
				if len(got) > 0 {
					first = got[0]
				}
				t.Fatalf("got %d, first %q; want %d, first %q", len(got), first, tc.want, tc.first)
			}
			seen := map[string]bool{}
			for _, n := range got {
				if seen[n] {
					t.Fatalf("%q listed twice across pages", n)
				}
				seen[n] = true
			}
		})
	}
	if _, err := db.Customers(ctx, store.CustomerFilter{After: "garbage"}); err == nil {
		t.Fatal("a mangled cursor was accepted")
	}
}
