// Command exportmem measures how much the portal's peak memory grows while it streams
// the customer export, at 1,000 and at 100,000 customers in the same run: the built
// binary runs on a seeded data directory, and its peak resident set (VmHWM) is read
// from /proc before and after one download of /admin/customers/export.csv.
//
//	go run ./scripts/exportmem [-sizes 1000,100000]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
)

func main() {
	sizes := flag.String("sizes", "1000,100000", "customer counts to measure, comma-separated")
	flag.Parse()
	if err := run(strings.Split(*sizes, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "exportmem:", err)
		os.Exit(1)
	}
}

func run(sizes []string) error {
	tmp, err := os.MkdirTemp("", "exportmem-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "portal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	for _, s := range sizes {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		before, after, rows, err := measure(bin, filepath.Join(tmp, s), n)
		if err != nil {
			return err
		}
		fmt.Printf("customers %7d: exported %7d rows; peak RSS %4d MiB before, %4d MiB after: grew %d MiB\n", n, rows, before, after, after-before)
	}
	return nil
}

func measure(bin, dir string, n int) (before, after, rows int, err error) {
	key := secret.GenerateKey()
	if err := seed(dir, key, n); err != nil {
		return 0, 0, 0, err
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	env := append(os.Environ(), "PORTAL_DATA_DIR="+dir, "PORTAL_SECRET_KEY="+key, "PORTAL_ADDR="+addr,
		"PORTAL_PUBLIC_URL=http://"+addr, "KIRIM_API_KEY=", "PORTAL_RECONCILE_INTERVAL=0")
	add := exec.Command(bin, "user", "add", "--email", "staff@export.test", "--password-stdin")
	add.Env, add.Stdin = env, strings.NewReader("export staff password\n")
	if out, err := add.CombinedOutput(); err != nil {
		return 0, 0, 0, fmt.Errorf("user add: %v\n%s", err, out)
	}
	srv := exec.Command(bin, "serve")
	srv.Env = env
	if err := srv.Start(); err != nil {
		return 0, 0, 0, err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	base := "http://" + addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := c.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("the portal did not start")
		}
	}
	page, err := get(c, base+"/login")
	if err != nil {
		return 0, 0, 0, err
	}
	csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		return 0, 0, 0, fmt.Errorf("no sign-in form")
	}
	resp, err := c.PostForm(base+"/login", url.Values{"_csrf": {csrf[1]}, "email": {"staff@export.test"}, "password": {"export staff password"}})
	if err != nil {
		return 0, 0, 0, err
	}
	resp.Body.Close()
	if _, err := get(c, base+"/admin/customers"); err != nil { // warm: templates, statements, caches
		return 0, 0, 0, err
	}
	time.Sleep(time.Second)
	before = peakMiB(srv.Process.Pid)
	resp, err = c.Get(base + "/admin/customers/export.csv")
	if err != nil {
		return 0, 0, 0, err
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		rows++
	}
	resp.Body.Close()
	return before, peakMiB(srv.Process.Pid), rows - 1, sc.Err()
}

func get(c *http.Client, u string) (string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %d", u, resp.StatusCode)
	}
	return string(b), err
}

// seed mirrors n customers into a new database, as a reconciliation would.
func seed(dir, key string, n int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	master, _ := secret.ParseKey(key)
	keys, _ := secret.NewKeyring(master)
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "portal.db"), keys)
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now()
	for start := 0; start < n; start += 5000 {
		var ms []store.CustomerMirror
		for i := start; i < min(start+5000, n); i++ {
			ms = append(ms, store.CustomerMirror{KirimID: fmt.Sprintf("cus_%026d", i), Name: fmt.Sprintf("Toko Ekspor %d", i),
				Email: fmt.Sprintf("owner%d@export.test", i), Status: "active", TeamID: "team_1", CreatedAt: now, UpdatedAt: now,
				Metadata: map[string]any{"external_ref": fmt.Sprintf("CRM-%d", i), "phone": "+62 812 0000 0000"}})
		}
		if _, err := db.ReconcileCustomers(ctx, ms, "seed"); err != nil {
			return err
		}
	}
	return nil
}

func peakMiB(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return kb / 1024
}
