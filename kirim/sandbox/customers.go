package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

var customerIDPattern = regexp.MustCompile(`^cus_[0-9A-HJKMNP-TV-Z]{26}$`)

const sandboxTeamID = "team_01SANDBOX0000000000000000"

// Teams are the sandbox organisation's teams; a customer created for another is refused.
var Teams = []string{sandboxTeamID, "team_01SANDBOX0000000000000001"}

func customerJSON(c *customer) map[string]any {
	return map[string]any{
		"id": c.ID, "object": "customer", "name": c.Name, "email": c.Email, "status": c.Status,
		"metadata": c.Metadata, "archived_at": c.ArchivedAt, "team_id": c.TeamID,
		"created_at": c.CreatedAt, "updated_at": c.UpdatedAt,
	}
}

func (s *Sandbox) customerWithAccounts(c *customer) map[string]any {
	m := customerJSON(c)
	accounts := []map[string]any{}
	for _, a := range s.st.Accounts {
		if a.CustomerID != nil && *a.CustomerID == c.ID {
			s.readAccount(a)
			accounts = append(accounts, map[string]any{
				"phone_number_id": a.PhoneNumberID, "phone_number": a.PhoneNumber, "name": a.Name,
				"status": a.Status, "onboarded_at": a.OnboardedAt,
			})
		}
	}
	m["whatsapp_accounts"] = accounts
	return m
}

// sanitizeName collapses whitespace and drops newlines, as Kirim does.
func sanitizeName(s string) string { return strings.Join(strings.Fields(s), " ") }

func validName(raw json.RawMessage) (string, *apiError) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", errInvalid("invalid_field_value", "name", "name must be a string.")
	}
	name = sanitizeName(name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 200 {
		return "", errInvalid("invalid_field_value", "name", "name must be 1 to 200 characters.")
	}
	return name, nil
}

