// Package e2e drives real Chromium (through playwright-go) against the real portal
// binary: built from this checkout, started on a free port with a temporary data
// directory and the built-in Kirim sandbox.
package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/kirim-portal/portal/mail/mailtest"
)

const (
	staffEmail    = "staff@example.test"
	staffPassword = "e2e staff password"
)

var (
	mailpit   *mailtest.Mailpit
	portalURL string
	dataDir   string
	// portalBin is the built portal; smtp its SMTP_URL (Mailpit).
	portalBin, smtp string
	pw              *playwright.Playwright
	browser         playwright.Browser
	// skipReason is set when the browser is missing outside CI.
	skipReason string
	expect     = playwright.NewPlaywrightAssertions(10_000)
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "portal-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	dataDir = filepath.Join(tmp, "data")
	bin := filepath.Join(tmp, "portal")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build: %v\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	// Mailpit is the portal's SMTP server in these tests.
	smtpURL := ""
	if bin, err := mailtest.Binary(); err == nil {
		mailpit = mailtest.New(nil, bin)
		if err := mailpit.Run(); err != nil {
			return 0, err
		}
		defer mailpit.Stop()
		smtpURL = mailpit.URL()
	} else if os.Getenv("CI") != "" {
		return 0, fmt.Errorf("mailpit is not installed (scripts/install-e2e-deps.sh): %w", err)
	}
	portalBin, smtp = bin, smtpURL
	portalURL = "http://" + addr
	stopPortal, err := startPortal(addr, dataDir, filepath.Join(tmp, "portal.log"), "KIRIM_API_KEY=")
	if err != nil {
		return 0, err
	}
	defer stopPortal()
	if err := startBrowser(); err != nil {
		if os.Getenv("CI") != "" {
			return 0, fmt.Errorf("browser tests cannot run in CI: %w (run scripts/install-e2e-deps.sh)", err)
		}
		skipReason = err.Error()
	} else {
		defer pw.Stop()
		defer browser.Close()
	}
	return m.Run(), nil
}

// portal is a running portal process.
type portal struct {
	cmd     *exec.Cmd
	logPath string
}

// stop ends the portal gracefully (SIGINT) and waits for it.
func (p *portal) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
	if os.Getenv("E2E_SHOW_LOG") != "" {
		b, _ := os.ReadFile(p.logPath)
		fmt.Fprintf(os.Stderr, "%s", b)
	}
}

// kill ends the portal as a crash would: SIGKILL, no chance to clean up.
func (p *portal) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// log returns what the portal logged so far.
func (p *portal) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// startPortal starts the built portal on addr with a staff user, its data in dir and
// its log in logPath, and waits until it answers. extra adds environment variables.
func startPortal(addr, dir, logPath string, extra ...string) (stop func(), err error) {
	p, err := runPortal(addr, dir, logPath, extra...)
	if err != nil {
		return nil, err
	}
	return p.stop, nil
}

// runPortal is startPortal returning the process.
func runPortal(addr, dir, logPath string, extra ...string) (*portal, error) {
	url := "http://" + addr
	env := append(os.Environ(), "PORTAL_ADDR="+addr, "PORTAL_DATA_DIR="+dir, "PORTAL_PUBLIC_URL="+url,
		"PORTAL_LOG_FORMAT=json", "SMTP_URL="+smtp)
	env = append(env, extra...)
	if _, err := os.Stat(filepath.Join(dir, "portal.db")); err != nil {
		add := exec.Command(portalBin, "user", "add", "--email", staffEmail, "--password-stdin")
		add.Env, add.Stdin = env, strings.NewReader(staffPassword+"\n")
		if out, err := add.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("user add: %v\n%s", err, out)
		}
	}
	srv := exec.Command(portalBin, "serve")
	srv.Env = env
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		return nil, err
	}
	p := &portal{cmd: srv, logPath: logPath}
	if err := waitHealthy(url + "/healthz"); err != nil {
		p.kill()
		return nil, fmt.Errorf("%v\n%s", err, p.log())
	}
	return p, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(u string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("portal did not answer %s", u)
}

// driverDir is where scripts/install-e2e-deps.sh puts the Playwright driver.
func driverDir() string {
	if d := os.Getenv("PLAYWRIGHT_DRIVER_PATH"); d != "" {
		return d
	}
	abs, _ := filepath.Abs("../.tools/pw-driver-1.52.0")
	return abs
}

func startBrowser() error {
	exe := os.Getenv("CHROMIUM_PATH")
	if exe == "" {
		exe = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exe); err != nil {
		return fmt.Errorf("no Chromium at %s", exe)
	}
	var err error
	pw, err = playwright.Run(&playwright.RunOptions{DriverDirectory: driverDir(), SkipInstallBrowsers: true, Verbose: false})
	if err != nil {
		return err
	}
	browser, err = pw.Chromium.Launch(playwright.BrowserTypeLaunchOptions{
		ExecutablePath: playwright.String(exe),
		Headless:       playwright.Bool(true),
		Args: []string{"--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"},
	})
	if err != nil {
		pw.Stop()
	}
	return err
}

// newPage opens a fresh browser context (own cookies) and page.
func newPage(t *testing.T) playwright.Page {
	t.Helper()
	if skipReason != "" {
		t.Skip("browser not available (run scripts/install-e2e-deps.sh): " + skipReason)
	}
	bctx, err := browser.NewContext(playwright.BrowserNewContextOptions{
		Viewport: &playwright.Size{Width: 1280, Height: 900},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bctx.Close() })
	page, err := bctx.NewPage()
	if err != nil {
		t.Fatal(err)
	}
	page.SetDefaultTimeout(15_000)
	// A page that breaks the CSP, throws, or misses a resource fails the test. Form
	// answers with 401, 422 and 429 are expected and the browser reports them too.
	// An expired link's landing page answers 404 on purpose (like an unknown token).
	expected := regexp.MustCompile(`status of (401|422|429|502)`)
	page.On("console", func(m playwright.ConsoleMessage) {
		landing404 := strings.Contains(m.Text(), "status of 404") && strings.Contains(page.URL(), "/onboard/")
		if m.Type() == "error" && !expected.MatchString(m.Text()) && !landing404 {
			t.Errorf("browser console error on %s: %s", page.URL(), m.Text())
		}
	})
	page.On("pageerror", func(err error) { t.Errorf("page error on %s: %v", page.URL(), err) })
	return page
}

// shot saves a full-page screenshot under e2e/screenshots (git-ignored).
func shot(t *testing.T, page playwright.Page, name string) {
	t.Helper()
	os.MkdirAll("screenshots", 0o755)
	if _, err := page.Screenshot(playwright.PageScreenshotOptions{Path: playwright.String(filepath.Join("screenshots", name+".png")), FullPage: playwright.Bool(true)}); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// signIn signs the staff user in on page.
func signIn(t *testing.T, page playwright.Page) { signInAt(t, page, portalURL) }

// signInAt signs the staff user in to the portal at base.
func signInAt(t *testing.T, page playwright.Page, base string) {
	t.Helper()
	_, err := page.Goto(base + "/admin/")
	must(t, err)
	must(t, page.GetByLabel("Email").Fill(staffEmail))
	must(t, page.GetByLabel("Password").Fill(staffPassword))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in"}).Click())
	must(t, expect.Page(page).ToHaveURL(base+"/admin/"))
}

// uniq is a short suffix that keeps names and addresses of one test run apart from
// those of other runs against the same portal.
func uniq() string { return strconv.FormatInt(time.Now().UnixNano()%1_000_000_000, 36) }
