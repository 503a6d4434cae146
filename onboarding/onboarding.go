// Package onboarding holds the portal's workflows: create and change customers, issue
// and revoke setup links. Each writes to Kirim first, then mirrors the answer locally in
// one transaction with its timeline event. It knows nothing of HTTP.
package onboarding

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// Onboarding stages, in the order a customer moves through them (the store's words).
const (
	StageCreated    = store.StageCreated
	StageLinkIssued = store.StageLinkIssued
	StageLinkSent   = store.StageLinkSent
	StageOpened     = store.StageOpened
	StageStarted    = store.StageStarted
	StageConnected  = store.StageConnected
	StageFailed     = store.StageFailed
)

// Stages lists every stage in order, for filters and funnels.
var Stages = []string{StageCreated, StageLinkIssued, StageLinkSent, StageOpened, StageStarted, StageConnected, StageFailed}

// Locales the emails and public pages are written in.
var Locales = []string{"en", "id"}

// Errors of the workflows, beside *kirim.Error from Kirim itself.
var (
	ErrArchived      = errors.New("onboarding: the customer is archived")
	ErrLinkNotActive = errors.New("onboarding: the setup link is no longer active")
	// ErrSuspended is a suspended customer trying to connect: staff put it on hold.
	ErrSuspended = errors.New("onboarding: the customer is suspended")
	// ErrStaleForm is a create form without its key (an old page, or a crafted request).
	ErrStaleForm = errors.New("onboarding: the form lacks its key")
	ErrNotFound  = store.ErrNotFound
)

// Service runs the workflows.
type Service struct {
	db        *store.DB
	kirim     *kirim.Client
	publicURL string
	log       *slog.Logger
	mail      Mail
	now       func() time.Time
	// refreshed remembers when each customer's links were last read from Kirim; visits
	// when this process last recorded a landing visit of each customer.
	refreshed sync.Map
	visits    sync.Map
	jobs      *jobs.Client
	// returnGrace is how long after an unconfirmed return a job looks again.
	returnGrace time.Duration
	// alertWebhookEnv is PORTAL_ALERT_WEBHOOK_URL: the team channel, fixed.
	alertWebhookEnv string
	// rec is the reconciliation's state.
	rec           reconcileState
	recheckDelays []time.Duration
	// wordsOf says an error as staff read it (Deps.Words).
	wordsOf func(error) string
	// webhookRetry is the first pause before an outgoing webhook is tried again.
	webhookRetry time.Duration
}

// Deps is everything the workflows need.
type Deps struct {
	DB    *store.DB
	Kirim *kirim.Client
	// PublicURL is where browsers reach the portal (redirect URLs given to Kirim,
	// landing links).
	PublicURL string
	Log       *slog.Logger
	Mail      Mail
	// Jobs is the job engine the workflows enqueue their background work in (see
	// RegisterWorkers).
	Jobs *jobs.Client
	// AlertWebhookURL is the team channel's webhook from the environment; when set, it
	// takes the place of the follow-up page's setting.
	AlertWebhookURL string
	// ReturnGrace is how long after a return Kirim had not confirmed a job looks again
	// and, still unconfirmed, tells staff (default 10 minutes; tests shorten it).
	ReturnGrace time.Duration
	// RecheckDelays are the waits before each new look at an account still onboarding
	// after a signup; nil takes the defaults (tests shorten them).
	RecheckDelays []time.Duration
	// Words says an error in the words staff read (the web's error table), for the
	// results of batch rows; nil: the error's own text.
	Words func(error) string
	// WebhookRetry is the first pause before a failed outgoing webhook is tried again
	// (default 30 s, doubling; tests shorten it).
	WebhookRetry time.Duration
}

