// Package kirim is a typed client for the Kirim API (platform mode): customers, setup
// links, WhatsApp accounts, templates and webhooks. It retries what is safe to retry,
// paces itself under Kirim's rate limits, and never prints the API key.
package kirim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultBaseURL is Kirim's production API.
const DefaultBaseURL = "https://api.kirimdev.com/v1"

// maxBody bounds how much of a response is read.
const maxBody = 1 << 20

// Default rate limits of Kirim's free plan, per minute.
const (
	DefaultReadsPerMinute  = 600
	DefaultWritesPerMinute = 60
)

// Client talks to one Kirim organisation. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	key        string
	hc         *http.Client
	maxRetries int
	retryBase  time.Duration
	maxElapsed time.Duration
	// reads and writes pace the two classes of Kirim's rate limits. They are swapped
	// whole when the limit changes, so that a raised limit starts with a full bucket.
	reads     atomic.Pointer[rate.Limiter]
	writes    atomic.Pointer[rate.Limiter]
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (its Timeout bounds each attempt).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRetries sets how many times a failed call is retried and the first backoff delay.
func WithRetries(max int, base time.Duration) Option {
	return func(c *Client) { c.maxRetries, c.retryBase = max, base }
}

// WithMaxElapsed bounds the total time one call may spend, retries and pacing
// included (default 15 s): past it the call fails with a *Error whose Err is
// context.DeadlineExceeded and whose Elapsed says how long it waited.
func WithMaxElapsed(d time.Duration) Option { return func(c *Client) { c.maxElapsed = d } }

// WithRateLimits sets the client-side pacing, in requests per minute. Zero or less
// turns pacing off for that class.
func WithRateLimits(readsPerMinute, writesPerMinute int) Option {
	return func(c *Client) {
		c.reads.Store(newLimiter(readsPerMinute))
		c.writes.Store(newLimiter(writesPerMinute))
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

func newLimiter(perMinute int) *rate.Limiter {
	if perMinute <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute)
}

// New returns a client for the API at baseURL (ending in /v1) with the given key.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("kirim: base URL must be an absolute http(s) URL")
	}
	c := &Client{
		base:       u,
		key:        apiKey,
		hc:         &http.Client{Timeout: 30 * time.Second},
		maxRetries: 3,
		retryBase:  250 * time.Millisecond,
		maxElapsed: 15 * time.Second,
		userAgent:  "kirim-portal",
	}
	c.reads.Store(newLimiter(DefaultReadsPerMinute))
	c.writes.Store(newLimiter(DefaultWritesPerMinute))
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// String never shows the key.
func (c *Client) String() string { return "kirim.Client(" + c.base.String() + ")" }

// call describes one API call.
type call struct {
	method  string
	path    string // relative to the base URL, already escaped
	query   url.Values
	body    any
	idemKey string
}

// retryable reports whether a failed attempt of this call may be sent again. GET, PATCH
// and DELETE are idempotent; a POST only when it carries an Idempotency-Key.
func (cl call) retryable() bool {
	return cl.method != http.MethodPost || cl.idemKey != ""
}

func (c *Client) class(method string) *atomic.Pointer[rate.Limiter] {
	if method == http.MethodGet || method == http.MethodHead {
		return &c.reads
	}
	return &c.writes
}

func (c *Client) limiter(method string) *rate.Limiter { return c.class(method).Load() }

// do sends the call, retrying within bounds, and decodes a 2xx body into out.
func (c *Client) do(ctx context.Context, cl call, out any) (err error) {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("kirim: encode %s %s: %w", cl.method, cl.path, err)
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.maxElapsed)
	defer cancel()
	defer func() {
		var ke *Error
		if errors.As(err, &ke) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ke.Elapsed = time.Since(start)
		}
	}()
	uncertain := false // whether an attempt so far may have taken effect (writes only)
	write := cl.method != http.MethodGet && cl.method != http.MethodHead
	for attempt := 0; ; attempt++ {
		if err := c.limiter(cl.method).Wait(ctx); err != nil {
			return &Error{Code: "connection_error", Message: "waiting for rate limit: " + err.Error(), Err: err, Uncertain: uncertain && write}
		}
		status, hdr, body, err := c.send(ctx, cl, payload)
		var kerr *Error
		switch {
		case err != nil:
			uncertain = uncertain || !neverSent(err)
			kerr = &Error{Code: "connection_error", Message: err.Error(), Err: err, Uncertain: uncertain && write}
			if ctx.Err() != nil {
				return kerr
			}
		case status >= 200 && status < 300:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(body, out); err != nil {
				return &Error{Status: status, Code: "invalid_response", Message: "response is not the expected JSON: " + err.Error(), RequestID: hdr.Get("X-Request-Id")}
			}
			return nil
		default:
			kerr = errorFromResponse(status, hdr, body)
			// A 5xx may come from a proxy after Kirim did the work; a 409 while the same
			// key is in flight says nothing yet. Kirim's other answers are its verdict on
			// this request (and key), which ends any doubt.
			switch {
			case status >= 500, status == http.StatusRequestTimeout, kerr.Code == "idempotency_in_progress":
				uncertain = true
			case status != http.StatusTooManyRequests:
				uncertain = false
			}
			kerr.Uncertain = uncertain && write
		}
		wait, ok := c.retryDelay(cl, kerr, attempt)
		if !ok || time.Since(start)+wait > c.maxElapsed {
			return kerr
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return kerr
		case <-t.C:
		}
	}
}

