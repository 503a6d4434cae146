package web

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/kirim-portal/portal/kirim/kirimtest"
	"github.com/kirim-portal/portal/store"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "rewrite web/openapi.json from the code")

// TestOpenAPIDocumentIsCurrent: the checked-in document is the one the code serves
// (go test ./web -run OpenAPI -update-openapi rewrites it).
func TestOpenAPIDocumentIsCurrent(t *testing.T) {
	doc, err := OpenAPIDocument("https://portal.example.com")
	if err != nil {
		t.Fatal(err)
	}
	doc = append(doc, '\n')
	if *updateOpenAPI {
		if err := os.WriteFile("openapi.json", doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	saved, err := os.ReadFile("openapi.json")
	if err != nil || !bytes.Equal(saved, doc) {
		t.Fatalf("web/openapi.json is stale: run go test ./web -run OpenAPI -update-openapi (%v)", err)
	}
}

// apiClient calls the portal's API with a token, every exchange validated against the
// checked-in document.
type apiClient struct {
	h     *harness
	c     *http.Client
	token string
	tr    *kirimtest.Transport
}

func (h *harness) apiClient(t *testing.T, scope string) *apiClient {
	t.Helper()
	doc, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	// The document names the public URL; the harness listens elsewhere.
	doc = bytes.ReplaceAll(doc, []byte("https://portal.example.com"), []byte(h.URL))
	token := store.NewAPITokenSecret()
	if _, err := h.db.CreateAPIToken(context.Background(), "backend-"+scope, scope, token, "test"); err != nil {
		t.Fatal(err)
	}
	tr := &kirimtest.Transport{T: t, Base: http.DefaultTransport, Doc: doc, Prefix: "/api/v1/"}
	return &apiClient{h: h, c: &http.Client{Transport: tr}, token: token, tr: tr}
}

// call sends a request (body: JSON-encoded unless a string or nil) and decodes the JSON answer.
func (a *apiClient) call(method, path string, body any, header ...string) (int, map[string]any, http.Header) {
	a.h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, a.h.URL+"/api/v1"+path, r)
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.c.Do(req)
	if err != nil {
		a.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// TestAPITokensAndErrors: no token, an unknown or revoked one, a read token writing,
// bad JSON and unknown fields are each refused in the one envelope with a stable code
// and the request id; nothing is created.
func TestAPITokensAndErrors(t *testing.T) {
	h := newHarness(t)
	w := h.apiClient(t, store.ScopeWrite)
	r := h.apiClient(t, store.ScopeRead)
	// Requests the document forbids, sent on purpose: only the answers are checked.
	loose := &apiClient{h: h, c: &http.Client{Transport: &kirimtest.Transport{T: t, Base: http.DefaultTransport, Doc: w.tr.Doc,
		Prefix: "/api/v1/", ResponsesOnly: true}}, token: w.token}
	anon := &apiClient{h: h, c: loose.c}
	bad := &apiClient{h: h, c: loose.c, token: "kpt_not_a_token"}
	for _, c := range []struct {
		name   string
		client *apiClient
		method string
		body   any
		status int
		code   string
	}{
		{"no token", anon, "GET", nil, 401, "unauthorized"},
		{"unknown token", bad, "GET", nil, 401, "unauthorized"},
		{"read token writing", r, "POST", map[string]any{"name": "Toko"}, 403, "forbidden"},
		{"bad JSON", loose, "POST", `{"name": "Toko"`, 400, "bad_request"},
		{"unknown field", loose, "POST", map[string]any{"name": "Toko", "colour": "red"}, 422, "validation_error"},
		{"empty name", loose, "POST", map[string]any{"name": ""}, 422, "validation_error"},
		{"bad email", w, "POST", map[string]any{"name": "Toko", "email": "nope"}, 422, "validation_error"},
	} {
		status, body, header := c.client.call(c.method, "/customers", c.body)
		if status != c.status || errCode(body) != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.name, status, body, c.status, c.code)
		}
		if e, _ := body["error"].(map[string]any); e["request_id"] != header.Get("X-Request-Id") || header.Get("X-Request-Id") == "" {
			t.Errorf("%s: request id %v in the body, %q in the header", c.name, e["request_id"], header.Get("X-Request-Id"))
		}
	}
	// The document itself is public (and not an operation of its own).
	if resp, err := http.Get(h.URL + "/api/v1/openapi.json"); err != nil || resp.StatusCode != 200 {
		t.Errorf("the served document: %v %v", resp, err)
	} else {
		var doc map[string]any
		json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if doc["openapi"] != "3.1.0" || doc["paths"].(map[string]any)["/customers"] == nil {
			t.Errorf("the served document: %v", doc["openapi"])
		}
	}
	if status, body, _ := r.call("GET", "/customers", nil); status != 200 || len(body["data"].([]any)) != 0 {
		t.Fatalf("read token listing: %d %v", status, body)
	}
	tokens, _ := h.db.APITokens(context.Background())
	for _, tok := range tokens {
		if tok.Scope == store.ScopeRead {
			if err := h.db.RevokeAPIToken(context.Background(), tok.ID, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.c = loose.c
	if status, body, _ := r.call("GET", "/customers", nil); status != 401 || errCode(body) != "unauthorized" {
		t.Fatalf("revoked token: %d %v", status, body)
	}
	if n := len(h.remoteCustomers(t)); n != 0 {
		t.Fatalf("refused requests created %d customers", n)
	}
}

// TestAPICustomers: the platform's backend creates a customer with its link emailed,
// sends the same request again (replayed, one customer in Kirim) and the same key with
// another body (refused); reads it with its active link and timeline, changes it,
// generates and emails links, and pages through 250 customers.
func TestAPICustomers(t *testing.T) {
	h := newHarness(t)
	w := h.apiClient(t, store.ScopeWrite)
	create := map[string]any{"name": "Toko API", "email": "owner@api.test", "language": "id", "time_zone": "Asia/Makassar",
		"external_ref": "CRM-42", "metadata": map[string]string{"plan": "gold"}, "send_link": true}
	status, c, header := w.call("POST", "/customers", create, "Idempotency-Key", "create-42")
	if status != 201 || c["name"] != "Toko API" || c["external_ref"] != "CRM-42" || c["language"] != "id" || c["time_zone"] != "Asia/Makassar" ||
		c["stage"] != "link_issued" || c["active_link"] == nil { // held in the dev outbox: not "link sent"
		t.Fatalf("create: %d %v", status, c)
	}
	if header.Get("RateLimit") == "" {
		t.Error("no RateLimit header")
	}
	id := int64(c["id"].(float64))
	status, again, header := w.call("POST", "/customers", create, "Idempotency-Key", "create-42")
	if status != 201 || again["id"] != c["id"] || header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v %v", status, again, header)
	}
	other := map[string]any{"name": "Toko Lain"}
	if status, body, _ := w.call("POST", "/customers", other, "Idempotency-Key", "create-42"); status != 422 || errCode(body) != "idempotency_key_reused" {
		t.Fatalf("key reused: %d %v", status, body)
	}
	if n := len(h.remoteCustomers(t)); n != 1 {
		t.Fatalf("Kirim holds %d customers, want 1", n)
	}
	if emails := h.emailsOf(t, id, "setup_link"); len(emails) != 1 {
		t.Fatalf("%d link emails, want 1", len(emails))
	}

	status, got, _ := w.call("GET", fmt.Sprintf("/customers/%d", id), nil)
	link, _ := got["active_link"].(map[string]any)
	if status != 200 || link == nil || !strings.HasPrefix(link["landing_url"].(string), h.URL+"/onboard/") || len(got["last_events"].([]any)) == 0 {
		t.Fatalf("get: %d %v", status, got)
	}
	if status, body, _ := w.call("GET", "/customers/999999", nil); status != 404 || errCode(body) != "not_found" {
		t.Fatalf("unknown customer: %d %v", status, body)
	}
	status, got, _ = w.call("PATCH", fmt.Sprintf("/customers/%d", id), map[string]any{"name": "Toko API Baru", "time_zone": ""})
	if status != 200 || got["name"] != "Toko API Baru" || got["time_zone"] != nil || got["external_ref"] != "CRM-42" || got["metadata"].(map[string]any)["plan"] != "gold" {
		t.Fatalf("patch: %d %v", status, got)
	}
	if remote := h.remoteCustomers(t); remote["Toko API Baru"].ID == "" {
		t.Fatalf("the change did not reach Kirim: %v", remote)
	}
	status, newLink, _ := w.call("POST", fmt.Sprintf("/customers/%d/links", id), map[string]any{"expires_in_hours": 48})
	if status != 201 || newLink["status"] != "active" || newLink["kirim_id"] == link["kirim_id"] {
		t.Fatalf("new link: %d %v", status, newLink)
	}
	status, sent, _ := w.call("POST", fmt.Sprintf("/customers/%d/email", id), nil)
	if status != 202 || sent["to"] != "owner@api.test" || sent["link"].(map[string]any)["kirim_id"] != newLink["kirim_id"] {
		t.Fatalf("email: %d %v", status, sent)
	}
	status, events, _ := w.call("GET", fmt.Sprintf("/customers/%d/events?limit=2", id), nil)
	data, _ := events["data"].([]any)
	if status != 200 || len(data) != 2 || events["has_more"] != true {
		t.Fatalf("events: %d %v", status, events)
	}
	before := int64(data[1].(map[string]any)["id"].(float64))
	status, older, _ := w.call("GET", fmt.Sprintf("/customers/%d/events?before=%d", id, before), nil)
	if status != 200 || len(older["data"].([]any)) == 0 {
		t.Fatalf("older events: %d %v", status, older)
	}
	for q, want := range map[string]int{"?external_ref=CRM-42": 1, "?email=OWNER@api.test": 1, "?external_ref=nope": 0, "?stage=link_issued": 1} {
		if status, list, _ := w.call("GET", "/customers"+q, nil); status != 200 || len(list["data"].([]any)) != want {
			t.Errorf("list %s: %d %v", q, status, list)
		}
	}

	seedCustomers(t, h.db, 249)
	seen := map[float64]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		status, list, _ := w.call("GET", "/customers?limit=100"+cursor, nil)
		if status != 200 || pages > 3 {
			t.Fatalf("page %d: %d %v", pages, status, list)
		}
		for _, c := range list["data"].([]any) {
			seen[c.(map[string]any)["id"].(float64)] = true
		}
		if list["has_more"] != true {
			break
		}
		cursor = "&cursor=" + list["next_cursor"].(string)
	}
	if len(seen) != 250 {
		t.Fatalf("paged through %d customers, want 250", len(seen))
	}
	if w.tr.Checked < 15 {
		t.Fatalf("only %d exchanges validated against the document", w.tr.Checked)
	}
}

// TestAPIRateLimit: a token that sends faster than its budget is told to wait.
func TestAPIRateLimit(t *testing.T) {
	h := newHarness(t)
	r := h.apiClient(t, store.ScopeRead)
	for i := range apiRate {
		status, body, header := r.call("GET", "/customers?limit=1", nil)
		if status == http.StatusTooManyRequests {
			if errCode(body) != "rate_limited" || header.Get("Retry-After") == "" || !strings.Contains(header.Get("RateLimit"), "remaining=0") {
				t.Fatalf("429 without its headers: %v %v", body, header)
			}
			if i < apiRate/10 {
				t.Fatalf("limited after %d requests, the burst is %d", i, apiRate/10)
			}
			return
		}
	}
	t.Fatalf("%d requests at once were never limited", apiRate)
}

// TestAPITokensPage: staff make a write token on the settings page (shown once, never
// again, never logged), the backend uses it, its writes land on the audit list, and
// revoking it refuses it at once.
func TestAPITokensPage(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	b.get("/admin/settings/api")
	resp, body := b.post("/admin/settings/api/tokens", url.Values{"name": {""}, "scope": {"write"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "Name the token") {
		t.Fatalf("nameless token: %d", resp.StatusCode)
	}
	resp, body = b.post("/admin/settings/api/tokens", url.Values{"name": {"billing backend"}, "scope": {"write"}})
	token := regexp.MustCompile(`value="(kpt_[A-Za-z0-9_-]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || token == nil || !strings.Contains(body, "shown this once") {
		t.Fatalf("create: %d, token shown: %v", resp.StatusCode, token != nil)
	}
	a := h.apiClient(t, store.ScopeRead)
	a.token = token[1]
	if status, c, _ := a.call("POST", "/customers", map[string]any{"name": "Toko Token"}); status != 201 || c["name"] != "Toko Token" {
		t.Fatalf("the new token cannot write: %d %v", status, c)
	}
	_, body = b.get("/admin/settings/api")
	if strings.Contains(body, token[1]) || !strings.Contains(body, "…"+token[1][len(token[1])-4:]) {
		t.Fatal("the token is shown again, or its last four are not")
	}
	if !strings.Contains(body, "token.created") || !strings.Contains(body, "POST /api/v1/customers 201") {
		t.Fatalf("the audit list lacks the creation or the write:\n%s", body)
	}
	id := regexp.MustCompile(`/admin/settings/api/tokens/(\d+)/revoke`).FindAllStringSubmatch(body, -1)
	for _, m := range id {
		b.post("/admin/settings/api/tokens/"+m[1]+"/revoke", url.Values{})
	}
	a.c = &http.Client{Transport: &kirimtest.Transport{T: t, Base: http.DefaultTransport, Doc: a.tr.Doc, Prefix: "/api/v1/", ResponsesOnly: true}}
	if status, body, _ := a.call("GET", "/customers", nil); status != 401 || errCode(body) != "unauthorized" {
		t.Fatalf("revoked token: %d %v", status, body)
	}
	if strings.Contains(h.logs.String(), token[1]) {
		t.Fatal("the token reached the log")
	}
}
