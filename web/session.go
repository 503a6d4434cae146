package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gorilla/sessions"

	"github.com/kirim-portal/portal/store/secret"
	"github.com/kirim-portal/portal/views"
)

const (
	sessionCookie = "portal_session"
	localSession  = "session"
	localStaff    = "staff"
	// A staff session ends after this long without a request, and in any case after
	// sessionAbsolute.
	sessionIdle     = 2 * time.Hour
	sessionAbsolute = 12 * time.Hour
)

// newSessionStore returns the cookie store with explicit, safe options (the gorilla
// defaults are SameSite none, HttpOnly off and 30 days).
func newSessionStore(keyPairs [][]byte, secure bool) *sessions.CookieStore {
	st := sessions.NewCookieStore(keyPairs...)
	st.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(sessionAbsolute / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	st.MaxAge(st.Options.MaxAge)
	return st
}

// session returns the request's session (new and empty when there is none or it does
// not decode), loading it once per request.
func (s *Server) session(c *fiber.Ctx) *sessions.Session {
	if sess, ok := c.Locals(localSession).(*sessions.Session); ok {
		return sess
	}
	r, err := adaptor.ConvertRequest(c, false)
	var sess *sessions.Session
	if err == nil {
		sess, err = s.sessions.Get(r, sessionCookie)
	}
	if err != nil || sess == nil {
		sess = sessions.NewSession(s.sessions, sessionCookie)
		opts := *s.sessions.Options
		sess.Options = &opts
		sess.IsNew = true
	}
	c.Locals(localSession, sess)
	return sess
}

// headerWriter collects the headers gorilla writes, so that they can be copied to Fiber.
type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}

const localSessionDirty = "session_dirty"

// saveSession marks the session to be written once the handler is done.
func (s *Server) saveSession(c *fiber.Ctx) { c.Locals(localSessionDirty, true) }

// writeSession writes the session cookie, once per request, when the handler changed
// the session. Each Set-Cookie is added on its own (Append would join them with commas).
func (s *Server) writeSession(c *fiber.Ctx) error {
	err := c.Next()
	if dirty, _ := c.Locals(localSessionDirty).(bool); !dirty {
		return err
	}
	r, cerr := adaptor.ConvertRequest(c, false)
	if cerr != nil {
		return cerr
	}
	w := &headerWriter{h: http.Header{}}
	if serr := s.sessions.Save(r, w, s.session(c)); serr != nil {
		return serr
	}
	for _, v := range w.h.Values("Set-Cookie") {
		c.Response().Header.Add("Set-Cookie", v)
	}
	return err
}

// csrfToken returns the session's CSRF token, creating (and saving) one if needed. The
// token lives in the signed, encrypted session cookie: no server-side storage, and it
// survives restarts.
func (s *Server) csrfToken(c *fiber.Ctx) string {
	sess := s.session(c)
	if tok, ok := sess.Values["csrf"].(string); ok && tok != "" {
		return tok
	}
	tok := secret.NewToken(32)
	sess.Values["csrf"] = tok
	s.saveSession(c)
	return tok
}

func unsafeMethod(m string) bool {
	return m != fiber.MethodGet && m != fiber.MethodHead && m != fiber.MethodOptions
}

// checkCSRF refuses every unsafe request whose _csrf field (or X-CSRF-Token header, for
// htmx) does not match the session's token, or whose Origin is another site.
func (s *Server) checkCSRF(c *fiber.Ctx) error {
	// Kirim's webhooks are signed instead; the sandbox's page stands in for Kirim's.
	if !unsafeMethod(c.Method()) || strings.HasPrefix(c.Path(), "/sandbox/") || c.Path() == "/webhooks/kirim" {
		return c.Next()
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && origin != "null" && !s.sameOrigin(c, origin) {
		return fiber.NewError(fiber.StatusForbidden, "cross-site request")
	}
	want, _ := s.session(c).Values["csrf"].(string)
	got := bodyValue(c, "_csrf") // never from the query string: URLs end up in logs and Referers
	if got == "" {
		got = c.Get("X-CSRF-Token")
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return fiber.NewError(fiber.StatusForbidden, "missing or wrong CSRF token")
	}
	return c.Next()
}

// bodyValue reads a field of the request body only (c.FormValue falls back to the
// query string).
func bodyValue(c *fiber.Ctx, name string) string {
	if strings.HasPrefix(string(c.Request().Header.ContentType()), fiber.MIMEMultipartForm) {
		if f, err := c.MultipartForm(); err == nil && len(f.Value[name]) > 0 {
			return f.Value[name][0]
		}
		return ""
	}
	return string(c.Request().PostArgs().Peek(name))
}

func (s *Server) sameOrigin(c *fiber.Ctx, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	pub, _ := url.Parse(s.cfg.PublicURL)
	return (u.Scheme == pub.Scheme && u.Host == pub.Host) || u.Host == c.Hostname()
}

// flash stores a one-time message shown by the next page.
func (s *Server) flash(c *fiber.Ctx, kind, msg string) {
	sess := s.session(c)
	sess.Values["flash_kind"], sess.Values["flash"] = kind, msg
	s.saveSession(c)
}

func (s *Server) takeFlash(c *fiber.Ctx) views.Flash {
	sess := s.session(c)
	msg, _ := sess.Values["flash"].(string)
	if msg == "" {
		return views.Flash{}
	}
	kind, _ := sess.Values["flash_kind"].(string)
	delete(sess.Values, "flash")
	delete(sess.Values, "flash_kind")
	s.saveSession(c)
	return views.Flash{Kind: kind, Message: msg}
}

// redirect answers a successful POST with 303 See Other (or HX-Redirect for htmx).
func redirect(c *fiber.Ctx, to string) error {
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", to)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}
