package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/web"
)

// importCommand is "portal import FILE.csv [--send-links] [--dry-run]": the imports page
// from a terminal. It previews the file, then (unless --dry-run) starts the import and
// works its rows in this process, paced like the portal's, printing progress; a portal
// running on the same data directory works them too. It fails (exit 1) unless every
// row was created or skipped as a duplicate.
func importCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sendLinks := fs.Bool("send-links", false, "email each new customer a setup link")
	dryRun := fs.Bool("dry-run", false, "only check the file: print what would happen, send nothing")
	var file string
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" {
		return usageError("import needs the CSV file: portal import FILE.csv [--send-links] [--dry-run]")
	}
	return withConfig(ctx, "import", nil, getenv, stderr, func(cfg Config, log *slog.Logger, _ []string) error {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		rows, err := onboarding.ReadImport(f)
		var fe *onboarding.FileError
		if errors.As(err, &fe) {
			return errors.New(fe.Msg)
		}
		if err != nil {
			return err
		}
		return runImport(ctx, cfg, log, rows, filepath.Base(file), *sendLinks, *dryRun, stdout)
	})
}

func runImport(ctx context.Context, cfg Config, log *slog.Logger, file *onboarding.ImportFile, name string, sendLinks, dryRun bool, out io.Writer) error {
	keys, _, err := cfg.keyring()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.dbPath(), keys)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := jobs.Migrate(ctx, db.SQL()); err != nil {
		return err
	}
	kc, sb, err := kirimClient(ctx, cfg, log)
	if err != nil {
		return err
	}
	if sb != nil {
		defer sb.Close()
	}
	workers := river.NewWorkers()
	// Only the batches' queue, and no rescue of "running" jobs: a portal may be working
	// them right now.
	jc, err := jobs.New(db.SQL(), workers, jobs.Config{Queues: []string{jobs.QueueBatches}, Log: log})
	if err != nil {
		return err
	}
	ob := onboarding.New(onboarding.Deps{DB: db, Kirim: kc, PublicURL: cfg.PublicURL.String(), Log: log, Jobs: jc, Words: web.Words,
		Mail: onboarding.Mail{From: cfg.MailFrom, Renderer: web.EmailRenderer(), DevOutbox: cfg.SMTPURL == nil}})
	ob.RegisterWorkers(workers)

	checked, err := ob.CheckImport(ctx, file)
	if err != nil {
		return err
	}
	count := map[string]int{}
	for _, r := range checked {
		count[r.Outcome]++
	}
	fmt.Fprintf(out, "%s: %d rows: %d to create, %d skipped, %d rejected\n", name, len(checked), count[store.RowPending],
		count[store.RowSkipped], count[store.RowRejected])
	if len(file.Ignored) > 0 {
		fmt.Fprintf(out, "columns not imported: %s\n", strings.Join(file.Ignored, ", "))
	}
	printRows(checked, out)
	switch {
	case dryRun && count[store.RowRejected] > 0:
		return fmt.Errorf("dry run: %d rows would be rejected; nothing was sent to Kirim", count[store.RowRejected])
	case dryRun:
		fmt.Fprintln(out, "dry run: nothing was sent to Kirim")
		return nil
	case count[store.RowPending] == 0:
		return errors.New("nothing to create")
	}
	id, err := ob.PreviewImport(ctx, file, name, "import command")
	if err != nil {
		return err
	}
	if err := ob.StartBatch(ctx, id, sendLinks); err != nil {
		return err
	}
	if err := jc.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		jc.Stop(sctx)
	}()
	fmt.Fprintf(out, "import %d started: %s/admin/imports/%d\n", id, cfg.PublicURL, id)
	b, err := waitBatch(ctx, db, id, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "done: %d created, %d failed, %d skipped, %d rejected\n", b.Counts.Done, b.Counts.Failed, b.Counts.Skipped, b.Counts.Rejected)
	if sendLinks && cfg.SMTPURL == nil {
		fmt.Fprintln(out, "SMTP_URL is not set: the link emails wait in the dev outbox")
	}
	if b.Counts.Failed > 0 || b.Counts.Rejected > 0 {
		failed, err := db.BatchRows(ctx, id, 0, 1000, store.RowFailed)
		if err != nil {
			return err
		}
		printRows(derefRows(failed), out)
		return fmt.Errorf("%d rows failed and %d were rejected", b.Counts.Failed, b.Counts.Rejected)
	}
	return nil
}

func derefRows(rows []*store.BatchRow) []store.BatchRow {
	out := make([]store.BatchRow, len(rows))
	for i, r := range rows {
		out[i] = *r
	}
	return out
}

// waitBatch prints the progress until the batch is done, on one line on a terminal,
// else a line every 5 seconds. Interrupted, it leaves the rest to the portal.
func waitBatch(ctx context.Context, db *store.DB, id int64, out io.Writer) (*store.Batch, error) {
	tty := isTerminal(out)
	last := time.Time{}
	for {
		b, err := db.BatchByID(context.WithoutCancel(ctx), id)
		if err != nil {
			return nil, err
		}
		worked := b.Counts.Done + b.Counts.Failed
		line := fmt.Sprintf("%d of %d worked (%d failed)", worked, worked+b.Counts.Pending, b.Counts.Failed)
		if eta := onboarding.BatchETA(b, time.Now()); eta > 0 {
			line += fmt.Sprintf(", about %s left", eta.Round(time.Second))
		}
		switch {
		case tty:
			fmt.Fprintf(out, "\r\033[K%s", line)
		case time.Since(last) >= 5*time.Second:
			fmt.Fprintln(out, line)
			last = time.Now()
		}
		if b.State != store.BatchRunning {
			if tty {
				fmt.Fprintln(out)
			}
			return b, nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "\ninterrupted: the rows not yet worked stay queued; a running portal finishes them")
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// printRows prints the rows rejected or failed (the first 20), with why.
func printRows(rows []store.BatchRow, out io.Writer) {
	const most = 20
	n := 0
	for _, r := range rows {
		if r.Outcome != store.RowRejected && r.Outcome != store.RowFailed {
			continue
		}
		if n++; n > most {
			fmt.Fprintln(out, "  … and more: the import's page lists every row")
			return
		}
		fmt.Fprintf(out, "  line %d %s: %s\n", r.Row, r.Outcome, r.Error)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
