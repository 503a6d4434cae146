package web

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
	"github.com/kirim-portal/portal/views"
)

// requireAdmin keeps operators out of the settings only admins may see and change.
func (s *Server) requireAdmin(c *fiber.Ctx) error {
	for _, prefix := range views.AdminOnly {
		if path := c.Path(); path == prefix || strings.HasPrefix(path, prefix+"/") {
			if u := staffOf(c); u == nil || !u.Admin() {
				return errAdminOnly
			}
		}
	}
	return c.Next()
}

func (s *Server) teamView(c *fiber.Ctx) (views.TeamView, error) {
	ctx := c.UserContext()
	v := views.TeamView{Me: staffOf(c).ID}
	users, err := s.db.Users(ctx)
	if err != nil {
		return v, err
	}
	for _, u := range users {
		v.Staff = append(v.Staff, views.StaffRow{ID: u.ID, Email: u.Email, Role: u.Role, Disabled: u.DisabledAt != nil, LastLogin: u.LastLoginAt})
	}
	invites, err := s.db.PendingInvites(ctx)
	if err != nil {
		return v, err
	}
	for _, i := range invites {
		v.Invites = append(v.Invites, views.InviteRow{ID: i.ID, Email: i.Email, Role: i.Role, By: i.CreatedBy, ExpiresAt: i.ExpiresAt})
	}
	entries, err := s.db.StaffAudit(ctx, 100)
	if err != nil {
		return v, err
	}
	for _, e := range entries {
		v.Audit = append(v.Audit, views.AuditRow{Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail, At: e.At})
	}
	return v, nil
}

func (s *Server) teamPage(c *fiber.Ctx) error {
	v, err := s.teamView(c)
	if err != nil {
		return err
	}
	return s.render(c, views.TeamPage(s.adminPage(c, "Team"), v))
}

func (s *Server) inviteStaff(c *fiber.Ctx) error {
	email, role := strings.TrimSpace(c.FormValue("email")), c.FormValue("role")
	if err := s.ob.InviteStaff(c.UserContext(), email, role, actor(c)); err != nil {
		errs := fieldErrors(err)
		if errs == nil {
			return err
		}
		v, err := s.teamView(c)
		if err != nil {
			return err
		}
		v.Email, v.Role, v.Errors = email, role, errs
		return s.render(c, views.TeamPage(s.invalidFormPage(c, "Team"), v))
	}
	s.mailFlash(c, "Invitation to "+email+". ", "It is on its way.")
	return redirect(c, "/admin/settings/team")
}

// staffAction runs a change to one staff member and comes back to the team page.
func (s *Server) staffAction(done string, fn func(s *Server, c *fiber.Ctx, u *store.User) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, _ := strconv.ParseInt(c.Params("id"), 10, 64)
		u, err := s.db.UserByID(c.UserContext(), id)
		if err != nil {
			return err
		}
		switch err := fn(s, c, u); {
		case errors.Is(err, store.ErrLastAdmin):
			s.flash(c, "error", "Nothing changed: the portal needs at least one active admin.")
		case err != nil:
			return err
		default:
			s.flash(c, "ok", strings.ReplaceAll(done, "{email}", u.Email))
		}
		return redirect(c, "/admin/settings/team")
	}
}

var (
	setStaffRole = func(s *Server, c *fiber.Ctx, u *store.User) error {
		role := c.FormValue("role")
		if !slices.Contains([]string{store.RoleAdmin, store.RoleOperator}, role) {
			return fiber.ErrBadRequest
		}
		return s.db.SetRole(c.UserContext(), u.ID, role, actor(c))
	}
	disableStaff = func(s *Server, c *fiber.Ctx, u *store.User) error {
		if u.ID == staffOf(c).ID {
			return errSelfDisable
		}
		return s.db.SetDisabled(c.UserContext(), u.ID, true, actor(c))
	}
	enableStaff = func(s *Server, c *fiber.Ctx, u *store.User) error {
		return s.db.SetDisabled(c.UserContext(), u.ID, false, actor(c))
	}
	sendStaffReset = func(s *Server, c *fiber.Ctx, u *store.User) error {
		return s.ob.RequestPasswordReset(c.UserContext(), u.Email, actor(c))
	}
)

