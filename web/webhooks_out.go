package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/kirim-portal/portal/onboarding"
	"github.com/kirim-portal/portal/views"
)

// The outgoing webhooks' settings page: endpoints, their secrets (shown once), their
// delivery logs.

func (s *Server) webhooksView(c *fiber.Ctx) (views.WebhooksView, error) {
	v := views.WebhooksView{Events: onboarding.OutgoingEvents, Chosen: map[string]bool{}}
	eps, err := s.db.Endpoints(c.UserContext())
	if err != nil {
		return v, err
	}
	for _, ep := range eps {
		row := views.EndpointRow{ID: ep.ID, URL: ep.URL, Events: ep.Events, State: ep.State, FailingSince: ep.FailingSince}
		ds, err := s.db.Deliveries(c.UserContext(), ep.ID, 20)
		if err != nil {
			return v, err
		}
		for _, d := range ds {
			row.Deliveries = append(row.Deliveries, views.DeliveryRow{ID: d.ID, MsgID: d.MsgID, Type: d.Type, State: d.State,
				Attempts: d.Attempts, Status: d.LastStatus, Latency: d.LastLatency, Error: d.LastError, At: d.CreatedAt})
		}
		v.Endpoints = append(v.Endpoints, row)
	}
	return v, nil
}

func (s *Server) webhooksPage(c *fiber.Ctx) error {
	v, err := s.webhooksView(c)
	if err != nil {
		return err
	}
	return s.render(c, views.WebhooksPage(s.adminPage(c, "Webhooks"), v))
}

// addEndpoint makes an endpoint and shows its secret on the answer, once.
func (s *Server) addEndpoint(c *fiber.Ctx) error {
	var events []string
	for _, e := range c.Request().PostArgs().PeekMulti("events") {
		events = append(events, string(e))
	}
	ep, sec, err := s.ob.CreateEndpoint(c.UserContext(), onboarding.EndpointInput{URL: c.FormValue("url"), Events: events}, actor(c))
	v, verr := s.webhooksView(c)
	if verr != nil {
		return verr
	}
	if errs := fieldErrors(err); errs != nil {
		v.Errors, v.URL = errs, c.FormValue("url")
		for _, e := range events {
			v.Chosen[e] = true
		}
		return s.render(c, views.WebhooksPage(s.invalidFormPage(c, "Webhooks"), v))
	}
	if err != nil {
		return err
	}
	v.NewSecret, v.NewSecretFor = sec, ep.URL
	return s.render(c, views.WebhooksPage(s.adminPage(c, "Webhooks"), v))
}

func endpointParam(c *fiber.Ctx) int64 {
	id, _ := strconv.ParseInt(c.Params("id"), 10, 64)
	return id
}

func (s *Server) rotateEndpoint(c *fiber.Ctx) error {
	ep, err := s.db.EndpointByID(c.UserContext(), endpointParam(c))
	if err != nil {
		return err
	}
	sec, err := s.ob.RotateEndpointSecret(c.UserContext(), ep.ID)
	if err != nil {
		return err
	}
	v, err := s.webhooksView(c)
	if err != nil {
		return err
	}
	v.NewSecret, v.NewSecretFor = sec, ep.URL+" (the old one signs too for 24 hours)"
	return s.render(c, views.WebhooksPage(s.adminPage(c, "Webhooks"), v))
}

func (s *Server) deleteEndpoint(c *fiber.Ctx) error {
	if err := s.db.DeleteEndpoint(c.UserContext(), endpointParam(c)); err != nil {
		return err
	}
	s.flash(c, "ok", "Endpoint deleted.")
	return redirect(c, "/admin/settings/webhooks")
}

func (s *Server) enableEndpoint(c *fiber.Ctx) error {
	if err := s.db.EnableEndpoint(c.UserContext(), endpointParam(c)); err != nil {
		return err
	}
	s.flash(c, "ok", "Endpoint enabled: redeliver what it missed from its log.")
	return redirect(c, "/admin/settings/webhooks")
}

func (s *Server) redeliver(c *fiber.Ctx) error {
	if err := s.ob.Redeliver(c.UserContext(), endpointParam(c)); err != nil {
		return err
	}
	s.flash(c, "ok", "Delivery queued again, under the same webhook-id.")
	return redirect(c, "/admin/settings/webhooks")
}
