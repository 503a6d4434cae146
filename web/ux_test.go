package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
)

// stateHead is the customer page's header: its title and its primary action.
func stateHead(t *testing.T, body string) (title, action string) {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section class="state-head[^"]*".*?<h2 id="state-title">(.*?)</h2>.*?</div>(.*?)</section>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the customer page has no state header")
	}
	a := regexp.MustCompile(`<(?:button|a) class="btn"[^>]*>([^<]+)<`).FindStringSubmatch(m[2])
	if a == nil {
		return m[1], ""
	}
	return m[1], a[1]
}

// TestCustomerPageLeadsWithItsState: the header says where the customer is and offers
// one next action, through every state a customer passes.
func TestCustomerPageLeadsWithItsState(t *testing.T) {
	h := newHarness(t, withMailpit)
	staff := h.signedIn()
	ctx := context.Background()

	// The new-customer form: two fields and one primary button; the rest under Advanced.
	_, form := staff.get("/admin/customers/new")
	for _, want := range []string{`<button class="btn" type="submit" name="send_email" value="1">Create and send setup link</button>`,
		`<button class="btn secondary" type="submit" name="send_email" value="0">Create without sending</button>`,
		`<details class="advanced">`, `<label for="f-email">Email</label>`} {
		if !strings.Contains(form, want) {
			t.Fatalf("the new-customer form lacks %s", want)
		}
	}
	if strings.Index(form, `name="team_id"`) < strings.Index(form, "<summary>Advanced") {
		t.Fatal("the team id is not under Advanced")
	}
	// Sending needs an email address: a clear message, and nothing made.
	_, page := staff.get("/admin/customers/new")
	intent := regexp.MustCompile(`name="intent" value="([^"]+)"`).FindStringSubmatch(page)[1]
	resp, body := staff.post("/admin/customers", url.Values{"name": {"Tanpa Surel"}, "send_email": {"1"}, "intent": {intent}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Enter an email address to send the setup link to.") {
		t.Fatalf("send without email: %d", resp.StatusCode)
	}
	if n, _ := h.db.CountCustomers(ctx); n.All != 0 {
		t.Fatalf("%d customers made by a refused form", n.All)
	}

	// Created without sending: the one action is sending.
	quiet := staff.createCustomer(url.Values{"name": {"Toko Diam"}, "email": {"diam@toko.test"}, "send_email": {"0"}})
	_, body = staff.get(quiet)
	if title, action := stateHead(t, body); title != "No setup link sent yet" || action != "Send setup link" {
		t.Fatalf("created, not sent: %q [%s]", title, action)
	}

	// Created and sent: waiting, with the expiry in the customer's zone, and Resend.
	page = staff.createCustomer(url.Values{"name": {"Toko Tunggu"}, "email": {"tunggu@toko.test"}, "locale": {"id"}, "send_email": {"1"}})
	_, body = staff.get(page)
	if !strings.Contains(body, `flash ok" role="status">Customer Toko Tunggu created. Setup link email on its way to tunggu@toko.test.`) {
		t.Fatal("no flash saying the email is on its way")
	}
	title, action := stateHead(t, body)
	if title != "Waiting for the customer" || action != "Resend link" {
		t.Fatalf("sent: %q [%s]", title, action)
	}
	if !regexp.MustCompile(`The link works until \w{3} \d{1,2} \w{3}, \d\d:\d\d WIB \(in 7 days\)`).MatchString(body) {
		t.Fatal("the expiry is not in the customer's zone (WIB) or not rounded to 7 days")
	}
	for _, jargon := range []string{"Kirim id", "phone_number_id", "csl_", "last4", "Redirects…", "Reconcile now"} {
		main := body[:strings.Index(body, `<details class="card developer">`)]
		if strings.Contains(main, jargon) {
			t.Errorf("the main view shows %q", jargon)
		}
	}
	if dev := body[strings.Index(body, `<details class="card developer">`):]; !strings.Contains(dev, "cus_") || !strings.Contains(dev, "csl_") {
		t.Error("Developer details do not hold the ids")
	}
	if !strings.Contains(body, `<a href="/admin/customers" aria-current="page">`) {
		t.Error("the navigation does not mark Customers as current")
	}

	// Resend: a new email (its own Message-ID) with the same, current link.
	mp := h.mp.WaitFor(1, 10*time.Second)
	staff.post(page+"/email", nil)
	msgs := h.mp.WaitFor(2, 10*time.Second)
	if len(mp) != 1 || len(msgs) != 2 {
		t.Fatalf("%d then %d emails", len(mp), len(msgs))
	}
	first, second := h.mp.Message(msgs[1].ID), h.mp.Message(msgs[0].ID)
	if first.MessageID == second.MessageID || landingURL.FindString(first.Text) != landingURL.FindString(second.Text) {
		t.Fatal("resend did not send a new email with the current link")
	}

	// Revoke: the stage leaves "link sent", and the one action is a fresh link.
	c := h.customerAt(t, page)
	links, _ := h.db.SetupLinks(ctx, c.ID)
	if !strings.Contains(body, `<dialog id="revoke-`+itoa(links[0].ID)+`"`) || !strings.Contains(body, "can ask for a fresh link") {
		t.Fatal("revoking is not confirmed in a dialog that says what happens")
	}
	staff.post(page+"/links/"+itoa(links[0].ID)+"/revoke", nil)
	if c = h.customerAt(t, page); c.Stage != "created" {
		t.Fatalf("stage %s after revoking the only link", c.Stage)
	}
	_, body = staff.get(page)
	if title, action := stateHead(t, body); title != "Link revoked" || action != "Send a fresh link" {
		t.Fatalf("revoked: %q [%s]", title, action)
	}
	// Resending the revoked link's email makes a new link rather than sending a dead one.
	emails, _ := h.db.Emails(ctx, c.ID, 10)
	resp, _ = staff.post("/admin/outbox/"+itoa(emails[0].ID)+"/resend", nil)
	_, body = staff.get(resp.Header.Get("Location"))
	if !strings.Contains(body, "The link no longer worked, so a new link was made.") {
		t.Fatal("resending a dead link's email does not say a new link was made")
	}
	if title, _ := stateHead(t, body); title != "Waiting for the customer" {
		t.Fatalf("after resend: %q", title)
	}

	// Suspended: explained and confirmed; the customer cannot go on to signup.
	if !strings.Contains(body, `<dialog id="suspend"`) || !strings.Contains(body, "cannot connect a number") {
		t.Fatal("suspending is not explained and confirmed")
	}
	staff.post(page+"/suspend", nil)
	_, body = staff.get(page)
	if title, action := stateHead(t, body); title != "Suspended" || action != "Lift suspension" {
		t.Fatalf("suspended: %q [%s]", title, action)
	}
	token := strings.TrimPrefix(landingURL.FindString(h.mp.Message(h.mp.WaitFor(3, 10*time.Second)[0].ID).Text), h.URL)
	visitor := h.browser()
	if _, land := visitor.get(token); !strings.Contains(land, "Penyiapan Anda sedang ditunda") || strings.Contains(land, "/connect") {
		t.Fatal("a suspended customer's landing page still offers to connect")
	}
	if resp, _ := visitor.get(token + "/connect"); resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), "sandbox") {
		t.Fatalf("connect while suspended: %d to %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if contains(h.events(c.ID), string(store.EventLandingClicked)) {
		t.Fatal("a suspended customer's click was recorded as a departure to signup")
	}

	// Without JavaScript, the confirm link renders its dialog open.
	staff.post(page+"/unsuspend", nil)
	if _, body = staff.get(page + "?confirm=archive"); !strings.Contains(body, `<dialog id="archive" class="confirm-dialog" aria-labelledby="archive-title" open>`) {
		t.Fatal("?confirm=archive does not open the archive dialog")
	}
}

