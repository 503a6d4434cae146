package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kirim-portal/portal/kirim"
)

// Customer is the local mirror of a Kirim customer plus what only the portal knows.
type Customer struct {
	ID      int64
	KirimID string
	// KirimInternalID is Kirim's internal id of the customer, which setup links carry;
	// empty until a link listing has shown it.
	KirimInternalID string
	Name            string
	Email           string // empty when Kirim has none
	Status          string
	Metadata        map[string]any
	TeamID          string
	Locale          string
	Stage           string
	StageReason     string
	// TimeZone is the IANA zone reminders are timed in (empty: from the locale, see
	// onboarding.CustomerZone); FollowUpPaused stops the follow-up for this customer.
	TimeZone       string
	FollowUpPaused bool
	ArchivedAt     *time.Time
	// Phones lists the customer's WhatsApp numbers (filled by the list query).
	Phones []string
	// LastActivity is the newest event on its timeline; LinkExpires when its newest
	// active link expires (nil: no active link).
	LastActivity   time.Time
	LinkExpires    *time.Time
	KirimCreatedAt time.Time
	KirimUpdatedAt time.Time
	SyncedAt       time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// CustomerMirror is what Kirim says about a customer.
type CustomerMirror struct {
	KirimID string
	Name    string
	// Email is empty when Kirim has none.
	Email      string
	Status     string
	Metadata   map[string]any
	TeamID     string
	ArchivedAt *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

const customerColumns = `c.id, c.kirim_id, c.name, c.email, c.status, c.metadata, c.team_id, c.locale, c.stage,
	c.stage_reason, c.archived_at, c.kirim_created_at, c.kirim_updated_at, c.synced_at, c.created_at, c.updated_at,
	c.kirim_internal_id, c.time_zone, c.follow_up_paused, ` + phonesColumn + `,
	(SELECT last_at FROM customer_milestones m WHERE m.customer_id = c.id),
	(SELECT max(expires_at) FROM setup_links l WHERE l.customer_id = c.id AND +l.status = 'active')` // "+": by customer, not by status

// phonesColumn lists a customer's WhatsApp numbers.
const phonesColumn = `(SELECT group_concat(phone_number, ' ') FROM whatsapp_accounts a WHERE a.customer_id = c.id AND a.phone_number IS NOT NULL)`

func scanCustomer(row interface{ Scan(...any) error }) (*Customer, error) {
	var c Customer
	var cs customerScan
	if err := row.Scan(c.dest(&cs)...); err != nil {
		return nil, err
	}
	return c.done(&cs), nil
}

// customerScan holds what a row scan needs beside the customer's own fields.
type customerScan struct {
	email, metadata, team, reason, internal, zone, phones, last sql.NullString
	archived, linkExpires                                       nullTime
}

// dest lists the scan destinations of customerColumns; done finishes the customer.
func (c *Customer) dest(cs *customerScan) []any {
	return []any{&c.ID, &c.KirimID, &c.Name, &cs.email, &c.Status, &cs.metadata, &cs.team, &c.Locale, &c.Stage,
		&cs.reason, &cs.archived, timeCol{&c.KirimCreatedAt}, timeCol{&c.KirimUpdatedAt}, timeCol{&c.SyncedAt},
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}, &cs.internal, &cs.zone, &c.FollowUpPaused, &cs.phones, &cs.last, &cs.linkExpires}
}

func (c *Customer) done(cs *customerScan) *Customer {
	c.Email, c.TeamID, c.StageReason, c.ArchivedAt = cs.email.String, cs.team.String, cs.reason.String, cs.archived.T
	c.KirimInternalID, c.TimeZone = cs.internal.String, cs.zone.String
	c.LastActivity, c.LinkExpires = c.CreatedAt, cs.linkExpires.T
	if cs.last.Valid {
		c.LastActivity = parseTime(cs.last.String)
	}
	if cs.metadata.Valid {
		json.Unmarshal([]byte(cs.metadata.String), &c.Metadata)
	}
	if cs.phones.String != "" {
		c.Phones = strings.Fields(cs.phones.String)
	}
	return c
}

func metadataArg(m map[string]any) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// CustomerByID returns a customer by local id.
func (db *DB) CustomerByID(ctx context.Context, id int64) (*Customer, error) {
	return db.customerWhere(ctx, "c.id = ?", id)
}

// CustomerByKirimID returns a customer by its cus_ id.
func (db *DB) CustomerByKirimID(ctx context.Context, kirimID string) (*Customer, error) {
	return db.customerWhere(ctx, "c.kirim_id = ?", kirimID)
}

// CustomerByInternalID returns a customer by Kirim's internal id (see KirimInternalID).
func (db *DB) CustomerByInternalID(ctx context.Context, internalID string) (*Customer, error) {
	return db.customerWhere(ctx, "c.kirim_internal_id = ?", internalID)
}

// SetCustomerInternalID records Kirim's internal id of a customer, as a link showed it.
func (db *DB) SetCustomerInternalID(ctx context.Context, id int64, internalID string) error {
	_, err := db.exec(ctx, `UPDATE customers SET kirim_internal_id = ? WHERE id = ? AND kirim_internal_id IS NOT ?`,
		internalID, id, internalID)
	if isUnique(err) {
		return fmt.Errorf("store: internal id %s is another customer's: %w", internalID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: set internal id: %w", err)
	}
	return nil
}

func (db *DB) customerWhere(ctx context.Context, where string, arg any) (*Customer, error) {
	c, err := scanCustomer(db.queryRow(ctx, `SELECT `+customerColumns+` FROM customers c WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: customer: %w", err)
	}
	return c, nil
}

// CreateCustomer records a customer Kirim has just created, with its first event, and
// marks the intent that created it done, all in one transaction. A customer already
// mirrored (a webhook or a reconciliation was quicker) keeps its row and gets the
// portal's locale; the event is recorded once per intent.
func (db *DB) CreateCustomer(ctx context.Context, m CustomerMirror, locale, intentKey string, ev Event) (*Customer, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		err := tx.QueryRowContext(ctx, `SELECT id FROM customers WHERE kirim_id = ?`, m.KirimID).Scan(&id)
		switch {
		case err == nil:
			if _, err := tx.ExecContext(ctx, `UPDATE customers SET locale = ?, updated_at = ? WHERE id = ?`, locale, now, id); err != nil {
				return err
			}
		case errors.Is(err, sql.ErrNoRows):
			if id, err = insertCustomer(ctx, tx, m, locale, now, now); err != nil {
				return err
			}
		default:
			return err
		}
		if intentKey != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE remote_intents SET state = ?, result_ref = ?, last_error = NULL,
				updated_at = ? WHERE idem_key = ?`, IntentDone, m.KirimID, now, intentKey); err != nil {
				return err
			}
			ev.Key = intentKey
		}
		ev.CustomerID = &id
		_, err = db.addEvent(ctx, tx, ev)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: create customer: %w", err)
	}
	return db.CustomerByID(ctx, id)
}

// UpdateCustomerMirror stores what Kirim answered about a customer, with an event. An
// answer older than what the mirror holds (by Kirim's updated_at) changes nothing: a
// slow read must not undo a newer webhook.
func (db *DB) UpdateCustomerMirror(ctx context.Context, id int64, m CustomerMirror, ev *Event) error {
	return db.InTx(ctx, func(tx *Tx) error { return tx.UpdateCustomerMirror(ctx, id, m, ev) })
}

// UpdateCustomerMirror is DB.UpdateCustomerMirror in a transaction.
func (tx *Tx) UpdateCustomerMirror(ctx context.Context, id int64, m CustomerMirror, ev *Event) error {
	var stored string
	if err := tx.tx.QueryRowContext(ctx, `SELECT kirim_updated_at FROM customers WHERE id = ?`, id).Scan(&stored); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: update customer: %w", ErrNotFound)
		}
		return fmt.Errorf("store: update customer: %w", err)
	}
	if formatTime(m.UpdatedAt) >= stored {
		if err := updateCustomer(ctx, tx.tx, id, m, tx.db.now()); err != nil {
			return fmt.Errorf("store: update customer: %w", err)
		}
	}
	if ev != nil {
		ev.CustomerID = &id
		if _, err := tx.AddEvent(ctx, *ev); err != nil {
			return err
		}
	}
	return nil
}

