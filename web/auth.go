package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
	"github.com/kirim-portal/portal/views"
)

const (
	msgBadLogin  = "Email or password is incorrect."
	msgThrottled = "Too many sign-in attempts. Wait 15 minutes and try again."
	msgBusy      = "The portal is busy checking other sign-ins. Try again in a few seconds."
)

// requireStaff lets a request through only with a live staff session: signed, not idle
// too long, not too old, and of the user's current session version.
func (s *Server) requireStaff(c *fiber.Ctx) error {
	sess := s.session(c)
	uid, _ := sess.Values["uid"].(int64)
	ver, _ := sess.Values["ver"].(int64)
	created, _ := sess.Values["created"].(int64)
	seen, _ := sess.Values["seen"].(int64)
	now := time.Now()
	var user *store.User
	if uid != 0 && now.Sub(time.Unix(created, 0)) < sessionAbsolute && now.Sub(time.Unix(seen, 0)) < sessionIdle {
		if u, err := s.db.UserByID(c.UserContext(), uid); err == nil && u.SessionVersion == ver && u.DisabledAt == nil {
			user = u
		}
	}
	if user == nil {
		next := ""
		if c.Method() == fiber.MethodGet {
			next = "?next=" + url.QueryEscape(c.OriginalURL())
		}
		return c.Redirect("/login"+next, fiber.StatusSeeOther)
	}
	if now.Sub(time.Unix(seen, 0)) > time.Minute {
		sess.Values["seen"] = now.Unix()
		s.saveSession(c)
	}
	c.Locals(localStaff, user)
	// Customer data must not stay in the browser's cache after sign-out.
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

func staffOf(c *fiber.Ctx) *store.User {
	u, _ := c.Locals(localStaff).(*store.User)
	return u
}

// actor names who did something, for the timeline.
func actor(c *fiber.Ctx) string {
	if u := staffOf(c); u != nil {
		return u.Email
	}
	return "system"
}

// safeNext keeps only local admin paths, so the login form is no open redirect.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/admin/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/admin/"
}

func (s *Server) loginPage(c *fiber.Ctx) error {
	n, _ := s.db.CountUsers(c.UserContext())
	p := s.adminPage(c, "Sign in")
	return s.render(c, views.LoginPage(p, views.LoginView{FirstRun: n == 0, Next: safeNext(c.Query("next"))}))
}

func (s *Server) login(c *fiber.Ctx) error {
	ctx := c.UserContext()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	password := c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	fail := func(status int, msg string) error {
		p := s.adminPage(c, "Sign in")
		c.Status(status)
		return s.render(c, views.LoginPage(p, views.LoginView{Email: email, Error: msg, Next: next}))
	}
	// The attempt counts before anything is checked.
	res, ok, err := s.db.ReserveAttempt(ctx, failureWindow, loginLimits(clientIP(c), email)...)
	if err != nil {
		return err
	}
	if !ok {
		return fail(fiber.StatusTooManyRequests, msgThrottled)
	}
	if !s.hashes.enter(ctx, hashWait) {
		// Not checked: the attempt does not count. The client may try again shortly.
		if err := s.db.ReleaseAttempt(context.WithoutCancel(ctx), res); err != nil {
			return err
		}
		c.Set(fiber.HeaderRetryAfter, "5")
		return fail(fiber.StatusServiceUnavailable, msgBusy)
	}
	defer s.hashes.leave()
	u, err := s.db.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if u == nil || len(password) > maxPasswordLen {
		secret.DummyCheck(password[:min(len(password), maxPasswordLen)]) // as long as a wrong password
		return fail(fiber.StatusUnauthorized, msgBadLogin)
	}
	if err := secret.CheckPassword(u.PasswordHash, password); err != nil {
		s.log.Warn("failed sign-in", "ip", clientIP(c))
		return fail(fiber.StatusUnauthorized, msgBadLogin)
	}
	if u.DisabledAt != nil {
		return fail(fiber.StatusForbidden, "This account is disabled. Ask an admin of the portal to enable it.")
	}
	if err := s.db.ReleaseAttempt(ctx, res); err != nil {
		return err
	}
	if err := s.db.ClearAttempts(ctx, emailScope(email)); err != nil {
		return err
	}
	if err := s.db.RecordLoginSuccess(ctx, u.ID); err != nil {
		return err
	}
	s.startSession(c, u)
	return redirect(c, next)
}