// TestNoFalseSuccessWithoutSMTP: without an email server every admin page says so, a
// send is a warning, and the customer does not move to "link sent".
func TestNoFalseSuccessWithoutSMTP(t *testing.T) {
	h := newHarness(t) // dev outbox
	staff := h.signedIn()
	page := staff.createCustomer(url.Values{"name": {"Toko Sepi"}, "email": {"sepi@toko.test"}, "send_email": {"1"}})
	for _, path := range []string{"/admin/", "/admin/customers", page, "/admin/settings/branding"} {
		if _, body := staff.get(path); !strings.Contains(body, "Emails are not being sent:</strong> no email server is configured") {
			t.Errorf("%s has no banner saying emails are not sent", path)
		}
	}
	staff.post(page+"/email", nil)
	_, body := staff.get(page)
	if !strings.Contains(body, `flash warn" role="status">Saved — not sent: no email server is configured.`) || strings.Contains(body, "flash ok") {
		t.Fatal("a send without an email server is not a warning")
	}
	if c := h.customerAt(t, page); c.Stage != "link_issued" {
		t.Fatalf("stage %s", c.Stage)
	}
}

// funnelCount reads a step's count from the dashboard's funnel.
func funnelCount(t *testing.T, body, step string) string {
	t.Helper()
	m := regexp.MustCompile(`>` + step + `</a>\s*<span class="hbar-track"[^>]*><span[^>]*></span></span>\s*<strong>(\d+)</strong>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s step in the funnel", step)
	}
	return m[1]
}

// TestDashboardRangeAndCohorts: the funnel counts the customers created in the range
// chosen, a range that cannot be read says why, and New customer is on the page.
func TestDashboardRangeAndCohorts(t *testing.T) {
	h := newHarness(t, withMailpit)
	staff := h.signedIn()
	staff.createCustomer(url.Values{"name": {"Toko Satu"}, "email": {"satu@toko.test"}, "send_email": {"1"}})
	staff.createCustomer(url.Values{"name": {"Toko Dua"}, "send_email": {"0"}})
	h.mp.WaitFor(1, 10*time.Second)
	for range 100 { // the email's "sent" event follows the SMTP answer
		if contains(h.events(h.customerAt(t, "/admin/customers/1").ID), "email.sent") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, body := staff.get("/admin/")
	if funnelCount(t, body, "Created") != "2" || funnelCount(t, body, "Emailed") != "1" || funnelCount(t, body, "Connected") != "0" {
		t.Fatal("the last 30 days do not count today's customers")
	}
	if !strings.Contains(body, `<a class="btn nav-new" href="/admin/customers/new">New customer</a>`) ||
		!strings.Contains(body, `aria-current="page">Last 30 days</a>`) {
		t.Fatal("the dashboard lacks New customer or the current range")
	}
	_, body = staff.get("/admin/?range=custom&from=2025-01-01&to=2025-01-31")
	if funnelCount(t, body, "Created") != "0" || !strings.Contains(body, "Customers created from 2025-01-01 to 2025-01-31") {
		t.Fatal("a past range counts today's customers")
	}
	_, body = staff.get("/admin/?range=custom&from=2025-02-01&to=2025-01-01")
	if !strings.Contains(body, "The range ends before it starts. Showing the last 30 days.") || funnelCount(t, body, "Created") != "2" {
		t.Fatal("a backwards range is not explained")
	}
	if _, body = staff.get("/admin/?range=week"); funnelCount(t, body, "Created") != "2" {
		t.Fatal("this week does not count today's customers")
	}
}

// TestCustomerListStatesAndActivity: one state column with the next step, last activity,
// and the list sorted by last activity, page after page.
func TestCustomerListStatesAndActivity(t *testing.T) {
	h := newHarness(t, withMailpit)
	staff := h.signedIn()
	seedCustomers(t, h.db, 30) // created long ago, no activity since
	sent := h.customerAt(t, staff.createCustomer(url.Values{"name": {"Toko Kirim"}, "email": {"kirim@toko.test"}, "send_email": {"1"}}))
	h.mp.WaitFor(1, 10*time.Second)
	for i := 0; i < 100 && !contains(h.events(sent.ID), "email.sent"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	staff.createCustomer(url.Values{"name": {"Toko Belum"}, "send_email": {"0"}})
	old, _ := h.db.CustomerByKirimID(context.Background(), "cus_00000000000000000000000003")
	h.db.AddEvent(context.Background(), store.Event{CustomerID: &old.ID, Kind: store.EventCustomerSynced}) // the newest activity

	_, body := staff.get("/admin/customers?q=Toko+Kirim")
	if !regexp.MustCompile(`<span class="badge ">Waiting for the customer</span>\s*<div class="muted">Link expires in 7 days</div>`).MatchString(body) {
		t.Fatal("a customer sent a link is not shown waiting, with the link's expiry")
	}
	if _, body = staff.get("/admin/customers?q=Toko+Belum"); !strings.Contains(body, `Not sent yet</span>`) || !strings.Contains(body, "Send a setup link") {
		t.Fatal("a customer never sent a link does not say so")
	}
	names := regexp.MustCompile(`<td class="who"><a href="/admin/customers/\d+">([^<]+)</a>`)
	_, body = staff.get("/admin/customers?sort=activity")
	rows := names.FindAllStringSubmatch(body, -1)
	if len(rows) != 25 || rows[0][1] != old.Name || rows[1][1] != "Toko Belum" || rows[2][1] != "Toko Kirim" {
		t.Fatalf("by activity: %d rows, first %v", len(rows), rows[:min(3, len(rows))])
	}
	if !strings.Contains(body, "<strong>last activity</strong>") {
		t.Fatal("the list does not say it is sorted by last activity")
	}
	next := regexp.MustCompile(`href="(/admin/customers\?[^"]*after=[^"]+)" rel="next"`).FindStringSubmatch(body)
	if next == nil {
		t.Fatal("no next page by activity")
	}
	_, body = staff.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	seen := map[string]bool{}
	for _, r := range append(rows, names.FindAllStringSubmatch(body, -1)...) {
		seen[r[1]] = true
	}
	if len(seen) != 32 {
		t.Fatalf("two pages by activity show %d distinct customers, want 32", len(seen))
	}
}

// getWith fetches a path with extra request headers.
func (b *browser) getWith(path string, header ...string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", b.h.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

// TestPublicPagesBrandedAndLocalized: every page a customer can reach carries the brand
// and the support contact, in the customer's language or the browser's, with a switch.
func TestPublicPagesBrandedAndLocalized(t *testing.T) {
	h := newHarness(t, withMailpit)
	staff := h.signedIn()
	staff.get("/admin/settings/branding")
	staff.post("/admin/settings/branding", url.Values{"product_name": {"Toko Cloud"}, "primary_color": {"#1d4ed8"},
		"accent_color": {"#F59E0B"}, "support_email": {"help@tokocloud.test"}, "default_link_hours": {"168"}})

	visitor := h.browser()
	for _, path := range []string{"/", "/no-such-page", "/onboard/" + strings.Repeat("x", 32)} {
		resp, body := visitor.getWith(path, "Accept-Language", "id-ID,id;q=0.9,en;q=0.8")
		for _, want := range []string{`<html lang="id">`, "Langsung ke konten", "Toko Cloud", `<a href="mailto:help@tokocloud.test">help@tokocloud.test</a>`,
			`/brand/theme.css`, `hreflang="en">English</a>`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s (%d) in Indonesian lacks %s", path, resp.StatusCode, want)
			}
		}
		if _, body := visitor.getWith(path, "Accept-Language", "en-GB,en;q=0.9"); !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Skip to content") {
			t.Errorf("%s is not in English for an English browser", path)
		}
	}
	if _, body := visitor.getWith("/no-such-page", "Accept-Language", "id"); !strings.Contains(body, "Halaman tidak ditemukan") || strings.Contains(body, "Kirim") {
		t.Error("the 404 page is not in Indonesian, or names a vendor")
	}

	// The landing page: the customer's language, switchable; the expiry in their zone.
	page := staff.createCustomer(url.Values{"name": {"Toko Jakarta"}, "email": {"budi@example.co.id"}, "locale": {"id"}, "send_email": {"1"}})
	msgs := h.mp.WaitFor(1, 10*time.Second)
	link := strings.TrimPrefix(landingURL.FindString(h.mp.Message(msgs[0].ID).Text), h.URL)
	_, body := visitor.getWith(link, "Accept-Language", "en")
	for _, want := range []string{`<html lang="id">`, "Selamat datang, Toko Jakarta", " WIB.", "Apakah nomor ini sudah dipakai di aplikasi WhatsApp",
		"Hapus akun saya", `<title>Hubungkan WhatsApp · Toko Cloud</title>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the landing page lacks %q", want)
		}
	}
	if vendor := regexp.MustCompile(`\b(Kirim|Meta)\b`).FindString(body); vendor != "" {
		t.Errorf("the landing page names %s", vendor)
	}
	if strings.Index(body, "/connect") > strings.Index(body, "Apakah nomor ini") {
		t.Error("the Connect button comes after the tips")
	}
	if _, body = visitor.get(link + "?lang=en"); !strings.Contains(body, "Welcome, Toko Jakarta") || !strings.Contains(body, "Is this number already used") {
		t.Error("?lang=en does not switch the landing page to English")
	}
	if _, body = visitor.get(link); !strings.Contains(body, "Welcome, Toko Jakarta") {
		t.Error("the language chosen is not remembered")
	}
	visitor.get(link + "?lang=id")

	// Revoked: the page says cancelled, not expired.
	c := h.customerAt(t, page)
	links, _ := h.db.SetupLinks(context.Background(), c.ID)
	staff.get(page)
	staff.post(page+"/links/"+itoa(links[0].ID)+"/revoke", nil)
	if _, body = visitor.get(link); !strings.Contains(body, "Tautan ini sudah dibatalkan") || strings.Contains(body, "kedaluwarsa") ||
		!strings.Contains(body, "<title>Tautan ini sudah dibatalkan · ") {
		t.Error("a revoked link's page does not explain the revocation")
	}
}

