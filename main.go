// Command portal is the Kirim Onboarding Portal: a self-hosted web app that onboards a
// platform's customers onto WhatsApp through the Kirim API.
//
//	portal [serve]            run the portal (the default)
//	portal migrate            apply database migrations and exit
//	portal user add|list      manage staff users
//	portal backup FILE        write a consistent copy of the database
//	portal sandbox            run a local Kirim for scripts and tests
//	portal healthcheck        probe the local portal's /healthz (for Docker)
//	portal version            print the version
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/sandbox"
	"github.com/kirim-portal/portal/mail"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/static"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
	"github.com/kirim-portal/portal/web"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

const usage = `Usage: portal [command] [flags]

Commands:
  serve              run the portal (default)
  migrate            apply database migrations and exit
  user add --email E [--password-stdin]
                     create a staff user (prints a generated password once unless
                     --password-stdin reads one from standard input)
  user list          list staff users
  backup FILE        write a consistent copy of the database (never overwrites)
  import FILE.csv [--send-links] [--dry-run]
                     import customers from a CSV file (the imports page's columns),
                     printing progress; exit 0 only when no row failed or was rejected
  token add --name NAME --scope read|write
                     make an API token for the platform's backend (printed once)
  token list         list API tokens
  token revoke ID    revoke an API token at once
  sandbox [--addr ADDR] [--api-key KEY] [--data FILE] [--variant LIST] [--seed N]
                     run a local Kirim API and hosted signup page; --variant strict
                     takes the other legal choice wherever Kirim's docs are silent
  healthcheck        exit 0 when the local portal answers /healthz (for Docker)
  version            print the version

Run "portal serve --help" for the configuration variables.
`

// cli runs one command and returns the process exit status: 0 done, 1 failed,
// 2 bad usage or configuration.
func cli(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = withConfig(ctx, "serve", args, getenv, stderr, func(cfg Config, log *slog.Logger, _ []string) error {
			return serve(ctx, cfg, log, nil)
		})
	case "migrate":
		err = withConfig(ctx, "migrate", args, getenv, stderr, func(cfg Config, log *slog.Logger, _ []string) error {
			return migrate(ctx, cfg, stdout)
		})
	case "user":
		err = userCommand(ctx, args, getenv, stdin, stdout, stderr)
	case "backup":
		err = withConfig(ctx, "backup", args, getenv, stderr, func(cfg Config, log *slog.Logger, rest []string) error {
			if len(rest) != 1 {
				return usageError("backup needs one argument: the file to write")
			}
			return backup(ctx, cfg, rest[0], stdout)
		})
	case "import":
		err = importCommand(ctx, args, getenv, stdout, stderr)
	case "token":
		err = tokenCommand(ctx, args, getenv, stdout, stderr)
	case "sandbox":
		err = sandboxCommand(ctx, args, stdout, stderr)
	case "healthcheck":
		err = withConfig(ctx, "healthcheck", args, getenv, stderr, func(cfg Config, _ *slog.Logger, _ []string) error {
			return healthcheck(ctx, cfg)
		})
	case "version":
		fmt.Fprintln(stdout, "portal", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "portal: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ce *configError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ce), errors.As(err, &ue):
		fmt.Fprintln(stderr, "portal:", err)
		return 2
	case strings.HasPrefix(err.Error(), "flag provided but not defined"), strings.HasPrefix(err.Error(), "invalid value"):
		return 2
	default:
		fmt.Fprintln(stderr, "portal:", err)
		return 1
	}
}

type usageError string

func (e usageError) Error() string { return string(e) }

