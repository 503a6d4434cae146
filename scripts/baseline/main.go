// Command baseline is the smallest Fiber server that answers /healthz. Measurement
// scripts run it beside the portal so that numbers are quoted as ratios from one run.
package main

import (
	"os"

	"github.com/gofiber/fiber/v2"
)

func main() {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	addr := os.Getenv("PORTAL_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8081"
	}
	if err := app.Listen(addr); err != nil {
		os.Exit(1)
	}
}
