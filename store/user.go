package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// User is a member of the platform's staff who signs in to the admin UI.
type User struct {
	ID             int64
	Email          string
	PasswordHash   string
	SessionVersion int64
	LastLoginAt    *time.Time
	CreatedAt      time.Time
	Prefs          UserPrefs
	// DigestOn is the local date (YYYY-MM-DD) of the last daily digest.
	DigestOn string
	// Role is RoleAdmin or RoleOperator; DisabledAt is set when an admin disabled it.
	Role       string
	DisabledAt *time.Time
}

// Staff roles: admins also manage branding, webhooks, API tokens and staff.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
)

// Admin reports whether the user may manage the portal's settings and staff.
func (u *User) Admin() bool { return u.Role == RoleAdmin }

// UserPrefs is how a staff user wants to be alerted.
type UserPrefs struct {
	// TimeZone is the IANA zone of the digest's 09:00 ("": the portal's default).
	TimeZone string
	// AlertEmail: an email at once for each failed signup and unconfirmed return.
	AlertEmail bool
	// AlertDigest: a daily digest of the needs-attention queue.
	AlertDigest bool
}

const userColumns = `id, email, password_hash, session_version, last_login_at, created_at, COALESCE(time_zone, ''), alert_email,
	alert_digest, COALESCE(digest_on, ''), role, disabled_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var last, disabled nullTime
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.SessionVersion, &last, timeCol{&u.CreatedAt}, &u.Prefs.TimeZone,
		&u.Prefs.AlertEmail, &u.Prefs.AlertDigest, &u.DigestOn, &u.Role, &disabled)
	if err != nil {
		return nil, err
	}
	u.LastLoginAt, u.DisabledAt = last.T, disabled.T
	return &u, nil
}

// SaveUserPrefs stores a staff user's alert preferences.
func (db *DB) SaveUserPrefs(ctx context.Context, id int64, p UserPrefs) error {
	_, err := db.exec(ctx, `UPDATE staff_users SET time_zone = ?, alert_email = ?, alert_digest = ?, updated_at = ? WHERE id = ?`,
		nullString(p.TimeZone), p.AlertEmail, p.AlertDigest, db.now(), id)
	if err != nil {
		return fmt.Errorf("store: save preferences: %w", err)
	}
	return nil
}

// MarkDigest records the local date of a user's digest in the transaction that queues
// it; false when that date's digest was recorded already.
func (tx *Tx) MarkDigest(ctx context.Context, userID int64, localDate string) (bool, error) {
	res, err := tx.tx.ExecContext(ctx, `UPDATE staff_users SET digest_on = ? WHERE id = ? AND (digest_on IS NULL OR digest_on < ?)`,
		localDate, userID, localDate)
	if err != nil {
		return false, fmt.Errorf("store: mark digest: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CreateUser adds a staff user with an already hashed password. A taken email (in any
// letter case) is ErrConflict.
func (db *DB) CreateUser(ctx context.Context, email, passwordHash string) (*User, error) {
	email = strings.TrimSpace(email)
	now := db.now()
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO staff_users (email, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			email, passwordHash, now, now)
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return audit(ctx, tx, now, "portal user add", "added", email, "as admin")
	})
	if isUnique(err) {
		return nil, fmt.Errorf("store: create user %s: %w", email, ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("store: create user: %w", err)
	}
	return db.UserByID(ctx, id)
}

// ErrNotFirst is CreateFirstUser finding a staff user already there.
var ErrNotFirst = errors.New("store: a staff user exists already")

// CreateFirstUser adds the first staff user, only while there is none: of requests at
// once, one succeeds and the others get ErrNotFirst.
func (db *DB) CreateFirstUser(ctx context.Context, email, passwordHash string) (*User, error) {
	email = strings.TrimSpace(email)
	now := db.now()
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO staff_users (email, password_hash, created_at, updated_at)
			SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM staff_users)`, email, passwordHash, now, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFirst
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return audit(ctx, tx, now, "first-run setup link", "added", email, "as admin")
	})
	if errors.Is(err, ErrNotFirst) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("store: create first user: %w", err)
	}
	return db.UserByID(ctx, id)
}

// UserByID returns one staff user.
func (db *DB) UserByID(ctx context.Context, id int64) (*User, error) {
	return db.userWhere(ctx, "id = ?", id)
}

// UserByEmail returns the staff user with that email, in any letter case.
func (db *DB) UserByEmail(ctx context.Context, email string) (*User, error) {
	return db.userWhere(ctx, "email = ?", strings.TrimSpace(email))
}

func (db *DB) userWhere(ctx context.Context, where string, arg any) (*User, error) {
	row := db.queryRow(ctx, `SELECT `+userColumns+` FROM staff_users WHERE `+where, arg)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: user: %w", err)
	}
	return u, nil
}

// Users lists every staff user, oldest first.
func (db *DB) Users(ctx context.Context) ([]*User, error) { return db.users(ctx, "") }

// ActiveUsers lists the staff users not disabled: the ones alerts go to.
func (db *DB) ActiveUsers(ctx context.Context) ([]*User, error) {
	return db.users(ctx, " WHERE disabled_at IS NULL")
}

func (db *DB) users(ctx context.Context, where string) ([]*User, error) {
	rows, err := db.query(ctx, `SELECT `+userColumns+` FROM staff_users`+where+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	defer rows.Close()
	var users []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: users: %w", err)
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// CountUsers returns how many staff users exist (zero means first run).
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT count(*) FROM staff_users`).Scan(&n)
	return n, err
}

// RecordLoginSuccess notes the sign-in time.
func (db *DB) RecordLoginSuccess(ctx context.Context, id int64) error {
	now := db.now()
	_, err := db.exec(ctx, `UPDATE staff_users SET last_login_at = ?, updated_at = ? WHERE id = ?`, now, now, id)
	if err != nil {
		return fmt.Errorf("store: login success: %w", err)
	}
	return nil
}

// BumpSessionVersion invalidates every session cookie issued to the user so far.
func (db *DB) BumpSessionVersion(ctx context.Context, id int64) (int64, error) {
	var v int64
	err := db.queryRow(ctx, `UPDATE staff_users SET session_version = session_version + 1, updated_at = ?
		WHERE id = ? RETURNING session_version`, db.now(), id).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: bump session version: %w", err)
	}
	return v, nil
}

// SetPassword stores a new password hash, invalidates the user's sessions and audits
// the change.
func (db *DB) SetPassword(ctx context.Context, id int64, hash string) (int64, error) {
	var v int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		var email string
		if err := tx.QueryRowContext(ctx, `UPDATE staff_users SET password_hash = ?, session_version = session_version + 1,
			updated_at = ? WHERE id = ? RETURNING session_version, email`, hash, now, id).Scan(&v, &email); err != nil {
			return err
		}
		return audit(ctx, tx, now, email, "password.changed", email, "")
	})
	if err != nil {
		return 0, fmt.Errorf("store: set password: %w", err)
	}
	return v, nil
}
