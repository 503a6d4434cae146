package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// problem is how the portal answers an error: the HTTP status, and what staff read.
type problem struct {
	status  int
	message string
}

// problems is the one table from the lower layers' errors to answers: the error page,
// a form's message and an action's flash all read it. A new error is one line here.
var problems = []struct {
	err error
	problem
}{
	{store.ErrNotFound, problem{http.StatusNotFound, "This page does not exist, or the link has expired."}},
	{store.ErrConflict, problem{http.StatusConflict, "That exists already."}},
	{onboarding.ErrArchived, problem{http.StatusConflict, "This customer is archived."}},
	{onboarding.ErrNotConnected, problem{http.StatusConflict, "This number is not connected: templates can only be synced for connected numbers."}},
	{onboarding.ErrNoEmail, problem{http.StatusUnprocessableEntity, "This customer has no email address: add one first."}},
	{onboarding.ErrLinkNotActive, problem{http.StatusConflict, "That link is no longer active (it was used, revoked or has expired); the list now shows its state."}},
	{onboarding.ErrStaleForm, problem{http.StatusBadRequest, "This form is incomplete or out of date. Nothing was saved: reload the page and submit it again."}},
	{onboarding.ErrNeedsHTTPS, problem{http.StatusUnprocessableEntity, "Kirim delivers webhooks to https only: set PORTAL_PUBLIC_URL to the portal's https address first."}},
	{onboarding.ErrNoSMTP, problem{http.StatusConflict, "No SMTP server is configured (SMTP_URL): the email stays in the outbox."}},
	{onboarding.ErrBatchState, problem{http.StatusConflict, "That cannot be done at this stage of the run; the page now shows where it stands."}},
	{errAdminOnly, problem{http.StatusForbidden, "Only admins can open this page. Ask an admin of the portal if you need a change here."}},
	{errSelfDisable, problem{http.StatusBadRequest, "You cannot disable your own account: ask another admin."}},
	{errJoinedAlready, problem{http.StatusConflict, "This address already has a staff account: sign in instead."}},
}

// The staff side's own refusals.
var (
	errAdminOnly     = errors.New("web: admins only")
	errSelfDisable   = errors.New("web: disabling oneself")
	errJoinedAlready = errors.New("web: invitation to an existing account")
)

// explain finds the answer to err: the table first, then the errors that carry their
// own words (invalid input, Kirim's refusals and outages, a database that cannot be
// written). ok is false for an error the portal has no words for: an internal one.
func explain(err error) (p problem, ok bool) {
	for _, k := range problems {
		if errors.Is(err, k.err) {
			return k.problem, true
		}
	}
	var inv *onboarding.InvalidError
	var ke *kirim.Error
	switch {
	case errors.As(err, &inv):
		var msgs []string
		for _, m := range inv.Fields {
			msgs = append(msgs, m)
		}
		slices.Sort(msgs)
		return problem{http.StatusUnprocessableEntity, strings.Join(msgs, " ")}, true
	case errors.As(err, &ke):
		return kirimProblem(ke), true
	case store.Unwritable(err):
		return problem{http.StatusInsufficientStorage, "The portal's database cannot be written: its disk is full, or the file is read-only. " +
			"Nothing was saved. Pages that only show data keep working; once there is space again, try again."}, true
	}
	return problem{}, false
}

// kirimProblem explains a failed Kirim call in words staff can act on.
func kirimProblem(ke *kirim.Error) problem {
	ref := ""
	if ke.RequestID != "" {
		ref = " (Kirim request " + ke.RequestID + ")"
	}
	late := "Kirim's answer did not arrive"
	status := http.StatusBadGateway
	if ke.Elapsed > 0 {
		late = fmt.Sprintf("Kirim did not answer within %d seconds", int(ke.Elapsed.Round(time.Second).Seconds()))
		status = http.StatusGatewayTimeout
	}
	switch {
	case ke.Uncertain:
		// Never "nothing was changed": Kirim may have done it and the answer got lost.
		return problem{status, late + ", so we cannot tell yet whether this went through. Send the same form again: " +
			"the portal first asks Kirim about the earlier attempt and never does it twice." + ref}
	case errors.Is(ke, context.DeadlineExceeded):
		return problem{status, late + ". Please try again in a moment." + ref}
	case kirim.IsUnavailable(ke), kirim.IsRateLimited(ke):
		return problem{status, "Kirim could not be reached, so nothing was changed. Please try again in a moment." + ref}
	case ke.Status == http.StatusUnauthorized || ke.Status == http.StatusForbidden:
		return problem{status, "Kirim refused the portal's API key. Check KIRIM_API_KEY." + ref}
	case ke.Status == http.StatusPaymentRequired:
		return problem{status, "Your Kirim plan does not allow this: " + ke.Message + ref}
	case kirim.IsValidation(ke):
		return problem{http.StatusUnprocessableEntity, "Kirim refused the request: " + ke.Message + ref}
	default:
		return problem{status, "Kirim refused the request: " + ke.Message + ref}
	}
}

