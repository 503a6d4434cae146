package web

import (
	"context"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
)

// followUp runs the follow-up's periodic scan at the harness clock and waits for the
// jobs it enqueues.
func (h *harness) followUp(t *testing.T) {
	t.Helper()
	if _, err := h.srv.ob.ScanFollowUps(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.srv.ob.Wait()
}

// emailsOf lists a customer's emails of one kind, oldest first.
func (h *harness) emailsOf(t *testing.T, customerID int64, kind string) []*store.Email {
	t.Helper()
	all, err := h.db.Emails(context.Background(), customerID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.Email
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Kind == kind {
			out = append(out, all[i])
		}
	}
	return out
}

var landingPath = regexp.MustCompile(`/onboard/([A-Za-z0-9_-]{20,})`)

// liveLink checks that an email carries the landing link of the customer's newest
// link, and that this link was active when the email was written.
func (h *harness) liveLink(t *testing.T, e *store.Email, customerID int64) {
	t.Helper()
	m := landingPath.FindStringSubmatch(e.Text)
	if m == nil {
		t.Fatalf("no landing link in %q", e.Text)
	}
	l, _, err := h.db.SetupLinkWithCustomer(context.Background(), m[1])
	if err != nil {
		t.Fatalf("the link in the email is not the portal's: %v", err)
	}
	newest := h.newestLink(t, customerID)
	if l.ID != newest.ID || onboarding.LinkStatus(l, e.CreatedAt) != kirim.LinkActive {
		t.Fatalf("the email carries link %d (%s at %s), the newest is %d", l.ID, l.Status, e.CreatedAt, newest.ID)
	}
}

var jakarta = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		panic(err)
	}
	return loc
}()

func wib(day, hour, minute int) time.Time {
	return time.Date(2026, 12, day, hour, minute, 0, 0, jakarta)
}

// TestRemindersInTheCustomersDaytime: an Indonesian customer emailed at 21:00 Jakarta
// time who never opens the page gets exactly the two reminders of the default policy,
// each at 08:00 the morning after it fell due, each with the live link; on expiry, one
// fresh link; the fresh link's own expiry brings no second one; and after every
// reminder the customer waits in the needs-attention queue.
func TestRemindersInTheCustomersDaytime(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	h.setClock(wib(1, 21, 0))
	page := staff.createCustomer(url.Values{"name": {"Toko Malam"}, "email": {"owner@malam.test"}, "locale": {"id"}, "send_email": {"1"}})
	c := h.customerAt(t, page)
	reminders := func() []*store.Email { return h.emailsOf(t, c.ID, "reminder") }
	h.followUp(t)
	// Unopened after 48 h: due Thursday 21:00, sent Friday 08:00.
	for _, at := range []time.Time{wib(3, 20, 55), wib(3, 21, 30), wib(4, 7, 55)} {
		h.setClock(at)
		h.followUp(t)
		if n := len(reminders()); n != 0 {
			t.Fatalf("%d reminders at %s, want none before 08:00 the day after it fell due", n, at.Format(time.DateTime))
		}
	}
	h.setClock(wib(4, 8, 5))
	h.followUp(t)
	got := reminders()
	if len(got) != 1 || !strings.HasPrefix(got[0].Subject, "Pengingat") {
		t.Fatalf("at 08:05: %d reminders %v", len(got), got)
	}
	h.liveLink(t, got[0], c.ID)
	if at := got[0].CreatedAt.In(jakarta); at.Hour() < 8 || at.Hour() >= 20 {
		t.Fatalf("reminder written at %s Jakarta time", at)
	}
	h.followUp(t)
	if n := len(reminders()); n != 1 {
		t.Fatalf("scanning again sent %d reminders in all", n)
	}
	// Expiring: the link expires on the 8th at 21:00; 24 h before falls at night.
	h.setClock(wib(7, 21, 30))
	h.followUp(t)
	if n := len(reminders()); n != 1 {
		t.Fatalf("%d reminders at night before expiry", n)
	}
	h.setClock(wib(8, 8, 5))
	h.followUp(t)
	got = reminders()
	if len(got) != 2 || !strings.Contains(got[1].Subject, "segera kedaluwarsa") {
		t.Fatalf("expiring reminder: %d %v", len(got), got)
	}
	h.liveLink(t, got[1], c.ID)
	h.setClock(wib(8, 15, 0))
	h.followUp(t)
	if n := len(reminders()); n != 2 {
		t.Fatalf("%d reminders, want the policy's 2", n)
	}
	if a, err := h.db.AttentionOf(context.Background(), c.ID); err != nil || a.Kind != store.AttentionNeverOpened {
		t.Fatalf("after every reminder: attention %+v, %v", a, err)
	}
	// Expired at 21:00; the fresh link waits for the morning, then goes once.
	first := h.newestLink(t, c.ID)
	h.setClock(wib(8, 22, 0))
	h.followUp(t)
	if n := len(h.emailsOf(t, c.ID, "setup_link")); n != 1 {
		t.Fatalf("%d setup emails at night after expiry", n)
	}
	h.setClock(wib(9, 8, 5))
	h.followUp(t)
	setups := h.emailsOf(t, c.ID, "setup_link")
	fresh := h.newestLink(t, c.ID)
	if len(setups) != 2 || fresh.ID == first.ID || !contains(h.events(c.ID), string(store.EventFreshLinkAuto)) {
		t.Fatalf("after expiry: %d setup emails, newest link %d (first %d)", len(setups), fresh.ID, first.ID)
	}
	h.liveLink(t, setups[1], c.ID)
	if remote := h.remoteLinks(t, c); remote != 2 {
		t.Fatalf("Kirim holds %d links, want 2", remote)
	}
	// The fresh link gets reminders of its own; its expiry brings no third link.
	for _, at := range []time.Time{wib(11, 9, 0), wib(15, 9, 0), wib(20, 10, 0)} {
		h.setClock(at)
		h.followUp(t)
	}
	if n := len(h.emailsOf(t, c.ID, "setup_link")); n != 2 {
		t.Fatalf("%d setup emails after the fresh link expired, want no second fresh link", n)
	}
	if n := len(reminders()); n != 4 {
		t.Fatalf("%d reminders in all, want 2 per link", n)
	}
	if remote := h.remoteLinks(t, c); remote != 2 {
		t.Fatalf("Kirim holds %d links, want 2", remote)
	}
}

