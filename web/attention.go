package web

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/store"
	"github.com/kirim-portal/portal/views"
)

// kindLabels names the queue's reasons for its filters.
var kindLabels = map[store.AttentionKind]string{
	store.AttentionSignupFailed:      "Signup failed",
	store.AttentionUnconfirmed:       "Not confirmed",
	store.AttentionNumberDown:        "Number not sending",
	store.AttentionEmailFailed:       "Email failed",
	store.AttentionLinkDead:          "Link expired or revoked",
	store.AttentionNeverOpened:       "Never opened",
	store.AttentionTemplatesRejected: "Templates rejected",
}

func attentionHref(kind store.AttentionKind, snoozed bool, after string) string {
	q := url.Values{}
	if kind != "" {
		q.Set("kind", string(kind))
	}
	if snoozed {
		q.Set("show", "snoozed")
	}
	if after != "" {
		q.Set("after", after)
	}
	if len(q) == 0 {
		return "/admin/attention"
	}
	return "/admin/attention?" + q.Encode()
}

// attention is the needs-attention queue: one row per customer that needs a person.
func (s *Server) attention(c *fiber.Ctx) error {
	ctx := c.UserContext()
	kind := store.AttentionKind(c.Query("kind"))
	if !slices.Contains(store.AttentionKinds, kind) {
		kind = ""
	}
	snoozed := c.Query("show") == "snoozed"
	after := c.Query("after")
	page, err := s.db.AttentionRows(ctx, store.AttentionFilter{Kind: kind, Snoozed: snoozed, After: after, Limit: 25})
	if errors.Is(err, store.ErrNotFound) { // a mangled cursor: start over
		return c.Redirect(attentionHref(kind, snoozed, ""), fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	counts, total, nSnoozed, err := s.db.AttentionCounts(ctx)
	if err != nil {
		return err
	}
	v := views.AttentionView{Total: total, Snoozed: nSnoozed, ShowSnoozed: snoozed, Kind: string(kind),
		SnoozedHref: attentionHref("", true, ""), Back: attentionHref(kind, snoozed, after)}
	v.Kinds = append(v.Kinds, views.CountLink{Label: "All", N: total, Href: attentionHref("", false, ""), Active: kind == "" && !snoozed})
	for _, k := range store.AttentionKinds {
		v.Kinds = append(v.Kinds, views.CountLink{Label: kindLabels[k], N: counts[k], Href: attentionHref(k, false, ""), Active: kind == k && !snoozed})
	}
	for _, a := range page.Rows {
		do, tell := onboarding.AttentionAction(a.Kind, a.Detail)
		row := views.AttentionItem{CustomerID: a.CustomerID, Customer: a.Customer, Email: a.Email, Label: kindLabels[a.Kind],
			Words: onboarding.AttentionWords(a.Kind, a.Detail), Since: a.Since, SinceAgo: humanSince(a.Since, time.Now()),
			Do: do, Tell: tell, SnoozedUntil: a.SnoozedUntil}
		row.Action = primaryAction(a)
		for _, k := range a.Also {
			row.Also = append(row.Also, kindLabels[k])
		}
		v.Rows = append(v.Rows, row)
	}
	if page.Next != "" {
		v.NextHref = attentionHref(kind, snoozed, page.Next)
	}
	if after != "" {
		v.FirstHref = attentionHref(kind, snoozed, "")
	}
	return s.render(c, views.AttentionPage(s.adminPage(c, "Needs attention"), v))
}

// primaryAction is the first thing staff do about a row: a button on the customer's
// own actions, or a link to the part of its page that helps.
func primaryAction(a *store.Attention) views.ActionLink {
	switch a.Kind {
	case store.AttentionSignupFailed:
		return views.ActionLink{Label: "Email the link again", Post: views.CustomerPath(a.CustomerID, "email")}
	case store.AttentionLinkDead:
		return views.ActionLink{Label: "Email a fresh link", Post: views.CustomerPath(a.CustomerID, "email"), Fresh: true}
	case store.AttentionUnconfirmed, store.AttentionNumberDown:
		return views.ActionLink{Label: "Refresh from Kirim", Post: views.CustomerPath(a.CustomerID, "accounts", "refresh")}
	case store.AttentionEmailFailed:
		return views.ActionLink{Label: "Check the email address", Href: views.CustomerPath(a.CustomerID, "edit")}
	case store.AttentionTemplatesRejected:
		return views.ActionLink{Label: "See the templates", Href: views.CustomerPath(a.CustomerID) + "#accounts"}
	}
	return views.ActionLink{Label: "Open the customer", Href: views.CustomerPath(a.CustomerID) + "#follow-up"}
}

// humanSince says how long ago t was.
func humanSince(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h ago"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days ago"
}

// attentionBack is where a queue action returns: the page it came from.
func attentionBack(c *fiber.Ctx) string {
	if back := c.FormValue("back"); strings.HasPrefix(back, "/admin/attention") && !strings.Contains(back, "//") {
		return back
	}
	return "/admin/attention"
}

func attentionID(c *fiber.Ctx) int64 {
	id, _ := strconv.ParseInt(c.Params("id"), 10, 64)
	return id
}

func (s *Server) snooze(c *fiber.Ctx) error {
	days, _ := strconv.Atoi(c.FormValue("days"))
	if err := s.ob.Snooze(c.UserContext(), attentionID(c), days, actor(c)); err != nil {
		return s.attentionFailed(c, err)
	}
	s.flash(c, "ok", "Snoozed for "+views.Plural(days, "day", "days")+". It comes back sooner if something new happens.")
	return redirect(c, attentionBack(c))
}

func (s *Server) handle(c *fiber.Ctx) error {
	if err := s.ob.Handle(c.UserContext(), attentionID(c), c.FormValue("note"), actor(c)); err != nil {
		return s.attentionFailed(c, err)
	}
	s.flash(c, "ok", "Marked handled; the note is on the customer's timeline.")
	return redirect(c, attentionBack(c))
}

// attentionFailed says in a flash why a queue action did nothing.
func (s *Server) attentionFailed(c *fiber.Ctx, err error) error {
	msg := problemOf(err)
	if errors.Is(err, store.ErrNotFound) {
		msg = "That customer is no longer in the queue."
	}
	if msg == "" {
		return err
	}
	s.flash(c, "error", msg)
	return redirect(c, attentionBack(c))
}
