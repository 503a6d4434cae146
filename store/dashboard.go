package store

import (
	"context"
	"fmt"
	"time"
)

// FunnelCounts counts, per event kind, the customers that have at least one such event.
func (db *DB) FunnelCounts(ctx context.Context, kinds ...EventKind) (map[EventKind]int, error) {
	out := map[EventKind]int{}
	for _, k := range kinds {
		var n int
		if err := db.queryRow(ctx, `SELECT count(DISTINCT customer_id) FROM events WHERE kind = ?`, k).Scan(&n); err != nil {
			return nil, fmt.Errorf("store: funnel: %w", err)
		}
		out[k] = n
	}
	return out, nil
}

// ReasonCount is how often a failure reason occurred.
type ReasonCount struct {
	Reason string
	N      int
}

// FailureReasons counts failed signups by reason, most frequent first.
func (db *DB) FailureReasons(ctx context.Context) ([]ReasonCount, error) {
	rows, err := db.query(ctx, `SELECT coalesce(json_extract(detail, '$.reason'), 'unknown') AS reason, count(*) AS n
		FROM events WHERE kind = ? GROUP BY reason ORDER BY n DESC, reason LIMIT 20`, EventSignupFailed)
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

// TimesToConnect returns, for each connected customer, how long it took from creation to
// the first connected account.
func (db *DB) TimesToConnect(ctx context.Context) ([]time.Duration, error) {
	rows, err := db.query(ctx, `SELECT c.created_at, min(e.created_at) FROM events e JOIN customers c ON c.id = e.customer_id
		WHERE e.kind = ? GROUP BY e.customer_id`, EventAccountConnected)
	if err != nil {
		return nil, fmt.Errorf("store: times to connect: %w", err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var created, connected time.Time
		if err := rows.Scan(timeCol{&created}, timeCol{&connected}); err != nil {
			return nil, err
		}
		out = append(out, connected.Sub(created))
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
