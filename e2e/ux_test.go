package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
)

// clicks counts the clicks a test makes, so that a task's length is asserted.
type clicks struct{ n int }

func (c *clicks) click(t *testing.T, l playwright.Locator) {
	t.Helper()
	c.n++
	must(t, l.Click())
}

// aboveFold fails unless the element's bottom edge is inside the first screen.
func aboveFold(t *testing.T, page playwright.Page, l playwright.Locator, what string) {
	t.Helper()
	box, err := l.BoundingBox()
	must(t, err)
	vp := page.ViewportSize()
	if box == nil || box.Y+box.Height > float64(vp.Height) {
		t.Errorf("%s is not within the first screen (%dx%d): %+v", what, vp.Width, vp.Height, box)
	}
}

// TestMainTaskInTwoClicks: from the dashboard after sign-in, a new customer is emailed
// their setup link with two typed fields and two clicks, everything above the fold at
// 1366×900; the customer page then leads with its state and one action.
func TestMainTaskInTwoClicks(t *testing.T) {
	if mailpit == nil {
		t.Skip("mailpit is not installed; run scripts/install-e2e-deps.sh")
	}
	page := newPage(t)
	must(t, page.SetViewportSize(1366, 900))
	signIn(t, page)
	id := uniq()
	name, email := "Toko Dua Klik "+id, "dua"+id+"@klik.test"

	var c clicks
	// The navigation's button: on every page, whatever the dashboard shows.
	nav := page.GetByRole("navigation", playwright.PageGetByRoleOptions{Name: "Main"})
	c.click(t, nav.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "New customer", Exact: playwright.Bool(true)}))
	must(t, expect.Locator(page.GetByLabel("Name")).ToBeFocused())
	send := page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create and send setup link"})
	aboveFold(t, page, send, "Create and send setup link")
	must(t, expect.Locator(page.GetByLabel("Kirim team (optional)")).ToBeHidden()) // under Advanced
	shot(t, page, "new-customer-form")
	must(t, page.GetByLabel("Name").Fill(name))
	must(t, page.GetByLabel("Email", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(email))
	c.click(t, send)
	must(t, expect.Locator(page.GetByRole("status")).ToContainText("Setup link email on its way to "+email))
	if msgs := mailpit.For(t).WaitForSearch("to:"+email, 1, 15*time.Second); len(msgs) != 1 {
		t.Fatalf("%d emails to %s", len(msgs), email)
	}
	if c.n > 3 {
		t.Errorf("the main task took %d clicks", c.n)
	}

	// The customer page: one header with the state and one primary action.
	must(t, expect.Locator(page.Locator("#state-title")).ToHaveText("Waiting for the customer"))
	must(t, expect.Locator(page.Locator(".state-head")).ToContainText("The link works until"))
	must(t, expect.Locator(page.Locator(".state-head .btn")).ToHaveCount(1))
	must(t, expect.Locator(page.Locator(".state-head .btn")).ToHaveText("Resend link"))
	aboveFold(t, page, page.Locator(".state-head .btn"), "Resend link")
	must(t, expect.Locator(page.Locator("header.bar nav a[aria-current=page]")).ToHaveText("Customers"))
	must(t, expect.Locator(page.GetByText("Developer details")).ToBeVisible())
	must(t, expect.Locator(page.GetByText("Kirim customer id")).ToBeHidden())
	shot(t, page, "customer-waiting")

	// Resend: a second email, said so.
	c.click(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Resend link"}))
	must(t, expect.Locator(page.GetByRole("status")).ToContainText("A new email with the current link is on its way to "+email))
	if msgs := mailpit.For(t).WaitForSearch("to:"+email, 2, 15*time.Second); len(msgs) != 2 {
		t.Fatalf("%d emails to %s after resend", len(msgs), email)
	}

	// On a phone, the list is cards with the state and next step, not a wide table.
	must(t, page.SetViewportSize(390, 844))
	_, err := page.Goto(portalURL + "/admin/customers?sort=activity")
	must(t, err)
	card := page.Locator(".table-wrap.cards tbody tr").First()
	must(t, expect.Locator(card).ToContainText(name))
	must(t, expect.Locator(card).ToContainText("Waiting for the customer"))
	must(t, expect.Locator(card).ToContainText("Link expires in 7 days"))
	display, err := card.Evaluate("tr => getComputedStyle(tr).display", nil)
	must(t, err)
	overflow, err := page.Evaluate(`document.documentElement.scrollWidth - window.innerWidth`)
	must(t, err)
	if display != "block" || fmt.Sprint(overflow) != "0" {
		t.Errorf("the list on a phone: rows display %v, %v px wider than the screen", display, overflow)
	}
	shot(t, page, "customers-phone")

	// The dashboard: a range, labelled funnel bars, New customer at hand.
	must(t, page.SetViewportSize(1366, 900))
	_, err = page.Goto(portalURL + "/admin/?range=week")
	must(t, err)
	must(t, expect.Locator(page.Locator(".funnel-bars li").First()).ToContainText("Created"))
	must(t, expect.Locator(page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "This week"})).ToHaveAttribute("aria-current", "page"))
	must(t, expect.Locator(page.GetByRole("navigation", playwright.PageGetByRoleOptions{Name: "Main"}).
		GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "New customer"})).ToBeVisible())
	shot(t, page, "dashboard-week")
}

