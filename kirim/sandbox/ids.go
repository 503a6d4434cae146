package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/big"
	"time"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid returns a ULID (48-bit millisecond time, 80 random bits) in Crockford base32,
// the id format of Kirim resources: prefix + 26 characters.
func ulid(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	rand.Read(b[6:])
	n := new(big.Int).SetBytes(b[:])
	out := make([]byte, 26)
	base := big.NewInt(32)
	mod := new(big.Int)
	for i := 25; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = crockford[mod.Int64()]
	}
	return string(out)
}

func newID(prefix string, t time.Time) string { return prefix + "_" + ulid(t) }

// newToken returns a setup-link token: csl_ + 24 base64url characters (18 random bytes).
func newToken() string {
	b := make([]byte, 18)
	rand.Read(b)
	return "csl_" + base64.RawURLEncoding.EncodeToString(b)
}

// newSecret returns a webhook signing secret.
func newSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

// newPhoneNumberID returns a fresh 15-digit Meta phone_number_id.
func newPhoneNumberID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9e14))
	return fmt.Sprintf("%015d", n.Int64()+1e14)
}

// newPhoneNumber returns a plausible Indonesian mobile number in E.164.
func newPhoneNumber() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9e8))
	return fmt.Sprintf("+628%d", n.Int64()+1e8)
}

// newInternalID imitates Kirim's internal customer ids (a UUID), which setup links carry.
func newInternalID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