// withConfig loads the configuration and a logger, prepares the data directory, then
// runs fn.
func withConfig(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer,
	fn func(Config, *slog.Logger, []string) error) error {
	cfg, rest, err := loadConfig(name, args, getenv, stderr)
	if err != nil {
		return err
	}
	if err := cfg.prepareDataDir(); err != nil {
		return err
	}
	return fn(cfg, newLogger(cfg.LogFormat, stderr), rest)
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// serve runs the portal until ctx ends, then shuts down gracefully: in-flight requests
// finish, the database closes. ready, when set, is told the address it listens on.
func serve(ctx context.Context, cfg Config, log *slog.Logger, ready func(addr string)) error {
	// A soft memory limit makes the garbage collector return the password checks'
	// memory (64 MiB each) before the heap doubles; GOMEMLIMIT overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	keys, generated, err := cfg.keyring()
	if err != nil {
		return err
	}
	if generated {
		log.Info("generated a new secret key", "file", filepath.Join(cfg.DataDir, secret.KeyFileName))
	}
	db, err := store.Open(ctx, cfg.dbPath(), keys)
	if err != nil {
		return err
	}
	defer db.Close()

	kc, sb, err := kirimClient(ctx, cfg, log)
	if err != nil {
		return err
	}
	if sb != nil {
		defer sb.Close()
	}
	assets, err := static.Load()
	if err != nil {
		return err
	}
	mailCfg, stopMail, err := startMail(ctx, cfg, db, log)
	if err != nil {
		return err
	}
	// Stop the worker after the web server, before the database closes.
	defer stopMail()
	jc, workers, err := jobs.Open(ctx, db.SQL(), jobs.Config{Periodic: onboarding.Periodic(cfg.ReconcileEvery), Log: log})
	if err != nil {
		return err
	}
	alertHook := ""
	if cfg.AlertWebhook != nil {
		alertHook = cfg.AlertWebhook.String()
	}
	ob := onboarding.New(onboarding.Deps{DB: db, Kirim: kc, PublicURL: cfg.PublicURL.String(), Log: log, Mail: mailCfg, Jobs: jc, Words: web.Words,
		AlertWebhookURL: alertHook})
	ob.RegisterWorkers(workers)
	if err := ob.ReportUnsettled(ctx); err != nil {
		return err
	}
	if err := jc.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	// Jobs stop (those running finish, within the shutdown timeout) before the
	// database closes.
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		jc.Stop(sctx)
	}()
	wcfg := web.Config{PublicURL: cfg.PublicURL.String(), TrustedProxies: cfg.TrustedProxies}
	if sb != nil {
		wcfg.Sandbox = sb
	}
	srv := web.New(wcfg, web.Deps{DB: db, Onboarding: ob, Assets: assets, Keys: keys, Log: log})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return &configError{"PORTAL_ADDR", err.Error()}
	}
	log.Info("portal listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL.String(), "version", version)
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// startMail starts the SMTP worker, or, without SMTP_URL, says that emails stay in the
// dev outbox. stop ends the worker.
func startMail(ctx context.Context, cfg Config, db *store.DB, log *slog.Logger) (m onboarding.Mail, stop func(), err error) {
	m = onboarding.Mail{From: cfg.MailFrom, Renderer: web.EmailRenderer()}
	if cfg.SMTPURL == nil {
		m.DevOutbox = true
		log.Warn("SMTP_URL is not set: emails are kept in the dev outbox at /admin/outbox and NOT sent")
		return m, func() {}, nil
	}
	smtp, err := mail.ParseURL(cfg.SMTPURL.String())
	if err != nil {
		return m, nil, &configError{"SMTP_URL", err.Error()}
	}
	worker := &mail.Worker{DB: db, Sender: smtp, Log: log}
	m.Wake = worker.Wake
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { worker.Run(wctx); close(done) }()
	log.Info("sending email through SMTP", "server", smtp.String())
	return m, func() { cancel(); <-done }, nil
}

// defaultMemoryLimit is the soft memory limit unless GOMEMLIMIT sets one.
const defaultMemoryLimit = 256 << 20

// kirimClient returns the client for the configured Kirim, or, without an API key, for
// a sandbox started in-process (its API on a loopback port, its hosted page mounted
// under /sandbox of the portal).
func kirimClient(ctx context.Context, cfg Config, log *slog.Logger) (*kirim.Client, *sandbox.Sandbox, error) {
	if cfg.KirimAPIKey != "" {
		kc, err := kirim.New(cfg.KirimBaseURL.String(), cfg.KirimAPIKey, kirim.WithUserAgent("kirim-portal/"+version), kirim.WithMaxElapsed(cfg.KirimTimeout))
		if err != nil {
			return nil, nil, err
		}
		// Pace from the start at the plan's real limits (the headers refine them later).
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			me, err := kc.Me(ctx)
			if err != nil {
				log.Warn("could not read Kirim rate limits from /me; using the defaults", "err", err)
				return
			}
			kc.SetRateLimits(me.RateLimits.ReadPerMinute, me.RateLimits.WritePerMinute)
			log.Info("connected to Kirim", "organization", me.Organization.Name, "tier", me.RateLimits.Tier)
		}()
		return kc, nil, nil
	}
	key := "kdv_live_" + secret.NewToken(18)
	sb, err := sandbox.New(sandbox.Options{
		APIKey:    key,
		DataFile:  filepath.Join(cfg.DataDir, "sandbox.json"),
		PublicURL: cfg.PublicURL.String() + "/sandbox",
		Logger:    log,
	})
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sb.Close()
		return nil, nil, err
	}
	hs := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	kc, err := kirim.New("http://"+ln.Addr().String()+"/v1", key, kirim.WithMaxElapsed(cfg.KirimTimeout))
	log.Warn("KIRIM_API_KEY is not set: using the built-in Kirim sandbox; no real WhatsApp number can be connected",
		"hosted_pages", cfg.PublicURL.String()+"/sandbox/onboard/")
	return kc, sb, err
}

