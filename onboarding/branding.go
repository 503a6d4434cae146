package onboarding

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kirim-portal/portal/store"
)

var hexColour = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

// MaxLogoBytes bounds the logo upload.
const MaxLogoBytes = 512 << 10

// Contrast returns the WCAG contrast ratio of white text on the colour (#RRGGBB).
func Contrast(hex string) float64 {
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(hex[1:3]) + 0.7152*lin(hex[3:5]) + 0.0722*lin(hex[5:7])
	return 1.05 / (l + 0.05)
}

// ValidateBranding checks the branding form; it also normalises it.
func ValidateBranding(b *store.Branding) FieldErrors {
	errs := FieldErrors{}
	trim := func(p *string) { *p = strings.TrimSpace(*p) }
	for _, p := range []*string{&b.ProductName, &b.PrimaryColor, &b.AccentColor, &b.SupportEmail, &b.SupportURL,
		&b.SenderName, &b.SenderAddress, &b.SubjectEN, &b.SubjectID, &b.IntroEN, &b.IntroID, &b.ContinueURL} {
		trim(p)
	}
	if n := utf8.RuneCountInString(b.ProductName); n == 0 || n > 80 {
		errs["product_name"] = "Enter the product name customers know (at most 80 characters)."
	}
	for field, c := range map[string]*string{"primary_color": &b.PrimaryColor, "accent_color": &b.AccentColor} {
		if !hexColour.MatchString(*c) {
			errs[field] = "Use a colour like #0B6E4F."
			continue
		}
		*c = strings.ToUpper(*c)
	}
	if errs["primary_color"] == "" {
		if r := Contrast(b.PrimaryColor); r < 4.5 {
			errs["primary_color"] = fmt.Sprintf("White text on this colour is hard to read (contrast %.1f:1, needs 4.5:1). Choose a darker colour.", r)
		}
	}
	if b.SupportEmail != "" && !ValidEmail(b.SupportEmail) {
		errs["support_email"] = "Enter an email address like help@example.com."
	}
	for field, u := range map[string]string{"support_url": b.SupportURL, "continue_url": b.ContinueURL} {
		if u != "" && !ValidRedirectURL(u) {
			errs[field] = "Use an absolute https address (http only for localhost)."
		}
	}
	if b.SenderAddress != "" && !ValidEmail(b.SenderAddress) {
		errs["sender_address"] = "Enter an email address like onboarding@example.com."
	}
	// A line break in a header value would let it add headers, and any other control
	// character (a vertical tab, a form feed) makes SMTP servers refuse every email.
	for field, v := range map[string]string{"sender_name": b.SenderName, "subject_en": b.SubjectEN, "subject_id": b.SubjectID} {
		if strings.ContainsFunc(v, unicode.IsControl) || utf8.RuneCountInString(v) > 150 {
			errs[field] = "Use one line of at most 150 characters, without control characters."
		}
	}
	for field, v := range map[string]string{"intro_en": b.IntroEN, "intro_id": b.IntroID} {
		if utf8.RuneCountInString(v) > 1000 {
			errs[field] = "Use at most 1000 characters."
		}
	}
	if b.DefaultLinkHours < 1 || b.DefaultLinkHours > 720 {
		errs["default_link_hours"] = "Choose between 1 hour and 30 days."
	}
	return errs
}

// SaveBranding validates and stores the branding (the logo is kept as it was).
func (s *Service) SaveBranding(ctx context.Context, b store.Branding, actor string) error {
	if errs := ValidateBranding(&b); len(errs) > 0 {
		return &InvalidError{errs}
	}
	old, err := s.db.Branding(ctx)
	if err != nil {
		return err
	}
	b.LogoSHA = old.LogoSHA
	if err := s.db.SaveBranding(ctx, b); err != nil {
		return err
	}
	_, err = s.db.AddEvent(ctx, store.Event{Kind: store.EventBrandingChanged, Actor: actor})
	return err
}

// LogoType names an uploaded logo's type from its bytes: PNG, JPEG or SVG; anything else
// is refused.
func LogoType(data []byte) (string, bool) {
	switch http.DetectContentType(data) {
	case "image/png":
		return "image/png", true
	case "image/jpeg":
		return "image/jpeg", true
	}
	head := bytes.ToLower(bytes.TrimSpace(data[:min(len(data), 1024)]))
	if bytes.HasPrefix(head, []byte("<svg")) || (bytes.HasPrefix(head, []byte("<?xml")) && bytes.Contains(head, []byte("<svg"))) {
		return "image/svg+xml", true
	}
	return "", false
}

// SaveLogo validates and stores the logo.
func (s *Service) SaveLogo(ctx context.Context, name string, data []byte, actor string) error {
	if len(data) == 0 {
		return &InvalidError{FieldErrors{"logo": "Choose a file to upload."}}
	}
	if len(data) > MaxLogoBytes {
		return &InvalidError{FieldErrors{"logo": "Use a file of at most 512 KB."}}
	}
	ct, ok := LogoType(data)
	switch {
	case !ok:
		return &InvalidError{FieldErrors{"logo": "Upload a PNG, JPEG or SVG image."}}
	case name == store.AssetEmailLogo && ct == "image/svg+xml":
		// Gmail and Outlook do not show SVG images.
		return &InvalidError{FieldErrors{"logo": "Emails need a PNG or JPEG: Gmail and Outlook do not show SVG images."}}
	}
	if _, err := s.db.SaveLogo(ctx, name, ct, data); err != nil {
		return err
	}
	_, err := s.db.AddEvent(ctx, store.Event{Kind: store.EventLogoChanged, Actor: actor})
	return err
}
