package web

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
)

// APIEndpoint is an outgoing webhook endpoint.
type APIEndpoint struct {
	ID        int64     `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	State     string    `json:"state" enum:"active,disabled"`
	CreatedAt time.Time `json:"created_at"`
	// Secret is the signing secret, in the answer to the create only.
	Secret string `json:"secret,omitempty" doc:"The signing secret (whsec_…): in the create's answer only, never again"`
}

type endpointBody struct {
	Body APIEndpoint
}

type createEndpointInput struct {
	IdempotencyKey string `header:"Idempotency-Key"`
	Body           struct {
		URL    string   `json:"url" minLength:"1" maxLength:"2048" doc:"https (http only for localhost)"`
		Events []string `json:"events" minItems:"1" doc:"customer.created, link.sent, landing.opened, signup.succeeded, signup.failed, account.disconnected, templates.synced"`
	}
}

type endpointList struct {
	Body struct {
		Data []APIEndpoint `json:"data"`
	}
}

type EndpointParam struct {
	ID int64 `path:"id"`
}

// registerWebhookAPI adds the endpoints' operations.
func registerWebhookAPI(api huma.API, s *Server) {
	tags := []string{"Webhooks"}
	huma.Register(api, huma.Operation{OperationID: "create-webhook-endpoint", Method: http.MethodPost, Path: "/webhook_endpoints", Tags: tags,
		Summary: "Add a webhook endpoint", Description: "The answer carries the signing secret, once.", DefaultStatus: http.StatusCreated}, s.apiCreateEndpoint)
	huma.Register(api, huma.Operation{OperationID: "list-webhook-endpoints", Method: http.MethodGet, Path: "/webhook_endpoints", Tags: tags,
		Summary: "List webhook endpoints"}, s.apiListEndpoints)
	huma.Register(api, huma.Operation{OperationID: "delete-webhook-endpoint", Method: http.MethodDelete, Path: "/webhook_endpoints/{id}", Tags: tags,
		Summary: "Delete a webhook endpoint", DefaultStatus: http.StatusNoContent}, s.apiDeleteEndpoint)
}

func apiEndpoint(ep *store.Endpoint) APIEndpoint {
	return APIEndpoint{ID: ep.ID, URL: ep.URL, Events: ep.Events, State: ep.State, CreatedAt: ep.CreatedAt}
}

func (s *Server) apiCreateEndpoint(ctx context.Context, in *createEndpointInput) (*endpointBody, error) {
	ep, sec, err := s.ob.CreateEndpoint(ctx, onboarding.EndpointInput{URL: in.Body.URL, Events: in.Body.Events}, apiActor(ctx))
	if err != nil {
		return nil, apiProblem(ctx, err)
	}
	out := apiEndpoint(ep)
	out.Secret = sec
	return &endpointBody{Body: out}, nil
}

func (s *Server) apiListEndpoints(ctx context.Context, _ *struct{}) (*endpointList, error) {
	eps, err := s.db.Endpoints(ctx)
	if err != nil {
		return nil, err
	}
	out := &endpointList{}
	out.Body.Data = make([]APIEndpoint, 0, len(eps))
	for _, ep := range eps {
		out.Body.Data = append(out.Body.Data, apiEndpoint(ep))
	}
	return out, nil
}

func (s *Server) apiDeleteEndpoint(ctx context.Context, in *EndpointParam) (*struct{}, error) {
	if err := s.db.DeleteEndpoint(ctx, in.ID); err != nil {
		return nil, apiErr(ctx, http.StatusNotFound, "not_found", "No such endpoint.")
	}
	return nil, nil
}
