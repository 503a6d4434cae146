package e2e

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// TestAttentionQueueInTheBrowser: a customer's signup fails; staff see the badge in the
// navigation and the customer in the needs-attention queue with the reason and what to
// tell them; they snooze it (the badge goes), open the snoozed rows and mark it handled
// with a note (the note lands on the timeline). A portal of its own keeps the count
// apart from the other tests.
func TestAttentionQueueInTheBrowser(t *testing.T) {
	addr, err := freeAddr()
	must(t, err)
	dir := t.TempDir()
	p, err := runPortal(addr, dir, filepath.Join(dir, "portal.log"), "KIRIM_API_KEY=")
	must(t, err)
	defer p.stop()
	base := "http://" + addr

	staff := newPage(t)
	signInAt(t, staff, base)
	id := uniq()
	name := "Toko Perlu Bantuan " + id
	landing := emailedLandingAt(t, staff, base, name, "bantuan"+id+"@example.test")
	customerPage := staff.URL()

	visitor := newPage(t)
	_, err = visitor.Goto(landing)
	must(t, err)
	must(t, visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Connect WhatsApp"}).Click())
	_, err = visitor.GetByLabel("Or fail with a reason").SelectOption(playwright.SelectOptionValues{Values: &[]string{"token_exchange_failed"}})
	must(t, err)
	must(t, visitor.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Fail signup"}).Click())
	must(t, expect.Locator(visitor.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("The connection did not go through"))
	must(t, expect.Locator(visitor.Locator("#return-card")).ToContainText("follow-up list"))

	_, err = staff.Goto(base + "/admin/")
	must(t, err)
	nav := staff.GetByRole("navigation", playwright.PageGetByRoleOptions{Name: "Main"})
	must(t, expect.Locator(nav.Locator(".count-badge")).ToHaveText("1"))
	must(t, nav.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: regexp.MustCompile("Needs attention")}).Click())
	must(t, expect.Page(staff).ToHaveURL(base+"/admin/attention"))
	row := staff.Locator(".queue-item").Filter(playwright.LocatorFilterOptions{HasText: name})
	must(t, expect.Locator(row).ToContainText("Signup failed: Meta could not hand over access to the number"))
	must(t, expect.Locator(row).ToContainText("What to tell "+name))
	shot(t, staff, "attention")

	must(t, row.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "3 days"}).Click())
	must(t, expect.Locator(staff.GetByRole("status")).ToContainText("Snoozed for 3 days"))
	must(t, expect.Locator(nav.Locator(".count-badge")).ToHaveCount(0))
	must(t, expect.Locator(staff.GetByText("Nobody is waiting on you")).ToBeVisible())

	must(t, staff.GetByRole("link", playwright.PageGetByRoleOptions{Name: "1 snoozed"}).Click())
	row = staff.Locator(".queue-item").Filter(playwright.LocatorFilterOptions{HasText: name})
	must(t, expect.Locator(row).ToContainText("Snoozed until"))
	must(t, row.GetByText("Mark handled…").Click())
	note := "Phoned " + id + ": trying again tonight."
	must(t, row.GetByLabel("Note for the timeline (optional)").Fill(note))
	must(t, row.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Mark handled", Exact: playwright.Bool(true)}).Click())
	must(t, expect.Locator(staff.GetByRole("status")).ToContainText("Marked handled"))
	must(t, expect.Locator(staff.GetByText("Nothing is snoozed.")).ToBeVisible())
	must(t, expect.Locator(nav.Locator(".count-badge")).ToHaveCount(0))

	_, err = staff.Goto(customerPage)
	must(t, err)
	must(t, expect.Locator(staff.Locator("ol.timeline")).ToContainText(note))
	must(t, expect.Locator(staff.Locator("ol.timeline")).ToContainText("Attention snoozed"))
}
