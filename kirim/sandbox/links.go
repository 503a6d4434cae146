package sandbox

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

var linkIDPattern = regexp.MustCompile(`^csl_[0-9A-HJKMNP-TV-Z]{26}$`)

// linkStatus is the stored status, with an active link past its expiry read as expired.
func (s *Sandbox) linkStatus(l *link) string {
	if l.Status == "active" && !s.now().Before(l.ExpiresAt) {
		return "expired"
	}
	return l.Status
}

func (s *Sandbox) linkJSON(l *link) map[string]any {
	internal := ""
	if c := s.st.Customers[l.CustomerID]; c != nil {
		internal = c.InternalID // the documented quirk: not the cus_ id
	}
	return map[string]any{
		"id": l.ID, "object": "customer_setup_link", "customer_id": internal, "status": s.linkStatus(l),
		"token_last4": l.TokenLast4, "expires_at": l.ExpiresAt, "consumed_at": l.ConsumedAt,
		"success_redirect_url": l.Success, "failure_redirect_url": l.Failure, "created_at": l.CreatedAt,
	}
}

// validRedirect enforces Kirim's rules: absolute, https (http only for localhost,
// 127.0.0.1 and *.localhost), no fragment, at most 2048 characters.
func validRedirect(param string, raw json.RawMessage, nullable bool) (*string, *apiError) {
	if string(raw) == "null" {
		if nullable {
			return nil, nil
		}
		return nil, errInvalid("invalid_field_value", param, param+" must be a string.")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errInvalid("invalid_field_value", param, param+" must be a string.")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || len(s) > 2048:
		return nil, errInvalid("invalid_field_value", param, param+" must be an absolute URL of at most 2048 characters.")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, errInvalid("invalid_field_value", param, param+" must not have a #fragment: Kirim appends query parameters.")
	case u.Scheme == "https":
	case u.Scheme == "http" && isLocalHost(u.Hostname()):
	default:
		return nil, errInvalid("invalid_field_value", param, param+" must use https (http only for localhost).")
	}
	return &s, nil
}

func isLocalHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.Equal(net.IPv4(127, 0, 0, 1))
}

func (s *Sandbox) listLinks(r *http.Request, _ []byte) (any, *apiError) {
	c, aerr := s.customer(r)
	if aerr != nil {
		return nil, aerr
	}
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains([]string{"active", "consumed", "expired", "revoked"}, status) {
		return nil, errInvalid("invalid_field_value", "status", "status must be active, consumed, expired or revoked.")
	}
	var links []*link
	for _, l := range s.st.Links {
		if l.CustomerID == c.ID && (status == "" || s.linkStatus(l) == status) {
			links = append(links, l)
		}
	}
	slices.SortFunc(links, func(a, b *link) int { return int(b.Seq - a.Seq) })
	if len(links) > 50 {
		links = links[:50]
	}
	data := make([]map[string]any, len(links))
	for i, l := range links {
		data[i] = s.linkJSON(l)
	}
	return list{"data": data, "has_more": false, "next_cursor": nil}, nil
}

func (s *Sandbox) createLink(r *http.Request, body []byte) (any, *apiError) {
	c, aerr := s.customer(r)
	if aerr != nil {
		return nil, aerr
	}
	f, aerr := decodeObject(body)
	if aerr != nil {
		return nil, aerr
	}
	hours := 168
	if raw, ok := f["expires_in_hours"]; ok {
		var h float64
		if json.Unmarshal(raw, &h) != nil || h != float64(int(h)) || h < 1 || h > 720 {
			return nil, errInvalid("invalid_field_value", "expires_in_hours", "expires_in_hours must be a whole number from 1 to 720.")
		}
		hours = int(h)
	}
	now := s.now()
	token := newToken()
	s.st.Seq++
	l := &link{Seq: s.st.Seq, ID: newID("csl", now), CustomerID: c.ID, TokenHash: hashToken(token),
		TokenLast4: token[len(token)-4:], Status: "active", ExpiresAt: now.Add(time.Duration(hours) * time.Hour), CreatedAt: now}
	for _, p := range []struct {
		name string
		dst  **string
	}{{"success_redirect_url", &l.Success}, {"failure_redirect_url", &l.Failure}} {
		if raw, ok := f[p.name]; ok {
			if *p.dst, aerr = validRedirect(p.name, raw, false); aerr != nil {
				return nil, aerr
			}
		}
	}
	if c.Status == "archived" {
		return nil, errInvalid("customer_archived", "id", "An archived customer cannot get setup links.")
	}
	s.st.Links[l.ID] = l
	out := s.linkJSON(l)
	s.emit("customer.setup_link.created", map[string]any{"setup_link": out, "customer": customerJSON(c)})
	out = copyMap(out)
	out["setup_url"] = s.publicURL(r) + "/onboard/" + token
	return out, nil
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *Sandbox) publicURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return s.opts.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Sandbox) link(r *http.Request) (*customer, *link, *apiError) {
	c, aerr := s.customer(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	id := r.PathValue("link_id")
	if !linkIDPattern.MatchString(id) {
		return nil, nil, errInvalid("invalid_field_value", "link_id", "link_id must be a setup link id (csl_…).")
	}
	l, ok := s.st.Links[id]
	if !ok || l.CustomerID != c.ID {
		return nil, nil, errNotFound("setup link")
	}
	return c, l, nil
}

func (s *Sandbox) updateLink(r *http.Request, body []byte) (any, *apiError) {
	_, l, aerr := s.link(r)
	if aerr != nil {
		return nil, aerr
	}
	f, aerr := decodeObject(body)
	if aerr != nil {
		return nil, aerr
	}
	success, failure := l.Success, l.Failure
	if raw, ok := f["success_redirect_url"]; ok {
		if success, aerr = validRedirect("success_redirect_url", raw, true); aerr != nil {
			return nil, aerr
		}
	}
	if raw, ok := f["failure_redirect_url"]; ok {
		if failure, aerr = validRedirect("failure_redirect_url", raw, true); aerr != nil {
			return nil, aerr
		}
	}
	if st := s.linkStatus(l); st != "active" {
		return nil, errConflict("setup_link_not_active", "This setup link is "+st+"; only an active link can change.")
	}
	l.Success, l.Failure = success, failure
	return s.linkJSON(l), nil
}

func (s *Sandbox) revokeLink(r *http.Request, _ []byte) (any, *apiError) {
	_, l, aerr := s.link(r)
	if aerr != nil {
		return nil, aerr
	}
	if st := s.linkStatus(l); st != "active" {
		return nil, errConflict("setup_link_not_active", "This setup link is "+st+"; only an active link can be revoked.")
	}
	l.Status = "revoked"
	return map[string]any{"id": l.ID, "object": "customer_setup_link", "revoked": true, "status": "revoked"}, nil
}
