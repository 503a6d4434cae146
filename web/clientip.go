package web

import (
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

const localClientIP = "client_ip"

// proxies is the set of reverse proxies whose X-Forwarded-For is believed.
type proxies []netip.Prefix

// parseProxies reads IPs and CIDRs; config validation has already refused bad ones.
func parseProxies(list []string) proxies {
	var out proxies
	for _, p := range list {
		p = strings.TrimSpace(p)
		if pref, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pref.Masked())
		} else if addr, err := netip.ParseAddr(p); err == nil {
			out = append(out, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
		}
	}
	return out
}

func (ps proxies) trusted(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// clientIP is the address of the browser behind the trusted proxies: the socket's
// address unless that is a trusted proxy, then the right-most address of
// X-Forwarded-For (every header line, comma-separated) that is not a trusted proxy.
// A list of only proxies, or an entry that is not an address, stops the walk: then
// the last trusted hop's address is the best there is. Whatever a client prepends to
// the header is never reached while a proxy appended its own view after it.
func (ps proxies) clientIP(socket netip.Addr, forwarded [][]byte) netip.Addr {
	socket = socket.Unmap()
	if len(ps) == 0 || !ps.trusted(socket) {
		return socket
	}
	ip := socket
	for i := len(forwarded) - 1; i >= 0; i-- {
		parts := strings.Split(string(forwarded[i]), ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return ip
			}
			ip = a.Unmap()
			if !ps.trusted(ip) {
				return ip
			}
		}
	}
	return ip
}

// withClientIP works out the client's address once per request.
func (s *Server) withClientIP(c *fiber.Ctx) error {
	socket, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	var forwarded [][]byte
	for k, v := range c.Request().Header.All() {
		if strings.EqualFold(string(k), fiber.HeaderXForwardedFor) {
			forwarded = append(forwarded, append([]byte(nil), v...))
		}
	}
	c.Locals(localClientIP, s.proxies.clientIP(socket, forwarded).String())
	return c.Next()
}

// clientIP returns the request's client address (see proxies.clientIP).
func clientIP(c *fiber.Ctx) string {
	if ip, ok := c.Locals(localClientIP).(string); ok {
		return ip
	}
	host, _, err := net.SplitHostPort(c.Context().RemoteAddr().String())
	if err != nil {
		return c.Context().RemoteIP().String()
	}
	return host
}