// updateCustomer writes what Kirim says of a customer into its row.
func updateCustomer(ctx context.Context, tx *sql.Tx, id int64, m CustomerMirror, now string) error {
	meta, err := metadataArg(m.Metadata)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE customers SET name = ?, email = ?, status = ?, metadata = ?, team_id = ?,
		archived_at = ?, kirim_updated_at = ?, synced_at = ?, updated_at = ? WHERE id = ?`,
		m.Name, nullString(m.Email), m.Status, meta, m.TeamID, nullTimeArg(m.ArchivedAt), formatTime(m.UpdatedAt), now, now, id)
	return err
}

// SetCustomerStatus changes the mirrored status (after Kirim confirmed it), with an event.
func (db *DB) SetCustomerStatus(ctx context.Context, id int64, status string, archivedAt *time.Time, ev Event) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		res, err := tx.ExecContext(ctx, `UPDATE customers SET status = ?, archived_at = coalesce(?, archived_at),
			synced_at = ?, updated_at = ? WHERE id = ?`, status, nullTimeArg(archivedAt), now, now, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		ev.CustomerID = &id
		_, err = db.addEvent(ctx, tx, ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set customer status: %w", err)
	}
	return nil
}

// SetCustomerStage records the customer's onboarding stage.
func (db *DB) SetCustomerStage(ctx context.Context, id int64, stage, reason string) error {
	return db.InTx(ctx, func(tx *Tx) error { return tx.SetCustomerStage(ctx, id, stage, reason) })
}

// CustomerFilter selects a page of the customer list.
type CustomerFilter struct {
	Status string
	Stage  string
	// Search matches name, email and phone numbers (substring, any case).
	Search string
	// ExternalRef and Email match exactly (the email in any case): the API's lookups.
	ExternalRef string
	Email       string
	// ByActivity orders by last activity, newest first (without a search; a search
	// orders newest first).
	ByActivity bool
	// After is the cursor of the previous page's last row; empty for the first page.
	After string
	Limit int
}

// CustomerPage is one page of customers, newest first.
type CustomerPage struct {
	Customers []*Customer
	// Next is the cursor of the next page, empty on the last one.
	Next string
}

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("c" + strconv.FormatInt(id, 10)))
}

// activityCursor is the cursor of a page by last activity: the last row's time and id.
func activityCursor(c *Customer) string {
	return base64.RawURLEncoding.EncodeToString([]byte("a" + formatTime(c.LastActivity) + "|" + strconv.FormatInt(c.ID, 10)))
}

func decodeActivityCursor(s string) (string, int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	at, id, found := strings.Cut(string(b), "|")
	if err != nil || !found || len(at) < 2 || at[0] != 'a' {
		return "", 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return at[1:], n, err == nil && n > 0
}

func decodeCursor(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'c' {
		return 0, false
	}
	id, err := strconv.ParseInt(string(b[1:]), 10, 64)
	return id, err == nil && id > 0
}

// Customers returns a page of customers, newest first (in the order the portal learned
// of them), by keyset pagination on the id: any page costs the same however deep it is.
// A search of three or more characters walks the trigram index newest first and stops
// as soon as the page is full, so a word every customer shares costs no more than a rare
// one.
func (db *DB) Customers(ctx context.Context, f CustomerFilter) (*CustomerPage, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 25
	}
	if f.ByActivity && CleanSearch(f.Search) == "" {
		return db.customersByActivity(ctx, f)
	}
	before := int64(1<<63 - 1)
	if f.After != "" {
		id, ok := decodeCursor(f.After)
		if !ok {
			return nil, fmt.Errorf("store: customers: bad cursor: %w", ErrNotFound)
		}
		before = id
	}
	where, args := f.conditions()
	q := CleanSearch(f.Search)
	var rows []*Customer
	var err error
	switch {
	case q == "":
		rows, err = db.customerRows(ctx, append(where, "c.id < ?"), append(args, before), f.Limit+1)
	case len([]rune(q)) < 3:
		// Too short for trigrams: a scan, newest first, that stops when the page is full.
		like := containsPattern(q)
		rows, err = db.customerRows(ctx, append(where, "c.id < ?", `(c.name LIKE ? ESCAPE '\' OR c.email LIKE ? ESCAPE '\')`),
			append(args, before, like, like), f.Limit+1)
	default:
		rows, err = db.searchCustomers(ctx, q, where, args, before, f.Limit+1)
	}
	if err != nil {
		return nil, fmt.Errorf("store: customers: %w", err)
	}
	page := &CustomerPage{Customers: rows}
	if len(rows) > f.Limit {
		page.Customers = rows[:f.Limit]
		page.Next = encodeCursor(page.Customers[f.Limit-1].ID)
	}
	return page, nil
}

