package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kirim-portal/portal/store"
)

var badge = regexp.MustCompile(`class="count-badge"[^>]*>(\d+)<`)

// badgeCount reads the navigation's needs-attention count (0 when it shows none).
func badgeCount(t *testing.T, page string) int {
	t.Helper()
	m := badge.FindStringSubmatch(page)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// fail sends the customer through Kirim's signup to a failure with reason, and loads
// the failure page as the customer's browser would.
func (h *harness) fail(t *testing.T, customerID int64, reason string) string {
	t.Helper()
	back := h.signupVia(t, customerID, "outcome=fail&reason="+reason)
	_, body := h.browser().get(back)
	return body
}

// TestAttentionQueue: a failed signup, a link that expired with time alone, a failed
// email and rejected templates each put their customer in the queue, with the reason
// in words, since when and the first step; the badge counts them; filters and pages
// work; a snooze hides a row until its reason changes; "handled" takes a note to the
// timeline; a row leaves by itself when its cause is resolved.
func TestAttentionQueue(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	_, page := staff.get("/admin/")
	if n := badgeCount(t, page); n != 0 || !strings.Contains(page, "Nobody is waiting on you") {
		t.Fatalf("empty portal: badge %d", n)
	}

	failed := h.newLinkedCustomer(t, staff, "Gagal Store")
	h.fail(t, failed.ID, "token_exchange_failed")

	expired := h.customerAt(t, staff.createCustomer(url.Values{"name": {"Kadaluarsa Store"}, "email": {"owner@kadaluarsa.test"}}))
	staff.post("/admin/customers/"+itoa(expired.ID)+"/links", url.Values{"expires_in_hours": {"24"}})

	bounced := h.customerAt(t, staff.createCustomer(url.Values{"name": {"Pantul Store"}, "email": {"owner@pantul.test"}, "send_email": {"1"}}))
	e := h.emailsOf(t, bounced.ID, "setup_link")[0]
	if err := h.db.EmailFailed(ctx, e, "550 5.1.1 mailbox unavailable"); err != nil {
		t.Fatal(err)
	}

	rejected := h.newLinkedCustomer(t, staff, "Tolak Store")
	h.browser().get(h.signupVia(t, rejected.ID, "outcome=success&phone_number=%2B6281200000002"))
	h.srv.ob.Wait()
	accounts, _ := h.db.Accounts(ctx, rejected.ID)
	h.sb.SetMetaTemplateStatus(accounts[0].PhoneNumberID, "welcome_offer", "rejected")
	staff.post("/admin/customers/"+itoa(rejected.ID)+"/accounts/"+itoa(accounts[0].ID)+"/sync", nil)

	h.advance(25 * time.Hour) // the 24-hour link expires with time alone: the sweep sees it
	if n, err := h.db.SweepAttention(ctx); err != nil || n != 1 {
		t.Fatalf("sweep looked at %d customers (%v), want the one whose link expired", n, err)
	}

	_, page = staff.get("/admin/attention")
	if n := badgeCount(t, page); n != 4 {
		t.Fatalf("badge %d, want 4", n)
	}
	for _, want := range []string{
		"Gagal Store", "Signup failed: Meta could not hand over access to the number", "try again in a few minutes",
		"Kadaluarsa Store", "The newest link expired unused", "Email a fresh link",
		"Pantul Store", "550 5.1.1 mailbox unavailable", "Check the email address",
		"Tolak Store", "Meta rejected templates: welcome_offer",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the queue lacks %q", want)
		}
	}
	_, filtered := staff.get("/admin/attention?kind=email_failed")
	if !strings.Contains(filtered, "Pantul Store") || strings.Contains(filtered, "Gagal Store") {
		t.Error("the kind filter does not filter")
	}
	_, dash := staff.get("/admin/")
	if !strings.Contains(dash, `href="/admin/attention?kind=signup_failed"`) || strings.Contains(dash, "Nobody is waiting") {
		t.Error("the dashboard does not sum up the queue")
	}

	// Snooze: gone from the queue and the badge, until the reason changes.
	b := staff // the browser holds the CSRF token of the last page
	b.get("/admin/attention")
	if resp, _ := b.post("/admin/attention/"+itoa(failed.ID)+"/snooze", url.Values{"days": {"3"}}); resp.StatusCode != 303 {
		t.Fatalf("snooze: %d", resp.StatusCode)
	}
	_, page = staff.get("/admin/attention")
	if n := badgeCount(t, page); n != 3 || strings.Contains(page, "Gagal Store") || !strings.Contains(page, "1 snoozed") {
		t.Fatalf("after the snooze: badge %d", n)
	}
	if resp, _ := b.post("/admin/attention/"+itoa(failed.ID)+"/snooze", url.Values{"days": {"2"}}); resp.StatusCode != 303 {
		t.Fatalf("a bad snooze: %d", resp.StatusCode)
	}
	if _, page = staff.get("/admin/attention"); !strings.Contains(page, "Snooze for 1, 3 or 7 days.") {
		t.Error("a 2-day snooze is not refused in words")
	}
	h.fail(t, failed.ID, "signup_cancelled") // a new failure: back at once
	_, page = staff.get("/admin/attention")
	if n := badgeCount(t, page); n != 4 || !strings.Contains(page, "the customer closed or cancelled") {
		t.Fatalf("a new failure did not end the snooze: badge %d", n)
	}

	// Handled, with a note on the timeline.
	note := "Called them; they will use the fresh link tomorrow."
	if resp, _ := b.post("/admin/attention/"+itoa(expired.ID)+"/handle", url.Values{"note": {note}}); resp.StatusCode != 303 {
		t.Fatalf("handle: %d", resp.StatusCode)
	}
	_, page = staff.get("/admin/attention")
	if n := badgeCount(t, page); n != 3 || strings.Contains(page, "Kadaluarsa Store") {
		t.Fatalf("after handling: badge %d", n)
	}
	if _, cp := staff.get("/admin/customers/" + itoa(expired.ID)); !strings.Contains(cp, note) {
		t.Error("the note is not on the customer's timeline")
	}

	// Resolved: a new link for the expired customer, a new email for the bounced one.
	staff.get("/admin/customers/" + itoa(bounced.ID))
	staff.post("/admin/customers/"+itoa(bounced.ID)+"/email", nil)
	staff.get("/admin/customers/" + itoa(expired.ID))
	staff.post("/admin/customers/"+itoa(expired.ID)+"/links", url.Values{"expires_in_hours": {"168"}})
	for _, id := range []int64{bounced.ID, expired.ID} {
		if a, err := h.db.AttentionOf(ctx, id); err == nil {
			t.Errorf("customer %d still in the queue: %+v", id, a)
		}
	}
	_, page = staff.get("/admin/attention")
	if n := badgeCount(t, page); n != 2 {
		t.Fatalf("after resolving: badge %d, want 2", n)
	}
}

