package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

// kirimWebhook receives Kirim's signed events: it checks the signature against every
// stored secret (rotation), refuses stale timestamps, drops event ids seen before, and
// keeps the event for a job to apply, so that Kirim gets its answer at once.
func (s *Server) kirimWebhook(c *fiber.Ctx) error {
	ctx := c.UserContext()
	secrets, err := s.db.WebhookSecrets(ctx)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(secrets) == 0) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	body := c.Body()
	h := adaptHeaders(c)
	if err := kirim.VerifyWebhook(h, body, secrets, time.Now(), kirim.WebhookTolerance); err != nil {
		s.log.Warn("webhook refused", "reason", err.Error())
		return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{"error": err.Error()})
	}
	var ev kirim.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.Type == "" {
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "not a Kirim event"})
	}
	id := c.Get("X-Kirim-Event-Id")
	if id == "" {
		id = ev.ID
	}
	fresh, err := s.ob.AcceptWebhook(ctx, id, ev.Type, body)
	if err != nil {
		return err
	}
	if !fresh {
		// At-least-once delivery: a repeat is acknowledged and not applied again.
		return c.JSON(fiber.Map{"status": "duplicate"})
	}
	return c.JSON(fiber.Map{"status": "accepted"})
}

func adaptHeaders(c *fiber.Ctx) http.Header {
	h := http.Header{}
	for _, name := range []string{"X-Kirim-Signature", "X-Kirim-Signature-256"} {
		if v := c.Get(name); v != "" {
			h[name] = []string{v}
		}
	}
	return h
}