// conditions are the filter's exact matches, as SQL on customers c.
func (f CustomerFilter) conditions() (where []string, args []any) {
	if f.Status != "" {
		where, args = append(where, "c.status = ?"), append(args, f.Status)
	}
	if f.Stage != "" {
		where, args = append(where, "c.stage = ?"), append(args, f.Stage)
	}
	if f.ExternalRef != "" {
		where, args = append(where, "json_extract(c.metadata, '$.external_ref') = ?"), append(args, f.ExternalRef)
	}
	if f.Email != "" {
		where, args = append(where, "c.email = ? COLLATE NOCASE"), append(args, f.Email)
	}
	return where, args
}

// customersByActivity is a page of customers by last activity, newest first, walking
// the milestones' index.
func (db *DB) customersByActivity(ctx context.Context, f CustomerFilter) (*CustomerPage, error) {
	where, args := f.conditions()
	if f.After != "" {
		at, id, ok := decodeActivityCursor(f.After)
		if !ok {
			return nil, fmt.Errorf("store: customers: bad cursor: %w", ErrNotFound)
		}
		// A row value, so that the walk starts at the cursor in the index.
		where, args = append(where, "(m.last_at, m.customer_id) < (?, ?)"), append(args, at, id)
	}
	q := `SELECT ` + customerColumns + ` FROM customer_milestones m JOIN customers c ON c.id = m.customer_id`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := db.query(ctx, q+` ORDER BY m.last_at DESC, m.customer_id DESC LIMIT ?`, append(args, f.Limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("store: customers by activity: %w", err)
	}
	defer rows.Close()
	page := &CustomerPage{}
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, err
		}
		page.Customers = append(page.Customers, c)
	}
	if len(page.Customers) > f.Limit {
		page.Customers = page.Customers[:f.Limit]
		page.Next = activityCursor(page.Customers[f.Limit-1])
	}
	return page, rows.Err()
}

