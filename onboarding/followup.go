package onboarding

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

// The follow-up drives each emailed customer to connected: reminders about the link they
// were sent, timed in their daytime, and one fresh link when it expired unused. A
// customer's follow_ups row says when it is next due; a periodic scan finds the due rows
// through their index and enqueues one job a customer, which works out from the state
// what to do, does it, and plans the next time, in one transaction.

// Reminder kinds.
const (
	ReminderUnopened = "unopened" // the landing page was not opened after the email
	ReminderExpiring = "expiring" // the link expires soon and the customer has not connected
)

// FollowUpArgs works out a customer's follow-up.
type FollowUpArgs struct {
	CustomerID int64 `json:"customer_id"`
}

// Kind names the job.
func (FollowUpArgs) Kind() string { return "follow_up.customer" }

// InsertOpts makes it one at a time per customer.
func (FollowUpArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: whileQueued} }

// FollowUpScanArgs finds the customers whose follow-up is due.
type FollowUpScanArgs struct{}

// Kind names the job.
func (FollowUpScanArgs) Kind() string { return "follow_up.scan" }

// InsertOpts makes it one at a time.
func (FollowUpScanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: whileQueued}
}

// scanBatch bounds the customers one scan enqueues; the next scan takes the rest.
const scanBatch = 1000

// ScanFollowUps enqueues a follow-up job for each customer whose follow-up is due (the
// periodic scan's work). It returns how many were due.
func (s *Service) ScanFollowUps(ctx context.Context) (int, error) {
	ids, err := s.db.DueFollowUps(ctx, s.now(), scanBatch)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: FollowUpArgs{CustomerID: id}}
	}
	_, err = s.jobs.InsertMany(ctx, params)
	return len(ids), err
}

// jakarta is the zone of customers writing Bahasa Indonesia, unless they say otherwise.
const jakarta = "Asia/Jakarta"

// ZoneOf is the customer's time zone, as CustomerZone says under the saved policy.
func (s *Service) ZoneOf(ctx context.Context, c *store.Customer) (*time.Location, error) {
	p, err := s.db.FollowUpPolicy(ctx)
	if err != nil {
		return nil, err
	}
	return CustomerZone(c, p), nil
}

