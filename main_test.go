package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/kirimtest"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// startPortal runs serve on a free port and returns its base URL and a stop function
// that waits for a clean shutdown.
func startPortal(t *testing.T, env map[string]string) (string, func()) {
	t.Helper()
	cfg, _, err := loadConfig("serve", nil, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.prepareDataDir(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() { done <- serve(ctx, cfg, newLogger("text", &logs), func(a string) { addrc <- a }) }()
	select {
	case addr := <-addrc:
		return "http://" + addr, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v\n%s", err, logs.String())
			}
		}
	case err := <-done:
		t.Fatalf("serve stopped at once: %v\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil
}

func TestServeFreshAndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"PORTAL_ADDR": "127.0.0.1:0", "PORTAL_DATA_DIR": dir}
	base, stop := startPortal(t, env)
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	stop()
	for _, f := range []string{"portal.db", secret.KeyFileName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s not created: %v", f, err)
		}
	}
	key1, _ := os.ReadFile(filepath.Join(dir, secret.KeyFileName))

	// Leave a user in the database; a second start must find it and keep the key.
	db, err := store.Open(context.Background(), filepath.Join(dir, "portal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	db.CreateUser(context.Background(), "kept@example.test", "h")
	db.Close()

	base, stop = startPortal(t, env)
	resp, err = http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz after restart: %v %v", resp, err)
	}
	resp.Body.Close()
	stop()
	key2, _ := os.ReadFile(filepath.Join(dir, secret.KeyFileName))
	if !bytes.Equal(key1, key2) {
		t.Fatal("the secret key changed on the second start")
	}
	db, _ = store.Open(context.Background(), filepath.Join(dir, "portal.db"), nil)
	defer db.Close()
	if _, err := db.UserByEmail(context.Background(), "kept@example.test"); err != nil {
		t.Fatalf("the second start lost the data: %v", err)
	}
}

func TestBadConfigExits2(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, []byte("x"), 0o600)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"public URL", map[string]string{"PORTAL_PUBLIC_URL": "not a url"}, "PORTAL_PUBLIC_URL"},
		{"relative public URL", map[string]string{"PORTAL_PUBLIC_URL": "/portal"}, "PORTAL_PUBLIC_URL"},
		{"address", map[string]string{"PORTAL_ADDR": "8080"}, "PORTAL_ADDR"},
		{"short secret key", map[string]string{"PORTAL_SECRET_KEY": "c2hvcnQ="}, "PORTAL_SECRET_KEY"},
		{"not base64 secret key", map[string]string{"PORTAL_SECRET_KEY": "%%%not-a-key%%%"}, "PORTAL_SECRET_KEY"},
		{"log format", map[string]string{"PORTAL_LOG_FORMAT": "xml"}, "PORTAL_LOG_FORMAT"},
		{"data dir not writable", map[string]string{"PORTAL_DATA_DIR": filepath.Join(file, "sub")}, "PORTAL_DATA_DIR"},
		{"Kirim base URL", map[string]string{"KIRIM_BASE_URL": "api.kirimdev.com"}, "KIRIM_BASE_URL"},
		{"Kirim key", map[string]string{"KIRIM_API_KEY": "kdv live with spaces"}, "KIRIM_API_KEY"},
		{"SMTP URL", map[string]string{"SMTP_URL": "http://mail.example.com"}, "SMTP_URL"},
		{"mail from", map[string]string{"MAIL_FROM": "not an address"}, "MAIL_FROM"},
		{"trusted proxies", map[string]string{"PORTAL_TRUSTED_PROXIES": "10.0.0.0/99"}, "PORTAL_TRUSTED_PROXIES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env["PORTAL_DATA_DIR"] == "" {
				tc.env["PORTAL_DATA_DIR"] = t.TempDir()
			}
			var stderr bytes.Buffer
			code := cli(context.Background(), []string{"serve"}, envOf(tc.env), nil, io.Discard, &stderr)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and one line naming %s", code, stderr.String(), tc.want)
			}
			for _, v := range tc.env {
				if strings.Contains(tc.want, "KEY") && strings.Contains(stderr.String(), v) {
					t.Fatalf("the error repeats the secret: %s", stderr.String())
				}
			}
		})
	}
	t.Run("flags override the environment", func(t *testing.T) {
		cfg, _, err := loadConfig("serve", []string{"-addr", "127.0.0.1:9999"}, envOf(map[string]string{"PORTAL_ADDR": "127.0.0.1:1"}), io.Discard)
		if err != nil || cfg.Addr != "127.0.0.1:9999" {
			t.Fatalf("addr %q, %v", cfg.Addr, err)
		}
	})
}

