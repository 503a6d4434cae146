package web

import (
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// followUpForm fills the settings form from the saved policy.
func (s *Server) followUpForm(c *fiber.Ctx, p store.FollowUpPolicy) (views.FollowUpForm, error) {
	ctx := c.UserContext()
	f := views.FollowUpForm{Enabled: p.Enabled, UnopenedAfterHours: strconv.Itoa(p.UnopenedAfterHours),
		BeforeExpiryHours: strconv.Itoa(p.BeforeExpiryHours), MaxReminders: strconv.Itoa(p.MaxReminders),
		WindowStart: strconv.Itoa(p.WindowStart), WindowEnd: strconv.Itoa(p.WindowEnd), DefaultTimeZone: p.DefaultTimeZone,
		FreshLinkOnExpiry: p.FreshLinkOnExpiry, Version: strconv.FormatInt(time.Now().UnixNano(), 36)}
	hook, from, err := s.ob.AlertWebhookOf(p)
	if err != nil {
		return f, err
	}
	if hook != "" {
		f.Webhook = from
		if u, err := url.Parse(hook); err == nil {
			f.WebhookHost = u.Host
		}
	}
	alerts, err := s.db.RecentAlerts(ctx, 20)
	if err != nil {
		return f, err
	}
	for _, a := range alerts {
		row := views.AlertRow{CustomerID: a.CustomerID, Customer: a.Customer, Kind: a.Kind, At: a.CreatedAt, Error: a.WebhookError}
		switch {
		case a.Suppressed:
			row.Delivery = "not sent (another alert within the hour)"
		case a.WebhookState == store.AlertSent:
			row.Delivery = "delivered"
		case a.WebhookState == store.AlertPending:
			row.Delivery = "trying (" + strconv.Itoa(a.WebhookTries) + " so far)"
		case a.WebhookState == store.AlertFailed:
			row.Delivery, row.Failed = "failed after "+strconv.Itoa(a.WebhookTries)+" tries", true
		default:
			row.Delivery = "no team channel"
		}
		f.Alerts = append(f.Alerts, row)
	}
	return f, nil
}

func (s *Server) followUpPage(c *fiber.Ctx) error {
	p, err := s.db.FollowUpPolicy(c.UserContext())
	if err != nil {
		return err
	}
	f, err := s.followUpForm(c, p)
	if err != nil {
		return err
	}
	return s.render(c, views.FollowUpPage(s.adminPage(c, "Follow-up"), f))
}

func (s *Server) saveFollowUp(c *fiber.Ctx) error {
	in := onboarding.FollowUpInput{Enabled: c.FormValue("enabled") == "1", UnopenedAfterHours: c.FormValue("unopened_after_hours"),
		BeforeExpiryHours: c.FormValue("before_expiry_hours"), MaxReminders: c.FormValue("max_reminders"),
		WindowStart: c.FormValue("window_start"), WindowEnd: c.FormValue("window_end"), DefaultTimeZone: c.FormValue("default_time_zone"),
		FreshLinkOnExpiry: c.FormValue("fresh_link_on_expiry") == "1", AlertWebhookURL: c.FormValue("alert_webhook_url"),
		ClearWebhook: c.FormValue("clear_webhook") == "1"}
	saved, err := s.ob.SaveFollowUpPolicy(c.UserContext(), in, actor(c))
	if errs := fieldErrors(err); errs != nil {
		cur, perr := s.db.FollowUpPolicy(c.UserContext())
		if perr != nil {
			return perr
		}
		f, ferr := s.followUpForm(c, cur)
		if ferr != nil {
			return ferr
		}
		f.Enabled, f.UnopenedAfterHours, f.BeforeExpiryHours, f.MaxReminders = in.Enabled, in.UnopenedAfterHours, in.BeforeExpiryHours, in.MaxReminders
		f.WindowStart, f.WindowEnd, f.DefaultTimeZone, f.FreshLinkOnExpiry = in.WindowStart, in.WindowEnd, in.DefaultTimeZone, in.FreshLinkOnExpiry
		f.Errors = errs
		return s.render(c, views.FollowUpPage(s.invalidFormPage(c, "Follow-up"), f))
	}
	if err != nil {
		return err
	}
	msg := "Follow-up saved."
	if !saved.Enabled {
		msg = "Follow-up saved: reminders and fresh links are off."
	}
	s.flash(c, "ok", msg)
	return redirect(c, "/admin/settings/follow-up")
}

// previewReminder renders a reminder with the branding and a made-up customer.
func (s *Server) previewReminder(c *fiber.Ctx) error {
	kind := c.Params("kind")
	if kind != onboarding.ReminderUnopened && kind != onboarding.ReminderExpiring {
		return fiber.ErrNotFound
	}
	b, err := s.db.Branding(c.UserContext())
	if err != nil {
		return err
	}
	e := s.sampleEmail(b)
	if c.Query("locale") == "id" {
		e.Locale = "id"
	}
	_, html, _, err := EmailRenderer().ReminderEmail(c.UserContext(), onboarding.ReminderEmail{SetupEmail: e, Kind: kind})
	if err != nil {
		return err
	}
	framable(c, emailCSP)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(html)
}
