package sandbox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Variant picks, for each point Kirim's contract and documentation leave open, one of
// the legal behaviours. The zero value is the sandbox's first choice on every point;
// tests run the journeys under the others too, so the portal cannot come to depend on
// one of them.
type Variant struct {
	// RedirectCustomerID is the customer_id appended to redirects: "public" (the cus_
	// id; the default), "internal" (the id setup links carry) or "none".
	RedirectCustomerID string
	// RedirectAccountID is the account_id appended to success redirects: "account"
	// (Kirim's wba_ id; the default), "phone_number_id" or "none".
	RedirectAccountID string
	// ReasonParam names the failure redirect's reason parameter: "reason" (default),
	// "error" or "error_code".
	ReasonParam string
	// OtherReasonCodes spells failure reasons differently from the sandbox's first
	// choice (user_cancelled, META_TOKEN_EXCHANGE, …): codes the portal has never seen.
	OtherReasonCodes bool
	// ArchivedHidden leaves archived customers out of GET /customers unless the request
	// asks for status=archived.
	ArchivedHidden bool
	// TemplatePageSize pages GET /{phone_number_id}/templates; zero returns all in one page.
	TemplatePageSize int
	// EmptyLastPage ends every paginated list with an empty page: the last full page
	// still says has_more.
	EmptyLastPage bool
	// LinkOnlyWebhooks sends customer.setup_link.consumed and customer.onboarded with
	// only data.setup_link, whose customer_id is the internal id.
	LinkOnlyWebhooks bool
	// ReversedWebhooks holds events for a moment and delivers each burst newest first.
	ReversedWebhooks bool
	// DuplicateWebhooks delivers every event twice (same event id, two deliveries).
	DuplicateWebhooks bool
	// OnboardingReads makes a freshly signed-up account read as "onboarding" (without a
	// phone_number_id) for this many account reads before it is "connected".
	OnboardingReads int
	// IdempotentErrors keeps 4xx answers under their Idempotency-Key too: the same key
	// replays the refusal, and the key cannot be reused with another body.
	IdempotentErrors bool
	// NoSubscriptionDelete answers DELETE /webhook_subscriptions/{id} with 404, as a
	// Kirim without that (undocumented) operation would.
	NoSubscriptionDelete bool
}

// NamedVariant is a variant with the name tests and the CLI know it by.
type NamedVariant struct {
	Name string
	Variant
}

// Strict takes the other legal choice on every point at once.
var Strict = Variant{
	RedirectCustomerID: "internal", RedirectAccountID: "phone_number_id", ReasonParam: "error_code",
	OtherReasonCodes: true, ArchivedHidden: true, TemplatePageSize: 10, EmptyLastPage: true,
	LinkOnlyWebhooks: true, ReversedWebhooks: true, DuplicateWebhooks: true, OnboardingReads: 2,
	IdempotentErrors: true, NoSubscriptionDelete: true,
}

// Variants lists the default, each point's other choices one at a time, and all at once.
var Variants = []NamedVariant{
	{"default", Variant{}},
	{"internal-customer-id", Variant{RedirectCustomerID: "internal"}},
	{"no-customer-id", Variant{RedirectCustomerID: "none", RedirectAccountID: "none"}},
	{"phone-number-account-id", Variant{RedirectAccountID: "phone_number_id"}},
	{"error-param", Variant{ReasonParam: "error", OtherReasonCodes: true}},
	{"error-code-param", Variant{ReasonParam: "error_code"}},
	{"archived-hidden", Variant{ArchivedHidden: true}},
	{"template-pages", Variant{TemplatePageSize: 7, EmptyLastPage: true}},
	{"link-only-webhooks", Variant{LinkOnlyWebhooks: true}},
	{"reordered-webhooks", Variant{ReversedWebhooks: true, DuplicateWebhooks: true}},
	{"onboarding-first", Variant{OnboardingReads: 3}},
	{"idempotent-errors", Variant{IdempotentErrors: true}},
	{"no-subscription-delete", Variant{NoSubscriptionDelete: true}},
	{"strict", Strict},
}