func (s *Server) revokeInvite(c *fiber.Ctx) error {
	id, _ := strconv.ParseInt(c.Params("id"), 10, 64)
	if err := s.db.RevokeInvite(c.UserContext(), id, actor(c)); err != nil {
		return err
	}
	s.flash(c, "ok", "Invitation withdrawn: its link no longer works.")
	return redirect(c, "/admin/settings/team")
}

// staffLinkTitles name the pages of the one-time staff links.
var staffLinkTitles = map[string]string{store.LinkInvite: "Join the team", store.LinkReset: "Choose a new password"}

// staffLinkPage shows the password form of an invitation or reset link; a used,
// expired or made-up link is a 404.
func (s *Server) staffLinkPage(kind string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		l, err := s.db.OpenStaffLink(c.UserContext(), kind, c.Params("token"))
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		return s.render(c, views.StaffLinkPage(s.adminPage(c, staffLinkTitles[kind]), views.StaffLinkView{Kind: kind, Token: c.Params("token"), Email: l.Email}))
	}
}

// staffLinkSubmit sets the password and signs the staff member in.
func (s *Server) staffLinkSubmit(kind string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, token := c.UserContext(), c.Params("token")
		l, err := s.db.OpenStaffLink(ctx, kind, token)
		if err != nil {
			return err
		}
		if errs := passwordErrors(c.FormValue("password"), c.FormValue("confirm")); len(errs) > 0 {
			return s.render(c, views.StaffLinkPage(s.invalidFormPage(c, staffLinkTitles[kind]),
				views.StaffLinkView{Kind: kind, Token: token, Email: l.Email, Errors: errs}))
		}
		if !s.hashes.enter(ctx, hashWait) {
			c.Set(fiber.HeaderRetryAfter, "5")
			return fiber.ErrServiceUnavailable
		}
		hash := secret.HashPassword(c.FormValue("password"))
		s.hashes.leave()
		var u *store.User
		if kind == store.LinkInvite {
			u, err = s.db.AcceptInvite(ctx, token, hash)
		} else {
			u, err = s.db.ResetPassword(ctx, token, hash)
		}
		if errors.Is(err, store.ErrConflict) {
			return errJoinedAlready
		}
		if err != nil {
			return err
		}
		if err := s.db.ClearAttempts(ctx, emailScope(u.Email)); err != nil { // a new password starts afresh
			return err
		}
		s.startSession(c, u)
		s.flash(c, "ok", map[string]string{store.LinkInvite: "Welcome to the team.", store.LinkReset: "Password changed. Other sessions were signed out."}[kind])
		return redirect(c, "/admin/")
	}
}

func (s *Server) forgotPage(c *fiber.Ctx) error {
	return s.render(c, views.ForgotPage(s.adminPage(c, "Forgot your password?"), false, ""))
}

// forgot emails a reset link when the address is a staff account's, and says the
// same either way. It counts against the same limits as sign-in attempts.
func (s *Server) forgot(c *fiber.Ctx) error {
	ctx := c.UserContext()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	// A reset request stays counted, as a failed sign-in would.
	if _, ok, err := s.db.ReserveAttempt(ctx, failureWindow, loginLimits(clientIP(c), email)...); err != nil || !ok {
		return cmp.Or[error](err, fiber.ErrTooManyRequests)
	}
	if _, err := onboarding.StaffEmail(email); err == nil {
		if err := s.ob.RequestPasswordReset(ctx, email, email); err != nil {
			return err
		}
	}
	return s.render(c, views.ForgotPage(s.adminPage(c, "Forgot your password?"), true, email))
}
