package web

import (
	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// render writes a templ component as the HTML response, with the request's CSP nonce.
func (s *Server) render(c *fiber.Ctx, component templ.Component) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	ctx := c.UserContext()
	if nonce, ok := c.Locals(localNonce).(string); ok {
		ctx = templ.WithNonce(ctx, nonce)
	}
	return component.Render(ctx, c.Response().BodyWriter())
}

// page returns the layout model shared by every page, named after the platform's
// product (the default name when the database does not answer: error pages still render).
func (s *Server) page(c *fiber.Ctx, title string) views.Page {
	product := store.DefaultBranding().ProductName
	if b, err := s.db.Branding(c.UserContext()); err == nil {
		product = b.ProductName
	}
	return s.pageFor(title, product)
}

func (s *Server) pageFor(title, product string) views.Page {
	return views.Page{Title: title, CSS: s.assets.URL("app.css"), Icon: s.assets.URL("favicon.svg"), Product: product}
}

// adminPage adds what staff pages need: scripts, the CSRF token, the signed-in user
// and the flash message.
// invalidFormPage is the admin page of a form sent back with its fields marked (422).
func (s *Server) invalidFormPage(c *fiber.Ctx, title string) views.Page {
	c.Status(fiber.StatusUnprocessableEntity)
	p := s.adminPage(c, title)
	p.Flash = views.Flash{Kind: "error", Message: "Nothing was saved: please correct the fields marked below."}
	return p
}

func (s *Server) adminPage(c *fiber.Ctx, title string) views.Page {
	p := s.page(c, title)
	p.Scripts = []string{s.assets.URL("htmx.min.js"), s.assets.URL("app.js")}
	p.CSRF = s.csrfToken(c)
	p.Flash = s.takeFlash(c)
	p.Path = c.Path()
	p.MailOff = s.ob.DevOutbox()
	if u := staffOf(c); u != nil {
		p.StaffEmail, p.Admin = u.Email, u.Admin()
		// The badge is a hint: a failing count leaves it out rather than the page.
		if n, err := s.db.AttentionWaiting(c.UserContext()); err == nil {
			p.Attention = n
		}
	}
	return p
}