// TestAttentionPages: thirty failed signups page by 25, newest first, each once.
func TestAttentionPages(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	for i := range 30 {
		c := h.mirroredCustomer(t)
		h.advance(time.Minute)
		err := h.db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.AddEvent(ctx, store.Event{CustomerID: &c.ID, Kind: store.EventSignupFailed, Detail: map[string]any{"reason": "n" + strconv.Itoa(i)}}); err != nil {
				return err
			}
			return tx.SetCustomerStage(ctx, c.ID, store.StageFailed, "n"+strconv.Itoa(i))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	next := "/admin/attention"
	reason := regexp.MustCompile(`an unknown reason \((n\d+)\)`)
	pages := 0
	for next != "" {
		_, page := staff.get(next)
		pages++
		for _, m := range reason.FindAllStringSubmatch(page, -1) {
			seen[m[1]]++
		}
		if pages == 1 && !strings.Contains(page, "(n29)") {
			t.Fatal("the first page does not start with the newest")
		}
		next = ""
		if m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(page); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if pages != 2 || len(seen) != 30 {
		t.Fatalf("%d pages, %d customers seen", pages, len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", k, n)
		}
	}
	if resp, _ := staff.get("/admin/attention?after=bogus"); resp.StatusCode != 303 {
		t.Errorf("a mangled cursor: %d, want a redirect to the first page", resp.StatusCode)
	}
}

// alertReceiver is a team channel: it refuses the first fail deliveries with 500, then
// accepts; accepted counts the deliveries it answered 200 to a client still there.
type alertReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	fail     int
	calls    int
	accepted []map[string]any
	keys     []string
}

func newAlertReceiver(t *testing.T, fail int) *alertReceiver {
	r := &alertReceiver{fail: fail}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls++
		if r.calls <= r.fail {
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		r.accepted = append(r.accepted, m)
		r.keys = append(r.keys, req.Header.Get("Idempotency-Key"))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *alertReceiver) got() ([]map[string]any, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.accepted...), r.calls
}

// waitAccepted waits up to 30 s for n accepted deliveries.
func (r *alertReceiver) waitAccepted(t *testing.T, n int) []map[string]any {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, _ := r.got(); len(got) >= n {
			return got
		}
	}
	got, calls := r.got()
	t.Fatalf("%d deliveries accepted of %d calls, want %d", len(got), calls, n)
	return nil
}

