package onboarding

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// Errors of the email and landing workflows.
var (
	ErrNoEmail    = errors.New("onboarding: the customer has no email address")
	ErrTooSoon    = errors.New("onboarding: a fresh link was sent moments ago")
	ErrLinkUsable = errors.New("onboarding: the link is still active")
	ErrLinkUsedUp = errors.New("onboarding: the link was already used")
)

// SetupEmail is what the setup-link email says; Renderer turns it into a message.
type SetupEmail struct {
	Locale string
	// Zone is the customer's time zone: times are written in it.
	Zone        *time.Location
	Customer    string
	LandingURL  string
	ExpiresAt   time.Time
	Branding    store.Branding
	LogoURL     string
	SupportLine string
}

// ReminderEmail is what a follow-up reminder says: the setup email's facts, and which
// reminder it is (ReminderUnopened, ReminderExpiring).
type ReminderEmail struct {
	SetupEmail
	Kind string
}

// StaffMessage is an alert or a digest for a staff user (in English, the admin UI's
// language).
type StaffMessage struct {
	Subject string
	// Lead is the first paragraph; Rows the customers it is about.
	Lead    string
	Rows    []StaffMessageRow
	Product string
	// Link is a button (an invitation, a password reset) labelled LinkLabel; Footer
	// replaces the alerts' footer.
	Link, LinkLabel, Footer string
}

// StaffMessageRow is a customer in a staff email, with what happened and its page.
type StaffMessageRow struct {
	Customer string
	What     string
	Since    time.Time
	URL      string
}

// Renderer renders emails (web/ adapts the templ views to it).
type Renderer interface {
	SetupEmail(ctx context.Context, e SetupEmail) (subject, html, text string, err error)
	ReminderEmail(ctx context.Context, e ReminderEmail) (subject, html, text string, err error)
	StaffMessage(ctx context.Context, e StaffMessage) (html, text string, err error)
}

// Mail configures sending.
type Mail struct {
	// From is the sender address when the branding sets none.
	From string
	// DevOutbox keeps emails in the outbox, marked held, instead of sending them.
	DevOutbox bool
	// Wake tells the mail worker an email is waiting.
	Wake func()
	// Renderer renders the emails.
	Renderer Renderer
}

// ErrNoSMTP is a send asked for while emails are kept in the dev outbox.
var ErrNoSMTP = errors.New("onboarding: no SMTP server is configured")

// DevOutbox reports whether emails are kept in the outbox instead of being sent.
func (s *Service) DevOutbox() bool { return s.mail.DevOutbox }

// wake tells the mail worker that an email is waiting.
func (s *Service) wake() {
	if s.mail.Wake != nil && !s.mail.DevOutbox {
		s.mail.Wake()
	}
}

// ResendEmail sends an email again (a failed, held or sent one). Other emails than
// setup links are queued again with their Message-ID.
func (s *Service) ResendEmail(ctx context.Context, id int64, actor string) (*Resent, error) {
	e, err := s.db.EmailByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.mail.DevOutbox {
		return &Resent{Email: e}, ErrNoSMTP
	}
	// A setup-link email is sent anew, with the link that works now (a new one when
	// the old one died) and its own Message-ID: the old email's link may be dead.
	if e.Kind == "setup_link" && e.CustomerID != nil {
		r, err := s.SendCurrentLink(ctx, *e.CustomerID, actor)
		if err != nil {
			return &Resent{Email: e}, err
		}
		return r, nil
	}
	if err := s.db.ResendEmail(ctx, e.ID, actor); err != nil {
		return &Resent{Email: e}, err
	}
	s.wake()
	return &Resent{Email: e}, nil
}

// Resent is an email sent again: NewLink when its link had to be replaced first.
type Resent struct {
	Email   *store.Email
	NewLink bool
}

