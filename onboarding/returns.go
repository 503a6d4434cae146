package onboarding

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

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

// ErrForged is a return that no link of the portal's is bound to. Nothing is recorded
// for it, and the page reveals nothing.
var ErrForged = errors.New("onboarding: the return does not match a link")

// ReturnQuery is what Kirim appends to a redirect URL. None of it is trusted: the return
// key in the path names the link, and Kirim's API says what happened.
type ReturnQuery struct {
	// CustomerID is documented without its form (the cus_ id, the internal id, or none).
	CustomerID string
	// AccountID is a hint to pick the new account among several (any id form).
	AccountID string
	Status    string
	// Reason is the failure code, from whichever parameter Kirim used for it.
	Reason string
}

// Return is what a return page shows.
type Return struct {
	State    string
	Customer *store.Customer
	Link     *store.SetupLink
	Account  *store.Account
	Branding store.Branding
	Reason   string
	// LinkUsable says whether the link still works, as Kirim said just now.
	LinkUsable bool
	// LandingToken lets "Try again" go back to the landing page; the page offers it
	// only to the browser that set off from there.
	LandingToken string
	// StaffAlerted says staff hear of a failure at once (else they see it in their
	// queue): the page says which.
	StaffAlerted bool
}

func (s *Service) boundLink(ctx context.Context, returnKey string) (*store.SetupLink, *store.Customer, error) {
	l, err := s.db.SetupLinkByReturnKey(ctx, returnKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.db.CustomerByID(ctx, l.CustomerID)
	if err != nil {
		return nil, nil, err
	}
	return l, c, nil
}

// VerifySuccess handles Kirim's success redirect. It trusts nothing in the query: the
// link is the one the return URL is bound to, and Kirim must confirm that the link is
// consumed and that the link's customer has a connected account. Only then is the
// success recorded, once per link.
func (s *Service) VerifySuccess(ctx context.Context, returnKey string, q ReturnQuery) (*Return, error) {
	l, c, err := s.boundLink(ctx, returnKey)
	if err != nil {
		return nil, err
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return nil, err
	}
	ret := &Return{State: ReturnPending, Customer: c, Link: l, Branding: b}
	connected, err := s.confirmSignup(ctx, c, l, q.AccountID)
	if err != nil {
		return ret, err
	}
	if connected == nil {
		// Not yet: the page keeps asking, then says staff will follow up; should the
		// customer close it, a job looks again later and tells staff just the same.
		_, err := s.jobs.Insert(ctx, ConfirmReturnArgs{LinkID: l.ID}, &river.InsertOpts{ScheduledAt: time.Now().Add(s.returnGrace)})
		return ret, err
	}
	ret.State = ReturnConnected
	if list, err := s.db.Accounts(ctx, c.ID); err == nil {
		for _, a := range list {
			if a.PhoneNumberID == kirim.Str(connected.PhoneNumberID) {
				ret.Account = a
			}
		}
	}
	if c, err = s.db.CustomerByID(ctx, c.ID); err == nil {
		ret.Customer = c
	}
	if l, err = s.db.SetupLinkByID(ctx, l.ID); err == nil {
		ret.Link = l
	}
	return ret, nil
}

// confirmSignup asks Kirim whether the link is consumed and its customer has a
// connected account, mirrors what it says, and records the success once. It returns
// the connected account, or nil when Kirim cannot confirm (yet): an outage, the link
// not consumed, the account still onboarding. Only the store's errors are returned.
func (s *Service) confirmSignup(ctx context.Context, c *store.Customer, l *store.SetupLink, hint string) (*kirim.Account, error) {
	links, err := s.kirim.ListSetupLinks(ctx, c.KirimID, "")
	if err != nil {
		return nil, nil
	}
	if err := s.mirrorLinks(ctx, c, links); err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(links, func(r kirim.SetupLink) bool { return r.ID == l.KirimID }); i < 0 || links[i].Status != kirim.LinkConsumed {
		return nil, nil
	}
	accounts, changes, err := s.customerAccounts(ctx, c, "connected")
	var ke *kirim.Error
	if errors.As(err, &ke) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	connected := pickAccount(accounts, changes, hint)
	if connected == nil {
		return nil, nil
	}
	if kc, err := s.kirim.GetCustomer(ctx, c.KirimID); err == nil {
		if _, err := s.db.ReconcileCustomers(ctx, []store.CustomerMirror{mirror(kc)}, "return"); err != nil {
			return nil, err
		}
	}
	if _, err := s.db.AddEvent(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventSignupSucceeded, Actor: "customer", Key: l.KirimID,
		Detail: map[string]any{"link": l.KirimID, "phone_number": kirim.Str(connected.PhoneNumber)}}); err != nil {
		return nil, err
	}
	return connected, nil
}

