package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/store"
)

// remoteCustomers counts the customers Kirim holds.
func (h *harness) remoteCustomers(t *testing.T) map[string]kirim.Customer {
	t.Helper()
	out := map[string]kirim.Customer{}
	for c, err := range h.remote(t).AllCustomers(context.Background(), kirim.ListCustomersParams{Limit: 100}) {
		if err != nil {
			t.Fatal(err)
		}
		out[c.Name] = c
	}
	return out
}

var batchLocation = regexp.MustCompile(`^/admin/imports/(\d+)$`)

// uploadCSV uploads a file to the imports page and returns the batch page's path.
func (b *browser) uploadCSV(t *testing.T, data string) string {
	t.Helper()
	b.get("/admin/imports")
	resp, body := b.upload("/admin/imports", "file", "clients.csv", []byte(data))
	if resp.StatusCode != http.StatusSeeOther || !batchLocation.MatchString(resp.Header.Get("Location")) {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// TestImportPreviewThenRun: a file with good rows, bad rows, a duplicate inside the file
// and a customer who exists already is previewed in words before anything reaches
// Kirim; started, it creates exactly the good rows (with their language, zone,
// reference and metadata) and emails each a setup link; the results download says
// what became of every row, its cells safe to open in a spreadsheet.
func TestImportPreviewThenRun(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	b.createCustomer(url.Values{"name": {"Existing Shop"}, "email": {"owner@existing.test"}, "locale": {"en"}})
	before := len(h.remoteCustomers(t))

	file := "\uFEFFname;email;language;time_zone;external_ref;phone;metadata.crm;notes\n" +
		"Toko Satu;satu@import.test;id;;CRM-1;+62 812 1111 2222;7;first\n" +
		"\"Kafe \"\"Dua\"\"\";dua@import.test;en;Europe/Berlin;;;;\"two\nlines\"\n" +
		"Warung Tiga;;;;CRM-3;;;\n" +
		";nobody@import.test;;;;;;\n" +
		"Bad Mail;not-an-email;;;;;;\n" +
		"\"=HYPERLINK(\"\"http://evil.test\"\")\";evil@import.test;;;;;;\n" +
		"Toko Satu Again;SATU@import.test;;;;;;\n" +
		"Existing Again;owner@existing.test;;;;;;\n" +
		"Bad Zone;zone@import.test;;Mars/Olympus;;;;\n"
	page := b.uploadCSV(t, file)
	_, body := b.get(page)
	for _, want := range []string{"3 customers to create", "2 rows skipped", "4 rows rejected", "These columns are not imported: notes",
		"Same email as line 2.", "Already a customer (same email).", "name: Enter the customer&#39;s name.",
		"Starts with =, which spreadsheets run as a formula", "time_zone: Write an IANA time zone"} {
		if !strings.Contains(body, want) {
			t.Errorf("the preview does not say %q", want)
		}
	}
	if got := len(h.remoteCustomers(t)); got != before {
		t.Fatalf("the preview sent %d customers to Kirim", got-before)
	}

	resp, _ := b.post(page+"/start", url.Values{"send_links": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d", resp.StatusCode)
	}
	h.srv.ob.Wait()
	id := int64(must(strconv.Atoi(batchLocation.FindStringSubmatch(page)[1])))
	batch, err := h.db.BatchByID(context.Background(), id)
	if err != nil || batch.State != store.BatchDone || batch.Counts.Done != 3 || batch.Counts.Failed != 0 {
		t.Fatalf("batch %+v, %v; want done with 3 rows done", batch, err)
	}
	remote := h.remoteCustomers(t)
	if len(remote) != before+3 {
		t.Fatalf("Kirim holds %d new customers, want 3", len(remote)-before)
	}
	satu, ok := remote["Toko Satu"]
	if !ok || satu.Metadata["external_ref"] != "CRM-1" || satu.Metadata["crm"] != "7" || satu.Metadata["phone"] != "+62 812 1111 2222" {
		t.Fatalf("Toko Satu in Kirim: %+v", satu)
	}
	if _, ok := remote[`Kafe "Dua"`]; !ok {
		t.Fatalf("the quoted name did not arrive: %v", remote)
	}
	for name, want := range map[string]struct{ locale, zone string }{"Toko Satu": {"id", ""}, `Kafe "Dua"`: {"en", "Europe/Berlin"}} {
		c, err := h.db.CustomerByKirimID(context.Background(), remote[name].ID)
		if err != nil || c.Locale != want.locale || c.TimeZone != want.zone {
			t.Fatalf("%s mirrored as %+v, %v; want locale %s, zone %q", name, c, err, want.locale, want.zone)
		}
		if emails := h.emailsOf(t, c.ID, "setup_link"); len(emails) != 1 {
			t.Fatalf("%s got %d setup emails, want 1", name, len(emails))
		}
	}
	tiga, _ := h.db.CustomerByKirimID(context.Background(), remote["Warung Tiga"].ID)
	if emails := h.emailsOf(t, tiga.ID, "setup_link"); len(emails) != 0 {
		t.Fatalf("a customer without email got %d emails", len(emails))
	}

	resp, body = b.get(page + "/results.csv")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("results: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(records) != 10 {
		t.Fatalf("results: %d records, %v", len(records), err)
	}
	outcomes := map[string]string{}
	for _, r := range records[1:] {
		outcomes[r[1]] = r[2]
		if r[1] == "Toko Satu" && !strings.HasPrefix(r[3], h.URL+"/admin/customers/") {
			t.Errorf("no customer link for a created row: %q", r)
		}
	}
	for name, want := range map[string]string{"Toko Satu": "done", "Warung Tiga": "done", "Bad Mail": "rejected",
		"Toko Satu Again": "skipped", "Existing Again": "skipped", `'=HYPERLINK("http://evil.test")`: "rejected"} {
		if outcomes[name] != want {
			t.Errorf("results: %q is %q, want %q (all: %v)", name, outcomes[name], want, outcomes)
		}
	}
}

// TestImportBadFiles: files the portal cannot read are refused in words, and nothing is
// recorded or sent.
func TestImportBadFiles(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	before := len(h.remoteCustomers(t))
	for name, c := range map[string]struct {
		data string
		want string
	}{
		"latin-1":   {"name,email\nCaf\xe9 Nusantara,kafe@import.test\n", "not UTF-8 text (the first character the portal cannot read is on line 2)"},
		"no name":   {"nama,email\nToko,toko@import.test\n", "The file has no name column"},
		"binary":    {"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is not a text file"},
		"workbook":  {"PK\x03\x04\x14\x00\x06\x00", "spreadsheet workbook (.xlsx)"},
		"empty":     {"", "The file is empty."},
		"only head": {"name,email\n", "no rows below them"},
		"bad quote": {"name,email\n\"Toko,toko@import.test\n", "Line 2 cannot be read"},
		"too many":  {"name\n" + strings.Repeat("Toko\n", 10_001), "more than 10000 rows"},
	} {
		b.get("/admin/imports")
		resp, body := b.upload("/admin/imports", "file", name+".csv", []byte(c.data))
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d, want 422 saying %q", name, resp.StatusCode, c.want)
		}
	}
	// 50 MB: refused from its headers, before the portal reads any of it. The request
	// goes over a bare connection that sends the headers only: the answer must come
	// without the body (a client still sending when the portal closes would see a reset).
	b.get("/admin/imports")
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	u, _ := url.Parse(h.URL)
	var cookies []string
	for _, ck := range b.c.Jar.Cookies(u) {
		cookies = append(cookies, ck.String())
	}
	fmt.Fprintf(conn, "POST /admin/imports HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nX-CSRF-Token: %s\r\n"+
		"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n", u.Host, strings.Join(cookies, "; "), b.csrf, 50<<20)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("50 MB: no answer before the body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "at most 5 MB") {
		t.Errorf("50 MB: %d, want 413 saying the limit", resp.StatusCode)
	}
	if list, _ := h.db.Batches(context.Background(), 10); len(list) != 0 {
		t.Fatalf("%d imports recorded from bad files", len(list))
	}
	if got := len(h.remoteCustomers(t)); got != before {
		t.Fatalf("bad files created %d customers in Kirim", got-before)
	}
}

// TestImportRefusedRowsRetriedAndPaused: rows Kirim refuses are failed with Kirim's
// words and succeed on "retry failed rows"; a paused import works no further rows
// until resumed; cancelling leaves the rest unworked.
func TestImportRefusedRowsRetriedAndPaused(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	var refuse atomic.Bool
	refuse.Store(true)
	h.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/customers" || !refuse.Load() {
			return false
		}
		w.Header().Set("X-Test-Fault", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"plan_limit","message":"Customer limit of your plan reached"}}`))
		return true
	})
	page := b.uploadCSV(t, "name,email\nToko A,a@retry.test\nToko B,b@retry.test\n")
	b.get(page)
	b.post(page+"/start", url.Values{})
	h.srv.ob.Wait()
	_, body := b.get(page)
	if !strings.Contains(body, "0 done · 2 failed · 0 remaining") || !strings.Contains(body, "Customer limit of your plan reached") {
		t.Fatalf("the failed rows are not shown with Kirim's words:\n%s\n%s", body, h.logs.String())
	}
	refuse.Store(false)
	resp, _ := b.post(page+"/retry", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d", resp.StatusCode)
	}
	h.srv.ob.Wait()
	if _, body = b.get(page); !strings.Contains(body, "2 done · 0 failed · 0 remaining") {
		t.Fatalf("after retry:\n%s", body)
	}

	// Paused while rows are in flight: those finish, the rest wait until resumed.
	page = b.uploadCSV(t, "name\nToko C\nToko D\nToko E\nToko F\nToko G\nToko H\nToko I\nToko J\n")
	b.get(page)
	id := int64(must(strconv.Atoi(batchLocation.FindStringSubmatch(page)[1])))
	var inFlight atomic.Int32
	release := make(chan struct{})
	h.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/customers" {
			inFlight.Add(1)
			<-release
		}
		return false
	})
	b.post(page+"/start", url.Values{})
	eventually(t, "a row in flight", func() bool { return inFlight.Load() > 0 })
	b.get(page)
	b.post(page+"/pause", url.Values{})
	close(release)
	h.srv.ob.Wait()
	paused, _ := h.db.BatchByID(context.Background(), id)
	if paused.State != store.BatchPaused || paused.Counts.Done == 0 || paused.Counts.Pending == 0 ||
		paused.Counts.Done+paused.Counts.Pending != 8 {
		t.Fatalf("paused: %s with %+v", paused.State, paused.Counts)
	}
	if got := int(inFlight.Load()); got != paused.Counts.Done {
		t.Fatalf("Kirim was asked %d times while %d rows are done", got, paused.Counts.Done)
	}
	b.get(page)
	b.post(page+"/resume", url.Values{})
	h.srv.ob.Wait()
	done, _ := h.db.BatchByID(context.Background(), id)
	if done.State != store.BatchDone || done.Counts.Done != 8 {
		t.Fatalf("after resume: %s with %+v", done.State, done.Counts)
	}
	names := h.remoteCustomers(t)
	for _, n := range []string{"Toko A", "Toko B", "Toko C", "Toko J"} {
		if _, ok := names[n]; !ok {
			t.Errorf("%s is not in Kirim", n)
		}
	}

	// Cancelled with rows in flight: those finish and say so, the rest are cancelled.
	page = b.uploadCSV(t, "name\nToko L\nToko M\nToko N\nToko O\nToko P\nToko Q\nToko R\nToko S\n")
	b.get(page)
	id = int64(must(strconv.Atoi(batchLocation.FindStringSubmatch(page)[1])))
	inFlight.Store(0)
	release = make(chan struct{})
	b.post(page+"/start", url.Values{})
	eventually(t, "a row in flight", func() bool { return inFlight.Load() > 0 })
	b.get(page)
	b.post(page+"/cancel", url.Values{})
	close(release)
	h.srv.ob.Wait()
	cancelled, _ := h.db.BatchByID(context.Background(), id)
	if cancelled.State != store.BatchCancelled || cancelled.Counts.Done != int(inFlight.Load()) || cancelled.Counts.Cancelled != 8-cancelled.Counts.Done {
		t.Fatalf("cancelled: %s with %+v; %d were in flight", cancelled.State, cancelled.Counts, inFlight.Load())
	}
	h.setFault(nil)

	// Cancel a previewed import: nothing is sent.
	page = b.uploadCSV(t, "name\nToko K\n")
	b.get(page)
	b.post(page+"/cancel", url.Values{})
	if _, body = b.get(page); !strings.Contains(body, "Cancelled") {
		t.Fatal("the cancelled import does not say so")
	}
	if _, ok := h.remoteCustomers(t)["Toko K"]; ok {
		t.Fatal("a cancelled import created its customer")
	}
}

// TestBulkActionsAndExport: staff tick customers (or take all that match) and send
// their links, pause their follow-up or archive them, each as a run with its own page,
// after a confirmation; the export streams the list under its filters, formula cells
// defused.
func TestBulkActionsAndExport(t *testing.T) {
	h := newHarness(t)
	b := h.signedIn()
	var ids []int64
	for _, name := range []string{"Bulk Satu", "Bulk Dua", "=SUM(A1) Bulk"} {
		c := h.customerAt(t, b.createCustomer(url.Values{"name": {name}, "email": {strings.ToLower(strings.Fields(name)[1]) + "@bulk.test"}, "locale": {"en"}}))
		ids = append(ids, c.ID)
	}
	other := h.customerAt(t, b.createCustomer(url.Values{"name": {"Someone Else"}, "email": {"else@other.test"}, "locale": {"en"}}))
	run := func(form url.Values) *store.Batch {
		t.Helper()
		b.get("/admin/customers?q=Bulk")
		resp, body := b.post("/admin/customers/bulk", form)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Cancel") {
			t.Fatalf("confirm page: %d %s", resp.StatusCode, body)
		}
		resp, _ = b.post("/admin/customers/bulk/confirm", form)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !batchLocation.MatchString(loc) {
			t.Fatalf("start: %d %s", resp.StatusCode, loc)
		}
		h.srv.ob.Wait()
		batch, err := h.db.BatchByID(context.Background(), int64(must(strconv.Atoi(batchLocation.FindStringSubmatch(loc)[1]))))
		if err != nil {
			t.Fatal(err)
		}
		return batch
	}
	id := func(i int64) string { return strconv.FormatInt(i, 10) }

	batch := run(url.Values{"action": {"send_link"}, "scope": {"chosen"}, "id": {id(ids[0]), id(ids[1])}, "q": {"Bulk"}})
	if batch.State != store.BatchDone || batch.Counts.Done != 2 {
		t.Fatalf("send links: %s %+v", batch.State, batch.Counts)
	}
	for i, want := range []int{1, 1, 0} {
		if got := len(h.emailsOf(t, ids[i], "setup_link")); got != want {
			t.Errorf("customer %d got %d link emails, want %d", i, got, want)
		}
	}

	batch = run(url.Values{"action": {"pause_follow_up"}, "scope": {"all"}, "q": {"Bulk"}})
	if batch.Counts.Done != 3 {
		t.Fatalf("pause all matching: %+v", batch.Counts)
	}
	for _, cid := range ids {
		if !h.customer(t, cid).FollowUpPaused {
			t.Errorf("customer %d not paused", cid)
		}
	}
	if h.customer(t, other.ID).FollowUpPaused {
		t.Error("a customer outside the filter was paused")
	}

	batch = run(url.Values{"action": {"archive"}, "scope": {"chosen"}, "id": {id(ids[1])}, "q": {"Bulk"}})
	if batch.Counts.Done != 1 || h.customer(t, ids[1]).Status != kirim.CustomerArchived {
		t.Fatalf("archive: %+v, status %s", batch.Counts, h.customer(t, ids[1]).Status)
	}
	if remote, err := h.remote(t).GetCustomer(context.Background(), h.customer(t, ids[1]).KirimID); err != nil || remote.Status != kirim.CustomerArchived {
		t.Fatalf("archived in Kirim: %+v %v", remote, err)
	}

	resp, body := b.get("/admin/customers/export.csv?q=Bulk")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", resp.StatusCode, resp.Header)
	}
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(records) != 4 {
		t.Fatalf("export: %d records, %v\n%s", len(records), err, body)
	}
	want := []string{"id", "kirim_id", "external_ref", "name", "email", "phone", "language", "status", "stage",
		"active_link_expires_at", "connected_numbers", "last_event_at"}
	if strings.Join(records[0], ",") != strings.Join(want, ",") {
		t.Fatalf("export header %v", records[0])
	}
	byName := map[string][]string{}
	for _, r := range records[1:] {
		byName[r[3]] = r
	}
	if r := byName["Bulk Satu"]; r == nil || r[9] == "" || r[10] != "" || r[11] == "" || r[7] == "" {
		t.Errorf("Bulk Satu exported as %q", r)
	}
	if r := byName["'=SUM(A1) Bulk"]; r == nil || r[9] != "" {
		t.Errorf("the formula name is not defused, or has a link: %v", byName)
	}
}
