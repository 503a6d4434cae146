package onboarding

import (
	"context"
	"time"
)

// keyMemory is how long Kirim replays an Idempotency-Key's first answer.
const keyMemory = 24 * time.Hour

// ReportUnsettled looks, at start, at the requests to Kirim whose answer never came
// (a timeout, a crash mid-call). Within Kirim's 24 hours, sending the same form again
// settles one (see CreateCustomer, RegisterWebhook); they are logged so that staff
// know. Older ones can no longer be settled: they are closed as failed, with what
// that means, and reconciliation brings in whatever customer Kirim did make.
func (s *Service) ReportUnsettled(ctx context.Context) error {
	intents, err := s.db.PendingIntents(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, it := range intents {
		if now.Sub(it.CreatedAt) < keyMemory {
			s.log.Warn("a request to Kirim has no known outcome yet; sending the same form again settles it",
				"kind", it.Kind, "since", it.CreatedAt.Format(time.RFC3339))
			continue
		}
		reason := "Kirim's answer never came and Kirim no longer remembers the request: " + unsettledMeaning[it.Kind]
		if err := s.db.FailIntent(ctx, it.Key, reason, true); err != nil {
			return err
		}
		s.log.Warn("closed a request to Kirim whose outcome stayed unknown", "kind", it.Kind, "since", it.CreatedAt.Format(time.RFC3339))
	}
	return nil
}

// unsettledMeaning says, per kind of request, what an unknown outcome leaves behind.
var unsettledMeaning = map[string]string{
	"customer.create":   "if Kirim made the customer, reconciliation has brought it in as imported.",
	"setup_link.create": "if Kirim made the link, nobody has its setup URL; it expires unused.",
	"webhook.register":  "if Kirim made a subscription, its deliveries fail their check; register again and delete it in Kirim's dashboard.",
}