// New returns the workflows over their dependencies.
func New(d Deps) *Service {
	s := &Service{db: d.DB, kirim: d.Kirim, publicURL: strings.TrimRight(d.PublicURL, "/"), log: d.Log, mail: d.Mail,
		jobs: d.Jobs, recheckDelays: d.RecheckDelays, alertWebhookEnv: d.AlertWebhookURL, wordsOf: d.Words}
	if s.recheckDelays == nil {
		s.recheckDelays = recheckDelays
	}
	s.webhookRetry = d.WebhookRetry
	if s.webhookRetry <= 0 {
		s.webhookRetry = 30 * time.Second
	}
	s.returnGrace = d.ReturnGrace
	if s.returnGrace <= 0 {
		s.returnGrace = 10 * time.Minute
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.now = func() time.Time { return d.DB.Now() } // one clock with the store, for tests
	return s
}

// FieldErrors maps form fields to what is wrong with them.
type FieldErrors map[string]string

// InvalidError is input that failed validation; nothing was changed.
type InvalidError struct{ Fields FieldErrors }

func (e *InvalidError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return "onboarding: invalid " + strings.Join(keys, ", ")
}

// MetaPair is one metadata row of the customer form.
type MetaPair struct{ Key, Value string }

// CustomerInput is the customer form, with fields named like Kirim's API.
type CustomerInput struct {
	Name     string
	Email    string
	TeamID   string
	Locale   string
	Metadata []MetaPair
	// SendLink asks CreateCustomer to email the new customer a setup link.
	SendLink bool
}

// Limits mirrored from Kirim, so that bad input is caught before it travels.
const (
	maxName         = 200
	maxEmail        = 255
	maxMetadataKeys = 64
	maxMetadataSize = 16 * 1024
	maxTeamID       = 64
)

// Normalize trims the input the way Kirim will (whitespace collapsed in the name).
func (in *CustomerInput) Normalize() {
	in.Name = strings.Join(strings.Fields(in.Name), " ")
	in.Email = strings.TrimSpace(in.Email)
	in.TeamID = strings.TrimSpace(in.TeamID)
	var pairs []MetaPair
	for _, p := range in.Metadata {
		p.Key = strings.TrimSpace(p.Key)
		if p.Key != "" || strings.TrimSpace(p.Value) != "" {
			pairs = append(pairs, p)
		}
	}
	in.Metadata = pairs
	if in.Locale == "" {
		in.Locale = "en"
	}
}

// Validate checks the input against Kirim's rules.
func (in *CustomerInput) Validate() FieldErrors {
	errs := FieldErrors{}
	switch n := utf8.RuneCountInString(in.Name); {
	case n == 0:
		errs["name"] = "Enter the customer's name."
	case n > maxName:
		errs["name"] = fmt.Sprintf("Use at most %d characters (this is %d).", maxName, n)
	}
	switch {
	case in.Email != "" && !ValidEmail(in.Email):
		errs["email"] = "Enter an email address like owner@example.com."
	case in.Email == "" && in.SendLink:
		errs["email"] = "Enter an email address to send the setup link to."
	}
	if utf8.RuneCountInString(in.TeamID) > maxTeamID {
		errs["team_id"] = fmt.Sprintf("Use at most %d characters.", maxTeamID)
	}
	if !slices.Contains(Locales, in.Locale) {
		errs["locale"] = "Choose English or Bahasa Indonesia."
	}
	seen := map[string]bool{}
	for _, p := range in.Metadata {
		switch {
		case p.Key == "":
			errs["metadata"] = "Every metadata value needs a key."
		case seen[p.Key]:
			errs["metadata"] = "Metadata key " + p.Key + " appears twice."
		}
		seen[p.Key] = true
	}
	if len(in.Metadata) > maxMetadataKeys {
		errs["metadata"] = fmt.Sprintf("Use at most %d metadata keys.", maxMetadataKeys)
	} else if b, _ := json.Marshal(in.metadataMap()); len(b) > maxMetadataSize {
		errs["metadata"] = "Metadata must stay under 16 KB."
	}
	return errs
}

func (in *CustomerInput) metadataMap() map[string]any {
	if len(in.Metadata) == 0 {
		return nil
	}
	m := make(map[string]any, len(in.Metadata))
	for _, p := range in.Metadata {
		m[p.Key] = p.Value
	}
	return m
}

// ValidEmail accepts a bare address whose domain has a dot, at most 255 characters.
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && len(s) <= maxEmail && strings.Contains(s[strings.LastIndex(s, "@"):], ".")
}