// CustomerZone is the zone a customer's reminders are timed in: its own, else the one
// its language implies (id: Asia/Jakarta), else the policy's default, else UTC.
func CustomerZone(c *store.Customer, p store.FollowUpPolicy) *time.Location {
	for _, name := range []string{c.TimeZone, map[string]string{"id": jakarta}[c.Locale], p.DefaultTimeZone} {
		if name == "" {
			continue
		}
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	return time.UTC
}

// sendAt returns t, or the start of the next sending window when t falls outside it
// (hours [start, end) in loc).
func sendAt(t time.Time, loc *time.Location, start, end int) time.Time {
	local := t.In(loc)
	if start >= end || local.Hour() >= start && local.Hour() < end {
		return t
	}
	day := local
	if local.Hour() >= end {
		day = local.AddDate(0, 0, 1)
	}
	return time.Date(day.Year(), day.Month(), day.Day(), start, 0, 0, 0, loc)
}

// reminderGap is the least time between two reminders to one customer.
const reminderGap = 12 * time.Hour

// reminder is a reminder that applies, and when it is due.
type reminder struct {
	kind string
	at   time.Time
}

// followUp works out one customer's follow-up: it stops it, sends what is due, and
// plans the next time. A reminder commits with the follow-up's record of it, so a job
// run again after a crash does not send it twice.
func (s *Service) followUp(ctx context.Context, j *river.Job[FollowUpArgs]) error {
	for range 4 { // a reminder sent, the next one may be due at once
		again, err := s.followUpOnce(ctx, j)
		if err != nil || !again {
			return err
		}
	}
	return nil
}

func (s *Service) followUpOnce(ctx context.Context, j *river.Job[FollowUpArgs]) (again bool, err error) {
	id := j.Args.CustomerID
	p, err := s.db.FollowUpPolicy(ctx)
	if err != nil {
		return false, err
	}
	c, err := s.db.CustomerByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	f, err := s.db.FollowUpOf(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	links, err := s.db.SetupLinks(ctx, id)
	if err != nil {
		return false, err
	}
	now := s.now()
	f.DueAt = nil
	stopped := !p.Enabled || c.FollowUpPaused || c.Email == "" || c.Stage == StageConnected ||
		c.Status != kirim.CustomerPending && c.Status != kirim.CustomerActive || len(links) == 0
	if stopped {
		return false, s.saveFollowUp(ctx, *f)
	}
	l := links[0]
	if f.LinkID != l.ID { // a new link: its own reminders
		f.LinkID, f.UnopenedSentAt, f.ExpiringSentAt, f.RemindersSent, f.ExhaustedAt = l.ID, nil, nil, 0, nil
	}
	loc := CustomerZone(c, p)
	switch LinkStatus(l, now) {
	case kirim.LinkExpired:
		if !p.FreshLinkOnExpiry || f.FreshLinkAt != nil {
			return false, s.saveFollowUp(ctx, *f)
		}
		if at := sendAt(now, loc, p.WindowStart, p.WindowEnd); at.After(now) {
			f.DueAt = &at
			return false, s.saveFollowUp(ctx, *f)
		}
		return true, s.sendFreshLink(ctx, c, l, *f, now)
	case kirim.LinkActive:
	default: // used or revoked: nothing to chase (the attention queue shows a revoked one)
		return false, s.saveFollowUp(ctx, *f)
	}

	var due []reminder
	var emailed *time.Time
	var opened bool
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if emailed, err = tx.LinkEmailedAt(ctx, id, l.KirimID); err != nil || emailed == nil {
			return err
		}
		opened, err = tx.OpenedSince(ctx, id, *emailed)
		return err
	})
	if err != nil {
		return false, err
	}
	if emailed != nil && f.RemindersSent < p.MaxReminders {
		if h := p.UnopenedAfterHours; h > 0 && f.UnopenedSentAt == nil && !opened {
			due = append(due, reminder{ReminderUnopened, emailed.Add(time.Duration(h) * time.Hour)})
		}
		if h := p.BeforeExpiryHours; h > 0 && f.ExpiringSentAt == nil {
			if at := l.ExpiresAt.Add(-time.Duration(h) * time.Hour); at.After(*emailed) {
				due = append(due, reminder{ReminderExpiring, at})
			}
		}
	}
	if len(due) == 0 {
		if f.RemindersSent > 0 && !opened && f.ExhaustedAt == nil {
			f.ExhaustedAt = &now // every reminder sent, never opened: a person should call
		}
		if p.FreshLinkOnExpiry && f.FreshLinkAt == nil {
			f.DueAt = &l.ExpiresAt // to send the fresh link
		}
		return false, s.saveFollowUp(ctx, *f)
	}
	next := due[0]
	if len(due) > 1 && due[1].at.Before(next.at) {
		next = due[1]
	}
	// Two reminders due together (a resumed follow-up) go out a while apart.
	for _, sent := range []*time.Time{f.UnopenedSentAt, f.ExpiringSentAt} {
		if sent != nil && next.at.Before(sent.Add(reminderGap)) {
			next.at = sent.Add(reminderGap)
		}
	}
	at := sendAt(next.at, loc, p.WindowStart, p.WindowEnd)
	if at.After(now) {
		f.DueAt = &at
		return false, s.saveFollowUp(ctx, *f)
	}
	return true, s.sendReminder(ctx, c, l, *f, next.kind, now)
}

func (s *Service) saveFollowUp(ctx context.Context, f store.FollowUp) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error { return tx.SaveFollowUp(ctx, f) })
}

