package onboarding

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/store"
)

// Staff hear of failed signups and unconfirmed returns as they happen: by email (the
// staff users who ask for it) and in a team channel (a Slack-compatible webhook), at
// most once a customer an hour. Each alert is a job enqueued with the event that
// caused it; its emails go through the outbox once each (their Message-IDs are the
// alert's), its webhook is retried with backoff and its failures are shown on the
// follow-up settings page.

// AlertArgs delivers one alert.
type AlertArgs struct {
	AlertID int64 `json:"alert_id"`
}

// Kind names the job.
func (AlertArgs) Kind() string { return "alerts.deliver" }

// alertAttempts bounds the tries at the team channel (River's backoff: about 2 hours).
const alertAttempts = 8

// InsertOpts retries it with backoff, on the alerts' own queue.
func (AlertArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: whileQueued, MaxAttempts: alertAttempts, Queue: jobs.QueueAlerts}
}

// DigestArgs sends the daily digests that are due.
type DigestArgs struct{}

// Kind names the job.
func (DigestArgs) Kind() string { return "alerts.digest" }

// InsertOpts makes it one at a time.
func (DigestArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: whileQueued} }

// digestHour is the local hour of the daily digest.
const digestHour = 9

// Alert kinds, as the alert's words say them.
const (
	AlertSignupFailed = "signup failed"
	AlertUnconfirmed  = "return not confirmed"
)

// alertWebhook returns the team channel's URL: the environment's, else the policy's.
func (s *Service) alertWebhook(p store.FollowUpPolicy) (string, error) {
	if s.alertWebhookEnv != "" {
		return s.alertWebhookEnv, nil
	}
	return s.db.AlertWebhook(p)
}

// AlertWebhookFromEnv reports whether PORTAL_ALERT_WEBHOOK_URL sets the team channel
// (the settings page then shows it as fixed).
func (s *Service) AlertWebhookFromEnv() bool { return s.alertWebhookEnv != "" }

// alertChannels says how staff hear of alerts: the team channel's URL ("" for none)
// and whether any staff user asked for alert emails.
func (s *Service) alertChannels(ctx context.Context) (hook string, emails bool, err error) {
	p, err := s.db.FollowUpPolicy(ctx)
	if err != nil {
		return "", false, err
	}
	if hook, err = s.alertWebhook(p); err != nil {
		return "", false, err
	}
	users, err := s.db.ActiveUsers(ctx)
	for _, u := range users {
		emails = emails || u.Prefs.AlertEmail
	}
	return hook, emails, err
}

// StaffAlerted reports whether staff hear of failures at once (a team channel or alert
// emails): the customer's pages say what really happens next.
func (s *Service) StaffAlerted(ctx context.Context) (bool, error) {
	hook, emails, err := s.alertChannels(ctx)
	return hook != "" || emails, err
}

// raiseAlert records an alert about the customer in tx and enqueues its delivery, unless
// the customer had one within the hour or nobody listens.
func (s *Service) raiseAlert(ctx context.Context, tx *store.Tx, c *store.Customer, kind, text string) error {
	hook, emails, err := s.alertChannels(ctx)
	if err != nil {
		return err
	}
	id, err := tx.RaiseAlert(ctx, c.ID, kind, text, hook != "")
	if err != nil || id == 0 || hook == "" && !emails {
		return err
	}
	_, err = s.jobs.InsertTx(ctx, tx.SQL(), AlertArgs{AlertID: id}, nil)
	return err
}

// customerURL is the admin page of a customer.
func (s *Service) customerURL(id int64) string {
	return fmt.Sprintf("%s/admin/customers/%d", s.publicURL, id)
}

