package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Tx is one transaction. A workflow composes the store's helpers in it, so that what
// one step of the workflow writes is written together or not at all:
//
//	err := db.InTx(ctx, func(tx *store.Tx) error {
//		if _, err := tx.CreateSetupLink(ctx, customerID, link, ev); err != nil {
//			return err
//		}
//		return tx.FinishIntent(ctx, key, ref)
//	})
//
// The exported methods of DB that write are such helpers run in a transaction of their
// own.
type Tx struct {
	tx *sql.Tx
	db *DB
}

// SQL returns the transaction, so that a job is enqueued in it (River's InsertTx).
func (tx *Tx) SQL() *sql.Tx { return tx.tx }

// InTx runs fn in one (immediate) transaction and commits when fn returns nil.
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	return db.tx(ctx, func(t *sql.Tx) error { return fn(&Tx{tx: t, db: db}) })
}

// inTx runs one helper in a transaction of its own.
func inTx[T any](ctx context.Context, db *DB, fn func(*Tx) (T, error)) (T, error) {
	var out T
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

// AddEvent appends an event to the timeline (see DB.AddEvent).
func (tx *Tx) AddEvent(ctx context.Context, e Event) (int64, error) {
	id, err := tx.db.addEvent(ctx, tx.tx, e)
	if err != nil {
		return 0, fmt.Errorf("store: add event: %w", err)
	}
	return id, nil
}

// SetCustomerStage records the customer's onboarding stage.
func (tx *Tx) SetCustomerStage(ctx context.Context, id int64, stage, reason string) error {
	_, err := tx.tx.ExecContext(ctx, `UPDATE customers SET stage = ?, stage_reason = ?, updated_at = ? WHERE id = ?`,
		stage, nullString(reason), tx.db.now(), id)
	if err != nil {
		return fmt.Errorf("store: set stage: %w", err)
	}
	return nil
}

// SetCustomerLocale sets the language of the customer's emails and pages.
func (tx *Tx) SetCustomerLocale(ctx context.Context, id int64, locale string) error {
	_, err := tx.tx.ExecContext(ctx, `UPDATE customers SET locale = ?, updated_at = ? WHERE id = ?`, locale, tx.db.now(), id)
	if err != nil {
		return fmt.Errorf("store: set locale: %w", err)
	}
	return nil
}

// FinishIntent marks an intent done with a reference to what it produced.
func (tx *Tx) FinishIntent(ctx context.Context, key, ref string) error {
	_, err := tx.tx.ExecContext(ctx, `UPDATE remote_intents SET state = ?, result_ref = ?, last_error = NULL, updated_at = ?
		WHERE idem_key = ?`, IntentDone, ref, tx.db.now(), key)
	if err != nil {
		return fmt.Errorf("store: finish intent: %w", err)
	}
	return nil
}
