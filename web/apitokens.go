package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

func (s *Server) apiSettingsView(c *fiber.Ctx) (views.APISettingsView, error) {
	v := views.APISettingsView{DocURL: s.cfg.PublicURL + apiPrefix}
	tokens, err := s.db.APITokens(c.UserContext())
	if err != nil {
		return v, err
	}
	for _, t := range tokens {
		v.Tokens = append(v.Tokens, views.APITokenRow{ID: t.ID, Name: t.Name, Scope: t.Scope, Last4: t.Last4, CreatedBy: t.CreatedBy,
			CreatedAt: t.CreatedAt, LastUsed: t.LastUsedAt, Revoked: t.RevokedAt})
	}
	audit, err := s.db.APIAudit(c.UserContext(), 50)
	for _, a := range audit {
		v.Audit = append(v.Audit, views.APIAuditRow{At: a.CreatedAt, Token: a.Token, Action: a.Action, Actor: a.Actor})
	}
	return v, err
}

func (s *Server) apiSettings(c *fiber.Ctx) error {
	v, err := s.apiSettingsView(c)
	if err != nil {
		return err
	}
	return s.render(c, views.APISettingsPage(s.adminPage(c, "API"), v))
}

// createToken makes a token and shows it on the answer itself, once (never in a
// redirect, a flash or a log).
func (s *Server) createToken(c *fiber.Ctx) error {
	token, t, err := onboarding.CreateAPIToken(c.UserContext(), s.db, c.FormValue("name"), c.FormValue("scope"), actor(c))
	v, verr := s.apiSettingsView(c)
	if verr != nil {
		return verr
	}
	if errs := fieldErrors(err); errs != nil {
		v.Errors, v.Name, v.Scope = errs, c.FormValue("name"), c.FormValue("scope")
		return s.render(c, views.APISettingsPage(s.invalidFormPage(c, "API"), v))
	}
	if err != nil {
		return err
	}
	v.NewToken, v.NewTokenName = token, t.Name
	return s.render(c, views.APISettingsPage(s.adminPage(c, "API"), v))
}

func (s *Server) revokeToken(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return store.ErrNotFound
	}
	if err := s.db.RevokeAPIToken(c.UserContext(), id, actor(c)); err != nil {
		return err
	}
	s.flash(c, "ok", "Token revoked: requests with it are refused from now on.")
	return redirect(c, "/admin/settings/api")
}