// deliverAlert emails the staff users who asked for alerts (once each) and posts to the
// team channel.
func (s *Service) deliverAlert(ctx context.Context, j *river.Job[AlertArgs]) error {
	a, err := s.db.AlertByID(ctx, j.Args.AlertID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.emailAlert(ctx, a); err != nil {
		return err
	}
	if a.WebhookState != store.AlertPending {
		return nil
	}
	p, err := s.db.FollowUpPolicy(ctx)
	if err != nil {
		return err
	}
	hook, err := s.alertWebhook(p)
	if err != nil || hook == "" {
		return err
	}
	if err := s.postAlert(ctx, hook, a); err != nil {
		state := store.AlertPending
		if j.Attempt >= j.MaxAttempts {
			state = store.AlertFailed
		}
		s.log.Warn("the team channel refused an alert", "alert", a.ID, "attempt", j.Attempt, "err", err)
		return errors.Join(err, s.db.RecordAlertDelivery(context.WithoutCancel(ctx), a.ID, state, err.Error()))
	}
	return s.db.RecordAlertDelivery(ctx, a.ID, store.AlertSent, "")
}

// emailAlert queues the alert's email to every staff user who asked for alerts.
func (s *Service) emailAlert(ctx context.Context, a *store.Alert) error {
	users, err := s.db.ActiveUsers(ctx)
	if err != nil {
		return err
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return err
	}
	msg := StaffMessage{Subject: fmt.Sprintf("[%s] %s: %s", b.ProductName, a.Customer, a.Kind), Product: b.ProductName,
		Lead: a.Text, Rows: []StaffMessageRow{{Customer: a.Customer, What: a.Kind, Since: a.CreatedAt, URL: s.customerURL(a.CustomerID)}}}
	return s.emailAlertStaff(ctx, users, msg, func(uid int64) string { return fmt.Sprintf("alert.%d.%d", a.ID, uid) })
}

// emailAlertStaff queues msg to every staff user who asked for alert emails, once each
// (key names its Message-ID per user).
func (s *Service) emailAlertStaff(ctx context.Context, users []*store.User, msg StaffMessage, key func(userID int64) string) error {
	queued := false
	for _, u := range users {
		if !u.Prefs.AlertEmail {
			continue
		}
		n, err := s.queueStaffEmail(ctx, u, msg, key(u.ID), nil)
		if err != nil {
			return err
		}
		queued = queued || n
	}
	if queued {
		s.wake()
	}
	return nil
}

// queueStaffEmail queues a staff email under a Message-ID made of key (once: false when
// it was queued already); mark, when set, writes in the same transaction.
func (s *Service) queueStaffEmail(ctx context.Context, u *store.User, msg StaffMessage, key string, mark func(*store.Tx) (bool, error)) (bool, error) {
	return s.queueEmailTo(ctx, u.Email, msg, key, mark)
}

// queueEmailTo queues a staff email to an address (an invitation has no user yet).
func (s *Service) queueEmailTo(ctx context.Context, to string, msg StaffMessage, key string, mark func(*store.Tx) (bool, error)) (bool, error) {
	html, text, err := s.mail.Renderer.StaffMessage(ctx, msg)
	if err != nil {
		return false, err
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return false, err
	}
	fromName, from := s.Sender(b)
	status := store.EmailQueued
	if s.mail.DevOutbox {
		status = store.EmailHeld
	}
	domain := from[strings.LastIndex(from, "@")+1:]
	queued := false
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if mark != nil {
			if ok, err := mark(tx); err != nil || !ok {
				return err
			}
		}
		id, err := tx.QueueEmail(ctx, store.Email{Kind: "staff", FromName: fromName, From: from, To: to, Subject: msg.Subject,
			HTML: html, Text: text, Status: status, MessageID: "<" + key + "@" + domain + ">"},
			store.Event{Kind: store.EventEmailQueued, Actor: "alerts", Detail: map[string]any{"to": to, "staff": true}})
		queued = id != 0
		return err
	})
	return queued, err
}