// customerAccounts reads a customer's accounts from Kirim (every status) and mirrors
// them; it returns them and those that changed.
func (s *Service) customerAccounts(ctx context.Context, c *store.Customer, trigger string) ([]kirim.Account, []store.AccountChange, error) {
	accounts, err := s.kirim.ListAccounts(ctx, kirim.AccountFilter{Status: "all", CustomerID: c.KirimID})
	if err != nil {
		return nil, nil, err
	}
	accounts = ownAccounts(accounts, c.KirimID)
	changes, err := s.mirrorAccounts(ctx, accounts, trigger)
	return accounts, changes, err
}

// ownAccounts keeps the accounts that say they are the customer's (or say nothing).
func ownAccounts(accounts []kirim.Account, customerID string) []kirim.Account {
	var out []kirim.Account
	for _, a := range accounts {
		if a.CustomerID == nil || *a.CustomerID == "" || *a.CustomerID == customerID {
			out = append(out, a)
		}
	}
	return out
}

// pickAccount chooses the account a success return is about: a connected one whose id
// or phone_number_id is the redirect's account_id; else one that just became connected;
// else any connected one.
func pickAccount(accounts []kirim.Account, changes []store.AccountChange, hint string) *kirim.Account {
	var fresh, any *kirim.Account
	for i := range accounts {
		a := &accounts[i]
		if a.Status != kirim.AccountConnected || kirim.Str(a.PhoneNumberID) == "" {
			continue
		}
		if hint != "" && (a.ID == hint || kirim.Str(a.PhoneNumberID) == hint) {
			return a
		}
		for _, ch := range changes {
			if ch.FromStatus != kirim.AccountConnected && ch.Account.PhoneNumberID == *a.PhoneNumberID && fresh == nil {
				fresh = a
			}
		}
		if any == nil {
			any = a
		}
	}
	if fresh != nil {
		return fresh
	}
	return any
}

// MarkUnconfirmed records, once, that a customer came back but Kirim did not confirm
// the connection in time: staff follow up.
func (s *Service) MarkUnconfirmed(ctx context.Context, returnKey string, q ReturnQuery) (*Return, error) {
	l, c, err := s.boundLink(ctx, returnKey)
	if err != nil {
		return nil, err
	}
	b, err := s.db.Branding(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.markUnconfirmed(ctx, l, c); err != nil {
		return nil, err
	}
	alerted, err := s.StaffAlerted(ctx)
	if err != nil {
		return nil, err
	}
	return &Return{State: ReturnUnconfirmed, Customer: c, Link: l, Branding: b, StaffAlerted: alerted}, nil
}

// ConfirmReturnArgs looks again, a while after a customer came back, at a return Kirim
// had not confirmed: still not confirmed, it is marked unconfirmed and staff are told,
// whether or not the customer kept the page open.
type ConfirmReturnArgs struct {
	LinkID int64 `json:"link_id"`
}

// Kind names the job.
func (ConfirmReturnArgs) Kind() string { return "returns.confirm" }

// InsertOpts makes it one per link while waiting.
func (ConfirmReturnArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: whileQueued}
}