// likeEscaper escapes LIKE's wildcards; the queries name the backslash as ESCAPE.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// containsPattern is the LIKE pattern of a text containing q.
func containsPattern(q string) string { return "%" + likeEscaper.Replace(q) + "%" }

// maxSearch bounds a search text, in characters.
const maxSearch = 200

// CleanSearch makes a search text safe to match: invalid UTF-8 and control characters
// (a NUL byte, a tab) become spaces, runs of spaces one, at most 200 characters.
func CleanSearch(q string) string {
	q = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(q, " "))
	q = strings.Join(strings.Fields(q), " ")
	if r := []rune(q); len(r) > maxSearch {
		q = strings.TrimSpace(string(r[:maxSearch]))
	}
	return q
}

func (db *DB) customerRows(ctx context.Context, where []string, args []any, limit int) ([]*Customer, error) {
	q := `SELECT ` + customerColumns + ` FROM customers c`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := db.query(ctx, q+` ORDER BY c.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Customer
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// searchBatch is how many index matches a search reads at a time.
const searchBatch = 200

// trigrams returns the distinct lower-case three-character pieces of s, as the trigram
// tokenizer indexes them.
func trigrams(s string) []string {
	r := []rune(strings.ToLower(s))
	seen := map[string]bool{}
	var out []string
	for i := 0; i+3 <= len(r); i++ {
		t := string(r[i : i+3])
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// rareEnough is the match count under which a trigram is read whole from the index.
const rareEnough = 128

// likelyRare orders trigrams so that the ones with digits or symbols, rarer in names
// and addresses, are counted first.
func likelyRare(t string) int {
	score := 0
	for _, r := range t {
		switch {
		case unicode.IsDigit(r):
			score -= 2
		case !unicode.IsLetter(r) && r != ' ':
			score--
		}
	}
	return score
}

func ftsPhrase(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// countUpTo counts the customers matching an index query, stopping at rareEnough.
func (db *DB) countUpTo(ctx context.Context, match string) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM customer_search WHERE customer_search MATCH ? LIMIT ?)`,
		match, rareEnough).Scan(&n)
	return n, err
}

