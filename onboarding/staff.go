package onboarding

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// Staff accounts: the rules that the first-run link, the account page and the command
// line share.

// MinPasswordLen is the shortest staff password, in characters.
const MinPasswordLen = 12

// maxPasswordBytes bounds a password (hashing a huge one costs too much).
const maxPasswordBytes = 1024

// Errors of the staff rules; their text is what staff read.
var (
	ErrStaffEmail    = errors.New("enter an email address like you@example.com")
	ErrPasswordShort = fmt.Errorf("use at least %d characters", MinPasswordLen)
	ErrPasswordLong  = fmt.Errorf("use at most %d bytes", maxPasswordBytes)
)

// StaffEmail checks and trims a staff member's email address.
func StaffEmail(raw string) (string, error) {
	email := strings.TrimSpace(raw)
	if !ValidEmail(email) {
		return "", ErrStaffEmail
	}
	return email, nil
}

// CheckPassword checks a new staff password: at least MinPasswordLen characters.
func CheckPassword(password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return ErrPasswordShort
	case len(password) > maxPasswordBytes:
		return ErrPasswordLong
	}
	return nil
}

// CreateAPIToken makes a token for the platform's backend and returns it: the only time
// it is seen (only its hash is kept).
func CreateAPIToken(ctx context.Context, db *store.DB, name, scope, actor string) (string, *store.APIToken, error) {
	name = strings.TrimSpace(name)
	errs := FieldErrors{}
	if n := utf8.RuneCountInString(name); n == 0 || n > 100 {
		errs["name"] = "Name the token (at most 100 characters), for example after the system that uses it."
	}
	if scope != store.ScopeRead && scope != store.ScopeWrite {
		errs["scope"] = "Choose read or write."
	}
	if len(errs) > 0 {
		return "", nil, &InvalidError{errs}
	}
	token := store.NewAPITokenSecret()
	t, err := db.CreateAPIToken(ctx, name, scope, token, actor)
	return token, t, err
}

// Staff links: an invitation works 7 days, a password reset 1 hour.
const (
	InviteFor = 7 * 24 * time.Hour
	ResetFor  = time.Hour
)

// InviteStaff emails a one-time link that lets the address join the staff with the role.
func (s *Service) InviteStaff(ctx context.Context, email, role, actor string) error {
	email, err := StaffEmail(email)
	if err != nil {
		return &InvalidError{FieldErrors{"email": "Enter an email address like you@example.com."}}
	}
	if role != store.RoleAdmin && role != store.RoleOperator {
		return &InvalidError{FieldErrors{"role": "Choose admin or operator."}}
	}
	if _, err := s.db.UserByEmail(ctx, email); err == nil {
		return &InvalidError{FieldErrors{"email": "This address already has a staff account."}}
	}
	token := secret.NewToken(32)
	if err := s.db.AddStaffLink(ctx, store.StaffLink{Kind: store.LinkInvite, Email: email, Role: role,
		ExpiresAt: s.now().Add(InviteFor), CreatedBy: actor}, token); err != nil {
		return err
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return err
	}
	what := "an operator (customers and onboarding)"
	if role == store.RoleAdmin {
		what = "an admin (customers, onboarding, settings and staff)"
	}
	_, err = s.queueEmailTo(ctx, email, StaffMessage{Product: b.ProductName,
		Subject: "You are invited to the " + b.ProductName + " onboarding portal",
		Lead:    actor + " invited you to join the " + b.ProductName + " onboarding portal as " + what + ". Choose your password to start; the link works for 7 days, once.",
		Link:    s.publicURL + "/invite/" + token, LinkLabel: "Accept the invitation",
		Footer: "If you did not expect this invitation, you can ignore this email."}, "invite."+secret.NewToken(8), nil)
	return err
}

// RequestPasswordReset emails a one-time reset link to a staff address, if it belongs to
// an active account; otherwise nothing happens (and nothing tells the difference).
func (s *Service) RequestPasswordReset(ctx context.Context, email, actor string) error {
	u, err := s.db.UserByEmail(ctx, strings.TrimSpace(email))
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.DisabledAt != nil) {
		return nil
	}
	if err != nil {
		return err
	}
	token := secret.NewToken(32)
	if err := s.db.AddStaffLink(ctx, store.StaffLink{Kind: store.LinkReset, Email: u.Email, ExpiresAt: s.now().Add(ResetFor),
		CreatedBy: actor}, token); err != nil {
		return err
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return err
	}
	_, err = s.queueEmailTo(ctx, u.Email, StaffMessage{Product: b.ProductName,
		Subject: "Reset your password for the " + b.ProductName + " onboarding portal",
		Lead:    "Someone (" + actor + ") asked to reset the password of your staff account. Choose a new one with this link; it works for 1 hour, once, and signs you out everywhere.",
		Link:    s.publicURL + "/reset/" + token, LinkLabel: "Choose a new password",
		Footer: "If you did not ask for this, ignore this email: your password stays as it is."}, "reset."+secret.NewToken(8), nil)
	return err
}

// CheckKirim asks Kirim who the API key belongs to, and records the answer for the
// first-run checklist.
func (s *Service) CheckKirim(ctx context.Context) (store.KirimCheck, error) {
	c := store.KirimCheck{At: s.now()}
	if me, err := s.kirim.Me(ctx); err != nil {
		c.Error = err.Error()
	} else {
		c.Organization = me.Organization.Name
	}
	return c, s.db.SaveKirimCheck(ctx, c)
}

// SendTestEmail emails a staff member a test through the email server; the outbox
// then shows whether the server took it.
func (s *Service) SendTestEmail(ctx context.Context, to string) error {
	if s.mail.DevOutbox {
		return ErrNoSMTP
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return err
	}
	fromName, from := s.Sender(b)
	domain := from[strings.LastIndex(from, "@")+1:]
	text := "This is a test email from the " + b.ProductName + " onboarding portal. It reached you, so customers' setup links will too.\n"
	_, err = s.db.QueueEmail(ctx, store.Email{Kind: "test", FromName: fromName, From: from, To: to,
		Subject: "Test email from the " + b.ProductName + " onboarding portal", HTML: "<p>" + html.EscapeString(text) + "</p>", Text: text,
		Status: store.EmailQueued, MessageID: "<test." + secret.NewToken(12) + "@" + domain + ">"},
		store.Event{Kind: store.EventEmailQueued, Actor: to, Detail: map[string]any{"to": to, "staff": true}})
	if err == nil {
		s.wake()
	}
	return err
}