func mirror(c *kirim.Customer) store.CustomerMirror {
	return store.CustomerMirror{KirimID: c.ID, Name: c.Name, Email: kirim.Str(c.Email), Status: c.Status, Metadata: c.Metadata,
		TeamID: c.TeamID, ArchivedAt: c.ArchivedAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// SendError is a customer created, whose setup-link email (asked for with SendLink)
// could not be queued.
type SendError struct{ Err error }

func (e *SendError) Error() string {
	return "onboarding: customer created, email not sent: " + e.Err.Error()
}
func (e *SendError) Unwrap() error { return e.Err }

// CreateCustomer creates the customer in Kirim, mirrors it and, with SendLink, emails
// it a setup link. When only the email fails, the customer is returned with a
// *SendError. formKey comes from the form, and the Idempotency-Key is the form key with
// a digest of the request: the same form sent again (after a timeout, say) replays
// Kirim's first answer, and a corrected form gets a key of its own, but only once the
// earlier attempt's outcome is known. One form makes at most one customer.
func (s *Service) CreateCustomer(ctx context.Context, in CustomerInput, formKey, actor string) (*store.Customer, error) {
	c, err := s.createCustomer(ctx, in, formKey, actor)
	if err != nil || !in.SendLink {
		return c, err
	}
	if _, err := s.SendLinkEmail(ctx, c.ID, false, actor); err != nil {
		return c, &SendError{err}
	}
	return c, nil
}

func (s *Service) createCustomer(ctx context.Context, in CustomerInput, formKey, actor string) (*store.Customer, error) {
	in.Normalize()
	if errs := in.Validate(); len(errs) > 0 {
		return nil, &InvalidError{errs}
	}
	if len(formKey) < 16 || len(formKey) > 64 {
		return nil, ErrStaleForm
	}
	p := kirim.CreateCustomerParams{Name: in.Name, Email: in.Email, Metadata: in.metadataMap(), TeamID: in.TeamID}
	scope := "customer.create:" + formKey
	key := idempotencyKey("cus", formKey, p)
	earlier, err := s.db.IntentsInScope(ctx, scope)
	if err != nil {
		return nil, err
	}
	for _, it := range earlier {
		if it.State == store.IntentDone {
			return s.db.CustomerByKirimID(ctx, it.ResultRef)
		}
	}
	for _, it := range earlier {
		if it.State != store.IntentPending || it.Key == key {
			continue
		}
		// An earlier request of this form, with other values, may have created the
		// customer: send it again under its own key to learn what happened.
		c, err := s.settleCreate(ctx, it, in.Locale, actor)
		if err != nil {
			return nil, err
		}
		if c != nil {
			// It had: make that customer what staff now asked for.
			return s.UpdateCustomer(ctx, c.ID, in, actor)
		}
	}
	body, _ := json.Marshal(p)
	if _, err := s.db.BeginIntent(ctx, "customer.create", scope, key, string(body)); err != nil {
		return nil, err
	}
	p.IdempotencyKey = key
	kc, err := s.kirim.CreateCustomer(ctx, p)
	if err != nil {
		return nil, errors.Join(err, s.db.FailIntent(ctx, key, err.Error(), !kirim.OutcomeUnknown(err)))
	}
	return s.db.CreateCustomer(ctx, mirror(kc), in.Locale, key, store.Event{Kind: store.EventCustomerCreated, Actor: actor,
		Detail: map[string]any{"name": kc.Name}})
}

// settleCreate sends an earlier create of unknown outcome again under its own key. It
// returns the customer when Kirim had created it (or does now), nil when Kirim refused
// it, and an error when the outcome is still unknown.
func (s *Service) settleCreate(ctx context.Context, it *store.Intent, locale, actor string) (*store.Customer, error) {
	var p kirim.CreateCustomerParams
	if err := json.Unmarshal([]byte(it.Request), &p); err != nil {
		return nil, fmt.Errorf("onboarding: intent %d: %w", it.ID, err)
	}
	p.IdempotencyKey = it.Key
	kc, err := s.kirim.CreateCustomer(ctx, p)
	if err != nil {
		final := !kirim.OutcomeUnknown(err)
		if ferr := s.db.FailIntent(ctx, it.Key, err.Error(), final); ferr != nil {
			return nil, ferr
		}
		if final {
			return nil, nil
		}
		return nil, err
	}
	return s.db.CreateCustomer(ctx, mirror(kc), locale, it.Key, store.Event{Kind: store.EventCustomerCreated, Actor: actor,
		Detail: map[string]any{"name": kc.Name}})
}

// idempotencyKey derives the Idempotency-Key of a request from its scope and body:
// the same request keeps its key, a changed one gets another.
func idempotencyKey(prefix, scope string, body any) string {
	b, _ := json.Marshal(body) // maps marshal with sorted keys: the same body, the same bytes
	sum := sha256.Sum256(append([]byte(scope+"\n"), b...))
	return prefix + "-" + scope + "-" + hex.EncodeToString(sum[:12])
}

// UpdateCustomer changes name, email, metadata in Kirim, then the mirror and locale.
func (s *Service) UpdateCustomer(ctx context.Context, id int64, in CustomerInput, actor string) (*store.Customer, error) {
	in.Normalize()
	if errs := in.Validate(); len(errs) > 0 {
		return nil, &InvalidError{errs}
	}
	c, err := s.db.CustomerByID(ctx, id)
	if err != nil {
		return nil, err
	}
	p := kirim.UpdateCustomerParams{Name: kirim.Value(in.Name), Email: kirim.Null[string](), Metadata: kirim.Null[map[string]any]()}
	if in.Email != "" {
		p.Email = kirim.Value(in.Email)
	}
	if m := in.metadataMap(); m != nil {
		p.Metadata = kirim.Value(m)
	}
	kc, err := s.kirim.UpdateCustomer(ctx, c.KirimID, p)
	if err != nil {
		return nil, err
	}
	if err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateCustomerMirror(ctx, id, mirror(kc), &store.Event{Kind: store.EventCustomerUpdated, Actor: actor}); err != nil {
			return err
		}
		return tx.SetCustomerLocale(ctx, id, in.Locale)
	}); err != nil {
		return nil, err
	}
	return s.db.CustomerByID(ctx, id)
}

