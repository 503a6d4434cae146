package web

import (
	"errors"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// maxPolls bounds how long the pending page keeps asking (every 2 s).
const maxPolls = 15

// reasonParams are the names Kirim's failure redirect may give its reason (the
// contract names reason; error and error_code are common elsewhere).
var reasonParams = []string{"reason", "error_code", "error"}

func returnQuery(c *fiber.Ctx) onboarding.ReturnQuery {
	q := onboarding.ReturnQuery{CustomerID: c.Query("customer_id"), AccountID: c.Query("account_id"), Status: c.Query("status")}
	for _, p := range reasonParams {
		if v := c.Query(p); v != "" && q.Reason == "" {
			q.Reason = v
		}
	}
	return q
}

// renderReturn shows a return state; fragment is true for the pending page's polling.
func (s *Server) renderReturn(c *fiber.Ctx, ret *onboarding.Return, err error, fragment bool) error {
	var b store.Branding
	locale := "" // unknown: the visitor's language
	v := views.ReturnView{State: "invalid"}
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, onboarding.ErrForged):
		// Unknown or forged: change nothing, reveal nothing.
		b, _ = s.db.Branding(c.UserContext())
		c.Status(fiber.StatusNotFound)
	case err != nil:
		return err
	default:
		b, locale = ret.Branding, ret.Customer.Locale
		v.State, v.Reason, v.KnownReason = ret.State, ret.Reason, onboarding.KnownReason(ret.Reason)
		if ret.Account != nil {
			v.PhoneNumber = ret.Account.PhoneNumber
		}
		v.ContinueURL = b.ContinueURL
		// The way back to the landing page goes only to the browser that set off from
		// it, not to whoever else learns the return URL.
		if ret.LandingToken != "" && s.departed(c, ret.Link.KirimID) {
			v.TryAgainURL = "/onboard/" + ret.LandingToken
		}
		v.LinkUsable, v.StaffAlerted, v.Email = ret.LinkUsable, ret.StaffAlerted, ret.Customer.Email
		if ret.State == onboarding.ReturnPending {
			attempt, _ := strconv.Atoi(c.Query("attempt"))
			q := url.Values{"customer_id": {c.Query("customer_id")}, "account_id": {c.Query("account_id")},
				"status": {"success"}, "attempt": {strconv.Itoa(attempt + 1)}}
			v.PollURL = "/onboard/r/" + c.Params("key") + "/status?" + q.Encode()
		}
	}
	locale = s.publicLocale(c, locale)
	v.Locale, v.Product = locale, b.ProductName
	if fragment {
		return s.render(c, views.ReturnCard(v))
	}
	p := s.publicPage(c, b, views.T(locale, returnTitles[v.State]), locale)
	p.Scripts = []string{s.assets.URL("htmx.min.js")}
	return s.render(c, views.ReturnPage(p, v))
}

// returnTitles name the return page after what it says.
var returnTitles = map[string]string{onboarding.ReturnConnected: "success_title", onboarding.ReturnPending: "pending_title",
	onboarding.ReturnUnconfirmed: "unconfirmed_title", onboarding.ReturnFailed: "failed_title", "invalid": "invalid_title"}

// returnSuccess is the success_redirect_url of every link.
func (s *Server) returnSuccess(c *fiber.Ctx) error {
	ret, err := s.ob.VerifySuccess(c.UserContext(), c.Params("key"), returnQuery(c))
	return s.renderReturn(c, ret, err, false)
}

// returnStatus is polled by the pending page until Kirim confirms, or gives up.
func (s *Server) returnStatus(c *fiber.Ctx) error {
	ctx, key, q := c.UserContext(), c.Params("key"), returnQuery(c)
	ret, err := s.ob.VerifySuccess(ctx, key, q)
	if err == nil && ret.State == onboarding.ReturnPending {
		if attempt, _ := strconv.Atoi(c.Query("attempt")); attempt >= maxPolls {
			ret, err = s.ob.MarkUnconfirmed(ctx, key, q)
		}
	}
	return s.renderReturn(c, ret, err, true)
}

// returnFailure is the failure_redirect_url of every link.
func (s *Server) returnFailure(c *fiber.Ctx) error {
	ret, err := s.ob.RecordFailure(c.UserContext(), c.Params("key"), returnQuery(c))
	return s.renderReturn(c, ret, err, false)
}
