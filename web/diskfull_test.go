package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kirim-portal/portal/kirim"
)

// smallDisk mounts a tmpfs of size bytes for the test (it needs root: CI runs as
// root; elsewhere the test is skipped).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot mount a small filesystem (CI runs as root): %v", err)
		}
		t.Skipf("cannot mount a small filesystem (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file until the filesystem is full, and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Sync()
	return path
}

// TestDiskFull: the database on a small filesystem that fills up. Writes fail with a
// page that says so and a log line; pages that only read keep working; once there is
// space again, writes work without a restart, and nothing was created twice.
func TestDiskFull(t *testing.T) {
	dir := smallDisk(t, "16m")
	h := newHarness(t, withDBDir(dir))
	staff := h.signedIn()
	ctx := context.Background()
	before := staff.createCustomer(url.Values{"name": {"Before Full"}})
	filler := fill(t, dir)

	// A write: the branding form.
	staff.get("/admin/settings/branding")
	form := url.Values{"product_name": {"Full Disk Co"}, "primary_color": {"#0B6E4F"}, "accent_color": {"#0B6E4F"}, "default_link_hours": {"168"}}
	var resp *http.Response
	var body string
	for range 50 { // SQLite may first fill the space it had left in its WAL
		resp, body = staff.post("/admin/settings/branding", form)
		if resp.StatusCode != http.StatusSeeOther {
			break
		}
		form.Set("intro_en", strings.Repeat("x", 900))
	}
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(body, "disk is full") {
		t.Fatalf("a write on a full disk: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(h.logs.String(), "database or disk is full") {
		t.Fatal("no log line says the disk is full")
	}
	// A customer: Kirim creates it, the mirror cannot store it.
	_, page := staff.get("/admin/customers/new")
	create := url.Values{"intent": {regexpFind(t, page, `name="intent" value="([^"]+)"`)}, "name": {"During Full"}}
	if resp, _ := staff.post("/admin/customers", create); resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("create on a full disk: %d", resp.StatusCode)
	}
	// Reads keep working.
	for _, path := range []string{"/admin/", "/admin/customers", before} {
		if resp, _ := staff.get(path); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s on a full disk: %d", path, resp.StatusCode)
		}
	}

	os.Remove(filler) // space again
	if resp, _ := staff.post("/admin/settings/branding", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a write after space came back: %d", resp.StatusCode)
	}
	if resp, body := staff.post("/admin/customers", create); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the same create after space came back: %d %s", resp.StatusCode, body)
	}
	remote, _ := h.remote(t).ListCustomers(ctx, kirim.ListCustomersParams{})
	if n, _ := h.db.CountCustomers(ctx); n.All != 2 || len(remote.Data) != 2 {
		t.Fatalf("%d customers mirrored, %d in Kirim; want 2 and 2", n.All, len(remote.Data))
	}
}