// Suspend freezes a customer in Kirim.
func (s *Service) Suspend(ctx context.Context, id int64, actor string) error {
	return s.setStatus(ctx, id, kirim.CustomerSuspended, store.EventCustomerSuspended, actor)
}

// Unsuspend lifts a suspension: the customer is active again if it has a connected
// number, pending otherwise.
func (s *Service) Unsuspend(ctx context.Context, id int64, actor string) error {
	c, err := s.db.CustomerByID(ctx, id)
	if err != nil {
		return err
	}
	kc, err := s.kirim.GetCustomer(ctx, c.KirimID)
	if err != nil {
		return err
	}
	status := kirim.CustomerPending
	for _, a := range kc.WhatsappAccounts {
		if a.Status == kirim.AccountConnected {
			status = kirim.CustomerActive
		}
	}
	return s.setStatus(ctx, id, status, store.EventCustomerUnsuspended, actor)
}

func (s *Service) setStatus(ctx context.Context, id int64, status string, event store.EventKind, actor string) error {
	c, err := s.db.CustomerByID(ctx, id)
	if err != nil {
		return err
	}
	if c.Status == kirim.CustomerArchived {
		return ErrArchived
	}
	kc, err := s.kirim.UpdateCustomer(ctx, c.KirimID, kirim.UpdateCustomerParams{Status: kirim.Value(status)})
	if err != nil {
		return err
	}
	return s.db.UpdateCustomerMirror(ctx, id, mirror(kc), &store.Event{Kind: event, Actor: actor})
}

