package onboarding

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

// AttentionSweepArgs works out again the customers whose state changed with time alone.
type AttentionSweepArgs struct{}

// Kind names the job.
func (AttentionSweepArgs) Kind() string { return "attention.sweep" }

// InsertOpts makes it one at a time.
func (AttentionSweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: whileQueued}
}

// SnoozeDays are the snoozes staff may choose.
var SnoozeDays = []int{1, 3, 7}

// maxNoteLen bounds a "handled" note.
const maxNoteLen = 500

// Snooze hides a customer's row in the queue for days (1, 3 or 7), or until its reason
// changes.
func (s *Service) Snooze(ctx context.Context, customerID int64, days int, actor string) error {
	ok := false
	for _, d := range SnoozeDays {
		ok = ok || d == days
	}
	if !ok {
		return &InvalidError{FieldErrors{"days": "Snooze for 1, 3 or 7 days."}}
	}
	until := s.now().Add(time.Duration(days) * 24 * time.Hour)
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		return tx.SnoozeAttention(ctx, customerID, until, store.Event{Kind: store.EventAttentionSnoozed, Actor: actor,
			Detail: map[string]any{"days": days, "until": until}})
	})
}

// Handle marks a customer's row handled, with staff's note on the timeline; it shows
// again when its reason changes.
func (s *Service) Handle(ctx context.Context, customerID int64, note, actor string) error {
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > maxNoteLen {
		return &InvalidError{FieldErrors{"note": fmt.Sprintf("Keep the note under %d characters.", maxNoteLen)}}
	}
	a, err := s.db.AttentionOf(ctx, customerID)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		return tx.HandleAttention(ctx, customerID, store.Event{Kind: store.EventAttentionHandled, Actor: actor,
			Detail: map[string]any{"what": string(a.Kind), "note": note}})
	})
}

// AttentionWords says a reason in plain words, for staff.
func AttentionWords(k store.AttentionKind, detail string) string {
	switch k {
	case store.AttentionSignupFailed:
		return "Signup failed: " + FailureWords(detail)
	case store.AttentionUnconfirmed:
		return "Came back from Meta, but Kirim has not confirmed the connection"
	case store.AttentionNumberDown:
		return "Number not sending: " + detail
	case store.AttentionEmailFailed:
		return "The last email could not be delivered: " + detail
	case store.AttentionLinkDead:
		if detail == kirim.LinkRevoked {
			return "The newest link was revoked and no newer link exists"
		}
		return "The newest link expired unused and no newer link exists"
	case store.AttentionNeverOpened:
		return "Never opened the setup page after every reminder (" + detail + " sent)"
	case store.AttentionTemplatesRejected:
		return "Meta rejected templates: " + detail
	}
	return string(k)
}

// AttentionAction is the step staff take first about a reason: what to do, and what to
// tell the customer.
func AttentionAction(k store.AttentionKind, detail string) (do, tell string) {
	switch k {
	case store.AttentionSignupFailed:
		return FailureNextStep(detail), FailureTell(detail)
	case store.AttentionUnconfirmed:
		return "Refresh the customer from Kirim; if no number shows, check the account in Kirim.",
			"Tell them the connection is being checked and they do not need to start again."
	case store.AttentionNumberDown:
		return "Refresh the customer from Kirim, then ask the customer to check the number in WhatsApp Manager.",
			"Tell them their number stopped sending and Meta may need them to verify it again."
	case store.AttentionEmailFailed:
		return "Check the customer's email address, correct it, then send the link again.",
			"Confirm their email address by phone or chat."
	case store.AttentionLinkDead:
		return "Send a fresh link.", "Tell them a new link is on its way."
	case store.AttentionNeverOpened:
		return "Call or message the customer: emails are not reaching them or not read.",
			"Ask whether they received the email, and check the spam folder with them."
	case store.AttentionTemplatesRejected:
		return "Review the rejected templates in Meta's WhatsApp Manager.", "Tell them which templates need changing."
	}
	return "", ""
}

// FailureWords says a failure code in plain words for staff.
func FailureWords(code string) string {
	switch KnownReason(code) {
	case "signup_cancelled":
		return "the customer closed or cancelled Meta's signup"
	case "token_exchange_failed":
		return "Meta could not hand over access to the number"
	case "link_expired":
		return "the link had expired"
	case "link_revoked":
		return "the link had been revoked"
	case "link_already_used":
		return "the link was already used"
	}
	return "an unknown reason (" + code + ")"
}

// FailureNextStep is what staff do about a failure code.
func FailureNextStep(code string) string {
	if known := KnownReason(code); known != "" {
		return FailureNextSteps[known]
	}
	return unknownNextStep
}

// FailureTell is what staff tell the customer about a failure code.
func FailureTell(code string) string {
	switch KnownReason(code) {
	case "signup_cancelled":
		return "Ask what stopped them; they can use the same link again while it is active."
	case "token_exchange_failed":
		return "Tell them it was Meta's error and to try again in a few minutes with the same link."
	case "link_expired", "link_revoked":
		return "Tell them a fresh link is on its way."
	case "link_already_used":
		return "Tell them their number may already be connected; you are checking."
	}
	return "If the number is still registered in the WhatsApp app, they must delete that account in the app first, then try again."
}

// registerAttentionWorkers adds the queue's worker.
func (s *Service) registerAttentionWorkers(w *river.Workers) {
	jobs.Add(w, 5*time.Minute, func(ctx context.Context, j *river.Job[AttentionSweepArgs]) error {
		_, err := s.db.SweepAttention(ctx)
		return err
	})
}
