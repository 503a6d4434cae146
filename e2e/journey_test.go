package e2e

import (
	"regexp"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
)

// emailedLanding creates a customer whose setup link is emailed, and returns the landing
// URL read from the email in Mailpit.
func emailedLanding(t *testing.T, staff playwright.Page, name, email string) string {
	return emailedLandingAt(t, staff, portalURL, name, email)
}

// emailedLandingAt is emailedLanding on the portal at base.
func emailedLandingAt(t *testing.T, staff playwright.Page, base, name, email string) string {
	t.Helper()
	if mailpit == nil {
		t.Skip("mailpit is not installed; run scripts/install-e2e-deps.sh")
	}
	_, err := staff.Goto(base + "/admin/customers/new")
	must(t, err)
	must(t, staff.GetByLabel("Name").Fill(name))
	must(t, staff.GetByLabel("Email", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(email))
	must(t, staff.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create and send setup link"}).Click())
	must(t, expect.Locator(staff.GetByRole("status")).ToContainText("Setup link email on its way to "+email))
	mp := mailpit.For(t)
	msgs := mp.WaitForSearch("to:"+email, 1, 15*time.Second)
	if len(msgs) == 0 {
		t.Fatalf("no email to %s", email)
	}
	landing := regexp.MustCompile(regexp.QuoteMeta(base) + `/onboard/[A-Za-z0-9_-]{32}`).FindString(mp.Message(msgs[0].ID).Text)
	if landing == "" {
		t.Fatal("no landing URL in the email")
	}
	return landing
}

// reloadUntil reloads the page until it shows text (background work may still run).
func reloadUntil(t *testing.T, page playwright.Page, text string) {
	t.Helper()
	for range 40 {
		if n, _ := page.GetByText(text).Count(); n > 0 {
			return
		}
		time.Sleep(250 * time.Millisecond)
		_, err := page.Reload()
		must(t, err)
	}
	t.Fatalf("%s never showed %q", page.URL(), text)
}

// connectOnKirim goes from the landing page through Kirim's hosted page and connects.
func connectOnKirim(t *testing.T, visitor playwright.Page, phone string) {
	t.Helper()
	must(t, visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Connect WhatsApp"}).Click())
	must(t, expect.Page(visitor).ToHaveURL(regexp.MustCompile(`/onboard/csl_`)))
	must(t, visitor.GetByLabel("Phone number (optional)").Fill(phone))
	must(t, visitor.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Connect WhatsApp number"}).Click())
}

// TestFullJourney: created and emailed by staff, connected by the customer, and seen by
// staff as active with the account, a template sync and the whole timeline.
func TestFullJourney(t *testing.T) {
	staff := newPage(t)
	signIn(t, staff)
	id := uniq()
	landing := emailedLanding(t, staff, "Kedai Kopi Nusantara "+id, "kopi"+id+"@nusantara.test")
	customerPage := staff.URL()

	visitor := newPage(t)
	_, err := visitor.Goto(landing)
	must(t, err)
	connectOnKirim(t, visitor, "+6281311112222")
	must(t, expect.Page(visitor).ToHaveURL(regexp.MustCompile(`/onboard/r/[A-Za-z0-9_-]+/success\?`)))
	must(t, expect.Locator(visitor.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("WhatsApp is connected"))
	must(t, expect.Locator(visitor.Locator(".lead")).ToContainText("+6281311112222"))
	shot(t, visitor, "return-success")

	_, err = staff.Goto(customerPage)
	must(t, err)
	reloadUntil(t, staff, "3 synced, 3 created, 0 updated")
	must(t, expect.Locator(staff.Locator("#state-title")).ToHaveText("Connected ✓ +6281311112222"))
	must(t, expect.Locator(staff.Locator(".card.account")).ToContainText("+6281311112222"))
	must(t, expect.Locator(staff.Locator(".card.account")).ToContainText("hello_world"))
	timeline := staff.Locator("ol.timeline")
	for _, step := range []string{"Customer created", "Link issued", "Email queued", "Email sent", "Landing opened",
		"Landing clicked", "Signup succeeded", "Account connected", "Templates synced"} {
		must(t, expect.Locator(timeline).ToContainText(step))
	}
	shot(t, staff, "customer-connected")
	_, err = staff.Goto(portalURL + "/admin/")
	must(t, err)
	must(t, expect.Locator(staff.Locator(".funnel-bars")).ToContainText("Connected"))
	shot(t, staff, "dashboard")
}

// TestFailureJourney: the signup fails with a reason the customer understands, and
// "Try again" leads to a successful connection.
func TestFailureJourney(t *testing.T) {
	staff := newPage(t)
	signIn(t, staff)
	id := uniq()
	landing := emailedLanding(t, staff, "Toko Gagal Dulu "+id, "gagal"+id+"@dulu.test")
	customerPage := staff.URL()

	visitor := newPage(t)
	_, err := visitor.Goto(landing)
	must(t, err)
	must(t, visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Connect WhatsApp"}).Click())
	_, err = visitor.GetByLabel("Or fail with a reason").SelectOption(playwright.SelectOptionValues{Values: &[]string{"signup_cancelled"}})
	must(t, err)
	must(t, visitor.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Fail signup"}).Click())
	must(t, expect.Page(visitor).ToHaveURL(regexp.MustCompile(`/onboard/r/[A-Za-z0-9_-]+/failure\?`)))
	must(t, expect.Locator(visitor.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("The connection did not go through"))
	must(t, expect.Locator(visitor.Locator(".lead")).ToContainText("closed or cancelled before it finished"))
	shot(t, visitor, "return-failure")

	_, err = staff.Goto(customerPage)
	must(t, err)
	must(t, expect.Locator(staff.Locator("#state-title")).ToHaveText("Signup failed: the customer closed or cancelled Meta's signup"))
	must(t, expect.Locator(staff.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Send a fresh link"})).ToBeVisible())
	must(t, expect.Locator(staff.Locator("ol.timeline")).ToContainText("Signup failed"))
	must(t, expect.Locator(staff.Locator("ol.timeline")).ToContainText("Ask the customer whether something stopped them"))

	must(t, visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Try again"}).Click())
	connectOnKirim(t, visitor, "+6281399998888")
	must(t, expect.Locator(visitor.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("WhatsApp is connected"))
	must(t, expect.Locator(visitor.Locator(".lead")).ToContainText("+6281399998888"))

	_, err = staff.Goto(customerPage)
	must(t, err)
	reloadUntil(t, staff, "Templates synced")
	must(t, expect.Locator(staff.Locator("#state-title")).ToHaveText("Connected ✓ +6281399998888"))
}