// sendReminder queues a reminder about the customer's current link, with its event and
// the follow-up's new state, in one transaction: run twice, the job sends it once.
func (s *Service) sendReminder(ctx context.Context, c *store.Customer, l *store.SetupLink, f store.FollowUp, kind string, now time.Time) error {
	b, err := s.db.Branding(ctx)
	if err != nil {
		return err
	}
	token, err := s.db.LandingToken(ctx, l.ID)
	if err != nil {
		return err
	}
	zone, err := s.ZoneOf(ctx, c)
	if err != nil {
		return err
	}
	subject, html, text, err := s.mail.Renderer.ReminderEmail(ctx, ReminderEmail{Kind: kind, SetupEmail: SetupEmail{Locale: c.Locale,
		Customer: c.Name, Zone: zone, LandingURL: s.LandingURL(token), ExpiresAt: l.ExpiresAt, Branding: b, LogoURL: s.LogoURL(b),
		SupportLine: b.SupportLine("")}})
	if err != nil {
		return err
	}
	status := store.EmailQueued
	if s.mail.DevOutbox {
		status = store.EmailHeld
	}
	fromName, from := s.Sender(b)
	domain := from[strings.LastIndex(from, "@")+1:]
	switch kind {
	case ReminderUnopened:
		f.UnopenedSentAt = &now
	case ReminderExpiring:
		f.ExpiringSentAt = &now
	}
	f.RemindersSent++
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.QueueEmail(ctx, store.Email{CustomerID: &c.ID, Kind: "reminder", FromName: fromName, From: from, To: c.Email,
			Subject: subject, HTML: html, Text: text, Status: status,
			MessageID: fmt.Sprintf("<reminder.%d.%s@%s>", l.ID, kind, domain)},
			store.Event{Kind: store.EventReminderQueued, Actor: "follow-up", Detail: map[string]any{"to": c.Email, "link": l.KirimID, "reminder": kind}}); err != nil {
			return err
		}
		return tx.SaveFollowUp(ctx, f)
	})
	if err == nil {
		s.wake()
	}
	return err
}

// sendFreshLink emails a fresh link once the customer's link expired unused. It is
// recorded as sent before Kirim is asked, so that a crash between the two leaves the
// customer without a second automatic link rather than with two (the attention queue
// shows the expired link to staff).
func (s *Service) sendFreshLink(ctx context.Context, c *store.Customer, l *store.SetupLink, f store.FollowUp, now time.Time) error {
	f.FreshLinkAt = &now
	if err := s.saveFollowUp(ctx, f); err != nil {
		return err
	}
	e, err := s.SendLinkEmail(ctx, c.ID, true, "follow-up")
	if err != nil {
		f.FreshLinkAt = nil // nothing went out: the job tries again
		return errors.Join(err, s.saveFollowUp(context.WithoutCancel(ctx), f))
	}
	_, err = s.db.AddEvent(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventFreshLinkAuto, Actor: "follow-up",
		Detail: map[string]any{"expired_link": l.KirimID, "email": e.ID}})
	return err
}

// FollowUpInput is the follow-up settings form.
type FollowUpInput struct {
	Enabled            bool
	UnopenedAfterHours string
	BeforeExpiryHours  string
	MaxReminders       string
	WindowStart        string
	WindowEnd          string
	DefaultTimeZone    string
	FreshLinkOnExpiry  bool
	// AlertWebhookURL replaces the team channel's URL; ClearWebhook removes it. Left
	// empty, the URL stays as it is (the form never shows it back).
	AlertWebhookURL string
	ClearWebhook    bool
}

// SaveFollowUpPolicy checks the form and stores the policy; every planned follow-up is
// worked out again under it.
func (s *Service) SaveFollowUpPolicy(ctx context.Context, in FollowUpInput, actor string) (store.FollowUpPolicy, error) {
	p, err := s.db.FollowUpPolicy(ctx)
	if err != nil {
		return p, err
	}
	errs := FieldErrors{}
	num := func(field, raw string, lo, hi int, words string) int {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(raw), &n); err != nil || n < lo || n > hi {
			errs[field] = words
		}
		return n
	}
	p.Enabled, p.FreshLinkOnExpiry = in.Enabled, in.FreshLinkOnExpiry
	p.UnopenedAfterHours = num("unopened_after_hours", in.UnopenedAfterHours, 0, 720, "Give a number of hours from 0 (no such reminder) to 720.")
	p.BeforeExpiryHours = num("before_expiry_hours", in.BeforeExpiryHours, 0, 720, "Give a number of hours from 0 (no such reminder) to 720.")
	p.MaxReminders = num("max_reminders", in.MaxReminders, 0, 10, "Give a number from 0 to 10.")
	p.WindowStart = num("window_start", in.WindowStart, 0, 23, "Give an hour from 0 to 23.")
	p.WindowEnd = num("window_end", in.WindowEnd, 1, 24, "Give an hour from 1 to 24.")
	if errs["window_start"] == "" && errs["window_end"] == "" && p.WindowStart >= p.WindowEnd {
		errs["window_end"] = "The window must end after it starts."
	}
	zone := strings.TrimSpace(in.DefaultTimeZone)
	if _, err := time.LoadLocation(zone); err != nil || zone == "" || strings.EqualFold(zone, "local") {
		errs["default_time_zone"] = "Give an IANA time zone name, such as UTC, Asia/Jakarta or Europe/Berlin."
	}
	p.DefaultTimeZone = zone
	switch hook := strings.TrimSpace(in.AlertWebhookURL); {
	case in.ClearWebhook:
		p.AlertWebhookSealed = nil
	case hook != "":
		if msg := checkWebhookURL(hook); msg != "" {
			errs["alert_webhook_url"] = msg
		}
		p.AlertWebhookSealed = s.db.SealAlertWebhook(hook)
	}
	if len(errs) > 0 {
		return p, &InvalidError{errs}
	}
	return p, s.db.InTx(ctx, func(tx *store.Tx) error {
		return tx.SaveFollowUpPolicy(ctx, p, store.Event{Kind: store.EventFollowUpChanged, Actor: actor})
	})
}

