package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
)

// The platform's API (/api/v1): its backend creates customers, sends links and reads
// progress with a bearer token instead of a session. huma describes every operation
// (the OpenAPI 3.1 document at /api/v1/openapi.json, checked in as web/openapi.json)
// and validates requests against it; the handlers call the same workflows as the admin
// pages. Around them, in this order: the token (read or write scope), a per-token rate
// limit, and Idempotency-Key replay for POSTs.

const apiPrefix = "/api/v1"

// apiRate is each token's budget: requests a minute, all at once at most a tenth.
const apiRate = 600

type apiToken struct{}

// apiRoutes mounts the API on the app, before the session and CSRF middleware (the
// token is the credential).
func (s *Server) apiRoutes(app *fiber.App) {
	g := app.Group(apiPrefix, s.apiAuth, s.apiLimit, s.apiIdempotency)
	api := humafiber.NewWithGroup(app, g, APIConfig(s.cfg.PublicURL))
	registerAPI(api, s)
}

// APIConfig is the API's description: no docs UI (it would load from a CDN), no
// $schema links in bodies, bearer tokens.
func APIConfig(publicURL string) huma.Config {
	cfg := huma.DefaultConfig("Kirim Onboarding Portal API", "1.0.0")
	cfg.Info.Description = "Create customers, send their setup links and follow their onboarding from your backend. " +
		"Authenticate with `Authorization: Bearer <token>` (tokens are made on /admin/settings/api or with `portal token add`)."
	cfg.DocsPath, cfg.SchemasPath, cfg.CreateHooks = "", "", nil
	cfg.Servers = []*huma.Server{{URL: strings.TrimRight(publicURL, "/") + apiPrefix}}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{"bearer": {Type: "http", Scheme: "bearer"}}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	return cfg
}

// APIError is the one error envelope of the API: {"error": {"code", "message",
// "request_id", "details"}}.
type APIError struct {
	status int
	Err    APIErrorBody `json:"error"`
}

type APIErrorBody struct {
	Code      string           `json:"code" doc:"Stable, machine-readable: unauthorized, forbidden, not_found, validation_error, idempotency_key_reused, idempotency_key_in_use, rate_limited, conflict, kirim_unavailable, kirim_refused, internal"`
	Message   string           `json:"message"`
	RequestID string           `json:"request_id,omitempty"`
	Details   []APIErrorDetail `json:"details,omitempty"`
}

type APIErrorDetail struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
}

func (e *APIError) Error() string  { return e.Err.Message }
func (e *APIError) GetStatus() int { return e.status }

// apiCodes are the codes of statuses without a more precise one.
var apiCodes = map[int]string{
	400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
	409: "conflict", 413: "too_large", 422: "validation_error", 429: "rate_limited", 502: "kirim_unavailable", 504: "kirim_unavailable",
}

func init() {
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return huma.NewErrorWithContext(nil, status, msg, errs...)
	}
	huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		e := newAPIError(status, "", msg)
		if ctx != nil {
			e.Err.RequestID = requestIDOf(humafiber.Unwrap(ctx))
		}
		for _, err := range errs {
			var d *huma.ErrorDetail
			if errors.As(err, &d) {
				e.Err.Details = append(e.Err.Details, APIErrorDetail{Location: d.Location, Message: d.Message})
			} else if err != nil {
				e.Err.Details = append(e.Err.Details, APIErrorDetail{Message: err.Error()})
			}
		}
		return e
	}
}

func newAPIError(status int, code, msg string) *APIError {
	if code == "" {
		code = apiCodes[status]
		if code == "" {
			code = "internal"
		}
	}
	return &APIError{status: status, Err: APIErrorBody{Code: code, Message: msg}}
}

// apiFail answers a middleware's refusal in the envelope.
func apiFail(c *fiber.Ctx, status int, code, msg string) error {
	e := newAPIError(status, code, msg)
	e.Err.RequestID = requestIDOf(c)
	c.Set(fiber.HeaderContentType, "application/json")
	return c.Status(status).JSON(e)
}

