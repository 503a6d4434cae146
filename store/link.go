package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SetupLink is the local mirror of a Kirim setup link. Its setup URL and landing token
// are sealed in the row; read them with SetupURL and LandingToken.
type SetupLink struct {
	ID                 int64
	KirimID            string
	CustomerID         int64
	Status             string
	TokenLast4         string
	ExpiresAt          time.Time
	ConsumedAt         *time.Time
	SuccessRedirectURL string
	FailureRedirectURL string
	// Attempts counts the customer's departures to Kirim with this link.
	Attempts       int
	scan           *linkScan
	KirimCreatedAt time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// NewSetupLink is a link Kirim has just created, with the secrets only the portal keeps.
type NewSetupLink struct {
	KirimID            string
	Status             string
	TokenLast4         string
	ExpiresAt          time.Time
	SuccessRedirectURL string
	FailureRedirectURL string
	KirimCreatedAt     time.Time
	// SetupURL is Kirim's one-time URL; LandingToken the portal's own token; ReturnKey
	// the path segment that binds the return pages to this link (kept hashed only).
	SetupURL     string
	LandingToken string
	ReturnKey    string
}

const linkColumns = `id, kirim_id, customer_id, status, token_last4, expires_at, consumed_at, success_redirect_url,
	failure_redirect_url, attempts, kirim_created_at, created_at, updated_at`

func scanLink(row interface{ Scan(...any) error }) (*SetupLink, error) {
	var l SetupLink
	err := row.Scan(l.dest()...)
	if err != nil {
		return nil, err
	}
	return l.done(), nil
}

// linkScan holds what a row scan needs beside the link's own fields.
type linkScan struct {
	consumed         nullTime
	success, failure sql.NullString
}

// dest lists the scan destinations of linkColumns; done finishes the link after.
func (l *SetupLink) dest() []any {
	l.scan = &linkScan{}
	return []any{&l.ID, &l.KirimID, &l.CustomerID, &l.Status, &l.TokenLast4, timeCol{&l.ExpiresAt}, &l.scan.consumed,
		&l.scan.success, &l.scan.failure, &l.Attempts, timeCol{&l.KirimCreatedAt}, timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt}}
}

func (l *SetupLink) done() *SetupLink {
	l.ConsumedAt, l.SuccessRedirectURL, l.FailureRedirectURL = l.scan.consumed.T, l.scan.success.String, l.scan.failure.String
	l.scan = nil
	return l
}

// linkWithCustomer reads a link and its customer; the customer's phone numbers, which
// a landing page does not show, are left out.
var linkWithCustomer = `SELECT l.` + strings.ReplaceAll(linkColumns, ", ", ", l.") + `, ` +
	strings.Replace(customerColumns, phonesColumn, "NULL", 1) + `
	FROM setup_links l JOIN customers c ON c.id = l.customer_id WHERE l.landing_token_hash = ?`

// SetupLinkWithCustomer finds the link a landing token belongs to and its customer, in
// one query (the landing page's hot path).
func (db *DB) SetupLinkWithCustomer(ctx context.Context, token string) (*SetupLink, *Customer, error) {
	hash := HashToken(token)
	gen := db.generation.Load()
	if l, c, ok := db.landings.get(string(hash), gen); ok {
		return l, c, nil
	}
	var l SetupLink
	var c Customer
	var cs customerScan
	dest := append(l.dest(), c.dest(&cs)...)
	err := db.queryRow(ctx, linkWithCustomer, hash).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("store: setup link by token: %w", err)
	}
	db.landings.put(string(hash), l.done(), c.done(&cs), gen)
	return &l, &c, nil
}

// landingCache keeps the landing page's last reads, each valid while no write has
// happened since it was read: a busy landing page then reads the database once per
// change instead of once per request.
type landingCache struct {
	mu sync.Mutex
	m  map[string]landingEntry
}

type landingEntry struct {
	link     SetupLink
	customer Customer
	gen      uint64
}

// maxLandings bounds the cache; when full it starts over.
const maxLandings = 1024

