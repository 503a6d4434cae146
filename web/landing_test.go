package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
)

var landingURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+/onboard/[A-Za-z0-9_-]{32}`)

func checkPublicHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	for h, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
}

// events lists the kinds on a customer's timeline, oldest first.
func (h *harness) events(customerID int64) []string {
	evs, _ := h.db.Events(context.Background(), customerID, time.Time{}, 0, 200)
	var kinds []string
	for i := len(evs) - 1; i >= 0; i-- {
		kinds = append(kinds, string(evs[i].Kind))
	}
	return kinds
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestLandingPageAndConnect(t *testing.T) {
	h := newHarness(t) // dev outbox: emails are held, not sent
	staff := h.signedIn()
	ctx := context.Background()
	page := staff.createCustomer(url.Values{"name": {"Toko Sinar"}, "email": {"owner@sinar.test"}, "locale": {"id"}, "send_email": {"1"}})
	_, body := staff.get(page)
	for _, want := range []string{`flash warn" role="status">Customer Toko Sinar created. Saved — not sent: no email server is configured.`,
		"<h2 id=\"state-title\">Not sent: no email server is configured</h2>", `<span class="badge warn">Not sent</span>`,
		`class="banner warn"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("the customer page does not say the email was not sent: no %s", want)
		}
	}
	if strings.Contains(body, "flash ok") {
		t.Fatal("a held email is shown as a success")
	}
	if c := mustCustomer(t, h); c.Stage != "link_issued" {
		t.Fatalf("stage %s after an email that went nowhere, want link_issued", c.Stage)
	}
	emails, _ := h.db.Emails(ctx, 0, 10)
	if len(emails) != 1 || emails[0].Status != store.EmailHeld || emails[0].To != "owner@sinar.test" {
		t.Fatalf("outbox %+v", emails)
	}
	e := emails[0]
	if !strings.Contains(e.Subject, "Hubungkan nomor WhatsApp") || !strings.Contains(e.Text, "Halo Toko Sinar") {
		t.Fatalf("the email is not in Bahasa Indonesia: %q", e.Subject)
	}
	link := landingURL.FindString(e.Text)
	if link == "" || !strings.Contains(e.HTML, link) {
		t.Fatal("the email does not carry the landing URL in both parts")
	}
	if _, body := staff.get("/admin/outbox"); !strings.Contains(body, "not sent") || !strings.Contains(body, e.Subject) {
		t.Fatal("the dev outbox does not list the email as not sent")
	}

	visitor := h.browser()
	path := strings.TrimPrefix(link, h.URL)
	resp, body := visitor.get(path)
	if resp.StatusCode != 200 || !strings.Contains(body, "Selamat datang, Toko Sinar") || !strings.Contains(body, "Kirim Portal") ||
		!strings.Contains(body, "hapus akun") {
		t.Fatalf("landing %d: %s", resp.StatusCode, body)
	}
	checkPublicHeaders(t, resp)
	visitor.get(path) // a reload is not a second visit
	resp, _ = visitor.get(path + "/connect")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/onboard/csl_") {
		t.Fatalf("connect: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cu, _ := h.db.CustomerByKirimID(ctx, mustCustomer(t, h).KirimID)
	kinds := h.events(cu.ID)
	want := []string{"customer.created", "link.issued", "email.queued", "landing.opened", "landing.clicked"}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Fatalf("timeline %v, want %v", kinds, want)
	}
	if cu.Stage != onboarding.StageStarted {
		t.Fatalf("stage %s", cu.Stage)
	}

	t.Run("send again from the customer page, with a fresh link", func(t *testing.T) {
		customerPage := "/admin/customers/" + itoa(cu.ID)
		staff.get(customerPage)
		if resp, _ := staff.post(customerPage+"/email", url.Values{"fresh": {"1"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("send: %d", resp.StatusCode)
		}
		emails, _ := h.db.Emails(ctx, cu.ID, 10)
		links, _ := h.db.SetupLinks(ctx, cu.ID)
		if len(emails) != 2 || len(links) != 2 || landingURL.FindString(emails[0].Text) == link {
			t.Fatalf("%d emails, %d links; the new email must carry the new link", len(emails), len(links))
		}
		staff.post(customerPage+"/email", nil) // without "fresh": the active link again
		emails, _ = h.db.Emails(ctx, cu.ID, 10)
		links, _ = h.db.SetupLinks(ctx, cu.ID)
		if len(emails) != 3 || len(links) != 2 || landingURL.FindString(emails[0].Text) != landingURL.FindString(emails[1].Text) {
			t.Fatal("sending without a fresh link did not reuse the active one")
		}
	})

	t.Run("unknown token", func(t *testing.T) {
		resp, body := visitor.get("/onboard/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		if resp.StatusCode != 404 || !strings.Contains(body, "Link not found") {
			t.Fatalf("%d", resp.StatusCode)
		}
		checkPublicHeaders(t, resp)
	})
	t.Run("consumed link says already connected", func(t *testing.T) {
		setup := resp.Header.Get("Location")
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		r, err := noFollow.Get(strings.Replace(setup, h.URL+"/sandbox", h.kirim.URL, 1) + "?outcome=success")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		h.advance(31 * time.Second) // the page asks Kirim at most every 30 s
		_, body := visitor.get(path)
		if !strings.Contains(body, "Sudah terhubung") {
			t.Fatalf("after signup the landing page says: %s", body)
		}
		if resp, _ := visitor.get(path + "/connect"); resp.Header.Get("Location") != path {
			t.Fatal("a used link still sends the customer to Kirim")
		}
	})
}

func mustCustomer(t *testing.T, h *harness) *store.Customer {
	t.Helper()
	page, err := h.db.Customers(context.Background(), store.CustomerFilter{})
	if err != nil || len(page.Customers) == 0 {
		t.Fatal("no customer")
	}
	return page.Customers[0]
}

// TestExpiredLinkFreshLink: Mailpit is the SMTP server. The first email arrives; a week
// later the link has expired, the landing page offers a fresh one, and a new email
// arrives, once.
func TestExpiredLinkFreshLink(t *testing.T) {
	h := newHarness(t, withMailpit)
	staff := h.signedIn()
	page := staff.createCustomer(url.Values{"name": {"Kopi Pagi"}, "email": {"owner@kopi.test"}, "send_email": {"1"}})
	msgs := h.mp.WaitFor(1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d emails", len(msgs))
	}
	first := h.mp.Message(msgs[0].ID)
	link := landingURL.FindString(first.Text)
	if link == "" || !strings.Contains(first.HTML, link) || first.To[0].Address != "owner@kopi.test" {
		t.Fatalf("first email: %+v", first)
	}
	h.advance(8 * 24 * time.Hour)
	visitor := h.browser()
	path := strings.TrimPrefix(link, h.URL)
	resp, body := visitor.get(path)
	if resp.StatusCode != 404 || !strings.Contains(body, "This link has expired") || !strings.Contains(body, "Send me a fresh link") {
		t.Fatalf("expired landing %d: %s", resp.StatusCode, body)
	}
	resp, _ = visitor.post(path+"/fresh", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("fresh: %d", resp.StatusCode)
	}
	_, body = visitor.get(path)
	if !regexp.MustCompile(`flash ok" role="status">Check your inbox — we sent a fresh link to o•••@kopi.test\..*You can ask for another after \d\d:\d\d UTC\.`).MatchString(body) ||
		strings.Contains(body, "Send me a fresh link") {
		t.Fatal("no confirmation on the page with the masked address and when to ask again")
	}
	msgs = h.mp.WaitFor(2, 10*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("%d emails after the fresh-link request", len(msgs))
	}
	second := landingURL.FindString(h.mp.Message(msgs[0].ID).Text)
	if second == "" || second == link {
		t.Fatalf("the second email carries %q", second)
	}
	if resp, body := visitor.get(strings.TrimPrefix(second, h.URL)); resp.StatusCode != 200 || !strings.Contains(body, "Connect WhatsApp") {
		t.Fatalf("the fresh link's page: %d", resp.StatusCode)
	}
	// Asking again at once is refused, and sends nothing.
	visitor.post(path+"/fresh", nil)
	_, body = visitor.get(path)
	if !strings.Contains(body, `flash info" role="status">We already sent a fresh link to o•••@kopi.test.`) {
		t.Fatal("a second request is not told, as information, that the link was sent")
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(h.mp.Messages()); n != 2 {
		t.Fatalf("%d emails, want 2", n)
	}
	kinds := h.events(mustCustomer(t, h).ID)
	for _, k := range []string{"email.sent", "link.fresh_requested", "landing.opened"} {
		if !contains(kinds, k) {
			t.Errorf("timeline lacks %s: %v", k, kinds)
		}
	}
	_, body = staff.get(page)
	if strings.Count(body, "badge ok\">sent") < 2 {
		t.Fatal("the customer page does not list both emails as sent")
	}
}

