// Command landingload puts the end-customer landing page under load on loopback, beside
// a minimal Fiber handler, in the same run, and prints both and their ratio.
//
//	go run ./scripts/landingload [-d 5s] [-c 16] [-rounds 2]
//
// The portal runs in-process with a real SQLite file and the Kirim sandbox; each request
// comes from another client address (X-Forwarded-For through a trusted proxy), as real
// customers do, so the per-IP limit of the public pages does not turn it into a 429 test.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/jobs"
	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/kirim/sandbox"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/static"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
	"github.com/kirim-portal/portal/web"
)

func main() {
	dur := flag.Duration("d", 5*time.Second, "duration of each measurement")
	conc := flag.Int("c", 16, "concurrent clients")
	rounds := flag.Int("rounds", 2, "alternating rounds of baseline and portal")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the portal's rounds to this file (go tool pprof)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "landingload:", err)
			os.Exit(1)
		}
		defer f.Close()
		profile = f
	}
	if err := run(*dur, *conc, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "landingload:", err)
		os.Exit(1)
	}
}

func listen() (net.Listener, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	return ln, "http://" + ln.Addr().String()
}

func run(dur time.Duration, conc, rounds int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "landingload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	master, _ := secret.ParseKey(secret.GenerateKey())
	keys, _ := secret.NewKeyring(master)
	db, err := store.Open(ctx, filepath.Join(dir, "portal.db"), keys)
	if err != nil {
		return err
	}
	defer db.Close()
	sb, _ := sandbox.New(sandbox.Options{APIKey: "k"})
	defer sb.Close()
	sbLn, sbURL := listen()
	go http.Serve(sbLn, sb)
	kc, _ := kirim.New(sbURL+"/v1", "k", kirim.WithRateLimits(0, 0))
	log := slog.New(slog.NewJSONHandler(io.Discard, nil)) // logs formatted as in production
	ln, portalURL := listen()
	jc, workers, err := jobs.Open(ctx, db.SQL(), jobs.Config{Log: log})
	if err != nil {
		return err
	}
	ob := onboarding.New(onboarding.Deps{DB: db, Kirim: kc, PublicURL: portalURL, Log: log, Jobs: jc,
		Mail: onboarding.Mail{DevOutbox: true, Renderer: web.EmailRenderer()}})
	ob.RegisterWorkers(workers)
	if err := jc.Start(ctx); err != nil {
		return err
	}
	defer jc.Stop(ctx)
	assets, _ := static.Load()
	srv := web.New(web.Config{PublicURL: portalURL, TrustedProxies: []string{"127.0.0.1"}},
		web.Deps{DB: db, Onboarding: ob, Assets: assets, Keys: keys, Log: log})
	go srv.Serve(ln)
	defer srv.Shutdown(ctx)

	c, err := ob.CreateCustomer(ctx, onboarding.CustomerInput{Name: "Toko Beban", Email: "owner@beban.test"}, "landingload-intent-1", "load")
	if err != nil {
		return err
	}
	link, err := ob.IssueLink(ctx, c.ID, 168, "load")
	if err != nil {
		return err
	}
	token, _ := db.LandingToken(ctx, link.ID)
	portalPage := portalURL + "/onboard/" + token

	// The baseline: a minimal Fiber handler sending a page of the same size.
	resp, err := http.Get(portalPage)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Toko Beban") {
		return fmt.Errorf("landing page answered %d", resp.StatusCode)
	}
	baseApp := fiber.New(fiber.Config{DisableStartupMessage: true})
	baseApp.Get("/page", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(body)
	})
	bln, baseURL := listen()
	go baseApp.Listener(bln)
	defer baseApp.ShutdownWithTimeout(time.Second)

	fmt.Printf("landing page: %d bytes; %d clients, %s per measurement, %d rounds\n", len(body), conc, dur, rounds)
	var base, portal []result
	for range rounds {
		base = append(base, load(baseURL+"/page", dur, conc))
		if profile != nil {
			pprof.StartCPUProfile(profile)
		}
		portal = append(portal, load(portalPage, dur, conc))
		pprof.StopCPUProfile()
	}
	b, p := best(base), best(portal)
	fmt.Printf("%-24s %9s %9s %9s %7s\n", "", "req/s", "p50", "p99", "errors")
	for _, r := range []struct {
		name string
		r    result
	}{{"minimal Fiber handler", b}, {"portal landing page", p}} {
		fmt.Printf("%-24s %9.0f %9s %9s %7d\n", r.name, r.r.rps, r.r.p50.Round(time.Microsecond), r.r.p99.Round(time.Microsecond), r.r.errors)
	}
	fmt.Printf("throughput ratio portal/minimal: %.2f;  p50 latency ratio: %.1f\n", p.rps/b.rps, float64(p.p50)/float64(b.p50))
	return nil
}

// profile receives the CPU profile of the portal's rounds (-cpuprofile).
var profile *os.File

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64
}

// best keeps the round with the highest throughput: the machine's noise only slows.
func best(rs []result) result {
	return slices.MaxFunc(rs, func(a, b result) int {
		if a.rps < b.rps {
			return -1
		}
		return 1
	})
}

func load(url string, dur time.Duration, conc int) result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: 10 * time.Second}
	deadline := time.Now().Add(dur)
	var errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", rand.N(256), rand.N(256), rand.N(256)))
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()
	slices.Sort(lat)
	if len(lat) == 0 {
		return result{errors: errs.Load()}
	}
	return result{rps: float64(len(lat)) / dur.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], errors: errs.Load()}
}
