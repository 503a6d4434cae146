package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// StaffLink is a one-time link for staff: an invitation (with the role it gives) or a
// password reset. Only the SHA-256 of its token is kept.
type StaffLink struct {
	ID        int64
	Kind      string
	Email     string
	Role      string
	ExpiresAt time.Time
	CreatedBy string
	CreatedAt time.Time
}

// Staff link kinds.
const (
	LinkInvite = "invite"
	LinkReset  = "reset"
)

// ErrLastAdmin is a change that would leave no active admin.
var ErrLastAdmin = errors.New("store: the portal needs at least one active admin")

// StaffAuditEntry is one change to the staff, for the audit list.
type StaffAuditEntry struct {
	Actor, Action, Target, Detail string
	At                            time.Time
}

func audit(ctx context.Context, tx *sql.Tx, now, actor, action, target, detail string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO staff_audit (actor, action, target, detail, created_at) VALUES (?, ?, ?, ?, ?)`,
		actor, action, target, nullString(detail), now)
	return err
}

// AddStaffLink records a one-time link (only its token's SHA-256 is kept), with its
// audit entry; an earlier open link of the same kind for the address stops working.
func (db *DB) AddStaffLink(ctx context.Context, l StaffLink, token string) error {
	tokenHash := linkHash(token)
	now := db.now()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE staff_links SET used_at = ? WHERE kind = ? AND email = ? AND used_at IS NULL`,
			now, l.Kind, l.Email); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO staff_links (kind, email, role, token_hash, expires_at, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, l.Kind, l.Email, nullString(l.Role), tokenHash, formatTime(l.ExpiresAt), l.CreatedBy, now); err != nil {
			return err
		}
		action, detail := "reset.sent", ""
		if l.Kind == LinkInvite {
			action, detail = "invited", "as "+l.Role
		}
		return audit(ctx, tx, now, l.CreatedBy, action, l.Email, detail)
	})
	if err != nil {
		return fmt.Errorf("store: staff link: %w", err)
	}
	return nil
}

// OpenStaffLink returns the unused, unexpired link of a token hash, or ErrNotFound.
func (db *DB) OpenStaffLink(ctx context.Context, kind, token string) (*StaffLink, error) {
	tokenHash := linkHash(token)
	var l StaffLink
	var role sql.NullString
	err := db.queryRow(ctx, `SELECT id, kind, email, role, expires_at, created_by, created_at FROM staff_links
		WHERE kind = ? AND token_hash = ? AND used_at IS NULL AND expires_at > ?`, kind, tokenHash, db.now()).
		Scan(&l.ID, &l.Kind, &l.Email, &role, timeCol{&l.ExpiresAt}, &l.CreatedBy, timeCol{&l.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: staff link: %w", err)
	}
	l.Role = role.String
	return &l, nil
}

// PendingInvites lists the invitations not yet used nor expired, newest first.
func (db *DB) PendingInvites(ctx context.Context) ([]StaffLink, error) {
	rows, err := db.query(ctx, `SELECT id, kind, email, coalesce(role, ''), expires_at, created_by, created_at FROM staff_links
		WHERE kind = 'invite' AND used_at IS NULL AND expires_at > ? ORDER BY id DESC`, db.now())
	if err != nil {
		return nil, fmt.Errorf("store: invites: %w", err)
	}
	defer rows.Close()
	var out []StaffLink
	for rows.Next() {
		var l StaffLink
		if err := rows.Scan(&l.ID, &l.Kind, &l.Email, &l.Role, timeCol{&l.ExpiresAt}, &l.CreatedBy, timeCol{&l.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// RevokeInvite ends an open invitation.
func (db *DB) RevokeInvite(ctx context.Context, id int64, actor string) error {
	now := db.now()
	return db.tx(ctx, func(tx *sql.Tx) error {
		var email string
		err := tx.QueryRowContext(ctx, `UPDATE staff_links SET used_at = ? WHERE id = ? AND kind = 'invite' AND used_at IS NULL
			RETURNING email`, now, id).Scan(&email)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "invite.revoked", email, "")
	})
}

// AcceptInvite uses an invitation: the staff user is made with the invitation's role
// and password, once. A taken address is ErrConflict; a used or expired link ErrNotFound.
func (db *DB) AcceptInvite(ctx context.Context, token, passwordHash string) (*User, error) {
	tokenHash := linkHash(token)
	now := db.now()
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var email, role string
		err := tx.QueryRowContext(ctx, `UPDATE staff_links SET used_at = ? WHERE kind = 'invite' AND token_hash = ?
			AND used_at IS NULL AND expires_at > ? RETURNING email, role`, now, tokenHash, now).Scan(&email, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO staff_users (email, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			email, passwordHash, role, now, now)
		if isUnique(err) {
			return ErrConflict
		}
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return audit(ctx, tx, now, email, "joined", email, "as "+role)
	})
	if err != nil {
		return nil, fmt.Errorf("store: accept invite: %w", err)
	}
	return db.UserByID(ctx, id)
}

// ResetPassword uses a reset link: the user's password changes and every session ends.
func (db *DB) ResetPassword(ctx context.Context, token, passwordHash string) (*User, error) {
	tokenHash := linkHash(token)
	now := db.now()
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var email string
		err := tx.QueryRowContext(ctx, `UPDATE staff_links SET used_at = ? WHERE kind = 'reset' AND token_hash = ?
			AND used_at IS NULL AND expires_at > ? RETURNING email`, now, tokenHash, now).Scan(&email)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `UPDATE staff_users SET password_hash = ?, session_version = session_version + 1,
			updated_at = ? WHERE email = ? AND disabled_at IS NULL RETURNING id`,
			passwordHash, now, email).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, now, email, "password.reset", email, "")
	})
	if err != nil {
		return nil, fmt.Errorf("store: reset password: %w", err)
	}
	return db.UserByID(ctx, id)
}

