package onboarding

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kirim-portal/portal/store"
)

// Staff accounts: the rules that the first-run link, the account page and the command
// line share.

// MinPasswordLen is the shortest staff password, in characters.
const MinPasswordLen = 12

// maxPasswordBytes bounds a password (hashing a huge one costs too much).
const maxPasswordBytes = 1024

// Errors of the staff rules; their text is what staff read.
var (
	ErrStaffEmail    = errors.New("enter an email address like you@example.com")
	ErrPasswordShort = fmt.Errorf("use at least %d characters", MinPasswordLen)
	ErrPasswordLong  = fmt.Errorf("use at most %d bytes", maxPasswordBytes)
)

// StaffEmail checks and trims a staff member's email address.
func StaffEmail(raw string) (string, error) {
	email := strings.TrimSpace(raw)
	if !ValidEmail(email) {
		return "", ErrStaffEmail
	}
	return email, nil
}

// CheckPassword checks a new staff password: at least MinPasswordLen characters.
func CheckPassword(password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return ErrPasswordShort
	case len(password) > maxPasswordBytes:
		return ErrPasswordLong
	}
	return nil
}

// CreateAPIToken makes a token for the platform's backend and returns it: the only time
// it is seen (only its hash is kept).
func CreateAPIToken(ctx context.Context, db *store.DB, name, scope, actor string) (string, *store.APIToken, error) {
	name = strings.TrimSpace(name)
	errs := FieldErrors{}
	if n := utf8.RuneCountInString(name); n == 0 || n > 100 {
		errs["name"] = "Name the token (at most 100 characters), for example after the system that uses it."
	}
	if scope != store.ScopeRead && scope != store.ScopeWrite {
		errs["scope"] = "Choose read or write."
	}
	if len(errs) > 0 {
		return "", nil, &InvalidError{errs}
	}
	token := store.NewAPITokenSecret()
	t, err := db.CreateAPIToken(ctx, name, scope, token, actor)
	return token, t, err
}