func (lc *landingCache) get(key string, gen uint64) (*SetupLink, *Customer, bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	e, ok := lc.m[key]
	if !ok || e.gen != gen {
		return nil, nil, false
	}
	l, c := e.link, e.customer // copies: callers may change them
	return &l, &c, true
}

func (lc *landingCache) put(key string, l *SetupLink, c *Customer, gen uint64) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.m == nil || len(lc.m) >= maxLandings {
		lc.m = map[string]landingEntry{}
	}
	lc.m[key] = landingEntry{link: *l, customer: *c, gen: gen}
}

// associated data binds a sealed value to its row and column: moved elsewhere, it
// does not open.
func linkAAD(id int64, column string) []byte {
	return []byte("setup_links/" + strconv.FormatInt(id, 10) + "/" + column)
}

// HashToken is how landing tokens are stored and looked up.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// CreateSetupLink stores a new link with its sealed secrets and an event, in one
// transaction.
func (db *DB) CreateSetupLink(ctx context.Context, customerID int64, l NewSetupLink, ev Event) (*SetupLink, error) {
	id, err := inTx(ctx, db, func(tx *Tx) (int64, error) { return tx.CreateSetupLink(ctx, customerID, l, ev) })
	if err != nil {
		return nil, err
	}
	return db.SetupLinkByID(ctx, id)
}

// CreateSetupLink is DB.CreateSetupLink in a transaction; it returns the link's id.
func (tx *Tx) CreateSetupLink(ctx context.Context, customerID int64, l NewSetupLink, ev Event) (int64, error) {
	if tx.db.keys == nil {
		return 0, errors.New("store: create setup link: no keys to seal secrets with")
	}
	now := tx.db.now()
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO setup_links (kirim_id, customer_id, status, token_last4, expires_at,
		success_redirect_url, failure_redirect_url, return_key_hash, landing_token_hash, kirim_created_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.KirimID, customerID, l.Status, l.TokenLast4, formatTime(l.ExpiresAt), nullString(l.SuccessRedirectURL),
		nullString(l.FailureRedirectURL), HashToken(l.ReturnKey), HashToken(l.LandingToken), formatTime(l.KirimCreatedAt), now, now)
	if isUnique(err) {
		return 0, fmt.Errorf("store: create setup link: %w", ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("store: create setup link: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	// The row id is the associated data, so the secrets are sealed once it exists.
	if _, err = tx.tx.ExecContext(ctx, `UPDATE setup_links SET setup_url_sealed = ?, landing_token_sealed = ? WHERE id = ?`,
		tx.db.keys.Seal([]byte(l.SetupURL), linkAAD(id, "setup_url")),
		tx.db.keys.Seal([]byte(l.LandingToken), linkAAD(id, "landing_token")), id); err != nil {
		return 0, fmt.Errorf("store: create setup link: %w", err)
	}
	ev.CustomerID = &customerID
	if _, err := tx.AddEvent(ctx, ev); err != nil {
		return 0, err
	}
	return id, nil
}

// SetupLinkByID returns one link.
func (db *DB) SetupLinkByID(ctx context.Context, id int64) (*SetupLink, error) {
	return db.linkWhere(ctx, "id = ?", id)
}

// SetupLinkByKirimID returns a link by its csl_ id.
func (db *DB) SetupLinkByKirimID(ctx context.Context, kirimID string) (*SetupLink, error) {
	return db.linkWhere(ctx, "kirim_id = ?", kirimID)
}

// CountAttempt records that the customer set off for Kirim with the link, and returns
// how many times that happened.
func (db *DB) CountAttempt(ctx context.Context, linkID int64) (int, error) {
	var n int
	err := db.queryRow(ctx, `UPDATE setup_links SET attempts = attempts + 1 WHERE id = ? RETURNING attempts`, linkID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: count attempt: %w", err)
	}
	return n, nil
}

// SetupLinkByReturnKey finds the link a return URL is bound to.
func (db *DB) SetupLinkByReturnKey(ctx context.Context, key string) (*SetupLink, error) {
	return db.linkWhere(ctx, "return_key_hash = ?", HashToken(key))
}

// hashLegacyReturnKeys replaces the return keys written before they were kept hashed.
func (db *DB) hashLegacyReturnKeys(ctx context.Context) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, return_key FROM setup_links WHERE return_key IS NOT NULL`)
		if err != nil {
			return err
		}
		keys := map[int64]string{}
		for rows.Next() {
			var id int64
			var key string
			if err := rows.Scan(&id, &key); err != nil {
				rows.Close()
				return err
			}
			keys[id] = key
		}
		rows.Close()
		for id, key := range keys {
			if _, err := tx.ExecContext(ctx, `UPDATE setup_links SET return_key_hash = ?, return_key = NULL,
				success_redirect_url = replace(success_redirect_url, ?, ?), failure_redirect_url = replace(failure_redirect_url, ?, ?)
				WHERE id = ?`, HashToken(key), "/r/"+key+"/", "/r/"+MaskedReturnKey+"/", "/r/"+key+"/", "/r/"+MaskedReturnKey+"/", id); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// MaskedReturnKey stands for the return key in the redirect URLs the mirror keeps.
const MaskedReturnKey = "[return-key]"

func (db *DB) linkWhere(ctx context.Context, where string, arg any) (*SetupLink, error) {
	l, err := scanLink(db.queryRow(ctx, `SELECT `+linkColumns+` FROM setup_links WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: setup link: %w", err)
	}
	return l, nil
}

// SetupLinks returns a customer's links, newest first.
func (db *DB) SetupLinks(ctx context.Context, customerID int64) ([]*SetupLink, error) {
	rows, err := db.query(ctx, `SELECT `+linkColumns+` FROM setup_links WHERE customer_id = ?
		ORDER BY created_at DESC, id DESC LIMIT 100`, customerID)
	if err != nil {
		return nil, fmt.Errorf("store: setup links: %w", err)
	}
	defer rows.Close()
	var out []*SetupLink
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, fmt.Errorf("store: setup links: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (db *DB) openSealed(ctx context.Context, id int64, column string) (string, error) {
	if db.keys == nil {
		return "", errors.New("store: no keys to open secrets with")
	}
	var sealed []byte
	if err := db.queryRow(ctx, `SELECT `+column+`_sealed FROM setup_links WHERE id = ?`, id).Scan(&sealed); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", ErrNotFound
		}
		return "", fmt.Errorf("store: %s: %w", column, err)
	}
	plain, err := db.keys.Open(sealed, linkAAD(id, column))
	if err != nil {
		return "", fmt.Errorf("store: %s of link %d: %w", column, id, err)
	}
	return string(plain), nil
}

