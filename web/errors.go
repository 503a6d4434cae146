package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// errorKinds maps error values of the lower layers to HTTP statuses.
var errorKinds = []struct {
	err    error
	status int
}{
	{store.ErrNotFound, http.StatusNotFound},
	{store.ErrConflict, http.StatusConflict},
}

// handleError is the one place errors become responses: a friendly page (or JSON for
// machine routes), and a log line, once, for internal errors only.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status := http.StatusInternalServerError
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status = fe.Code
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			status = k.status
		}
	}
	if store.Unwritable(err) {
		status = http.StatusInsufficientStorage
	}
	rid := requestIDOf(c)
	if status >= 500 {
		s.log.Error("request failed", "request_id", rid, "method", c.Method(), "path", redactPath(c.Path()), "err", err)
	}
	view := views.ErrorView{Status: status, RequestID: rid}
	switch status {
	case http.StatusInsufficientStorage:
		view.Heading, view.Message = "Cannot save right now", "The portal's database cannot be written: its disk is full, or the file is read-only. "+
			"Nothing was saved. Pages that only show data keep working; once there is space again, try again."
	case http.StatusNotFound:
		view.Heading, view.Message = "Page not found", "This page does not exist, or the link has expired."
	case http.StatusForbidden:
		view.Heading, view.Message = "Not allowed", "Your request was refused. Reload the page and try again."
	case http.StatusTooManyRequests:
		view.Heading, view.Message = "Too many requests", "Please wait a minute and try again."
	case http.StatusRequestEntityTooLarge:
		view.Heading, view.Message = "Too large", "What you sent is larger than the portal accepts."
	default:
		if status >= 500 {
			view.Heading, view.Message = "Something went wrong", "We could not complete your request. Please try again in a moment."
		} else {
			view.Heading, view.Message = http.StatusText(status), "The request could not be completed."
		}
	}
	c.Status(status)
	if strings.Contains(c.Get(fiber.HeaderAccept), "application/json") && !strings.Contains(c.Get(fiber.HeaderAccept), "text/html") {
		return c.JSON(fiber.Map{"error": fiber.Map{"status": status, "message": view.Heading, "request_id": rid}})
	}
	return s.render(c, views.ErrorPage(s.page(c, view.Heading), view))
}