// Archive soft-deletes the customer in Kirim, then reads it back with its links and
// accounts (Kirim may revoke the active links; the answer to DELETE is not the customer).
func (s *Service) Archive(ctx context.Context, id int64, actor string) error {
	c, err := s.db.CustomerByID(ctx, id)
	if err != nil {
		return err
	}
	if err := s.kirim.ArchiveCustomer(ctx, c.KirimID); err != nil {
		return err
	}
	now := s.now()
	if err := s.db.SetCustomerStatus(ctx, id, kirim.CustomerArchived, &now, store.Event{Kind: store.EventCustomerArchived, Actor: actor}); err != nil {
		return err
	}
	_, err = s.RefreshCustomer(ctx, id, "archive")
	return err
}

// ValidRedirectURL applies Kirim's rules to a redirect URL: absolute, https (http only
// for localhost), no fragment, at most 2048 characters.
func ValidRedirectURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || len(s) > 2048 || strings.Contains(s, "#") {
		return false
	}
	h := u.Hostname()
	local := h == "localhost" || strings.HasSuffix(h, ".localhost") || net.ParseIP(h).Equal(net.IPv4(127, 0, 0, 1))
	return u.Scheme == "https" || (u.Scheme == "http" && local)
}

// LandingURL is the portal's own page a customer is sent to.
func (s *Service) LandingURL(token string) string { return s.publicURL + "/onboard/" + token }

// maskReturnKey hides the return key in a redirect URL of the portal's own, for the
// mirror: the key is kept hashed only.
func (s *Service) maskReturnKey(u *string) string {
	prefix := s.publicURL + "/onboard/r/"
	rest, ok := strings.CutPrefix(kirim.Str(u), prefix)
	if !ok {
		return kirim.Str(u)
	}
	if _, tail, ok := strings.Cut(rest, "/"); ok {
		return prefix + store.MaskedReturnKey + "/" + tail
	}
	return prefix + store.MaskedReturnKey
}

// ReturnURLs are the success and failure URLs registered with Kirim for a link; the
// return key binds them to that link.
func (s *Service) ReturnURLs(returnKey string) (success, failure string) {
	base := s.publicURL + "/onboard/r/" + returnKey
	return base + "/success", base + "/failure"
}

// DefaultLinkHours is Kirim's default link lifetime, 7 days.
const DefaultLinkHours = 168

// IssueLink creates a setup link in Kirim whose redirects come back to the portal,
// stores its setup URL sealed with a fresh landing token, and moves the stage on.
func (s *Service) IssueLink(ctx context.Context, customerID int64, hours int, actor string) (*store.SetupLink, error) {
	if hours < 1 || hours > 720 {
		return nil, &InvalidError{FieldErrors{"expires_in_hours": "Choose between 1 hour and 30 days (720 hours)."}}
	}
	c, err := s.db.CustomerByID(ctx, customerID)
	if err != nil {
		return nil, err
	}
	if c.Status == kirim.CustomerArchived {
		return nil, ErrArchived
	}
	returnKey, landing, key := secret.NewToken(16), secret.NewToken(24), "link-"+secret.NewToken(16)
	success, failure := s.ReturnURLs(returnKey)
	req, _ := json.Marshal(map[string]any{"customer": c.KirimID, "expires_in_hours": hours})
	if _, err := s.db.BeginIntent(ctx, "setup_link.create", "", key, string(req)); err != nil {
		return nil, err
	}
	kl, err := s.kirim.CreateSetupLink(ctx, c.KirimID, kirim.CreateSetupLinkParams{ExpiresInHours: hours,
		SuccessRedirectURL: success, FailureRedirectURL: failure, IdempotencyKey: key})
	if err != nil {
		return nil, errors.Join(err, s.db.FailIntent(ctx, key, err.Error(), !kirim.OutcomeUnknown(err)))
	}
	s.learnInternalID(ctx, c, kl.CustomerID)
	var id int64
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if id, err = tx.CreateSetupLink(ctx, customerID, store.NewSetupLink{
			KirimID: kl.ID, Status: kl.Status, TokenLast4: kl.TokenLast4, ExpiresAt: kl.ExpiresAt,
			SuccessRedirectURL: s.maskReturnKey(kl.SuccessRedirectURL), FailureRedirectURL: s.maskReturnKey(kl.FailureRedirectURL),
			KirimCreatedAt: kl.CreatedAt, SetupURL: kl.SetupURL.Reveal(), LandingToken: landing, ReturnKey: returnKey,
		}, store.Event{Kind: store.EventLinkIssued, Actor: actor, Detail: map[string]any{"link": kl.ID, "expires_at": kl.ExpiresAt, "last4": kl.TokenLast4}}); err != nil {
			return err
		}
		if err := tx.FinishIntent(ctx, key, kl.ID); err != nil {
			return err
		}
		return advance(ctx, tx, c, StageLinkIssued)
	})
	if err != nil {
		return nil, err
	}
	return s.db.SetupLinkByID(ctx, id)
}