// checkWebhookURL says what is wrong with a team channel's URL ("" when nothing).
func checkWebhookURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return "Give the webhook's full URL, starting with https://."
	}
	return ""
}

// SetFollowUpPaused pauses (or resumes) the follow-up of one customer; the timeline
// says who did it.
func (s *Service) SetFollowUpPaused(ctx context.Context, customerID int64, paused bool, actor string) error {
	if _, err := s.db.CustomerByID(ctx, customerID); err != nil {
		return err
	}
	kind := store.EventFollowUpResumed
	if paused {
		kind = store.EventFollowUpPaused
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		return tx.SetFollowUpPaused(ctx, customerID, paused, store.Event{Kind: kind, Actor: actor})
	})
	if err == nil && !paused {
		_, err = s.jobs.Insert(ctx, FollowUpArgs{CustomerID: customerID}, nil)
	}
	return err
}

// SetCustomerTimeZone sets the zone a customer's reminders are timed in ("": from its
// language).
func (s *Service) SetCustomerTimeZone(ctx context.Context, customerID int64, zone, actor string) error {
	zone = strings.TrimSpace(zone)
	if zone != "" {
		if _, err := time.LoadLocation(zone); err != nil || strings.EqualFold(zone, "local") {
			return &InvalidError{FieldErrors{"time_zone": "Give an IANA time zone name, such as Asia/Jakarta, or leave it empty."}}
		}
	}
	c, err := s.db.CustomerByID(ctx, customerID)
	if err != nil || c.TimeZone == zone {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		return tx.SetCustomerTimeZone(ctx, customerID, zone, store.Event{Kind: store.EventTimeZoneChanged, Actor: actor,
			Detail: map[string]any{"time_zone": zone}})
	})
}

// FollowUpStatus is what the customer page says of the follow-up.
type FollowUpStatus struct {
	Paused   bool
	Zone     string
	ZoneFrom string // "customer", "language" or "default"
	Next     *time.Time
	Sent     int
	Fresh    *time.Time
	Disabled bool
}

// FollowUpOf says where a customer's follow-up stands.
func (s *Service) FollowUpOf(ctx context.Context, c *store.Customer) (FollowUpStatus, error) {
	p, err := s.db.FollowUpPolicy(ctx)
	if err != nil {
		return FollowUpStatus{}, err
	}
	st := FollowUpStatus{Paused: c.FollowUpPaused, Zone: CustomerZone(c, p).String(), Disabled: !p.Enabled}
	switch {
	case c.TimeZone != "":
		st.ZoneFrom = "customer"
	case c.Locale == "id":
		st.ZoneFrom = "language"
	default:
		st.ZoneFrom = "default"
	}
	f, err := s.db.FollowUpOf(ctx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.Next, st.Sent, st.Fresh = f.DueAt, f.RemindersSent, f.FreshLinkAt
	return st, nil
}

// registerFollowUpWorkers adds the follow-up's workers.
func (s *Service) registerFollowUpWorkers(w *river.Workers) {
	jobs.Add(w, time.Minute, func(ctx context.Context, j *river.Job[FollowUpScanArgs]) error {
		_, err := s.ScanFollowUps(ctx)
		return err
	})
	jobs.Add(w, 2*time.Minute, s.followUp)
}
