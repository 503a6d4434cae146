package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// staffLink reads the one-time link of the newest email to an address.
func (h *harness) staffLink(t *testing.T, to, kind string, n int) string {
	t.Helper()
	for _, m := range h.mp.WaitFor(n, 10*time.Second) {
		msg := h.mp.Message(m.ID)
		if msg.To[0].Address == to {
			if l := regexp.MustCompile(regexp.QuoteMeta(h.URL) + `/` + kind + `/[A-Za-z0-9_-]+`).FindString(msg.Text); l != "" {
				return strings.TrimPrefix(l, h.URL)
			}
		}
	}
	t.Fatalf("no %s link emailed to %s", kind, to)
	return ""
}

// TestTeamOfStaff: an admin invites an operator by email, who joins with a password of
// their own; operators cannot open branding, webhooks, API tokens or staff; roles
// change, accounts are disabled (and signed out) and passwords reset by email, the
// portal keeps one active admin, and every change is on the audit list.
func TestTeamOfStaff(t *testing.T) {
	h := newHarness(t, withMailpit)
	admin := h.signedIn()
	admin.get("/admin/settings/team")
	if resp, body := admin.post("/admin/settings/team/invite", url.Values{"email": {"not-an-address"}, "role": {"operator"}}); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "Enter an email address like you@example.com.") {
		t.Fatalf("a bad invitation: %d", resp.StatusCode)
	}
	admin.post("/admin/settings/team/invite", url.Values{"email": {"op@team.test"}, "role": {"operator"}})
	invite := h.staffLink(t, "op@team.test", "invite", 1)

	// The operator joins, once.
	op := h.browser()
	if resp, body := op.get(invite); resp.StatusCode != 200 || !strings.Contains(body, "op@team.test") {
		t.Fatalf("the invitation page: %d", resp.StatusCode)
	}
	if resp, body := op.post(invite, url.Values{"password": {"short"}, "confirm": {"short"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "at least 12 characters") {
		t.Fatalf("a short password: %d", resp.StatusCode)
	}
	if resp, _ := op.post(invite, url.Values{"password": {"operator password 1"}, "confirm": {"operator password 1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("joining: %d", resp.StatusCode)
	}
	if resp, _ := op.get(invite); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a used invitation answers %d", resp.StatusCode)
	}
	// What an operator may and may not open.
	if resp, body := op.get("/admin/customers"); resp.StatusCode != 200 || strings.Contains(body, "/admin/settings/branding") || strings.Contains(body, `href="/admin/settings/team"`) {
		t.Fatalf("an operator's customer list: %d, or the navigation offers admin settings", resp.StatusCode)
	}
	for _, path := range []string{"/admin/settings/branding", "/admin/settings/api", "/admin/settings/webhooks", "/admin/settings/team"} {
		if resp, body := op.get(path); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Only admins can open this page.") {
			t.Errorf("an operator opens %s: %d", path, resp.StatusCode)
		}
	}
	if resp, _ := op.post("/admin/settings/branding", url.Values{"product_name": {"Hacked"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an operator changes the branding: %d", resp.StatusCode)
	}
	if resp, _ := op.get("/admin/settings/follow-up"); resp.StatusCode != 200 {
		t.Errorf("an operator cannot open the follow-up settings: %d", resp.StatusCode)
	}

	// Roles, disabling, the last admin.
	ctx := context.Background()
	opUser, _ := h.db.UserByEmail(ctx, "op@team.test")
	me, _ := h.db.UserByEmail(ctx, admin.email)
	admin.get("/admin/settings/team")
	admin.post("/admin/settings/team/"+itoa(opUser.ID)+"/disable", nil)
	if resp, _ := op.get("/admin/customers"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a disabled operator is still signed in: %d", resp.StatusCode)
	}
	op.get("/login")
	if resp, body := op.post("/login", url.Values{"email": {"op@team.test"}, "password": {"operator password 1"}}); resp.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "This account is disabled.") {
		t.Fatalf("a disabled operator signs in: %d", resp.StatusCode)
	}
	admin.get("/admin/settings/team")
	admin.post("/admin/settings/team/"+itoa(me.ID)+"/role", url.Values{"role": {"operator"}})
	if _, body := admin.get("/admin/settings/team"); !strings.Contains(body, "Nothing changed: the portal needs at least one active admin.") {
		t.Error("demoting the last active admin is not refused in words")
	}
	if u, _ := h.db.UserByID(ctx, me.ID); u.Role != "admin" {
		t.Fatal("the last active admin was demoted")
	}
	admin.post("/admin/settings/team/"+itoa(opUser.ID)+"/enable", nil)
	admin.get("/admin/settings/team")
	admin.post("/admin/settings/team/"+itoa(opUser.ID)+"/role", url.Values{"role": {"admin"}})
	if u, _ := h.db.UserByID(ctx, opUser.ID); u.Role != "admin" || u.DisabledAt != nil {
		t.Fatalf("after enable and promote: %+v", u)
	}

	// A forgotten password, by email; an unknown address gets the same answer and nothing.
	forgetful := h.browser()
	forgetful.get("/forgot")
	_, body := forgetful.post("/forgot", url.Values{"email": {"nobody@team.test"}})
	if !strings.Contains(body, "If <strong>nobody@team.test</strong> belongs to a staff account") {
		t.Fatal("the forgot page does not answer")
	}
	forgetful.get("/forgot")
	forgetful.post("/forgot", url.Values{"email": {"op@team.test"}})
	reset := h.staffLink(t, "op@team.test", "reset", 2)
	if n := len(h.mp.Messages()); n != 2 {
		t.Fatalf("%d emails: an unknown address got one too?", n)
	}
	forgetful.get(reset)
	if resp, _ := forgetful.post(reset, url.Values{"password": {"a brand new password"}, "confirm": {"a brand new password"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	fresh := h.browser()
	fresh.get("/login")
	if resp, _ := fresh.post("/login", url.Values{"email": {"op@team.test"}, "password": {"operator password 1"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old password still works: %d", resp.StatusCode)
	}

	// The one-time links never reach the log.
	for _, link := range []string{invite, reset} {
		if token := link[strings.LastIndex(link, "/")+1:]; strings.Contains(h.logs.String(), token) {
			t.Errorf("the log holds the token of %s", link[:strings.LastIndex(link, "/")])
		}
	}

	// Every change is on the audit list.
	_, body = admin.get("/admin/settings/team")
	for _, action := range []string{"invited", "joined", "disabled", "enabled again", "role changed", "was sent a password-reset link", "reset their password by email"} {
		if !strings.Contains(body, "op@team.test</strong> "+action) {
			t.Errorf("the audit list lacks %q", action)
		}
	}
	if !strings.Contains(body, admin.email+"</strong> added") {
		t.Error("the audit list lacks the admin added on the command line")
	}
}

// TestFirstRunChecklist: the dashboard lists what a new portal needs, each step with
// its status, checks the email server and the Kirim key for real, and goes away once
// every step is done.
func TestFirstRunChecklist(t *testing.T) {
	h := newHarness(t, withMailpit)
	staff := h.signedIn()
	_, body := staff.get("/admin/")
	if strings.Count(body, `<span class="badge warn">`) < 4 || !strings.Contains(body, "Set up the portal") || !strings.Contains(body, "Missing a logo, your colours, your product name.") {
		t.Fatal("a new portal's dashboard does not list the four steps to do")
	}
	// Kirim refuses the key, then accepts it.
	h.setFault(faultStatus(http.StatusUnauthorized))
	staff.post("/admin/setup/kirim-check", nil)
	if _, body = staff.get("/admin/"); !strings.Contains(body, "Kirim refused the key") {
		t.Fatal("a refused key is not shown")
	}
	h.setFault(nil)
	staff.post("/admin/setup/kirim-check", nil)
	staff.post("/admin/setup/test-email", nil)
	staff.get("/admin/settings/branding")
	staff.post("/admin/settings/branding", url.Values{"product_name": {"Toko Cloud"}, "primary_color": {"#1d4ed8"}, "accent_color": {"#F59E0B"},
		"support_email": {"help@tokocloud.test"}, "sender_name": {"Toko Cloud"}, "default_link_hours": {"168"}})
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	staff.upload("/admin/settings/branding/logo", "logo", "logo.png", png)
	if msgs := h.mp.WaitFor(1, 10*time.Second); len(msgs) != 1 || h.mp.Message(msgs[0].ID).To[0].Address != staff.email {
		t.Fatal("no test email reached the staff member")
	}
	for range 100 {
		if _, body = staff.get("/admin/"); !strings.Contains(body, "Set up the portal") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the checklist stays after every step is done:\n%s", regexp.MustCompile(`(?s)<section class="card checklist".*?</section>`).FindString(body))
}

// TestEmailLogoPreheaderAndLinks: emails carry their own logo (PNG or JPEG: an SVG is
// refused for email), an inbox preview line, a clickable support address, and the
// fallback link in the brand colour.
func TestEmailLogoPreheaderAndLinks(t *testing.T) {
	h := newHarness(t, withMailpit)
	staff := h.signedIn()
	staff.get("/admin/settings/branding")
	staff.post("/admin/settings/branding", url.Values{"product_name": {"Toko Cloud"}, "primary_color": {"#1d4ed8"}, "accent_color": {"#F59E0B"},
		"support_email": {"help@tokocloud.test"}, "default_link_hours": {"168"}})
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`)
	staff.upload("/admin/settings/branding/email-logo", "logo", "logo.svg", svg)
	if _, body := staff.get("/admin/settings/branding"); !strings.Contains(body, "Email logo not saved: Emails need a PNG or JPEG") {
		t.Fatal("an SVG email logo is not refused in words")
	}
	staff.upload("/admin/settings/branding/logo", "logo", "logo.svg", svg) // the pages may have an SVG
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	staff.upload("/admin/settings/branding/email-logo", "logo", "logo.png", png)
	b, _ := h.db.Branding(context.Background())
	if b.LogoSHA == "" || b.EmailLogoSHA == "" || b.LogoSHA == b.EmailLogoSHA {
		t.Fatalf("two logos expected: %+v", b)
	}
	if resp, body := h.browser().get(b.EmailLogoPath()); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || body != string(png) {
		t.Fatalf("the email logo: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	staff.createCustomer(url.Values{"name": {"Toko Surel"}, "email": {"surel@toko.test"}, "locale": {"id"}, "send_email": {"1"}})
	m := h.mp.Message(h.mp.WaitFor(1, 10*time.Second)[0].ID)
	for _, want := range []string{`<img src="` + h.URL + b.EmailLogoPath() + `"`,
		`mso-hide:all;">Hubungkan nomor WhatsApp Anda ke Toko Cloud, cukup sekitar lima menit. Tautan Anda berlaku sampai `,
		`<a href="mailto:help@tokocloud.test" style="color:#1D4ED8;">help@tokocloud.test</a>`, `style="color:#1D4ED8;">` + h.URL + `/onboard/`,
		"Tinggal satu langkah lagi"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("the email lacks %s", want)
		}
	}
	if strings.Contains(m.HTML, "/brand/logo?") {
		t.Error("the email uses the pages' (SVG) logo")
	}
}
