package web

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

const (
	localRequestID = "request_id"
	localNonce     = "csp_nonce"
)

// requestID gives every request a fresh id, returned as X-Request-Id. An incoming
// header is not trusted: it would let anyone write into our logs.
func (s *Server) requestID(c *fiber.Ctx) error {
	b := make([]byte, 12)
	rand.Read(b)
	id := "req_" + base64.RawURLEncoding.EncodeToString(b)
	c.Locals(localRequestID, id)
	c.Set("X-Request-Id", id)
	return c.Next()
}

func requestIDOf(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// securityHeaders sets a CSP with a per-request nonce and the other headers every
// response carries.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	b := make([]byte, 16)
	rand.Read(b)
	nonce := base64.StdEncoding.EncodeToString(b)
	c.Locals(localNonce, nonce)
	csp := "default-src 'self'; script-src 'self' 'nonce-" + nonce + "'; style-src 'self' 'nonce-" + nonce + "'; " +
		"img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
		"form-action 'self'; frame-ancestors 'none'"
	if strings.HasPrefix(c.Path(), "/sandbox/") {
		// The sandbox's stand-in for Kirim's hosted page carries its own inline style.
		csp = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
	}
	c.Set("Content-Security-Policy", csp)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if s.secure() {
		c.Set("Strict-Transport-Security", "max-age=31536000")
	}
	return c.Next()
}

// accessLog writes one line per request. It never logs query strings, and it masks
// the secret segments of paths (see redactPath): both may carry secrets.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		// Render the error now so that the logged status is the one sent.
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			c.Status(fiber.StatusInternalServerError)
		}
	}
	s.log.Info("request",
		"method", c.Method(),
		"path", redactPath(c.Path()),
		"status", c.Response().StatusCode(),
		"duration_ms", time.Since(start).Milliseconds(),
		"bytes", len(c.Response().Body()),
		"ip", clientIP(c),
		"request_id", requestIDOf(c),
	)
	return nil
}

// redactPath hides every secret path segment: the landing token of /onboard/{token},
// the return key of /onboard/r/{key}/…, the first-run token of /setup/{token}, and the
// Kirim token of the sandbox's /sandbox/onboard/{token}.
func redactPath(p string) string {
	parts := strings.Split(p, "/")
	for i := 0; i < len(parts)-1; i++ {
		switch {
		case parts[i] == "onboard" && parts[i+1] == "r" && i+2 < len(parts):
			parts[i+2] = "[key]"
			i += 2
		case parts[i] == "onboard" || (i == 1 && (parts[i] == "setup" || parts[i] == "invite" || parts[i] == "reset")):
			if parts[i+1] != "" {
				parts[i+1] = "[token]"
			}
			i++
		}
	}
	return strings.Join(parts, "/")
}