// validEmail accepts a bare address (no display name) of at most 255 characters.
func validEmail(raw json.RawMessage, nullable bool) (*string, *apiError) {
	if string(raw) == "null" {
		if nullable {
			return nil, nil
		}
		return nil, errInvalid("invalid_field_value", "email", "email must be a string.")
	}
	var email string
	if err := json.Unmarshal(raw, &email); err != nil {
		return nil, errInvalid("invalid_field_value", "email", "email must be a string.")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 255 || !strings.Contains(email[strings.LastIndex(email, "@"):], ".") {
		return nil, errInvalid("invalid_field_value", "email", "email is not a valid email address.")
	}
	return &email, nil
}

func validMetadata(raw json.RawMessage, nullable bool) (map[string]any, *apiError) {
	if string(raw) == "null" {
		if nullable {
			return nil, nil
		}
		return nil, errInvalid("invalid_field_value", "metadata", "metadata must be an object.")
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errInvalid("invalid_field_value", "metadata", "metadata must be an object.")
	}
	if len(m) > 64 {
		return nil, errInvalid("invalid_field_value", "metadata", "metadata may have at most 64 keys.")
	}
	if b, _ := json.Marshal(m); len(b) > 16*1024 {
		return nil, errInvalid("invalid_field_value", "metadata", "metadata may be at most 16 KB serialized.")
	}
	return m, nil
}

func (s *Sandbox) createCustomer(r *http.Request, body []byte) (any, *apiError) {
	f, aerr := decodeObject(body)
	if aerr != nil {
		return nil, aerr
	}
	raw, ok := f["name"]
	if !ok {
		return nil, errInvalid("missing_required_field", "name", "name is required.")
	}
	name, aerr := validName(raw)
	if aerr != nil {
		return nil, aerr
	}
	now := s.now()
	s.st.Seq++
	c := &customer{Seq: s.st.Seq, ID: newID("cus", now), InternalID: newInternalID(), Name: name,
		Status: "pending", TeamID: sandboxTeamID, CreatedAt: now, UpdatedAt: now}
	if raw, ok := f["email"]; ok {
		if c.Email, aerr = validEmail(raw, false); aerr != nil {
			return nil, aerr
		}
	}
	if raw, ok := f["metadata"]; ok {
		if c.Metadata, aerr = validMetadata(raw, false); aerr != nil {
			return nil, aerr
		}
	}
	if raw, ok := f["team_id"]; ok {
		var team string
		if json.Unmarshal(raw, &team) != nil || team == "" || len(team) > 64 {
			return nil, errInvalid("invalid_field_value", "team_id", "team_id must be 1 to 64 characters.")
		}
		if !slices.Contains(Teams, team) {
			return nil, errInvalid("invalid_field_value", "team_id", "No team "+strconv.Quote(team)+" in this organization.")
		}
		c.TeamID = team
	}
	s.st.Customers[c.ID] = c
	s.emit("customer.created", map[string]any{"customer": customerJSON(c)})
	return customerJSON(c), nil
}

func (s *Sandbox) customer(r *http.Request) (*customer, *apiError) {
	id := r.PathValue("id")
	if !customerIDPattern.MatchString(id) {
		return nil, errInvalid("invalid_field_value", "id", "id must be a customer id (cus_…).")
	}
	c, ok := s.st.Customers[id]
	if !ok {
		return nil, errNotFound("customer")
	}
	return c, nil
}

func (s *Sandbox) getCustomer(r *http.Request, _ []byte) (any, *apiError) {
	c, aerr := s.customer(r)
	if aerr != nil {
		return nil, aerr
	}
	return s.customerWithAccounts(c), nil
}

func (s *Sandbox) updateCustomer(r *http.Request, body []byte) (any, *apiError) {
	c, aerr := s.customer(r)
	if aerr != nil {
		return nil, aerr
	}
	f, aerr := decodeObject(body)
	if aerr != nil {
		return nil, aerr
	}
	next := *c
	if raw, ok := f["name"]; ok {
		if next.Name, aerr = validName(raw); aerr != nil {
			return nil, aerr
		}
	}
	if raw, ok := f["email"]; ok {
		if next.Email, aerr = validEmail(raw, true); aerr != nil {
			return nil, aerr
		}
	}
	if raw, ok := f["metadata"]; ok {
		if next.Metadata, aerr = validMetadata(raw, true); aerr != nil {
			return nil, aerr
		}
	}
	if raw, ok := f["status"]; ok {
		var st string
		json.Unmarshal(raw, &st)
		if !slices.Contains([]string{"pending", "active", "suspended"}, st) {
			return nil, errInvalid("invalid_field_value", "status", "status must be pending, active or suspended (archive with DELETE).")
		}
		if c.Status == "archived" {
			return nil, errInvalid("invalid_field_value", "status", "An archived customer's status cannot change.")
		}
		next.Status = st
	}
	next.UpdatedAt = s.now()
	*c = next
	s.emit("customer.updated", map[string]any{"customer": customerJSON(c)})
	return customerJSON(c), nil
}

func (s *Sandbox) archiveCustomer(r *http.Request, _ []byte) (any, *apiError) {
	c, aerr := s.customer(r)
	if aerr != nil {
		return nil, aerr
	}
	if c.Status != "archived" {
		now := s.now()
		c.Status, c.ArchivedAt, c.UpdatedAt = "archived", &now, now
		// An archived customer can no longer onboard: its active links are revoked.
		for _, l := range s.st.Links {
			if l.CustomerID == c.ID && s.linkStatus(l) == "active" {
				l.Status = "revoked"
			}
		}
		s.emit("customer.archived", map[string]any{"customer": customerJSON(c)})
	}
	return map[string]any{"id": c.ID, "object": "customer", "archived": true}, nil
}

// cursor is the position after the last row of a page, bound to its filters and signed.
type cursor struct {
	After  int64  `json:"a"`
	Filter string `json:"f"`
}

func (s *Sandbox) encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	m := hmac.New(sha256.New, s.st.CursorKey)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(append(m.Sum(nil)[:16], b...))
}

