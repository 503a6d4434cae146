// Command importload imports a CSV of customers through the portal's own import (a job
// per row, paced by the Kirim client) against the Kirim sandbox with its rate limits
// on, and prints the time taken beside the least time the write budget allows, and the
// 429s Kirim answered.
//
//	go run ./scripts/importload [-rows 1000] [-writes 600] [-send-links=true]
//
// Kirim's bucket holds a minute of budget and refills evenly: with W writes a minute and
// N writes to make, the least time is (N - W) / (W/60) once the first full bucket is
// spent. The default tier (60 writes a minute) makes 1,000 rows with links take over 30
// minutes; -writes 600 (Kirim's Pro tier) scales the limits up tenfold, reads with them.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/sandbox"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
	"github.com/kirim-portal/portal/web"
)

func main() {
	rows := flag.Int("rows", 1000, "rows in the file")
	writes := flag.Int("writes", 600, "Kirim's writes a minute (reads: ten times as many)")
	sendLinks := flag.Bool("send-links", true, "email each new customer a setup link (a second write a row)")
	flag.Parse()
	if err := run(*rows, *writes, *sendLinks); err != nil {
		fmt.Fprintln(os.Stderr, "importload:", err)
		os.Exit(1)
	}
}

func run(rows, writes int, sendLinks bool) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "importload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	master, _ := secret.ParseKey(secret.GenerateKey())
	keys, _ := secret.NewKeyring(master)
	db, err := store.Open(ctx, filepath.Join(dir, "portal.db"), keys)
	if err != nil {
		return err
	}
	defer db.Close()

	sb, err := sandbox.New(sandbox.Options{APIKey: "kdv_live_load", WritesPerMinute: writes, ReadsPerMinute: 10 * writes})
	if err != nil {
		return err
	}
	defer sb.Close()
	var limited, written atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		sb.ServeHTTP(rec, r)
		if rec.status == http.StatusTooManyRequests {
			limited.Add(1)
		} else if r.Method != http.MethodGet && rec.status < 300 {
			written.Add(1)
		}
	}))
	kc, err := kirim.New("http://"+ln.Addr().String()+"/v1", "kdv_live_load")
	if err != nil {
		return err
	}
	me, err := kc.Me(ctx) // as the portal does at start
	if err != nil {
		return err
	}
	kc.SetRateLimits(me.RateLimits.ReadPerMinute, me.RateLimits.WritePerMinute)
	written.Store(0)

	log := slog.New(slog.DiscardHandler)
	jc, workers, err := jobs.Open(ctx, db.SQL(), jobs.Config{Log: log})
	if err != nil {
		return err
	}
	ob := onboarding.New(onboarding.Deps{DB: db, Kirim: kc, PublicURL: "https://portal.example.com", Log: log, Jobs: jc, Words: web.Words,
		Mail: onboarding.Mail{DevOutbox: true, Renderer: web.EmailRenderer()}})
	ob.RegisterWorkers(workers)
	if err := jc.Start(ctx); err != nil {
		return err
	}
	defer jc.Stop(ctx)

	var b strings.Builder
	b.WriteString("name,email\n")
	for i := range rows {
		fmt.Fprintf(&b, "Toko Muat %04d,owner%04d@load.test\n", i, i)
	}
	file, err := onboarding.ReadImport(strings.NewReader(b.String()))
	if err != nil {
		return err
	}
	id, err := ob.PreviewImport(ctx, file, "load.csv", "importload")
	if err != nil {
		return err
	}
	start := time.Now()
	if err := ob.StartBatch(ctx, id, sendLinks); err != nil {
		return err
	}
	for {
		batch, err := db.BatchByID(ctx, id)
		if err != nil {
			return err
		}
		if batch.State == store.BatchDone {
			if batch.Counts.Failed > 0 {
				failed, _ := db.BatchRows(ctx, id, 0, 1, store.RowFailed)
				fmt.Printf("first failure: line %d: %s\n", failed[0].Row, failed[0].Error)
			}
			took := time.Since(start)
			n := int(written.Load())
			least := time.Duration(max(0, n-writes)) * time.Minute / time.Duration(writes)
			fmt.Printf("rows %d (%d done, %d failed); writes to Kirim %d at %d a minute; 429 answers %d\n",
				rows, batch.Counts.Done, batch.Counts.Failed, n, writes, limited.Load())
			fmt.Printf("took %s; least the budget allows %s; ratio %.3f\n", took.Round(100*time.Millisecond),
				least.Round(100*time.Millisecond), took.Seconds()/least.Seconds())
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
