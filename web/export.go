package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// exportPage is how many customers the export reads at a time: memory stays flat at
// any number of customers.
const exportPage = 200

// listFilter reads the customer list's search and filters from the query or a form.
func listFilter(c *fiber.Ctx) views.CustomerFilter {
	f := views.CustomerFilter{Q: store.CleanSearch(c.FormValue("q", c.Query("q"))), Status: c.FormValue("status", c.Query("status")),
		Stage: c.FormValue("stage", c.Query("stage"))}
	if c.Query("sort") == "activity" {
		f.Sort = "activity"
	}
	if !slices.Contains(customerStatuses, f.Status) {
		f.Status = ""
	}
	if !slices.Contains(onboarding.Stages, f.Stage) {
		f.Stage = ""
	}
	return f
}

// exportHref is the CSV export of the list under its filters.
func exportHref(f views.CustomerFilter) string {
	return strings.Replace(customersHref(f, ""), "/admin/customers", "/admin/customers/export.csv", 1)
}

// exportCustomers streams the customer list, with the list's filters, as CSV.
func (s *Server) exportCustomers(c *fiber.Ctx) error {
	lf := listFilter(c)
	f := store.CustomerFilter{Search: lf.Q, Status: lf.Status, Stage: lf.Stage, Limit: exportPage}
	ctx := context.WithoutCancel(c.UserContext()) // the writer runs after the handler returns
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="customers-`+s.db.Now().UTC().Format("2006-01-02")+`.csv"`)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		cw := csv.NewWriter(w)
		cw.Write([]string{"id", "kirim_id", "external_ref", "name", "email", "phone", "language", "status", "stage",
			"active_link_expires_at", "connected_numbers", "last_event_at"})
		for {
			page, err := s.db.Customers(ctx, f)
			if err != nil {
				s.log.Error("customer export", "err", err)
				return
			}
			ids := make([]int64, len(page.Customers))
			for i, cu := range page.Customers {
				ids[i] = cu.ID
			}
			extras, err := s.db.CustomerExtras(ctx, ids)
			if err != nil {
				s.log.Error("customer export", "err", err)
				return
			}
			for _, cu := range page.Customers {
				x := extras[cu.ID]
				cw.Write([]string{strconv.FormatInt(cu.ID, 10), cu.KirimID, safeCell(metaString(cu.Metadata, "external_ref")),
					safeCell(cu.Name), safeCell(cu.Email), safeCell(metaString(cu.Metadata, "phone")), cu.Locale, cu.Status, cu.Stage,
					csvTime(x.LinkExpires), x.Connected, csvTime(x.LastEvent)})
			}
			cw.Flush()
			if cw.Error() != nil || page.Next == "" {
				return // the client went away, or the list is done
			}
			f.After = page.Next
		}
	})
	return nil
}

func metaString(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// bulkLabels are the bulk actions' words, by the form's value.
var bulkLabels = map[string]string{}

func init() {
	for _, a := range views.BulkActions {
		bulkLabels[a.Value] = a.Label
	}
}

// bulkTargets resolves the customers a bulk action is for: the ticked ones, or every
// customer matching the list's filters.
func (s *Server) bulkTargets(c *fiber.Ctx) ([]int64, views.CustomerFilter, error) {
	f := listFilter(c)
	if c.FormValue("scope") != "all" {
		var ids []int64
		for _, raw := range c.Request().PostArgs().PeekMulti("id") {
			if id, err := strconv.ParseInt(string(raw), 10, 64); err == nil && id > 0 {
				ids = append(ids, id)
			}
		}
		return ids, f, nil
	}
	var ids []int64
	sf := store.CustomerFilter{Search: f.Q, Status: f.Status, Stage: f.Stage, Limit: exportPage}
	for {
		page, err := s.db.Customers(c.UserContext(), sf)
		if err != nil {
			return nil, f, err
		}
		for _, cu := range page.Customers {
			ids = append(ids, cu.ID)
		}
		if page.Next == "" {
			return ids, f, nil
		}
		sf.After = page.Next
	}
}

// bulkConfirm asks before a bulk action: what, and for how many customers.
func (s *Server) bulkConfirm(c *fiber.Ctx) error {
	action := c.FormValue("action")
	ids, f, err := s.bulkTargets(c)
	if err != nil {
		return err
	}
	back := customersHref(f, "")
	if bulkLabels[action] == "" || len(ids) == 0 {
		s.flash(c, "error", "Tick the customers to act on (or choose all that match), and an action.")
		return redirect(c, back)
	}
	v := views.BulkConfirmView{Action: action, Label: bulkLabels[action], Scope: c.FormValue("scope"), Filter: f, Count: len(ids), Back: back}
	if v.Scope != "all" {
		v.IDs = ids
	}
	for _, id := range ids[:min(len(ids), 5)] {
		if cu, err := s.db.CustomerByID(c.UserContext(), id); err == nil {
			v.Names = append(v.Names, cu.Name)
		}
	}
	return s.render(c, views.BulkConfirmPage(s.adminPage(c, v.Label), v))
}

// bulkStart starts a confirmed bulk action and shows its progress.
func (s *Server) bulkStart(c *fiber.Ctx) error {
	action := c.FormValue("action")
	ids, f, err := s.bulkTargets(c)
	if err != nil {
		return err
	}
	title := views.Plural(len(ids), "chosen customer", "chosen customers")
	if c.FormValue("scope") == "all" {
		title = views.Plural(len(ids), "customer", "customers") + " matching " + describeFilter(f)
	}
	id, err := s.ob.BulkAction(c.UserContext(), store.BatchKind(action), ids, title, actor(c))
	if msg := problemOf(err); msg != "" {
		s.flash(c, "error", msg)
		return redirect(c, customersHref(f, ""))
	}
	if err != nil {
		return err
	}
	s.flash(c, "ok", bulkLabels[action]+": started.")
	return redirect(c, batchPath(id))
}

func describeFilter(f views.CustomerFilter) string {
	var parts []string
	if f.Q != "" {
		parts = append(parts, "“"+f.Q+"”")
	}
	if f.Status != "" {
		parts = append(parts, "status "+f.Status)
	}
	if f.Stage != "" {
		parts = append(parts, "stage "+f.Stage)
	}
	if len(parts) == 0 {
		return "no filter"
	}
	return strings.Join(parts, ", ")
}