// TestLandingOnAPhone: at 390×844 the Connect button is on the first screen, the page
// is in the customer's language with a switch, and the warning about a number in the
// WhatsApp app opens as a question.
func TestLandingOnAPhone(t *testing.T) {
	staff := newPage(t)
	signIn(t, staff)
	id := uniq()
	_, err := staff.Goto(portalURL + "/admin/customers/new")
	must(t, err)
	must(t, staff.GetByLabel("Name").Fill("Warung Ponsel "+id))
	must(t, staff.GetByLabel("Email", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("ponsel"+id+"@warung.test"))
	_, err = staff.GetByLabel("Language of emails and pages").SelectOption(playwright.SelectOptionValues{Values: &[]string{"id"}})
	must(t, err)
	must(t, staff.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create and send setup link"}).Click())
	landing := emailedLink(t, "ponsel"+id+"@warung.test")

	visitor := newPage(t)
	must(t, visitor.SetViewportSize(390, 844))
	_, err = visitor.Goto(landing)
	must(t, err)
	must(t, expect.Locator(visitor.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("Selamat datang, Warung Ponsel "+id))
	connect := visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Hubungkan WhatsApp"})
	aboveFold(t, visitor, connect, "Hubungkan WhatsApp")
	must(t, expect.Locator(visitor.Locator("main")).ToContainText(regexp.MustCompile(`Tautan ini berlaku sampai \d+ \w+ \d{4}, \d\d\.\d\d WIB`)))
	text, err := visitor.Locator("main").InnerText()
	must(t, err)
	product, err := visitor.Locator("header.bar .product, header.bar .logo").First().Evaluate("e => e.textContent || e.alt", nil)
	must(t, err)
	if vendor := regexp.MustCompile(`\b(Kirim|Meta)\b`).FindString(strings.ReplaceAll(text, fmt.Sprint(product), "")); vendor != "" {
		t.Errorf("the landing page names %s beside the product", vendor)
	}
	must(t, expect.Locator(visitor.GetByText("Hapus akun saya")).ToBeHidden())
	must(t, visitor.GetByText("Apakah nomor ini sudah dipakai").Click())
	must(t, expect.Locator(visitor.GetByText("Hapus akun saya")).ToBeVisible())
	shot(t, visitor, "landing-phone-id")
	must(t, visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "English"}).Click())
	must(t, expect.Locator(visitor.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("Welcome, Warung Ponsel "+id))
	aboveFold(t, visitor, visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Connect WhatsApp"}), "Connect WhatsApp")
	shot(t, visitor, "landing-phone-en")

	// A browser set to Indonesian gets the "not found" page in Indonesian, branded.
	bctx, err := browser.NewContext(playwright.BrowserNewContextOptions{Locale: playwright.String("id-ID"),
		Viewport: &playwright.Size{Width: 390, Height: 844}})
	must(t, err)
	defer bctx.Close()
	lost, err := bctx.NewPage()
	must(t, err)
	_, err = lost.Goto(portalURL + "/onboard/" + strings.Repeat("x", 32))
	must(t, err)
	must(t, expect.Locator(lost.Locator("html")).ToHaveAttribute("lang", "id"))
	must(t, expect.Locator(lost.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("Tautan tidak ditemukan"))
	must(t, expect.Locator(lost.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Langsung ke konten"})).ToHaveCount(1))
	must(t, expect.Locator(lost.Locator("header.bar")).ToBeVisible())
	shot(t, lost, "not-found-id")
}

// emailedLink waits for the setup email to an address and returns its landing URL.
func emailedLink(t *testing.T, to string) string {
	t.Helper()
	if mailpit == nil {
		t.Skip("mailpit is not installed; run scripts/install-e2e-deps.sh")
	}
	mp := mailpit.For(t)
	msgs := mp.WaitForSearch("to:"+to, 1, 15*time.Second)
	if len(msgs) == 0 {
		t.Fatalf("no email to %s", to)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(portalURL) + `/onboard/[A-Za-z0-9_-]{32}`).FindString(mp.Message(msgs[0].ID).Text)
	if link == "" {
		t.Fatal("no landing URL in the email")
	}
	return link
}

// TestTeamInTheBrowser: an admin invites an operator from the Team page; the operator
// joins from the email and sees no admin settings.
func TestTeamInTheBrowser(t *testing.T) {
	admin := newPage(t)
	signIn(t, admin)
	id := uniq()
	email := "operator" + id + "@team.test"
	_, err := admin.Goto(portalURL + "/admin/settings/team")
	must(t, err)
	must(t, admin.GetByLabel("Email", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(email))
	must(t, admin.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Send invitation"}).Click())
	must(t, expect.Locator(admin.GetByRole("status")).ToContainText("Invitation to "+email+". It is on its way."))
	must(t, expect.Locator(admin.Locator("section[aria-labelledby=invites]")).ToContainText(email))
	shot(t, admin, "team")
	link := ""
	if mailpit == nil {
		t.Skip("mailpit is not installed; run scripts/install-e2e-deps.sh")
	}
	mp := mailpit.For(t)
	msgs := mp.WaitForSearch("to:"+email, 1, 15*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d invitations to %s", len(msgs), email)
	}
	link = regexp.MustCompile(regexp.QuoteMeta(portalURL) + `/invite/[A-Za-z0-9_-]+`).FindString(mp.Message(msgs[0].ID).Text)
	op := newPage(t)
	_, err = op.Goto(link)
	must(t, err)
	must(t, op.GetByLabel("Password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("operator password 1"))
	must(t, op.GetByLabel("Repeat the password").Fill("operator password 1"))
	must(t, op.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Join"}).Click())
	must(t, expect.Locator(op.GetByRole("status")).ToContainText("Welcome to the team."))
	must(t, op.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Settings"}).Click())
	must(t, expect.Locator(op.Locator("nav.subnav")).ToContainText("Follow-up"))
	must(t, expect.Locator(op.Locator("nav.subnav")).Not().ToContainText("Branding"))
	must(t, expect.Locator(op.Locator("nav.subnav")).Not().ToContainText("Team"))
}

// TestNoEmailServerInTheBrowser: a portal without SMTP_URL says so on every admin page,
// a send is a warning rather than a success, and the customer shows "Not sent".
func TestNoEmailServerInTheBrowser(t *testing.T) {
	if skipReason != "" {
		t.Skip("browser not available: " + skipReason)
	}
	addr, err := freeAddr()
	must(t, err)
	dir := t.TempDir()
	p, err := runPortal(addr, dir, filepath.Join(dir, "portal.log"), "KIRIM_API_KEY=", "SMTP_URL=")
	must(t, err)
	defer p.stop()
	base := "http://" + addr
	page := newPage(t)
	signInAt(t, page, base)
	must(t, expect.Locator(page.GetByRole("note").Filter(playwright.LocatorFilterOptions{HasText: "Emails are not being sent"})).ToBeVisible())
	// A new portal's dashboard leads with its checklist.
	checklist := page.Locator("section.checklist li")
	must(t, expect.Locator(checklist).ToHaveCount(4))
	must(t, expect.Locator(checklist.Nth(2)).ToContainText("No email server is configured"))
	must(t, expect.Locator(checklist.Nth(3)).ToContainText("built-in sandbox"))
	shot(t, page, "dashboard-first-run")
	_, err = page.Goto(base + "/admin/customers/new")
	must(t, err)
	must(t, page.GetByLabel("Name").Fill("Toko Tanpa Surel"))
	must(t, page.GetByLabel("Email", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("tanpa@surel.test"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create and send setup link"}).Click())
	must(t, expect.Locator(page.Locator(".flash.warn")).ToContainText("Saved — not sent: no email server is configured"))
	must(t, expect.Locator(page.Locator(".flash.ok")).ToHaveCount(0))
	must(t, expect.Locator(page.Locator("#state-title")).ToHaveText("Not sent: no email server is configured"))
	must(t, expect.Locator(page.Locator("section[aria-labelledby=emails]")).ToContainText("Not sent"))
	shot(t, page, "customer-not-sent")
}
