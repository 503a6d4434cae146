package sandbox

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// starterTemplates are what Meta holds for a freshly connected number.
func starterTemplates(now time.Time) []*msgTemplate {
	return []*msgTemplate{
		{ID: newID("tmpl", now), Name: "hello_world", Language: "en_US", Category: "utility", Status: "approved"},
		{ID: newID("tmpl", now), Name: "order_update", Language: "id", Category: "utility", Status: "approved"},
		{ID: newID("tmpl", now), Name: "welcome_offer", Language: "id", Category: "marketing", Status: "pending"},
	}
}

func (s *Sandbox) accountByPhoneNumberID(id string) *account {
	for _, a := range s.st.Accounts {
		if a.PhoneNumberID != nil && *a.PhoneNumberID == id {
			return a
		}
	}
	return nil
}

// listTemplates lists an account's templates, in pages of the variant's size (one page
// by default) with the standard cursor contract.
func (s *Sandbox) listTemplates(r *http.Request, _ []byte) (any, *apiError) {
	id := r.PathValue("phone_number_id")
	if s.accountByPhoneNumberID(id) == nil {
		return nil, errNotFound("WhatsApp account")
	}
	all := s.st.Templates[id]
	size := s.opts.Variant.TemplatePageSize
	if size <= 0 {
		size = len(all) + 1
	}
	if raw := r.URL.Query().Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 100 {
			return nil, errInvalid("invalid_limit", "limit", "limit must be between 1 and 100.")
		}
		size = min(size, n)
	}
	var from int64
	if raw := r.URL.Query().Get("cursor"); raw != "" {
		c, ok := s.decodeCursor(raw, "templates:"+id)
		if !ok {
			return nil, errInvalid("invalid_cursor", "cursor", "cursor is invalid or belongs to other filters.")
		}
		from = c.After
	}
	page := all[min(int(from), len(all)):]
	hasMore := len(page) > size
	if hasMore {
		page = page[:size]
	} else if s.opts.Variant.EmptyLastPage && len(page) == size {
		hasMore = true
	}
	data := []map[string]any{}
	for _, t := range page {
		data = append(data, map[string]any{"id": t.ID, "name": t.Name, "language": t.Language, "category": t.Category, "status": t.Status})
	}
	var next *string
	if hasMore {
		cur := s.encodeCursor(cursor{After: from + int64(len(page)), Filter: "templates:" + id})
		next = &cur
	}
	return list{"data": data, "has_more": hasMore, "next_cursor": next}, nil
}

// syncTemplates copies Meta's templates into Kirim: new ones are created, changed ones
// updated; running it twice changes nothing the second time.
func (s *Sandbox) syncTemplates(r *http.Request, _ []byte) (any, *apiError) {
	id := r.PathValue("phone_number_id")
	a := s.accountByPhoneNumberID(id)
	if a == nil {
		return nil, errNotFound("WhatsApp account")
	}
	if a.Status != "connected" {
		return nil, &apiError{http.StatusUnprocessableEntity, "invalid_request_error", "account_not_connected", "The WhatsApp account is not connected.", ""}
	}
	have := map[string]*msgTemplate{}
	for _, t := range s.st.Templates[id] {
		have[t.Name+"/"+t.Language] = t
	}
	created, updated := 0, 0
	for _, mt := range s.st.MetaTemplates[id] {
		t, ok := have[mt.Name+"/"+mt.Language]
		switch {
		case !ok:
			c := *mt
			s.st.Templates[id] = append(s.st.Templates[id], &c)
			created++
		case *t != *mt:
			*t = *mt
			updated++
		}
	}
	return map[string]any{"object": "template_sync_result", "synced": len(s.st.MetaTemplates[id]), "created": created, "updated": updated}, nil
}

// SetMetaTemplateStatus changes a template on Meta's side (for tests: a later sync
// reports it as updated).
func (s *Sandbox) SetMetaTemplateStatus(phoneNumberID, name, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.st.MetaTemplates[phoneNumberID] {
		if t.Name == name {
			t.Status = status
			s.dirty = true
			return true
		}
	}
	return false
}

// SetAccountStatus changes an account's status (connected, degraded, disconnected...),
// as Meta does to numbers later in their life.
func (s *Sandbox) SetAccountStatus(phoneNumberID, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accountByPhoneNumberID(phoneNumberID); a != nil {
		a.Status = status
		s.dirty = true
		return true
	}
	return false
}

// AddMetaTemplates gives an account n more templates on Meta's side (a later sync
// pulls them in), named extra_001, extra_002, … after those it has.
func (s *Sandbox) AddMetaTemplates(phoneNumberID string, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accountByPhoneNumberID(phoneNumberID) == nil {
		return false
	}
	now := s.now()
	have := len(s.st.MetaTemplates[phoneNumberID])
	for i := range n {
		s.st.MetaTemplates[phoneNumberID] = append(s.st.MetaTemplates[phoneNumberID], &msgTemplate{ID: newID("tmpl", now),
			Name: fmt.Sprintf("extra_%03d", have+i+1), Language: "en_US", Category: "utility", Status: "approved"})
	}
	s.dirty = true
	return true
}
