package secret_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kirim-portal/portal/store/secret"
)

func TestPassword(t *testing.T) {
	h := secret.HashPassword("correct horse battery staple")
	if strings.Contains(h, "horse") || !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("unexpected hash %q", h)
	}
	if err := secret.CheckPassword(h, "correct horse battery staple"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := secret.CheckPassword(h, "wrong"); !errors.Is(err, secret.ErrPasswordMismatch) {
		t.Fatalf("wrong password: got %v", err)
	}
	if h == secret.HashPassword("correct horse battery staple") {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	if err := secret.CheckPassword("plain", "plain"); err == nil {
		t.Fatal("a non-argon2 hash was accepted")
	}
	if p := secret.NewPassword(); len(p) != 20 {
		t.Fatalf("generated password %d chars, want 20", len(p))
	}
}