// searchCustomers finds customers whose name, email or phone number contains q, newest
// first, in time that does not grow with the number of customers:
//   - it counts, up to rareEnough, the customers holding a few of q's trigrams (the
//     likely rare ones first), then those holding the three rarest together;
//   - when that is few, all of them are read and those whose text really contains q
//     are kept;
//   - otherwise matches are plentiful: the index is walked newest first with the whole
//     of q and stops as soon as the page is full.
func (db *DB) searchCustomers(ctx context.Context, q string, where []string, args []any, before int64, limit int) ([]*Customer, error) {
	type tri struct {
		t string
		n int
	}
	var tris []tri
	candidates := trigrams(q)
	slices.SortStableFunc(candidates, func(a, b string) int { return likelyRare(a) - likelyRare(b) })
	for _, t := range candidates[:min(len(candidates), 6)] {
		n, err := db.countUpTo(ctx, ftsPhrase(t))
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil // a trigram no customer has: nothing can match
		}
		tris = append(tris, tri{t, n})
	}
	slices.SortStableFunc(tris, func(a, b tri) int { return a.n - b.n })
	var parts []string
	for _, t := range tris[:min(len(tris), 3)] {
		parts = append(parts, ftsPhrase(t.t))
	}
	match := strings.Join(parts, " AND ")
	n, err := db.countUpTo(ctx, match)
	if err != nil {
		return nil, err
	}
	if n < rareEnough {
		like := containsPattern(q)
		where = append(append([]string{}, where...), "c.id < ?",
			`c.id IN (SELECT rowid FROM customer_search WHERE customer_search MATCH ?)`,
			`(c.name LIKE ? ESCAPE '\' OR c.email LIKE ? ESCAPE '\' OR EXISTS (SELECT 1 FROM whatsapp_accounts a
				WHERE a.customer_id = c.id AND a.phone_number LIKE ? ESCAPE '\'))`)
		return db.customerRows(ctx, where, append(append([]any{}, args...), before, match, like, like, like), limit)
	}
	var out []*Customer
	for len(out) < limit {
		rows, err := db.query(ctx, `SELECT rowid FROM customer_search WHERE customer_search MATCH ? AND rowid < ?
			ORDER BY rowid DESC LIMIT ?`, ftsPhrase(q), before, searchBatch)
		if err != nil {
			return nil, err
		}
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			ids = append(ids, id)
			before = id
		}
		rows.Close()
		if len(ids) == 0 {
			break
		}
		found, err := db.customerRows(ctx, append(append([]string{}, where...), "c.id IN (?"+strings.Repeat(",?", len(ids)-1)+")"),
			append(append([]any{}, args...), ids...), limit-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
		if len(ids) < searchBatch {
			break
		}
	}
	return out, nil
}

