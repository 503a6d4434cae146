// Package views holds the templ components: one layout per audience (admin, public,
// email), pages that take view-model structs, and partials. Views never query anything.
package views

import (
	"strconv"
	"strings"
	"time"
)

// humanize turns a code like link_issued into "link issued".
func humanize(s string) string { return strings.ReplaceAll(s, "_", " ") }

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// day formats a date for tables.
func day(t time.Time) string { return t.UTC().Format("2 Jan 2006") }

// ZoneTime is a moment in a zone, with the zone's abbreviation: "Fri 5 Dec, 14:00 WIB".
func ZoneTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2 Jan, 15:04 MST")
}

// stamp formats a moment for details and timelines.
func stamp(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }

func ariaCurrent(active bool) string {
	if active {
		return "page"
	}
	return "false"
}

// OrDash is s, or a dash for nothing.
func OrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func localeName(l string) string {
	if l == "id" {
		return "Bahasa Indonesia"
	}
	return "English"
}

// eventLabel turns an event kind like link.revoked into "Link revoked".
func eventLabel(kind string) string {
	s := strings.NewReplacer(".", " ", "_", " ").Replace(kind)
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Plural says n things: "1 customer waiting", "3 customers waiting".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
