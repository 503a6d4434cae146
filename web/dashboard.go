package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// dateRange is the dashboard's cohort: the customers created from..to (UTC days, both
// included). Preset is week, 30d, all or custom.
type dateRange struct {
	Preset, From, To, Problem string
}

const dayLayout = "2006-01-02"

// rangeOf reads the range from the query: a preset, or custom from and to. A custom
// range that cannot be read says why and shows the last 30 days.
func rangeOf(c *fiber.Ctx, now time.Time) dateRange {
	today := now.UTC().Truncate(24 * time.Hour)
	r := dateRange{Preset: c.Query("range", "30d"), To: today.Format(dayLayout)}
	switch r.Preset {
	case "week":
		monday := today.AddDate(0, 0, -((int(today.Weekday()) + 6) % 7))
		r.From = monday.Format(dayLayout)
		return r
	case "all":
		r.From = "0000-01-01"
		return r
	case "custom":
		from, err1 := time.Parse(dayLayout, c.Query("from"))
		to, err2 := time.Parse(dayLayout, c.Query("to"))
		switch {
		case err1 != nil || err2 != nil:
			r.Problem = "Enter both dates of the range, as year-month-day."
		case to.Before(from):
			r.Problem = "The range ends before it starts."
		default:
			r.From, r.To = from.Format(dayLayout), to.Format(dayLayout)
			return r
		}
	}
	r.Preset, r.From = "30d", today.AddDate(0, 0, -29).Format(dayLayout)
	return r
}

func (s *Server) dashboard(c *fiber.Ctx) error {
	ctx := c.UserContext()
	counts, err := s.db.CountCustomers(ctx)
	if err != nil {
		return err
	}
	r := rangeOf(c, time.Now())
	v := views.DashboardView{Total: counts.All, MedianConnect: "—", Preset: r.Preset, From: r.From, To: r.To, RangeProblem: r.Problem}
	if r.Preset == "all" {
		v.From = ""
	}
	for _, p := range []struct{ key, label string }{{"week", "This week"}, {"30d", "Last 30 days"}, {"all", "All time"}} {
		v.Ranges = append(v.Ranges, views.CountLink{Label: p.label, Href: "/admin/?range=" + p.key, Active: r.Preset == p.key})
	}
	for _, st := range customerStatuses {
		v.Counts = append(v.Counts, views.CountLink{Label: strings.ToUpper(st[:1]) + st[1:], N: counts.ByStatus[st],
			Href: customersHref(views.CustomerFilter{Status: st}, "")})
	}
	cohort, err := s.db.CohortOf(ctx, r.From, r.To)
	if err != nil {
		return err
	}
	v.Funnel = funnel(cohort)
	times, err := s.db.ConnectTimes(ctx, r.From, r.To)
	if err != nil {
		return err
	}
	v.MedianConnect = medianBucket(times)
	reasons, err := s.db.FailureReasons(ctx, r.From, r.To)
	if err != nil {
		return err
	}
	for _, r := range reasons {
		v.Failures = append(v.Failures, views.Bar{Label: r.Reason, N: r.N, Width: r.N * 100 / reasons[0].N})
	}
	if err := s.needsAttention(ctx, &v); err != nil {
		return err
	}
	if v.Checklist, v.SetUp, err = s.checklist(ctx, staffOf(c).Admin()); err != nil {
		return err
	}
	if err := s.backgroundStatus(ctx, &v); err != nil {
		return err
	}
	return s.render(c, views.DashboardPage(s.adminPage(c, "Dashboard"), v))
}

// medianBucket says within which bucket half of the connected customers connected.
func medianBucket(counts []int) string {
	total := 0
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return "—"
	}
	seen := 0
	for i, n := range counts {
		if seen += n; 2*seen > total { // the upper median, as the middle element of the sorted times
			if bound := store.ConnectBuckets[i]; bound > 0 {
				return "under " + boundWords(bound)
			}
			return "over " + boundWords(store.ConnectBuckets[i-1])
		}
	}
	return "—"
}

// boundWords says a round duration: "15 min", "4 h", "7 days".
func boundWords(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d min", int(d.Minutes()))
}

// funnel draws the cohort's funnel: each step counted and compared with the step before;
// failures are compared with the customers who started.
func funnel(c store.Cohort) []views.FunnelStep {
	steps := []struct {
		label, stage string
		n            int
	}{
		{"Created", "", c.Created},
		{"Emailed", onboarding.StageLinkSent, c.Emailed},
		{"Opened the page", onboarding.StageOpened, c.Opened},
		{"Started signup", onboarding.StageStarted, c.Started},
		{"Connected", onboarding.StageConnected, c.Connected},
	}
	var out []views.FunnelStep
	prev := c.Created
	for i, st := range steps {
		f := views.FunnelStep{Label: st.label, N: st.n, Href: customersHref(views.CustomerFilter{Stage: st.stage}, ""), Rate: "—"}
		if c.Created > 0 {
			f.Width = st.n * 100 / c.Created
		}
		if i > 0 && prev > 0 {
			f.Rate = percent(st.n, prev) + " of the step before"
		}
		prev = st.n
		out = append(out, f)
	}
	failed := views.FunnelStep{Label: "Failed", N: c.Failed, Href: customersHref(views.CustomerFilter{Stage: onboarding.StageFailed}, ""),
		Rate: "—", Failed: true}
	if c.Started > 0 {
		failed.Rate = percent(c.Failed, c.Started) + " of those who started"
	}
	if c.Created > 0 {
		failed.Width = c.Failed * 100 / c.Created
	}
	return append(out, failed)
}

