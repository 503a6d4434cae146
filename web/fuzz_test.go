package web

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
)

// FuzzReturnQuery feeds the return pages' query handling any query string: it never
// panics, and the failure code kept is short and plain.
func FuzzReturnQuery(f *testing.F) {
	for _, s := range []string{"customer_id=cus_1&status=failed&reason=signup_cancelled", "error=A&error_code=B&reason=",
		"reason=%00%ff", "reason=a&reason=b", "status=success&account_id=" + strings.Repeat("9", 300), "%zz", "&&==&"} {
		f.Add(s)
	}
	app := fiber.New(fiber.Config{Immutable: true})
	app.Get("/q", func(c *fiber.Ctx) error {
		q := returnQuery(c)
		return c.SendString(onboarding.FailureCode(q.Reason))
	})
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := http.NewRequest("GET", "/q?"+raw, nil)
		if err != nil {
			return
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			if strings.ContainsAny(raw, " \r\n") { // not a request line fasthttp can read
				return
			}
			t.Fatalf("query %q: %v", raw, err)
		}
		b := make([]byte, 200)
		n, _ := resp.Body.Read(b)
		if code := string(b[:n]); resp.StatusCode != 200 || code == "" || len(code) > 64 || !utf8.ValidString(code) {
			t.Fatalf("query %q: %d %q", raw, resp.StatusCode, code)
		}
	})
}

// FuzzCustomerForm feeds the customer form's decoder any body: it never panics, and
// what it keeps is what validation then judges.
func FuzzCustomerForm(f *testing.F) {
	for _, s := range []string{"name=Kopi&email=a%40b.test&meta_key=crm&meta_value=7", "meta_key=a&meta_key=a&meta_value=1",
		"meta_value=orphan", "name=%00%ff&locale=xx&team_id=" + strings.Repeat("t", 100), "name=++Kopi+++Kita++", "=&&="} {
		f.Add(s)
	}
	app := fiber.New(fiber.Config{Immutable: true})
	app.Post("/f", func(c *fiber.Ctx) error {
		in := customerInput(c)
		in.Normalize()
		errs := in.Validate()
		if in.Name != strings.Join(strings.Fields(in.Name), " ") {
			return fiber.NewError(fiber.StatusInternalServerError, "name not normalised")
		}
		if len(errs) == 0 && (in.Name == "" || utf8.RuneCountInString(in.Name) > 200) {
			return fiber.NewError(fiber.StatusInternalServerError, "a bad name passed validation")
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest("POST", "/f", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		if resp.StatusCode != fiber.StatusNoContent {
			t.Fatalf("body %q: %d", body, resp.StatusCode)
		}
	})
}