// SendCurrentLink emails the customer the link that works now, making a new one when
// none does; NewLink says which.
func (s *Service) SendCurrentLink(ctx context.Context, customerID int64, actor string) (*Resent, error) {
	active, err := s.activeLink(ctx, customerID)
	if err != nil {
		return nil, err
	}
	e, err := s.SendLinkEmail(ctx, customerID, false, actor)
	if err != nil {
		return nil, err
	}
	return &Resent{Email: e, NewLink: active == nil}, nil
}

// Sender returns the sender name and address of emails.
func (s *Service) Sender(b store.Branding) (name, addr string) {
	name, addr = b.SenderName, b.SenderAddress
	if addr == "" {
		addr = s.mail.From
	}
	if addr == "" {
		addr = "onboarding@" + s.host()
	}
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
		if name == "" {
			name = a.Name
		}
	}
	if name == "" {
		name = b.ProductName
	}
	return name, addr
}

func (s *Service) host() string {
	h := strings.TrimPrefix(strings.TrimPrefix(s.publicURL, "https://"), "http://")
	if i := strings.IndexAny(h, ":/"); i >= 0 {
		h = h[:i]
	}
	if !strings.Contains(h, ".") {
		h += ".localdomain"
	}
	return h
}

// LogoURL is the public URL of the emails' logo (PNG or JPEG, for white), versioned by
// its hash; "" when none was uploaded, and the email shows the product name.
func (s *Service) LogoURL(b store.Branding) string {
	if b.EmailLogoPath() == "" {
		return ""
	}
	return s.publicURL + b.EmailLogoPath()
}

// activeLink returns the customer's newest link that is active now, if any.
func (s *Service) activeLink(ctx context.Context, customerID int64) (*store.SetupLink, error) {
	links, err := s.db.SetupLinks(ctx, customerID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, l := range links {
		if LinkStatus(l, now) == kirim.LinkActive {
			return l, nil
		}
	}
	return nil, nil
}

// SendLinkEmail emails the customer their landing link, generating a link first when
// fresh is asked for or none is active. The email is queued in the same transaction as
// its event, and sent by the mail worker (or held in the dev outbox).
func (s *Service) SendLinkEmail(ctx context.Context, customerID int64, fresh bool, actor string) (*store.Email, error) {
	return s.sendLinkEmail(ctx, customerID, fresh, actor, nil)
}

// sendLinkEmail is SendLinkEmail; also, when set, writes in the email's transaction
// (a batch row's outcome, so that a row run twice emails once).
func (s *Service) sendLinkEmail(ctx context.Context, customerID int64, fresh bool, actor string, also func(*store.Tx) error) (*store.Email, error) {
	c, err := s.db.CustomerByID(ctx, customerID)
	if err != nil {
		return nil, err
	}
	if c.Status == kirim.CustomerArchived {
		return nil, ErrArchived
	}
	if c.Email == "" {
		return nil, ErrNoEmail
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return nil, err
	}
	var link *store.SetupLink
	if !fresh {
		if link, err = s.activeLink(ctx, customerID); err != nil {
			return nil, err
		}
	}
	if link == nil {
		hours := b.DefaultLinkHours
		if hours < 1 || hours > 720 {
			hours = DefaultLinkHours
		}
		if link, err = s.IssueLink(ctx, customerID, hours, actor); err != nil {
			return nil, err
		}
	}
	token, err := s.db.LandingToken(ctx, link.ID)
	if err != nil {
		return nil, err
	}
	zone, err := s.ZoneOf(ctx, c)
	if err != nil {
		return nil, err
	}
	subject, html, text, err := s.mail.Renderer.SetupEmail(ctx, SetupEmail{Locale: c.Locale, Customer: c.Name, Zone: zone,
		LandingURL: s.LandingURL(token), ExpiresAt: link.ExpiresAt, Branding: b, LogoURL: s.LogoURL(b), SupportLine: b.SupportLine("")})
	if err != nil {
		return nil, err
	}
	status := store.EmailQueued
	if s.mail.DevOutbox {
		status = store.EmailHeld
	}
	fromName, from := s.Sender(b)
	domain := from[strings.LastIndex(from, "@")+1:]
	// The email, its event and the follow-up that chases the link, together.
	var id int64
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if id, err = tx.QueueEmail(ctx, store.Email{CustomerID: &c.ID, Kind: "setup_link", FromName: fromName, From: from, To: c.Email,
			Subject: subject, HTML: html, Text: text, MessageID: "<setup." + secret.NewToken(12) + "@" + domain + ">", Status: status},
			store.Event{Kind: store.EventEmailQueued, Actor: actor, Detail: map[string]any{"to": c.Email, "link": link.KirimID}}); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		return tx.PlanFollowUp(ctx, c.ID, s.now())
	})
	if err != nil {
		return nil, err
	}
	e, err := s.db.EmailByID(ctx, id)
	if err != nil {
		return nil, err
	}
	// An email kept in the dev outbox reached nobody: the customer is not "link sent".
	if !s.mail.DevOutbox {
		if err := s.advance(ctx, c, StageLinkSent); err != nil {
			return nil, err
		}
	}
	s.wake()
	return e, nil
}

