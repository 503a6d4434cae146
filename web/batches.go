package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// batchWhat names a batch's kind for staff.
var batchWhat = map[store.BatchKind]string{
	store.BatchImport:        "Import",
	store.BatchSendLink:      "Send setup links",
	store.BatchRevokeLinks:   "Revoke active links",
	store.BatchArchive:       "Archive",
	store.BatchPauseFollowUp: "Pause follow-up",
}

func batchPath(id int64) string { return "/admin/imports/" + strconv.FormatInt(id, 10) }

func (s *Server) imports(c *fiber.Ctx) error {
	return s.importsPage(c, "")
}

func (s *Server) importsPage(c *fiber.Ctx, problem string) error {
	list, err := s.db.Batches(c.UserContext(), 30)
	if err != nil {
		return err
	}
	v := views.BatchesView{Error: problem}
	for _, b := range list {
		v.Batches = append(v.Batches, views.BatchSummary{Href: batchPath(b.ID), What: batchWhat[b.Kind], Title: b.Title, State: b.State,
			Counts:  fmt.Sprintf("%d done, %d failed of %d", b.Counts.Done, b.Counts.Failed, b.Counts.Total()),
			Created: b.Actor + ", " + b.CreatedAt.UTC().Format("2 Jan 15:04 MST")})
	}
	p := s.adminPage(c, "Imports")
	if problem != "" {
		c.Status(fiber.StatusUnprocessableEntity)
	}
	return s.render(c, views.BatchesPage(p, v))
}

// uploadImport reads the file and shows its preview; a file that cannot be read is
// said in words and nothing is recorded.
func (s *Server) uploadImport(c *fiber.Ctx) error {
	fh, err := c.FormFile("file")
	if err != nil {
		return s.importsPage(c, "Choose a CSV file to upload.")
	}
	if fh.Size > onboarding.MaxImportBytes {
		return s.importsPage(c, "The file is larger than 5 MB. Split it into smaller files (at most 10,000 rows each) and import them one by one.")
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	file, err := onboarding.ReadImport(f)
	var fe *onboarding.FileError
	if errors.As(err, &fe) {
		return s.importsPage(c, fe.Msg)
	}
	if err != nil {
		return err
	}
	id, err := s.ob.PreviewImport(c.UserContext(), file, fh.Filename, actor(c))
	if err != nil {
		return err
	}
	return redirect(c, batchPath(id))
}

func (s *Server) batchView(c *fiber.Ctx) (views.BatchView, error) {
	id, err := c.ParamsInt("id")
	if err != nil {
		return views.BatchView{}, store.ErrNotFound
	}
	b, err := s.db.BatchByID(c.UserContext(), int64(id))
	if err != nil {
		return views.BatchView{}, err
	}
	n := b.Counts
	v := views.BatchView{ID: b.ID, Href: batchPath(b.ID), What: batchWhat[b.Kind], Title: b.Title, State: b.State,
		IsImport: b.Kind == store.BatchImport, Ignored: b.Ignored, Total: n.Total(), Pending: n.Pending, Done: n.Done,
		Failed: n.Failed, Skipped: n.Skipped, Rejected: n.Rejected, Cancelled: n.Cancelled, SendLinks: b.SendLinks}
	v.Create = n.Pending + n.Done + n.Failed + n.Cancelled
	if v.Create > 0 {
		v.Percent = 100 * (v.Create - v.Pending) / v.Create
	}
	if eta := onboarding.BatchETA(b, s.db.Now()); eta > 0 {
		v.ETA = "about " + roughDuration(eta) + " left"
	}
	const shown = 100
	rows, err := s.db.BatchRows(c.UserContext(), b.ID, 0, shown+1, store.RowRejected, store.RowSkipped, store.RowFailed)
	if err != nil {
		return v, err
	}
	if len(rows) > shown {
		rows, v.MoreProblems = rows[:shown], n.Rejected+n.Skipped+n.Failed-shown
	}
	for _, r := range rows {
		v.Problems = append(v.Problems, s.rowView(c.UserContext(), r))
	}
	return v, nil
}

// rowView says what became of a row: its name (the file's, or the customer's).
func (s *Server) rowView(ctx context.Context, r *store.BatchRow) views.BatchRowView {
	v := views.BatchRowView{Row: r.Row, Outcome: r.Outcome, Note: r.Error}
	if r.Input != "" {
		var in onboarding.ImportRow
		if json.Unmarshal([]byte(r.Input), &in) == nil {
			v.Name = in.Input.Name
		}
	}
	if r.CustomerID != nil {
		v.Customer = views.CustomerPath(*r.CustomerID)
		if v.Name == "" {
			if cu, err := s.db.CustomerByID(ctx, *r.CustomerID); err == nil {
				v.Name = cu.Name
			}
		}
	}
	return v
}

func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < 90*time.Minute:
		return views.Plural(int(d.Round(time.Minute)/time.Minute), "minute", "minutes")
	}
	return views.Plural(int(d.Round(time.Hour)/time.Hour), "hour", "hours")
}