// ParseVariant reads a variant from a comma-separated list of names from Variants
// ("strict", "archived-hidden") and settings ("customer-id=internal",
// "template-page-size=10", "onboarding-reads=2", "reason-param=error", "account-id=none").
// The settings combine; an empty string is the default.
func ParseVariant(s string) (Variant, error) {
	var v Variant
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, hasVal := strings.Cut(part, "=")
		if i := slices.IndexFunc(Variants, func(n NamedVariant) bool { return n.Name == part }); i >= 0 && !hasVal {
			v = merge(v, Variants[i].Variant)
			continue
		}
		var err error
		switch key {
		case "customer-id":
			err = oneOf(&v.RedirectCustomerID, val, "public", "internal", "none")
		case "account-id":
			err = oneOf(&v.RedirectAccountID, val, "account", "phone_number_id", "none")
		case "reason-param":
			err = oneOf(&v.ReasonParam, val, "reason", "error", "error_code")
		case "template-page-size":
			v.TemplatePageSize, err = strconv.Atoi(val)
			if err == nil && (v.TemplatePageSize < 0 || v.TemplatePageSize > 100) {
				err = fmt.Errorf("must be 0 to 100")
			}
		case "onboarding-reads":
			v.OnboardingReads, err = strconv.Atoi(val)
			if err == nil && v.OnboardingReads < 0 {
				err = fmt.Errorf("must not be negative")
			}
		default:
			names := make([]string, len(Variants))
			for i, n := range Variants {
				names[i] = n.Name
			}
			return Variant{}, fmt.Errorf("sandbox: unknown variant %q (names: %s; settings: customer-id=, account-id=, reason-param=, template-page-size=, onboarding-reads=)",
				part, strings.Join(names, ", "))
		}
		if err != nil {
			return Variant{}, fmt.Errorf("sandbox: variant %s: %w", part, err)
		}
	}
	return v, nil
}

func oneOf(dst *string, val string, allowed ...string) error {
	if !slices.Contains(allowed, val) {
		return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	}
	*dst = val
	return nil
}

// merge sets in a every point b sets.
func merge(a, b Variant) Variant {
	if b.RedirectCustomerID != "" {
		a.RedirectCustomerID = b.RedirectCustomerID
	}
	if b.RedirectAccountID != "" {
		a.RedirectAccountID = b.RedirectAccountID
	}
	if b.ReasonParam != "" {
		a.ReasonParam = b.ReasonParam
	}
	if b.TemplatePageSize != 0 {
		a.TemplatePageSize = b.TemplatePageSize
	}
	if b.OnboardingReads != 0 {
		a.OnboardingReads = b.OnboardingReads
	}
	a.OtherReasonCodes = a.OtherReasonCodes || b.OtherReasonCodes
	a.ArchivedHidden = a.ArchivedHidden || b.ArchivedHidden
	a.EmptyLastPage = a.EmptyLastPage || b.EmptyLastPage
	a.LinkOnlyWebhooks = a.LinkOnlyWebhooks || b.LinkOnlyWebhooks
	a.ReversedWebhooks = a.ReversedWebhooks || b.ReversedWebhooks
	a.DuplicateWebhooks = a.DuplicateWebhooks || b.DuplicateWebhooks
	a.IdempotentErrors = a.IdempotentErrors || b.IdempotentErrors
	a.NoSubscriptionDelete = a.NoSubscriptionDelete || b.NoSubscriptionDelete
	return a
}

// otherReasonCodes are the other spellings of the hosted page's failure reasons.
var otherReasonCodes = map[string]string{
	"signup_cancelled":                "user_cancelled",
	"token_exchange_failed":           "META_TOKEN_EXCHANGE",
	"phone_number_already_registered": "number_in_use",
	"display_name_only":               "display_name_only_flow",
	"verification_code_failed":        "otp.failed",
	"business_verification_failed":    "waba_rejected",
	"link_expired":                    "expired",
	"link_revoked":                    "revoked",
	"link_already_used":               "consumed",
}
