package jobs_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

type writeArgs struct{ N int }

func (writeArgs) Kind() string { return "test.write" }

type writeWorker struct {
	river.WorkerDefaults[writeArgs]
	db   *store.DB
	done *atomic.Int64
}

func (w *writeWorker) Work(ctx context.Context, j *river.Job[writeArgs]) error {
	if _, err := w.db.AddEvent(ctx, store.Event{Kind: "test.job", Detail: map[string]any{"n": j.Args.N}}); err != nil {
		return err
	}
	w.done.Add(1)
	return nil
}

// TestWritersAndJobsTogether: 50 web-like writers (20 writes each) while jobs are
// inserted in the writers' own transactions (every fifth write) and worked, each job
// writing too, on one SQLite file with the portal's pool: no SQLITE_BUSY, every write
// and every job done.
func TestWritersAndJobsTogether(t *testing.T) {
	ctx := context.Background()
	keys, _ := secret.NewKeyring(must(secret.ParseKey(secret.GenerateKey())))
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "portal.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := jobs.Migrate(ctx, db.SQL()); err != nil {
		t.Fatal(err)
	}
	var done atomic.Int64
	workers := river.NewWorkers()
	client, err := jobs.New(db.SQL(), workers, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	river.AddWorker(workers, &writeWorker{db: db, done: &done})
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(context.Background())

	const writers, each = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := db.InTx(ctx, func(tx *store.Tx) error {
					if _, err := tx.AddEvent(ctx, store.Event{Kind: "test.write"}); err != nil || i%5 != 0 {
						return err
					}
					_, err := client.InsertTx(ctx, tx.SQL(), writeArgs{N: w*each + i}, nil)
					return err
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a write failed: %v", err)
	}
	const want = writers * each / 5
	for deadline := time.Now().Add(time.Minute); done.Load() < want && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if n := done.Load(); n != want {
		t.Fatalf("%d jobs worked, want %d", n, want)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
