// Package kirimtest holds test helpers for code that talks to Kirim: an HTTP transport
// that checks every request and response against the embedded Kirim contract.
package kirimtest

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// Contract is the OpenAPI 3.1 document of the Kirim API as the portal knows it (a copy
// of ../shared/kirim/openapi.json with one inferred operation added). The client and the
// sandbox are both tested against it.
//
//go:embed openapi.json
var Contract []byte

var (
	validators sync.Map   // *byte (the document's first byte) → *loaded
	mu         sync.Mutex // the validator is not documented as safe for concurrent use
)

type loaded struct {
	once sync.Once
	v    validator.Validator
	err  error
}

// validatorFor loads an OpenAPI document's validator once.
func validatorFor(doc []byte) (validator.Validator, error) {
	l, _ := validators.LoadOrStore(&doc[0], &loaded{})
	ld := l.(*loaded)
	ld.once.Do(func() {
		d, err := libopenapi.NewDocument(doc)
		if err != nil {
			ld.err = err
			return
		}
		var errs []error
		ld.v, errs = validator.NewValidator(d)
		if len(errs) > 0 {
			ld.err = fmt.Errorf("contract: %v", errs)
		}
	})
	return ld.v, ld.err
}

// Transport validates each request it sends and each response it receives against the
// Kirim contract (or Doc); any drift fails the test. Only API traffic (paths containing
// Prefix, default /v1/) is checked.
type Transport struct {
	T    testing.TB
	Base http.RoundTripper
	// Doc and Prefix check another API against its own document (the portal's API).
	Doc    []byte
	Prefix string
	// ResponsesOnly skips request checks, for tests that send invalid requests on
	// purpose to see how Kirim answers them.
	ResponsesOnly bool
	// SkipResponse, when set, exempts responses that did not come from Kirim (a fault a
	// test injected in between) from the check.
	SkipResponse func(*http.Response) bool
	// Checked counts the exchanges validated.
	Checked int
	mu      sync.Mutex
}

// NewClient returns an http.Client whose traffic is validated against the contract.
func NewClient(t testing.TB) (*http.Client, *Transport) {
	tr := &Transport{T: t, Base: http.DefaultTransport}
	return &http.Client{Transport: tr}, tr
}

// RoundTrip sends the request and validates both sides.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	doc, prefix := Contract, "/v1/"
	if tr.Doc != nil {
		doc, prefix = tr.Doc, tr.Prefix
	}
	val, err := validatorFor(doc)
	if err != nil {
		tr.T.Errorf("the contract does not load: %v", err)
		return nil, err
	}
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	api := strings.Contains(req.URL.Path, prefix)
	if api && !tr.ResponsesOnly {
		check := req.Clone(req.Context())
		check.Body = io.NopCloser(bytes.NewReader(reqBody))
		mu.Lock()
		ok, errs := val.ValidateHttpRequestSync(check)
		mu.Unlock()
		if !ok {
			tr.T.Errorf("request %s %s breaks the contract:%s", req.Method, req.URL.Path, describe(errs))
		}
	}
	resp, err := tr.Base.RoundTrip(req)
	if err != nil || !api || (tr.SkipResponse != nil && tr.SkipResponse(resp)) {
		return resp, err
	}
	respBody, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if rerr != nil {
		return resp, nil
	}
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	checkResp := *resp
	checkResp.Body = io.NopCloser(bytes.NewReader(respBody))
	mu.Lock()
	ok, errs := val.ValidateHttpResponse(check, &checkResp)
	mu.Unlock()
	if !ok {
		tr.T.Errorf("response %d to %s %s breaks the contract:%s\nbody: %.500s", resp.StatusCode, req.Method, req.URL.Path, describe(errs), respBody)
	}
	tr.mu.Lock()
	tr.Checked++
	tr.mu.Unlock()
	return resp, nil
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s (%s)", f.Reason, f.FieldPath)
		}
	}
	return b.String()
}
