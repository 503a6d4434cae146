package web

import (
	"bytes"
	"context"
	"html"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/views"
)

// emailRenderer renders the onboarding emails with the templ views.
type emailRenderer struct{}

// EmailRenderer is what onboarding uses to render its emails.
func EmailRenderer() onboarding.Renderer { return emailRenderer{} }

func emailView(e onboarding.SetupEmail) views.EmailView {
	intro := e.Branding.IntroEN
	if e.Locale == "id" {
		intro = e.Branding.IntroID
	}
	return views.EmailView{Locale: e.Locale, Product: e.Branding.ProductName, Customer: e.Customer, Intro: intro,
		LandingURL: e.LandingURL, LogoURL: e.LogoURL, Primary: e.Branding.PrimaryColor, Support: e.SupportLine, ExpiresAt: e.ExpiresAt, Zone: e.Zone}
}

// SetupEmail renders the setup-link email: subject, HTML and plain text.
func (emailRenderer) SetupEmail(ctx context.Context, e onboarding.SetupEmail) (subject, htmlPart, text string, err error) {
	v := emailView(e)
	subject = e.Branding.SubjectEN
	if e.Locale == "id" {
		subject = e.Branding.SubjectID
	}
	if subject == "" {
		subject = views.T(e.Locale, "subject", e.Branding.ProductName)
	}
	var h, t bytes.Buffer
	if err := views.SetupEmailHTML(v).Render(ctx, &h); err != nil {
		return "", "", "", err
	}
	if err := views.SetupEmailText(v).Render(ctx, &t); err != nil {
		return "", "", "", err
	}
	// templ escapes for HTML; the text part is not HTML.
	return subject, h.String(), html.UnescapeString(t.String()), nil
}

// ReminderEmail renders a follow-up reminder: subject, HTML and plain text.
func (emailRenderer) ReminderEmail(ctx context.Context, e onboarding.ReminderEmail) (subject, htmlPart, text string, err error) {
	v := emailView(e.SetupEmail)
	v.Reminder = e.Kind
	var h, t bytes.Buffer
	if err := views.ReminderEmailHTML(v).Render(ctx, &h); err != nil {
		return "", "", "", err
	}
	if err := views.ReminderEmailText(v).Render(ctx, &t); err != nil {
		return "", "", "", err
	}
	return v.ReminderSubject(), h.String(), html.UnescapeString(t.String()), nil
}

// StaffMessage renders an alert or digest for staff: HTML and plain text.
func (emailRenderer) StaffMessage(ctx context.Context, m onboarding.StaffMessage) (htmlPart, text string, err error) {
	v := views.StaffEmailView{Product: m.Product, Lead: m.Lead, Link: m.Link, LinkLabel: m.LinkLabel, Footer: m.Footer}
	for _, r := range m.Rows {
		v.Rows = append(v.Rows, views.StaffEmailRow{Customer: r.Customer, What: r.What, URL: r.URL, Since: r.Since})
	}
	var h, t bytes.Buffer
	if err := views.StaffEmailHTML(v).Render(ctx, &h); err != nil {
		return "", "", err
	}
	if err := views.StaffEmailText(v).Render(ctx, &t); err != nil {
		return "", "", err
	}
	return h.String(), html.UnescapeString(t.String()), nil
}
