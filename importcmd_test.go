package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kirim-portal/portal/store"
)

// TestImportCommand: --dry-run prints what would happen and records nothing (exit 1:
// a row would be rejected); a real import creates the good rows, queues their link
// emails and exits 1 because one row was rejected; a clean file exits 0.
func TestImportCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := envOf(map[string]string{"PORTAL_DATA_DIR": dir})
	csvFile := filepath.Join(t.TempDir(), "clients.csv")
	os.WriteFile(csvFile, []byte("name;email;notes\nToko Satu;satu@cli.test;x\nBad;not-mail;y\nToko Dua;dua@cli.test;z\n"), 0o600)
	ctx := context.Background()
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := cli(ctx, append([]string{"import"}, args...), env, strings.NewReader(""), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	code, out := run(csvFile, "--dry-run")
	if code != 1 || !strings.Contains(out, "3 rows: 2 to create, 0 skipped, 1 rejected") ||
		!strings.Contains(out, "line 3 rejected: email: Enter an email address") || !strings.Contains(out, "columns not imported: notes") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	customers := func() int {
		db, err := store.Open(ctx, filepath.Join(dir, "portal.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		c, err := db.CountCustomers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c.All
	}
	if n := customers(); n != 0 {
		t.Fatalf("the dry run created %d customers", n)
	}
	code, out = run(csvFile, "--send-links")
	if code != 1 || !strings.Contains(out, "done: 2 created, 0 failed, 0 skipped, 1 rejected") {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	if n := customers(); n != 2 {
		t.Fatalf("%d customers after the import, want 2", n)
	}
	clean := filepath.Join(t.TempDir(), "clean.csv")
	os.WriteFile(clean, []byte("name,email\nToko Tiga,tiga@cli.test\nToko Satu,satu@cli.test\n"), 0o600)
	if code, out = run(clean); code != 0 || !strings.Contains(out, "done: 1 created, 0 failed, 1 skipped, 0 rejected") {
		t.Fatalf("clean import: exit %d\n%s", code, out)
	}
	if code, out = run(filepath.Join(t.TempDir(), "missing.csv")); code != 1 {
		t.Fatalf("a missing file: exit %d\n%s", code, out)
	}
}