// byLandingToken resolves a landing token to its link and customer. A token of an
// archived customer is as unknown as a made-up one.
func (s *Service) byLandingToken(ctx context.Context, token string) (*store.SetupLink, *store.Customer, error) {
	l, c, err := s.db.SetupLinkWithCustomer(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	if c.Status == kirim.CustomerArchived {
		return nil, nil, ErrNotFound
	}
	return l, c, nil
}

// Landing is what the landing page needs to know about a token.
type Landing struct {
	Customer *store.Customer
	Link     *store.SetupLink
	// Status is the link's status now: active, consumed, expired or revoked.
	Status   string
	Branding store.Branding
}

// OpenLanding resolves a landing token and records the visit. An unknown token, or one
// of an archived customer, is ErrNotFound.
func (s *Service) OpenLanding(ctx context.Context, token string) (*Landing, error) {
	l, c, err := s.byLandingToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if LinkStatus(l, s.now()) == kirim.LinkActive && s.refreshDue(c.ID) {
		// The mirror may lag (a link used moments ago): ask Kirim, at most every
		// refreshEvery per customer so that a busy page does not spend Kirim's read
		// budget; a Kirim outage must not keep the customer from the page.
		if err := s.RefreshLinks(ctx, c.ID); err == nil {
			if fresh, err := s.db.SetupLinkByID(ctx, l.ID); err == nil {
				l = fresh
			}
		}
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return nil, err
	}
	land := &Landing{Customer: c, Link: l, Status: LinkStatus(l, s.now()), Branding: b}
	if err := s.recordVisit(ctx, c, l, land.Status); err != nil {
		if !store.Unwritable(err) {
			return nil, err
		}
		// The customer still sees the page when the disk is full; the visit is lost.
		s.log.Error("landing visit not recorded: the database cannot be written", "customer", c.ID, "err", err)
	}
	return land, nil
}

// visitWindow is how long a reload counts as the same visit.
const visitWindow = 10 * time.Minute

// recordVisit puts a landing visit on the timeline, once per visitWindow. Visits this
// process recorded are remembered, so a busy page does not take the database's write
// lock on every request.
func (s *Service) recordVisit(ctx context.Context, c *store.Customer, l *store.SetupLink, status string) error {
	now := s.now()
	if last, ok := s.visits.Load(c.ID); ok && now.Sub(last.(time.Time)) < visitWindow {
		return nil
	}
	added, err := s.db.AddEventOnce(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventLandingOpened, Actor: "customer",
		Detail: map[string]any{"link": l.KirimID, "link_status": status}}, now.Add(-visitWindow))
	if err != nil {
		return err
	}
	s.visits.Store(c.ID, now)
	if added && status == kirim.LinkActive {
		return s.advance(ctx, c, StageOpened)
	}
	return nil
}

// refreshEvery is how often a landing page may ask Kirim about its customer's links.
const refreshEvery = 30 * time.Second

