package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// TestAdminJourney is what staff do on a normal day: sign in (after a typo), create a
// customer (after a mistake), find it in the list, generate a link, revoke it, sign out.
func TestAdminJourney(t *testing.T) {
	page := newPage(t)
	// Names unique to this run: the tests share one portal and may run more than once.
	id := uniq()
	maju, sari := "Toko Maju Jaya "+id, "Warung Sari "+id
	role := func(r playwright.AriaRole, name string) playwright.Locator {
		return page.GetByRole(r, playwright.PageGetByRoleOptions{Name: name, Exact: playwright.Bool(true)})
	}

	t.Run("a wrong password shows a message", func(t *testing.T) {
		_, err := page.Goto(portalURL + "/admin/customers")
		must(t, err)
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login\?next=`)))
		must(t, page.GetByLabel("Email").Fill(staffEmail))
		must(t, page.GetByLabel("Password").Fill("not the password"))
		must(t, role("button", "Sign in").Click())
		must(t, expect.Locator(page.GetByRole("alert")).ToContainText("Email or password is incorrect."))
		must(t, expect.Locator(page.GetByLabel("Email")).ToHaveValue(staffEmail))
		must(t, expect.Locator(page.GetByLabel("Password")).ToBeFocused())
		shot(t, page, "login-error")
	})

	t.Run("sign in", func(t *testing.T) {
		must(t, page.GetByLabel("Password").Fill(staffPassword))
		must(t, role("button", "Sign in").Click())
		must(t, expect.Page(page).ToHaveURL(portalURL+"/admin/customers"))
		must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Customers", Level: playwright.Int(1), Exact: playwright.Bool(true)})).ToBeVisible())
	})

	t.Run("bad input shows field errors", func(t *testing.T) {
		must(t, role("link", "New customer").First().Click())
		must(t, page.GetByLabel("Name").Fill(maju))
		must(t, page.GetByLabel("Email", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("owner-at-tokomaju"))
		must(t, role("button", "Create without sending").Click())
		must(t, expect.Locator(page.Locator("#e-email")).ToContainText("Enter an email address"))
		must(t, expect.Locator(page.GetByLabel("Name")).ToHaveValue(maju))
		shot(t, page, "customer-form-errors")
	})

	t.Run("create a customer", func(t *testing.T) {
		must(t, page.GetByLabel("Email", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("owner@tokomaju.test"))
		_, err := page.GetByLabel("Language of emails and pages").SelectOption(playwright.SelectOptionValues{Values: &[]string{"id"}})
		must(t, err)
		must(t, page.GetByText("Advanced: team and metadata").Click())
		must(t, page.GetByLabel("Key 1").Fill("crm_id"))
		must(t, page.GetByLabel("Value 1").Fill("A-1042"))
		must(t, role("button", "Create without sending").Click())
		must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText(maju))
		must(t, expect.Locator(page.GetByRole("status")).ToContainText("Customer "+maju+" created."))
		details := page.Locator("section[aria-labelledby=details] .kv")
		must(t, expect.Locator(details).ToContainText("Bahasa Indonesia"))
		must(t, expect.Locator(details).ToContainText("A-1042"))
	})

	t.Run("search and filter the list", func(t *testing.T) {
		// A second customer, suspended, so that filters have something to tell apart.
		_, err := page.Goto(portalURL + "/admin/customers/new")
		must(t, err)
		must(t, page.GetByLabel("Name").Fill(sari))
		must(t, role("button", "Create without sending").Click())
		must(t, role("button", "Suspend…").Click())
		dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Suspend " + sari + "?"})
		must(t, expect.Locator(dialog).ToContainText("cannot connect a number"))
		shot(t, page, "suspend-dialog")
		must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Suspend", Exact: playwright.Bool(true)}).Click())
		must(t, expect.Locator(page.GetByRole("status")).ToContainText("Customer suspended."))

		must(t, role("link", "Customers").Click())
		rows := page.Locator("#customer-results tbody tr")
		must(t, page.GetByLabel("Search").Fill(id))
		must(t, expect.Locator(rows).ToHaveCount(2)) // htmx updates the table as you type
		must(t, page.GetByLabel("Search").Fill("maju jaya "+id))
		must(t, expect.Locator(rows).ToHaveCount(1))
		must(t, expect.Locator(rows).ToContainText(maju))
		must(t, page.GetByLabel("Search").Fill(id))
		must(t, expect.Locator(rows).ToHaveCount(2))
		_, err = page.GetByLabel("Status", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).SelectOption(playwright.SelectOptionValues{Values: &[]string{"suspended"}})
		must(t, err)
		must(t, expect.Locator(rows).ToHaveCount(1))
		must(t, expect.Locator(rows).ToContainText(sari))
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`status=suspended`)))
		shot(t, page, "customers-filtered")
		_, err = page.GetByLabel("Status", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).SelectOption(playwright.SelectOptionValues{Values: &[]string{""}})
		must(t, err)
		must(t, expect.Locator(rows).ToHaveCount(2))
	})

	t.Run("open the customer and generate a link", func(t *testing.T) {
		must(t, role("link", maju).Click())
		must(t, expect.Locator(page.Locator("#state-title")).ToHaveText("No setup link sent yet"))
		must(t, page.GetByText("Make a new link without emailing it").Click())
		_, err := page.GetByLabel("Link valid for").SelectOption(playwright.SelectOptionValues{Values: &[]string{"72"}})
		must(t, err)
		must(t, role("button", "Make a new link").Click())
		must(t, expect.Locator(page.GetByRole("status")).ToContainText("New setup link generated."))
		must(t, expect.Locator(page.Locator("#state-title")).ToHaveText("Link ready, not sent yet"))
		landing := page.GetByLabel("The customer's setup page")
		must(t, expect.Locator(landing).ToHaveValue(regexp.MustCompile(`^`+regexp.QuoteMeta(portalURL)+`/onboard/[A-Za-z0-9_-]{32}$`)))
		history := page.Locator("section[aria-labelledby=link-history] tbody tr")
		must(t, expect.Locator(history).ToHaveCount(1))
		must(t, expect.Locator(history).ToContainText("active"))
		must(t, expect.Locator(history).ToContainText("in 3 days"))
		shot(t, page, "customer-with-link")
	})

	t.Run("fits a phone screen", func(t *testing.T) {
		must(t, page.SetViewportSize(390, 844))
		defer page.SetViewportSize(1280, 900)
		for _, path := range []string{page.URL(), portalURL + "/admin/customers", portalURL + "/admin/"} {
			_, err := page.Goto(path)
			must(t, err)
			overflow, err := page.Evaluate(`document.documentElement.scrollWidth - window.innerWidth`)
			must(t, err)
			if n := fmt.Sprint(overflow); n != "0" && !strings.HasPrefix(n, "-") {
				t.Errorf("%s is %s px wider than a phone screen", path, n)
			}
		}
		shot(t, page, "dashboard-phone")
		_, err := page.GoBack()
		must(t, err)
		_, err = page.GoBack()
		must(t, err)
	})

	t.Run("revoke the link", func(t *testing.T) {
		must(t, role("button", "Revoke…").Click())
		dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Revoke this link?"})
		must(t, expect.Locator(dialog).ToContainText("can ask for a fresh link"))
		// Cancel closes the dialog and changes nothing.
		must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Cancel"}).Click())
		must(t, expect.Locator(dialog).ToBeHidden())
		must(t, expect.Locator(page.Locator("section[aria-labelledby=link-history] tbody tr")).ToContainText("active"))
		must(t, role("button", "Revoke…").Click())
		shot(t, page, "revoke-dialog")
		must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Revoke link"}).Click())
		must(t, expect.Locator(page.GetByRole("status")).ToContainText("Link revoked."))
		must(t, expect.Locator(page.Locator("section[aria-labelledby=link-history] tbody tr")).ToContainText("revoked"))
		must(t, expect.Locator(page.Locator("#state-title")).ToHaveText("Link revoked"))
		must(t, expect.Locator(page.Locator(".timeline")).ToContainText("Link revoked"))
	})

	t.Run("sign out", func(t *testing.T) {
		must(t, role("button", "Sign out").Click())
		must(t, expect.Page(page).ToHaveURL(portalURL+"/login"))
		must(t, expect.Locator(page.GetByRole("status")).ToContainText("You are signed out."))
		_, err := page.Goto(portalURL + "/admin/")
		must(t, err)
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login`)))
	})
}
