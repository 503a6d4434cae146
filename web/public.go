package web

import (
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"golang.org/x/text/language"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// publicHeaders are for the end-customer's token pages: never cached, never indexed,
// and no Referer leaks the token to the next site.
func publicHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set("X-Robots-Tag", "noindex, nofollow")
	return c.Next()
}

// publicLimit rate-limits the token pages per client IP.
func (s *Server) publicLimit() fiber.Handler {
	return limiter.New(limiter.Config{
		Max:        60,
		Expiration: time.Minute,
		KeyGenerator: func(c *fiber.Ctx) string {
			return clientIP(c)
		},
		LimitReached: func(c *fiber.Ctx) error { return fiber.ErrTooManyRequests },
	})
}

// publicPage is the layout model of pages in the platform's branding.
func (s *Server) publicPage(c *fiber.Ctx, b store.Branding, title, locale string) views.Page {
	p := s.pageFor(title, b.ProductName)
	p.Lang = locale
	p.Theme = "/brand/theme.css?v=" + themeVersion(b)
	p.Logo = b.LogoPath()
	p.Support = b.SupportLine("")
	p.SwitchHref = c.Path() + "?lang=id"
	if locale == "id" {
		p.SwitchHref = c.Path() + "?lang=en"
	}
	return p
}

// publicLanguages are the languages of the customer pages, the first the default.
var publicLanguages = []language.Tag{language.English, language.Indonesian}

var languageMatcher = language.NewMatcher(publicLanguages)

// publicLocale is the language of a public page: the visitor's own choice (?lang=,
// then remembered), else fallback (the customer's language), else the browser's
// Accept-Language.
func (s *Server) publicLocale(c *fiber.Ctx, fallback string) string {
	if l := c.Query("lang"); l == "en" || l == "id" {
		if sess := s.session(c); sess.Values["lang"] != l {
			sess.Values["lang"] = l
			s.saveSession(c)
		}
		return l
	}
	if l, _ := s.session(c).Values["lang"].(string); l == "en" || l == "id" {
		return l
	}
	if fallback != "" {
		return fallback
	}
	tags, _, _ := language.ParseAcceptLanguage(c.Get(fiber.HeaderAcceptLanguage))
	_, i, conf := languageMatcher.Match(tags...)
	if conf == language.No || i != 1 {
		return "en"
	}
	return "id"
}

// brandedPage is a public page without a customer: branded, in the visitor's language.
func (s *Server) brandedPage(c *fiber.Ctx, titleKey string) (views.Page, string) {
	b, _ := s.db.Branding(c.UserContext())
	locale := s.publicLocale(c, "")
	return s.publicPage(c, b, views.T(locale, titleKey), locale), locale
}

func (s *Server) landingNotFound(c *fiber.Ctx) error {
	p, locale := s.brandedPage(c, "notfound_title")
	c.Status(fiber.StatusNotFound)
	return s.render(c, views.LandingNotFound(p, locale))
}

func (s *Server) landingView(c *fiber.Ctx, land *onboarding.Landing) (views.Page, views.LandingView) {
	locale := s.publicLocale(c, land.Customer.Locale)
	p := s.publicPage(c, land.Branding, views.T(locale, "landing_title"), locale)
	if land.Status == "expired" || land.Status == "revoked" {
		p.CSRF = s.csrfToken(c) // only the fresh-link form needs a session
	}
	v := views.LandingView{Locale: locale, Product: land.Branding.ProductName, Customer: land.Customer.Name,
		Status: land.Status, Token: c.Params("token"), HasEmail: land.Customer.Email != "", Support: land.Branding.SupportLine("")}
	if land.Status == "active" && land.Customer.Status == kirim.CustomerSuspended {
		v.Status = "on_hold" // staff suspended the customer: no way on to signup
	}
	if zone, err := s.ob.ZoneOf(c.UserContext(), land.Customer); err == nil {
		v.Expires = views.LongDate(locale, land.Link.ExpiresAt, zone)
	}
	if key, ok := landingTitles[v.Status]; ok { // the title says what the page says
		p.Title = views.T(locale, key)
	}
	return p, v
}

// landingTitles name the landing page after the state of its link.
var landingTitles = map[string]string{"on_hold": "on_hold_title", "consumed": "connected_title", "expired": "expired_title",
	"revoked": "revoked_title"}