func (s *Service) refreshDue(customerID int64) bool {
	now := s.now()
	if last, ok := s.refreshed.Load(customerID); ok && now.Sub(last.(time.Time)) < refreshEvery {
		return false
	}
	s.refreshed.Store(customerID, now)
	return true
}

// Departure is where "Connect WhatsApp" sends the browser: Kirim's setup URL, for the
// link LinkID.
type Departure struct {
	URL    string
	LinkID string
}

// Connect records the click on "Connect WhatsApp" and returns Kirim's setup URL to send
// the browser to. Only an active link has one to give. The click goes on the timeline
// once in clickWindow (another site can make a browser fetch this URL); every one
// counts as an attempt, so that a failure after it is a new failure.
func (s *Service) Connect(ctx context.Context, token string) (*Departure, error) {
	l, c, err := s.byLandingToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if LinkStatus(l, s.now()) != kirim.LinkActive {
		return nil, ErrLinkNotActive
	}
	if c.Status == kirim.CustomerSuspended {
		return nil, ErrSuspended
	}
	url, err := s.db.SetupURL(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.CountAttempt(ctx, l.ID); err != nil {
		return nil, err
	}
	if _, err := s.db.AddEventOnce(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventLandingClicked, Actor: "customer",
		Detail: map[string]any{"link": l.KirimID}}, s.now().Add(-clickWindow)); err != nil {
		return nil, err
	}
	if err := s.advance(ctx, c, StageStarted); err != nil {
		return nil, err
	}
	return &Departure{URL: url, LinkID: l.KirimID}, nil
}

// clickWindow is how long repeated clicks on "Connect WhatsApp" count as one.
const clickWindow = 10 * time.Minute

// Fresh-link limits: a customer may ask for a new link once every few minutes, a few
// times a day; staff can always send more.
const (
	freshLinkGap    = 5 * time.Minute
	freshLinkPerDay = 3
)

// NextFreshLinkAt is when the customer may ask for another fresh link: a few minutes
// after the last request, or a day after the first of the day's last few.
func (s *Service) NextFreshLinkAt(ctx context.Context, customerID int64) (time.Time, error) {
	now := s.now()
	times, err := s.db.EventTimes(ctx, customerID, store.EventLinkFreshRequested, now.Add(-24*time.Hour))
	if err != nil || len(times) == 0 {
		return now, err
	}
	next := times[len(times)-1].Add(freshLinkGap)
	if day := times[max(0, len(times)-freshLinkPerDay)].Add(24 * time.Hour); len(times) >= freshLinkPerDay && day.After(next) {
		next = day
	}
	if next.Before(now) {
		next = now
	}
	return next, nil
}

// RequestFreshLink is the customer's "send me a fresh link" on the landing page of an
// expired or revoked link: a new Kirim link, emailed to the address on file. It returns
// the customer (for the answer's language) along with any refusal.
func (s *Service) RequestFreshLink(ctx context.Context, token string) (*store.Customer, error) {
	l, c, err := s.byLandingToken(ctx, token)
	if err != nil {
		return nil, err
	}
	switch LinkStatus(l, s.now()) {
	case kirim.LinkActive:
		return c, ErrLinkUsable
	case kirim.LinkConsumed:
		return c, ErrLinkUsedUp
	}
	if c.Email == "" {
		return c, ErrNoEmail
	}
	n, err := s.db.CountEvents(ctx, c.ID, "link.fresh_requested", s.now().Add(-24*time.Hour))
	if err != nil {
		return c, err
	}
	if n >= freshLinkPerDay {
		return c, ErrTooSoon
	}
	// Recording the request claims the slot: two clicks at once send one link.
	added, err := s.db.AddEventOnce(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventLinkFreshRequested, Actor: "customer",
		Detail: map[string]any{"link": l.KirimID}}, s.now().Add(-freshLinkGap))
	if err != nil {
		return c, err
	}
	if !added {
		return c, ErrTooSoon
	}
	_, err = s.SendLinkEmail(ctx, c.ID, true, "customer")
	return c, err
}
