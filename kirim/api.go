package kirim

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

type envelope[T any] struct {
	Data      T      `json:"data"`
	RequestID string `json:"request_id"`
}

func get[T any](ctx context.Context, c *Client, cl call) (T, error) {
	var env envelope[T]
	err := c.do(ctx, cl, &env)
	return env.Data, err
}

// maxPages bounds how many pages one list call follows: a server that never ends its
// list must not keep the portal busy forever.
const maxPages = 10_000

// pages calls a list endpoint and follows next_cursor until has_more is false, the
// cursor is missing or repeats, or a page comes back empty (Kirim's standard pagination
// contract, which every list honours even where it is documented as one page). The
// first error is yielded and ends the walk.
func pages[T any](ctx context.Context, c *Client, cl call) iter.Seq2[[]T, error] {
	return func(yield func([]T, error) bool) {
		seen := map[string]bool{}
		for range maxPages {
			var page Page[T]
			if err := c.do(ctx, cl, &page); err != nil {
				yield(nil, err)
				return
			}
			if len(page.Data) > 0 && !yield(page.Data, nil) {
				return
			}
			if !page.HasMore || len(page.Data) == 0 || page.NextCursor == nil || *page.NextCursor == "" || seen[*page.NextCursor] {
				return
			}
			seen[*page.NextCursor] = true
			q := url.Values{}
			for k, v := range cl.query {
				q[k] = v
			}
			q.Set("cursor", *page.NextCursor)
			cl.query = q
		}
	}
}

// all collects every page of a list.
func all[T any](ctx context.Context, c *Client, cl call) ([]T, error) {
	out := []T{}
	for page, err := range pages[T](ctx, c, cl) {
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
	}
	return out, nil
}

// Health checks that the API answers (no key needed, but it is sent anyway).
func (c *Client) Health(ctx context.Context) error {
	_, err := get[struct {
		Status string `json:"status"`
	}](ctx, c, call{method: http.MethodGet, path: "/health"})
	return err
}

// Me returns the organisation, key and rate limits behind the API key.
func (c *Client) Me(ctx context.Context) (*Me, error) {
	me, err := get[Me](ctx, c, call{method: http.MethodGet, path: "/me"})
	if err != nil {
		return nil, err
	}
	return &me, nil
}

// AccountFilter narrows GET /accounts.
type AccountFilter struct {
	// Status is "connected" (Kirim's default) or "all".
	Status     string
	CustomerID string
}

// ListAccounts returns WhatsApp accounts. Kirim documents the list as one page; should
// it ever say has_more, the client follows the cursor.
func (c *Client) ListAccounts(ctx context.Context, f AccountFilter) ([]Account, error) {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if f.CustomerID != "" {
		q.Set("customer_id", f.CustomerID)
	}
	return all[Account](ctx, c, call{method: http.MethodGet, path: "/accounts", query: q})
}

// ListCustomersParams filters and pages GET /customers.
type ListCustomersParams struct {
	Status string
	Search string
	// Limit is 1..100; zero leaves Kirim's default (25).
	Limit  int
	Cursor string
}