// advance moves a customer's stage forward (never back, except out of failed).
func advance(ctx context.Context, tx *store.Tx, c *store.Customer, stage string) error {
	if c.Stage != StageFailed && slices.Index(Stages, stage) <= slices.Index(Stages, c.Stage) {
		return nil
	}
	return tx.SetCustomerStage(ctx, c.ID, stage, "")
}

// advance moves a customer's stage forward in a transaction of its own.
func (s *Service) advance(ctx context.Context, c *store.Customer, stage string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error { return advance(ctx, tx, c, stage) })
}

func (s *Service) ownLink(ctx context.Context, customerID, linkID int64) (*store.Customer, *store.SetupLink, error) {
	c, err := s.db.CustomerByID(ctx, customerID)
	if err != nil {
		return nil, nil, err
	}
	l, err := s.db.SetupLinkByID(ctx, linkID)
	if err != nil || l.CustomerID != customerID {
		return nil, nil, ErrNotFound
	}
	return c, l, nil
}

// RevokeLink revokes an active link in Kirim and mirrors it.
func (s *Service) RevokeLink(ctx context.Context, customerID, linkID int64, actor string) error {
	c, l, err := s.ownLink(ctx, customerID, linkID)
	if err != nil {
		return err
	}
	if err := s.kirim.RevokeSetupLink(ctx, c.KirimID, l.KirimID); err != nil {
		if kirim.IsConflict(err) {
			s.RefreshLinks(ctx, customerID)
			return ErrLinkNotActive
		}
		return err
	}
	if err := s.db.UpdateSetupLinkMirror(ctx, l.ID, store.LinkMirror{Status: kirim.LinkRevoked,
		SuccessRedirectURL: l.SuccessRedirectURL, FailureRedirectURL: l.FailureRedirectURL},
		&store.Event{Kind: store.EventLinkRevoked, Actor: actor, Detail: map[string]any{"link": l.KirimID}}); err != nil {
		return err
	}
	// Without a working link the customer is no longer "link sent" (or opened, or
	// started): back to created, until a new link moves it on.
	active, err := s.activeLink(ctx, customerID)
	if err != nil || active != nil {
		return err
	}
	switch c.Stage {
	case StageLinkIssued, StageLinkSent, StageOpened, StageStarted:
		return s.db.SetCustomerStage(ctx, customerID, StageCreated, "link_revoked")
	}
	return nil
}

