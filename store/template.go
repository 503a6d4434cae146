package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Template is a message template of an account, as last synced.
type Template struct {
	Name     string
	Language string
	Category string
	Status   string
	SyncedAt time.Time
}

// TemplateSync is one run of a template sync.
type TemplateSync struct {
	ID         int64
	AccountID  int64
	Trigger    string
	StartedAt  time.Time
	FinishedAt *time.Time
	Synced     int
	Created    int
	Updated    int
	Error      string
}

// StartTemplateSync records that a sync of the account began.
func (db *DB) StartTemplateSync(ctx context.Context, accountID int64, trigger string) (int64, error) {
	return db.StartTemplateSyncJob(ctx, accountID, trigger, 0, 0)
}

// StartTemplateSyncJob records that the job jobID (0: none) began a sync of the account,
// for the "sync all" run runID (0: none). The same job again (retried after a crash)
// gets its row back, unfinished.
func (db *DB) StartTemplateSyncJob(ctx context.Context, accountID int64, trigger string, jobID, runID int64) (int64, error) {
	var id int64
	err := db.queryRow(ctx, `INSERT INTO template_syncs (account_id, trigger, started_at, job_id, run_id) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (job_id) WHERE job_id IS NOT NULL DO UPDATE SET started_at = excluded.started_at, finished_at = NULL, error = NULL
		RETURNING id`, accountID, trigger, db.now(), nullInt(jobID), nullInt(runID)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: start template sync: %w", err)
	}
	return id, nil
}

func nullInt(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n != 0} }

// SyncRun is a "sync all" of the templates: its accounts, and how many are done.
type SyncRun struct {
	ID                  int64
	Actor               string
	Total, Done, Failed int
	StartedAt           time.Time
	FinishedAt          *time.Time
}

