package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// peakRSS reads a process's peak resident set (VmHWM), in MiB.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(t, err)
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return kb / 1024
}

// TestSignInUnderLoadKeepsMemoryBounded: 200 sign-ins at once, each from another client
// (behind the trusted proxy) for another account, so that no throttle stops them: the
// password checks queue for their few slots, and the portal's peak memory stays under
// 400 MiB (each check takes 64 MiB; unbounded, 40 at once took 2.6 GiB).
func TestSignInUnderLoadKeepsMemoryBounded(t *testing.T) {
	addr, err := freeAddr()
	must(t, err)
	dir := t.TempDir()
	p, err := runPortal(addr, dir, filepath.Join(dir, "portal.log"), "KIRIM_API_KEY=", "PORTAL_TRUSTED_PROXIES=127.0.0.1")
	must(t, err)
	defer p.stop()
	base := "http://" + addr
	const n = 200
	type attempt struct {
		c    *http.Client
		csrf string
	}
	attempts := make([]attempt, n)
	csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	for i := range attempts {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(base + "/login")
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		attempts[i] = attempt{c, csrf.FindStringSubmatch(string(body))[1]}
	}
	before := peakRSS(t, p.cmd.Process.Pid)
	var mu sync.Mutex
	statuses := map[int]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"email": {"load" + strconv.Itoa(i) + "@example.test"}, "password": {"a wrong password"}, "_csrf": {a.csrf}}
			req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.%d.%d", i/250, i%250+1))
			<-start
			resp, err := a.c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	peak := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("peak RSS %d MiB before, %d MiB after %d sign-ins at once; answers %v", before, peak, n, statuses)
	if statuses[http.StatusUnauthorized] == 0 || statuses[http.StatusUnauthorized]+statuses[http.StatusServiceUnavailable] != n {
		t.Fatalf("answers %v: want each checked (401) or told the portal is busy (503)", statuses)
	}
	if peak >= 400 {
		t.Fatalf("peak RSS %d MiB, want under 400 MiB", peak)
	}
}
