package web

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

func (s *Server) emailRows(c *fiber.Ctx, emails []*store.Email) []views.EmailRow {
	names := map[int64]string{}
	var rows []views.EmailRow
	for _, e := range emails {
		r := views.EmailRow{ID: e.ID, To: e.To, Subject: e.Subject, Status: e.Status, Attempts: e.Attempts,
			LastError: e.LastError, CreatedAt: e.CreatedAt.UTC().Format("2 Jan 2006 15:04 UTC")}
		if e.SentAt != nil {
			r.SentAt = e.SentAt.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		if e.CustomerID != nil {
			r.CustomerID = *e.CustomerID
			if _, ok := names[r.CustomerID]; !ok {
				if cu, err := s.db.CustomerByID(c.UserContext(), r.CustomerID); err == nil {
					names[r.CustomerID] = cu.Name
				}
			}
			r.Customer = names[r.CustomerID]
		}
		rows = append(rows, r)
	}
	return rows
}

func (s *Server) outbox(c *fiber.Ctx) error {
	emails, err := s.db.Emails(c.UserContext(), 0, 200)
	if err != nil {
		return err
	}
	return s.render(c, views.OutboxPage(s.adminPage(c, "Outbox"), views.OutboxView{Rows: s.emailRows(c, emails), DevOutbox: s.ob.DevOutbox()}))
}

func (s *Server) emailByParam(c *fiber.Ctx) (*store.Email, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return nil, fiber.ErrNotFound
	}
	return s.db.EmailByID(c.UserContext(), id)
}

func (s *Server) showEmail(c *fiber.Ctx) error {
	e, err := s.emailByParam(c)
	if err != nil {
		return err
	}
	return s.render(c, views.EmailPage(s.adminPage(c, e.Subject), views.EmailDetail{Row: s.emailRows(c, []*store.Email{e})[0], Text: e.Text}))
}

// emailHTML serves an email's HTML part for the frame on its page, sandboxed.
func (s *Server) emailHTML(c *fiber.Ctx) error {
	e, err := s.emailByParam(c)
	if err != nil {
		return err
	}
	framable(c, emailCSP)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(e.HTML)
}

func (s *Server) resendEmail(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return fiber.ErrNotFound
	}
	r, err := s.ob.ResendEmail(c.UserContext(), id, actor(c))
	switch {
	case errors.Is(err, onboarding.ErrNoSMTP):
		s.flash(c, "warn", "Not sent: no email server is configured. Set SMTP_URL to send emails.")
	case err != nil:
		msg := problemOf(err)
		if msg == "" || r == nil {
			return err
		}
		s.flash(c, "error", msg)
	case r.Email.Kind == "setup_link":
		s.flash(c, "ok", resentWords(r))
	default:
		s.flash(c, "ok", "Email queued again.")
	}
	e := r.Email
	back := c.Get(fiber.HeaderReferer)
	if e.CustomerID != nil {
		back = views.CustomerPath(*e.CustomerID)
	}
	if back == "" || back[0] != '/' {
		back = "/admin/outbox"
	}
	return redirect(c, back)
}

// resentWords says what a setup-link email sent again carries.
func resentWords(r *onboarding.Resent) string {
	if r.NewLink {
		return "The link no longer worked, so a new link was made. Email on its way to " + r.Email.To + "."
	}
	return "A new email with the current link is on its way to " + r.Email.To + "."
}