// StartSyncRun records a "sync all" run of total accounts.
func (tx *Tx) StartSyncRun(ctx context.Context, actor string, total int) (int64, error) {
	now := tx.db.now()
	var finished any
	if total == 0 {
		finished = now
	}
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO sync_runs (actor, total, started_at, finished_at) VALUES (?, ?, ?, ?)`,
		actor, total, now, finished)
	if err != nil {
		return 0, fmt.Errorf("store: start sync run: %w", err)
	}
	return res.LastInsertId()
}

// LastSyncRun returns the newest "sync all" run, or ErrNotFound.
func (db *DB) LastSyncRun(ctx context.Context) (*SyncRun, error) {
	var r SyncRun
	var fin nullTime
	err := db.queryRow(ctx, `SELECT id, actor, total, done, failed, started_at, finished_at FROM sync_runs ORDER BY id DESC LIMIT 1`).
		Scan(&r.ID, &r.Actor, &r.Total, &r.Done, &r.Failed, timeCol{&r.StartedAt}, &fin)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: sync run: %w", err)
	}
	r.FinishedAt = fin.T
	return &r, nil
}

// FinishTemplateSync records the outcome of a sync, the account's templates as they now
// are (on success), and an event on the customer's timeline, in one transaction. The
// counts are what the mirror really took in: templates stored, new ones, changed ones.
func (db *DB) FinishTemplateSync(ctx context.Context, syncID int64, templates []Template, syncErr string) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		var accountID int64
		var customerID *int64
		var phone sql.NullString
		var trigger string
		if err := tx.QueryRowContext(ctx, `SELECT s.account_id, a.customer_id, a.phone_number, s.trigger FROM template_syncs s
			JOIN whatsapp_accounts a ON a.id = s.account_id WHERE s.id = ?`, syncID).Scan(&accountID, &customerID, &phone, &trigger); err != nil {
			return err
		}
		synced, created, updated := 0, 0, 0
		templates = uniqueTemplates(templates)
		if syncErr == "" {
			var err error
			if created, updated, err = diffTemplates(ctx, tx, accountID, templates); err != nil {
				return err
			}
			synced = len(templates)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE template_syncs SET finished_at = ?, synced = ?, created = ?, updated = ?, error = ? WHERE id = ?`,
			now, synced, created, updated, nullString(syncErr), syncID); err != nil {
			return err
		}
		// A run counts its syncs as they stand (a retried job finishes its row again).
		if _, err := tx.ExecContext(ctx, `UPDATE sync_runs SET
			done = (SELECT COUNT(*) FROM template_syncs WHERE run_id = sync_runs.id AND finished_at IS NOT NULL),
			failed = (SELECT COUNT(*) FROM template_syncs WHERE run_id = sync_runs.id AND finished_at IS NOT NULL AND error IS NOT NULL)
			WHERE id = (SELECT run_id FROM template_syncs WHERE id = ?)`, syncID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_runs SET finished_at = COALESCE(finished_at, ?)
			WHERE id = (SELECT run_id FROM template_syncs WHERE id = ?) AND done >= total`, now, syncID); err != nil {
			return err
		}
		ev := Event{CustomerID: customerID, Kind: EventTemplatesSynced, Detail: map[string]any{"phone_number": phone.String,
			"trigger": trigger, "synced": synced, "created": created, "updated": updated}}
		if syncErr != "" {
			ev = Event{CustomerID: customerID, Kind: EventTemplatesSyncFailed, Detail: map[string]any{"phone_number": phone.String,
				"trigger": trigger, "reason": syncErr}}
		} else {
			if _, err := tx.ExecContext(ctx, `DELETE FROM templates WHERE account_id = ?`, accountID); err != nil {
				return err
			}
			for _, t := range templates {
				if _, err := tx.ExecContext(ctx, `INSERT INTO templates (account_id, name, language, category, status, synced_at)
					VALUES (?, ?, ?, ?, ?, ?)`, accountID, t.Name, t.Language, nullString(t.Category), t.Status, now); err != nil {
					return err
				}
			}
		}
		_, err := db.addEvent(ctx, tx, ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: finish template sync: %w", err)
	}
	return nil
}

// uniqueTemplates keeps one template per name and language (the last seen): a list
// read page by page may show one twice when it changes in between.
func uniqueTemplates(ts []Template) []Template {
	seen := map[[2]string]int{}
	var out []Template
	for _, t := range ts {
		k := [2]string{t.Name, t.Language}
		if i, ok := seen[k]; ok {
			out[i] = t
			continue
		}
		seen[k] = len(out)
		out = append(out, t)
	}
	return out
}

// diffTemplates counts how many of templates the account's mirror lacks and how many
// it holds with another status or category.
func diffTemplates(ctx context.Context, tx *sql.Tx, accountID int64, templates []Template) (created, updated int, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, language, coalesce(category, ''), status FROM templates WHERE account_id = ?`, accountID)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	have := map[[2]string]Template{}
	for rows.Next() {
		var t Template
		if err := rows.Scan(&t.Name, &t.Language, &t.Category, &t.Status); err != nil {
			return 0, 0, err
		}
		have[[2]string{t.Name, t.Language}] = t
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	for _, t := range templates {
		old, ok := have[[2]string{t.Name, t.Language}]
		switch {
		case !ok:
			created++
		case old.Status != t.Status || old.Category != t.Category:
			updated++
		}
	}
	return created, updated, nil
}

// Templates lists an account's templates.
func (db *DB) Templates(ctx context.Context, accountID int64) ([]Template, error) {
	rows, err := db.query(ctx, `SELECT name, language, coalesce(category, ''), status, synced_at FROM templates
		WHERE account_id = ? ORDER BY name, language`, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: templates: %w", err)
	}
	defer rows.Close()
	var out []Template
	for rows.Next() {
		var t Template
		if err := rows.Scan(&t.Name, &t.Language, &t.Category, &t.Status, timeCol{&t.SyncedAt}); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TemplateSyncs lists an account's sync runs, newest first.
func (db *DB) TemplateSyncs(ctx context.Context, accountID int64, limit int) ([]TemplateSync, error) {
	rows, err := db.query(ctx, `SELECT id, account_id, trigger, started_at, finished_at, coalesce(synced, 0),
		coalesce(created, 0), coalesce(updated, 0), coalesce(error, '') FROM template_syncs WHERE account_id = ?
		ORDER BY started_at DESC, id DESC LIMIT ?`, accountID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: template syncs: %w", err)
	}
	defer rows.Close()
	var out []TemplateSync
	for rows.Next() {
		var s TemplateSync
		var fin nullTime
		if err := rows.Scan(&s.ID, &s.AccountID, &s.Trigger, timeCol{&s.StartedAt}, &fin, &s.Synced, &s.Created, &s.Updated, &s.Error); err != nil {
			return nil, err
		}
		s.FinishedAt = fin.T
		out = append(out, s)
	}
	return out, rows.Err()
}