func (s *Sandbox) decodeCursor(raw, filter string) (cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) <= 16 {
		return cursor{}, false
	}
	m := hmac.New(sha256.New, s.st.CursorKey)
	m.Write(b[16:])
	var c cursor
	if !hmac.Equal(m.Sum(nil)[:16], b[:16]) || json.Unmarshal(b[16:], &c) != nil || c.Filter != filter {
		return cursor{}, false
	}
	return c, true
}

func (s *Sandbox) listCustomers(r *http.Request, _ []byte) (any, *apiError) {
	q := r.URL.Query()
	status, search := q.Get("status"), strings.ToLower(q.Get("search"))
	if status != "" && !slices.Contains([]string{"pending", "active", "suspended", "archived"}, status) {
		return nil, errInvalid("invalid_field_value", "status", "status must be pending, active, suspended or archived.")
	}
	if q.Has("search") && (len(search) < 1 || utf8.RuneCountInString(search) > 200) {
		return nil, errInvalid("invalid_field_value", "search", "search must be 1 to 200 characters.")
	}
	limit := 25
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > 100 {
			return nil, errInvalid("invalid_limit", "limit", "limit must be between 1 and 100.")
		}
		limit = n
	}
	filter := status + "\x00" + search
	var after int64 = 1<<63 - 1
	if raw := q.Get("cursor"); raw != "" {
		c, ok := s.decodeCursor(raw, filter)
		if !ok {
			return nil, errInvalid("invalid_cursor", "cursor", "cursor is invalid or belongs to other filters.")
		}
		after = c.After
	}
	var rows []*customer
	for _, c := range s.st.Customers {
		if c.Seq >= after || (status != "" && c.Status != status) {
			continue
		}
		if status == "" && c.Status == "archived" && s.opts.Variant.ArchivedHidden {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(c.Name), search) &&
			(c.Email == nil || !strings.Contains(strings.ToLower(*c.Email), search)) {
			continue
		}
		rows = append(rows, c)
	}
	slices.SortFunc(rows, func(a, b *customer) int { return int(b.Seq - a.Seq) }) // newest first
	hasMore := len(rows) > limit
	if hasMore {
		rows = rows[:limit]
	} else if s.opts.Variant.EmptyLastPage && len(rows) == limit {
		hasMore = true // the next page will be empty
	}
	data := make([]map[string]any, len(rows))
	for i, c := range rows {
		data[i] = customerJSON(c)
	}
	var next *string
	if hasMore {
		cur := s.encodeCursor(cursor{After: rows[len(rows)-1].Seq, Filter: filter})
		next = &cur
	}
	return list{"data": data, "has_more": hasMore, "next_cursor": next}, nil
}

func (s *Sandbox) listAccounts(r *http.Request, _ []byte) (any, *apiError) {
	q := r.URL.Query()
	status := q.Get("status")
	if status == "" {
		status = "connected"
	}
	if status != "connected" && status != "all" {
		return nil, errInvalid("invalid_field_value", "status", "status must be connected or all.")
	}
	cid := q.Get("customer_id")
	if cid != "" && !customerIDPattern.MatchString(cid) {
		return nil, errInvalid("invalid_field_value", "customer_id", "customer_id must be a customer id (cus_…).")
	}
	data := []map[string]any{}
	for _, a := range s.st.Accounts {
		if cid != "" && (a.CustomerID == nil || *a.CustomerID != cid) {
			continue
		}
		s.readAccount(a)
		if status == "connected" && a.Status != "connected" {
			continue
		}
		data = append(data, accountJSON(a))
	}
	return list{"data": data, "has_more": false, "next_cursor": nil}, nil
}

func accountJSON(a *account) map[string]any {
	return map[string]any{"object": "account", "id": a.ID, "phone_number_id": a.PhoneNumberID,
		"phone_number": a.PhoneNumber, "name": a.Name, "status": a.Status, "customer_id": a.CustomerID}
}
