package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/sandbox"
	"github.com/kirim-portal/portal/mail/mailtest"
)

// importCSV writes a customers file of n good rows (name, email) and the given extra
// lines, and returns its path.
func importCSV(t *testing.T, prefix string, n int, extra ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name,email,language,notes\n")
	for i := range n {
		fmt.Fprintf(&b, "%s %03d,%s%03d@import.test,%s,row %d\n", prefix, i, strings.ToLower(strings.Fields(prefix)[0]), i, []string{"en", "id"}[i%2], i)
	}
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	path := filepath.Join(t.TempDir(), "customers.csv")
	must(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// startImport uploads a file on the imports page and starts it with link emails.
func startImport(t *testing.T, page playwright.Page, base, file string) {
	t.Helper()
	_, err := page.Goto(base + "/admin/imports")
	must(t, err)
	must(t, page.GetByLabel("CSV file", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).SetInputFiles(file))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Upload and preview"}).Click())
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Preview"})).ToBeVisible())
	must(t, expect.Locator(page.GetByLabel("Email each new customer a setup link")).ToBeChecked())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: regexp.MustCompile(`^Start import`)}).Click())
	must(t, expect.Locator(page.GetByRole("status").First()).ToContainText("Import started."))
}

// TestImportJourney: staff upload a file with a bad row, read the preview, start the
// import, watch the progress reach done, download the results, and find the customers
// in the list with their links sent (in Mailpit).
func TestImportJourney(t *testing.T) {
	page := newPage(t)
	if mailpit == nil {
		t.Skip("mailpit is not installed; run scripts/install-e2e-deps.sh")
	}
	mp := mailpit.For(t)
	signIn(t, page)
	prefix := "Impor " + uniq()
	file := importCSV(t, prefix, 12, "Tanpa Email Benar,not-an-email,en,bad")
	_, err := page.Goto(portalURL + "/admin/imports")
	must(t, err)

	// 50 MB: refused in the page before it is sent, in words.
	huge := filepath.Join(t.TempDir(), "huge.csv")
	must(t, os.WriteFile(huge, []byte(strings.Repeat("Toko Besar,besar@import.test\n", 50<<20/29)), 0o600))
	must(t, page.GetByLabel("CSV file", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).SetInputFiles(huge))
	must(t, expect.Locator(page.Locator("#e-file")).ToHaveText(regexp.MustCompile(`larger than 5 MB`)))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Upload and preview"}).Click())
	must(t, expect.Page(page).ToHaveURL(portalURL+"/admin/imports"))
	must(t, expect.Locator(page.GetByText("huge.csv")).ToHaveCount(0)) // no import was made of it

	must(t, page.GetByLabel("CSV file", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).SetInputFiles(file))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Upload and preview"}).Click())
	must(t, expect.Locator(page.GetByText("12 customers to create")).ToBeVisible())
	must(t, expect.Locator(page.GetByText("1 row rejected")).ToBeVisible())
	must(t, expect.Locator(page.GetByText("These columns are not imported: notes")).ToBeVisible())
	bad := page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: "Tanpa Email Benar"})
	must(t, expect.Locator(bad).ToContainText("email: Enter an email address like owner@example.com."))
	shot(t, page, "import-preview")
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Start import of 12 customers"}).Click())
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Done"})).ToBeVisible())
	must(t, expect.Locator(page.Locator("#batch-progress")).ToContainText("12 done · 0 failed · 0 remaining"))
	shot(t, page, "import-done")

	download, err := page.ExpectDownload(func() error {
		return page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Download the results (CSV)"}).Click()
	})
	must(t, err)
	path, err := download.Path()
	must(t, err)
	results, err := os.ReadFile(path)
	must(t, err)
	if n := strings.Count(string(results), ",done,"); n != 12 || !strings.Contains(string(results), ",rejected,") {
		t.Fatalf("results: %d done rows\n%s", n, results)
	}

	_, err = page.Goto(portalURL + "/admin/customers?q=" + strings.ReplaceAll(prefix, " ", "+"))
	must(t, err)
	must(t, expect.Locator(page.GetByRole("link", playwright.PageGetByRoleOptions{Name: prefix + " 011"})).ToBeVisible())
	shot(t, page, "customers-bulk")
	must(t, expect.Locator(page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: prefix + " 000"})).ToContainText("Waiting for the customer"))
	if msgs := mp.WaitForSearch("to:"+strings.ToLower(strings.Fields(prefix)[0])+"000@import.test", 1, 15*time.Second); len(msgs) != 1 {
		t.Fatalf("%d link emails to the first row", len(msgs))
	}
}

