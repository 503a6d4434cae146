package e2e

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
	_ "modernc.org/sqlite"

	"github.com/kirim-portal/portal/store"
)

// TestEmailJourney: staff brand the portal, create a customer and email the link; the
// customer opens the email (read from Mailpit), sees the brand, and goes on to Kirim's
// hosted page. Then the link expires: the landing page offers a fresh one, which arrives.
func TestEmailJourney(t *testing.T) {
	page := newPage(t)
	if mailpit == nil {
		t.Skip("mailpit is not installed; run scripts/install-e2e-deps.sh")
	}
	mp := mailpit.For(t)
	role := func(r playwright.AriaRole, name string) playwright.Locator {
		return page.GetByRole(r, playwright.PageGetByRoleOptions{Name: name, Exact: playwright.Bool(true)})
	}
	signIn(t, page)
	id := uniq()
	customer, address := "Warung Bu Sri "+id, "sri"+id+"@warung.test"

	t.Run("set the branding", func(t *testing.T) {
		must(t, role("link", "Settings").Click())
		must(t, page.Locator("nav.subnav").GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Branding"}).Click())
		must(t, expect.Locator(page.Locator("nav.subnav a[aria-current=page]")).ToHaveText("Branding"))
		must(t, page.GetByLabel("Product name").Fill("Toko Cloud"))
		must(t, page.GetByLabel("Primary colour").Fill("#1D4ED8"))
		must(t, page.GetByLabel("Support email").Fill("help@tokocloud.test"))
		must(t, role("button", "Save branding").Click())
		must(t, expect.Locator(page.GetByRole("status")).ToContainText("Branding saved."))
		must(t, expect.Locator(page.FrameLocator("iframe[title='Email preview']").GetByText("Toko Cloud", playwright.FrameLocatorGetByTextOptions{Exact: playwright.Bool(true)}).First()).ToBeVisible())
		shot(t, page, "branding")
	})

	var landing string
	t.Run("create a customer and email the link", func(t *testing.T) {
		_, err := page.Goto(portalURL + "/admin/customers/new")
		must(t, err)
		must(t, page.GetByLabel("Name").Fill(customer))
		must(t, page.GetByLabel("Email", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(address))
		must(t, role("button", "Create and send setup link").Click())
		must(t, expect.Locator(page.GetByRole("status")).ToContainText("Setup link email on its way to "+address))

		msgs := mp.WaitForSearch("to:"+address, 1, 15*time.Second)
		if len(msgs) != 1 {
			t.Fatalf("%d emails to %s", len(msgs), address)
		}
		m := mp.Message(msgs[0].ID)
		landing = regexp.MustCompile(regexp.QuoteMeta(portalURL) + `/onboard/[A-Za-z0-9_-]{32}`).FindString(m.Text)
		for part, body := range map[string]string{"HTML": m.HTML, "text": m.Text} {
			for _, want := range []string{"Toko Cloud", customer, landing, "help@tokocloud.test"} {
				if want == "" || !strings.Contains(body, want) {
					t.Errorf("the %s part lacks %q", part, want)
				}
			}
		}
		if !strings.Contains(m.Subject, "Toko Cloud") || m.From.Name != "Toko Cloud" {
			t.Errorf("subject %q from %q", m.Subject, m.From.Name)
		}
		_, err = page.Reload()
		must(t, err)
		must(t, expect.Locator(page.Locator("section[aria-labelledby=emails] tbody tr")).ToContainText("sent"))
	})

	t.Run("the landing page shows the brand and leads to Kirim", func(t *testing.T) {
		visitor := newPage(t)
		_, err := visitor.Goto(landing)
		must(t, err)
		must(t, expect.Locator(visitor.Locator("header.bar")).ToContainText("Toko Cloud"))
		must(t, expect.Locator(visitor.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("Welcome, "+customer))
		shot(t, visitor, "landing")
		must(t, visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Connect WhatsApp"}).Click())
		must(t, expect.Page(visitor).ToHaveURL(regexp.MustCompile(`/sandbox/onboard/csl_[A-Za-z0-9_-]{24}$`)))
		must(t, expect.Locator(visitor.GetByText(customer)).ToBeVisible())
		shot(t, visitor, "kirim-hosted-page")
	})

	t.Run("an expired link offers a fresh one by email", func(t *testing.T) {
		expireLinks(t, customer)
		visitor := newPage(t)
		_, err := visitor.Goto(landing)
		must(t, err)
		must(t, expect.Locator(visitor.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("This link has expired"))
		shot(t, visitor, "landing-expired")
		must(t, visitor.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Send me a fresh link"}).Click())
		must(t, expect.Locator(visitor.GetByRole("status")).ToContainText("Check your inbox — we sent a fresh link to s•••@warung.test"))
		msgs := mp.WaitForSearch("to:"+address, 2, 15*time.Second)
		if len(msgs) != 2 {
			t.Fatalf("%d emails after asking for a fresh link", len(msgs))
		}
		fresh := regexp.MustCompile(regexp.QuoteMeta(portalURL) + `/onboard/[A-Za-z0-9_-]{32}`).FindString(mp.Message(msgs[0].ID).Text)
		if fresh == "" || fresh == landing {
			t.Fatalf("fresh link %q", fresh)
		}
		_, err = visitor.Goto(fresh)
		must(t, err)
		must(t, expect.Locator(visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Connect WhatsApp"})).ToBeVisible())
	})
}

// expireLinks moves a customer's links past their expiry in the portal's database, as
// time would. (The portal trusts its mirror for expiry; Kirim agrees by the clock.)
func expireLinks(t *testing.T, customer string) {
	t.Helper()
	db, err := sql.Open("sqlite", store.DSN(filepath.Join(dataDir, "portal.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.ExecContext(context.Background(), `UPDATE setup_links SET expires_at = '2020-01-01T00:00:00.000000Z'
		WHERE customer_id = (SELECT id FROM customers WHERE name = ?)`, customer)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatal("no link to expire")
	}
}
