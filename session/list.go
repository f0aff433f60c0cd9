package session

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionguard/sessionguard/internal/device"
	"github.com/sessionguard/sessionguard/storage"
)

// SessionInfo is one entry of a user's sessions list: what a person needs to
// recognise a device, and nothing that would let anyone act as it (the
// token never leaves the cookie; ID is the public handle).
type SessionInfo struct {
	ID           string    `json:"id"`
	Current      bool      `json:"current"`
	CreatedAt    time.Time `json:"created_at"`
	LastSeenAt   time.Time `json:"last_seen_at"`
	IP           string    `json:"ip"`
	Location     string    `json:"location"`
	Browser      string    `json:"browser"`
	OS           string    `json:"os"`
	Device       string    `json:"device"`
	DeviceLabel  string    `json:"device_label"`
	SecondFactor bool      `json:"second_factor"`
	// Pending marks a sign-in that passed the password but not yet the
	// second factor: worth a warning if the user did not just sign in.
	Pending bool `json:"pending_second_factor"`
	// DeviceBound says the session is bound to its device's key (DBSC): its
	// session cookie alone, copied elsewhere, does not work.
	DeviceBound bool `json:"device_bound"`
	// Raw carries the stored details (full location, parsed device, user
	// agent) for server-rendered pages, with TokenHash zeroed. It is not
	// serialised.
	Raw storage.Session `json:"-"`
}

// ListSessions returns userID's live sessions, most recent activity first.
// Sessions past their absolute or idle timeout are left out. When current
// is the request's own session, its entry has Current set.
func (m *Manager) ListSessions(ctx context.Context, userID string, current *Session) ([]SessionInfo, error) {
	list, err := m.cfg.Store.ListSessions(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("%w: listing sessions: %w", ErrUnavailable, err)
	}
	now := m.cfg.Clock()
	out := make([]SessionInfo, 0, len(list))
	for _, s := range list {
		s.TokenHash = storage.TokenHash{}
		if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) > m.cfg.IdleTimeout {
			continue
		}
		var bound bool
		if m.bind != nil {
			if bound, err = m.bind.bound(ctx, userID, s.Handle); err != nil {
				return nil, err
			}
		}
		out = append(out, SessionInfo{
			DeviceBound:  bound,
			ID:           s.Handle,
			Current:      current != nil && current.Handle == s.Handle && current.UserID == userID,
			CreatedAt:    s.CreatedAt,
			LastSeenAt:   s.LastSeenAt,
			IP:           s.LastSeenIP,
			Location:     LocationLabel(s.Location),
			Browser:      s.Device.Browser,
			OS:           s.Device.OS,
			Device:       s.Device.Type,
			DeviceLabel:  device.Label(s.Device),
			SecondFactor: s.AuthLevel == storage.AuthSecondFactor,
			Pending:      s.AuthLevel == storage.AuthPendingSecondFactor,
			Raw:          s,
		})
	}
	return out, nil
}
