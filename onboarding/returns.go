package onboarding

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

// Return states, as the return pages show them.
const (
	ReturnConnected   = "connected"
	ReturnPending     = "pending"
	ReturnUnconfirmed = "unconfirmed"
	ReturnFailed      = "failed"
)

// ErrForged is a return whose parameters do not match the link it is bound to. Nothing
// is recorded for it, and the page reveals nothing.
var ErrForged = errors.New("onboarding: the return does not match its link")

// ReturnQuery is what Kirim appends to a redirect URL.
type ReturnQuery struct {
	CustomerID string
	AccountID  string
	Status     string
	Reason     string
}

// Return is what a return page shows.
type Return struct {
	State    string
	Customer *store.Customer
	Link     *store.SetupLink
	Account  *store.Account
	Branding store.Branding
	Reason   string
	// LandingToken lets "Try again" go back to the landing page.
	LandingToken string
}

func (s *Service) boundLink(ctx context.Context, returnKey, kirimCustomerID string) (*store.SetupLink, *store.Customer, error) {
	l, err := s.db.SetupLinkByReturnKey(ctx, returnKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.db.CustomerByID(ctx, l.CustomerID)
	if err != nil {
		return nil, nil, err
	}
	if kirimCustomerID != c.KirimID {
		s.log.Warn("return does not match its link", "link", l.KirimID)
		return nil, nil, ErrForged
	}
	return l, c, nil
}

// VerifySuccess handles Kirim's success redirect. It trusts nothing in the query: the
// customer must be the one of the link the URL is bound to, and Kirim must confirm that
// the link is consumed and the customer has a connected account. Only then is anything
// recorded, and a repeat records nothing twice.
func (s *Service) VerifySuccess(ctx context.Context, returnKey string, q ReturnQuery) (*Return, error) {
	l, c, err := s.boundLink(ctx, returnKey, q.CustomerID)
	if err != nil {
		return nil, err
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return nil, err
	}
	ret := &Return{State: ReturnPending, Customer: c, Link: l, Branding: b}
	links, err := s.kirim.ListSetupLinks(ctx, c.KirimID, "")
	if err != nil {
		return ret, nil // Kirim cannot confirm now: the page keeps asking
	}
	var remote *kirim.SetupLink
	for i := range links {
		if links[i].ID == l.KirimID {
			remote = &links[i]
		}
	}
	if remote == nil || remote.Status != kirim.LinkConsumed {
		return ret, nil
	}
	accounts, err := s.kirim.ListAccounts(ctx, kirim.AccountFilter{Status: "all", CustomerID: c.KirimID})
	if err != nil {
		return ret, nil
	}
	var connected *kirim.Account
	for i, a := range accounts {
		if a.Status == "connected" && a.PhoneNumberID != nil && (connected == nil || a.ID == q.AccountID) {
			connected = &accounts[i]
		}
	}
	if connected == nil {
		return ret, nil
	}
	kc, err := s.kirim.GetCustomer(ctx, c.KirimID)
	if err != nil {
		return ret, nil
	}
	// Confirmed: mirror the accounts, the link and the customer.
	changes, err := s.db.SyncAccounts(ctx, accountMirrors(accounts))
	if err != nil {
		return nil, err
	}
	var ev *store.Event
	if l.Status != kirim.LinkConsumed {
		ev = &store.Event{Kind: "signup.succeeded", Actor: "customer", Detail: map[string]any{"link": l.KirimID, "phone_number": deref(connected.PhoneNumber)}}
	}
	if err := s.db.UpdateSetupLinkMirror(ctx, l.ID, store.LinkMirror{Status: remote.Status, ConsumedAt: remote.ConsumedAt,
		SuccessRedirectURL: deref(remote.SuccessRedirectURL), FailureRedirectURL: deref(remote.FailureRedirectURL)}, ev); err != nil {
		return nil, err
	}
	if err := s.db.UpdateCustomerMirror(ctx, c.ID, mirror(kc), nil); err != nil {
		return nil, err
	}
	if err := s.afterAccountChanges(ctx, changes, "connected"); err != nil {
		return nil, err
	}
	ret.State = ReturnConnected
	for _, ch := range changes {
		if ch.Account.PhoneNumberID == deref(connected.PhoneNumberID) {
			ret.Account = ch.Account
		}
	}
	if ret.Account == nil {
		if list, err := s.db.Accounts(ctx, c.ID); err == nil {
			for _, a := range list {
				if a.PhoneNumberID == deref(connected.PhoneNumberID) {
					ret.Account = a
				}
			}
		}
	}
	if c, err = s.db.CustomerByID(ctx, c.ID); err == nil {
		ret.Customer = c
	}
	return ret, nil
}

// MarkUnconfirmed records, once, that a customer came back but Kirim did not confirm
// the connection in time: staff follow up.
func (s *Service) MarkUnconfirmed(ctx context.Context, returnKey string, q ReturnQuery) (*Return, error) {
	l, c, err := s.boundLink(ctx, returnKey, q.CustomerID)
	if err != nil {
		return nil, err
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.AddEventOnce(ctx, store.Event{CustomerID: &c.ID, Kind: "signup.unconfirmed", Actor: "customer",
		Detail: map[string]any{"link": l.KirimID, "next_step": "Check the customer's accounts in Kirim, then refresh them here."}},
		s.now().Add(-time.Hour)); err != nil {
		return nil, err
	}
	return &Return{State: ReturnUnconfirmed, Customer: c, Link: l, Branding: b}, nil
}

var reasonCode = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// FailureNextSteps suggests what staff do about each known failure reason.
var FailureNextSteps = map[string]string{
	"signup_cancelled":                "Ask the customer whether something stopped them; the same link still works while active.",
	"token_exchange_failed":           "A Meta error: ask the customer to try again in a few minutes.",
	"phone_number_already_registered": "The number is still on the WhatsApp app: the customer must delete that account first.",
	"display_name_only":               "The customer chose display name only: they must connect the full number.",
	"verification_code_failed":        "The code did not arrive or was wrong: try again with the phone at hand.",
	"business_verification_failed":    "Meta refused the business: the customer must check it in Meta Business Suite.",
	"link_expired":                    "Send a fresh link.",
	"link_revoked":                    "Send a fresh link if the customer still needs one.",
	"link_already_used":               "Check the customer's accounts: the number may already be connected.",
}

// RecordFailure handles Kirim's failure redirect: the reason goes on the timeline with a
// suggested next step, and the stage becomes failed. A repeat within a minute is not
// recorded twice.
func (s *Service) RecordFailure(ctx context.Context, returnKey string, q ReturnQuery) (*Return, error) {
	l, c, err := s.boundLink(ctx, returnKey, q.CustomerID)
	if err != nil {
		return nil, err
	}
	reason := q.Reason
	if !reasonCode.MatchString(reason) {
		reason = "unknown"
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return nil, err
	}
	next := FailureNextSteps[reason]
	if next == "" {
		next = "Unknown reason: ask the customer what they saw, and try again."
	}
	added, err := s.db.AddEventOnce(ctx, store.Event{CustomerID: &c.ID, Kind: "signup.failed", Actor: "customer",
		Detail: map[string]any{"link": l.KirimID, "reason": reason, "next_step": next}}, s.now().Add(-time.Minute))
	if err != nil {
		return nil, err
	}
	if added {
		if c.Stage != StageConnected {
			if err := s.db.SetCustomerStage(ctx, c.ID, StageFailed, reason); err != nil {
				return nil, err
			}
		}
	}
	token, err := s.db.LandingToken(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	return &Return{State: ReturnFailed, Customer: c, Link: l, Branding: b, Reason: reason, LandingToken: token}, nil
}

func accountMirrors(accounts []kirim.Account) []store.AccountMirror {
	out := make([]store.AccountMirror, 0, len(accounts))
	for _, a := range accounts {
		out = append(out, store.AccountMirror{KirimID: a.ID, PhoneNumberID: deref(a.PhoneNumberID), PhoneNumber: deref(a.PhoneNumber),
			Name: deref(a.Name), Status: a.Status, KirimCustomerID: deref(a.CustomerID)})
	}
	return out
}

// afterAccountChanges moves the stage of customers whose account just connected and
// syncs that account's templates in the background.
func (s *Service) afterAccountChanges(ctx context.Context, changes []store.AccountChange, trigger string) error {
	for _, ch := range changes {
		a := ch.Account
		if a.Status != "connected" || ch.FromStatus == "connected" || a.CustomerID == nil {
			continue
		}
		c, err := s.db.CustomerByID(ctx, *a.CustomerID)
		if err != nil {
			return err
		}
		if c.Stage != StageConnected {
			if err := s.db.SetCustomerStage(ctx, c.ID, StageConnected, ""); err != nil {
				return err
			}
		}
		if a.PhoneNumberID != "" {
			s.goSync(a.ID, trigger)
		}
	}
	return nil
}

// RefreshAccounts reads a customer's accounts from Kirim and mirrors them.
func (s *Service) RefreshAccounts(ctx context.Context, customerID int64, actor string) error {
	c, err := s.db.CustomerByID(ctx, customerID)
	if err != nil {
		return err
	}
	accounts, err := s.kirim.ListAccounts(ctx, kirim.AccountFilter{Status: "all", CustomerID: c.KirimID})
	if err != nil {
		return err
	}
	changes, err := s.db.SyncAccounts(ctx, accountMirrors(accounts))
	if err != nil {
		return err
	}
	return s.afterAccountChanges(ctx, changes, "refresh")
}
