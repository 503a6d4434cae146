package web

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// checklist is the dashboard's first-run checklist: what a platform sets up before its
// first customer, each with its status. Done is true when every step is.
func (s *Server) checklist(ctx context.Context, admin bool) (items []views.ChecklistItem, done bool, err error) {
	b, err := s.db.Branding(ctx)
	if err != nil {
		return nil, false, err
	}
	def := store.DefaultBranding()
	var missing []string
	for what, ok := range map[string]bool{"your product name": b.ProductName != def.ProductName, "a logo": b.LogoSHA != "",
		"your colours": b.PrimaryColor != def.PrimaryColor} {
		if !ok {
			missing = append(missing, what)
		}
	}
	brand := views.ChecklistItem{Label: "Branding: name, logo and colours", Done: len(missing) == 0, Status: "Done"}
	if !brand.Done {
		brand.Status = "Missing " + joinSorted(missing) + "."
	}
	contact := views.ChecklistItem{Label: "Sender and support contact", Done: (b.SenderName != "" || b.SenderAddress != "") && b.SupportLine("") != "",
		Status: "Emails come from " + views.OrDash(b.SenderName) + ", customers reach " + views.OrDash(b.SupportLine("")) + "."}
	if !contact.Done {
		contact.Status = "Set who emails come from and how customers reach your support."
	}
	if admin {
		brand.Href, contact.Href = "/admin/settings/branding", "/admin/settings/branding"
	}

	smtp := views.ChecklistItem{Label: "A test email through your email server", Post: "/admin/setup/test-email", ActionLabel: "Send me a test email"}
	switch e, err := s.db.LatestEmailOfKind(ctx, "test"); {
	case s.ob.DevOutbox():
		smtp.Status, smtp.Post = "No email server is configured: set SMTP_URL and restart the portal.", ""
	case errors.Is(err, store.ErrNotFound):
		smtp.Status = "Not tried yet."
	case err != nil:
		return nil, false, err
	case e.Status == store.EmailSent:
		smtp.Done, smtp.Status = true, "Your email server took the test email to "+e.To+" on "+views.ZoneTime(*e.SentAt, time.UTC)+"."
	case e.Status == store.EmailFailed:
		smtp.Status = "The test email failed: " + e.LastError
	default:
		smtp.Status, smtp.Post = "Sending the test email to "+e.To+"… reload in a moment.", ""
	}

	kc := views.ChecklistItem{Label: "Kirim API key", Post: "/admin/setup/kirim-check", ActionLabel: "Check the key"}
	check, err := s.db.LastKirimCheck(ctx)
	switch {
	case err != nil:
		return nil, false, err
	case s.cfg.Sandbox != nil:
		kc.Status = "The portal runs against its built-in sandbox: set KIRIM_API_KEY to onboard real customers."
		kc.Post = ""
	case check.At.IsZero():
		kc.Status = "Not checked yet."
	case check.Error != "":
		kc.Status = "Kirim refused the key: " + check.Error
	default:
		kc.Done, kc.Status = true, "The key belongs to "+check.Organization+" (checked "+views.ZoneTime(check.At, time.UTC)+")."
	}
	items = []views.ChecklistItem{brand, contact, smtp, kc}
	done = true
	for _, it := range items {
		done = done && it.Done
	}
	return items, done, nil
}

func joinSorted(list []string) string {
	slices.Sort(list)
	return strings.Join(list, ", ")
}

// testEmail sends the signed-in staff member a test email through the email server.
func (s *Server) testEmail(c *fiber.Ctx) error {
	u := staffOf(c)
	if err := s.ob.SendTestEmail(c.UserContext(), u.Email); err != nil {
		msg := problemOf(err)
		if msg == "" {
			return err
		}
		s.flash(c, "warn", msg)
		return redirect(c, "/admin/")
	}
	s.flash(c, "ok", "Test email on its way to "+u.Email+". The checklist shows whether your email server took it.")
	return redirect(c, "/admin/")
}

// kirimCheck asks Kirim whom the API key belongs to.
func (s *Server) kirimCheck(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 20*time.Second)
	defer cancel()
	check, err := s.ob.CheckKirim(ctx)
	switch {
	case err != nil:
		return err
	case check.Error != "":
		s.flash(c, "error", "Kirim refused the key: "+check.Error)
	default:
		s.flash(c, "ok", "The Kirim key works: it belongs to "+check.Organization+".")
	}
	return redirect(c, "/admin/")
}
