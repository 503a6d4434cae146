package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// The API's customer operations: thin, as the admin handlers are.

// APICustomer is a customer as the API shows it.
type APICustomer struct {
	ID          int64          `json:"id" doc:"The portal's id of the customer"`
	KirimID     string         `json:"kirim_id" doc:"Kirim's id (cus_…)"`
	Name        string         `json:"name"`
	Email       string         `json:"email,omitempty"`
	ExternalRef string         `json:"external_ref,omitempty" doc:"Your reference (kept in Kirim's metadata as external_ref)"`
	Language    string         `json:"language" enum:"en,id"`
	TimeZone    string         `json:"time_zone,omitempty" doc:"The zone reminders are timed in, when set"`
	Status      string         `json:"status" doc:"Kirim's status: pending, active, suspended, archived"`
	Stage       string         `json:"stage" doc:"Where onboarding stands: created, link_issued, link_sent, opened, started, connected, failed"`
	StageReason string         `json:"stage_reason,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	CreatedAt   time.Time      `json:"created_at"`
	ActiveLink  *APILink       `json:"active_link,omitempty" doc:"The newest link still usable (single customer reads only)"`
	Accounts    []APIAccount   `json:"accounts,omitempty" doc:"WhatsApp numbers (single customer reads only)"`
	LastEvents  []APIEvent     `json:"last_events,omitempty" doc:"The ten newest timeline events (single customer reads only)"`
}

// APILink is a setup link.
type APILink struct {
	KirimID    string    `json:"kirim_id"`
	Status     string    `json:"status"`
	ExpiresAt  time.Time `json:"expires_at"`
	LandingURL string    `json:"landing_url" doc:"The portal's branded page that leads the customer to Kirim"`
}

// APIAccount is a WhatsApp number.
type APIAccount struct {
	KirimID       string     `json:"kirim_id"`
	PhoneNumber   string     `json:"phone_number,omitempty"`
	PhoneNumberID string     `json:"phone_number_id,omitempty"`
	Status        string     `json:"status"`
	Templates     int        `json:"templates" doc:"Message templates mirrored"`
	OnboardedAt   *time.Time `json:"onboarded_at,omitempty"`
}

// APIEvent is a timeline event.
type APIEvent struct {
	ID        int64          `json:"id"`
	Kind      string         `json:"kind"`
	Actor     string         `json:"actor"`
	Detail    map[string]any `json:"detail,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

type customerBody struct {
	Body APICustomer
}

type createCustomerInput struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"Sent again with the same key within 24 hours, the request is answered as the first time"`
	Body           struct {
		Name        string            `json:"name" minLength:"1" maxLength:"200"`
		Email       string            `json:"email,omitempty" maxLength:"255"`
		Language    string            `json:"language,omitempty" enum:"en,id" doc:"Of the emails and pages (default en)"`
		TimeZone    string            `json:"time_zone,omitempty" doc:"IANA zone reminders are timed in (default: from the language)"`
		ExternalRef string            `json:"external_ref,omitempty" maxLength:"200"`
		TeamID      string            `json:"team_id,omitempty" maxLength:"64"`
		Metadata    map[string]string `json:"metadata,omitempty"`
		SendLink    bool              `json:"send_link,omitempty" doc:"Email the customer a setup link at once (needs email)"`
	}
}

type listCustomersInput struct {
	Status      string `query:"status" enum:"pending,active,suspended,archived"`
	Stage       string `query:"stage" enum:"created,link_issued,link_sent,opened,started,connected,failed"`
	ExternalRef string `query:"external_ref"`
	Email       string `query:"email"`
	Cursor      string `query:"cursor" doc:"next_cursor of the previous page"`
	Limit       int    `query:"limit" minimum:"1" maximum:"100" default:"25"`
}

type customerList struct {
	Body struct {
		Data       []APICustomer `json:"data"`
		HasMore    bool          `json:"has_more"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}
}

type CustomerParam struct {
	ID int64 `path:"id" doc:"The portal's id of the customer"`
}

type updateCustomerInput struct {
	CustomerParam
	Body struct {
		Name        *string            `json:"name,omitempty" minLength:"1" maxLength:"200"`
		Email       *string            `json:"email,omitempty" maxLength:"255" doc:"Empty removes it"`
		Language    *string            `json:"language,omitempty" enum:"en,id"`
		TimeZone    *string            `json:"time_zone,omitempty" doc:"Empty: from the language"`
		ExternalRef *string            `json:"external_ref,omitempty" maxLength:"200"`
		Metadata    *map[string]string `json:"metadata,omitempty" doc:"Replaces the metadata (external_ref and phone kept unless given)"`
	}
}

