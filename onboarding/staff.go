package onboarding

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
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
