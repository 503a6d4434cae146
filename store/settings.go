package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Branding is how the platform presents itself to its customers: pages and emails.
type Branding struct {
	ProductName      string `json:"product_name"`
	PrimaryColor     string `json:"primary_color"`
	AccentColor      string `json:"accent_color"`
	SupportEmail     string `json:"support_email"`
	SupportURL       string `json:"support_url"`
	SenderName       string `json:"sender_name"`
	SenderAddress    string `json:"sender_address"`
	SubjectEN        string `json:"subject_en"`
	SubjectID        string `json:"subject_id"`
	IntroEN          string `json:"intro_en"`
	IntroID          string `json:"intro_id"`
	DefaultLinkHours int    `json:"default_link_hours"`
	ContinueURL      string `json:"continue_url"`
	// LogoSHA is the hash of the uploaded logo (empty: none); it versions the logo URL.
	// The logo shows on the portal's header, on the primary colour.
	LogoSHA string `json:"logo_sha"`
	// EmailLogoSHA is the hash of the emails' logo: PNG or JPEG, on white.
	EmailLogoSHA string `json:"email_logo_sha,omitempty"`
}

// Brand assets: the portal's logo and the emails' logo.
const (
	AssetLogo      = "logo"
	AssetEmailLogo = "email_logo"
)

// EmailLogoPath is the portal's path of the emails' logo, versioned by its hash, or "".
func (b Branding) EmailLogoPath() string {
	if b.EmailLogoSHA == "" {
		return ""
	}
	return "/brand/email-logo?v=" + b.EmailLogoSHA[:min(12, len(b.EmailLogoSHA))]
}

// LogoPath is the portal's path of the uploaded logo, versioned by its hash, or "".
func (b Branding) LogoPath() string {
	if b.LogoSHA == "" {
		return ""
	}
	return "/brand/logo?v=" + b.LogoSHA[:min(12, len(b.LogoSHA))]
}

// SupportLine is how customers reach the platform's support: the email address, else
// the support page, else fallback.
func (b Branding) SupportLine(fallback string) string {
	switch {
	case b.SupportEmail != "":
		return b.SupportEmail
	case b.SupportURL != "":
		return b.SupportURL
	}
	return fallback
}

// DefaultBranding is what a fresh install looks like.
func DefaultBranding() Branding {
	return Branding{
		ProductName:      "Kirim Portal",
		PrimaryColor:     "#0B6E4F",
		AccentColor:      "#F2A541",
		DefaultLinkHours: 168,
	}
}

// Branding returns the saved branding, or the defaults. It is read on every public page,
// so the store keeps it in memory; its own writers refresh the copy.
func (db *DB) Branding(ctx context.Context) (Branding, error) {
	if b := db.branding.Load(); b != nil {
		return *b, nil
	}
	b, err := db.readBranding(ctx)
	if err == nil {
		db.branding.Store(&b)
	}
	return b, err
}

func (db *DB) readBranding(ctx context.Context) (Branding, error) {
	b := DefaultBranding()
	var raw string
	err := db.queryRow(ctx, `SELECT value FROM settings WHERE key = 'branding'`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return b, nil
	}
	if err != nil {
		return b, fmt.Errorf("store: branding: %w", err)
	}
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		return DefaultBranding(), fmt.Errorf("store: branding: %w", err)
	}
	return b, nil
}

// SaveBranding stores the branding.
func (db *DB) SaveBranding(ctx context.Context, b Branding) error {
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	_, err = db.exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ('branding', ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, string(raw), db.now())
	if err != nil {
		return fmt.Errorf("store: save branding: %w", err)
	}
	db.branding.Store(nil)
	return nil
}

// Asset is an uploaded brand file.
type Asset struct {
	ContentType string
	SHA256      string
	Data        []byte
}

// SaveLogo stores a logo (AssetLogo or AssetEmailLogo) and records its hash in the
// branding, in one transaction.
func (db *DB) SaveLogo(ctx context.Context, name, contentType string, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	b, err := db.Branding(ctx)
	if err != nil {
		return "", err
	}
	if name == AssetEmailLogo {
		b.EmailLogoSHA = sha
	} else {
		b.LogoSHA = sha
	}
	raw, _ := json.Marshal(b)
	err = db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO brand_assets (name, content_type, sha256, data, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET content_type = excluded.content_type, sha256 = excluded.sha256, data = excluded.data,
			updated_at = excluded.updated_at`, name, contentType, sha, data, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ('branding', ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, string(raw), now)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store: save logo: %w", err)
	}
	db.branding.Store(nil)
	return sha, nil
}

// Logo returns an uploaded logo (AssetLogo or AssetEmailLogo).
func (db *DB) Logo(ctx context.Context, name string) (*Asset, error) {
	var a Asset
	err := db.queryRow(ctx, `SELECT content_type, sha256, data FROM brand_assets WHERE name = ?`, name).Scan(&a.ContentType, &a.SHA256, &a.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: logo: %w", err)
	}
	return &a, nil
}
