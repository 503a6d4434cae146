package sandbox

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/kirim-portal/portal/kirim"
)

var reasonPattern = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// FailureReasons are the outcomes a tester can pick on the hosted page.
var FailureReasons = []string{
	"signup_cancelled", "token_exchange_failed", "phone_number_already_registered",
	"display_name_only", "verification_code_failed", "business_verification_failed",
}

var hostedTmpl = template.Must(template.New("hosted").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Kirim sandbox</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
.box{border:1px solid #ccc;border-radius:8px;padding:1.5rem}button{font:inherit;padding:.5rem 1rem;margin:.25rem 0;cursor:pointer}
label{display:block;margin-top:.75rem}.note{color:#555;font-size:.9rem}</style></head>
<body><p class="note">Kirim sandbox — a stand-in for Kirim's hosted Meta Embedded Signup.</p>
<div class="box">
<h1>{{.Title}}</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{else}}
<p>Connect a WhatsApp Business number for <strong>{{.Customer}}</strong>.</p>
<form method="post">
<input type="hidden" name="outcome" value="success">
<label for="phone_number">Phone number (optional)</label>
<input id="phone_number" name="phone_number" placeholder="+62812…">
<p><button type="submit">Connect WhatsApp number</button></p>
</form>
<form method="post">
<input type="hidden" name="outcome" value="fail">
<label for="reason">Or fail with a reason</label>
<select id="reason" name="reason">{{range .Reasons}}<option>{{.}}</option>{{end}}</select>
<p><button type="submit">Fail signup</button></p>
</form>{{end}}
</div></body></html>`))

type hostedPage struct {
	Title, Customer, Error string
	Reasons                []string
}

// hostedPage is Kirim's onboarding page: it shows the customer and lets a tester pick
// the outcome, then redirects like Kirim does. ?outcome=success or ?outcome=fail&reason=X
// does the same in one request.
func (s *Sandbox) hostedPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	var l *link
	hash := hashToken(r.PathValue("token"))
	for _, cand := range s.st.Links {
		if cand.TokenHash == hash {
			l = cand
			break
		}
	}
	if l == nil {
		s.renderHosted(w, http.StatusNotFound, hostedPage{Title: "Link not found", Error: "This setup link is not valid."})
		return
	}
	c := s.st.Customers[l.CustomerID]
	if st := s.linkStatus(l); st != "active" {
		reason := map[string]string{"expired": "link_expired", "revoked": "link_revoked", "consumed": "link_already_used"}[st]
		if l.Failure != nil {
			s.redirect(w, r, *l.Failure, s.failureParams(c, reason))
			return
		}
		s.renderHosted(w, http.StatusGone, hostedPage{Title: "Link " + st, Error: "This setup link is " + st + " (" + reason + ")."})
		return
	}
	switch r.Form.Get("outcome") {
	case "success":
		var a *account
		if r.Form.Get("confirm") == "later" {
			// Meta's flow finished but Kirim has not confirmed yet: the browser returns
			// before the account is connected (ConfirmPending, or a timer, finishes it).
			a = s.startPending(c, l, r.Form.Get("phone_number"))
		} else {
			a = s.connect(c, l, r.Form.Get("phone_number"))
		}
		if l.Success != nil {
			s.redirect(w, r, *l.Success, s.successParams(c, a))
			return
		}
		s.renderHosted(w, http.StatusOK, hostedPage{Title: "Connected", Error: "The number " + kirim.Str(a.PhoneNumber) + " is connected."})
	case "fail":
		reason := r.Form.Get("reason")
		if !reasonPattern.MatchString(reason) {
			reason = "signup_cancelled"
		}
		s.dirty = true
		if l.Failure != nil {
			s.redirect(w, r, *l.Failure, s.failureParams(c, reason))
			return
		}
		s.renderHosted(w, http.StatusOK, hostedPage{Title: "Signup failed", Error: "Signup failed: " + reason + "."})
	default:
		s.renderHosted(w, http.StatusOK, hostedPage{Title: "Connect WhatsApp", Customer: c.Name, Reasons: FailureReasons})
	}
}

func (s *Sandbox) renderHosted(w http.ResponseWriter, status int, p hostedPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	hostedTmpl.Execute(w, p)
}

// customerParam adds the redirect's customer_id in the variant's form.
func (s *Sandbox) customerParam(q url.Values, c *customer) url.Values {
	switch s.opts.Variant.RedirectCustomerID {
	case "internal":
		q.Set("customer_id", c.InternalID)
	case "none":
	default:
		q.Set("customer_id", c.ID)
	}
	return q
}

func (s *Sandbox) successParams(c *customer, a *account) url.Values {
	q := s.customerParam(url.Values{"status": {"success"}}, c)
	switch s.opts.Variant.RedirectAccountID {
	case "phone_number_id":
		if a.PhoneNumberID != nil {
			q.Set("account_id", *a.PhoneNumberID)
		}
	case "none":
	default:
		q.Set("account_id", a.ID)
	}
	return q
}

func (s *Sandbox) failureParams(c *customer, reason string) url.Values {
	if other, ok := otherReasonCodes[reason]; ok && s.opts.Variant.OtherReasonCodes {
		reason = other
	}
	param := s.opts.Variant.ReasonParam
	if param == "" {
		param = "reason"
	}
	return s.customerParam(url.Values{"status": {"failed"}, param: {reason}}, c)
}

// redirect appends Kirim's query parameters to a stored redirect URL.
func (s *Sandbox) redirect(w http.ResponseWriter, r *http.Request, target string, params url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, "bad redirect URL", http.StatusInternalServerError)
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// connect finishes Embedded Signup: a new connected account with a fresh 15-digit
// phone_number_id, the link consumed, a pending customer made active.
func (s *Sandbox) connect(c *customer, l *link, phone string) *account {
	now := s.now()
	pnid := newPhoneNumberID()
	if !phonePattern.MatchString(phone) {
		phone = newPhoneNumber()
	}
	name := c.Name
	a := &account{ID: newID("wba", now), PhoneNumberID: &pnid, PhoneNumber: &phone, Name: &name,
		Status: "connected", CustomerID: &c.ID, OnboardedAt: &now, CreatedAt: now}
	if n := s.opts.Variant.OnboardingReads; n > 0 {
		// Meta has not finished: the account reads as onboarding for a while.
		a.PhoneNumberID, a.Status, a.OnboardedAt, a.ReadsLeft, a.Promote = nil, "onboarding", nil, n, true
	} else {
		s.st.MetaTemplates[pnid] = starterTemplates(now)
	}
	s.st.Accounts = append(s.st.Accounts, a)
	l.Status, l.ConsumedAt = "consumed", &now
	if c.Status == "pending" {
		c.Status, c.UpdatedAt = "active", now
	}
	s.dirty = true
	s.emitOnboarded(c, l, a)
	return a
}

// emitOnboarded sends the two events of a finished signup, in the variant's shape.
func (s *Sandbox) emitOnboarded(c *customer, l *link, a *account) {
	if s.opts.Variant.LinkOnlyWebhooks {
		s.emit("customer.setup_link.consumed", map[string]any{"setup_link": s.linkJSON(l)})
		s.emit("customer.onboarded", map[string]any{"setup_link": s.linkJSON(l)})
		return
	}
	s.emit("customer.setup_link.consumed", map[string]any{"setup_link": s.linkJSON(l), "customer": customerJSON(c)})
	s.emit("customer.onboarded", map[string]any{"customer": customerJSON(c), "account": accountJSON(a)})
}

// readAccount counts one read of an account for OnboardingReads: after the last read
// that sees it onboarding, Meta is done and the account is connected.
func (s *Sandbox) readAccount(a *account) {
	if !a.Promote || a.Status != "onboarding" {
		return
	}
	if a.ReadsLeft > 0 {
		a.ReadsLeft--
		s.dirty = true
		return
	}
	now := s.now()
	pnid := newPhoneNumberID()
	a.PhoneNumberID, a.Status, a.OnboardedAt, a.Promote = &pnid, "connected", &now, false
	s.st.MetaTemplates[pnid] = starterTemplates(now)
	s.dirty = true
}

var phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// pending is a signup Kirim has not confirmed yet.
type pending struct {
	Account string `json:"account"`
	Link    string `json:"link"`
}

// startPending records an account still onboarding (no phone_number_id yet) for a link
// that stays active until the signup is confirmed.
func (s *Sandbox) startPending(c *customer, l *link, phone string) *account {
	now := s.now()
	if !phonePattern.MatchString(phone) {
		phone = newPhoneNumber()
	}
	name := c.Name
	a := &account{ID: newID("wba", now), PhoneNumber: &phone, Name: &name, Status: "onboarding", CustomerID: &c.ID, CreatedAt: now}
	s.st.Accounts = append(s.st.Accounts, a)
	s.st.Pending = append(s.st.Pending, pending{Account: a.ID, Link: l.ID})
	s.dirty = true
	if s.opts.ConfirmAfter > 0 {
		time.AfterFunc(s.opts.ConfirmAfter, func() { s.ConfirmPending() })
	}
	return a
}

// ConfirmPending finishes every signup waiting for confirmation: the account gets its
// phone_number_id and is connected, the link is consumed, the customer activated.
func (s *Sandbox) ConfirmPending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.st.Pending {
		l := s.st.Links[p.Link]
		var a *account
		for _, x := range s.st.Accounts {
			if x.ID == p.Account {
				a = x
			}
		}
		if l == nil || a == nil || a.Status != "onboarding" {
			continue
		}
		c := s.st.Customers[l.CustomerID]
		now := s.now()
		pnid := newPhoneNumberID()
		a.PhoneNumberID, a.Status, a.OnboardedAt = &pnid, "connected", &now
		s.st.MetaTemplates[pnid] = starterTemplates(now)
		l.Status, l.ConsumedAt = "consumed", &now
		if c.Status == "pending" {
			c.Status, c.UpdatedAt = "active", now
		}
		s.emitOnboarded(c, l, a)
		n++
	}
	s.st.Pending = nil
	s.dirty = true
	return n
}

// SeedCustomers adds n customers at once, bypassing the API (for tests of bulk work).
func (s *Sandbox) SeedCustomers(n int, namePrefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for i := range n {
		s.st.Seq++
		c := &customer{Seq: s.st.Seq, ID: newID("cus", now), InternalID: newInternalID(), Name: fmt.Sprintf("%s %d", namePrefix, i),
			Status: "pending", TeamID: sandboxTeamID, CreatedAt: now, UpdatedAt: now}
		s.st.Customers[c.ID] = c
	}
	s.dirty = true
}

// SeedConnected adds n active customers at once, each with a connected WhatsApp
// account whose Meta templates are the starter ones, bypassing the API (for tests of
// work over many accounts).
func (s *Sandbox) SeedConnected(n int, namePrefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for i := range n {
		s.st.Seq++
		name := fmt.Sprintf("%s %d", namePrefix, i)
		c := &customer{Seq: s.st.Seq, ID: newID("cus", now), InternalID: newInternalID(), Name: name,
			Status: "active", TeamID: sandboxTeamID, CreatedAt: now, UpdatedAt: now}
		s.st.Customers[c.ID] = c
		pnid, phone := newPhoneNumberID(), newPhoneNumber()
		s.st.Accounts = append(s.st.Accounts, &account{ID: newID("wba", now), PhoneNumberID: &pnid, PhoneNumber: &phone,
			Name: &name, Status: "connected", CustomerID: &c.ID, OnboardedAt: &now, CreatedAt: now})
		s.st.MetaTemplates[pnid] = starterTemplates(now)
	}
	s.dirty = true
}

// PhoneNumberIDs lists the connected accounts' phone_number_ids.
func (s *Sandbox) PhoneNumberIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.st.Accounts {
		if a.PhoneNumberID != nil && a.Status == "connected" {
			out = append(out, *a.PhoneNumberID)
		}
	}
	return out
}

// SetCustomerName renames a customer behind the portal's back (for drift tests).
func (s *Sandbox) SetCustomerName(id, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.Customers[id]
	if ok {
		c.Name, c.UpdatedAt = name, s.now()
		s.dirty = true
	}
	return ok
}
