package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
)

// axePath is axe-core's browser bundle, installed by scripts/install-e2e-deps.sh.
func axePath(t *testing.T) string {
	p := os.Getenv("AXE_PATH")
	if p == "" {
		p, _ = filepath.Abs("../.tools/axe/node_modules/axe-core/axe.min.js")
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core is not installed (scripts/install-e2e-deps.sh): %v", err)
		}
		t.Skip("axe-core is not installed; run scripts/install-e2e-deps.sh")
	}
	return p
}

// axeViolation is one rule broken on a page, as axe-core reports it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// checkPage runs axe-core's WCAG 2.1 A and AA rules on the page and fails on every
// serious or critical violation.
func checkPage(t *testing.T, page playwright.Page, axe, name string) {
	t.Helper()
	if _, err := page.AddScriptTag(playwright.PageAddScriptTagOptions{Path: playwright.String(axe)}); err != nil {
		t.Fatalf("%s: loading axe-core: %v", name, err)
	}
	out, err := page.Evaluate(`async () => JSON.stringify((await axe.run(document, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]})).violations)`)
	if err != nil {
		t.Fatalf("%s: axe-core: %v", name, err)
	}
	var violations []axeViolation
	if err := json.Unmarshal([]byte(out.(string)), &violations); err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		var where []string
		for _, n := range v.Nodes[:min(3, len(v.Nodes))] {
			where = append(where, fmt.Sprint(n.Target)+" "+n.HTML)
		}
		t.Errorf("%s (%s): %s [%s]: %s", name, page.URL(), v.Help, v.ID, strings.Join(where, " | "))
	}
}

// focusRing measures the focus indicator of the element: the best contrast of its
// outline or box-shadow colour against the background behind it.
const focusRing = `el => {
	el.focus();
	const lum = c => { const m = c.match(/[\d.]+/g).map(Number); const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * f(m[0]) + 0.7152 * f(m[1]) + 0.0722 * f(m[2]); };
	const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
	let bg = "rgb(255, 255, 255)";
	for (let n = el.parentElement; n; n = n.parentElement) { const c = getComputedStyle(n).backgroundColor; if (c && !c.startsWith("rgba(0, 0, 0, 0)") && c !== "transparent") { bg = c; break; } }
	const s = getComputedStyle(el);
	const colours = [];
	if (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2) colours.push(s.outlineColor);
	for (const m of (s.boxShadow.match(/rgba?\([^)]*\)/g) || [])) colours.push(m);
	return Math.max(0, ...colours.filter(c => !/rgba\([^)]*, 0(\.\d+)?\)$/.test(c) || /, 1\)$/.test(c)).map(c => ratio(c, bg)));
}`

// borderContrast is the contrast of an input's border against the background behind it.
const borderContrast = `el => {
	const lum = c => { const m = c.match(/[\d.]+/g).map(Number); const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * f(m[0]) + 0.7152 * f(m[1]) + 0.0722 * f(m[2]); };
	let bg = "rgb(255, 255, 255)";
	for (let n = el.parentElement; n; n = n.parentElement) { const c = getComputedStyle(n).backgroundColor; if (c && !c.startsWith("rgba(0, 0, 0, 0)")) { bg = c; break; } }
	const a = lum(getComputedStyle(el).borderTopColor), b = lum(bg);
	return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}`

