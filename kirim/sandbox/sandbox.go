// Package sandbox is a local Kirim: the API under /v1 and the hosted Embedded Signup
// page under /onboard/{token}, with the documented behaviour and quirks, so the portal
// runs and is tested without a Kirim account. State can persist in a JSON file.
package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a Sandbox.
type Options struct {
	// APIKey is the only bearer key accepted.
	APIKey string
	// DataFile keeps the state across restarts; empty keeps it in memory only.
	DataFile string
	// PublicURL is the base of setup URLs (setup_url = PublicURL + "/onboard/" + token).
	// Empty derives it from each request's Host.
	PublicURL string
	// Now is the clock (links expire by it); nil means time.Now.
	Now func() time.Time
	// ReadsPerMinute and WritesPerMinute turn on rate limiting when above zero.
	ReadsPerMinute, WritesPerMinute int
	// WebhookRetryDelays are the waits before each webhook delivery attempt (the first is
	// usually zero). Nil uses a short schedule fit for tests.
	WebhookRetryDelays []time.Duration
	// HTTPClient delivers webhooks; nil uses a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives delivery failures; nil discards them.
	Logger *slog.Logger
	// ConfirmAfter confirms a signup chosen with "confirm later" after this long; zero
	// waits for ConfirmPending.
	ConfirmAfter time.Duration
	// Variant picks among the behaviours the contract leaves open (see Variants).
	Variant Variant
}

// Sandbox is an http.Handler that behaves like Kirim. Close it to flush its state.
type Sandbox struct {
	opts Options
	mux  *http.ServeMux

	mu     sync.Mutex
	st     *state
	dirty  bool
	reads  bucket
	writes bucket
	calls  map[string]int

	deliveries chan delivery
	// held collects a burst of events for ReversedWebhooks.
	held     []delivery
	heldWake chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
}

type state struct {
	Seq           int64                     `json:"seq"`
	Customers     map[string]*customer      `json:"customers"`
	Links         map[string]*link          `json:"links"`
	Accounts      []*account                `json:"accounts"`
	Templates     map[string][]*msgTemplate `json:"templates"`      // what Kirim holds, per phone_number_id
	MetaTemplates map[string][]*msgTemplate `json:"meta_templates"` // what Meta holds (sync pulls it)
	Subscriptions []*subscription           `json:"subscriptions"`
	Idem          map[string]*idemEntry     `json:"idempotency"`
	CursorKey     []byte                    `json:"cursor_key"`
	Pending       []pending                 `json:"pending"`
}

