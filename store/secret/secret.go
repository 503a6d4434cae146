// Package secret derives the portal's keys from one master secret and seals stored
// secrets (setup URLs, webhook secrets) with AES-256-GCM.
//
// Each purpose gets its own key through HKDF, so the cookie keys never encrypt data and
// the data key never signs cookies. A sealed value starts with a key id, so after a
// rotation the old master (kept as an "old key") still opens old rows.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// MinKeyLen is the shortest master key accepted, in bytes.
const MinKeyLen = 32

// version is the first byte of every sealed value.
const version = 1

// ErrOpen is returned when a sealed value does not open: tampered, moved to another row,
// or sealed under a key this keyring does not hold.
var ErrOpen = errors.New("secret: sealed value does not open")

// GenerateKey returns a fresh 32-byte master key, base64 encoded.
func GenerateKey() string {
	b := make([]byte, MinKeyLen)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return base64.StdEncoding.EncodeToString(b)
}

// ParseKey decodes a base64 (standard or URL alphabet, padded or not) master key and
// checks its length. The error never repeats the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) < MinKeyLen {
				return nil, fmt.Errorf("key is %d bytes, need at least %d random bytes", len(b), MinKeyLen)
			}
			return b, nil
		}
	}
	return nil, errors.New("key is not valid base64")
}

type dataKey struct {
	id   uint32
	aead cipher.AEAD
}

// Keyring holds the current master key and any older ones still needed to read old rows.
type Keyring struct {
	master  []byte
	old     [][]byte
	current dataKey
	byID    map[uint32]dataKey
}

// NewKeyring builds a keyring. New values are sealed with master; old keys only open.
func NewKeyring(master []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{master: master, old: old, byID: map[uint32]dataKey{}}
	for i, m := range append([][]byte{master}, old...) {
		if len(m) < MinKeyLen {
			return nil, fmt.Errorf("secret: key %d is shorter than %d bytes", i, MinKeyLen)
		}
		dk, err := newDataKey(m)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			k.current = dk
		}
		if _, dup := k.byID[dk.id]; !dup {
			k.byID[dk.id] = dk
		}
	}
	return k, nil
}

func derive(master []byte, purpose string, n int) []byte {
	b, err := hkdf.Key(sha256.New, master, nil, "kirim-portal "+purpose, n)
	if err != nil {
		panic(err) // only for n beyond 255*32 bytes
	}
	return b
}

func newDataKey(master []byte) (dataKey, error) {
	block, err := aes.NewCipher(derive(master, "data-encryption v1", 32))
	if err != nil {
		return dataKey{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return dataKey{}, err
	}
	id := binary.BigEndian.Uint32(derive(master, "data-key-id v1", 4))
	return dataKey{id: id, aead: aead}, nil
}

// SessionKeys returns hash/block key pairs for gorilla/securecookie: the current pair
// first, then one pair per old key, so cookies issued before a rotation still decode.
func (k *Keyring) SessionKeys() [][]byte {
	var pairs [][]byte
	for _, m := range append([][]byte{k.master}, k.old...) {
		pairs = append(pairs, derive(m, "session-auth v1", 64), derive(m, "session-encrypt v1", 32))
	}
	return pairs
}

// Seal encrypts plaintext bound to aad (the row it belongs to): the result opens only
// with the same aad. Layout: version(1) | key id(4) | nonce(12) | ciphertext+tag.
func (k *Keyring) Seal(plaintext, aad []byte) []byte {
	ns := k.current.aead.NonceSize()
	out := make([]byte, 5+ns, 5+ns+len(plaintext)+k.current.aead.Overhead())
	out[0] = version
	binary.BigEndian.PutUint32(out[1:5], k.current.id)
	rand.Read(out[5 : 5+ns])
	return k.current.aead.Seal(out, out[5:5+ns], plaintext, append(out[:5:5], aad...))
}

// Open decrypts a value made by Seal with the same aad.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 5 || sealed[0] != version {
		return nil, ErrOpen
	}
	dk, ok := k.byID[binary.BigEndian.Uint32(sealed[1:5])]
	if !ok {
		return nil, ErrOpen
	}
	ns := dk.aead.NonceSize()
	if len(sealed) < 5+ns+dk.aead.Overhead() {
		return nil, ErrOpen
	}
	header := sealed[:5:5]
	pt, err := dk.aead.Open(nil, sealed[5:5+ns], sealed[5+ns:], append(header, aad...))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
