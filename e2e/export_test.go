package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

// TestExportStreamsInBoundedMemory: staff sign in (a password check takes 64 MiB) and
// download the export of 20,000 customers; the portal's peak memory grows by less than
// 30 MiB (before the collector was made to drop a check's memory, it grew by 50 MiB,
// by 72 at 30,000: scripts/exportmem measures 100,000).
func TestExportStreamsInBoundedMemory(t *testing.T) {
	const n = 20_000
	dir := t.TempDir()
	key := secret.GenerateKey()
	master, _ := secret.ParseKey(key)
	keys, _ := secret.NewKeyring(master)
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "portal.db"), keys)
	must(t, err)
	now := time.Now()
	for start := 0; start < n; start += 5000 {
		var ms []store.CustomerMirror
		for i := start; i < start+5000; i++ {
			ms = append(ms, store.CustomerMirror{KirimID: fmt.Sprintf("cus_%026d", i), Name: fmt.Sprintf("Toko Ekspor %d", i),
				Email: fmt.Sprintf("owner%d@export.test", i), Status: "active", CreatedAt: now, UpdatedAt: now})
		}
		_, err := db.ReconcileCustomers(ctx, ms, "seed")
		must(t, err)
	}
	_, err = db.CreateUser(ctx, staffEmail, secret.HashPassword(staffPassword))
	must(t, err)
	db.Close()

	addr, err := freeAddr()
	must(t, err)
	p, err := runPortal(addr, dir, filepath.Join(dir, "portal.log"), "PORTAL_SECRET_KEY="+key, "KIRIM_API_KEY=", "PORTAL_RECONCILE_INTERVAL=0")
	must(t, err)
	defer p.stop()
	base := "http://" + addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(base + "/login")
	must(t, err)
	page := make([]byte, 64<<10)
	k, _ := resp.Body.Read(page)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(page[:k])
	if csrf == nil {
		t.Fatal("no sign-in form")
	}
	resp, err = c.PostForm(base+"/login", url.Values{"_csrf": {string(csrf[1])}, "email": {staffEmail}, "password": {staffPassword}})
	must(t, err)
	resp.Body.Close()
	time.Sleep(500 * time.Millisecond)
	before := peakRSS(t, p.cmd.Process.Pid)
	resp, err = c.Get(base + "/admin/customers/export.csv")
	must(t, err)
	rows := 0
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		rows++
	}
	resp.Body.Close()
	if rows != n+1 {
		t.Fatalf("exported %d lines, want %d", rows, n+1)
	}
	after := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("peak RSS %d MiB before the export, %d after", before, after)
	if after-before >= 30 {
		t.Fatalf("the export grew the peak memory by %d MiB", after-before)
	}
}