// healthcheck asks the portal on this machine for /healthz; the container image has no
// curl, so the binary probes itself.
func healthcheck(ctx context.Context, cfg Config) error {
	_, port, _ := net.SplitHostPort(cfg.Addr)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	return nil
}

func migrate(ctx context.Context, cfg Config, stdout io.Writer) error {
	db, err := store.Open(ctx, cfg.dbPath(), nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := jobs.Migrate(ctx, db.SQL()); err != nil {
		return err
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is at schema version %d (and the job tables are up to date)\n", cfg.dbPath(), v)
	return nil
}

func backup(ctx context.Context, cfg Config, path string, stdout io.Writer) error {
	if _, err := os.Stat(cfg.dbPath()); err != nil {
		return fmt.Errorf("no database at %s", cfg.dbPath())
	}
	db, err := store.Open(ctx, cfg.dbPath(), nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Backup(ctx, path); err != nil {
		return err
	}
	copyDB, err := store.Open(ctx, path, nil)
	if err != nil {
		return err
	}
	defer copyDB.Close()
	verdict, err := copyDB.IntegrityCheck(ctx)
	if err != nil || verdict != "ok" {
		return fmt.Errorf("backup %s fails its integrity check: %s %v", path, verdict, err)
	}
	fmt.Fprintf(stdout, "backup written to %s (integrity check: ok)\n", path)
	return nil
}

func userCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("user needs a subcommand: add or list")
	}
	switch sub, args := args[0], args[1:]; sub {
	case "add":
		return userAdd(ctx, args, getenv, stdin, stdout, stderr)
	case "list":
		return withConfig(ctx, "user list", args, getenv, stderr, func(cfg Config, _ *slog.Logger, _ []string) error {
			return userList(ctx, cfg, stdout)
		})
	default:
		return usageError("user: unknown subcommand " + sub + " (add or list)")
	}
}

// userAdd creates a staff user, with a generated password unless --password-stdin.
func userAdd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the staff member's email address")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	// The remaining flags are the portal's configuration (data dir and so on).
	cfgArgs, err := splitFlags(args, "email=", "password-stdin")
	if err != nil {
		return err
	}
	if err := fs.Parse(cfgArgs.own); err != nil {
		return err
	}
	addr, err := onboarding.StaffEmail(*email)
	if err != nil {
		return usageError("user add: --email: " + err.Error())
	}
	password, generated := secret.NewPassword(), true
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		password, generated = strings.TrimRight(line, "\r\n"), false
		if err := onboarding.CheckPassword(password); err != nil {
			return usageError("user add: the password: " + err.Error())
		}
	}
	return withConfig(ctx, "user add", cfgArgs.rest, getenv, stderr, func(cfg Config, _ *slog.Logger, _ []string) error {
		db, err := store.Open(ctx, cfg.dbPath(), nil)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.CreateUser(ctx, addr, secret.HashPassword(password)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("a staff user with the email %s already exists", addr)
			}
			return err
		}
		fmt.Fprintf(stdout, "staff user %s created\n", addr)
		if generated {
			fmt.Fprintf(stdout, "password (shown once, store it now): %s\n", password)
		}
		return nil
	})
}