// confirmReturn is ConfirmReturnArgs' work.
func (s *Service) confirmReturn(ctx context.Context, j *river.Job[ConfirmReturnArgs]) error {
	l, err := s.db.SetupLinkByID(ctx, j.Args.LinkID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := s.db.CustomerByID(ctx, l.CustomerID)
	if err != nil || c.Stage == StageConnected {
		return err
	}
	connected, err := s.confirmSignup(ctx, c, l, "")
	if err != nil || connected != nil {
		return err
	}
	return s.markUnconfirmed(ctx, l, c)
}

// markUnconfirmed records the unconfirmed return once an hour, and alerts staff.
func (s *Service) markUnconfirmed(ctx context.Context, l *store.SetupLink, c *store.Customer) error {
	const next = "Check the customer's accounts in Kirim, then refresh them here."
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		added, err := tx.AddEventOnce(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventSignupUnconfirmed, Actor: "customer",
			Detail: map[string]any{"link": l.KirimID, "next_step": next}}, s.now().Add(-time.Hour))
		if err != nil || !added {
			return err
		}
		return s.raiseAlert(ctx, tx, c, AlertUnconfirmed, "Came back from Meta, but Kirim has not confirmed the connection. "+next)
	})
}

// FailureNextSteps suggests what staff do about the failure reasons the portal knows.
// Kirim documents the causes of a failure redirect (a link expired, a signup
// cancelled, Meta's token exchange failing; links also end revoked or used) but not
// their codes: these are the likely spellings, and the table stays this small. Any
// other code is shown to the customer as a generic failure and kept on the timeline.
var FailureNextSteps = map[string]string{
	"signup_cancelled":      "Ask the customer whether something stopped them; the same link still works while active.",
	"token_exchange_failed": "A Meta error: ask the customer to try again in a few minutes.",
	"link_expired":          "Send a fresh link.",
	"link_revoked":          "Send a fresh link if the customer still needs one.",
	"link_already_used":     "Check the customer's accounts: the number may already be connected.",
}

// unknownNextStep is the advice for a code the portal does not know.
const unknownNextStep = "Unknown reason: ask the customer what they saw, and try again."

// maxReasonLen bounds a failure code kept on the timeline.
const maxReasonLen = 64

// FailureCode cleans the failure code of a redirect for the timeline: at most 64
// characters of letters, digits and . _ - : (others become _), "unknown" when empty.
// The code's own spelling is kept; KnownReason looks it up without regard to case.
func FailureCode(raw string) string {
	raw = strings.TrimSpace(raw)
	var b strings.Builder
	for _, r := range raw {
		if b.Len() >= maxReasonLen {
			break
		}
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-:", r)):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// KnownReason returns the table's code for a failure code, or "" when it is not known.
func KnownReason(code string) string {
	c := strings.ToLower(code)
	if _, ok := FailureNextSteps[c]; ok {
		return c
	}
	return ""
}

// RecordFailure handles Kirim's failure redirect: the reason goes on the timeline with a
// suggested next step, and the stage becomes failed. The same failure page loaded again
// records nothing; another reason, or a new attempt (the customer set off for Kirim
// again), is a new event. Before the page offers the link again, Kirim is asked whether
// it still works.
func (s *Service) RecordFailure(ctx context.Context, returnKey string, q ReturnQuery) (*Return, error) {
	l, c, err := s.boundLink(ctx, returnKey)
	if err != nil {
		return nil, err
	}
	code := FailureCode(q.Reason)
	b, err := s.db.Branding(ctx)
	if err != nil {
		return nil, err
	}
	next := unknownNextStep
	if known := KnownReason(code); known != "" {
		next = FailureNextSteps[known]
	}
	// The failure, the stage and the alert, together; the same failure again adds nothing.
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		id, err := tx.AddEvent(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventSignupFailed, Actor: "customer",
			Key:    l.KirimID + "/" + code + "/" + strconv.Itoa(l.Attempts),
			Detail: map[string]any{"link": l.KirimID, "reason": code, "next_step": next}})
		if err != nil || id == 0 || c.Stage == StageConnected {
			return err
		}
		if err := tx.SetCustomerStage(ctx, c.ID, StageFailed, code); err != nil {
			return err
		}
		return s.raiseAlert(ctx, tx, c, AlertSignupFailed, "Signup failed: "+FailureWords(code)+". "+next)
	})
	if err != nil {
		return nil, err
	}
	// The link may have died in Kirim meanwhile (revoked, expired there). When Kirim
	// cannot be asked, the landing page asks again.
	if LinkStatus(l, s.now()) == kirim.LinkActive {
		if err := s.RefreshLinks(ctx, c.ID); err != nil {
			s.log.Warn("could not ask Kirim about a link after a failed signup", "link", l.KirimID, "err", err)
		} else if l, err = s.db.SetupLinkByID(ctx, l.ID); err != nil {
			return nil, err
		}
	}
	token, err := s.db.LandingToken(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	alerted, err := s.StaffAlerted(ctx)
	if err != nil {
		return nil, err
	}
	return &Return{State: ReturnFailed, Customer: c, Link: l, Branding: b, Reason: code, LandingToken: token,
		LinkUsable: LinkStatus(l, s.now()) == kirim.LinkActive, StaffAlerted: alerted}, nil
}