// landing is the page the setup email links to.
func (s *Server) landing(c *fiber.Ctx) error {
	land, err := s.ob.OpenLanding(c.UserContext(), c.Params("token"))
	if errors.Is(err, store.ErrNotFound) {
		return s.landingNotFound(c)
	}
	if err != nil {
		return err
	}
	p, v := s.landingView(c, land)
	if land.Status == "expired" || land.Status == "revoked" {
		// The same status as an unknown token: the page helps the customer, the status
		// tells an outsider nothing.
		c.Status(fiber.StatusNotFound)
	}
	if msg, _ := s.session(c).Values["landing_notice"].(string); msg != "" {
		v.Notice, v.NoticeKind = msg, "ok"
		if kind, _ := s.session(c).Values["landing_notice_kind"].(string); kind != "" {
			v.NoticeKind = kind
		}
		delete(s.session(c).Values, "landing_notice")
		delete(s.session(c).Values, "landing_notice_kind")
		s.saveSession(c)
	}
	return s.render(c, views.LandingPage(p, v))
}

// connect records the click and sends the browser on to Kirim's setup URL. The
// session remembers the link, so that this browser, and no other, is offered the way
// back to the landing page if the signup fails.
func (s *Server) connect(c *fiber.Ctx) error {
	dep, err := s.ob.Connect(c.UserContext(), c.Params("token"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.landingNotFound(c)
	case errors.Is(err, onboarding.ErrLinkNotActive), errors.Is(err, onboarding.ErrSuspended):
		return c.Redirect("/onboard/"+c.Params("token"), fiber.StatusSeeOther)
	case err != nil:
		return err
	}
	sess := s.session(c)
	departed, _ := sess.Values["departed"].(string)
	if !slices.Contains(strings.Fields(departed), dep.LinkID) {
		ids := append(strings.Fields(departed), dep.LinkID)
		sess.Values["departed"] = strings.Join(ids[max(0, len(ids)-5):], " ")
		s.saveSession(c)
	}
	return c.Redirect(dep.URL, fiber.StatusSeeOther)
}

// departed reports whether this browser set off for Kirim with the link.
func (s *Server) departed(c *fiber.Ctx, linkID string) bool {
	departed, _ := s.session(c).Values["departed"].(string)
	return slices.Contains(strings.Fields(departed), linkID)
}

// freshLink is "send me a fresh link" on the page of an expired or revoked link.
func (s *Server) freshLink(c *fiber.Ctx) error {
	token := c.Params("token")
	cu, err := s.ob.RequestFreshLink(c.UserContext(), token)
	if errors.Is(err, store.ErrNotFound) {
		return s.landingNotFound(c)
	}
	if cu == nil {
		return err
	}
	ctx := c.UserContext()
	b, _ := s.db.Branding(ctx)
	locale := s.publicLocale(c, cu.Locale)
	support := b.SupportLine(views.T(locale, "contact_us"))
	// Where the link went (masked) and when another may be asked for, in their zone.
	next, _ := s.ob.NextFreshLinkAt(ctx, cu.ID)
	zone, _ := s.ob.ZoneOf(ctx, cu)
	when := views.Clock(locale, next, s.db.Now(), zone)
	kind, msg := "ok", views.T(locale, "fresh_sent", maskEmail(cu.Email), when)
	switch {
	case err == nil:
	case errors.Is(err, onboarding.ErrTooSoon):
		kind, msg = "info", views.T(locale, "fresh_too_soon", maskEmail(cu.Email), when)
	case errors.Is(err, onboarding.ErrNoEmail):
		kind, msg = "error", views.T(locale, "fresh_no_email", support)
	case errors.Is(err, onboarding.ErrLinkUsable), errors.Is(err, onboarding.ErrLinkUsedUp):
		kind, msg = "", ""
	default:
		s.log.Error("fresh link failed", "customer", cu.ID, "err", err)
		kind, msg = "error", views.T(locale, "help", support)
	}
	if msg != "" {
		sess := s.session(c)
		sess.Values["landing_notice"], sess.Values["landing_notice_kind"] = msg, kind
		s.saveSession(c)
	}
	return c.Redirect("/onboard/"+token, fiber.StatusSeeOther)
}

// maskEmail shows enough of an address to recognise it: b•••@example.co.id.
func maskEmail(addr string) string {
	at := strings.LastIndex(addr, "@")
	if at < 1 {
		return "•••"
	}
	first, _ := utf8.DecodeRuneInString(addr)
	return string(first) + "•••" + addr[at:]
}
