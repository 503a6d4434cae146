// Package jobs runs the portal's background work on River, in the portal's own SQLite
// file: the engine's migrations, its client, and the settings that suit one process
// on SQLite (the same code runs on PostgreSQL with River's pgx driver). The jobs
// themselves, their arguments and workers, belong to the packages whose work they do.
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// Client is the job engine's client, working in database/sql transactions.
type Client = river.Client[*sql.Tx]

// QueueAlerts is the queue of the posts to staff's team channel: a channel slow to
// answer holds up its own workers, not reminders, syncs and webhooks.
const QueueAlerts = "alerts"

// QueueBatches is the queue of imports and bulk actions: a run of thousands of rows,
// paced by Kirim's write budget, leaves the default queue's workers free.
const QueueBatches = "batches"

// Migrate brings River's tables in db up to date (portal migrate, and at start).
func Migrate(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return fmt.Errorf("jobs: migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	return nil
}

// Config tunes the engine.
type Config struct {
	// Workers is how many jobs run at once (default 4): Kirim's rate limit, not the
	// CPU, bounds the work.
	Workers int
	// RescueAfter is how long a job may run before River's rescuer counts it as stuck
	// and tries it again (default 1 hour, above every job's timeout). Jobs a crash left
	// running are made available at start, without waiting for it (see Open).
	RescueAfter time.Duration
	// Poll is how often the engine looks for jobs to run (default 500 ms): jobs
	// inserted by this process wake it at once, so this bounds only the wait for
	// jobs whose transaction was still open then.
	Poll time.Duration
	// Periodic are the jobs that run on a schedule.
	Periodic []*river.PeriodicJob
	// Queues are the queues this client works (default: all of them); the import
	// command works only QueueBatches, beside a portal that may be running.
	Queues []string
	Log    *slog.Logger
}

// Open brings River's tables in db up to date, makes the jobs a crash left running
// available again (see RescueOrphans), and returns a client and the workers it runs;
// register workers (AddWorker, Add) before the client's Start.
func Open(ctx context.Context, db *sql.DB, cfg Config) (*Client, *river.Workers, error) {
	if err := Migrate(ctx, db); err != nil {
		return nil, nil, err
	}
	workers := river.NewWorkers()
	c, err := New(db, workers, cfg)
	if err != nil {
		return nil, nil, err
	}
	n, err := RescueOrphans(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	if n > 0 && cfg.Log != nil {
		cfg.Log.Warn("jobs interrupted by the last stop run again", "count", n)
	}
	return c, workers, nil
}

// Add registers f as the worker of the jobs with arguments T; a run longer than
// timeout is cancelled (0: the client's minute).
func Add[T river.JobArgs](w *river.Workers, timeout time.Duration, f func(context.Context, *river.Job[T]) error) {
	river.AddWorker(w, &funcWorker[T]{timeout: timeout, f: f})
}

type funcWorker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	timeout time.Duration
	f       func(context.Context, *river.Job[T]) error
}

func (w *funcWorker[T]) Timeout(*river.Job[T]) time.Duration { return w.timeout }

func (w *funcWorker[T]) Work(ctx context.Context, j *river.Job[T]) error { return w.f(ctx, j) }

// CompleteTx marks j completed in tx, so that its work and its completion commit
// together: a job whose effects must not happen twice (a crash between its commit and
// River's own would run it again) ends this way.
func CompleteTx[T river.JobArgs](ctx context.Context, tx *sql.Tx, j *river.Job[T]) error {
	_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, j)
	return err
}

// New returns a client over db that works the jobs registered in workers once
// started. Registering may go on until Start.
func New(db *sql.DB, workers *river.Workers, cfg Config) (*Client, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = time.Hour
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers},
		QueueAlerts: {MaxWorkers: 2}, QueueBatches: {MaxWorkers: 4}}
	if cfg.Queues != nil {
		only := map[string]river.QueueConfig{}
		for _, q := range cfg.Queues {
			only[q] = queues[q]
		}
		queues = only
	}
	c, err := river.NewClient(riversqlite.New(db), &river.Config{
		Queues:               queues,
		Workers:              workers,
		PeriodicJobs:         cfg.Periodic,
		JobTimeout:           time.Minute,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.Poll,
		FetchCooldown:        min(50*time.Millisecond, cfg.Poll),
		Logger:               cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: client: %w", err)
	}
	return c, nil
}

// RescueOrphans makes the jobs a crash left running available again, at start and
// before the client starts. Only for a database that one process owns, as the portal's
// SQLite file is: with several processes sharing a database, River's own rescuer does
// this once RescueAfter has passed, since another process may still be working them.
func RescueOrphans(ctx context.Context, db *sql.DB) (int64, error) {
	res, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
	if err != nil {
		return 0, fmt.Errorf("jobs: rescue: %w", err)
	}
	return res.RowsAffected()
}