func TestUserAddAndBackup(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"PORTAL_DATA_DIR": dir})
	ctx := context.Background()
	const password = "correct horse battery staple"
	var out, errOut bytes.Buffer
	if code := cli(ctx, []string{"user", "add", "--email", "a@example.test", "--password-stdin"}, env, strings.NewReader(password+"\n"), &out, &errOut); code != 0 {
		t.Fatalf("user add: exit %d: %s", code, errOut.String())
	}
	if code := cli(ctx, []string{"user", "add", "--email", "a@example.test", "--password-stdin"}, env, strings.NewReader(password+"\n"), &out, &errOut); code != 1 {
		t.Fatalf("duplicate user add: exit %d, want 1", code)
	}
	if code := cli(ctx, []string{"user", "add", "--email", "b@example.test", "--password-stdin"}, env, strings.NewReader("short\n"), &out, &errOut); code != 2 {
		t.Fatalf("short password: exit %d, want 2", code)
	}
	out.Reset()
	if code := cli(ctx, []string{"user", "add", "--email=gen@example.test"}, env, nil, &out, &errOut); code != 0 {
		t.Fatalf("user add with a generated password: exit %d: %s", code, errOut.String())
	}
	generated := strings.TrimSpace(out.String()[strings.LastIndex(out.String(), ":")+1:])
	if len(generated) < 20 {
		t.Fatalf("generated password not printed: %q", out.String())
	}
	out.Reset()
	cli(ctx, []string{"user", "list"}, env, nil, &out, &errOut)
	if !strings.Contains(out.String(), "a@example.test\tadmin\t") || !strings.Contains(out.String(), "gen@example.test\tadmin\t") {
		t.Fatalf("user list: %s", out.String())
	}

	db, err := store.Open(ctx, filepath.Join(dir, "portal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.UserByEmail(ctx, "a@example.test")
	if err != nil || secret.CheckPassword(u.PasswordHash, password) != nil {
		t.Fatalf("stored hash does not check: %v", err)
	}
	db.Close()
	var raw []byte
	for _, f := range []string{"portal.db", "portal.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		raw = append(raw, b...)
	}
	if bytes.Contains(raw, []byte(password)) || bytes.Contains(raw, []byte(generated)) {
		t.Fatal("a plaintext password is in the database files")
	}

	backupFile := filepath.Join(t.TempDir(), "out.db")
	if code := cli(ctx, []string{"backup", backupFile}, env, nil, &out, &errOut); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut.String())
	}
	if code := cli(ctx, []string{"backup", backupFile}, env, nil, &out, &errOut); code == 0 {
		t.Fatal("backup overwrote an existing file")
	}
	copyDB, err := store.Open(ctx, backupFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	if res, err := copyDB.IntegrityCheck(ctx); res != "ok" || err != nil {
		t.Fatalf("integrity_check: %q %v", res, err)
	}
	if n, _ := copyDB.CountUsers(ctx); n != 2 {
		t.Fatalf("backup holds %d users, want 2", n)
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSandboxCommand runs `portal sandbox` and walks the onboarding flow against it.
func TestSandboxCommand(t *testing.T) {
	addr := freeAddr(t)
	data := filepath.Join(t.TempDir(), "sandbox.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out bytes.Buffer
	go func() {
		done <- cli(ctx, []string{"sandbox", "--addr", addr, "--api-key", "k", "--data", data}, nil, nil, &out, io.Discard)
	}()
	base := "http://" + addr
	waitFor(t, base+"/v1/health")

	req, _ := http.NewRequest("GET", base+"/v1/customers", nil)
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("right key: %v %v", resp, err)
	}
	resp.Body.Close()
	req.Header.Set("Authorization", "Bearer wrong")
	resp, _ = http.DefaultClient.Do(req)
	var env struct {
		Error struct{ Type, Code string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if resp.StatusCode != 401 || env.Error.Code != "invalid_api_key" {
		t.Fatalf("wrong key: %d %+v", resp.StatusCode, env)
	}

	hc, tr := kirimtest.NewClient(t)
	c, _ := kirim.New(base+"/v1", "k", kirim.WithHTTPClient(hc))
	cu, err := c.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Via CLI"})
	if err != nil {
		t.Fatal(err)
	}
	link, err := c.CreateSetupLink(ctx, cu.ID, kirim.CreateSetupLinkParams{SuccessRedirectURL: "http://localhost/ok"})
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(link.SetupURL.Reveal() + "?outcome=success")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("status") != "success" {
		t.Fatalf("redirect %q", loc)
	}
	got, _ := c.GetCustomer(ctx, cu.ID)
	if got.Status != "active" || len(got.WhatsappAccounts) != 1 {
		t.Fatalf("after connect: %+v", got)
	}

	if tr.Checked < 3 {
		t.Fatalf("only %d exchanges validated against the contract", tr.Checked)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("sandbox exit %d", code)
	}
	if !strings.Contains(out.String(), "KIRIM_BASE_URL=http://"+addr+"/v1") {
		t.Fatalf("sandbox did not print its base URL: %s", out.String())
	}
	// A restarted sandbox keeps its customers.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go cli(ctx2, []string{"sandbox", "--addr", addr, "--api-key", "k", "--data", data}, nil, nil, io.Discard, io.Discard)
	waitFor(t, base+"/v1/health")
	if again, err := c.GetCustomer(ctx2, cu.ID); err != nil || again.Status != "active" {
		t.Fatalf("after restart: %+v, %v", again, err)
	}
}

func waitFor(t *testing.T, u string) {
	t.Helper()
	for range 100 {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered", u)
}

// TestDockerfile checks what the image promises, as far as a machine without Docker
// can: instructions parse, the build is static, the user is not root, /data is a volume,
// the port is exposed and the health check uses a command the image has.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"FROM": true, "WORKDIR": true, "COPY": true, "RUN": true, "ARG": true, "USER": true,
		"ENV": true, "VOLUME": true, "EXPOSE": true, "HEALTHCHECK": true, "ENTRYPOINT": true, "CMD": true}
	var instr []string
	cont := false
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if !cont && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if !cont {
			word := strings.Fields(trimmed)[0]
			if !known[word] {
				t.Fatalf("line %d: unknown instruction %q", i+1, word)
			}
			instr = append(instr, trimmed)
		} else {
			instr[len(instr)-1] += " " + trimmed
		}
		cont = strings.HasSuffix(trimmed, "\\")
	}
	all := strings.Join(instr, "\n")
	froms := 0
	var user string
	for _, in := range instr {
		if strings.HasPrefix(in, "FROM ") {
			froms++
		}
		if strings.HasPrefix(in, "USER ") {
			user = strings.TrimSpace(strings.TrimPrefix(in, "USER "))
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", `VOLUME ["/data"]`, "EXPOSE 8080", `CMD ["/portal", "healthcheck"]`, "ca-certificates.crt"} {
		if !strings.Contains(all, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	if froms < 2 {
		t.Errorf("%d stages, want a multi-stage build", froms)
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("USER %q: the image must not run as root", user)
	}
	// The health check command must exist in the binary.
	var stderr bytes.Buffer
	if code := cli(context.Background(), []string{"healthcheck", "-addr", freeAddr(t)}, envOf(map[string]string{"PORTAL_DATA_DIR": t.TempDir()}), nil, io.Discard, &stderr); code != 1 {
		t.Errorf("healthcheck with nothing listening: exit %d, want 1 (%s)", code, stderr.String())
	}
}

// TestGracefulShutdown: a request in flight when the signal comes still gets its answer,
// and serve returns cleanly afterwards.
func TestGracefulShutdown(t *testing.T) {
	cfg, _, err := loadConfig("serve", nil, envOf(map[string]string{"PORTAL_ADDR": "127.0.0.1:0", "PORTAL_DATA_DIR": t.TempDir()}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.prepareDataDir()
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger("text", io.Discard), func(a string) { addrc <- a }) }()
	addr := <-addrc
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "email=a%40example.test&password=x"
	// Half a request, then the shutdown signal, then the rest.
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:10])
	time.Sleep(100 * time.Millisecond)
	cancel()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("serve returned with a request in flight: %v", err)
	default:
	}
	fmt.Fprint(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden { // no CSRF token: refused, but answered
		t.Fatalf("status %d", resp.StatusCode)
	}
	conn.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestSandboxVariantFlag: `portal sandbox --variant` plays Kirim's other legal choices
// for anyone testing against it; an unknown variant is a usage error.
func TestSandboxVariantFlag(t *testing.T) {
	if code := cli(context.Background(), []string{"sandbox", "--variant", "bogus"}, nil, nil, io.Discard, io.Discard); code != 2 {
		t.Fatalf("an unknown variant: exit %d, want 2", code)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cli(ctx, []string{"sandbox", "--addr", addr, "--api-key", "k", "--variant", "strict,reason-param=error"}, nil, nil, io.Discard, io.Discard)
	base := "http://" + addr
	waitFor(t, base+"/v1/health")
	hc, _ := kirimtest.NewClient(t)
	c, _ := kirim.New(base+"/v1", "k", kirim.WithHTTPClient(hc))
	cu, err := c.CreateCustomer(ctx, kirim.CreateCustomerParams{Name: "Strict"})
	if err != nil {
		t.Fatal(err)
	}
	link, err := c.CreateSetupLink(ctx, cu.ID, kirim.CreateSetupLinkParams{FailureRedirectURL: "http://localhost/failed"})
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(link.SetupURL.Reveal() + "?outcome=fail&reason=signup_cancelled")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if q.Get("customer_id") != link.CustomerID || q.Get("error") != "user_cancelled" || q.Has("reason") {
		t.Fatalf("redirect %v: want the internal customer id and error=user_cancelled", q)
	}
}
