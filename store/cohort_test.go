package store_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
)

// TestCohortsKeptByTriggers: the dashboard's cohort counters follow the events as they
// are written, count each customer once per step, and the migration rebuilds the same
// counters from the events of an existing database.
func TestCohortsKeptByTriggers(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	day0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	var ms []store.CustomerMirror
	for i, at := range []time.Time{day0, day0.Add(time.Hour), day0.Add(2 * time.Hour), day0.AddDate(0, 0, 2)} {
		ms = append(ms, store.CustomerMirror{KirimID: fmt.Sprintf("cus_%026d", i), Name: fmt.Sprintf("Toko %d", i),
			Status: "pending", CreatedAt: at, UpdatedAt: at})
	}
	if _, err := db.ReconcileCustomers(ctx, ms, "seed"); err != nil {
		t.Fatal(err)
	}
	id := func(i int) *int64 {
		c, err := db.CustomerByKirimID(ctx, fmt.Sprintf("cus_%026d", i))
		if err != nil {
			t.Fatal(err)
		}
		return &c.ID
	}
	add := func(i int, kind store.EventKind, at time.Time, detail map[string]any) {
		if _, err := db.AddEvent(ctx, store.Event{CustomerID: id(i), Kind: kind, CreatedAt: at, Detail: detail}); err != nil {
			t.Fatal(err)
		}
	}
	// Customer 0 goes all the way, connecting 90 minutes after creation; 1 fails twice;
	// 2 does nothing; 3 was created two days later.
	add(0, store.EventEmailSent, day0.Add(time.Minute), nil)
	add(0, store.EventEmailSent, day0.Add(time.Hour), nil)
	add(0, store.EventLandingOpened, day0.Add(time.Hour), nil)
	add(0, store.EventLandingClicked, day0.Add(80*time.Minute), nil)
	add(0, store.EventAccountConnected, day0.Add(90*time.Minute), nil)
	add(0, store.EventAccountConnected, day0.Add(5*time.Hour), nil) // a second number
	add(1, store.EventEmailSent, day0.Add(2*time.Hour), nil)
	add(1, store.EventSignupFailed, day0.Add(3*time.Hour), map[string]any{"reason": "signup_cancelled"})
	add(1, store.EventSignupFailed, day0.Add(4*time.Hour), map[string]any{"reason": "signup_cancelled"})

	check := func(when string) {
		t.Helper()
		c, err := db.CohortOf(ctx, "2026-11-02", "2026-11-02")
		if want := (store.Cohort{Created: 3, Emailed: 2, Opened: 1, Started: 1, Connected: 1, Failed: 1}); err != nil || c != want {
			t.Fatalf("%s: cohort of 2 Nov %+v, %v; want %+v", when, c, err, want)
		}
		if c, _ := db.CohortOf(ctx, "2026-11-01", "2026-11-30"); c.Created != 4 {
			t.Fatalf("%s: November created %d, want 4", when, c.Created)
		}
		if c, _ := db.CohortOf(ctx, "2026-11-03", "2026-11-03"); c != (store.Cohort{}) {
			t.Fatalf("%s: 3 Nov %+v, want nothing", when, c)
		}
		reasons, _ := db.FailureReasons(ctx, "2026-11-01", "2026-11-30")
		if !reflect.DeepEqual(reasons, []store.ReasonCount{{Reason: "signup_cancelled", N: 2}}) {
			t.Fatalf("%s: reasons %+v", when, reasons)
		}
		times, _ := db.ConnectTimes(ctx, "2026-11-01", "2026-11-30")
		want := make([]int, len(store.ConnectBuckets))
		want[4] = 1 // under 2 hours
		if !reflect.DeepEqual(times, want) {
			t.Fatalf("%s: connect times %v, want %v", when, times, want)
		}
	}
	check("kept by triggers")
	if err := db.MigrateDownTo(ctx, 13); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	check("rebuilt by the migration")
}

// TestCustomerReadsUseTheirIndexes: reading a page of customers looks up each one's
// link, milestones and numbers by the customer, never by walking every active link.
func TestCustomerReadsUseTheirIndexes(t *testing.T) {
	db := MustOpen(t)
	plan, err := db.Plan(context.Background(), `SELECT `+store.CustomerColumns+` FROM customers c WHERE c.id < ? ORDER BY c.id DESC LIMIT 26`, 100)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(plan, "\n")
	for _, want := range []string{"SEARCH l USING INDEX setup_links_customer (customer_id=?)", "SEARCH m USING INTEGER PRIMARY KEY (rowid=?)",
		"SEARCH a USING INDEX whatsapp_accounts_customer (customer_id=?)"} {
		if !strings.Contains(all, want) {
			t.Errorf("the plan lacks %q:\n%s", want, all)
		}
	}
}