// activeAdmins counts the admins that are not disabled, but for user id.
func activeAdmins(ctx context.Context, tx *sql.Tx, except int64) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM staff_users WHERE role = 'admin' AND disabled_at IS NULL AND id != ?`, except).Scan(&n)
	return n, err
}

// SetRole changes a staff user's role. Demoting the last active admin is ErrLastAdmin.
func (db *DB) SetRole(ctx context.Context, id int64, role, actor string) error {
	now := db.now()
	return db.tx(ctx, func(tx *sql.Tx) error {
		if role != RoleAdmin {
			if n, err := activeAdmins(ctx, tx, id); err != nil || n == 0 {
				return cmpErr(err, ErrLastAdmin)
			}
		}
		var email, old string
		if err := tx.QueryRowContext(ctx, `SELECT email, role FROM staff_users WHERE id = ?`, id).Scan(&email, &old); err != nil {
			return notFound(err)
		}
		if old == role {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE staff_users SET role = ?, updated_at = ? WHERE id = ?`, role, now, id); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "role.changed", email, old+" → "+role)
	})
}

// SetDisabled disables a staff user (every session ends, sign-in refused) or enables
// it again. Disabling the last active admin is ErrLastAdmin.
func (db *DB) SetDisabled(ctx context.Context, id int64, disabled bool, actor string) error {
	now := db.now()
	return db.tx(ctx, func(tx *sql.Tx) error {
		var email, role string
		if err := tx.QueryRowContext(ctx, `SELECT email, role FROM staff_users WHERE id = ?`, id).Scan(&email, &role); err != nil {
			return notFound(err)
		}
		action, at := "enabled", any(nil)
		if disabled {
			if n, err := activeAdmins(ctx, tx, id); err != nil || (n == 0 && role == RoleAdmin) {
				return cmpErr(err, ErrLastAdmin)
			}
			action, at = "disabled", now
		}
		if _, err := tx.ExecContext(ctx, `UPDATE staff_users SET disabled_at = ?, session_version = session_version + 1,
			updated_at = ? WHERE id = ?`, at, now, id); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, action, email, "")
	})
}

// StaffAudit lists the newest changes to the staff.
func (db *DB) StaffAudit(ctx context.Context, limit int) ([]StaffAuditEntry, error) {
	rows, err := db.query(ctx, `SELECT actor, action, target, coalesce(detail, ''), created_at FROM staff_audit ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: staff audit: %w", err)
	}
	defer rows.Close()
	var out []StaffAuditEntry
	for rows.Next() {
		var e StaffAuditEntry
		if err := rows.Scan(&e.Actor, &e.Action, &e.Target, &e.Detail, timeCol{&e.At}); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// linkHash is what is kept of a staff link's token.
func linkHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// cmpErr is err, else fallback.
func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
