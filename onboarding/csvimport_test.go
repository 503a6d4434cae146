package onboarding_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kirim-portal/portal/onboarding"
)

func TestReadImport(t *testing.T) {
	f, err := onboarding.ReadImport(strings.NewReader("\uFEFFName;E-Mail;email;metadata.CRM;Phone;language\r\n" +
		"\"Kopi\nKita\";;a@kopi.test;7;+62 812 1111 2222;ID\r\n" +
		";;;;;\r\n" +
		"@evil;;b@kopi.test;-5;0812;xx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Ignored, "|") != "E-Mail" {
		t.Errorf("ignored %q, want the unknown column listed", f.Ignored)
	}
	if len(f.Rows) != 2 {
		t.Fatalf("%d rows, want 2 (a blank line is no row)", len(f.Rows))
	}
	r := f.Rows[0]
	if r.Line != 2 || r.Input.Name != "Kopi Kita" || r.Input.Email != "a@kopi.test" || r.Input.Locale != "id" || len(r.Errors) != 0 {
		t.Fatalf("first row %+v", r)
	}
	meta := map[string]string{}
	for _, p := range r.Input.Metadata {
		meta[p.Key] = p.Value
	}
	if meta["CRM"] != "7" || meta["phone"] != "+62 812 1111 2222" {
		t.Errorf("metadata %v", meta)
	}
	bad := f.Rows[1]
	if bad.Line != 5 {
		t.Errorf("the bad row is on line %d, want 5 (the quoted newline counts)", bad.Line)
	}
	for _, col := range []string{"name", "metadata.CRM", "phone", "language"} {
		if bad.Errors[col] == "" {
			t.Errorf("no error for %s in %v", col, bad.Errors)
		}
	}
	if w := bad.Errors.Words(); !strings.Contains(w, "language: Write en or id") || !strings.Contains(w, "name: Starts with @") {
		t.Errorf("words %q", w)
	}

	for in, want := range map[string]string{
		"":                        "empty",
		"email\na@b.test\n":       "no name column",
		"name,name\nA,B\n":        "appears twice",
		"name\n\"A\n":             "Line 2 cannot be read",
		"name\nCaf\xe9\n":         "line 2",
		"\xff\xfen\x00a\x00":      "UTF-16",
		"name,email\nA,a@b.test,": "",
	} {
		_, err := onboarding.ReadImport(strings.NewReader(in))
		var fe *onboarding.FileError
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", in, err)
		case want != "" && (!errors.As(err, &fe) || !strings.Contains(fe.Msg, want)):
			t.Errorf("%q: %v, want a FileError saying %q", in, err, want)
		}
	}
}

// FuzzReadImport feeds the CSV reader anything: it never panics, and a file it takes
// has rows with a line number past the header and a name or an error about it.
func FuzzReadImport(f *testing.F) {
	for _, s := range []string{"name,email\nA,a@b.test\n", "name;email\n\"A\nB\";x\n", "\uFEFFname\n=1\n", "name\n\"", "\x00", "name,metadata.\nA,B\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		file, err := onboarding.ReadImport(strings.NewReader(data))
		var fe *onboarding.FileError
		if err != nil {
			if !errors.As(err, &fe) || fe.Msg == "" {
				t.Fatalf("error without words: %v", err)
			}
			return
		}
		for _, r := range file.Rows {
			if r.Line < 2 || r.Input.Name == "" && r.Errors["name"] == "" {
				t.Fatalf("row %+v", r)
			}
		}
	})
}