// apiProblem turns a workflow's error into the envelope, with the admin pages' words
// and the request id.
func apiProblem(ctx context.Context, err error) error {
	e := apiProblemOf(err)
	var ae *APIError
	if errors.As(e, &ae) {
		ae.Err.RequestID, _ = ctx.Value(localRequestID).(string)
	}
	return e
}

func apiProblemOf(err error) error {
	var inv *onboarding.InvalidError
	var ke *kirim.Error
	switch {
	case errors.As(err, &inv):
		e := newAPIError(http.StatusUnprocessableEntity, "validation_error", "The request has invalid fields.")
		for field, msg := range inv.Fields {
			e.Err.Details = append(e.Err.Details, APIErrorDetail{Location: "body." + apiField(field), Message: msg})
		}
		return e
	case errors.Is(err, store.ErrNotFound):
		return newAPIError(http.StatusNotFound, "not_found", "No such customer.")
	case errors.Is(err, onboarding.ErrArchived):
		return newAPIError(http.StatusConflict, "customer_archived", "The customer is archived.")
	case errors.Is(err, onboarding.ErrNoEmail):
		return newAPIError(http.StatusUnprocessableEntity, "no_email", "The customer has no email address: set one first.")
	case errors.As(err, &ke):
		p := kirimProblem(ke)
		code := "kirim_refused"
		if p.status >= 500 {
			code = "kirim_unavailable"
		}
		return newAPIError(p.status, code, p.message)
	}
	if p, ok := explain(err); ok {
		return newAPIError(p.status, "", p.message)
	}
	return err // huma answers 500 in the envelope; the log has it
}

// apiField names a form field as the API does.
func apiField(f string) string {
	if f == "locale" {
		return "language"
	}
	return f
}

// apiAuth lets in a live token; writes need the write scope. The document itself is
// public.
func (s *Server) apiAuth(c *fiber.Ctx) error {
	if c.Path() == apiPrefix+"/openapi.json" || c.Path() == apiPrefix+"/openapi.yaml" {
		return c.Next()
	}
	raw, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || raw == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="portal"`)
		return apiFail(c, http.StatusUnauthorized, "unauthorized", "Send a token: Authorization: Bearer <token>.")
	}
	t, err := s.db.APITokenFor(c.UserContext(), strings.TrimSpace(raw))
	if errors.Is(err, store.ErrNotFound) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="portal", error="invalid_token"`)
		return apiFail(c, http.StatusUnauthorized, "unauthorized", "This token is not valid (unknown or revoked).")
	}
	if err != nil {
		return err
	}
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead && t.Scope != store.ScopeWrite {
		return apiFail(c, http.StatusForbidden, "forbidden", "This token may only read: make a write token to change anything.")
	}
	c.Locals(apiToken{}, t)
	if err := c.Next(); err != nil {
		return err
	}
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		action := fmt.Sprintf("%s %s %d", c.Method(), redactPath(c.Path()), c.Response().StatusCode())
		if err := s.db.AuditAPI(context.WithoutCancel(c.UserContext()), t.ID, action, "token "+t.Name); err != nil {
			s.log.Error("api audit", "err", err)
		}
	}
	return nil
}

func tokenOf(c *fiber.Ctx) *store.APIToken {
	t, _ := c.Locals(apiToken{}).(*store.APIToken)
	return t
}

// apiLimiters holds each token's rate limiter.
type apiLimiters struct {
	mu sync.Mutex
	m  map[int64]*rate.Limiter
}

func (l *apiLimiters) get(id int64) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[int64]*rate.Limiter{}
	}
	lim := l.m[id]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(float64(apiRate)/60), apiRate/10)
		l.m[id] = lim
	}
	return lim
}

