package web

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/kirim"
	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/store/secret"
	"github.com/kirim-portal/portal/views"
)

var customerStatuses = []string{kirim.CustomerPending, kirim.CustomerActive, kirim.CustomerSuspended, kirim.CustomerArchived}

func customersHref(f views.CustomerFilter, after string) string {
	q := url.Values{}
	for k, v := range map[string]string{"q": f.Q, "status": f.Status, "stage": f.Stage, "sort": f.Sort, "after": after} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return "/admin/customers"
	}
	return "/admin/customers?" + q.Encode()
}

func (s *Server) listCustomers(c *fiber.Ctx) error {
	ctx := c.UserContext()
	now := time.Now()
	f := listFilter(c)
	after := c.Query("after")
	page, err := s.db.Customers(ctx, store.CustomerFilter{Status: f.Status, Stage: f.Stage, Search: f.Q, After: after, Limit: 25,
		ByActivity: f.Sort == "activity"})
	if errors.Is(err, store.ErrNotFound) { // a mangled cursor: start over
		return c.Redirect(customersHref(f, ""), fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	counts, err := s.db.CountCustomers(ctx)
	if err != nil {
		return err
	}
	v := views.CustomersView{Filter: f, Statuses: customerStatuses, Stages: onboarding.Stages, Total: counts.All,
		CSRF: s.csrfToken(c), ExportHref: exportHref(f)}
	v.Counts = append(v.Counts, views.CountLink{Label: "All", N: counts.All, Href: customersHref(views.CustomerFilter{Q: f.Q, Stage: f.Stage}, ""), Active: f.Status == ""})
	for _, st := range customerStatuses {
		v.Counts = append(v.Counts, views.CountLink{Label: strings.ToUpper(st[:1]) + st[1:], N: counts.ByStatus[st],
			Href: customersHref(views.CustomerFilter{Q: f.Q, Stage: f.Stage, Status: st}, ""), Active: f.Status == st})
	}
	for _, cu := range page.Customers {
		row := views.CustomerRow{ID: cu.ID, Name: cu.Name, Email: cu.Email, Phones: cu.Phones,
			LastActivity: cu.LastActivity, Ago: humanAgo(cu.LastActivity, now)}
		row.State, row.Tone, row.Next = listState(cu, now)
		v.Rows = append(v.Rows, row)
	}
	if page.Next != "" {
		v.NextHref = customersHref(f, page.Next)
	}
	byActivity, newest := f, f
	byActivity.Sort, newest.Sort = "activity", ""
	v.SortHrefs = [2]string{customersHref(newest, ""), customersHref(byActivity, "")}
	if after != "" {
		v.FirstHref = customersHref(f, "")
	}
	return s.render(c, views.CustomersPage(s.adminPage(c, "Customers"), v))
}

// metaRows turns metadata into form rows, sorted by key, with blank rows to add more.
func metaRows(m map[string]any, blanks int) []views.MetaRow {
	var rows []views.MetaRow
	for k, v := range m {
		val, ok := v.(string)
		if !ok {
			val = fmt.Sprint(v)
		}
		rows = append(rows, views.MetaRow{Key: k, Value: val})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	for range blanks {
		rows = append(rows, views.MetaRow{})
	}
	return rows
}

func customerInput(c *fiber.Ctx) onboarding.CustomerInput {
	in := onboarding.CustomerInput{Name: c.FormValue("name"), Email: c.FormValue("email"), TeamID: c.FormValue("team_id"), Locale: c.FormValue("locale")}
	args := c.Request().PostArgs()
	keys, values := args.PeekMulti("meta_key"), args.PeekMulti("meta_value")
	for i := range keys {
		p := onboarding.MetaPair{Key: string(keys[i])}
		if i < len(values) {
			p.Value = string(values[i])
		}
		in.Metadata = append(in.Metadata, p)
	}
	return in
}

func formOf(in onboarding.CustomerInput) views.CustomerForm {
	f := views.CustomerForm{Name: in.Name, Email: in.Email, TeamID: in.TeamID, Locale: in.Locale}
	for _, p := range in.Metadata {
		f.Meta = append(f.Meta, views.MetaRow{Key: p.Key, Value: p.Value})
	}
	f.Meta = append(f.Meta, views.MetaRow{}, views.MetaRow{})
	return f
}

func (s *Server) newCustomer(c *fiber.Ctx) error {
	f := views.CustomerForm{Action: "/admin/customers", Intent: secret.NewToken(16), Locale: "en", Meta: metaRows(nil, 3), Cancel: "/admin/customers"}
	return s.render(c, views.CustomerFormPage(s.adminPage(c, "New customer"), f))
}

// formFailure re-renders a form after a failed submission: field errors next to the
// fields, Kirim's answer on top, what the user typed kept.
func (s *Server) formFailure(c *fiber.Ctx, title string, f views.CustomerForm, err error) error {
	p, ok := explain(err)
	if !ok {
		return err
	}
	var inv *onboarding.InvalidError
	var ke *kirim.Error
	switch {
	case errors.As(err, &inv):
		f.Errors, p.message = inv.Fields, "Please correct the fields marked below."
	case errors.As(err, &ke) && ke.Param != "" && kirim.IsValidation(ke):
		f.Errors = map[string]string{strings.TrimPrefix(ke.Param, "/"): ke.Message}
	case errors.Is(err, onboarding.ErrStaleForm):
		f.Intent = secret.NewToken(16)
	}
	f.Problem = p.message
	c.Status(p.status)
	return s.render(c, views.CustomerFormPage(s.adminPage(c, title), f))
}

func (s *Server) createCustomer(c *fiber.Ctx) error {
	in := customerInput(c)
	in.SendLink = c.FormValue("send_email") == "1"
	intent := c.FormValue("intent")
	cu, err := s.ob.CreateCustomer(c.UserContext(), in, intent, actor(c))
	var sendErr *onboarding.SendError
	switch {
	case errors.As(err, &sendErr):
		s.flash(c, "error", "Customer "+cu.Name+" created. The setup link email could not be sent: "+problemOf(sendErr.Err))
	case err != nil:
		in.Normalize()
		f := formOf(in)
		f.Action, f.Intent, f.Cancel = "/admin/customers", intent, "/admin/customers"
		return s.formFailure(c, "New customer", f, err)
	case in.SendLink:
		s.mailFlash(c, "Customer "+cu.Name+" created. ", "Setup link email on its way to "+cu.Email+".")
	default:
		s.flash(c, "ok", "Customer "+cu.Name+" created.")
	}
	return redirect(c, views.CustomerPath(cu.ID))
}

// mailFlash says what became of an email: sent (on its way), or, without an email
// server, saved but not sent (a warning, never a success).
func (s *Server) mailFlash(c *fiber.Ctx, prefix, sent string) {
	if s.ob.DevOutbox() {
		s.flash(c, "warn", prefix+"Saved — not sent: no email server is configured. The email waits in the Outbox.")
		return
	}
	s.flash(c, "ok", prefix+sent)
}

// sendLink emails the customer the link that works now (a new one when none does), or
// a fresh one when asked.
func (s *Server) sendLink(c *fiber.Ctx) error {
	cu, err := s.customerByParam(c)
	if err != nil {
		return err
	}
	self := views.CustomerPath(cu.ID)
	ctx := c.UserContext()
	fresh := c.FormValue("fresh") == "1"
	var r *onboarding.Resent
	if fresh {
		_, err = s.ob.SendLinkEmail(ctx, cu.ID, true, actor(c))
	} else {
		r, err = s.ob.SendCurrentLink(ctx, cu.ID, actor(c))
	}
	switch {
	case err != nil:
		msg := problemOf(err)
		if msg == "" {
			return err
		}
		s.flash(c, "error", msg)
	case fresh:
		s.mailFlash(c, "", "A fresh link was made. Email on its way to "+cu.Email+".")
	default:
		s.mailFlash(c, "", resentWords(r))
	}
	return redirect(c, self)
}

func (s *Server) customerByParam(c *fiber.Ctx) (*store.Customer, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return nil, fiber.ErrNotFound
	}
	return s.db.CustomerByID(c.UserContext(), id)
}

// humanUntil says how far off a moment is, for countdowns, rounded to the nearest unit
// so that a link made for 7 days says "in 7 days", not 6.
func humanUntil(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "expired"
	case d < time.Hour:
		return fmt.Sprintf("in %d min", int(d.Minutes())+1)
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d h", int(d.Round(time.Hour).Hours()))
	default:
		return fmt.Sprintf("in %d days", int((d+12*time.Hour)/(24*time.Hour)))
	}
}

// humanAgo says how long ago a moment was, in one unit.
func humanAgo(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

var linkHours = []views.HoursOption{{Hours: 24, Label: "1 day"}, {Hours: 72, Label: "3 days"},
	{Hours: 168, Label: "7 days"}, {Hours: 336, Label: "14 days"}, {Hours: 720, Label: "30 days"}}

func (s *Server) showCustomer(c *fiber.Ctx) error {
	ctx := c.UserContext()
	cu, err := s.customerByParam(c)
	if err != nil {
		return err
	}
	links, err := s.db.SetupLinks(ctx, cu.ID)
	if err != nil {
		return err
	}
	events, err := s.db.Events(ctx, cu.ID, time.Time{}, 0, 100)
	if err != nil {
		return err
	}
	now := time.Now()
	v := views.CustomerView{ID: cu.ID, KirimID: cu.KirimID, Name: cu.Name, Email: cu.Email, Status: cu.Status,
		Stage: cu.Stage, StageReason: cu.StageReason, Locale: cu.Locale, TeamID: cu.TeamID, Meta: metaRows(cu.Metadata, 0),
		Phones: cu.Phones, CreatedAt: cu.CreatedAt, DefaultHours: onboarding.DefaultLinkHours, LinkHours: linkHours}
	for _, l := range links {
		row := views.LinkRow{ID: l.ID, KirimID: l.KirimID, Status: onboarding.LinkStatus(l, now), Last4: l.TokenLast4,
			CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt, ExpiresIn: humanUntil(l.ExpiresAt, now), ConsumedAt: l.ConsumedAt,
			Success: l.SuccessRedirectURL, Failure: l.FailureRedirectURL}
		v.Links = append(v.Links, row)
		if row.Status == kirim.LinkActive && v.ActiveLink == nil {
			v.ActiveLink = &v.Links[len(v.Links)-1]
			token, err := s.db.LandingToken(ctx, l.ID)
			if err != nil {
				return err
			}
			v.LandingURL = s.ob.LandingURL(token)
		}
	}
	emails, err := s.db.Emails(ctx, cu.ID, 50)
	if err != nil {
		return err
	}
	v.Emails = s.emailRows(c, emails)
	if v.Accounts, err = s.accountRows(c, cu.ID); err != nil {
		return err
	}
	for _, e := range events {
		v.Events = append(v.Events, views.EventRow{Kind: string(e.Kind), Actor: e.Actor, Detail: eventDetail(e), At: e.CreatedAt})
	}
	fu, err := s.ob.FollowUpOf(ctx, cu)
	if err != nil {
		return err
	}
	v.FollowUp = views.FollowUpView{Paused: fu.Paused, Disabled: fu.Disabled, Zone: fu.Zone, ZoneFrom: fu.ZoneFrom,
		TimeZone: cu.TimeZone, Next: fu.Next, Sent: fu.Sent, Fresh: fu.Fresh}
	if a, err := s.db.AttentionOf(ctx, cu.ID); err == nil {
		v.Attention = onboarding.AttentionWords(a.Kind, a.Detail)
	}
	v.Zone, _ = time.LoadLocation(fu.Zone)
	if v.Zone == nil {
		v.Zone = time.UTC
	}
	v.Next = nextStep(v)
	v.Confirm = c.Query("confirm")
	return s.render(c, views.CustomerPage(s.adminPage(c, cu.Name), v))
}

// listState is the customer list's short form of nextStep: where the customer is, the
// badge's tone, and the next step, from what a list row knows.
func listState(cu *store.Customer, now time.Time) (state, tone, next string) {
	live := cu.LinkExpires != nil && cu.LinkExpires.After(now)
	switch {
	case cu.Status == kirim.CustomerArchived:
		return "Archived", "", ""
	case cu.Status == kirim.CustomerSuspended:
		return "Suspended", "warn", "Lift the suspension to let them connect"
	case cu.Stage == onboarding.StageConnected || len(cu.Phones) > 0 && cu.Status == kirim.CustomerActive:
		return "Connected ✓", "ok", ""
	case cu.Stage == onboarding.StageFailed:
		return "Signup failed", "danger", "Send a fresh link"
	case live && cu.Stage == onboarding.StageLinkSent:
		return "Waiting for the customer", "", "Link expires " + humanUntil(*cu.LinkExpires, now)
	case live && (cu.Stage == onboarding.StageOpened || cu.Stage == onboarding.StageStarted):
		return "Opened the page", "", "Link expires " + humanUntil(*cu.LinkExpires, now)
	case live:
		return "Link ready, not sent", "warn", "Send the link"
	case cu.Stage == onboarding.StageCreated:
		return "Not sent yet", "", "Send a setup link"
	}
	return "No working link", "warn", "Send a fresh link"
}

// nextStep says where the customer is and the one thing to do next, in that order of
// precedence: archived, suspended, connected, failed, a working link, no working link.
func nextStep(v views.CustomerView) views.NextStep {
	self := views.CustomerPath(v.ID)
	send := func(label string, fresh bool) views.Action {
		if v.Email == "" {
			return views.Action{Label: "Add an email address", Href: self + "/edit"}
		}
		return views.Action{Label: label, Post: self + "/email", Fresh: fresh}
	}
	held := len(v.Emails) > 0 && v.Emails[0].Status == store.EmailHeld
	switch {
	case v.Status == kirim.CustomerArchived:
		return views.NextStep{Tone: "info", Title: "Archived", Detail: "Its setup links no longer work. Nothing more to do."}
	case v.Status == kirim.CustomerSuspended:
		return views.NextStep{Tone: "warn", Title: "Suspended",
			Detail: v.Name + " cannot connect a number until you lift the suspension; reminders are stopped.",
			Action: views.Action{Label: "Lift suspension", Post: self + "/unsuspend"}}
	}
	for _, a := range v.Accounts {
		if a.Status == "connected" {
			n := views.NextStep{Tone: "ok", Title: "Connected ✓ " + views.OrDash(a.PhoneNumber),
				Action: views.Action{Label: "Open account", Href: "#account-" + strconv.FormatInt(a.ID, 10)}}
			if a.OnboardedAt != nil {
				n.Detail = "Since " + views.ZoneTime(*a.OnboardedAt, v.Zone) + "."
			}
			return n
		}
	}
	if v.Stage == onboarding.StageFailed {
		return views.NextStep{Tone: "danger", Title: "Signup failed: " + onboarding.FailureWords(v.StageReason),
			Tell: onboarding.FailureTell(v.StageReason), Action: send("Send a fresh link", true)}
	}
	if l := v.ActiveLink; l != nil {
		expires := "The link works until " + views.ZoneTime(l.ExpiresAt, v.Zone) + " (" + l.ExpiresIn + ")."
		switch {
		case held:
			return views.NextStep{Tone: "warn", Title: "Not sent: no email server is configured",
				Detail: expires + " Copy it and send it yourself, or set SMTP_URL and send it again.",
				Action: views.Action{Label: "Copy link", Copy: "landing-url"}}
		case v.Stage == onboarding.StageLinkIssued || v.Stage == onboarding.StageCreated:
			n := views.NextStep{Tone: "info", Title: "Link ready, not sent yet", Detail: expires, Action: send("Send link by email", false)}
			if v.Email == "" {
				n.Action = views.Action{Label: "Copy link", Copy: "landing-url"}
			}
			return n
		}
		detail := expires
		if v.Stage == onboarding.StageOpened || v.Stage == onboarding.StageStarted {
			detail = "They have opened the setup page. " + expires
		}
		n := views.NextStep{Tone: "info", Title: "Waiting for the customer", Detail: detail, Action: send("Resend link", false)}
		if v.Email == "" {
			n.Action = views.Action{Label: "Copy link", Copy: "landing-url"}
		}
		return n
	}
	n := views.NextStep{Tone: "info", Title: "No setup link sent yet", Action: send("Send setup link", false)}
	if len(v.Links) > 0 {
		switch l := v.Links[0]; l.Status {
		case kirim.LinkRevoked:
			n = views.NextStep{Tone: "warn", Title: "Link revoked", Detail: v.Name + " cannot connect until they get a new link.",
				Action: send("Send a fresh link", true)}
		case kirim.LinkExpired:
			n = views.NextStep{Tone: "warn", Title: "The link expired " + views.ZoneTime(l.ExpiresAt, v.Zone),
				Detail: v.Name + " cannot connect with it.", Action: send("Send a fresh link", true)}
		}
	}
	if v.Email == "" {
		n.Detail = strings.TrimSpace(n.Detail + " Add an email address to send links, or make a link and share it yourself.")
	}
	return n
}

// eventDetail is the one-line summary of an event's details, in a fixed order.
func eventDetail(e store.Event) string {
	var parts []string
	for _, k := range []string{"name", "phone_number", "from", "to", "reason", "reminder", "fields", "type", "trigger",
		"time_zone", "days", "note"} {
		if v, ok := e.Detail[k]; ok && v != "" {
			parts = append(parts, fmt.Sprintf("%s %v", strings.ReplaceAll(k, "_", " "), v))
		}
	}
	if _, ok := e.Detail["synced"]; ok {
		parts = append(parts, fmt.Sprintf("%v synced, %v created, %v updated", e.Detail["synced"], e.Detail["created"], e.Detail["updated"]))
	}
	if next, ok := e.Detail["next_step"]; ok {
		parts = append(parts, fmt.Sprintf("next step: %v", next))
	}
	return strings.Join(parts, "; ")
}

func (s *Server) editCustomer(c *fiber.Ctx) error {
	cu, err := s.customerByParam(c)
	if err != nil {
		return err
	}
	self := views.CustomerPath(cu.ID)
	f := views.CustomerForm{Action: self, Name: cu.Name, Email: cu.Email, Locale: cu.Locale, Meta: metaRows(cu.Metadata, 2), Edit: true, Cancel: self}
	return s.render(c, views.CustomerFormPage(s.adminPage(c, "Edit "+cu.Name), f))
}

func (s *Server) updateCustomer(c *fiber.Ctx) error {
	cu, err := s.customerByParam(c)
	if err != nil {
		return err
	}
	in := customerInput(c)
	self := views.CustomerPath(cu.ID)
	if _, err := s.ob.UpdateCustomer(c.UserContext(), cu.ID, in, actor(c)); err != nil {
		in.Normalize()
		f := formOf(in)
		f.Action, f.Edit, f.Cancel = self, true, self
		return s.formFailure(c, "Edit "+cu.Name, f, err)
	}
	s.flash(c, "ok", "Changes saved.")
	return redirect(c, self)
}

// customerAction runs a one-button action and comes back to the customer page with a
// flash saying how it went.
func (s *Server) customerAction(done string, fn func(s *Server, c *fiber.Ctx, id int64) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		cu, err := s.customerByParam(c)
		if err != nil {
			return err
		}
		self := views.CustomerPath(cu.ID)
		if err := fn(s, c, cu.ID); err != nil {
			msg := problemOf(err)
			if msg == "" {
				return err
			}
			s.flash(c, "error", msg)
			return redirect(c, self)
		}
		s.flash(c, "ok", done)
		return redirect(c, self)
	}
}

func linkID(c *fiber.Ctx) int64 {
	id, _ := strconv.ParseInt(c.Params("link"), 10, 64)
	return id
}

var (
	suspendCustomer = func(s *Server, c *fiber.Ctx, id int64) error { return s.ob.Suspend(c.UserContext(), id, actor(c)) }
	unsuspend       = func(s *Server, c *fiber.Ctx, id int64) error { return s.ob.Unsuspend(c.UserContext(), id, actor(c)) }
	archive         = func(s *Server, c *fiber.Ctx, id int64) error { return s.ob.Archive(c.UserContext(), id, actor(c)) }
	issueLink       = func(s *Server, c *fiber.Ctx, id int64) error {
		hours, err := strconv.Atoi(c.FormValue("expires_in_hours", strconv.Itoa(onboarding.DefaultLinkHours)))
		if err != nil {
			hours = 0 // refused with a clear message by IssueLink
		}
		_, err = s.ob.IssueLink(c.UserContext(), id, hours, actor(c))
		return err
	}
	revokeLink = func(s *Server, c *fiber.Ctx, id int64) error {
		return s.ob.RevokeLink(c.UserContext(), id, linkID(c), actor(c))
	}
	refreshFromKirim = func(s *Server, c *fiber.Ctx, id int64) error {
		_, err := s.ob.RefreshCustomer(c.UserContext(), id, "staff")
		return err
	}
	syncTemplates = func(s *Server, c *fiber.Ctx, id int64) error {
		accountID, _ := strconv.ParseInt(c.Params("account"), 10, 64)
		return s.ob.SyncCustomerTemplates(c.UserContext(), id, accountID, "staff")
	}
	// setFollowUp pauses or resumes the customer's follow-up, or sets its time zone.
	setFollowUp = func(s *Server, c *fiber.Ctx, id int64) error {
		ctx := c.UserContext()
		switch c.FormValue("action") {
		case "pause":
			return s.ob.SetFollowUpPaused(ctx, id, true, actor(c))
		case "resume":
			return s.ob.SetFollowUpPaused(ctx, id, false, actor(c))
		}
		return s.ob.SetCustomerTimeZone(ctx, id, c.FormValue("time_zone"), actor(c))
	}
	updateRedirects = func(s *Server, c *fiber.Ctx, id int64) error {
		return s.ob.UpdateLinkRedirects(c.UserContext(), id, linkID(c), strings.TrimSpace(c.FormValue("success_redirect_url")),
			strings.TrimSpace(c.FormValue("failure_redirect_url")), actor(c))
	}
)