// startSession replaces whatever session the browser had with a fresh one (new CSRF
// token), so a session planted before sign-in is worth nothing after it.
func (s *Server) startSession(c *fiber.Ctx, u *store.User) {
	sess := s.session(c)
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	now := time.Now().Unix()
	sess.Values["uid"], sess.Values["ver"] = u.ID, u.SessionVersion
	sess.Values["created"], sess.Values["seen"] = now, now
	sess.Values["csrf"] = secret.NewToken(32)
	s.saveSession(c)
}

// logout ends every session of the user (the session version moves on) and clears
// the cookie.
func (s *Server) logout(c *fiber.Ctx) error {
	sess := s.session(c)
	if uid, ok := sess.Values["uid"].(int64); ok {
		if _, err := s.db.BumpSessionVersion(c.UserContext(), uid); err != nil {
			return err
		}
	}
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	sess.Values["flash_kind"], sess.Values["flash"] = "ok", "You are signed out."
	s.saveSession(c)
	// The browser drops what it cached of the admin pages (htmx keeps none: its
	// history cache is off).
	c.Set("Clear-Site-Data", `"cache", "storage"`)
	return redirect(c, "/login")
}

// bootstrap prepares the first-run link when no staff user exists yet and logs it.
func (s *Server) bootstrap(ctx context.Context) {
	n, err := s.db.CountUsers(ctx)
	if err != nil || n > 0 {
		return
	}
	token := secret.NewToken(24)
	s.setup.mu.Lock()
	s.setup.hash = store.HashToken(token)
	s.setup.mu.Unlock()
	s.log.Warn("no staff user yet: open the one-time setup link to create the first one (or run: portal user add --email you@example.com)",
		"setup_url", s.cfg.PublicURL+"/setup/"+token)
}

func (s *Server) setupTokenOK(c *fiber.Ctx) bool {
	s.setup.mu.Lock()
	defer s.setup.mu.Unlock()
	if s.setup.hash == nil {
		return false
	}
	if n, err := s.db.CountUsers(c.UserContext()); err != nil || n > 0 {
		s.setup.hash = nil
		return false
	}
	return subtle.ConstantTimeCompare(store.HashToken(c.Params("token")), s.setup.hash) == 1
}

func (s *Server) setupPage(c *fiber.Ctx) error {
	if !s.setupTokenOK(c) {
		return fiber.ErrNotFound
	}
	p := s.adminPage(c, "First staff account")
	return s.render(c, views.SetupPage(p, views.SetupView{Token: c.Params("token")}))
}

func (s *Server) setupSubmit(c *fiber.Ctx) error {
	if !s.setupTokenOK(c) {
		return fiber.ErrNotFound
	}
	errs := passwordErrors(c.FormValue("password"), c.FormValue("confirm"))
	email, err := onboarding.StaffEmail(c.FormValue("email"))
	if err != nil {
		email = strings.TrimSpace(c.FormValue("email"))
		errs["email"] = sentence(err)
	}
	if len(errs) > 0 {
		p := s.adminPage(c, "First staff account")
		c.Status(fiber.StatusUnprocessableEntity)
		return s.render(c, views.SetupPage(p, views.SetupView{Token: c.Params("token"), Email: email, Errors: errs}))
	}
	if !s.hashes.enter(c.UserContext(), hashWait) {
		c.Set(fiber.HeaderRetryAfter, "5")
		return fiber.ErrServiceUnavailable
	}
	hash := secret.HashPassword(c.FormValue("password"))
	s.hashes.leave()
	u, err := s.db.CreateFirstUser(c.UserContext(), email, hash)
	s.setup.mu.Lock()
	s.setup.hash = nil // single use, whatever happened
	s.setup.mu.Unlock()
	if errors.Is(err, store.ErrNotFirst) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	s.log.Info("first staff user created", "email", u.Email)
	s.startSession(c, u)
	return redirect(c, "/admin/")
}

