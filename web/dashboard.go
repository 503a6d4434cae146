package web

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// funnelSteps are the dashboard's funnel: an event kind per step, and the stage filter
// its row links to. The failed step is measured against the started one, and is not a
// step the others count from.
var funnelSteps = []struct {
	label  string
	kind   store.EventKind
	stage  string
	failed bool
}{
	{"Created", "", "", false},
	{"Emailed", store.EventEmailQueued, onboarding.StageLinkSent, false},
	{"Opened", store.EventLandingOpened, onboarding.StageOpened, false},
	{"Started", store.EventLandingClicked, onboarding.StageStarted, false},
	{"Connected", store.EventAccountConnected, onboarding.StageConnected, false},
	{"Failed", store.EventSignupFailed, onboarding.StageFailed, true},
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	default:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	}
}

func (s *Server) dashboard(c *fiber.Ctx) error {
	ctx := c.UserContext()
	counts, err := s.db.CountCustomers(ctx)
	if err != nil {
		return err
	}
	v := views.DashboardView{Total: counts.All, MedianConnect: "—"}
	for _, st := range customerStatuses {
		v.Counts = append(v.Counts, views.CountLink{Label: strings.ToUpper(st[:1]) + st[1:], N: counts.ByStatus[st],
			Href: customersHref(views.CustomerFilter{Status: st}, "")})
	}
	if v.Funnel, err = s.funnel(ctx, counts.All); err != nil {
		return err
	}
	times, err := s.db.TimesToConnect(ctx)
	if err != nil {
		return err
	}
	if len(times) > 0 {
		slices.Sort(times)
		v.MedianConnect = humanDuration(times[len(times)/2])
	}
	reasons, err := s.db.FailureReasons(ctx)
	if err != nil {
		return err
	}
	for _, r := range reasons {
		v.Failures = append(v.Failures, views.Bar{Label: r.Reason, N: r.N, Width: r.N * 100 / reasons[0].N})
	}
	if err := s.needsAttention(ctx, &v); err != nil {
		return err
	}
	if err := s.backgroundStatus(ctx, &v); err != nil {
		return err
	}
	return s.render(c, views.DashboardPage(s.adminPage(c, "Dashboard"), v))
}

// funnel draws the funnel's bars from the customers who reached each step.
func (s *Server) funnel(ctx context.Context, total int) ([]views.FunnelStep, error) {
	var kinds []store.EventKind
	for _, f := range funnelSteps[1:] {
		kinds = append(kinds, f.kind)
	}
	reached, err := s.db.FunnelCounts(ctx, kinds...)
	if err != nil {
		return nil, err
	}
	var steps []views.FunnelStep
	prev := total
	for i, f := range funnelSteps {
		n := total
		if f.kind != "" {
			n = reached[f.kind]
		}
		step := views.FunnelStep{Label: f.label, N: n, Href: customersHref(views.CustomerFilter{Stage: f.stage}, "")}
		if total > 0 {
			step.Width = n * 100 / total
		}
		switch {
		case i == 0:
			step.Rate = "—"
		case f.failed:
			step.Rate = percent(n, reached[store.EventLandingClicked]) + " of started"
		default:
			step.Rate = percent(n, prev)
			prev = n
		}
		steps = append(steps, step)
	}
	return steps, nil
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