type customer struct {
	Seq        int64          `json:"seq"`
	ID         string         `json:"id"`
	InternalID string         `json:"internal_id"`
	Name       string         `json:"name"`
	Email      *string        `json:"email"`
	Status     string         `json:"status"`
	Metadata   map[string]any `json:"metadata"`
	ArchivedAt *time.Time     `json:"archived_at"`
	TeamID     string         `json:"team_id"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

type link struct {
	Seq        int64      `json:"seq"`
	ID         string     `json:"id"`
	CustomerID string     `json:"customer_id"` // public cus_ id; the API shows the internal one
	TokenHash  string     `json:"token_hash"`
	TokenLast4 string     `json:"token_last4"`
	Status     string     `json:"status"`
	ExpiresAt  time.Time  `json:"expires_at"`
	ConsumedAt *time.Time `json:"consumed_at"`
	Success    *string    `json:"success_redirect_url"`
	Failure    *string    `json:"failure_redirect_url"`
	CreatedAt  time.Time  `json:"created_at"`
}

type account struct {
	ID            string     `json:"id"`
	PhoneNumberID *string    `json:"phone_number_id"`
	PhoneNumber   *string    `json:"phone_number"`
	Name          *string    `json:"name"`
	Status        string     `json:"status"`
	CustomerID    *string    `json:"customer_id"`
	OnboardedAt   *time.Time `json:"onboarded_at"`
	CreatedAt     time.Time  `json:"created_at"`
	// ReadsLeft counts the reads that still see an OnboardingReads account onboarding;
	// Promote marks such an account (ConfirmPending finishes the others).
	ReadsLeft int  `json:"reads_left,omitempty"`
	Promote   bool `json:"promote,omitempty"`
}

type msgTemplate struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Language string `json:"language"`
	Category string `json:"category"`
	Status   string `json:"status"`
}

type idemEntry struct {
	Fingerprint string    `json:"fingerprint"`
	Status      int       `json:"status"`
	Body        []byte    `json:"body"`
	CreatedAt   time.Time `json:"created_at"`
}

// New returns a sandbox, loading its state from opts.DataFile when that exists.
func New(opts Options) (*Sandbox, error) {
	if opts.APIKey == "" {
		return nil, errors.New("sandbox: an API key is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WebhookRetryDelays == nil {
		opts.WebhookRetryDelays = []time.Duration{0, 500 * time.Millisecond, 2 * time.Second, 5 * time.Second}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	s := &Sandbox{
		opts:       opts,
		st:         newState(),
		calls:      map[string]int{},
		deliveries: make(chan delivery, 1024),
		heldWake:   make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	s.reads = bucket{perMinute: opts.ReadsPerMinute}
	s.writes = bucket{perMinute: opts.WritesPerMinute}
	if opts.DataFile != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	s.routes()
	s.wg.Add(3)
	go s.deliverLoop()
	go s.releaseLoop()
	go s.flushLoop()
	return s, nil
}

func newState() *state {
	key := make([]byte, 32)
	rand.Read(key)
	return &state{
		Customers:     map[string]*customer{},
		Links:         map[string]*link{},
		Templates:     map[string][]*msgTemplate{},
		MetaTemplates: map[string][]*msgTemplate{},
		Idem:          map[string]*idemEntry{},
		CursorKey:     key,
	}
}

// Close stops webhook delivery and writes the state file.
func (s *Sandbox) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	s.wg.Wait()
	return s.flush()
}

func (s *Sandbox) load() error {
	b, err := os.ReadFile(s.opts.DataFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return fmt.Errorf("sandbox: %s: %w", s.opts.DataFile, err)
	}
	s.st = st
	return nil
}

func (s *Sandbox) flush() error {
	if s.opts.DataFile == "" {
		return nil
	}
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(s.st)
	s.dirty = false
	s.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := s.opts.DataFile + ".tmp"
	if err := os.MkdirAll(filepath.Dir(s.opts.DataFile), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.opts.DataFile)
}

// flushLoop writes the state at most twice a second, not on every write: a bulk test
// creating thousands of customers must not rewrite the file thousands of times.
func (s *Sandbox) flushLoop() {
	defer s.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.flush(); err != nil {
				s.opts.Logger.Error("sandbox: saving state", "err", err)
			}
		}
	}
}

// Calls returns how many API requests the sandbox answered, by "METHOD /v1/route".
func (s *Sandbox) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// ResetCalls zeroes the call counters.
func (s *Sandbox) ResetCalls() {
	s.mu.Lock()
	s.calls = map[string]int{}
	s.mu.Unlock()
}

func (s *Sandbox) now() time.Time { return s.opts.Now().UTC() }

// apiError is Kirim's error envelope.
type apiError struct {
	status                    int
	typ, code, message, param string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errInvalid(code, param, msg string) *apiError {
	return &apiError{http.StatusBadRequest, "invalid_request_error", code, msg, param}
}

func errNotFound(what string) *apiError {
	return &apiError{http.StatusNotFound, "not_found", "resource_not_found", "No such " + what + ".", ""}
}

func errConflict(code, msg string) *apiError {
	return &apiError{http.StatusConflict, "conflict", code, msg, ""}
}

func requestID() string { return newID("req", time.Now()) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	writeJSON(w, e.status, errorBody(reqID, e))
}

func errorBody(reqID string, e *apiError) map[string]any {
	body := map[string]any{"type": e.typ, "code": e.code, "message": e.message, "request_id": reqID}
	if e.param != "" {
		body["param"] = e.param
	}
	return map[string]any{"error": body}
}

// bucket is Kirim's token bucket: capacity perMinute, refilled evenly over a minute.
type bucket struct {
	perMinute int
	tokens    float64
	last      time.Time
}

// take spends one token; ok is false when empty, with the wait until the next token.
func (b *bucket) take(now time.Time) (ok bool, remaining int, reset time.Time, retryAfter time.Duration) {
	rate := float64(b.perMinute) / 60
	if b.last.IsZero() {
		b.tokens = float64(b.perMinute)
	} else {
		b.tokens = math.Min(float64(b.perMinute), b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		ok = true
	} else {
		retryAfter = time.Duration((1 - b.tokens) / rate * float64(time.Second))
	}
	full := time.Duration((float64(b.perMinute) - b.tokens) / rate * float64(time.Second))
	return ok, int(b.tokens), now.Add(full), retryAfter
}

// api wraps an API handler: request id, auth, rate limits, idempotency, call counting.
func (s *Sandbox) api(route string, write bool, h func(r *http.Request, body []byte) (any, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reqID := requestID()
		w.Header().Set("X-Request-Id", reqID)
		body, err := readBody(r)
		if err != nil {
			writeError(w, reqID, errInvalid("invalid_request", "", "Request body is too large or unreadable."))
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls[r.Method+" "+route]++
		if route != "/v1/health" {
			key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || key != s.opts.APIKey {
				writeError(w, reqID, &apiError{http.StatusUnauthorized, "authentication_error", "invalid_api_key", "Invalid API key.", ""})
				return
			}
		}
		if b := s.bucketFor(write); b.perMinute > 0 {
			ok, remaining, reset, retryAfter := b.take(s.now())
			w.Header().Set("X-RateLimit-Limit", strconv.Itoa(b.perMinute))
			w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
			if !ok {
				s.calls["429"]++
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
				writeError(w, reqID, &apiError{http.StatusTooManyRequests, "rate_limit_error", "rate_limit_exceeded", "Rate limit exceeded.", ""})
				return
			}
		}
		idemKey := r.Header.Get("Idempotency-Key")
		var fingerprint string
		if r.Method == http.MethodPost && idemKey != "" {
			fingerprint = fingerprintOf(r.Method, r.URL.Path, body)
			if e, ok := s.st.Idem[idemKey]; ok && s.now().Sub(e.CreatedAt) < 24*time.Hour {
				if e.Fingerprint != fingerprint {
					writeError(w, reqID, &apiError{http.StatusUnprocessableEntity, "invalid_request_error", "idempotency_key_reuse",
						"This Idempotency-Key was used with another request.", ""})
					return
				}
				w.Header().Set("Idempotent-Replayed", "true")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(e.Status)
				w.Write(e.Body)
				return
			}
			w.Header().Set("Idempotent-Replayed", "false")
		}
		data, aerr := h(r, body)
		if aerr != nil {
			if fingerprint != "" && s.opts.Variant.IdempotentErrors {
				resp, _ := json.Marshal(errorBody(reqID, aerr))
				s.st.Idem[idemKey] = &idemEntry{Fingerprint: fingerprint, Status: aerr.status, Body: resp, CreatedAt: s.now()}
				s.dirty = true
			}
			writeError(w, reqID, aerr)
			return
		}
		resp, _ := json.Marshal(withRequestID(data, reqID))
		if fingerprint != "" {
			s.st.Idem[idemKey] = &idemEntry{Fingerprint: fingerprint, Status: http.StatusOK, Body: resp, CreatedAt: s.now()}
		}
		if write {
			s.dirty = true
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(resp)
	}
}

func (s *Sandbox) bucketFor(write bool) *bucket {
	if write {
		return &s.writes
	}
	return &s.reads
}

// list is a response that already is a whole body (lists carry has_more and cursors).
type list map[string]any

func withRequestID(data any, reqID string) any {
	if l, ok := data.(list); ok {
		l["request_id"] = reqID
		return l
	}
	return map[string]any{"data": data, "request_id": reqID}
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(b) > 1<<20 {
		return nil, errors.New("body too large")
	}
	return b, nil
}

func fingerprintOf(method, path string, body []byte) string {
	canon := body
	var v any
	if json.Unmarshal(body, &v) == nil {
		canon, _ = json.Marshal(v) // map keys sorted: same JSON, same fingerprint
	}
	sum := sha256.Sum256(append([]byte(method+" "+path+"\n"), canon...))
	return hex.EncodeToString(sum[:])
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// decodeObject parses a JSON object body into a field map.
func decodeObject(body []byte) (map[string]json.RawMessage, *apiError) {
	fields := map[string]json.RawMessage{}
	if len(strings.TrimSpace(string(body))) == 0 {
		return fields, nil
	}
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, errInvalid("invalid_request", "", "Request body must be a JSON object.")
	}
	return fields, nil
}