// ListCustomers returns one page of customers.
func (c *Client) ListCustomers(ctx context.Context, p ListCustomersParams) (*Page[Customer], error) {
	var page Page[Customer]
	if err := c.do(ctx, call{method: http.MethodGet, path: "/customers", query: customersQuery(p)}, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

func customersQuery(p ListCustomersParams) url.Values {
	q := url.Values{}
	if p.Status != "" {
		q.Set("status", p.Status)
	}
	if p.Search != "" {
		q.Set("search", p.Search)
	}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	return q
}

// AllCustomers iterates over every customer matching p, page by page. It stops at the
// first error, which it yields.
func (c *Client) AllCustomers(ctx context.Context, p ListCustomersParams) iter.Seq2[Customer, error] {
	return func(yield func(Customer, error) bool) {
		for page, err := range pages[Customer](ctx, c, call{method: http.MethodGet, path: "/customers", query: customersQuery(p)}) {
			if err != nil {
				yield(Customer{}, err)
				return
			}
			for _, cu := range page {
				if !yield(cu, nil) {
					return
				}
			}
		}
	}
}

// CreateCustomerParams is the body of POST /customers.
type CreateCustomerParams struct {
	Name     string         `json:"name"`
	Email    string         `json:"email,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	TeamID   string         `json:"team_id,omitempty"`
	// IdempotencyKey makes retries of this create safe; use a local row's key.
	IdempotencyKey string `json:"-"`
}

// CreateCustomer creates a customer in the pending status.
func (c *Client) CreateCustomer(ctx context.Context, p CreateCustomerParams) (*Customer, error) {
	cu, err := get[Customer](ctx, c, call{method: http.MethodPost, path: "/customers", body: p, idemKey: p.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	return &cu, nil
}

// GetCustomer returns a customer with its WhatsApp accounts.
func (c *Client) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	cu, err := get[Customer](ctx, c, call{method: http.MethodGet, path: "/customers/" + url.PathEscape(id)})
	if err != nil {
		return nil, err
	}
	return &cu, nil
}

// Field is an optional, nullable field of a PATCH body: the zero value leaves the field
// out; Null sends null (clears it); Value sends a value.
type Field[T any] struct {
	set, null bool
	v         T
}

// Value returns a field set to v.
func Value[T any](v T) Field[T] { return Field[T]{set: true, v: v} }

// Null returns a field that clears the value.
func Null[T any]() Field[T] { return Field[T]{set: true, null: true} }

func (f Field[T]) put(m map[string]any, name string) {
	switch {
	case !f.set:
	case f.null:
		m[name] = nil
	default:
		m[name] = f.v
	}
}

// UpdateCustomerParams is the body of PATCH /customers/{id}.
type UpdateCustomerParams struct {
	Name     Field[string]
	Email    Field[string]
	Metadata Field[map[string]any]
	// Status is pending, active or suspended (archive with ArchiveCustomer).
	Status Field[string]
}

// UpdateCustomer changes a customer's name, email, metadata or status.
func (c *Client) UpdateCustomer(ctx context.Context, id string, p UpdateCustomerParams) (*Customer, error) {
	body := map[string]any{}
	p.Name.put(body, "name")
	p.Email.put(body, "email")
	p.Metadata.put(body, "metadata")
	p.Status.put(body, "status")
	cu, err := get[Customer](ctx, c, call{method: http.MethodPatch, path: "/customers/" + url.PathEscape(id), body: body})
	if err != nil {
		return nil, err
	}
	return &cu, nil
}

// ArchiveCustomer soft-deletes a customer; its accounts keep their customer_id.
func (c *Client) ArchiveCustomer(ctx context.Context, id string) error {
	_, err := get[json.RawMessage](ctx, c, call{method: http.MethodDelete, path: "/customers/" + url.PathEscape(id)})
	return err
}

// ListSetupLinks returns up to the 50 newest links of a customer, optionally by status.
func (c *Client) ListSetupLinks(ctx context.Context, customerID, status string) ([]SetupLink, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	return all[SetupLink](ctx, c, call{method: http.MethodGet, path: "/customers/" + url.PathEscape(customerID) + "/setup_links", query: q})
}

// CreateSetupLinkParams is the body of POST /customers/{id}/setup_links.
type CreateSetupLinkParams struct {
	// ExpiresInHours is 1..720; zero leaves Kirim's default (168).
	ExpiresInHours     int    `json:"expires_in_hours,omitempty"`
	SuccessRedirectURL string `json:"success_redirect_url,omitempty"`
	FailureRedirectURL string `json:"failure_redirect_url,omitempty"`
	IdempotencyKey     string `json:"-"`
}

// CreateSetupLink creates a one-time link. Its SetupURL is returned only here: store it.
func (c *Client) CreateSetupLink(ctx context.Context, customerID string, p CreateSetupLinkParams) (*SetupLink, error) {
	l, err := get[SetupLink](ctx, c, call{method: http.MethodPost, path: "/customers/" + url.PathEscape(customerID) + "/setup_links", body: p, idemKey: p.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// UpdateSetupLinkParams changes the redirect URLs of an active link.
type UpdateSetupLinkParams struct {
	SuccessRedirectURL Field[string]
	FailureRedirectURL Field[string]
}

// UpdateSetupLink changes redirect URLs while the link is active (else a 409).
func (c *Client) UpdateSetupLink(ctx context.Context, customerID, linkID string, p UpdateSetupLinkParams) (*SetupLink, error) {
	body := map[string]any{}
	p.SuccessRedirectURL.put(body, "success_redirect_url")
	p.FailureRedirectURL.put(body, "failure_redirect_url")
	l, err := get[SetupLink](ctx, c, call{method: http.MethodPatch, path: "/customers/" + url.PathEscape(customerID) + "/setup_links/" + url.PathEscape(linkID), body: body})
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// RevokeSetupLink revokes an active link (a consumed or revoked one gives a 409).
func (c *Client) RevokeSetupLink(ctx context.Context, customerID, linkID string) error {
	_, err := get[json.RawMessage](ctx, c, call{method: http.MethodDelete, path: "/customers/" + url.PathEscape(customerID) + "/setup_links/" + url.PathEscape(linkID)})
	return err
}

// ListTemplates returns all of an account's message templates, following the cursor
// through every page.
func (c *Client) ListTemplates(ctx context.Context, phoneNumberID string) ([]Template, error) {
	return all[Template](ctx, c, call{method: http.MethodGet, path: "/" + url.PathEscape(phoneNumberID) + "/templates"})
}

// SyncTemplates pulls an account's templates from Meta into Kirim. It is idempotent on
// Kirim's side; idemKey (optional) makes a retried POST safe.
func (c *Client) SyncTemplates(ctx context.Context, phoneNumberID, idemKey string) (*SyncResult, error) {
	r, err := get[SyncResult](ctx, c, call{method: http.MethodPost, path: "/" + url.PathEscape(phoneNumberID) + "/templates/sync", idemKey: idemKey})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// CreateWebhookSubscriptionParams is the body of POST /webhook_subscriptions.
type CreateWebhookSubscriptionParams struct {
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Description    string   `json:"description,omitempty"`
	IdempotencyKey string   `json:"-"`
}

// CreateWebhookSubscription registers a webhook endpoint; the secret is returned once.
func (c *Client) CreateWebhookSubscription(ctx context.Context, p CreateWebhookSubscriptionParams) (*WebhookSubscription, error) {
	s, err := get[WebhookSubscription](ctx, c, call{method: http.MethodPost, path: "/webhook_subscriptions", body: p, idemKey: p.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// DeleteWebhookSubscription removes a subscription. The operation is not in Kirim's
// published contract (see kirimtest/openapi.json): a 404 may mean the subscription is gone or
// that this Kirim cannot delete, and callers must not tell the two apart.
func (c *Client) DeleteWebhookSubscription(ctx context.Context, id string) error {
	_, err := get[json.RawMessage](ctx, c, call{method: http.MethodDelete, path: "/webhook_subscriptions/" + url.PathEscape(id)})
	return err
}

// CustomerEvents are the webhook events of platform mode.
var CustomerEvents = []string{
	"customer.created", "customer.updated", "customer.archived", "customer.onboarded",
	"customer.setup_link.created", "customer.setup_link.consumed",
}