// TestReturnPagesTitledByWhatTheySay: the success and failure pages are named after
// what they say, and the pending page's updates are announced.
func TestReturnPagesTitledByWhatTheySay(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	visitor := h.browser()
	failed := h.newLinkedCustomer(t, staff, "Gagal Store")
	if _, body := visitor.get(h.signupVia(t, failed.ID, "outcome=fail&reason=signup_cancelled")); !strings.Contains(body, "<title>The connection did not go through · ") {
		t.Error("the failure page is not titled by what it says")
	}
	ok := h.newLinkedCustomer(t, staff, "Berhasil Store")
	_, body := visitor.get(h.signupVia(t, ok.ID, "outcome=success"))
	if !regexp.MustCompile(`<title>(WhatsApp is connected|We are confirming your connection) · `).MatchString(body) || !strings.Contains(body, `<div aria-live="polite">`) {
		t.Errorf("the success page is not titled by what it says, or its updates are not announced")
	}
}

// TestMedianBucket: half of the connected customers connected within the bucket named.
func TestMedianBucket(t *testing.T) {
	n := len(store.ConnectBuckets)
	for _, c := range []struct {
		counts map[int]int
		want   string
	}{
		{map[int]int{}, "—"},
		{map[int]int{4: 1}, "under 2 h"},
		{map[int]int{0: 2, 8: 1, 10: 1}, "under 2 days"},
		{map[int]int{0: 3, 8: 1, 10: 1}, "under 5 min"},
		{map[int]int{1: 1, 3: 1, 9: 2}, "under 3 days"},
		{map[int]int{n - 1: 3, 2: 1}, "over 14 days"},
	} {
		counts := make([]int, n)
		for b, k := range c.counts {
			counts[b] = k
		}
		if got := medianBucket(counts); got != c.want {
			t.Errorf("%v: %q, want %q", c.counts, got, c.want)
		}
	}
}
