package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/views"
)

func (s *Server) home(c *fiber.Ctx) error {
	p, locale := s.brandedPage(c, "home_title")
	p.Title = views.T(locale, "home_title", p.Product)
	return s.render(c, views.HomePage(p))
}

// staticAsset serves an embedded file by its content-hashed name: the name changes
// whenever the content does, so the file may be cached for a year.
func (s *Server) staticAsset(c *fiber.Ctx) error {
	a, ok := s.assets.ByHashedName(c.Params("name"))
	if !ok {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	return c.Send(a.Body)
}
