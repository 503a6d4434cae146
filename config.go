package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store/secret"
)

// Config is every setting of the portal: defaults, then environment, then flags.
type Config struct {
	Addr            string
	DataDir         string
	PublicURL       string
	SecretKey       string // base64; empty means generate one into DataDir
	OldSecretKeys   string // comma-separated keys from before a rotation
	LogFormat       string
	TrustedProxies  string
	KirimAPIKey     string
	KirimBaseURL    string
	SMTPURL         string
	MailFrom        string
	ReconcileEvery  string
	KirimTimeout    string
	ShutdownTimeout time.Duration
}

// setting describes one configuration variable; flag is empty for secrets, which are
// read from the environment only (a flag would show in `ps`).
type setting struct {
	env, flag, def, usage string
	dst                   *string
}

func (c *Config) settings() []setting {
	return []setting{
		{"PORTAL_ADDR", "addr", ":8080", "address to listen on", &c.Addr},
		{"PORTAL_DATA_DIR", "data-dir", "./data", "directory for portal.db, the generated secret key and the sandbox state", &c.DataDir},
		{"PORTAL_PUBLIC_URL", "public-url", "http://localhost:8080", "URL where browsers reach the portal (links in emails, Kirim redirects)", &c.PublicURL},
		{"PORTAL_SECRET_KEY", "", "", "base64 master key, 32+ random bytes (env only; generated into the data dir when unset)", &c.SecretKey},
		{"PORTAL_OLD_SECRET_KEYS", "", "", "comma-separated previous master keys, still used to read old data (env only)", &c.OldSecretKeys},
		{"PORTAL_LOG_FORMAT", "log-format", "text", "log format: text or json", &c.LogFormat},
		{"PORTAL_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated proxy IPs/CIDRs whose X-Forwarded-For is trusted", &c.TrustedProxies},
		{"KIRIM_API_KEY", "", "", "Kirim API key (env only; unset runs the built-in sandbox)", &c.KirimAPIKey},
		{"KIRIM_BASE_URL", "kirim-base-url", kirim.DefaultBaseURL, "Kirim API base URL, ending in /v1", &c.KirimBaseURL},
		{"PORTAL_RECONCILE_INTERVAL", "reconcile-interval", "15m", "how often to reconcile the mirror with Kirim (0 turns it off)", &c.ReconcileEvery},
		{"PORTAL_KIRIM_TIMEOUT", "kirim-timeout", "15s", "how long a page waits for Kirim before it says so (1s to 2m)", &c.KirimTimeout},
		{"SMTP_URL", "smtp-url", "", "SMTP server, e.g. smtp://user:pass@host:587 (unset keeps emails in the dev outbox)", &c.SMTPURL},
		{"MAIL_FROM", "mail-from", "", "sender address of emails, e.g. Onboarding <onboarding@example.com>", &c.MailFrom},
	}
}

// configError names the variable at fault; main prints it on one line and exits 2.
type configError struct {
	name string
	msg  string
}

func (e *configError) Error() string { return "config: " + e.name + ": " + e.msg }

