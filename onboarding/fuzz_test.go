package onboarding_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kirim-portal/portal/onboarding"
)

// FuzzFailureCode feeds the failure redirect's reason cleaner anything a URL can carry:
// the code kept is short, plain and never empty, and known codes are found whatever
// their case.
func FuzzFailureCode(f *testing.F) {
	for _, s := range []string{"signup_cancelled", "SIGNUP_CANCELLED", "", "otp.failed\n", "<script>", "é", strings.Repeat("a", 500), "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		code := onboarding.FailureCode(raw)
		if code == "" || len(code) > 64 || !utf8.ValidString(code) {
			t.Fatalf("FailureCode(%q) = %q", raw, code)
		}
		for _, r := range code {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-:", r)) {
				t.Fatalf("FailureCode(%q) = %q keeps %q", raw, code, r)
			}
		}
		if k := onboarding.KnownReason(code); k != "" && onboarding.FailureNextSteps[k] == "" {
			t.Fatalf("KnownReason(%q) = %q is not in the table", code, k)
		}
	})
}
