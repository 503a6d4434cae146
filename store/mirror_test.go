package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
)

// TestOlderAnswersDoNotRollBack: Kirim's answers can arrive out of order (a slow
// reconciliation page, a late webhook). The mirror keeps the newest by Kirim's
// updated_at, also when the newest changed nothing it shows.
func TestOlderAnswersDoNotRollBack(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	at := func(name string, d time.Duration) store.CustomerMirror {
		return store.CustomerMirror{KirimID: "cus_1", Name: name, Status: "pending", CreatedAt: t0, UpdatedAt: t0.Add(d)}
	}
	must(db.ReconcileCustomers(ctx, []store.CustomerMirror{at("A", 0)}, "test"))
	must(db.ReconcileCustomers(ctx, []store.CustomerMirror{at("C", 3*time.Second)}, "test"))
	diffs := must(db.ReconcileCustomers(ctx, []store.CustomerMirror{at("B", 2*time.Second)}, "webhook"))
	c := must(db.CustomerByKirimID(ctx, "cus_1"))
	if c.Name != "C" || len(diffs) != 0 {
		t.Fatalf("an older answer rolled the mirror back to %q (%d diffs)", c.Name, len(diffs))
	}
	// The same value again, newer: nothing to show, but the mirror learns how recent it is.
	must(db.ReconcileCustomers(ctx, []store.CustomerMirror{at("C", 5*time.Second)}, "test"))
	must(db.ReconcileCustomers(ctx, []store.CustomerMirror{at("D", 4*time.Second)}, "webhook"))
	if c := must(db.CustomerByKirimID(ctx, "cus_1")); c.Name != "C" {
		t.Fatalf("an answer older than an unchanged newer one was taken: %q", c.Name)
	}
	// The mirror of a workflow's own write follows the same rule.
	if err := db.UpdateCustomerMirror(ctx, c.ID, at("E", time.Second), nil); err != nil {
		t.Fatal(err)
	}
	if c := must(db.CustomerByKirimID(ctx, "cus_1")); c.Name != "C" {
		t.Fatalf("UpdateCustomerMirror took an older answer: %q", c.Name)
	}
	if err := db.UpdateCustomerMirror(ctx, c.ID, at("F", 6*time.Second), nil); err != nil {
		t.Fatal(err)
	}
	if c := must(db.CustomerByKirimID(ctx, "cus_1")); c.Name != "F" {
		t.Fatalf("UpdateCustomerMirror refused a newer answer: %q", c.Name)
	}
}

// TestLinkEndsAreFinal: once Kirim said a link is consumed, expired or revoked, an
// older "active" answer cannot bring it back.
func TestLinkEndsAreFinal(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	must(db.ReconcileCustomers(ctx, []store.CustomerMirror{{KirimID: "cus_1", Name: "Links", Status: "pending"}}, "test"))
	c := must(db.CustomerByKirimID(ctx, "cus_1"))
	l := must(db.CreateSetupLink(ctx, c.ID, store.NewSetupLink{KirimID: "csl_1", Status: "active", TokenLast4: "abcd",
		ExpiresAt: time.Now().Add(time.Hour), SetupURL: "https://kirim.test/onboard/csl_x", LandingToken: "t0123456789", ReturnKey: "r1"},
		store.Event{Kind: store.EventLinkIssued}))
	for _, end := range []string{"revoked", "consumed", "expired"} {
		must(db.CreateSetupLink(ctx, c.ID, store.NewSetupLink{KirimID: "csl_" + end, Status: "active", TokenLast4: "abcd",
			ExpiresAt: time.Now().Add(time.Hour), SetupURL: "x", LandingToken: "t-" + end, ReturnKey: "r-" + end}, store.Event{Kind: store.EventLinkIssued}))
		ll := must(db.SetupLinkByKirimID(ctx, "csl_"+end))
		if err := db.UpdateSetupLinkMirror(ctx, ll.ID, store.LinkMirror{Status: end}, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.UpdateSetupLinkMirror(ctx, ll.ID, store.LinkMirror{Status: "active"}, nil); err != nil {
			t.Fatal(err)
		}
		if got := must(db.SetupLinkByID(ctx, ll.ID)); got.Status != end {
			t.Errorf("a %s link came back as %s", end, got.Status)
		}
	}
	if n := must(db.CountAttempt(ctx, l.ID)); n != 1 {
		t.Fatalf("attempts %d", n)
	}
}

// TestKeyedEvents: an event with a key is recorded once per customer and kind, however
// many requests carry it at once.
func TestKeyedEvents(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	must(db.ReconcileCustomers(ctx, []store.CustomerMirror{{KirimID: "cus_1", Name: "Keys", Status: "pending"}}, "test"))
	c := must(db.CustomerByKirimID(ctx, "cus_1"))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "csl_1/signup_cancelled/1"
			if i%2 == 1 {
				key = "csl_1/token_exchange_failed/1"
			}
			if _, err := db.AddEvent(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventSignupFailed, Key: key}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := must(db.CountEvents(ctx, c.ID, "signup.failed", time.Time{})); n != 2 {
		t.Fatalf("%d events, want one per key", n)
	}
	// Another kind with the same key is another event.
	if id := must(db.AddEvent(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventSignupSucceeded, Key: "csl_1/signup_cancelled/1"})); id == 0 {
		t.Fatal("a key of another kind was dropped")
	}
}
