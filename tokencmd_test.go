package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kirim-portal/portal/store"
)

// TestTokenCommand: a token is printed once on add, listed by its last four, refused
// after revoke; bad scopes and unknown ids are said in words.
func TestTokenCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := envOf(map[string]string{"PORTAL_DATA_DIR": dir})
	ctx := context.Background()
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := cli(ctx, append([]string{"token"}, args...), env, strings.NewReader(""), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	code, out := run("add", "--name", "billing backend", "--scope", "write")
	token := regexp.MustCompile(`kpt_[A-Za-z0-9_-]+`).FindString(out)
	if code != 0 || token == "" || !strings.Contains(out, `"billing backend" (write)`) {
		t.Fatalf("add: exit %d\n%s", code, out)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "portal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := db.APITokenFor(ctx, token); err != nil || tok.Scope != store.ScopeWrite {
		t.Fatalf("the printed token is not the stored one: %v %v", tok, err)
	}
	db.Close()
	if code, out = run("list"); code != 0 || !strings.Contains(out, "…"+token[len(token)-4:]) || strings.Contains(out, token) {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if code, out = run("add", "--name", "x", "--scope", "admin"); code != 2 || !strings.Contains(out, "Choose read or write") {
		t.Fatalf("bad scope: exit %d\n%s", code, out)
	}
	if code, out = run("revoke", "1"); code != 0 {
		t.Fatalf("revoke: exit %d\n%s", code, out)
	}
	if code, out = run("revoke", "1"); code != 1 || !strings.Contains(out, "no live token 1") {
		t.Fatalf("revoke again: exit %d\n%s", code, out)
	}
	db, _ = store.Open(ctx, filepath.Join(dir, "portal.db"), nil)
	defer db.Close()
	if _, err := db.APITokenFor(ctx, token); err == nil {
		t.Fatal("the revoked token still works")
	}
}
