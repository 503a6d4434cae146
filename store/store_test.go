package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// MustOpen opens a database in a fresh file under t.TempDir.
func MustOpen(tb testing.TB) *store.DB {
	tb.Helper()
	keys, err := secret.NewKeyring(must(secret.ParseKey(secret.GenerateKey())))
	if err != nil {
		tb.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "portal.db"), keys)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestMigrationRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	v, err := db.SchemaVersion(ctx)
	if err != nil || v < 1 {
		t.Fatalf("schema version %d, %v; want >= 1", v, err)
	}
	if err := db.MigrateDownAll(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.SchemaVersion(ctx); v != 0 {
		t.Fatalf("after down: version %d, want 0", v)
	}
	if _, err := db.CountUsers(ctx); err == nil {
		t.Fatal("staff_users still exists after migrating down")
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, "a@example.test", secret.HashPassword("pw")); err != nil {
		t.Fatalf("after up again: %v", err)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	u, err := db.CreateUser(ctx, "Staff@Example.test", secret.HashPassword("pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("lookup ignores case", func(t *testing.T) {
		got, err := db.UserByEmail(ctx, "staff@example.TEST")
		if err != nil || got.ID != u.ID {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("duplicate email", func(t *testing.T) {
		_, err := db.CreateUser(ctx, "staff@example.test", "x")
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
	})
	t.Run("unknown email", func(t *testing.T) {
		if _, err := db.UserByEmail(ctx, "nobody@example.test"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
	users, err := db.Users(ctx)
	if err != nil || len(users) != 1 || users[0].Email != "Staff@Example.test" {
		t.Fatalf("got %v, %v", users, err)
	}
}

// Fifty goroutines writing at once must all succeed: immediate transactions plus the
// busy timeout serialise them instead of failing with SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	const writers, each = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := db.AddEvent(ctx, store.Event{Kind: "test.write", Detail: map[string]any{"w": w, "i": i}}); err != nil {
					errs <- err
				}
			}
			if _, err := db.CreateUser(ctx, fmt.Sprintf("w%d@example.test", w), "h"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write failed: %v", err)
	}
	if n, _ := db.CountUsers(ctx); n != writers {
		t.Fatalf("got %d users, want %d", n, writers)
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	if _, err := db.CreateUser(ctx, "a@example.test", "h"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	if err := db.Backup(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(ctx, out); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
	copyDB, err := store.Open(ctx, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	if res, err := copyDB.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q, %v", res, err)
	}
	if _, err := copyDB.UserByEmail(ctx, "a@example.test"); err != nil {
		t.Fatalf("backup lacks the user: %v", err)
	}
	if fi, _ := os.Stat(out); fi.Size() == 0 {
		t.Fatal("empty backup")
	} else if fi.Mode().Perm() != 0o600 {
		t.Fatalf("the backup's mode is %v, want owner-only 0600", fi.Mode().Perm())
	}
}

// TestAddEventOnce: twenty requests at once (a reload storm, a repeated redirect)
// record the event once.
func TestAddEventOnce(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	if _, err := db.ReconcileCustomers(ctx, []store.CustomerMirror{{KirimID: "cus_1", Name: "Once", Status: "pending"}}, "test"); err != nil {
		t.Fatal(err)
	}
	c, _ := db.CustomerByKirimID(ctx, "cus_1")
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := db.AddEventOnce(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventLandingOpened}, db.Now().Add(-time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				added++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n, _ := db.CountEvents(ctx, c.ID, "landing.opened", time.Time{}); added != 1 || n != 1 {
		t.Fatalf("added %d, stored %d; want 1 and 1", added, n)
	}
}
