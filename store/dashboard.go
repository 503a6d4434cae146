package store

import (
	"context"
	"fmt"
	"time"
)

// Cohort is what the customers created in a range of days reached: how many were
// created, and how many of them were ever emailed, opened the page, started the
// signup, connected, or failed. Kept by triggers (migration 00014): a range sums one
// row per day, whatever the number of customers and events.
type Cohort struct {
	Created, Emailed, Opened, Started, Connected, Failed int
}

// CohortOf sums the cohorts of the days from..to (YYYY-MM-DD, both included, UTC).
func (db *DB) CohortOf(ctx context.Context, from, to string) (Cohort, error) {
	var c Cohort
	err := db.queryRow(ctx, `SELECT coalesce(sum(created), 0), coalesce(sum(emailed), 0), coalesce(sum(opened), 0),
		coalesce(sum(started), 0), coalesce(sum(connected), 0), coalesce(sum(failed), 0)
		FROM cohort_days WHERE day BETWEEN ? AND ?`, from, to).
		Scan(&c.Created, &c.Emailed, &c.Opened, &c.Started, &c.Connected, &c.Failed)
	if err != nil {
		return c, fmt.Errorf("store: cohort: %w", err)
	}
	return c, nil
}

// ReasonCount is how often a failure reason occurred.
type ReasonCount struct {
	Reason string
	N      int
}

// FailureReasons counts the failed signups of the customers created from..to, by
// reason, most frequent first.
func (db *DB) FailureReasons(ctx context.Context, from, to string) ([]ReasonCount, error) {
	rows, err := db.query(ctx, `SELECT reason, sum(n) AS total FROM cohort_failures WHERE day BETWEEN ? AND ?
		GROUP BY reason ORDER BY total DESC, reason LIMIT 20`, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: failure reasons: %w", err)
	}
	defer rows.Close()
	var out []ReasonCount
	for rows.Next() {
		var r ReasonCount
		if err := rows.Scan(&r.Reason, &r.N); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ConnectBuckets are the upper bounds of the buckets that times to connect are counted
// in (the last is open-ended); the triggers of migration 00014 use the same bounds.
var ConnectBuckets = []time.Duration{5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	4 * time.Hour, 8 * time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 0}

// ConnectTimes counts, per bucket of ConnectBuckets, how long the customers created
// from..to took from creation to their first connected number.
func (db *DB) ConnectTimes(ctx context.Context, from, to string) ([]int, error) {
	out := make([]int, len(ConnectBuckets))
	rows, err := db.query(ctx, `SELECT bucket, sum(n) FROM cohort_connect_times WHERE day BETWEEN ? AND ? GROUP BY bucket`, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: connect times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b, n int
		if err := rows.Scan(&b, &n); err != nil {
			return nil, err
		}
		if b >= 0 && b < len(out) {
			out[b] = n
		}
	}
	return out, rows.Err()
}

// ExpiringLink is an active link that expires soon.
type ExpiringLink struct {
	CustomerID int64
	Customer   string
	Last4      string
	ExpiresAt  time.Time
}

// LinksExpiringWithin lists active links expiring between now and now+d, soonest first.
func (db *DB) LinksExpiringWithin(ctx context.Context, d time.Duration) ([]ExpiringLink, error) {
	now := db.Now()
	rows, err := db.query(ctx, `SELECT l.customer_id, c.name, l.token_last4, l.expires_at FROM setup_links l
		JOIN customers c ON c.id = l.customer_id WHERE l.status = 'active' AND l.expires_at > ? AND l.expires_at <= ?
		ORDER BY l.expires_at LIMIT 50`, formatTime(now), formatTime(now.Add(d)))
	if err != nil {
		return nil, fmt.Errorf("store: expiring links: %w", err)
	}
	defer rows.Close()
	var out []ExpiringLink
	for rows.Next() {
		var l ExpiringLink
		if err := rows.Scan(&l.CustomerID, &l.Customer, &l.Last4, timeCol{&l.ExpiresAt}); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
