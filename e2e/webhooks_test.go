package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKillDuringWebhookDelivery: the platform's backend (a token made with portal token
// add) adds an endpoint and creates 20 customers through the API; the portal is killed
// (-9) with deliveries acknowledged and posts waiting for their answer. After a restart
// every customer.created is acknowledged exactly once per webhook-id; only the posts
// the kill cut off were made again, under their webhook-id.
func TestKillDuringWebhookDelivery(t *testing.T) {
	const n = 20
	recv := startHoldingReceiver(t, 5, "webhook-id")
	addr, err := freeAddr()
	must(t, err)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "portal.log")
	env := []string{"KIRIM_API_KEY=", "PORTAL_RECONCILE_INTERVAL=0"}
	p, err := runPortal(addr, dir, logPath, env...)
	must(t, err)
	defer func() {
		if t.Failed() {
			t.Log(p.log())
		}
	}()
	add := exec.Command(portalBin, "token", "add", "--name", "platform", "--scope", "write")
	add.Env = append(add.Environ(), "PORTAL_DATA_DIR="+dir)
	out, err := add.CombinedOutput()
	must(t, err)
	token := regexp.MustCompile(`kpt_[A-Za-z0-9_-]+`).FindString(string(out))
	api := func(method, path string, body any) map[string]any {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, "http://"+addr+"/api/v1"+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, v)
		}
		return v
	}
	api("POST", "/webhook_endpoints", map[string]any{"url": recv.URL + "/hooks", "events": []string{"customer.created"}})
	for i := range n {
		api("POST", "/customers", map[string]any{"name": fmt.Sprintf("Toko Kait %02d", i)})
	}
	waitUntil(t, "deliveries acknowledged, the next ones held", func() bool {
		_, delivered, held := recv.counts()
		return delivered >= 5 && held >= 1
	})
	p.kill()
	waitUntil(t, "the receiver sees the held posts' portal gone", func() bool { _, _, held := recv.counts(); return held == 0 })
	recv.release()

	p, err = runPortal(addr, dir, logPath, env...)
	must(t, err)
	defer p.stop()
	waitUntil(t, "every event acknowledged", func() bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		return len(recv.delivered) == n
	})
	recv.mu.Lock()
	defer recv.mu.Unlock()
	again := 0
	for id, c := range recv.delivered {
		if c != 1 || !strings.HasPrefix(id, "msg_") {
			t.Errorf("webhook-id %q acknowledged %d times", id, c)
		}
		again += recv.posts[id] - 1
	}
	if again != recv.cutOff {
		t.Fatalf("%d posts made again; %d were cut off before their answer", again, recv.cutOff)
	}
}
