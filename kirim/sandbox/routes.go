package sandbox

import (
	"net/http"
	"regexp"
)

var phoneNumberIDPath = regexp.MustCompile(`^/v1/(\d{6,20})/templates(/sync)?$`)

func (s *Sandbox) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/health", s.api("/v1/health", false, s.health))
	m.HandleFunc("GET /v1/me", s.api("/v1/me", false, s.me))
	m.HandleFunc("GET /v1/accounts", s.api("/v1/accounts", false, s.listAccounts))
	m.HandleFunc("GET /v1/customers", s.api("/v1/customers", false, s.listCustomers))
	m.HandleFunc("POST /v1/customers", s.api("/v1/customers", true, s.createCustomer))
	m.HandleFunc("GET /v1/customers/{id}", s.api("/v1/customers/{id}", false, s.getCustomer))
	m.HandleFunc("PATCH /v1/customers/{id}", s.api("/v1/customers/{id}", true, s.updateCustomer))
	m.HandleFunc("DELETE /v1/customers/{id}", s.api("/v1/customers/{id}", true, s.archiveCustomer))
	m.HandleFunc("GET /v1/customers/{id}/setup_links", s.api("/v1/customers/{id}/setup_links", false, s.listLinks))
	m.HandleFunc("POST /v1/customers/{id}/setup_links", s.api("/v1/customers/{id}/setup_links", true, s.createLink))
	m.HandleFunc("PATCH /v1/customers/{id}/setup_links/{link_id}", s.api("/v1/customers/{id}/setup_links/{link_id}", true, s.updateLink))
	m.HandleFunc("DELETE /v1/customers/{id}/setup_links/{link_id}", s.api("/v1/customers/{id}/setup_links/{link_id}", true, s.revokeLink))
	m.HandleFunc("POST /v1/webhook_subscriptions", s.api("/v1/webhook_subscriptions", true, s.createSubscription))
	m.HandleFunc("DELETE /v1/webhook_subscriptions/{id}", s.api("/v1/webhook_subscriptions/{id}", true, s.deleteSubscription))
	// /v1/{phone_number_id}/templates overlaps /v1/customers/{id} as a ServeMux pattern,
	// so the phone-number routes are matched here.
	listTemplates := s.api("/v1/{phone_number_id}/templates", false, s.listTemplates)
	syncTemplates := s.api("/v1/{phone_number_id}/templates/sync", true, s.syncTemplates)
	m.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		match := phoneNumberIDPath.FindStringSubmatch(r.URL.Path)
		switch {
		case match != nil && match[2] == "" && r.Method == http.MethodGet:
			r.SetPathValue("phone_number_id", match[1])
			listTemplates(w, r)
		case match != nil && match[2] != "" && r.Method == http.MethodPost:
			r.SetPathValue("phone_number_id", match[1])
			syncTemplates(w, r)
		default:
			reqID := requestID()
			w.Header().Set("X-Request-Id", reqID)
			writeError(w, reqID, errNotFound("route"))
		}
	})
	m.HandleFunc("GET /onboard/{token}", s.hostedPage)
	m.HandleFunc("POST /onboard/{token}", s.hostedPage)
	s.mux = m
}

// ServeHTTP serves the API under /v1 and the hosted signup page under /onboard/.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Sandbox) health(*http.Request, []byte) (any, *apiError) {
	return map[string]any{"status": "ok"}, nil
}

func (s *Sandbox) me(*http.Request, []byte) (any, *apiError) {
	reads, writes := s.opts.ReadsPerMinute, s.opts.WritesPerMinute
	if reads <= 0 {
		reads = 600
	}
	if writes <= 0 {
		writes = 60
	}
	key := s.opts.APIKey
	if len(key) > 4 {
		key = key[len(key)-4:]
	}
	return map[string]any{
		"organization": map[string]any{"id": "org_01SANDBOX0000000000000000", "object": "organization", "name": "Kirim Sandbox"},
		"api_key":      map[string]any{"id": "key_01SANDBOX0000000000000000", "object": "api_key", "label": "sandbox", "last4": key},
		"rate_limits":  map[string]any{"tier": "default", "read_per_minute": reads, "write_per_minute": writes},
	}, nil
}
