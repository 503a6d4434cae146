package web

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

// routes is the portal's one route table, read top to bottom.
func (s *Server) routes() {
	app := s.app
	app.Use(s.requestID, s.accessLog, recover.New(), s.securityHeaders)

	// Probes and assets.
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/static/:name", s.staticAsset)

	// Public pages.
	app.Get("/", s.home)

	// The built-in Kirim sandbox (only without a Kirim API key): its hosted signup page
	// must be reachable by the end-customer's browser.
	if s.cfg.Sandbox != nil {
		app.All("/sandbox/*", adaptor.HTTPHandler(http.StripPrefix("/sandbox", s.cfg.Sandbox)))
	}

	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
}
