package sandbox

import (
	"net/http"
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

func (s *Sandbox) listTemplates(r *http.Request, _ []byte) (any, *apiError) {
	id := r.PathValue("phone_number_id")
	if s.accountByPhoneNumberID(id) == nil {
		return nil, errNotFound("WhatsApp account")
	}
	data := []map[string]any{}
	for _, t := range s.st.Templates[id] {
		data = append(data, map[string]any{"id": t.ID, "name": t.Name, "language": t.Language, "category": t.Category, "status": t.Status})
	}
	return list{"data": data, "has_more": false, "next_cursor": nil}, nil
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