// UpdateLinkRedirects changes where Kirim sends the customer back to, while the link is
// active. An empty URL clears it.
func (s *Service) UpdateLinkRedirects(ctx context.Context, customerID, linkID int64, success, failure, actor string) error {
	errs := FieldErrors{}
	for field, v := range map[string]string{"success_redirect_url": success, "failure_redirect_url": failure} {
		if v != "" && !ValidRedirectURL(v) {
			errs[field] = "Use an absolute https URL without #fragment (http only for localhost)."
		}
	}
	if len(errs) > 0 {
		return &InvalidError{errs}
	}
	c, l, err := s.ownLink(ctx, customerID, linkID)
	if err != nil {
		return err
	}
	p := kirim.UpdateSetupLinkParams{SuccessRedirectURL: kirim.Null[string](), FailureRedirectURL: kirim.Null[string]()}
	if success != "" {
		p.SuccessRedirectURL = kirim.Value(success)
	}
	if failure != "" {
		p.FailureRedirectURL = kirim.Value(failure)
	}
	kl, err := s.kirim.UpdateSetupLink(ctx, c.KirimID, l.KirimID, p)
	if err != nil {
		if kirim.IsConflict(err) {
			s.RefreshLinks(ctx, customerID)
			return ErrLinkNotActive
		}
		return err
	}
	return s.db.UpdateSetupLinkMirror(ctx, l.ID, store.LinkMirror{Status: kl.Status, ConsumedAt: kl.ConsumedAt,
		SuccessRedirectURL: s.maskReturnKey(kl.SuccessRedirectURL), FailureRedirectURL: s.maskReturnKey(kl.FailureRedirectURL)},
		&store.Event{Kind: store.EventLinkRedirectsChanged, Actor: actor, Detail: map[string]any{"link": l.KirimID}})
}

// RefreshLinks brings the mirror of a customer's links in line with Kirim.
func (s *Service) RefreshLinks(ctx context.Context, customerID int64) error {
	c, err := s.db.CustomerByID(ctx, customerID)
	if err != nil {
		return err
	}
	remote, err := s.kirim.ListSetupLinks(ctx, c.KirimID, "")
	if err != nil {
		return err
	}
	return s.mirrorLinks(ctx, c, remote)
}

// mirrorLinks stores what Kirim says of a customer's links (the ones the portal made;
// the others have no landing page to keep), and learns the customer's internal id.
func (s *Service) mirrorLinks(ctx context.Context, c *store.Customer, remote []kirim.SetupLink) error {
	s.refreshed.Store(c.ID, s.now())
	local, err := s.db.SetupLinks(ctx, c.ID)
	if err != nil {
		return err
	}
	byID := map[string]*store.SetupLink{}
	for _, l := range local {
		byID[l.KirimID] = l
	}
	for _, r := range remote {
		s.learnInternalID(ctx, c, r.CustomerID)
		l, ok := byID[r.ID]
		if !ok || (l.Status == r.Status && l.ConsumedAt != nil == (r.ConsumedAt != nil)) {
			continue
		}
		var ev *store.Event
		if ended := map[string]store.EventKind{kirim.LinkExpired: store.EventLinkExpired, kirim.LinkRevoked: store.EventLinkRevoked}[r.Status]; ended != "" &&
			l.Status == kirim.LinkActive {
			ev = &store.Event{Kind: ended, Detail: map[string]any{"link": r.ID}}
		}
		if err := s.db.UpdateSetupLinkMirror(ctx, l.ID, store.LinkMirror{Status: r.Status, ConsumedAt: r.ConsumedAt,
			SuccessRedirectURL: s.maskReturnKey(r.SuccessRedirectURL), FailureRedirectURL: s.maskReturnKey(r.FailureRedirectURL)}, ev); err != nil {
			return err
		}
	}
	return nil
}

// learnInternalID remembers the internal customer id a link showed, so that a webhook
// carrying only that id finds its customer.
func (s *Service) learnInternalID(ctx context.Context, c *store.Customer, internalID string) {
	if internalID == "" || internalID == c.KirimInternalID || strings.HasPrefix(internalID, "cus_") {
		return
	}
	if err := s.db.SetCustomerInternalID(ctx, c.ID, internalID); err != nil {
		s.log.Warn("could not record Kirim's internal customer id", "customer", c.KirimID, "err", err)
		return
	}
	c.KirimInternalID = internalID
}

// LinkStatus is a link's status as of now: an active link past its expiry is expired.
func LinkStatus(l *store.SetupLink, now time.Time) string {
	if l.Status == kirim.LinkActive && !now.Before(l.ExpiresAt) {
		return kirim.LinkExpired
	}
	return l.Status
}