func (s *Server) showBatch(c *fiber.Ctx) error {
	v, err := s.batchView(c)
	if err != nil {
		return err
	}
	return s.render(c, views.BatchPage(s.adminPage(c, v.What), v))
}

// batchProgress is the progress card alone, for htmx's polling.
func (s *Server) batchProgress(c *fiber.Ctx) error {
	v, err := s.batchView(c)
	if err != nil {
		return err
	}
	return s.render(c, views.BatchProgress(s.adminPage(c, v.What), v))
}

// batchAction runs a control of a batch and comes back to its page.
func (s *Server) batchAction(done string, fn func(s *Server, c *fiber.Ctx, id int64) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := c.ParamsInt("id")
		if err != nil {
			return store.ErrNotFound
		}
		if err := fn(s, c, int64(id)); err != nil {
			msg := problemOf(err)
			if msg == "" {
				return err
			}
			s.flash(c, "error", msg)
		} else {
			s.flash(c, "ok", done)
		}
		return redirect(c, batchPath(int64(id)))
	}
}

var (
	startBatch = func(s *Server, c *fiber.Ctx, id int64) error {
		return s.ob.StartBatch(c.UserContext(), id, c.FormValue("send_links") == "1")
	}
	pauseBatch  = func(s *Server, c *fiber.Ctx, id int64) error { return s.ob.PauseBatch(c.UserContext(), id) }
	resumeBatch = func(s *Server, c *fiber.Ctx, id int64) error { return s.ob.ResumeBatch(c.UserContext(), id) }
	cancelBatch = func(s *Server, c *fiber.Ctx, id int64) error { return s.ob.CancelBatch(c.UserContext(), id) }
	retryBatch  = func(s *Server, c *fiber.Ctx, id int64) error {
		_, err := s.ob.RetryFailed(c.UserContext(), id)
		return err
	}
)

// batchResults streams every row with its outcome as CSV.
func (s *Server) batchResults(c *fiber.Ctx) error {
	id, err := c.ParamsInt("id")
	if err != nil {
		return store.ErrNotFound
	}
	b, err := s.db.Batch(c.UserContext(), int64(id))
	if err != nil {
		return err
	}
	ctx := context.WithoutCancel(c.UserContext()) // the writer runs after the handler returns
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%d-results.csv"`, b.Kind, b.ID))
	public := s.cfg.PublicURL
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		cw := csv.NewWriter(w)
		cw.Write([]string{"row", "name", "outcome", "customer", "error"})
		after := 0
		for {
			rows, err := s.db.BatchRows(ctx, b.ID, after, 500)
			if err != nil {
				s.log.Error("batch results", "batch", b.ID, "err", err)
				return
			}
			for _, r := range rows {
				v := s.rowView(ctx, r)
				link := ""
				if v.Customer != "" {
					link = public + v.Customer
				}
				cw.Write([]string{strconv.Itoa(r.Row), safeCell(v.Name), r.Outcome, link, safeCell(r.Error)})
				after = r.Row
			}
			cw.Flush()
			if len(rows) < 500 {
				return
			}
		}
	})
	return nil
}

// safeCell keeps a spreadsheet from running a cell as a formula (onboarding.Formula):
// it is prefixed with a quote.
func safeCell(v string) string {
	if onboarding.Formula(v) {
		return "'" + v
	}
	return v
}
