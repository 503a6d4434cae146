// Package views holds the templ components: one layout per audience (admin, public,
// email), pages that take view-model structs, and partials. Views never query anything.
package views

import "strconv"

func statusText(status int) string { return strconv.Itoa(status) }