// userList prints the staff users.
func userList(ctx context.Context, cfg Config, stdout io.Writer) error {
	db, err := store.Open(ctx, cfg.dbPath(), nil)
	if err != nil {
		return err
	}
	defer db.Close()
	users, err := db.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(stdout, "no staff users yet: add one with  portal user add --email you@example.com")
	}
	for _, u := range users {
		last := "never"
		if u.LastLoginAt != nil {
			last = u.LastLoginAt.Format(time.RFC3339)
		}
		role := u.Role
		if u.DisabledAt != nil {
			role += " (disabled)"
		}
		fmt.Fprintf(stdout, "%s\t%s\tcreated %s\tlast sign-in %s\n", u.Email, role, u.CreatedAt.Format(time.RFC3339), last)
	}
	return nil
}

type splitArgs struct{ own, rest []string }

// splitFlags separates a subcommand's own flags (a name ending in "=" takes a value)
// from the configuration flags.
func splitFlags(args []string, own ...string) (splitArgs, error) {
	var s splitArgs
	for i := 0; i < len(args); i++ {
		name := strings.TrimLeft(args[i], "-")
		name, _, hasValue := strings.Cut(name, "=")
		mine, valued := false, false
		for _, o := range own {
			base, takesValue := strings.CutSuffix(o, "=")
			if name == base {
				mine, valued = true, takesValue
			}
		}
		if !mine {
			s.rest = append(s.rest, args[i])
			continue
		}
		s.own = append(s.own, args[i])
		if valued && !hasValue {
			if i+1 >= len(args) {
				return s, usageError("--" + name + " needs a value")
			}
			i++
			s.own = append(s.own, args[i])
		}
	}
	return s, nil
}

func variantNames() string {
	var names []string
	for _, v := range sandbox.Variants[1:] {
		names = append(names, v.Name)
	}
	return strings.Join(names, ", ")
}

func sandboxCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on")
	key := fs.String("api-key", "", "the API key to accept (default: a generated one, printed)")
	data := fs.String("data", "", "file that keeps the sandbox's state across restarts (default: memory only)")
	seed := fs.Int("seed", 0, "start with this many customers (for load and fault tests)")
	variant := fs.String("variant", "", "behave in the other legal ways where Kirim's docs are silent: a comma-separated list of\n"+
		"names (strict = all of them; "+variantNames()+")\nand settings (customer-id=public|internal|none, account-id=account|phone_number_id|none,\n"+
		"reason-param=reason|error|error_code, template-page-size=N, onboarding-reads=N)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	v, err := sandbox.ParseVariant(*variant)
	if err != nil {
		return usageError(err.Error())
	}
	if *key == "" {
		*key = "kdv_live_" + secret.NewToken(18)
	}
	log := newLogger("text", stderr)
	sb, err := sandbox.New(sandbox.Options{APIKey: *key, DataFile: *data, Logger: log, Variant: v})
	if err != nil {
		return err
	}
	defer sb.Close()
	if *seed > 0 {
		sb.SeedCustomers(*seed, "Seeded Customer")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return usageError("sandbox: " + err.Error())
	}
	fmt.Fprintf(stdout, "Kirim sandbox listening\n  KIRIM_BASE_URL=http://%s/v1\n  KIRIM_API_KEY=%s\n", ln.Addr(), *key)
	hs := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
