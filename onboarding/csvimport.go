package onboarding

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of an import file.
const (
	MaxImportBytes = 5 << 20
	MaxImportRows  = 10_000
)

// FileError is an import file the portal cannot read, in words for staff; nothing is
// created from it.
type FileError struct{ Msg string }

func (e *FileError) Error() string { return e.Msg }

// ImportRow is one customer read from an import file.
type ImportRow struct {
	// Line is the line of the file the row starts on (the header is line 1).
	Line        int
	Input       CustomerInput
	TimeZone    string `json:",omitempty"`
	ExternalRef string `json:",omitempty"`
	// Errors say what is wrong with the row, by column (empty: valid).
	Errors FieldErrors `json:"-"`
}

// ImportFile is a file read for import.
type ImportFile struct {
	Rows []ImportRow
	// Ignored are the columns the portal does not know (listed, not taken).
	Ignored []string
}

// importColumns are the columns taken, besides metadata.<key>.
var importColumns = []string{"name", "email", "phone", "language", "time_zone", "external_ref", "team_id"}

// phoneRe accepts an international number: a +, then 8 to 15 digits, spaces or dashes
// between them.
var phoneRe = regexp.MustCompile(`^\+[0-9][0-9 \-]{6,20}[0-9]$`)

// ReadImport reads a customers CSV: UTF-8 with or without a byte-order mark, comma- or
// semicolon-separated (the header line decides), quoted fields may hold newlines, the
// first line names the columns. A file it cannot read is a *FileError; a row with bad
// values is returned with its Errors set.
func ReadImport(r io.Reader) (*ImportFile, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxImportBytes {
		return nil, &FileError{"The file is larger than 5 MB. Split it into smaller files (at most 10,000 rows each) and import them one by one."}
	}
	if err := checkText(data); err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &FileError{"The file is empty. Its first line must name the columns, e.g. name,email,language."}
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = delimiter(data)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, csvError(err)
	}
	cols, ignored, err := readHeader(header)
	if err != nil {
		return nil, err
	}
	f := &ImportFile{Ignored: ignored}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		if len(f.Rows) == MaxImportRows {
			return nil, &FileError{fmt.Sprintf("The file has more than %d rows. Split it and import the parts one by one.", MaxImportRows)}
		}
		f.Rows = append(f.Rows, readRow(line, cols, rec, len(header)))
	}
	if len(f.Rows) == 0 {
		return nil, &FileError{"The file names its columns but has no rows below them."}
	}
	return f, nil
}

// checkText refuses what is not UTF-8 text: a spreadsheet workbook, another encoding,
// a binary file.
func checkText(data []byte) error {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return &FileError{"This is a spreadsheet workbook (.xlsx), not a CSV file. In your spreadsheet choose Save As (or Download) › CSV UTF-8, and upload that."}
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return &FileError{"The file is in UTF-16, not UTF-8. Save it again as CSV UTF-8 (in Excel: Save As › CSV UTF-8 (Comma delimited))."}
	case bytes.IndexByte(data, 0) >= 0:
		return &FileError{"This is not a text file: a CSV file holds lines of text. Export your list as CSV UTF-8 and upload that."}
	}
	if !utf8.Valid(data) {
		bad := 0
		for bad < len(data) {
			r, size := utf8.DecodeRune(data[bad:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			bad += size
		}
		line := bytes.Count(data[:bad], []byte("\n")) + 1
		return &FileError{fmt.Sprintf("The file is not UTF-8 text (the first character the portal cannot read is on line %d). "+
			"Save it again as CSV UTF-8 (in Excel: Save As › CSV UTF-8 (Comma delimited)).", line)}
	}
	return nil
}

// delimiter is ';' when the header line has more semicolons than commas (as spreadsheets
// write CSV where the comma is the decimal mark), else ','.
func delimiter(data []byte) rune {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		return ';'
	}
	return ','
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		what := "it is not valid CSV"
		if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
			what = "a quote (\") is not closed, or stands inside a field that is not quoted (write \"\" for a quote inside a quoted field)"
		}
		return &FileError{fmt.Sprintf("Line %d cannot be read: %s. Nothing was imported.", pe.StartLine, what)}
	}
	return err
}

