package secret_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kirim-portal/portal/store/secret"
)

func mustKey(t testing.TB) []byte {
	t.Helper()
	k, err := secret.ParseKey(secret.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustKeyring(t testing.TB, master []byte, old ...[]byte) *secret.Keyring {
	t.Helper()
	k, err := secret.NewKeyring(master, old...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := mustKeyring(t, mustKey(t))
	plain := []byte("https://app.kirimdev.com/onboard/csl_abcdefghijklmnopqrstuvwx")
	sealed := k.Seal(plain, []byte("setup_links:1"))
	if bytes.Contains(sealed, plain) || bytes.Contains(sealed, []byte("csl_")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := k.Open(sealed, []byte("setup_links:1"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("got %q, want %q", got, plain)
	}

	t.Run("moved to another row", func(t *testing.T) {
		if _, err := k.Open(sealed, []byte("setup_links:2")); !errors.Is(err, secret.ErrOpen) {
			t.Fatalf("got %v, want ErrOpen", err)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		for i := range sealed {
			bad := bytes.Clone(sealed)
			bad[i] ^= 0x01
			if _, err := k.Open(bad, []byte("setup_links:1")); !errors.Is(err, secret.ErrOpen) {
				t.Fatalf("flipping byte %d: got %v, want ErrOpen", i, err)
			}
		}
	})
	t.Run("truncated", func(t *testing.T) {
		for _, n := range []int{0, 1, 5, 16, len(sealed) - 1} {
			if _, err := k.Open(sealed[:n], []byte("setup_links:1")); !errors.Is(err, secret.ErrOpen) {
				t.Fatalf("length %d: got %v, want ErrOpen", n, err)
			}
		}
	})
	t.Run("other key", func(t *testing.T) {
		other := mustKeyring(t, mustKey(t))
		if _, err := other.Open(sealed, []byte("setup_links:1")); !errors.Is(err, secret.ErrOpen) {
			t.Fatalf("got %v, want ErrOpen", err)
		}
	})
}

func TestRotatedKeyStillOpensOldRows(t *testing.T) {
	oldMaster, newMaster := mustKey(t), mustKey(t)
	before := mustKeyring(t, oldMaster)
	sealed := before.Seal([]byte("whsec_old"), []byte("settings:webhook"))

	after := mustKeyring(t, newMaster, oldMaster)
	got, err := after.Open(sealed, []byte("settings:webhook"))
	if err != nil || string(got) != "whsec_old" {
		t.Fatalf("got %q, %v; want whsec_old", got, err)
	}
	// New values are sealed under the new key: a keyring without the old key opens them.
	fresh := after.Seal([]byte("whsec_new"), nil)
	if _, err := mustKeyring(t, newMaster).Open(fresh, nil); err != nil {
		t.Fatalf("new value does not open under the new key alone: %v", err)
	}
	// And the old key alone cannot open them.
	if _, err := before.Open(fresh, nil); !errors.Is(err, secret.ErrOpen) {
		t.Fatalf("got %v, want ErrOpen", err)
	}
	// Session keys: the current pair first, then the old pair.
	pairs := after.SessionKeys()
	if len(pairs) != 4 || !bytes.Equal(pairs[2], before.SessionKeys()[0]) {
		t.Fatalf("session key pairs do not carry the old key after the new one")
	}
}

func TestNoNonceRepeats(t *testing.T) {
	k := mustKeyring(t, mustKey(t))
	const n = 100_000
	seen := make(map[[12]byte]struct{}, n)
	for i := range n {
		s := k.Seal([]byte("x"), nil)
		var nonce [12]byte
		copy(nonce[:], s[5:17])
		if _, dup := seen[nonce]; dup {
			t.Fatalf("nonce repeated after %d seals", i)
		}
		seen[nonce] = struct{}{}
	}
}

func TestDerivedKeysDiffer(t *testing.T) {
	k := mustKeyring(t, mustKey(t))
	pairs := k.SessionKeys()
	if bytes.Equal(pairs[0][:32], pairs[1]) {
		t.Fatal("derived keys for different purposes are equal")
	}
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"generated", secret.GenerateKey(), true},
		{"too short", "c2hvcnQ=", false},
		{"not base64", "this is not a key!!", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := secret.ParseKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("got err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && tc.in != "" && bytes.Contains([]byte(err.Error()), []byte(tc.in)) {
				t.Fatalf("error repeats the key: %v", err)
			}
		})
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	k1, created, err := secret.LoadOrCreate(dir)
	if err != nil || !created {
		t.Fatalf("first run: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, secret.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("key file mode %o, want 600", got)
	}
	k2, created, err := secret.LoadOrCreate(dir)
	if err != nil || created {
		t.Fatalf("second run: created=%v err=%v", created, err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("second run read another key")
	}
}
