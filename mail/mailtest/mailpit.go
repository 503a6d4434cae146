// Package mailtest runs Mailpit, a real SMTP server with an HTTP API, for tests.
package mailtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Mailpit is a running Mailpit.
type Mailpit struct {
	t        testing.TB
	bin      string
	SMTPAddr string
	API      string
	cmd      *exec.Cmd
}

// Binary finds the mailpit executable: $MAILPIT, then .tools/bin/mailpit at the module
// root (where scripts/install-e2e-deps.sh puts it), then $PATH.
func Binary() (string, error) {
	if b := os.Getenv("MAILPIT"); b != "" {
		return b, nil
	}
	_, file, _, _ := runtime.Caller(0)
	local := filepath.Join(filepath.Dir(file), "..", "..", ".tools", "bin", "mailpit")
	if _, err := os.Stat(local); err == nil {
		return local, nil
	}
	return exec.LookPath("mailpit")
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start runs Mailpit on free loopback ports until the test ends. Without the binary the
// test is skipped, except under CI, where it fails.
func Start(t testing.TB) *Mailpit {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mailpit is not installed (scripts/install-e2e-deps.sh installs it): %v", err)
		}
		t.Skipf("mailpit is not installed; run scripts/install-e2e-deps.sh: %v", err)
	}
	m := New(t, bin)
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// New prepares a Mailpit on free ports without starting it; t reports its failures (a
// TestMain passes a stand-in).
func New(t testing.TB, bin string) *Mailpit {
	return &Mailpit{t: t, bin: bin, SMTPAddr: freePort(), API: "http://" + freePort()}
}

// Start (re)starts the server on the same ports.
func (m *Mailpit) Start() {
	m.t.Helper()
	if err := m.Run(); err != nil {
		m.t.Fatal(err)
	}
}

// Run starts the server and waits until it answers (for a TestMain, which has no t).
func (m *Mailpit) Run() error {
	m.cmd = exec.Command(m.bin, "--listen", m.API[len("http://"):], "--smtp", m.SMTPAddr,
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--smtp-disable-rdns",
		"--disable-version-check", "--enable-chaos", "--quiet")
	if err := m.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(m.API + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	return fmt.Errorf("mailpit did not start")
}

// For returns the same server reporting to t.
func (m *Mailpit) For(t testing.TB) *Mailpit {
	c := *m
	c.t = t
	return &c
}

// Stop stops the server (SMTP is then down).
func (m *Mailpit) Stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
		m.cmd = nil
	}
}

// URL is the SMTP_URL that reaches this server (plain SMTP, as asked for).
func (m *Mailpit) URL() string { return "smtp://test:test@" + m.SMTPAddr + "?tls=none" }

// Summary is a message in the list.
type Summary struct {
	ID        string
	MessageID string
	Subject   string
	To        []struct{ Address, Name string }
}

// Message is one message in full.
type Message struct {
	ID        string
	MessageID string
	Subject   string
	From      struct{ Address, Name string }
	To        []struct{ Address, Name string }
	Bcc       []struct{ Address, Name string }
	Text      string
	HTML      string
}

// Messages lists the messages received, newest first.
func (m *Mailpit) Messages() []Summary {
	m.t.Helper()
	var out struct{ Messages []Summary }
	m.get("/api/v1/messages", &out)
	return out.Messages
}

// All lists up to 5,000 messages received, newest first.
func (m *Mailpit) All() []Summary {
	m.t.Helper()
	var out struct{ Messages []Summary }
	m.get("/api/v1/messages?limit=5000", &out)
	return out.Messages
}

// Message reads one message.
func (m *Mailpit) Message(id string) Message {
	m.t.Helper()
	var out Message
	m.get("/api/v1/message/"+id, &out)
	return out
}

// WaitFor waits until n messages have arrived and returns them.
func (m *Mailpit) WaitFor(n int, within time.Duration) []Summary {
	m.t.Helper()
	deadline := time.Now().Add(within)
	for {
		msgs := m.Messages()
		if len(msgs) >= n || time.Now().After(deadline) {
			return msgs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Chaos makes the SMTP server refuse recipients with code (0 turns it off).
func (m *Mailpit) Chaos(code int) {
	m.t.Helper()
	prob := 100
	if code == 0 {
		code, prob = 451, 0
	}
	body, _ := json.Marshal(map[string]any{"Recipient": map[string]int{"ErrorCode": code, "Probability": prob}})
	req, _ := http.NewRequest(http.MethodPut, m.API+"/api/v1/chaos", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		m.t.Fatalf("mailpit chaos: %v %v", resp, err)
	}
	resp.Body.Close()
}

func (m *Mailpit) get(path string, out any) {
	m.t.Helper()
	resp, err := http.Get(m.API + path)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		m.t.Fatalf("mailpit %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		m.t.Fatal(fmt.Errorf("mailpit %s: %w", path, err))
	}
}

// Search lists the messages matching a Mailpit query, such as "to:someone@example.com".
func (m *Mailpit) Search(query string) []Summary {
	m.t.Helper()
	var out struct{ Messages []Summary }
	m.get("/api/v1/search?query="+url.QueryEscape(query), &out)
	return out.Messages
}

// WaitForSearch waits until n messages match the query and returns them, newest first.
func (m *Mailpit) WaitForSearch(query string, n int, within time.Duration) []Summary {
	m.t.Helper()
	deadline := time.Now().Add(within)
	for {
		msgs := m.Search(query)
		if len(msgs) >= n || time.Now().After(deadline) {
			return msgs
		}
		time.Sleep(50 * time.Millisecond)
	}
}