// CustomerCounts are the numbers of customers in all, per status and per stage, kept
// by triggers so that reading them costs the same at any size.
type CustomerCounts struct {
	All      int
	ByStatus map[string]int
	ByStage  map[string]int
}

// CountCustomers reads the customer counters.
func (db *DB) CountCustomers(ctx context.Context) (*CustomerCounts, error) {
	rows, err := db.query(ctx, `SELECT kind, value, n FROM customer_counts`)
	if err != nil {
		return nil, fmt.Errorf("store: count customers: %w", err)
	}
	defer rows.Close()
	c := &CustomerCounts{ByStatus: map[string]int{}, ByStage: map[string]int{}}
	for rows.Next() {
		var kind, value string
		var n int
		if err := rows.Scan(&kind, &value, &n); err != nil {
			return nil, err
		}
		switch kind {
		case "all":
			c.All = n
		case "status":
			c.ByStatus[value] = n
		case "stage":
			c.ByStage[value] = n
		}
	}
	return c, rows.Err()
}

// SetCustomerLocale sets the language of the customer's emails and pages.
func (db *DB) SetCustomerLocale(ctx context.Context, id int64, locale string) error {
	return db.InTx(ctx, func(tx *Tx) error { return tx.SetCustomerLocale(ctx, id, locale) })
}

// CustomerCursor is the list cursor that starts the page after c.
func CustomerCursor(c *Customer) string { return encodeCursor(c.ID) }

// CustomerDiff is what reconciliation changed on one customer.
type CustomerDiff struct {
	CustomerID int64
	New        bool
	Fields     []string
}

// ReconcileCustomers brings these customers' mirror in line with Kirim in one
// transaction: unknown ones are added, changed ones updated, and every change is an
// event on the customer's timeline.
func (db *DB) ReconcileCustomers(ctx context.Context, ms []CustomerMirror, source string) ([]CustomerDiff, error) {
	var diffs []CustomerDiff
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		for _, m := range ms {
			meta, err := metadataArg(m.Metadata)
			if err != nil {
				return err
			}
			var id int64
			var name, status, updated string
			var email, metadata, team sql.NullString
			err = tx.QueryRowContext(ctx, `SELECT id, name, email, status, metadata, team_id, kirim_updated_at FROM customers WHERE kirim_id = ?`, m.KirimID).
				Scan(&id, &name, &email, &status, &metadata, &team, &updated)
			if errors.Is(err, sql.ErrNoRows) {
				if id, err = insertCustomer(ctx, tx, m, "en", formatTime(m.CreatedAt), now); err != nil {
					return err
				}
				if _, err := db.addEvent(ctx, tx, Event{CustomerID: &id, Kind: EventCustomerImported, Detail: map[string]any{"source": source}}); err != nil {
					return err
				}
				diffs = append(diffs, CustomerDiff{CustomerID: id, New: true})
				continue
			}
			if err != nil {
				return err
			}
			if formatTime(m.UpdatedAt) < updated {
				continue // older than the mirror: a late webhook or a slow page
			}
			var fields []string
			if name != m.Name {
				fields = append(fields, "name")
			}
			if email.String != m.Email {
				fields = append(fields, "email")
			}
			if status != m.Status {
				fields = append(fields, "status")
			}
			if !sameJSON(metadata.String, meta) {
				fields = append(fields, "metadata")
			}
			if team.String != m.TeamID {
				fields = append(fields, "team_id")
			}
			if len(fields) == 0 {
				if formatTime(m.UpdatedAt) == updated {
					continue
				}
				// Nothing to show, but remember how recent the mirror is, so that an
				// older answer arriving later is known to be older.
				if _, err := tx.ExecContext(ctx, `UPDATE customers SET kirim_updated_at = ?, archived_at = ?, synced_at = ? WHERE id = ?`,
					formatTime(m.UpdatedAt), nullTimeArg(m.ArchivedAt), now, id); err != nil {
					return err
				}
				continue
			}
			if err := updateCustomer(ctx, tx, id, m, now); err != nil {
				return err
			}
			detail := map[string]any{"fields": strings.Join(fields, ", "), "source": source}
			if status != m.Status {
				detail["from"], detail["to"] = status, m.Status
			}
			if _, err := db.addEvent(ctx, tx, Event{CustomerID: &id, Kind: EventCustomerSynced, Detail: detail}); err != nil {
				return err
			}
			diffs = append(diffs, CustomerDiff{CustomerID: id, Fields: fields})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: reconcile customers: %w", err)
	}
	return diffs, nil
}

