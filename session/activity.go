package session

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sessionguard/sessionguard/internal/device"
	"github.com/sessionguard/sessionguard/storage"
)

// maxIPLength bounds a stored IP string (an IPv6 address with zone fits).
const maxIPLength = 64

// activity describes the request's client: address (through trusted proxies
// only), truncated User-Agent, parsed device and approximate location
// (SECURITY.md §11).
func (m *Manager) activity(ctx context.Context, r *http.Request, now time.Time) storage.Activity {
	a := storage.Activity{At: now}
	ip := m.ips.ClientIP(r)
	if ip.IsValid() {
		a.IP = device.Truncate(ip.String(), maxIPLength)
		if m.cfg.Locator != nil {
			loc, err := m.cfg.Locator.Locate(ctx, ip)
			if err != nil {
				m.cfg.Logger.Warn("session: locating client failed", "err", err)
			} else {
				a.Location = loc
			}
		}
	}
	a.UserAgent = device.Truncate(r.UserAgent(), device.MaxUserAgent)
	a.Device = device.Parse(a.UserAgent)
	return a
}

// LocationLabel returns a short human form of l: "Lisbon, Portugal",
// "Portugal", or "" when nothing is known.
func LocationLabel(l storage.Location) string {
	var parts []string
	if l.City != "" {
		parts = append(parts, l.City)
	} else if l.Region != "" {
		parts = append(parts, l.Region)
	}
	switch {
	case l.Country != "":
		parts = append(parts, l.Country)
	case l.CountryCode != "":
		parts = append(parts, l.CountryCode)
	}
	return strings.Join(parts, ", ")
}