func TestBrandingSettings(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	staff.get("/admin/settings/branding")
	good := url.Values{"product_name": {"Toko Cloud"}, "primary_color": {"#1d4ed8"}, "accent_color": {"#F59E0B"},
		"support_email": {"help@tokocloud.test"}, "default_link_hours": {"72"}, "continue_url": {"https://app.tokocloud.test/home"}}
	bad := url.Values{}
	for k, v := range good {
		bad[k] = v
	}
	bad.Set("primary_color", "#FFEE88")
	bad.Set("support_email", "nope")
	bad.Set("continue_url", "javascript:alert(1)")
	bad.Set("subject_en", "Hi\r\nBcc: x@evil.test")
	resp, body := staff.post("/admin/settings/branding", bad)
	if resp.StatusCode != 422 || !strings.Contains(body, "hard to read") || !strings.Contains(body, "help@example.com") ||
		!strings.Contains(body, "absolute https") || !strings.Contains(body, "one line") {
		t.Fatalf("bad branding: %d", resp.StatusCode)
	}
	if b, _ := h.db.Branding(context.Background()); b.ProductName != "Kirim Portal" {
		t.Fatal("refused branding was saved")
	}
	if resp, _ := staff.post("/admin/settings/branding", good); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("good branding: %d", resp.StatusCode)
	}
	b, _ := h.db.Branding(context.Background())
	if b.ProductName != "Toko Cloud" || b.PrimaryColor != "#1D4ED8" || b.DefaultLinkHours != 72 {
		t.Fatalf("saved %+v", b)
	}
	_, css := staff.get("/brand/theme.css?v=" + themeVersion(b))
	if !strings.Contains(css, "--brand:#1D4ED8") {
		t.Fatalf("theme: %s", css)
	}
	t.Run("previews", func(t *testing.T) {
		resp, body := staff.get("/admin/settings/branding/preview/email")
		if resp.StatusCode != 200 || !strings.Contains(body, "Toko Cloud") || !strings.Contains(body, "#1D4ED8") ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("email preview %d", resp.StatusCode)
		}
		resp, body = staff.get("/admin/settings/branding/preview/landing")
		if resp.StatusCode != 200 || !strings.Contains(body, "Toko Cloud") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'self'") {
			t.Fatalf("landing preview %d", resp.StatusCode)
		}
	})
	t.Run("logo", func(t *testing.T) {
		png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
		for _, tc := range []struct {
			name string
			data []byte
			ok   bool
		}{
			{"png", png, true},
			{"text", []byte("hello, I am not an image"), false},
			{"huge", append(png, make([]byte, onboarding.MaxLogoBytes)...), false},
			{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), true}, // last: checked below
		} {
			name := tc.name
			t.Run(name, func(t *testing.T) {
				before, _ := h.db.Branding(context.Background())
				resp, _ := staff.upload("/admin/settings/branding/logo", "logo", name, tc.data)
				if resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("upload: %d", resp.StatusCode)
				}
				after, _ := h.db.Branding(context.Background())
				if changed := after.LogoSHA != before.LogoSHA; changed != tc.ok {
					t.Fatalf("logo changed: %v, want %v", changed, tc.ok)
				}
			})
		}
		resp, _ := staff.get("/brand/logo")
		if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("svg served as %q with CSP %q", ct, resp.Header.Get("Content-Security-Policy"))
		}
	})
}