// TestKillDuringImport: 200 rows (and two bad ones) with link emails; the portal is
// killed (-9) with part of them done, creates in flight and emails mid-send; after a
// restart the import finishes by itself, Kirim holds exactly one customer per good row
// (counted through its API), the mirror the same, and Mailpit one link email per
// customer.
func TestKillDuringImport(t *testing.T) {
	const n = 200
	sb, err := sandbox.New(sandbox.Options{APIKey: "kdv_live_import", ReadsPerMinute: 60_000, WritesPerMinute: 60_000})
	must(t, err)
	defer sb.Close()
	kirimSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/customers" {
			time.Sleep(40 * time.Millisecond) // the import lasts seconds
		}
		sb.ServeHTTP(w, r)
	}))
	defer kirimSrv.Close()
	mp := mailtest.Start(t)
	// Emails past the first 20 wait at their final dot, so that the kill never lands
	// between Mailpit accepting one and the portal recording it (the one instant an
	// email can go twice, under the same Message-ID: TestKillDuringEmailSending).
	proxy := startDotProxy(t, mp.SMTPAddr)
	proxy.holdAfter(20)
	addr, err := freeAddr()
	must(t, err)
	dir := t.TempDir()
	env := []string{"KIRIM_API_KEY=kdv_live_import", "KIRIM_BASE_URL=" + kirimSrv.URL + "/v1",
		"SMTP_URL=smtp://u:p@" + proxy.ln.Addr().String() + "?tls=none"}
	logPath := filepath.Join(dir, "portal.log")
	p, err := runPortal(addr, dir, logPath, env...)
	must(t, err)
	defer func() {
		if t.Failed() {
			t.Log(p.log())
		}
	}()
	query := func(q string) int { return countIn(dir, q) }
	page := newPage(t)
	signInAt(t, page, "http://"+addr)
	startImport(t, page, "http://"+addr, importCSV(t, "Kill Import", n, ",nameless@import.test,en,", "Bad Email,nope,en,"))
	must(t, page.Close()) // its progress polling would meet the dead portal
	// The kill waits until the 20 emails let through are recorded as sent: only the
	// held ones are mid-send.
	waitUntil(t, "a part of the import done, emails held", func() bool {
		return query(`SELECT COUNT(*) FROM batch_rows WHERE outcome = 'done'`) >= n/4 && proxy.heldNow() >= 1 &&
			query(`SELECT COUNT(*) FROM outbox WHERE status = 'sent'`) >= 20
	})
	p.kill()
	proxy.releaseAfterKill(t)
	if done := query(`SELECT COUNT(*) FROM batch_rows WHERE outcome = 'done'`); done >= n {
		t.Fatalf("the import had finished (%d) before the kill: make it slower", done)
	}

	p, err = runPortal(addr, dir, logPath, env...)
	must(t, err)
	defer p.stop()
	waitUntil(t, "the import finished after the restart", func() bool {
		return query(`SELECT COUNT(*) FROM batches WHERE state = 'done'`) == 1
	})
	if done, rejected := query(`SELECT COUNT(*) FROM batch_rows WHERE outcome = 'done'`), query(`SELECT COUNT(*) FROM batch_rows WHERE outcome = 'rejected'`); done != n || rejected != 2 {
		t.Fatalf("%d rows done and %d rejected, want %d and 2", done, rejected, n)
	}
	kc, _ := kirim.New(kirimSrv.URL+"/v1", "kdv_live_import", kirim.WithRateLimits(0, 0))
	names := map[string]int{}
	for c, err := range kc.AllCustomers(context.Background(), kirim.ListCustomersParams{Limit: 100}) {
		must(t, err)
		names[c.Name]++
	}
	if len(names) != n {
		t.Fatalf("Kirim holds %d distinct customers, want %d", len(names), n)
	}
	for name, c := range names {
		if c != 1 {
			t.Errorf("Kirim holds %s %d times", name, c)
		}
	}
	if mirrored := query(`SELECT COUNT(*) FROM customers`); mirrored != n {
		t.Fatalf("the mirror holds %d customers, want %d", mirrored, n)
	}
	waitUntil(t, "every link email sent", func() bool { return len(mp.All()) >= n && outboxDone(t, dir) })
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive now
	to := map[string]int{}
	for _, m := range mp.All() {
		to[m.To[0].Address]++
	}
	if len(to) != n {
		t.Fatalf("link emails reached %d addresses, want %d", len(to), n)
	}
	for addr, c := range to {
		if c != 1 {
			t.Errorf("%s got %d link emails", addr, c)
		}
	}
}