func passwordErrors(password, confirm string) map[string]string {
	errs := map[string]string{}
	if err := onboarding.CheckPassword(password); err != nil {
		errs["password"] = sentence(err)
	} else if password != confirm {
		errs["confirm"] = "The two passwords differ."
	}
	return errs
}

// sentence writes a rule's error as a sentence for a form.
func sentence(err error) string {
	s := err.Error()
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func (s *Server) accountPage(c *fiber.Ctx) error {
	v, err := s.accountView(c)
	if err != nil {
		return err
	}
	return s.render(c, views.AccountPage(s.adminPage(c, "Your account"), v))
}

// accountView is the account page of the signed-in staff user.
func (s *Server) accountView(c *fiber.Ctx) (views.AccountView, error) {
	u := staffOf(c)
	p, err := s.db.FollowUpPolicy(c.UserContext())
	return views.AccountView{TimeZone: u.Prefs.TimeZone, AlertEmail: u.Prefs.AlertEmail, AlertDigest: u.Prefs.AlertDigest,
		DefaultZone: p.DefaultTimeZone}, err
}

func (s *Server) saveAlerts(c *fiber.Ctx) error {
	u := staffOf(c)
	in := onboarding.StaffPrefsInput{TimeZone: c.FormValue("time_zone"), AlertEmail: c.FormValue("alert_email") == "1",
		AlertDigest: c.FormValue("alert_digest") == "1"}
	if err := s.ob.SaveStaffPrefs(c.UserContext(), u.ID, in); err != nil {
		v, verr := s.accountView(c)
		if verr != nil {
			return verr
		}
		v.TimeZone, v.AlertEmail, v.AlertDigest = in.TimeZone, in.AlertEmail, in.AlertDigest
		if v.Errors = fieldErrors(err); v.Errors == nil {
			return err
		}
		c.Status(fiber.StatusUnprocessableEntity)
		return s.render(c, views.AccountPage(s.adminPage(c, "Your account"), v))
	}
	s.flash(c, "ok", "Alert preferences saved.")
	return redirect(c, "/admin/account#alerts")
}

func (s *Server) changePassword(c *fiber.Ctx) error {
	u := staffOf(c)
	errs := passwordErrors(c.FormValue("password"), c.FormValue("confirm"))
	if !s.hashes.enter(c.UserContext(), hashWait) {
		c.Set(fiber.HeaderRetryAfter, "5")
		return fiber.ErrServiceUnavailable
	}
	if secret.CheckPassword(u.PasswordHash, c.FormValue("current")) != nil {
		errs["current"] = "This is not your current password."
	}
	hash := ""
	if len(errs) == 0 {
		hash = secret.HashPassword(c.FormValue("password"))
	}
	s.hashes.leave()
	if len(errs) > 0 {
		c.Status(fiber.StatusUnprocessableEntity)
		v, err := s.accountView(c)
		if err != nil {
			return err
		}
		v.Errors = errs
		return s.render(c, views.AccountPage(s.adminPage(c, "Your account"), v))
	}
	ver, err := s.db.SetPassword(c.UserContext(), u.ID, hash)
	if err != nil {
		return err
	}
	u.SessionVersion = ver
	s.startSession(c, u) // this browser stays signed in; every other session ends
	s.flash(c, "ok", "Password changed. Other sessions were signed out.")
	return redirect(c, "/admin/account")
}