// SetupURL decrypts the Kirim setup URL of a link.
func (db *DB) SetupURL(ctx context.Context, linkID int64) (string, error) {
	return db.openSealed(ctx, linkID, "setup_url")
}

// LandingToken decrypts the portal's landing token of a link.
func (db *DB) LandingToken(ctx context.Context, linkID int64) (string, error) {
	return db.openSealed(ctx, linkID, "landing_token")
}

// LinkMirror is what Kirim says about a link after a change.
type LinkMirror struct {
	Status             string
	ConsumedAt         *time.Time
	SuccessRedirectURL string
	FailureRedirectURL string
}

// UpdateSetupLinkMirror stores Kirim's view of a link, with an optional event. A link
// leaves active for exactly one of consumed, expired or revoked and never comes back,
// so once the mirror holds one of those, that status stays (a slower, older answer
// cannot undo it).
func (db *DB) UpdateSetupLinkMirror(ctx context.Context, id int64, m LinkMirror, ev *Event) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var customerID int64
		err := tx.QueryRowContext(ctx, `UPDATE setup_links SET
			status = CASE WHEN status IN ('consumed', 'expired', 'revoked') THEN status ELSE ? END,
			consumed_at = coalesce(?, consumed_at),
			success_redirect_url = ?, failure_redirect_url = ?, updated_at = ? WHERE id = ? RETURNING customer_id`,
			m.Status, nullTimeArg(m.ConsumedAt), nullString(m.SuccessRedirectURL), nullString(m.FailureRedirectURL), db.now(), id).Scan(&customerID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil || ev == nil {
			return err
		}
		ev.CustomerID = &customerID
		_, err = db.addEvent(ctx, tx, *ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: update setup link: %w", err)
	}
	return nil
}