type issueLinkInput struct {
	CustomerParam
	IdempotencyKey string `header:"Idempotency-Key"`
	Body           *struct {
		ExpiresInHours int `json:"expires_in_hours,omitempty" minimum:"1" maximum:"720" doc:"Default: the branding setting (7 days)"`
	}
}

type linkBody struct {
	Body APILink
}

type sendEmailInput struct {
	CustomerParam
	IdempotencyKey string `header:"Idempotency-Key"`
	Body           *struct {
		Fresh bool `json:"fresh,omitempty" doc:"Generate a new link first, even if one is active"`
	}
}

type emailBody struct {
	Body struct {
		EmailID int64   `json:"email_id"`
		To      string  `json:"to"`
		Status  string  `json:"status" doc:"queued (sent by the outbox), or held when the portal has no SMTP server"`
		Link    APILink `json:"link"`
	}
}

type eventsInput struct {
	CustomerParam
	Before int64 `query:"before" doc:"Only events older than this event id"`
	Limit  int   `query:"limit" minimum:"1" maximum:"100" default:"50"`
}

type eventList struct {
	Body struct {
		Data    []APIEvent `json:"data"`
		HasMore bool       `json:"has_more"`
	}
}

// registerAPI adds the operations (s is nil when only the document is wanted).
func registerAPI(api huma.API, s *Server) {
	tags := []string{"Customers"}
	huma.Register(api, huma.Operation{OperationID: "create-customer", Method: http.MethodPost, Path: "/customers", Tags: tags,
		Summary: "Create a customer", Description: "Creates the customer in Kirim and here; with send_link, emails it a setup link.",
		DefaultStatus: http.StatusCreated}, s.apiCreateCustomer)
	huma.Register(api, huma.Operation{OperationID: "list-customers", Method: http.MethodGet, Path: "/customers", Tags: tags,
		Summary: "List customers", Description: "Newest first, cursor pages."}, s.apiListCustomers)
	huma.Register(api, huma.Operation{OperationID: "get-customer", Method: http.MethodGet, Path: "/customers/{id}", Tags: tags,
		Summary: "Get a customer", Description: "With its active link, its numbers and its newest events."}, s.apiGetCustomer)
	huma.Register(api, huma.Operation{OperationID: "update-customer", Method: http.MethodPatch, Path: "/customers/{id}", Tags: tags,
		Summary: "Update a customer", Description: "Only the fields sent change."}, s.apiUpdateCustomer)
	huma.Register(api, huma.Operation{OperationID: "issue-link", Method: http.MethodPost, Path: "/customers/{id}/links", Tags: tags,
		Summary: "Generate a setup link", DefaultStatus: http.StatusCreated}, s.apiIssueLink)
	huma.Register(api, huma.Operation{OperationID: "email-link", Method: http.MethodPost, Path: "/customers/{id}/email", Tags: tags,
		Summary: "Email the setup link", Description: "The active link, or a new one when none is active (or fresh is asked).",
		DefaultStatus: http.StatusAccepted}, s.apiEmailLink)
	huma.Register(api, huma.Operation{OperationID: "list-events", Method: http.MethodGet, Path: "/customers/{id}/events", Tags: tags,
		Summary: "A customer's timeline", Description: "Newest first."}, s.apiEvents)
	registerWebhookAPI(api, s)
}

