package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
)

// BenchmarkDueFollowUps measures the periodic scan for due reminders at 1,000 and
// 100,000 customers in the same run. Every customer has a follow-up planned (a tenth
// with nothing more planned, the rest spread over the next month) and the same 25 are
// due in both sizes: through the index on the due time, the large scan is meant to
// cost about what the small one does.
//
//	go test ./store -run '^$' -bench DueFollowUps
func BenchmarkDueFollowUps(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for _, n := range []int{1_000, 100_000} {
		db := MustOpen(b)
		seedFollowUps(b, db, n, now)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				ids, err := db.DueFollowUps(ctx, now, 100)
				if err != nil {
					b.Fatal(err)
				}
				if len(ids) != 25 {
					b.Fatalf("%d due, want 25", len(ids))
				}
			}
		})
	}
}

// seedFollowUps mirrors n customers and plans a follow-up for each: 25 due before now,
// a tenth with nothing planned, the others due within the next 30 days.
func seedFollowUps(tb testing.TB, db *store.DB, n int, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	const batch = 5000
	for start := 0; start < n; start += batch {
		var ms []store.CustomerMirror
		for i := start; i < min(start+batch, n); i++ {
			ms = append(ms, store.CustomerMirror{KirimID: fmt.Sprintf("cus_%026d", i), Name: fmt.Sprintf("Toko %d", i),
				Email: fmt.Sprintf("owner%d@shop.test", i), Status: "pending", TeamID: "team_1", CreatedAt: now, UpdatedAt: now})
		}
		if _, err := db.ReconcileCustomers(ctx, ms, "seed"); err != nil {
			tb.Fatal(err)
		}
	}
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id FROM customers ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	const layout = "2006-01-02T15:04:05.000000Z"
	for i, id := range ids {
		var due any
		switch {
		case i < 25:
			due = now.Add(-time.Duration(i+1) * time.Minute).Format(layout)
		case i%10 == 0:
			due = nil
		default:
			due = now.Add(time.Minute + time.Duration(i%43200)*time.Minute).Format(layout)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO follow_ups (customer_id, due_at, updated_at) VALUES (?, ?, ?)`,
			id, due, now.Format(layout)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}