// insertCustomer adds a customer row for what Kirim says of it.
// created is the row's created_at: now for a customer the portal made, Kirim's time
// for one imported.
func insertCustomer(ctx context.Context, tx *sql.Tx, m CustomerMirror, locale, created, now string) (int64, error) {
	meta, err := metadataArg(m.Metadata)
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO customers (kirim_id, name, email, status, metadata, team_id, locale,
		archived_at, kirim_created_at, kirim_updated_at, synced_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.KirimID, m.Name, nullString(m.Email), m.Status, meta, m.TeamID, locale, nullTimeArg(m.ArchivedAt),
		formatTime(m.CreatedAt), formatTime(m.UpdatedAt), now, created, now)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// sameJSON compares two JSON texts by value (key order does not matter).
func sameJSON(a string, b any) bool {
	bs, _ := b.(string)
	if a == bs {
		return true
	}
	var x, y any
	json.Unmarshal([]byte(a), &x)
	json.Unmarshal([]byte(bs), &y)
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// CustomersWithActiveLinks lists the customers that have a link the mirror thinks active.
func (db *DB) CustomersWithActiveLinks(ctx context.Context) ([]int64, error) {
	return db.ids(ctx, `SELECT DISTINCT customer_id FROM setup_links WHERE status = ?`, kirim.LinkActive)
}

// CustomerExtra is what the customer export adds to a customer.
type CustomerExtra struct {
	// LinkExpires is when the newest active link expires (nil: none).
	LinkExpires *time.Time
	// Connected are the numbers connected, space-separated.
	Connected string
	// LastEvent is the time of the customer's newest timeline event.
	LastEvent *time.Time
}

// CustomerExtras reads the export's extra columns of the given customers.
func (db *DB) CustomerExtras(ctx context.Context, ids []int64) (map[int64]CustomerExtra, error) {
	out := make(map[int64]CustomerExtra, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(ids)+3)
	args = append(args, kirim.LinkActive, db.now(), kirim.AccountConnected)
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := db.query(ctx, `SELECT c.id,
		(SELECT MAX(expires_at) FROM setup_links l WHERE l.customer_id = c.id AND l.status = ? AND l.expires_at > ?),
		(SELECT group_concat(phone_number, ' ') FROM whatsapp_accounts a WHERE a.customer_id = c.id AND a.status = ? AND a.phone_number IS NOT NULL),
		(SELECT created_at FROM events e WHERE e.customer_id = c.id ORDER BY created_at DESC, id DESC LIMIT 1)
		FROM customers c WHERE c.id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: customer extras: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var e CustomerExtra
		var expires, last nullTime
		var connected sql.NullString
		if err := rows.Scan(&id, &expires, &connected, &last); err != nil {
			return nil, err
		}
		e.LinkExpires, e.Connected, e.LastEvent = expires.T, connected.String, last.T
		out[id] = e
	}
	return out, rows.Err()
}
