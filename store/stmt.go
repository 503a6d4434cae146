package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// maxCachedStatements bounds the statement cache (queries built with a varying number
// of placeholders would otherwise grow it without end).
const maxCachedStatements = 256

// stmts caches prepared statements by their SQL: parsing a statement costs more than
// running it for the small reads of the public pages. database/sql prepares each one
// again on every pooled connection that runs it, once.
type stmts struct {
	m sync.Map // query → *sql.Stmt
	n atomic.Int32
}

// stmt returns the prepared statement for query, preparing it when needed, or nil
// when it cannot be cached. It must not be called inside a transaction: preparing
// takes a second connection from the pool, which the other writers may all hold
// while they wait for this transaction's lock.
func (db *DB) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := db.cache.m.Load(query); ok {
		return st.(*sql.Stmt)
	}
	if db.cache.n.Load() >= maxCachedStatements {
		return nil
	}
	st, err := db.db.PrepareContext(ctx, query)
	if err != nil {
		return nil // the query itself reports the error
	}
	if prev, loaded := db.cache.m.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt)
	}
	db.cache.n.Add(1)
	return st
}

// cached returns the statement for query only if it is prepared already.
func (db *DB) cached(query string) *sql.Stmt {
	if st, ok := db.cache.m.Load(query); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

// writes reports a statement that may change the database (an UPDATE … RETURNING runs
// as a query).
func writes(query string) bool {
	q := strings.TrimSpace(query)
	return !strings.HasPrefix(q, "SELECT") && !strings.HasPrefix(q, "PRAGMA")
}

func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if writes(query) {
		defer db.written()
	}
	if st := db.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.db.QueryRowContext(ctx, query, args...)
}

func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if writes(query) {
		defer db.written()
	}
	if st := db.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.db.QueryContext(ctx, query, args...)
}

func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	defer db.written()
	if st := db.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.db.ExecContext(ctx, query, args...)
}

// txExec runs a statement inside a transaction, prepared already when it is a hot
// one (see warmStatements).
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := db.cached(query); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// txQueryRow is txExec for a query of one row.
func (db *DB) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := db.cached(query); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// warmStatements prepares the statements that run inside transactions on hot paths.
func (db *DB) warmStatements(ctx context.Context) {
	for _, q := range []string{insertEvent, countEventsSince} {
		db.stmt(ctx, q)
	}
}

// closeStatements closes the cached statements.
func (db *DB) closeStatements() {
	db.cache.m.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		db.cache.m.Delete(k)
		return true
	})
	db.cache.n.Store(0)
}

// ids runs a query of one integer column and returns its values.
func (db *DB) ids(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := db.query(ctx, q, args...)
	return column[int64](rows, err)
}

// column reads the values of a one-column result.
func column[T any](rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