// mirrorAccounts stores what Kirim says of these accounts, in one transaction: each
// change goes on its customer's timeline (account.connected once per account), and an
// account that just connected moves its customer to connected and has its templates
// synced (a job, trigger saying why). It returns the accounts that changed.
func (s *Service) mirrorAccounts(ctx context.Context, accounts []kirim.Account, trigger string) ([]store.AccountChange, error) {
	var changes []store.AccountChange
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		changes = nil
		for _, a := range accounts {
			ch, ok, err := tx.MirrorAccount(ctx, store.AccountMirror{KirimID: a.ID, PhoneNumberID: kirim.Str(a.PhoneNumberID),
				PhoneNumber: kirim.Str(a.PhoneNumber), Name: kirim.Str(a.Name), Status: a.Status, KirimCustomerID: kirim.Str(a.CustomerID)})
			if err != nil {
				return err
			}
			if !ok || !ch.Changed {
				continue
			}
			changes = append(changes, ch)
			acc := ch.Account
			if acc.CustomerID == nil {
				continue
			}
			if ev := accountEvent(ch); ev != nil {
				ev.CustomerID = acc.CustomerID
				if _, err := tx.AddEvent(ctx, *ev); err != nil {
					return err
				}
			}
			if acc.Status != kirim.AccountConnected || ch.FromStatus == kirim.AccountConnected {
				continue
			}
			if err := tx.SetCustomerStage(ctx, *acc.CustomerID, StageConnected, ""); err != nil {
				return err
			}
			if acc.PhoneNumberID != "" {
				if _, err := s.jobs.InsertTx(ctx, tx.SQL(), SyncTemplatesArgs{AccountID: acc.ID, Trigger: trigger}, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return changes, err
}

// accountEvent is the timeline's word for an account change.
func accountEvent(ch store.AccountChange) *store.Event {
	a := ch.Account
	switch {
	case a.Status == kirim.AccountConnected && (ch.New || ch.FromStatus != kirim.AccountConnected):
		return &store.Event{Kind: store.EventAccountConnected, Detail: map[string]any{"phone_number": a.PhoneNumber, "phone_number_id": a.PhoneNumberID}}
	case !ch.New && ch.FromStatus != a.Status:
		return &store.Event{Kind: store.EventAccountStatusChanged, Detail: map[string]any{"phone_number": a.PhoneNumber, "from": ch.FromStatus, "to": a.Status}}
	case ch.New:
		return &store.Event{Kind: store.EventAccountAdded, Detail: map[string]any{"phone_number": a.PhoneNumber, "status": a.Status}}
	}
	return nil
}

// RefreshCustomer brings one customer's mirror in line with Kirim: the customer, its
// links and its accounts, together (staff's "Refresh from Kirim", webhooks, archiving).
// onboarding reports an account Meta has not finished yet.
func (s *Service) RefreshCustomer(ctx context.Context, customerID int64, trigger string) (onboarding bool, err error) {
	c, err := s.db.CustomerByID(ctx, customerID)
	if err != nil {
		return false, err
	}
	kc, err := s.kirim.GetCustomer(ctx, c.KirimID)
	if err != nil {
		return false, err
	}
	if _, err := s.db.ReconcileCustomers(ctx, []store.CustomerMirror{mirror(kc)}, trigger); err != nil {
		return false, err
	}
	if err := s.RefreshLinks(ctx, c.ID); err != nil {
		return false, err
	}
	accounts, _, err := s.customerAccounts(ctx, c, trigger)
	if err != nil {
		return false, err
	}
	for _, a := range accounts {
		onboarding = onboarding || a.Status == kirim.AccountOnboarding
	}
	return onboarding, nil
}
