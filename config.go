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

// Config is every setting of the portal: defaults, then environment, then flags, each
// parsed and checked once into its type.
type Config struct {
	Addr      string
	DataDir   string
	PublicURL *url.URL
	// SecretKey is the master key (nil: generate one into DataDir); OldSecretKeys are
	// keys from before a rotation, still used to read old data.
	SecretKey      []byte
	OldSecretKeys  [][]byte
	LogFormat      string
	TrustedProxies []string
	KirimAPIKey    string
	KirimBaseURL   *url.URL
	// SMTPURL is nil when emails stay in the dev outbox.
	SMTPURL  *url.URL
	MailFrom string
	// AlertWebhook is the team channel's webhook (nil: the follow-up page's setting).
	AlertWebhook    *url.URL
	ReconcileEvery  time.Duration
	KirimTimeout    time.Duration
	ShutdownTimeout time.Duration
}

// setting describes one configuration variable; flag is empty for secrets, which are
// read from the environment only (a flag would show in `ps`). parse checks the text and
// sets the field.
type setting struct {
	env, flag, def, usage string
	parse                 func(c *Config, v string) error
}

var settings = []setting{
	{"PORTAL_ADDR", "addr", ":8080", "address to listen on", func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("must be host:port, e.g. :8080 or 127.0.0.1:8080")
		}
		c.Addr = v
		return nil
	}},
	{"PORTAL_DATA_DIR", "data-dir", "./data", "directory for portal.db, the generated secret key and the sandbox state", func(c *Config, v string) error {
		c.DataDir = v
		return nil
	}},
	{"PORTAL_PUBLIC_URL", "public-url", "http://localhost:8080", "URL where browsers reach the portal (links in emails, Kirim redirects)", func(c *Config, v string) error {
		u, err := url.Parse(strings.TrimRight(v, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return errors.New("must be an absolute http(s) URL without query or fragment")
		}
		c.PublicURL = u
		return nil
	}},
	{"PORTAL_SECRET_KEY", "", "", "base64 master key, 32+ random bytes (env only; generated into the data dir when unset)", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		key, err := secret.ParseKey(v)
		if err != nil {
			return fmt.Errorf("%w (generate one with: openssl rand -base64 32)", err)
		}
		c.SecretKey = key
		return nil
	}},
	{"PORTAL_OLD_SECRET_KEYS", "", "", "comma-separated previous master keys, still used to read old data (env only)", func(c *Config, v string) error {
		for _, k := range splitList(v) {
			key, err := secret.ParseKey(k)
			if err != nil {
				return err
			}
			c.OldSecretKeys = append(c.OldSecretKeys, key)
		}
		return nil
	}},
	{"PORTAL_LOG_FORMAT", "log-format", "text", "log format: text or json", func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return errors.New("must be text or json")
		}
		c.LogFormat = v
		return nil
	}},
	{"PORTAL_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated proxy IPs/CIDRs whose X-Forwarded-For is trusted", func(c *Config, v string) error {
		for _, p := range splitList(v) {
			if net.ParseIP(p) == nil {
				if _, _, err := net.ParseCIDR(p); err != nil {
					return errors.New("not an IP or CIDR: " + p)
				}
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
		return nil
	}},
	{"KIRIM_API_KEY", "", "", "Kirim API key (env only; unset runs the built-in sandbox)", func(c *Config, v string) error {
		if v != "" && (strings.ContainsAny(v, " \t\r\n") || len(v) < 8) {
			return errors.New("malformed key (expected something like kdv_live_…)")
		}
		c.KirimAPIKey = v
		return nil
	}},
	{"KIRIM_BASE_URL", "kirim-base-url", kirim.DefaultBaseURL, "Kirim API base URL, ending in /v1", func(c *Config, v string) error {
		u, err := url.Parse(strings.TrimRight(v, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("must be an absolute http(s) URL, e.g. " + kirim.DefaultBaseURL)
		}
		c.KirimBaseURL = u
		return nil
	}},
	{"PORTAL_RECONCILE_INTERVAL", "reconcile-interval", "15m", "how often to reconcile the mirror with Kirim (0 turns it off)", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || (d != 0 && d < time.Minute) {
			return errors.New("must be a duration of at least 1m, like 15m, or 0 to turn it off")
		}
		c.ReconcileEvery = d
		return nil
	}},
	{"PORTAL_KIRIM_TIMEOUT", "kirim-timeout", "15s", "how long one Kirim call may take, retries included (1s to 2m)", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 2*time.Minute {
			return errors.New("must be a duration from 1s to 2m, like 15s")
		}
		c.KirimTimeout = d
		return nil
	}},
	{"SMTP_URL", "smtp-url", "", "SMTP server, e.g. smtp://user:pass@host:587 (unset keeps emails in the dev outbox)", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return errors.New("must look like smtp://user:pass@host:587 or smtps://host:465")
		}
		c.SMTPURL = u
		return nil
	}},
	{"PORTAL_ALERT_WEBHOOK_URL", "", "", "team channel for alerts, a Slack-compatible webhook (env only: it holds a token; unset: the follow-up page's setting)", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("must be an absolute https URL, e.g. https://hooks.slack.com/services/…")
		}
		c.AlertWebhook = u
		return nil
	}},
	{"MAIL_FROM", "mail-from", "", "sender address of emails, e.g. Onboarding <onboarding@example.com>", func(c *Config, v string) error {
		if v != "" {
			if _, err := mail.ParseAddress(v); err != nil || strings.ContainsAny(v, "\r\n") {
				return errors.New("must be an email address, e.g. Onboarding <onboarding@example.com>")
			}
		}
		c.MailFrom = v
		return nil
	}},
}

// configError names the variable at fault; main prints it on one line and exits 2.
type configError struct {
	name string
	msg  string
}

func (e *configError) Error() string { return "config: " + e.name + ": " + e.msg }

// loadConfig reads defaults, then getenv, then flags from args, and parses each. It
// returns the arguments left after the flags.
func loadConfig(name string, args []string, getenv func(string) string, out io.Writer) (Config, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	raw := make([]string, len(settings))
	for i, s := range settings {
		raw[i] = s.def
		if v, ok := lookup(getenv, s.env); ok {
			raw[i] = v
		}
		if s.flag != "" {
			fs.StringVar(&raw[i], s.flag, raw[i], s.usage+" ("+s.env+")")
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: portal %s [flags]\n\nFlags override environment variables, which override defaults.\n\n", name)
		fs.PrintDefaults()
		fmt.Fprintf(out, "\nEnvironment only (secrets):\n")
		for _, s := range settings {
			if s.flag == "" {
				fmt.Fprintf(out, "  %s\n    \t%s\n", s.env, s.usage)
			}
		}
	}
	c := Config{ShutdownTimeout: 20 * time.Second}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	for i, s := range settings {
		if err := s.parse(&c, raw[i]); err != nil {
			return c, nil, &configError{s.env, err.Error()}
		}
	}
	return c, fs.Args(), nil
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

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
	master := c.SecretKey
	if master == nil {
		if master, generated, err = secret.LoadOrCreate(c.DataDir); err != nil {
			return nil, false, &configError{"PORTAL_SECRET_KEY", err.Error()}
		}
	}
	keys, err = secret.NewKeyring(master, c.OldSecretKeys...)
	return keys, generated, err
}
