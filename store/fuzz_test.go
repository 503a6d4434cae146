package store_test

import (
	"context"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/kirim-portal/portal/store"
)

// FuzzCustomerSearch feeds the customer search any text: the cleaned text is valid,
// short and free of control characters, and the search answers without an error.
func FuzzCustomerSearch(f *testing.F) {
	for _, s := range []string{"kopi", "a\x00b", "ka", `"quoted" AND OR NEAR`, "%_\\", "caf\xc3", "*", strings.Repeat("é", 300), "+62 812"} {
		f.Add(s)
	}
	db := MustOpen(f)
	db.ReconcileCustomers(context.Background(), []store.CustomerMirror{{KirimID: "cus_1", Name: "Kopi Kita", Status: "pending"},
		{KirimID: "cus_2", Name: "Toko \"Sinar\" 100%", Status: "active"}}, "fuzz")
	f.Fuzz(func(t *testing.T, q string) {
		clean := store.CleanSearch(q)
		if !utf8.ValidString(clean) || utf8.RuneCountInString(clean) > 200 || strings.ContainsFunc(clean, unicode.IsControl) {
			t.Fatalf("CleanSearch(%q) = %q", q, clean)
		}
		if _, err := db.Customers(context.Background(), store.CustomerFilter{Search: q}); err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
	})
}
