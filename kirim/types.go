package kirim

import (
	"encoding/json"
	"log/slog"
	"time"
)

// Secret is a string that must not be printed: setup URLs and webhook secrets. Its
// String, GoString and LogValue hide it; Reveal returns it.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String hides the secret from fmt and friends.
func (s Secret) String() string { return "[redacted]" }

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return `kirim.Secret("[redacted]")` }

// LogValue hides the secret from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Str returns the value of one of Kirim's nullable strings: "" for null.
func Str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Customer statuses.
const (
	CustomerPending   = "pending"
	CustomerActive    = "active"
	CustomerSuspended = "suspended"
	CustomerArchived  = "archived"
)

// Setup link statuses.
const (
	LinkActive   = "active"
	LinkConsumed = "consumed"
	LinkExpired  = "expired"
	LinkRevoked  = "revoked"
)

// WhatsApp account statuses (Kirim names these; others may appear).
const (
	AccountConnected    = "connected"
	AccountOnboarding   = "onboarding"
	AccountDegraded     = "degraded"
	AccountDisconnected = "disconnected"
)

// Template statuses (Kirim's documented ones; others such as paused may appear).
const (
	TemplateApproved = "approved"
	TemplatePending  = "pending"
	TemplateRejected = "rejected"
)

// Customer is an end-customer of the platform (Kirim's tenant of a tenant).
type Customer struct {
	ID         string         `json:"id"`
	Object     string         `json:"object"`
	Name       string         `json:"name"`
	Email      *string        `json:"email"`
	Status     string         `json:"status"`
	Metadata   map[string]any `json:"metadata"`
	ArchivedAt *time.Time     `json:"archived_at"`
	TeamID     string         `json:"team_id"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	// WhatsappAccounts is filled by GetCustomer only.
	WhatsappAccounts []CustomerAccount `json:"whatsapp_accounts"`
}

// CustomerAccount is a WhatsApp account as embedded in GET /customers/{id}.
type CustomerAccount struct {
	PhoneNumberID *string    `json:"phone_number_id"`
	PhoneNumber   *string    `json:"phone_number"`
	Name          *string    `json:"name"`
	Status        string     `json:"status"`
	OnboardedAt   *time.Time `json:"onboarded_at"`
}

// SetupLink is a one-time Embedded Signup link of a customer.
type SetupLink struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	// CustomerID is Kirim's INTERNAL customer id, not the cus_ id: never compare them.
	CustomerID         string     `json:"customer_id"`
	Status             string     `json:"status"`
	TokenLast4         string     `json:"token_last4"`
	ExpiresAt          time.Time  `json:"expires_at"`
	ConsumedAt         *time.Time `json:"consumed_at"`
	SuccessRedirectURL *string    `json:"success_redirect_url"`
	FailureRedirectURL *string    `json:"failure_redirect_url"`
	CreatedAt          time.Time  `json:"created_at"`
	// SetupURL is returned once, by CreateSetupLink; later reads leave it empty.
	SetupURL Secret `json:"setup_url,omitempty"`
}

// Account is a row of GET /accounts.
type Account struct {
	Object        string  `json:"object"`
	ID            string  `json:"id,omitempty"`
	PhoneNumberID *string `json:"phone_number_id"`
	PhoneNumber   *string `json:"phone_number"`
	Name          *string `json:"name"`
	Status        string  `json:"status"`
	CustomerID    *string `json:"customer_id"`
}

// Template is a WhatsApp message template of an account.
type Template struct {
	ID       string `json:"id,omitempty"`
	Name     string `json:"name"`
	Language string `json:"language"`
	Category string `json:"category,omitempty"`
	Status   string `json:"status"`
}

// SyncResult summarises a template sync.
type SyncResult struct {
	Object  string `json:"object"`
	Synced  int    `json:"synced"`
	Created int    `json:"created"`
	Updated int    `json:"updated"`
}

// Me describes the organisation and key behind the API key.
type Me struct {
	Organization struct {
		ID     string `json:"id"`
		Object string `json:"object"`
		Name   string `json:"name"`
	} `json:"organization"`
	APIKey struct {
		ID     string  `json:"id"`
		Object string  `json:"object"`
		Label  *string `json:"label"`
		Last4  string  `json:"last4"`
	} `json:"api_key"`
	RateLimits struct {
		Tier           string `json:"tier"`
		WritePerMinute int    `json:"write_per_minute"`
		ReadPerMinute  int    `json:"read_per_minute"`
	} `json:"rate_limits"`
}

// WebhookSubscription is a registered webhook endpoint. InitialSecret is returned once.
type WebhookSubscription struct {
	ID            string   `json:"id"`
	URL           string   `json:"url"`
	Events        []string `json:"events"`
	Status        string   `json:"status"`
	InitialSecret Secret   `json:"initial_secret,omitempty"`
}

// WebhookEvent is the body of a Kirim-native webhook delivery.
type WebhookEvent struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
	Livemode  bool            `json:"livemode"`
}

// Page is one page of a cursor-paginated list.
type Page[T any] struct {
	Data       []T     `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
	RequestID  string  `json:"request_id"`
}