func (s *Server) apiCreateCustomer(ctx context.Context, in *createCustomerInput) (*customerBody, error) {
	b := in.Body
	ci := onboarding.CustomerInput{Name: b.Name, Email: b.Email, TeamID: b.TeamID, Locale: b.Language, SendLink: b.SendLink}
	for _, k := range sortedKeys(b.Metadata) {
		ci.Metadata = append(ci.Metadata, onboarding.MetaPair{Key: k, Value: b.Metadata[k]})
	}
	if b.ExternalRef != "" {
		ci.Metadata = append(ci.Metadata, onboarding.MetaPair{Key: "external_ref", Value: b.ExternalRef})
	}
	if b.TimeZone != "" {
		if _, err := time.LoadLocation(b.TimeZone); err != nil {
			return nil, apiProblem(ctx, &onboarding.InvalidError{Fields: onboarding.FieldErrors{"time_zone": "Give an IANA time zone such as Asia/Jakarta."}})
		}
	}
	actor := apiActor(ctx)
	c, err := s.ob.CreateCustomer(ctx, ci, formKey(ctx, in.IdempotencyKey), actor)
	var se *onboarding.SendError
	if err != nil && !errors.As(err, &se) {
		return nil, apiProblem(ctx, err)
	}
	if b.TimeZone != "" {
		if err := s.ob.SetCustomerTimeZone(ctx, c.ID, b.TimeZone, actor); err != nil {
			return nil, apiProblem(ctx, err)
		}
	}
	if se != nil {
		return nil, apiErr(ctx, http.StatusBadGateway, "link_not_sent", "The customer was created (id "+strconv.FormatInt(c.ID, 10)+
			"), but its link email could not be sent: "+Words(se.Err)+" Send it with POST /customers/{id}/email.")
	}
	return s.customerOut(ctx, c.ID)
}

func (s *Server) apiListCustomers(ctx context.Context, in *listCustomersInput) (*customerList, error) {
	page, err := s.db.Customers(ctx, store.CustomerFilter{Status: in.Status, Stage: in.Stage, ExternalRef: in.ExternalRef,
		Email: in.Email, After: in.Cursor, Limit: in.Limit})
	if errors.Is(err, store.ErrNotFound) {
		return nil, apiErr(ctx, http.StatusBadRequest, "bad_cursor", "The cursor is not one this API gave.")
	}
	if err != nil {
		return nil, err
	}
	out := &customerList{}
	out.Body.Data = make([]APICustomer, 0, len(page.Customers))
	for _, c := range page.Customers {
		out.Body.Data = append(out.Body.Data, apiCustomer(c))
	}
	out.Body.HasMore, out.Body.NextCursor = page.Next != "", page.Next
	return out, nil
}

func (s *Server) apiGetCustomer(ctx context.Context, in *CustomerParam) (*customerBody, error) {
	return s.customerOut(ctx, in.ID)
}

func (s *Server) apiUpdateCustomer(ctx context.Context, in *updateCustomerInput) (*customerBody, error) {
	c, err := s.db.CustomerByID(ctx, in.ID)
	if err != nil {
		return nil, apiProblem(ctx, err)
	}
	b := in.Body
	ci := onboarding.CustomerInput{Name: c.Name, Email: c.Email, TeamID: c.TeamID, Locale: c.Locale}
	meta := map[string]string{}
	for k, v := range c.Metadata {
		if str, ok := v.(string); ok {
			meta[k] = str
		}
	}
	if b.Metadata != nil {
		kept := map[string]string{"external_ref": meta["external_ref"], "phone": meta["phone"]}
		meta = *b.Metadata
		for k, v := range kept {
			if _, set := meta[k]; !set && v != "" {
				meta[k] = v
			}
		}
	}
	if b.ExternalRef != nil {
		meta["external_ref"] = *b.ExternalRef
		if *b.ExternalRef == "" {
			delete(meta, "external_ref")
		}
	}
	for _, k := range sortedKeys(meta) {
		ci.Metadata = append(ci.Metadata, onboarding.MetaPair{Key: k, Value: meta[k]})
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&ci.Name, b.Name)
	set(&ci.Email, b.Email)
	set(&ci.Locale, b.Language)
	actor := apiActor(ctx)
	if _, err := s.ob.UpdateCustomer(ctx, c.ID, ci, actor); err != nil {
		return nil, apiProblem(ctx, err)
	}
	if b.TimeZone != nil {
		if err := s.ob.SetCustomerTimeZone(ctx, c.ID, *b.TimeZone, actor); err != nil {
			return nil, apiProblem(ctx, err)
		}
	}
	return s.customerOut(ctx, c.ID)
}

func (s *Server) apiIssueLink(ctx context.Context, in *issueLinkInput) (*linkBody, error) {
	if _, err := s.db.CustomerByID(ctx, in.ID); err != nil {
		return nil, apiProblem(ctx, err)
	}
	hours := 0
	if in.Body != nil {
		hours = in.Body.ExpiresInHours
	}
	if hours == 0 {
		b, err := s.db.Branding(ctx)
		if err != nil {
			return nil, err
		}
		hours = b.DefaultLinkHours
	}
	l, err := s.ob.IssueLink(ctx, in.ID, hours, apiActor(ctx))
	if err != nil {
		return nil, apiProblem(ctx, err)
	}
	out, err := s.apiLink(ctx, l)
	return &linkBody{Body: out}, err
}

