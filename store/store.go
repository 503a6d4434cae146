// Package store keeps the portal's SQLite database: plain SQL next to Scan, one
// transaction per exported method, and its own error values.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kirim-portal/portal/migrations"
	"github.com/kirim-portal/portal/store/secret"
)

// Errors returned by the store; callers test them with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: already exists")
)

// timeLayout is fixed-width so that stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// DB is the portal's database.
type DB struct {
	db   *sql.DB
	keys *secret.Keyring
	// branding caches the branding setting (see Branding).
	branding atomic.Pointer[Branding]
	cache    stmts
	// writeMu queues the process's writers (see tx).
	writeMu sync.Mutex
	// touched lists the customers whose timeline the open write transaction added to:
	// their attention rows are worked out again before it commits (guarded by writeMu).
	touched []int64
	// generation moves on with every write; landings caches the landing page's reads
	// that no write has made stale since.
	generation atomic.Uint64
	landings   landingCache
	// Now is the clock; tests replace it.
	Now func() time.Time
	// eventHook hears of every timeline event in its transaction (SetEventHook).
	eventHook EventHook
}

// DSN returns the connection string for path: WAL, a busy timeout, foreign keys and
// immediate transactions, applied to every pooled connection.
func DSN(path string) string {
	q := url.Values{}
	// secure_delete overwrites what is deleted or changed, so that an old value (a
	// body sealed later, a deleted throttle row) does not linger in free pages.
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)", "secure_delete(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and applies pending migrations.
// keys seals stored secrets; it may be nil for commands that never touch them.
func Open(ctx context.Context, path string, keys *secret.Keyring) (*DB, error) {
	// Create the file owner-only: it holds password hashes and sealed secrets. SQLite
	// gives its -wal and -shm files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}
	sqlDB, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	// One writer at a time is SQLite's rule; a small pool serves concurrent readers.
	sqlDB.SetMaxOpenConns(8)
	sqlDB.SetMaxIdleConns(8)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{db: sqlDB, keys: keys, Now: time.Now}
	if err := db.Migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	if keys != nil {
		if err := db.sealLegacyEmails(ctx); err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("store: sealing older emails: %w", err)
		}
	}
	if err := db.hashLegacyReturnKeys(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: hashing older return keys: %w", err)
	}
	db.warmStatements(ctx)
	return db, nil
}

func (db *DB) provider() (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectSQLite3, db.db, migrations.FS)
}

// Migrate applies every pending migration.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.provider()
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	applied, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate up: %w", err)
	}
	for _, r := range applied {
		if r.Source.Version == attentionMigration {
			// The queue is derived from state that was there before it.
			if _, err := db.RebuildAttention(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// attentionMigration is the migration that made the needs-attention queue.
const attentionMigration = 10

// SchemaVersion returns the newest applied migration.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	p, err := db.provider()
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(ctx)
}

// SQL returns the connection pool, for the job engine that shares the file.
func (db *DB) SQL() *sql.DB { return db.db }

// Close closes the database, checkpointing the WAL.
func (db *DB) Close() error {
	db.closeStatements()
	db.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	return db.db.Close()
}

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.queryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Backup writes a consistent copy of the database to path with VACUUM INTO. It refuses
// to overwrite an existing file.
func (db *DB) Backup(ctx context.Context, path string) error {
	// The copy holds what the database holds: owner-only, like the database. SQLite
	// writes VACUUM INTO into an empty file that exists.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("store: backup: %s already exists", path)
	}
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	f.Close()
	if _, err := db.db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		os.Remove(path)
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict ("ok" when sound).
func (db *DB) IntegrityCheck(ctx context.Context) (string, error) {
	var res string
	err := db.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res)
	return res, err
}

// tx runs fn in one (immediate) transaction and commits when fn returns nil. The
// portal's writers take turns in the process (fairly) before they take SQLite's one
// write lock: left to spin on the file lock, a writer among fifty can wait out
// busy_timeout and fail with SQLITE_BUSY.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	db.touched = db.touched[:0]
	if err := fn(tx); err != nil {
		return err
	}
	if err := db.refreshAttention(ctx, tx, db.touched); err != nil {
		return err
	}
	defer db.written()
	return tx.Commit()
}

// written notes that the database may have changed: what was read before is stale
// (see landingCache).
func (db *DB) written() { db.generation.Add(1) }

func (db *DB) now() string { return formatTime(db.Now()) }

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		// Written only by formatTime; fall back to RFC 3339 for hand-edited rows.
		t, _ = time.Parse(time.RFC3339Nano, s)
	}
	return t
}

// nullTime scans a nullable time column.
type nullTime struct{ T *time.Time }

func (n *nullTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		n.T = nil
	case string:
		t := parseTime(v)
		n.T = &t
	case []byte:
		t := parseTime(string(v))
		n.T = &t
	default:
		return fmt.Errorf("store: cannot scan %T as time", v)
	}
	return nil
}

// timeCol scans a NOT NULL time column.
type timeCol struct{ T *time.Time }

func (c timeCol) Scan(v any) error {
	var n nullTime
	if err := n.Scan(v); err != nil {
		return err
	}
	if n.T != nil {
		*c.T = *n.T
	}
	return nil
}

func nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// Unwritable reports a write the database could not take because the disk is full
// or the file (or its directory) became read-only. Reads still work then, and writes
// work again once there is space.
func Unwritable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return true
	}
	return false
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