// TestAlertsReachStaffAndTeamChannel: a staff user who asked for alert emails and a team
// webhook hear of a failed signup and of an unconfirmed return the customer left: one
// Slack-style post each (retried after the channel's 500, the failure shown on the
// settings page meanwhile) and one email each, in Mailpit; a second failure within the
// hour tells nobody; after the hour, it does.
func TestAlertsReachStaffAndTeamChannel(t *testing.T) {
	h := newHarness(t, withMailpit, withReturnGrace(300*time.Millisecond))
	staff := h.signedIn()
	rcv := newAlertReceiver(t, 1)
	staff.get("/admin/account")
	if resp, body := staff.post("/admin/account/alerts", url.Values{"alert_email": {"1"}, "time_zone": {"Asia/Jakarta"}}); resp.StatusCode != 303 {
		t.Fatalf("alerts: %d %s", resp.StatusCode, body)
	}
	staff.get("/admin/settings/follow-up")
	form := url.Values{"enabled": {"1"}, "unopened_after_hours": {"48"}, "before_expiry_hours": {"24"}, "max_reminders": {"2"},
		"window_start": {"8"}, "window_end": {"20"}, "default_time_zone": {"UTC"}, "fresh_link_on_expiry": {"1"},
		"alert_webhook_url": {rcv.URL + "/services/T0/B0/token"}}
	if resp, body := staff.post("/admin/settings/follow-up", form); resp.StatusCode != 303 {
		t.Fatalf("settings: %d %s", resp.StatusCode, body)
	}

	c := h.newLinkedCustomer(t, staff, "Alarm Store")
	page := h.fail(t, c.ID, "token_exchange_failed")
	if !strings.Contains(page, "Our team has been alerted") || !strings.Contains(page, "owner@alarm.test") {
		t.Fatalf("the failure page does not say staff were alerted: %s", page)
	}
	// The channel refused the first post: the settings page says so while it retries.
	waitFor(t, "the refusal on the settings page", func() bool {
		_, p := staff.get("/admin/settings/follow-up")
		return strings.Contains(p, "answered 500")
	})
	posts := rcv.waitAccepted(t, 1)
	text, _ := posts[0]["text"].(string)
	if !strings.Contains(text, "Alarm Store") || !strings.Contains(text, "Signup failed") ||
		!strings.Contains(text, h.URL+"/admin/customers/"+itoa(c.ID)) || posts[0]["customer"] != "Alarm Store" {
		t.Fatalf("alert post %v", posts[0])
	}
	if rcv.keys[0] != "portal-alert-1" {
		t.Fatalf("Idempotency-Key %q", rcv.keys[0])
	}
	mails := h.mp.WaitForSearch("subject:\"Alarm Store\"", 1, 10*time.Second)
	if len(mails) != 1 || mails[0].To[0].Address != staff.email {
		t.Fatalf("staff alert emails %+v", mails)
	}
	waitFor(t, "delivered on the settings page", func() bool {
		_, p := staff.get("/admin/settings/follow-up")
		return strings.Contains(p, "delivered")
	})

	// Within the hour: recorded, not sent.
	h.fail(t, c.ID, "signup_cancelled")
	h.srv.ob.Wait()
	time.Sleep(300 * time.Millisecond)
	if got, _ := rcv.got(); len(got) != 1 {
		t.Fatalf("%d posts for two failures within the hour", len(got))
	}
	// An hour later: sent.
	h.advance(61 * time.Minute)
	h.fail(t, c.ID, "meta_error_3")
	rcv.waitAccepted(t, 2)
	h.mp.WaitForSearch("subject:\"Alarm Store\"", 2, 10*time.Second)

	// A return left pending: after the grace, staff are told it was not confirmed.
	p := h.newLinkedCustomer(t, staff, "Tunggu Store")
	back := h.signupVia(t, p.ID, "outcome=success&confirm=later")
	if _, body := h.browser().get(back); !strings.Contains(body, "You can close this page") {
		t.Fatalf("pending page: %s", body)
	}
	posts = rcv.waitAccepted(t, 3)
	if text, _ := posts[2]["text"].(string); !strings.Contains(text, "Tunggu Store") || !strings.Contains(text, "not confirmed") {
		t.Fatalf("unconfirmed alert %v", posts[2])
	}
	h.mp.WaitForSearch("subject:\"Tunggu Store\"", 1, 10*time.Second)
	if a, err := h.db.AttentionOf(context.Background(), p.ID); err != nil || a.Kind != store.AttentionUnconfirmed {
		t.Fatalf("the unconfirmed return is not in the queue: %+v %v", a, err)
	}
	if strings.Contains(h.logs.String(), "/services/T0/B0/token") {
		t.Fatal("the webhook URL reached the log")
	}
}

