package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
)

// seedEvents writes n customers created 5 minutes apart, and ten journey events for
// each, in one transaction through one prepared statement.
func seedEvents(tb testing.TB, db *store.DB, n int) []int64 {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	var ids []int64
	for i := range n {
		at := now.Add(-time.Duration(i) * 5 * time.Minute).Format("2006-01-02T15:04:05.000000Z")
		res, err := tx.ExecContext(ctx, `INSERT INTO customers (kirim_id, name, status, kirim_created_at, kirim_updated_at, synced_at,
			created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)`, fmt.Sprintf("cus_%026d", i), "Toko", at, at, at, at, at)
		if err != nil {
			tb.Fatal(err)
		}
		id, _ := res.LastInsertId()
		ids = append(ids, id)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO events (customer_id, kind, created_at) VALUES (?, ?, ?)`)
	if err != nil {
		tb.Fatal(err)
	}
	kinds := []string{"email.queued", "email.sent", "landing.opened", "landing.opened", "landing.clicked",
		"email.queued", "email.sent", "landing.opened", "landing.clicked", "account.connected"}
	for i, id := range ids {
		for k, kind := range kinds {
			at := now.Add(-time.Duration(i)*5*time.Minute + time.Duration(k)*time.Hour).Format("2006-01-02T15:04:05.000000Z")
			if _, err := ins.ExecContext(ctx, id, kind, at); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return ids
}

// dashboardTriggers keep the dashboard's counters (migration 00014).
var dashboardTriggers = []string{"events_last_activity", "events_emailed", "events_opened", "events_started", "events_connected", "events_failed"}

// BenchmarkEventInsert measures what the dashboard's triggers cost an event write, as
// the store makes one (AddEvent: its transaction and prepared statement), beside the
// same write with the triggers dropped.
//
//	go test ./store -run '^$' -bench EventInsert
func BenchmarkEventInsert(b *testing.B) {
	for _, triggers := range []bool{true, false} {
		b.Run(fmt.Sprintf("triggers=%v", triggers), func(b *testing.B) {
			db := MustOpen(b)
			ids := seedEvents(b, db, 1000)
			if !triggers {
				for _, t := range dashboardTriggers {
					if _, err := db.SQL().Exec("DROP TRIGGER " + t); err != nil {
						b.Fatal(err)
					}
				}
			}
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := db.AddEvent(ctx, store.Event{CustomerID: &ids[i%len(ids)], Kind: store.EventLandingOpened}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkCohortRebuild measures migration 00014 rebuilding the dashboard's counters
// from the events of an existing database: 10,000 customers and 100,000 events.
//
//	go test ./store -run '^$' -bench CohortRebuild -benchtime 3x
func BenchmarkCohortRebuild(b *testing.B) {
	db := MustOpen(b)
	seedEvents(b, db, 10_000)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		if err := db.MigrateDownTo(ctx, 13); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := db.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if c, _ := db.CohortOf(ctx, "0000-01-01", "9999-12-31"); c.Created != 10_000 || c.Connected != 10_000 {
		b.Fatalf("rebuilt %+v", c)
	}
}
