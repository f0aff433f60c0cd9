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

type requestKey struct{}

// WithRequest returns a copy of ctx that carries r, so that the security
// events recorded by Go operations called with it ([Manager.Revoke],
// [Manager.RevokeOthers], [Manager.RevokeAll], [Manager.PasswordChanged],
// [Manager.GrantApp], [Manager.RevokeApp], the totp package's Service
// methods, [Manager.RecordEventContext]) name the request's session, IP
// address, device and location. Application handlers pass
// WithRequest(r.Context(), r); without it, events carry the user, type and
// time only.
func WithRequest(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RecordEvent appends a security event for userID, filled with the time, the
// request's session handle, client IP, device label and location, and
// passes it to [Config.OnEvent]. A storage failure is logged, never
// returned: the log must not make an action fail. detail must not contain a
// secret.
func (m *Manager) RecordEvent(r *http.Request, userID string, typ storage.EventType, detail string) {
	m.recordEvent(r.Context(), r, nil, userID, typ, detail)
}

// RecordEventContext is [Manager.RecordEvent] for callers that hold a
// context rather than a request: the request details come from
// [WithRequest] when ctx carries one.
func (m *Manager) RecordEventContext(ctx context.Context, userID string, typ storage.EventType, detail string) {
	m.recordEvent(ctx, nil, nil, userID, typ, detail)
}

// recordEvent records an event. r may be nil (then a request stored in ctx
// by withRequest is used, if any); s may be nil (then the request's own
// session, if any, names the acting session).
func (m *Manager) recordEvent(ctx context.Context, r *http.Request, s *Session, userID string, typ storage.EventType, detail string) {
	if r == nil {
		r, _ = ctx.Value(requestKey{}).(*http.Request)
	}
	e := storage.Event{UserID: userID, Type: typ, At: m.cfg.Clock(), Detail: detail}
	if s == nil && r != nil {
		s, _ = anyFromContext(r.Context())
	}
	if s != nil && s.UserID == userID {
		e.SessionHandle = s.Handle
	}
	if r != nil {
		a := m.activity(ctx, r, e.At)
		e.IP = a.IP
		e.Device = device.Label(a.Device)
		e.Location = LocationLabel(a.Location)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.StorageTimeout)
	defer cancel()
	if err := m.cfg.Store.AppendEvent(ctx, &e); err != nil {
		m.cfg.Logger.Error("session: recording security event failed", "type", string(typ), "err", err)
		return
	}
	if m.cfg.OnEvent != nil {
		m.cfg.OnEvent(ctx, e)
	}
}