// TestEmailFailureShownAndResent: an SMTP refusal shows on the customer page with its
// reason, and "Resend" delivers the same message once the server accepts it.
func TestEmailFailureShownAndResent(t *testing.T) {
	h := newHarness(t, withMailpit)
	staff := h.signedIn()
	h.mp.Chaos(550)
	page := staff.createCustomer(url.Values{"name": {"Bounce Store"}, "email": {"owner@bounce.test"}, "send_email": {"1"}})
	var e *store.Email
	for range 100 {
		emails, _ := h.db.Emails(context.Background(), 0, 1)
		if len(emails) == 1 && emails[0].Status == store.EmailFailed {
			e = emails[0]
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if e == nil {
		t.Fatal("the refused email was not marked failed")
	}
	_, body := staff.get(page)
	if !strings.Contains(body, "badge danger\">failed") || !strings.Contains(body, "550") {
		t.Fatal("the customer page does not show the failure and its reason")
	}
	if !contains(h.events(mustCustomer(t, h).ID), "email.failed") {
		t.Fatal("no email.failed event")
	}
	h.mp.Chaos(0)
	resp, _ := staff.post("/admin/outbox/"+itoa(e.ID)+"/resend", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resend: %d", resp.StatusCode)
	}
	msgs := h.mp.WaitFor(1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d messages after resend", len(msgs))
	}
	// A fresh email (its own Message-ID) with the link that still works.
	resent := h.mp.Message(msgs[0].ID)
	if got := "<" + resent.MessageID + ">"; got == e.MessageID {
		t.Fatalf("resent with the failed email's Message-ID %s", got)
	}
	if link := landingURL.FindString(e.Text); link == "" || !strings.Contains(resent.Text, link) {
		t.Fatal("the resent email does not carry the current link")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
