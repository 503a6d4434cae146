package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Account is the mirror of a WhatsApp account.
type Account struct {
	ID              int64
	KirimID         string
	PhoneNumberID   string
	CustomerID      *int64
	KirimCustomerID string
	PhoneNumber     string
	Name            string
	Status          string
	OnboardedAt     *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// CustomerName is filled by the lists that join customers.
	CustomerName string
}

// AccountMirror is what Kirim says about an account.
type AccountMirror struct {
	KirimID         string
	PhoneNumberID   string
	PhoneNumber     string
	Name            string
	Status          string
	KirimCustomerID string
	OnboardedAt     *time.Time
}

// AccountChange is what MirrorAccount did to an account.
type AccountChange struct {
	Account    *Account
	New        bool
	FromStatus string
	// Changed is true when the account is new, its status moved, or it got its
	// phone_number_id.
	Changed bool
}

const accountColumns = `a.id, a.kirim_id, a.phone_number_id, a.customer_id, a.kirim_customer_id, a.phone_number, a.name,
	a.status, a.onboarded_at, a.created_at, a.updated_at, coalesce(c.name, '')`

func scanAccount(row interface{ Scan(...any) error }) (*Account, error) {
	var a Account
	var kid, pnid, kcid, phone, name sql.NullString
	var onboarded nullTime
	err := row.Scan(&a.ID, &kid, &pnid, &a.CustomerID, &kcid, &phone, &name, &a.Status, &onboarded,
		timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}, &a.CustomerName)
	if err != nil {
		return nil, err
	}
	a.KirimID, a.PhoneNumberID, a.KirimCustomerID, a.PhoneNumber, a.Name = kid.String, pnid.String, kcid.String, phone.String, name.String
	a.OnboardedAt = onboarded.T
	return &a, nil
}

func (db *DB) accounts(ctx context.Context, where string, args ...any) ([]*Account, error) {
	rows, err := db.query(ctx, `SELECT `+accountColumns+` FROM whatsapp_accounts a
		LEFT JOIN customers c ON c.id = a.customer_id WHERE `+where+` ORDER BY a.created_at, a.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	defer rows.Close()
	var out []*Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("store: accounts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Accounts lists a customer's accounts.
func (db *DB) Accounts(ctx context.Context, customerID int64) ([]*Account, error) {
	return db.accounts(ctx, "a.customer_id = ?", customerID)
}

// AccountsByStatus lists every account in one of the statuses (numbers needing attention).
func (db *DB) AccountsByStatus(ctx context.Context, statuses ...string) ([]*Account, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	q := "a.status IN (?" + strings.Repeat(",?", len(statuses)-1) + ")"
	args := make([]any, len(statuses))
	for i, s := range statuses {
		args[i] = s
	}
	return db.accounts(ctx, q, args...)
}

// AccountByID returns one account.
func (db *DB) AccountByID(ctx context.Context, id int64) (*Account, error) {
	list, err := db.accounts(ctx, "a.id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNotFound
	}
	return list[0], nil
}

// MirrorAccount stores what Kirim says of an account: a new one is added, a known one
// (by Kirim's id, else its phone_number_id) updated. An account Kirim names by neither
// yet is skipped (ok false). The change tells what was there before; Changed is false
// when nothing that matters moved.
func (tx *Tx) MirrorAccount(ctx context.Context, m AccountMirror) (ch AccountChange, ok bool, err error) {
	if m.KirimID == "" && m.PhoneNumberID == "" {
		return AccountChange{}, false, nil
	}
	now := tx.db.now()
	var customerID *int64
	if m.KirimCustomerID != "" {
		var id int64
		err := tx.tx.QueryRowContext(ctx, `SELECT id FROM customers WHERE kirim_id = ?`, m.KirimCustomerID).Scan(&id)
		if err == nil {
			customerID = &id
		} else if !errors.Is(err, sql.ErrNoRows) {
			return ch, false, fmt.Errorf("store: mirror account: %w", err)
		}
	}
	var id int64
	var oldPhone sql.NullString
	err = tx.tx.QueryRowContext(ctx, `SELECT id, status, phone_number_id FROM whatsapp_accounts
		WHERE (kirim_id = ? AND ? <> '') OR (phone_number_id = ? AND ? <> '') LIMIT 1`,
		m.KirimID, m.KirimID, m.PhoneNumberID, m.PhoneNumberID).Scan(&id, &ch.FromStatus, &oldPhone)
	ch.New = errors.Is(err, sql.ErrNoRows)
	if err != nil && !ch.New {
		return ch, false, fmt.Errorf("store: mirror account: %w", err)
	}
	if ch.New {
		res, err := tx.tx.ExecContext(ctx, `INSERT INTO whatsapp_accounts (kirim_id, phone_number_id, customer_id, kirim_customer_id,
			phone_number, name, status, onboarded_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			nullString(m.KirimID), nullString(m.PhoneNumberID), customerID, nullString(m.KirimCustomerID),
			nullString(m.PhoneNumber), nullString(m.Name), m.Status, nullTimeArg(m.OnboardedAt), now, now)
		if err != nil {
			return ch, false, fmt.Errorf("store: mirror account: %w", err)
		}
		id, _ = res.LastInsertId()
	} else if _, err := tx.tx.ExecContext(ctx, `UPDATE whatsapp_accounts SET kirim_id = coalesce(?, kirim_id),
		phone_number_id = coalesce(?, phone_number_id), customer_id = coalesce(?, customer_id),
		kirim_customer_id = coalesce(?, kirim_customer_id), phone_number = coalesce(?, phone_number),
		name = coalesce(?, name), status = ?, onboarded_at = coalesce(?, onboarded_at), updated_at = ? WHERE id = ?`,
		nullString(m.KirimID), nullString(m.PhoneNumberID), customerID, nullString(m.KirimCustomerID),
		nullString(m.PhoneNumber), nullString(m.Name), m.Status, nullTimeArg(m.OnboardedAt), now, id); err != nil {
		return ch, false, fmt.Errorf("store: mirror account: %w", err)
	}
	ch.Changed = ch.New || ch.FromStatus != m.Status || (oldPhone.String == "" && m.PhoneNumberID != "")
	ch.Account, err = tx.accountByID(ctx, id)
	return ch, true, err
}

func (tx *Tx) accountByID(ctx context.Context, id int64) (*Account, error) {
	a, err := scanAccount(tx.tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM whatsapp_accounts a
		LEFT JOIN customers c ON c.id = a.customer_id WHERE a.id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("store: account: %w", err)
	}
	return a, nil
}