// customerAt returns the customer whose page is at path.
func (h *harness) customerAt(t *testing.T, path string) *store.Customer {
	t.Helper()
	var id int64
	for _, r := range strings.TrimPrefix(path, "/admin/customers/") {
		if r < '0' || r > '9' {
			break
		}
		id = id*10 + int64(r-'0')
	}
	c, err := h.db.CustomerByID(context.Background(), id)
	if err != nil {
		t.Fatalf("customer at %s: %v", path, err)
	}
	return c
}

// remoteLinks counts the customer's links in Kirim.
func (h *harness) remoteLinks(t *testing.T, c *store.Customer) int {
	t.Helper()
	links, err := h.remote(t).ListSetupLinks(context.Background(), c.KirimID, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(links)
}

// TestFollowUpStopsWhenConnectedOrPaused: a customer who connects after the first
// reminder gets no second one; a paused customer gets none until staff resume, and the
// pause and the resume are on the timeline.
func TestFollowUpStopsWhenConnectedOrPaused(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	h.setClock(wib(1, 10, 0))
	a := h.customerAt(t, staff.createCustomer(url.Values{"name": {"Toko Cepat"}, "email": {"owner@cepat.test"}, "locale": {"id"}, "send_email": {"1"}}))
	b := h.customerAt(t, staff.createCustomer(url.Values{"name": {"Toko Jeda"}, "email": {"owner@jeda.test"}, "locale": {"id"}, "send_email": {"1"}}))
	resp, _ := staff.post("/admin/customers/"+itoa(b.ID)+"/follow-up", url.Values{"action": {"pause"}})
	if resp.StatusCode != 303 {
		t.Fatalf("pause: %d", resp.StatusCode)
	}
	h.followUp(t)
	h.setClock(wib(3, 10, 5))
	h.followUp(t)
	if n, m := len(h.emailsOf(t, a.ID, "reminder")), len(h.emailsOf(t, b.ID, "reminder")); n != 1 || m != 0 {
		t.Fatalf("reminders: %d to the customer followed, %d to the paused one; want 1 and 0", n, m)
	}
	_, body := staff.get("/admin/customers/" + itoa(b.ID))
	if !strings.Contains(body, "Paused:") || !strings.Contains(body, "Resume follow-up") {
		t.Fatal("the customer page does not show the pause")
	}
	// a connects.
	back := h.signupVia(t, a.ID, "outcome=success&phone_number=%2B6281200000001")
	h.browser().get(back)
	h.srv.ob.Wait()
	h.setClock(wib(7, 10, 5)) // a day before expiry
	h.followUp(t)
	if n := len(h.emailsOf(t, a.ID, "reminder")); n != 1 {
		t.Fatalf("%d reminders to a customer who connected, want no more than the first", n)
	}
	if n := len(h.emailsOf(t, b.ID, "reminder")); n != 0 {
		t.Fatalf("%d reminders to the paused customer", n)
	}
	staff.post("/admin/customers/"+itoa(b.ID)+"/follow-up", url.Values{"action": {"resume"}})
	h.srv.ob.Wait()
	if n := len(h.emailsOf(t, b.ID, "reminder")); n != 1 {
		t.Fatalf("%d reminders after resuming, want one now (both are due) and the other later", n)
	}
	h.setClock(wib(7, 23, 0)) // 12 h later is night in Jakarta: the morning
	h.followUp(t)
	if n := len(h.emailsOf(t, b.ID, "reminder")); n != 1 {
		t.Fatalf("%d reminders at night", n)
	}
	h.setClock(wib(8, 8, 5))
	h.followUp(t)
	if n := len(h.emailsOf(t, b.ID, "reminder")); n != 2 {
		t.Fatalf("%d reminders the morning after, want the second", n)
	}
	ev := h.events(b.ID)
	if !contains(ev, string(store.EventFollowUpPaused)) || !contains(ev, string(store.EventFollowUpResumed)) {
		t.Fatalf("timeline %v", ev)
	}
}

// TestFollowUpSettings: the policy is saved from its page; bad values are refused in
// words and change nothing; the team channel's URL is never shown back; the previews
// render in both languages.
func TestFollowUpSettings(t *testing.T) {
	h := newHarness(t)
	staff := h.signedIn()
	_, page := staff.get("/admin/settings/follow-up")
	for _, want := range []string{`value="48"`, `value="24"`, `value="2"`, `value="8"`, `value="20"`, `value="UTC"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("defaults: no %s", want)
		}
	}
	form := url.Values{"enabled": {"1"}, "unopened_after_hours": {"24"}, "before_expiry_hours": {"12"}, "max_reminders": {"3"},
		"window_start": {"9"}, "window_end": {"9"}, "default_time_zone": {"Mars/Olympus"}, "fresh_link_on_expiry": {"1"},
		"alert_webhook_url": {"hooks.example.com/x"}}
	resp, body := staff.post("/admin/settings/follow-up", form)
	for _, want := range []string{"The window must end after it starts.", "Give an IANA time zone name", "starting with https://"} {
		if resp.StatusCode != 422 || !strings.Contains(body, want) {
			t.Fatalf("bad form: %d, no %q", resp.StatusCode, want)
		}
	}
	if p, _ := h.db.FollowUpPolicy(context.Background()); !reflect.DeepEqual(p, store.DefaultFollowUpPolicy()) {
		t.Fatalf("a refused form changed the policy: %+v", p)
	}
	form.Set("window_end", "18")
	form.Set("default_time_zone", "Europe/Berlin")
	form.Set("alert_webhook_url", "https://hooks.example.com/services/T000/B000/sekret-token")
	if resp, body := staff.post("/admin/settings/follow-up", form); resp.StatusCode != 303 {
		t.Fatalf("save: %d %s", resp.StatusCode, body)
	}
	p, _ := h.db.FollowUpPolicy(context.Background())
	if p.UnopenedAfterHours != 24 || p.MaxReminders != 3 || p.WindowStart != 9 || p.WindowEnd != 18 || p.DefaultTimeZone != "Europe/Berlin" {
		t.Fatalf("saved %+v", p)
	}
	_, page = staff.get("/admin/settings/follow-up")
	if strings.Contains(page, "sekret-token") || !strings.Contains(page, "hooks.example.com") {
		t.Fatal("the settings page must name the webhook's host and never its token")
	}
	raw, _ := h.db.SQL().Query(`SELECT value FROM settings WHERE key = 'follow_up'`)
	for raw.Next() {
		var v string
		raw.Scan(&v)
		if strings.Contains(v, "sekret-token") {
			t.Fatal("the webhook URL is stored in the clear")
		}
	}
	raw.Close()
	for _, q := range []string{"unopened", "expiring?locale=id"} {
		resp, body := staff.get("/admin/settings/follow-up/preview/" + q)
		if resp.StatusCode != 200 || !strings.Contains(body, "Toko Contoh") {
			t.Fatalf("preview %s: %d", q, resp.StatusCode)
		}
	}
	if resp, _ := staff.get("/admin/settings/follow-up/preview/other"); resp.StatusCode != 404 {
		t.Fatalf("unknown preview: %d", resp.StatusCode)
	}
	if strings.Contains(h.logs.String(), "sekret-token") {
		t.Fatal("the webhook token reached the log")
	}
}