// handleError is the one place errors become responses: a friendly page (or JSON for
// machine routes), and a log line, once, for internal errors (and a database that
// cannot be written).
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	rid := requestIDOf(c)
	view := views.ErrorView{Status: http.StatusInternalServerError, RequestID: rid}
	var fe *fiber.Error
	if p, ok := explain(err); ok {
		view.Status, view.Message = p.status, p.message
	} else if errors.As(err, &fe) {
		view.Status = fe.Code
	}
	if view.Status >= 500 {
		s.log.Error("request failed", "request_id", rid, "method", c.Method(), "path", redactPath(c.Path()), "err", err)
	}
	view.Heading = headings[view.Status]
	switch {
	case view.Heading != "":
	case view.Status >= 500:
		view.Heading = "Something went wrong"
	default:
		view.Heading = http.StatusText(view.Status)
	}
	if view.Status == http.StatusRequestEntityTooLarge && strings.HasPrefix(c.Path(), "/admin/imports") {
		view.Message = "A CSV file can be at most 5 MB (and 10,000 rows). Split it into smaller files and import them one by one."
	}
	if view.Message == "" {
		view.Message = statusMessages[view.Status]
	}
	if view.Message == "" && view.Status >= 500 {
		view.Message = "We could not complete your request. Please try again in a moment."
	} else if view.Message == "" {
		view.Message = "The request could not be completed."
	}
	c.Status(view.Status)
	if strings.Contains(c.Get(fiber.HeaderAccept), "application/json") && !strings.Contains(c.Get(fiber.HeaderAccept), "text/html") {
		return c.JSON(fiber.Map{"error": fiber.Map{"status": view.Status, "message": view.Heading, "request_id": rid}})
	}
	if !staffPath(c.Path()) {
		// The end-customer's pages: the brand, their language, no staff words.
		p, locale := s.brandedPage(c, "")
		view.Heading, view.Message = publicErrorWords(locale, view.Status)
		p.Title = view.Heading
		return s.render(c, views.ErrorPage(p, view))
	}
	return s.render(c, views.ErrorPage(s.page(c, view.Heading), view))
}

// staffPath reports whether a path belongs to the staff's side of the portal.
func staffPath(path string) bool {
	for _, prefix := range []string{"/admin", "/login", "/logout", "/setup"} {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return true
		}
	}
	return false
}

// publicErrorWords are an error page's heading and message for customers.
func publicErrorWords(locale string, status int) (heading, message string) {
	key := "other"
	switch {
	case status == http.StatusForbidden, status == http.StatusNotFound, status == http.StatusTooManyRequests:
		key = strconv.Itoa(status)
	case status >= 500:
		key = "500"
	}
	return views.T(locale, "err_title_"+key), views.T(locale, "err_body_"+key)
}

// headings and statusMessages are the error page's words for a status without its own.
var (
	headings = map[int]string{
		http.StatusNotFound:              "Page not found",
		http.StatusForbidden:             "Not allowed",
		http.StatusTooManyRequests:       "Too many requests",
		http.StatusRequestEntityTooLarge: "Too large",
		http.StatusInsufficientStorage:   "Cannot save right now",
		http.StatusGatewayTimeout:        "Kirim did not answer",
		http.StatusBadGateway:            "Kirim did not answer",
	}
	statusMessages = map[int]string{
		http.StatusNotFound:              "This page does not exist, or the link has expired.",
		http.StatusForbidden:             "Your request was refused. Reload the page and try again.",
		http.StatusTooManyRequests:       "Please wait a minute and try again.",
		http.StatusRequestEntityTooLarge: "What you sent is larger than the portal accepts.",
	}
)

// Words says err as staff read it (batch results, the import command): the table's
// words, else the error's own text.
func Words(err error) string {
	if p, ok := explain(err); ok {
		return p.message
	}
	return err.Error()
}

// problemOf is the staff message for an action's error; "" when the error is internal
// (the error page shows it).
func problemOf(err error) string {
	p, _ := explain(err)
	return p.message
}

// fieldErrors returns the field messages of invalid input, or nil for another error.
func fieldErrors(err error) map[string]string {
	var inv *onboarding.InvalidError
	if errors.As(err, &inv) {
		return inv.Fields
	}
	return nil
}