// retryDelay decides whether to retry and how long to wait first.
func (c *Client) retryDelay(cl call, err *Error, attempt int) (time.Duration, bool) {
	if attempt >= c.maxRetries || !cl.retryable() {
		return 0, false
	}
	switch err.Status {
	case 0, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return 0, false
	}
	if err.RetryAfter > 0 {
		return err.RetryAfter, true
	}
	// Exponential backoff with full jitter around the doubled delay.
	d := c.retryBase << attempt
	return d/2 + rand.N(d/2+1), true
}

func (c *Client) send(ctx context.Context, cl call, payload []byte) (int, http.Header, []byte, error) {
	u := *c.base
	u.Path = c.base.Path + cl.path
	u.RawPath = ""
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.idemKey != "" {
		req.Header.Set("Idempotency-Key", cl.idemKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, nil, err
	}
	c.observeLimits(cl.method, resp.Header)
	return resp.StatusCode, resp.Header, b, nil
}

// observeLimits follows the server's X-RateLimit-* headers: the bucket size becomes the
// client's rate, and the client never believes it has more tokens than the server says.
func (c *Client) observeLimits(method string, h http.Header) {
	lim := c.limiter(method)
	if lim.Limit() == rate.Inf {
		return
	}
	if n, err := strconv.Atoi(h.Get("X-RateLimit-Limit")); err == nil && n > 0 && n != lim.Burst() {
		lim = newLimiter(n)
		c.class(method).Store(lim)
	}
	if rem, err := strconv.Atoi(h.Get("X-RateLimit-Remaining")); err == nil && rem >= 0 {
		now := time.Now()
		if excess := int(lim.TokensAt(now)) - rem; excess > 0 {
			lim.AllowN(now, excess)
		}
	}
}

// SetRateLimits changes the pacing, in requests per minute (from GET /me, say). It
// keeps pacing off where it was turned off.
func (c *Client) SetRateLimits(readsPerMinute, writesPerMinute int) {
	for _, p := range []struct {
		lim *atomic.Pointer[rate.Limiter]
		n   int
	}{{&c.reads, readsPerMinute}, {&c.writes, writesPerMinute}} {
		if p.n > 0 && p.lim.Load().Limit() != rate.Inf {
			p.lim.Store(newLimiter(p.n))
		}
	}
}

// Error is an error answered by Kirim, or a failure to reach it (Status 0).
type Error struct {
	Status     int
	Type       string
	Code       string
	Message    string
	Param      string
	RequestID  string
	RetryAfter time.Duration
	// Err is the underlying transport error when Status is 0.
	Err error
	// Elapsed is set when the call gave up at its time limit: how long it waited.
	Elapsed time.Duration
	// Uncertain is true when the request may have taken effect although no success was
	// seen: the answer was lost (a reset, a timeout, a proxy's 5xx). A create with this
	// error must be resolved (retried with the same Idempotency-Key, or looked up)
	// before anything else is assumed.
	Uncertain bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("kirim: ")
	if e.Elapsed > 0 {
		fmt.Fprintf(&b, "no answer within %s: ", e.Elapsed.Round(time.Second))
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d ", e.Status)
	}
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Param != "" {
		b.WriteString(" (param " + e.Param + ")")
	}
	if e.RequestID != "" {
		b.WriteString(" [request " + e.RequestID + "]")
	}
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *Error) Unwrap() error { return e.Err }

func errorFromResponse(status int, h http.Header, body []byte) *Error {
	e := &Error{Status: status, RequestID: h.Get("X-Request-Id")}
	if s := h.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(s); err == nil {
			e.RetryAfter = max(time.Until(t), 0)
		}
	}
	var env struct {
		Error *struct {
			Type      string `json:"type"`
			Code      string `json:"code"`
			Message   string `json:"message"`
			Param     string `json:"param"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	if len(body) <= maxBody && json.Unmarshal(body, &env) == nil && env.Error != nil && env.Error.Code != "" {
		e.Type, e.Code, e.Message, e.Param = env.Error.Type, env.Error.Code, env.Error.Message, env.Error.Param
		if env.Error.RequestID != "" {
			e.RequestID = env.Error.RequestID
		}
		return e
	}
	// Not Kirim's envelope: a proxy's HTML page, an empty or an oversized body.
	e.Code = "http_" + strconv.Itoa(status)
	e.Message = http.StatusText(status)
	switch {
	case len(body) == 0:
		e.Message += " (empty body)"
	case len(body) > maxBody:
		e.Message += " (body over 1 MiB)"
	default:
		e.Message += " (not a Kirim error body: " + h.Get("Content-Type") + ")"
	}
	return e
}

func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return -1
}

// neverSent reports a transport error that happened before the request could reach
// the server (no connection was made).
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// OutcomeUnknown reports a failed call that may nevertheless have taken effect in Kirim.
func OutcomeUnknown(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Uncertain
}

// IsNotFound reports a 404.
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsConflict reports a 409 (for example a setup link that is no longer active).
func IsConflict(err error) bool { return statusOf(err) == http.StatusConflict }

// IsRateLimited reports a 429.
func IsRateLimited(err error) bool { return statusOf(err) == http.StatusTooManyRequests }

// IsUnavailable reports that Kirim could not be reached or answered with a 5xx: the
// call may succeed later.
func IsUnavailable(err error) bool { s := statusOf(err); return s == 0 || s >= 500 }

// IsValidation reports a 400 or 422: the request itself is wrong.
func IsValidation(err error) bool {
	s := statusOf(err)
	return s == http.StatusBadRequest || s == http.StatusUnprocessableEntity
}
