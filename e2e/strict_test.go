package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// TestJourneyAgainstStrictKirim runs the journey in Chromium against `portal sandbox
// --variant strict`, a Kirim in its own process that takes the other legal choice
// wherever Kirim's docs are silent: the internal customer id and a phone_number_id on
// redirects, failure codes the portal has never seen under error_code, an account that
// reads as onboarding before it is connected, link-only webhooks, archived customers
// left out of the default list, templates in pages.
func TestJourneyAgainstStrictKirim(t *testing.T) {
	staff := newPage(t)
	sbAddr, err := freeAddr()
	must(t, err)
	sb := exec.Command(portalBin, "sandbox", "--addr", sbAddr, "--api-key", "kdv_live_strict", "--variant", "strict")
	sbLog, err := os.Create(filepath.Join(t.TempDir(), "sandbox.log"))
	must(t, err)
	sb.Stdout, sb.Stderr = sbLog, sbLog
	must(t, sb.Start())
	t.Cleanup(func() { sb.Process.Signal(os.Interrupt); sb.Wait() })
	must(t, waitHealthy("http://"+sbAddr+"/v1/health"))
	addr, err := freeAddr()
	must(t, err)
	dir := t.TempDir()
	stop, err := startPortal(addr, filepath.Join(dir, "data"), filepath.Join(dir, "portal.log"),
		"KIRIM_API_KEY=kdv_live_strict", "KIRIM_BASE_URL=http://"+sbAddr+"/v1")
	must(t, err)
	t.Cleanup(stop)
	base := "http://" + addr

	signInAt(t, staff, base)
	id := uniq()
	landing := emailedLandingAt(t, staff, base, "Toko Ketat "+id, "ketat"+id+"@strict.test")
	customerPage := staff.URL()

	visitor := newPage(t)
	_, err = visitor.Goto(landing)
	must(t, err)
	must(t, visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Connect WhatsApp"}).Click())
	must(t, expect.Page(visitor).ToHaveURL(regexp.MustCompile(regexp.QuoteMeta(sbAddr)+`/onboard/csl_`)))
	_, err = visitor.GetByLabel("Or fail with a reason").SelectOption(playwright.SelectOptionValues{Values: &[]string{"signup_cancelled"}})
	must(t, err)
	must(t, visitor.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Fail signup"}).Click())
	must(t, expect.Page(visitor).ToHaveURL(regexp.MustCompile(`/onboard/r/[A-Za-z0-9_-]+/failure\?`)))
	must(t, expect.Locator(visitor.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("The connection did not go through"))
	must(t, expect.Locator(visitor.Locator("#return-card")).ToContainText("Error code: user_cancelled"))

	must(t, visitor.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Try again"}).Click())
	connectOnKirim(t, visitor, "+6281355554444")
	// The account reads as onboarding at first: the page waits, asks again, then shows it.
	must(t, expect.Locator(visitor.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("WhatsApp is connected"))
	must(t, expect.Locator(visitor.Locator(".lead")).ToContainText("+6281355554444"))
	shot(t, visitor, "strict-return-success")

	_, err = staff.Goto(customerPage)
	must(t, err)
	reloadUntil(t, staff, "Templates synced")
	must(t, expect.Locator(staff.Locator("#state-title")).ToHaveText("Connected ✓ +6281355554444"))
	timeline := staff.Locator("ol.timeline")
	for _, step := range []string{"Signup failed", "user_cancelled", "Signup succeeded", "Account connected"} {
		must(t, expect.Locator(timeline).ToContainText(step))
	}
}
