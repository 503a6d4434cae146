package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

func themeVersion(b store.Branding) string {
	sum := sha256.Sum256([]byte(b.PrimaryColor + b.AccentColor))
	return hex.EncodeToString(sum[:6])
}

// theme is the brand stylesheet: the colours as CSS variables. A stylesheet rather than
// inline styles keeps the Content-Security-Policy strict.
func (s *Server) theme(c *fiber.Ctx) error {
	b, err := s.db.Branding(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	if c.Query("v") == themeVersion(b) {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	// The colours were validated as #RRGGBB when saved.
	return c.SendString(":root{--brand:" + b.PrimaryColor + ";--accent:" + b.AccentColor + ";}\n")
}

// logo serves the uploaded logo. An SVG gets a CSP that forbids any script, should
// someone open it directly rather than through an <img>.
func (s *Server) logo(c *fiber.Ctx) error {
	name := store.AssetLogo
	if c.Path() == "/brand/email-logo" {
		name = store.AssetEmailLogo
	}
	a, err := s.db.Logo(c.UserContext(), name)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	if c.Query("v") != "" && c.Query("v") == a.SHA256[:12] {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	return c.Send(a.Data)
}

func brandingForm(b store.Branding) views.BrandingForm {
	f := views.BrandingForm{ProductName: b.ProductName, PrimaryColor: b.PrimaryColor, AccentColor: b.AccentColor,
		SupportEmail: b.SupportEmail, SupportURL: b.SupportURL, SenderName: b.SenderName, SenderAddress: b.SenderAddress,
		SubjectEN: b.SubjectEN, SubjectID: b.SubjectID, IntroEN: b.IntroEN, IntroID: b.IntroID,
		DefaultLinkHours: b.DefaultLinkHours, ContinueURL: b.ContinueURL, LinkHours: linkHours,
		Version: themeVersion(b) + b.LogoSHA + strconv.FormatInt(time.Now().UnixNano(), 36)}
	f.LogoURL, f.EmailLogoURL = b.LogoPath(), b.EmailLogoPath()
	return f
}

func (s *Server) brandingPage(c *fiber.Ctx) error {
	b, err := s.db.Branding(c.UserContext())
	if err != nil {
		return err
	}
	f := brandingForm(b)
	f.Webhook = "Not registered."
	if w, err := s.db.Webhook(c.UserContext()); err == nil {
		if cur := w.Current(); cur != nil {
			f.Webhook = "Registered: subscription " + cur.ID + " delivering to " + cur.URL + "."
		}
		for _, old := range w.Replaced() {
			note := "Replaced subscription " + old.ID + " (" + old.URL + "): deleting it in Kirim."
			if old.DeleteError != "" {
				note = "Replaced subscription " + old.ID + " (" + old.URL + ") is still kept: " + old.DeleteError
			}
			f.WebhookNotes = append(f.WebhookNotes, note)
		}
	}
	return s.render(c, views.BrandingPage(s.adminPage(c, "Branding"), f))
}

func (s *Server) saveBranding(c *fiber.Ctx) error {
	hours, _ := strconv.Atoi(c.FormValue("default_link_hours"))
	b := store.Branding{ProductName: c.FormValue("product_name"), PrimaryColor: c.FormValue("primary_color"),
		AccentColor: c.FormValue("accent_color"), SupportEmail: c.FormValue("support_email"), SupportURL: c.FormValue("support_url"),
		SenderName: c.FormValue("sender_name"), SenderAddress: c.FormValue("sender_address"), SubjectEN: c.FormValue("subject_en"),
		SubjectID: c.FormValue("subject_id"), IntroEN: c.FormValue("intro_en"), IntroID: c.FormValue("intro_id"),
		DefaultLinkHours: hours, ContinueURL: c.FormValue("continue_url")}
	err := s.ob.SaveBranding(c.UserContext(), b, actor(c))
	var inv *onboarding.InvalidError
	if errors.As(err, &inv) {
		f := brandingForm(b)
		f.Errors = inv.Fields
		return s.render(c, views.BrandingPage(s.invalidFormPage(c, "Branding"), f))
	}
	if err != nil {
		return err
	}
	s.flash(c, "ok", "Branding saved.")
	return redirect(c, "/admin/settings/branding")
}

func (s *Server) uploadLogo(c *fiber.Ctx) error {
	name, what := store.AssetLogo, "Logo"
	if strings.HasSuffix(c.Path(), "/email-logo") {
		name, what = store.AssetEmailLogo, "Email logo"
	}
	var data []byte
	if fh, err := c.FormFile("logo"); err == nil {
		if fh.Size > onboarding.MaxLogoBytes {
			data = make([]byte, onboarding.MaxLogoBytes+1) // refused below with a clear message
		} else {
			f, err := fh.Open()
			if err != nil {
				return err
			}
			data, err = io.ReadAll(io.LimitReader(f, onboarding.MaxLogoBytes+1))
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	err := s.ob.SaveLogo(c.UserContext(), name, data, actor(c))
	var inv *onboarding.InvalidError
	if errors.As(err, &inv) {
		s.flash(c, "error", what+" not saved: "+inv.Fields["logo"])
		return redirect(c, "/admin/settings/branding")
	}
	if err != nil {
		return err
	}
	s.flash(c, "ok", what+" uploaded.")
	return redirect(c, "/admin/settings/branding")
}

// sampleEmail is the preview's made-up customer.
func (s *Server) sampleEmail(b store.Branding) onboarding.SetupEmail {
	return onboarding.SetupEmail{Locale: "en", Customer: "Toko Contoh", LandingURL: s.cfg.PublicURL + "/onboard/preview",
		ExpiresAt: time.Now().Add(time.Duration(b.DefaultLinkHours) * time.Hour), Branding: b, LogoURL: s.ob.LogoURL(b), SupportLine: b.SupportLine("")}
}

// emailCSP lets an email's inline styles render, in a frame of the portal only, and
// nothing else run.
const emailCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'; sandbox"

func (s *Server) previewEmail(c *fiber.Ctx) error {
	b, err := s.db.Branding(c.UserContext())
	if err != nil {
		return err
	}
	e := s.sampleEmail(b)
	if c.Query("locale") == "id" {
		e.Locale = "id"
	}
	_, html, _, err := EmailRenderer().SetupEmail(c.UserContext(), e)
	if err != nil {
		return err
	}
	framable(c, emailCSP)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(html)
}

func (s *Server) previewLanding(c *fiber.Ctx) error {
	b, err := s.db.Branding(c.UserContext())
	if err != nil {
		return err
	}
	framable(c, "")
	p := s.publicPage(c, b, views.T("en", "landing_title"), "en")
	return s.render(c, views.LandingPage(p, views.LandingView{Locale: "en", Product: b.ProductName, Customer: "Toko Contoh",
		Status: "active", Token: "preview", Support: b.SupportEmail}))
}

// framable lets a page show inside the portal's own admin pages (previews).
func framable(c *fiber.Ctx, csp string) {
	if csp == "" {
		csp = strings.Replace(string(c.Response().Header.Peek("Content-Security-Policy")), "frame-ancestors 'none'", "frame-ancestors 'self'", 1)
	}
	c.Set("Content-Security-Policy", csp)
	c.Set("X-Frame-Options", "SAMEORIGIN")
}