// readHeader maps the columns to their index; ignored lists the unknown ones.
func readHeader(header []string) (cols map[string]int, ignored []string, err error) {
	cols = map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := cols[h]; dup && h != "" {
			return nil, nil, &FileError{fmt.Sprintf("The column %q appears twice in the first line.", h)}
		}
		switch {
		case slices.Contains(importColumns, h):
			cols[h] = i
		case strings.HasPrefix(h, "metadata.") && len(h) > len("metadata."):
			cols[strings.TrimSpace(header[i])] = i // metadata keys keep their case
		case h == "":
			ignored = append(ignored, fmt.Sprintf("(column %d, no name)", i+1))
		default:
			ignored = append(ignored, strings.TrimSpace(header[i]))
		}
	}
	if _, ok := cols["name"]; !ok {
		return nil, nil, &FileError{"The file has no name column. Its first line must name the columns, e.g. name,email,language; " +
			"the columns the portal takes are " + strings.Join(importColumns, ", ") + " and metadata.<key>."}
	}
	return cols, ignored, nil
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// readRow reads one record and checks it with the customer form's rules.
func readRow(line int, cols map[string]int, rec []string, width int) ImportRow {
	get := func(col string) string {
		if i, ok := cols[col]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	row := ImportRow{Line: line, TimeZone: get("time_zone"), ExternalRef: get("external_ref"),
		Input: CustomerInput{Name: get("name"), Email: get("email"), TeamID: get("team_id"), Locale: strings.ToLower(get("language"))}}
	errs := FieldErrors{}
	for col, i := range cols {
		if i >= len(rec) {
			continue
		}
		if v := strings.TrimSpace(rec[i]); Formula(v) && !(col == "phone" && phoneRe.MatchString(v)) {
			errs[col] = "Starts with " + v[:1] + ", which spreadsheets run as a formula: remove it."
		}
	}
	var keys []string
	for col := range cols {
		if strings.HasPrefix(col, "metadata.") {
			keys = append(keys, col)
		}
	}
	slices.Sort(keys)
	for _, col := range keys {
		if v := get(col); v != "" {
			row.Input.Metadata = append(row.Input.Metadata, MetaPair{Key: strings.TrimPrefix(col, "metadata."), Value: v})
		}
	}
	// Kirim keeps no phone or external reference of its own: they travel as metadata.
	if row.ExternalRef != "" {
		row.Input.Metadata = append(row.Input.Metadata, MetaPair{Key: "external_ref", Value: row.ExternalRef})
	}
	if phone := get("phone"); phone != "" {
		if !phoneRe.MatchString(phone) {
			errs["phone"] = "Write the number in international form, e.g. +62 812 3456 7890."
		}
		row.Input.Metadata = append(row.Input.Metadata, MetaPair{Key: "phone", Value: phone})
	}
	row.Input.Normalize()
	for k, v := range row.Input.Validate() {
		if k == "locale" {
			k, v = "language", "Write en or id (or leave it empty for en)."
		}
		if _, ok := errs[k]; !ok {
			errs[k] = v
		}
	}
	if row.TimeZone != "" {
		if _, err := time.LoadLocation(row.TimeZone); err != nil || strings.EqualFold(row.TimeZone, "local") {
			errs["time_zone"] = "Write an IANA time zone such as Asia/Jakarta, or leave it empty."
		}
	}
	if len(rec) > width {
		errs["row"] = fmt.Sprintf("This row has %d fields but the first line names %d columns (a comma inside a value must be quoted).", len(rec), width)
	}
	if len(errs) > 0 {
		row.Errors = errs
	}
	return row
}

// Formula reports a cell a spreadsheet would run: one starting with =, +, -, @, a tab
// or a carriage return (imports reject them; exports defuse them).
func Formula(v string) bool {
	return v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0]))
}

// Words says what is wrong with a row, column by column.
func (e FieldErrors) Words() string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		if k == "row" {
			b.WriteString(e[k])
			continue
		}
		fmt.Fprintf(&b, "%s: %s", k, e[k])
	}
	return b.String()
}