// loadConfig reads defaults, then getenv, then flags from args. It returns the
// arguments left after the flags.
func loadConfig(name string, args []string, getenv func(string) string, out io.Writer) (Config, []string, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	for _, s := range c.settings() {
		*s.dst = s.def
		if v, ok := lookup(getenv, s.env); ok {
			*s.dst = v
		}
		if s.flag != "" {
			fs.StringVar(s.dst, s.flag, *s.dst, s.usage+" ("+s.env+")")
		}
	}
	c.ShutdownTimeout = 20 * time.Second
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: portal %s [flags]\n\nFlags override environment variables, which override defaults.\n\n", name)
		fs.PrintDefaults()
		fmt.Fprintf(out, "\nEnvironment only (secrets):\n")
		for _, s := range c.settings() {
			if s.flag == "" {
				fmt.Fprintf(out, "  %s\n    \t%s\n", s.env, s.usage)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	return c, fs.Args(), c.validate()
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

func (c *Config) validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return &configError{"PORTAL_ADDR", "must be host:port, e.g. :8080 or 127.0.0.1:8080"}
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return &configError{"PORTAL_PUBLIC_URL", "must be an absolute http(s) URL without query or fragment"}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return &configError{"PORTAL_LOG_FORMAT", "must be text or json"}
	}
	if c.SecretKey != "" {
		if _, err := secret.ParseKey(c.SecretKey); err != nil {
			return &configError{"PORTAL_SECRET_KEY", err.Error() + " (generate one with: openssl rand -base64 32)"}
		}
	}
	for _, k := range c.oldKeys() {
		if _, err := secret.ParseKey(k); err != nil {
			return &configError{"PORTAL_OLD_SECRET_KEYS", err.Error()}
		}
	}
	for _, p := range c.trustedProxies() {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return &configError{"PORTAL_TRUSTED_PROXIES", "not an IP or CIDR: " + p}
			}
		}
	}
	if c.KirimAPIKey != "" && (strings.ContainsAny(c.KirimAPIKey, " \t\r\n") || len(c.KirimAPIKey) < 8) {
		return &configError{"KIRIM_API_KEY", "malformed key (expected something like kdv_live_…)"}
	}
	if _, err := kirim.New(c.KirimBaseURL, ""); err != nil {
		return &configError{"KIRIM_BASE_URL", "must be an absolute http(s) URL, e.g. " + kirim.DefaultBaseURL}
	}
	if d, err := time.ParseDuration(c.ReconcileEvery); err != nil || (d != 0 && d < time.Minute) {
		return &configError{"PORTAL_RECONCILE_INTERVAL", "must be a duration of at least 1m, like 15m, or 0 to turn it off"}
	}
	if d, err := time.ParseDuration(c.KirimTimeout); err != nil || d < time.Second || d > 2*time.Minute {
		return &configError{"PORTAL_KIRIM_TIMEOUT", "must be a duration from 1s to 2m, like 15s"}
	}
	if c.SMTPURL != "" {
		u, err := url.Parse(c.SMTPURL)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return &configError{"SMTP_URL", "must look like smtp://user:pass@host:587 or smtps://host:465"}
		}
	}
	if c.MailFrom != "" {
		if _, err := mail.ParseAddress(c.MailFrom); err != nil || strings.ContainsAny(c.MailFrom, "\r\n") {
			return &configError{"MAIL_FROM", "must be an email address, e.g. Onboarding <onboarding@example.com>"}
		}
	}
	return nil
}

func (c *Config) oldKeys() []string { return splitList(c.OldSecretKeys) }

func (c *Config) trustedProxies() []string { return splitList(c.TrustedProxies) }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// dbPath is the database file inside the data directory.
func (c *Config) dbPath() string { return filepath.Join(c.DataDir, "portal.db") }

// prepareDataDir creates the data directory and checks that the portal may write there.
func (c *Config) prepareDataDir() error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return &configError{"PORTAL_DATA_DIR", "cannot create " + c.DataDir + ": " + errors.Unwrap(err).Error()}
	}
	probe, err := os.CreateTemp(c.DataDir, ".write-test-*")
	if err != nil {
		return &configError{"PORTAL_DATA_DIR", "cannot write to " + c.DataDir + ": " + errors.Unwrap(err).Error()}
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// keyring loads the master key (generating one on the first run) and the old keys.
func (c *Config) keyring() (keys *secret.Keyring, generated bool, err error) {
	var master []byte
	if c.SecretKey != "" {
		master, err = secret.ParseKey(c.SecretKey)
	} else {
		master, generated, err = secret.LoadOrCreate(c.DataDir)
	}
	if err != nil {
		return nil, false, &configError{"PORTAL_SECRET_KEY", err.Error()}
	}
	var old [][]byte
	for _, k := range c.oldKeys() {
		b, _ := secret.ParseKey(k)
		old = append(old, b)
	}
	keys, err = secret.NewKeyring(master, old...)
	return keys, generated, err
}

// reconcileInterval is the validated PORTAL_RECONCILE_INTERVAL.
func (c *Config) reconcileInterval() time.Duration {
	d, _ := time.ParseDuration(c.ReconcileEvery)
	return d
}

// kirimTimeout is the validated PORTAL_KIRIM_TIMEOUT.
func (c *Config) kirimTimeout() time.Duration {
	d, _ := time.ParseDuration(c.KirimTimeout)
	return d
}
