package store

import (
	"context"
	"fmt"
)

// MigrateDownAll reverts every migration (for the round-trip test).
func (db *DB) MigrateDownAll(ctx context.Context) error {
	p, err := db.provider()
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		return fmt.Errorf("store: migrate down: %w", err)
	}
	return nil
}

// MigrateDownTo reverts the migrations after version (to test a migration's backfill).
func (db *DB) MigrateDownTo(ctx context.Context, version int64) error {
	p, err := db.provider()
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.DownTo(ctx, version); err != nil {
		return fmt.Errorf("store: migrate down: %w", err)
	}
	return nil
}

// CustomerColumns is what every customer read selects (for plan tests).
const CustomerColumns = customerColumns

// Plan returns SQLite's query plan of a query, one line per step.
func (db *DB) Plan(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := db.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}