// TestPagesSayWhatHappensNext: without alerts configured, the failure page promises
// only what is true: the failure is on staff's follow-up list.
func TestPagesSayWhatHappensNext(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	c := h.newLinkedCustomer(t, staff, "Sepi Store")
	page := h.fail(t, c.ID, "signup_cancelled")
	if strings.Contains(page, "alerted") || !strings.Contains(page, "follow-up list") {
		t.Fatalf("failure page without alerts: %s", page)
	}
}

// TestDailyDigest: a staff user who asked for the digest gets it once a day after
// 09:00 in their own time zone, listing the queue; not before, not twice.
func TestDailyDigest(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	ctx := context.Background()
	staff.get("/admin/account")
	staff.post("/admin/account/alerts", url.Values{"alert_digest": {"1"}, "time_zone": {"Asia/Jakarta"}})
	c := h.newLinkedCustomer(t, staff, "Ringkas Store")
	h.fail(t, c.ID, "signup_cancelled")
	digests := func() []*store.Email {
		all, _ := h.db.Emails(ctx, 0, 100)
		var out []*store.Email
		for _, e := range all {
			if e.Kind == "staff" {
				out = append(out, e)
			}
		}
		return out
	}
	for _, step := range []struct {
		at   time.Time
		want int
	}{{wib(2, 8, 30), 0}, {wib(2, 9, 10), 1}, {wib(2, 18, 0), 1}, {wib(3, 9, 5), 2}} {
		h.setClock(step.at)
		if _, err := h.srv.ob.SendDigests(ctx); err != nil {
			t.Fatal(err)
		}
		if got := digests(); len(got) != step.want {
			t.Fatalf("at %s Jakarta: %d digests, want %d", step.at.Format(time.DateTime), len(got), step.want)
		}
	}
	d := digests()[0]
	if d.To != staff.email || !strings.Contains(d.Subject, "1 customer needs attention") || !strings.Contains(d.Text, "Ringkas Store") ||
		!strings.Contains(d.Text, "/admin/customers/"+itoa(c.ID)) {
		t.Fatalf("digest %q: %s", d.Subject, d.Text)
	}
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