// needsAttention sums up the needs-attention queue by reason, and lists the links that
// expire soon.
func (s *Server) needsAttention(ctx context.Context, v *views.DashboardView) error {
	counts, total, _, err := s.db.AttentionCounts(ctx)
	if err != nil {
		return err
	}
	v.Waiting = total
	for _, k := range store.AttentionKinds {
		if counts[k] > 0 {
			v.Reasons = append(v.Reasons, views.CountLink{Label: kindLabels[k], N: counts[k], Href: attentionHref(k, false, "")})
		}
	}
	links, err := s.db.LinksExpiringWithin(ctx, 48*time.Hour)
	if err != nil {
		return err
	}
	for _, l := range links {
		v.Expiring = append(v.Expiring, views.AttentionRow{CustomerID: l.CustomerID, Customer: l.Customer,
			What: "link expires " + humanUntil(l.ExpiresAt, time.Now())})
	}
	return nil
}

// backgroundStatus says how the template sync of all accounts and the reconciliation
// are doing.
func (s *Server) backgroundStatus(ctx context.Context, v *views.DashboardView) error {
	p, err := s.ob.SyncAllStatus(ctx)
	if err != nil {
		return err
	}
	v.SyncRunning = p.Running
	switch {
	case p.Running:
		v.SyncAll = fmt.Sprintf("Syncing templates: %d of %d accounts done", p.Done, p.Total)
	case !p.Finished.IsZero():
		v.SyncAll = fmt.Sprintf("Last sync of all templates: %d accounts, %d failed, finished %s", p.Total, p.Failed, p.Finished.UTC().Format("2 Jan 15:04 UTC"))
	}
	rep, running := s.ob.LastReconcile()
	v.Reconciling = running
	switch {
	case running:
		v.Reconcile = "Checking Kirim for changes…"
	case rep != nil && rep.Err != "":
		v.Reconcile = "The last check for changes failed: " + rep.Err
	case rep != nil:
		v.Reconcile = fmt.Sprintf("Last checked %s: %d customers (%d changed), %d numbers (%d changed).",
			rep.Started.UTC().Format("2 Jan 15:04 UTC"), rep.Customers, rep.CustomersChanged, rep.Accounts, rep.AccountsChanged)
	}
	return nil
}

func percent(n, of int) string {
	if of == 0 {
		return "—"
	}
	return fmt.Sprintf("%d%%", n*100/of)
}

func (s *Server) syncAll(c *fiber.Ctx) error {
	started, err := s.ob.StartSyncAll(c.UserContext(), actor(c))
	if err != nil {
		return err
	}
	if started {
		s.flash(c, "ok", "Syncing the templates of every connected number; progress shows below.")
	} else {
		s.flash(c, "error", "A sync of all templates is already running.")
	}
	return redirect(c, "/admin/")
}

func (s *Server) reconcileNow(c *fiber.Ctx) error {
	started, err := s.ob.StartReconcile(c.UserContext())
	if err != nil {
		return err
	}
	if started {
		s.flash(c, "ok", "Reconciling with Kirim in the background.")
	} else {
		s.flash(c, "error", "A reconciliation is already running.")
	}
	return redirect(c, "/admin/")
}

func (s *Server) registerWebhook(c *fiber.Ctx) error {
	if err := s.ob.RegisterWebhook(c.UserContext(), actor(c)); err != nil {
		msg := problemOf(err)
		if msg == "" {
			return err
		}
		s.flash(c, "error", msg)
		return redirect(c, "/admin/settings/branding")
	}
	s.flash(c, "ok", "Webhook registered: Kirim now tells the portal about customer changes as they happen.")
	return redirect(c, "/admin/settings/branding")
}

// accountRows are a customer's accounts with their templates and sync history.
func (s *Server) accountRows(c *fiber.Ctx, customerID int64) ([]views.AccountRow, error) {
	ctx := c.UserContext()
	accounts, err := s.db.Accounts(ctx, customerID)
	if err != nil {
		return nil, err
	}
	var rows []views.AccountRow
	for _, a := range accounts {
		r := views.AccountRow{ID: a.ID, PhoneNumber: a.PhoneNumber, PhoneNumberID: a.PhoneNumberID, Name: a.Name, Status: a.Status, OnboardedAt: a.OnboardedAt}
		tpls, err := s.db.Templates(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		for _, t := range tpls {
			r.Templates = append(r.Templates, views.TemplateRow{Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status})
		}
		syncs, err := s.db.TemplateSyncs(ctx, a.ID, 20)
		if err != nil {
			return nil, err
		}
		for _, sy := range syncs {
			r.Syncs = append(r.Syncs, views.SyncRow{At: sy.StartedAt, Trigger: sy.Trigger, Synced: sy.Synced, Created: sy.Created,
				Updated: sy.Updated, Error: sy.Error, Running: sy.FinishedAt == nil})
		}
		rows = append(rows, r)
	}
	return rows, nil
}