// apiLimit gives each token apiRate requests a minute, and says where it stands in the
// RateLimit header (IETF draft: limit, remaining, seconds to reset).
func (s *Server) apiLimit(c *fiber.Ctx) error {
	t := tokenOf(c)
	if t == nil {
		return c.Next()
	}
	lim := s.apiLimiters.get(t.ID)
	now := time.Now()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		secs := int(d/time.Second) + 1
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		c.Set("RateLimit", fmt.Sprintf("limit=%d, remaining=0, reset=%d", lim.Burst(), secs))
		return apiFail(c, http.StatusTooManyRequests, "rate_limited", fmt.Sprintf("Too many requests: this token may make %d a minute. Retry after %d s.", apiRate, secs))
	}
	c.Set("RateLimit", fmt.Sprintf("limit=%d, remaining=%d, reset=%d", lim.Burst(), int(lim.TokensAt(now)), 60*lim.Burst()/apiRate))
	c.Set("RateLimit-Policy", fmt.Sprintf("%d;w=60", apiRate))
	return c.Next()
}

// apiIdempotency replays the answer to a POST sent again with the same Idempotency-Key
// within 24 hours; the same key with another request is refused (422).
func (s *Server) apiIdempotency(c *fiber.Ctx) error {
	key := c.Get("Idempotency-Key")
	t := tokenOf(c)
	if c.Method() != fiber.MethodPost || key == "" || t == nil {
		return c.Next()
	}
	if len(key) > 255 {
		return apiFail(c, http.StatusBadRequest, "bad_request", "An Idempotency-Key has at most 255 characters.")
	}
	sum := sha256.Sum256(append([]byte(c.Method()+" "+c.Path()+"\n"), c.Body()...))
	fingerprint := sum[:]
	ctx := c.UserContext()
	if a, err := s.db.IdempotentAnswerFor(ctx, t.ID, key); err == nil {
		if !bytes.Equal(a.Request, fingerprint) {
			return apiFail(c, http.StatusUnprocessableEntity, "idempotency_key_reused", "This Idempotency-Key was used with another request: use a new key for a new request.")
		}
		c.Set("Idempotent-Replayed", "true")
		c.Set(fiber.HeaderContentType, "application/json")
		return c.Status(a.Status).Send(a.Response)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	inFlight := fmt.Sprintf("%d\x00%s", t.ID, key)
	if _, busy := s.apiKeys.LoadOrStore(inFlight, true); busy {
		return apiFail(c, http.StatusConflict, "idempotency_key_in_use", "A request with this Idempotency-Key is still being answered: retry in a moment.")
	}
	defer s.apiKeys.Delete(inFlight)
	if err := c.Next(); err != nil {
		return err
	}
	if st := c.Response().StatusCode(); st < 500 && st != http.StatusTooManyRequests {
		err := s.db.KeepIdempotentAnswer(context.WithoutCancel(ctx), t.ID, key, store.IdempotentAnswer{Request: fingerprint, Status: st,
			Response: append([]byte(nil), c.Response().Body()...)})
		if err != nil {
			s.log.Error("api idempotency", "err", err)
		}
	}
	return nil
}

// apiActor names a token on the timeline.
func apiActor(ctx context.Context) string {
	if t, ok := ctx.Value(apiToken{}).(*store.APIToken); ok {
		return "api:" + t.Name
	}
	return "api"
}

// formKey is the create's key for onboarding: stable for one Idempotency-Key (so a
// replay after the 24 hours still makes one customer), fresh without one.
func formKey(ctx context.Context, idemKey string) string {
	if idemKey == "" {
		return "api-" + newRandomKey()
	}
	sum := sha256.Sum256([]byte(apiActor(ctx) + "\x00" + idemKey))
	return "api-" + hex.EncodeToString(sum[:16])
}

// OpenAPIDocument renders the API's document as served (for the checked-in copy).
func OpenAPIDocument(publicURL string) ([]byte, error) {
	app := fiber.New()
	api := humafiber.New(app, APIConfig(publicURL))
	registerAPI(api, nil)
	return json.MarshalIndent(api.OpenAPI(), "", "  ")
}
