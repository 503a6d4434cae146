package views

import (
	"strconv"

	"github.com/a-h/templ"
)

// CustomerPath is the admin page of a customer; rest, when given, a path below it
// (CustomerPath(7, "links", "3", "revoke") is /admin/customers/7/links/3/revoke).
func CustomerPath(id int64, rest ...string) string {
	p := "/admin/customers/" + strconv.FormatInt(id, 10)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// customerURL is CustomerPath for an href or a form action.
func customerURL(id int64, rest ...string) templ.SafeURL {
	return templ.SafeURL(CustomerPath(id, rest...))
}