// webhookClient posts alerts; a slow channel is given up on after 10 s.
var webhookClient = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// postAlert posts the alert to the team channel as Slack expects it ({"text": …}), with
// the customer, what happened and the customer's page as fields of their own for other
// receivers, and an Idempotency-Key for those that drop repeats. Its errors never name
// the URL (it holds the channel's token).
func (s *Service) postAlert(ctx context.Context, hook string, a *store.Alert) error {
	page := s.customerURL(a.CustomerID)
	body, _ := json.Marshal(map[string]any{
		"text":     fmt.Sprintf("%s: <%s|%s>. %s", strings.ToUpper(a.Kind[:1])+a.Kind[1:], page, slackEscape(a.Customer), slackEscape(a.Text)),
		"customer": a.Customer, "event": a.Kind, "url": page, "alert_id": a.ID,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return errors.New("the team channel's URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("portal-alert-%d", a.ID))
	resp, err := webhookClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return fmt.Errorf("the team channel did not answer: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the team channel answered %d", resp.StatusCode)
	}
	return nil
}

// slackEscape escapes the characters Slack's text treats as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// SendDigests queues the daily digest of every staff user who asked for one and whose
// local time has passed 09:00 today, once a day each. An empty queue sends nothing.
func (s *Service) SendDigests(ctx context.Context) (int, error) {
	users, err := s.db.ActiveUsers(ctx)
	if err != nil {
		return 0, err
	}
	p, err := s.db.FollowUpPolicy(ctx)
	if err != nil {
		return 0, err
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return 0, err
	}
	var rows []StaffMessageRow
	var total int
	loaded := false
	sent := 0
	for _, u := range users {
		if !u.Prefs.AlertDigest {
			continue
		}
		loc := userZone(u, p)
		local := s.now().In(loc)
		date := local.Format(time.DateOnly)
		if local.Hour() < digestHour || u.DigestOn >= date {
			continue
		}
		if !loaded {
			if rows, total, err = s.digestRows(ctx); err != nil {
				return sent, err
			}
			loaded = true
		}
		mark := func(tx *store.Tx) (bool, error) { return tx.MarkDigest(ctx, u.ID, date) }
		if total == 0 { // nothing needs anyone: the day counts as done, no email
			if err := s.db.InTx(ctx, func(tx *store.Tx) error { _, err := mark(tx); return err }); err != nil {
				return sent, err
			}
			continue
		}
		who := fmt.Sprintf("%d customers need", total)
		if total == 1 {
			who = "1 customer needs"
		}
		msg := StaffMessage{Subject: fmt.Sprintf("[%s] %s attention", b.ProductName, who), Product: b.ProductName,
			Lead: fmt.Sprintf("%s a person today. The queue: %s/admin/attention", who, s.publicURL), Rows: rows}
		ok, err := s.queueStaffEmail(ctx, u, msg, fmt.Sprintf("digest.%d.%s", u.ID, date), mark)
		if err != nil {
			return sent, err
		}
		if ok {
			sent++
		}
	}
	if sent > 0 {
		s.wake()
	}
	return sent, nil
}

// digestRows lists the queue for a digest (the newest 50) and its size.
func (s *Service) digestRows(ctx context.Context) ([]StaffMessageRow, int, error) {
	_, total, _, err := s.db.AttentionCounts(ctx)
	if err != nil || total == 0 {
		return nil, total, err
	}
	page, err := s.db.AttentionRows(ctx, store.AttentionFilter{Limit: 50})
	if err != nil {
		return nil, 0, err
	}
	rows := make([]StaffMessageRow, len(page.Rows))
	for i, a := range page.Rows {
		rows[i] = StaffMessageRow{Customer: a.Customer, What: AttentionWords(a.Kind, a.Detail), Since: a.Since, URL: s.customerURL(a.CustomerID)}
	}
	return rows, total, nil
}

// userZone is the zone of a staff user's digest: theirs, else the policy's default.
func userZone(u *store.User, p store.FollowUpPolicy) *time.Location {
	for _, name := range []string{u.Prefs.TimeZone, p.DefaultTimeZone} {
		if loc, err := time.LoadLocation(name); err == nil && name != "" {
			return loc
		}
	}
	return time.UTC
}

// StaffPrefsInput is the alert preferences form of /admin/account.
type StaffPrefsInput struct {
	TimeZone    string
	AlertEmail  bool
	AlertDigest bool
}

// SaveStaffPrefs checks and stores a staff user's alert preferences.
func (s *Service) SaveStaffPrefs(ctx context.Context, userID int64, in StaffPrefsInput) error {
	zone := strings.TrimSpace(in.TimeZone)
	if zone != "" {
		if _, err := time.LoadLocation(zone); err != nil || strings.EqualFold(zone, "local") {
			return &InvalidError{FieldErrors{"time_zone": "Give an IANA time zone name, such as Asia/Jakarta, or leave it empty."}}
		}
	}
	return s.db.SaveUserPrefs(ctx, userID, store.UserPrefs{TimeZone: zone, AlertEmail: in.AlertEmail, AlertDigest: in.AlertDigest})
}

// registerAlertWorkers adds the alerts' workers.
func (s *Service) registerAlertWorkers(w *river.Workers) {
	jobs.Add(w, time.Minute, s.deliverAlert)
	jobs.Add(w, 5*time.Minute, func(ctx context.Context, j *river.Job[DigestArgs]) error {
		_, err := s.SendDigests(ctx)
		return err
	})
}

// AlertWebhookOf returns the team channel's URL under the policy and where it is set:
// "environment" or "setting" ("" when none).
func (s *Service) AlertWebhookOf(p store.FollowUpPolicy) (hook, from string, err error) {
	if s.alertWebhookEnv != "" {
		return s.alertWebhookEnv, "environment", nil
	}
	hook, err = s.db.AlertWebhook(p)
	if hook != "" {
		from = "setting"
	}
	return hook, from, err
}
