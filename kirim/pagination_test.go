package kirim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/sandbox"
)

// connectedAccount signs a customer up through the hosted page and returns its
// phone_number_id.
func connectedAccount(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	c, err := e.client.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Pages"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.client.CreateSetupLink(ctx, c.ID, kirim.CreateSetupLinkParams{SuccessRedirectURL: "http://localhost/back"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.http.Get(l.SetupURL.Reveal() + "?outcome=success")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	accounts, err := e.client.ListAccounts(ctx, kirim.AccountFilter{CustomerID: c.ID})
	if err != nil || len(accounts) != 1 {
		t.Fatalf("accounts %+v %v", accounts, err)
	}
	return *accounts[0].PhoneNumberID
}

// TestListsFollowEveryPage: templates in pages of 10 with an empty last page come back
// whole, in the fewest calls.
func TestListsFollowEveryPage(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.Options{Variant: sandbox.Variant{TemplatePageSize: 10, EmptyLastPage: true}})
	pnid := connectedAccount(t, e)
	e.sb.AddMetaTemplates(pnid, 27)
	if _, err := e.client.SyncTemplates(ctx, pnid, ""); err != nil {
		t.Fatal(err)
	}
	e.sb.ResetCalls()
	tpls, err := e.client.ListTemplates(ctx, pnid)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tp := range tpls {
		seen[tp.Name] = true
	}
	if len(tpls) != 30 || len(seen) != 30 {
		t.Fatalf("%d templates (%d distinct), want 30", len(tpls), len(seen))
	}
	if n := e.sb.Calls()["GET /v1/{phone_number_id}/templates"]; n != 4 {
		t.Fatalf("%d calls, want 3 full pages and the empty last one", n)
	}
}

// TestPaginationEnds: the client follows has_more where Kirim documents one page, and
// stops on an empty page or a cursor it has seen, whatever has_more says.
func TestPaginationEnds(t *testing.T) {
	ctx := context.Background()
	page := func(w http.ResponseWriter, data []map[string]any, next string) {
		body := map[string]any{"data": data, "has_more": next != "", "next_cursor": nil, "request_id": "req_1"}
		if next != "" {
			body["next_cursor"] = next
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	}
	account := func(id string) map[string]any {
		return map[string]any{"object": "account", "id": id, "phone_number_id": nil, "phone_number": nil, "name": nil, "status": "onboarding", "customer_id": nil}
	}
	t.Run("accounts over two pages", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("cursor") == "" {
				page(w, []map[string]any{account("wba_1")}, "p2")
				return
			}
			page(w, []map[string]any{account("wba_2")}, "")
		}))
		defer srv.Close()
		got, err := fastClient(t, srv.URL).ListAccounts(ctx, kirim.AccountFilter{Status: "all"})
		if err != nil || len(got) != 2 || got[1].ID != "wba_2" {
			t.Fatalf("%+v %v", got, err)
		}
	})
	for name, next := range map[string]func(calls int64) (string, int){
		"the same cursor again": func(int64) (string, int) { return "again", 1 },
		"an empty page":         func(calls int64) (string, int) { return "more", int(2 - min(calls, 2)) },
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				cur, rows := next(n)
				var data []map[string]any
				for range rows {
					data = append(data, account("wba_"+url.QueryEscape(r.URL.Query().Get("cursor"))))
				}
				page(w, data, cur)
			}))
			defer srv.Close()
			if _, err := fastClient(t, srv.URL).ListAccounts(ctx, kirim.AccountFilter{}); err != nil {
				t.Fatal(err)
			}
			if n := calls.Load(); n > 3 {
				t.Fatalf("%d calls: the client did not stop", n)
			}
		})
	}
}