// TestAccessibilityOfEveryPage runs axe-core on every page staff and customers see, in
// light and dark mode, and measures focus rings and input borders where axe cannot.
func TestAccessibilityOfEveryPage(t *testing.T) {
	axe := axePath(t)
	if mailpit == nil {
		t.Skip("mailpit is not installed; run scripts/install-e2e-deps.sh")
	}
	// A customer whose link is emailed, one who fails, one connected and one revoked.
	staff := newPage(t)
	signIn(t, staff)
	id := uniq()
	landing := emailedLanding(t, staff, "Toko Aksesibel "+id, "aks"+id+"@toko.test")
	customerPage := staff.URL()
	visitor := newPage(t)
	_, err := visitor.Goto(landing)
	must(t, err)
	must(t, visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Connect WhatsApp"}).Click())
	_, err = visitor.GetByLabel("Or fail with a reason").SelectOption(playwright.SelectOptionValues{Values: &[]string{"signup_cancelled"}})
	must(t, err)
	must(t, visitor.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Fail signup"}).Click())
	must(t, expect.Page(visitor).ToHaveURL(regexp.MustCompile(`/failure\?`)))
	failure := visitor.URL()
	connectedLanding := emailedLanding(t, staff, "Toko Terhubung "+id, "hub"+id+"@toko.test")
	_, err = visitor.Goto(connectedLanding)
	must(t, err)
	connectOnKirim(t, visitor, "+6281377778888")
	must(t, expect.Page(visitor).ToHaveURL(regexp.MustCompile(`/success\?`)))
	success := visitor.URL()
	revokedLanding := emailedLanding(t, staff, "Toko Dicabut "+id, "cabut"+id+"@toko.test")
	must(t, staff.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Revoke…"}).Click())
	must(t, staff.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Revoke link"}).Click())
	must(t, expect.Locator(staff.GetByRole("status")).ToContainText("Link revoked."))
	// A suspended customer's landing page (on hold).
	heldLanding := emailedLanding(t, staff, "Toko Ditunda "+id, "tunda"+id+"@toko.test")
	must(t, staff.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Suspend…"}).Click())
	must(t, staff.GetByRole("dialog").GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Suspend", Exact: playwright.Bool(true)}).Click())
	must(t, expect.Locator(staff.GetByRole("status")).ToContainText("Customer suspended."))
	// An invitation's page.
	_, err = staff.Goto(portalURL + "/admin/settings/team")
	must(t, err)
	must(t, staff.GetByLabel("Email", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("a11y"+id+"@team.test"))
	must(t, staff.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Send invitation"}).Click())
	msgs := mailpit.For(t).WaitForSearch("to:a11y"+id+"@team.test", 1, 15*time.Second)
	if len(msgs) != 1 {
		t.Fatal("no invitation")
	}
	invite := regexp.MustCompile(regexp.QuoteMeta(portalURL) + `/invite/[A-Za-z0-9_-]+`).FindString(mailpit.For(t).Message(msgs[0].ID).Text)
	// A password reset's page.
	forgot := newPage(t)
	_, err = forgot.Goto(portalURL + "/forgot")
	must(t, err)
	must(t, forgot.GetByLabel("Email").Fill(staffEmail))
	must(t, forgot.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Email me a link"}).Click())
	must(t, expect.Locator(forgot.GetByRole("status")).ToContainText("belongs to a staff account"))
	resets := mailpit.For(t).WaitForSearch("to:"+staffEmail+" subject:Reset", 1, 15*time.Second)
	if len(resets) == 0 {
		t.Fatal("no reset email")
	}
	reset := regexp.MustCompile(regexp.QuoteMeta(portalURL) + `/reset/[A-Za-z0-9_-]+`).FindString(mailpit.For(t).Message(resets[0].ID).Text)
	// An import's preview.
	_, err = staff.Goto(portalURL + "/admin/imports")
	must(t, err)
	must(t, staff.GetByLabel("CSV file", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).SetInputFiles(importCSV(t, "Aks "+id, 3, "Bad Row,not-an-email")))
	must(t, staff.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Upload and preview"}).Click())
	must(t, expect.Locator(staff.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Preview"})).ToBeVisible())
	preview := strings.TrimPrefix(staff.URL(), portalURL)
	_, err = staff.Goto(portalURL + "/admin/outbox")
	must(t, err)
	email, err := staff.Locator("table a[href^='/admin/outbox/']").First().GetAttribute("href")
	must(t, err)

	admin := []string{"/admin/", "/admin/?range=week", "/admin/attention", "/admin/customers", "/admin/customers?sort=activity",
		"/admin/customers/new", strings.TrimPrefix(customerPage, portalURL), strings.TrimPrefix(customerPage, portalURL) + "?confirm=archive",
		strings.TrimPrefix(customerPage, portalURL) + "/edit", "/admin/imports", "/admin/outbox", email, "/admin/settings/branding",
		"/admin/settings/follow-up", "/admin/settings/api", "/admin/settings/webhooks", "/admin/settings/team", "/admin/account", preview}
	public := []string{"/", "/forgot", "/no-such-page", "/onboard/" + strings.Repeat("x", 32), landing, revokedLanding, heldLanding, failure, success, invite, reset}

	for _, scheme := range []*playwright.ColorScheme{playwright.ColorSchemeLight, playwright.ColorSchemeDark} {
		t.Run(fmt.Sprint(*scheme), func(t *testing.T) {
			bctx, err := browser.NewContext(playwright.BrowserNewContextOptions{BypassCSP: playwright.Bool(true), ColorScheme: scheme,
				Viewport: &playwright.Size{Width: 1366, Height: 900}})
			must(t, err)
			defer bctx.Close()
			page, err := bctx.NewPage()
			must(t, err)
			// Signed out: the sign-in page, then with an error.
			_, err = page.Goto(portalURL + "/login")
			must(t, err)
			checkPage(t, page, axe, "sign-in")
			must(t, page.GetByLabel("Email").Fill(staffEmail))
			must(t, page.GetByLabel("Password").Fill("wrong password"))
			must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in"}).Click())
			must(t, expect.Locator(page.GetByRole("alert")).ToBeVisible())
			checkPage(t, page, axe, "sign-in error")
			for _, path := range public {
				if !strings.HasPrefix(path, "http") {
					path = portalURL + path
				}
				_, err := page.Goto(path)
				must(t, err)
				checkPage(t, page, axe, path)
			}
			_, err = page.Goto(portalURL + "/login")
			must(t, err)
			must(t, page.GetByLabel("Email").Fill(staffEmail))
			must(t, page.GetByLabel("Password").Fill(staffPassword))
			must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in"}).Click())
			must(t, expect.Page(page).ToHaveURL(portalURL+"/admin/"))
			for _, path := range admin {
				_, err := page.Goto(portalURL + path)
				must(t, err)
				checkPage(t, page, axe, path)
			}
			// Focus rings on the brand header and on cards; input borders.
			_, err = page.Goto(portalURL + "/admin/customers")
			must(t, err)
			for what, l := range map[string]playwright.Locator{
				"a header link":  page.Locator("header.bar nav a").First(),
				"a card button":  page.Locator("main .btn").First(),
				"a search field": page.GetByLabel("Search"),
			} {
				ratio, err := l.Evaluate(focusRing, nil)
				must(t, err)
				if r, _ := ratio.(float64); r < 3 {
					t.Errorf("the focus ring of %s has a contrast of %.2f:1, want 3:1", what, r)
				}
			}
			ratio, err := page.GetByLabel("Search").Evaluate(borderContrast, nil)
			must(t, err)
			if r, _ := ratio.(float64); r < 3 {
				t.Errorf("input borders have a contrast of %.2f:1, want 3:1", r)
			}
		})
	}
}