func (s *Server) apiEmailLink(ctx context.Context, in *sendEmailInput) (*emailBody, error) {
	fresh := in.Body != nil && in.Body.Fresh
	e, err := s.ob.SendLinkEmail(ctx, in.ID, fresh, apiActor(ctx))
	if err != nil {
		return nil, apiProblem(ctx, err)
	}
	links, err := s.db.SetupLinks(ctx, in.ID)
	if err != nil || len(links) == 0 {
		return nil, errors.Join(err, errors.New("api: the email's link is gone"))
	}
	out := &emailBody{}
	out.Body.EmailID, out.Body.To, out.Body.Status = e.ID, e.To, e.Status
	out.Body.Link, err = s.apiLink(ctx, links[0])
	return out, err
}

func (s *Server) apiEvents(ctx context.Context, in *eventsInput) (*eventList, error) {
	if _, err := s.db.CustomerByID(ctx, in.ID); err != nil {
		return nil, apiProblem(ctx, err)
	}
	before, beforeID := time.Time{}, int64(0)
	if in.Before > 0 {
		e, err := s.db.EventByID(ctx, in.ID, in.Before)
		if err != nil {
			return nil, apiProblem(ctx, err)
		}
		before, beforeID = e.CreatedAt, e.ID
	}
	events, err := s.db.Events(ctx, in.ID, before, beforeID, in.Limit+1)
	if err != nil {
		return nil, err
	}
	out := &eventList{}
	out.Body.HasMore = len(events) > in.Limit
	out.Body.Data = make([]APIEvent, 0, len(events))
	for _, e := range events[:min(len(events), in.Limit)] {
		out.Body.Data = append(out.Body.Data, apiEvent(e))
	}
	return out, nil
}

func apiEvent(e store.Event) APIEvent {
	return APIEvent{ID: e.ID, Kind: string(e.Kind), Actor: e.Actor, Detail: e.Detail, CreatedAt: e.CreatedAt}
}

func apiCustomer(c *store.Customer) APICustomer {
	out := APICustomer{ID: c.ID, KirimID: c.KirimID, Name: c.Name, Email: c.Email, Language: c.Locale, TimeZone: c.TimeZone,
		Status: c.Status, Stage: c.Stage, StageReason: c.StageReason, Metadata: c.Metadata, CreatedAt: c.CreatedAt}
	out.ExternalRef, _ = c.Metadata["external_ref"].(string)
	return out
}

// customerOut is a customer with its active link, numbers and newest events.
func (s *Server) customerOut(ctx context.Context, id int64) (*customerBody, error) {
	c, err := s.db.CustomerByID(ctx, id)
	if err != nil {
		return nil, apiProblem(ctx, err)
	}
	out := apiCustomer(c)
	links, err := s.db.SetupLinks(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.db.Now()
	for _, l := range links {
		if onboarding.LinkStatus(l, now) == kirim.LinkActive {
			al, err := s.apiLink(ctx, l)
			if err != nil {
				return nil, err
			}
			out.ActiveLink = &al
			break
		}
	}
	accounts, err := s.db.Accounts(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, a := range accounts {
		templates, err := s.db.Templates(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		out.Accounts = append(out.Accounts, APIAccount{KirimID: a.KirimID, PhoneNumber: a.PhoneNumber, PhoneNumberID: a.PhoneNumberID,
			Status: a.Status, Templates: len(templates), OnboardedAt: a.OnboardedAt})
	}
	events, err := s.db.Events(ctx, id, time.Time{}, 0, 10)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		out.LastEvents = append(out.LastEvents, apiEvent(e))
	}
	return &customerBody{Body: out}, nil
}

func (s *Server) apiLink(ctx context.Context, l *store.SetupLink) (APILink, error) {
	token, err := s.db.LandingToken(ctx, l.ID)
	if err != nil {
		return APILink{}, err
	}
	return APILink{KirimID: l.KirimID, Status: onboarding.LinkStatus(l, s.db.Now()), ExpiresAt: l.ExpiresAt,
		LandingURL: s.ob.LandingURL(token)}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func newRandomKey() string { return secret.NewToken(16) }

// apiErr is an error of the envelope with the request id.
func apiErr(ctx context.Context, status int, code, msg string) error {
	e := newAPIError(status, code, msg)
	e.Err.RequestID, _ = ctx.Value(localRequestID).(string)
	return e
}
