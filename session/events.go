package session

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// Limits of [Manager.ListEvents].
const (
	DefaultEventPage = 20
	MaxEventPage     = 100
)

// EventInfo is one entry of a user's security log as served by GET /events.
type EventInfo struct {
	ID        int64             `json:"id"`
	Type      storage.EventType `json:"type"`
	At        time.Time         `json:"at"`
	SessionID string            `json:"session_id,omitempty"`
	IP        string            `json:"ip,omitempty"`
	Device    string            `json:"device,omitempty"`
	Location  string            `json:"location,omitempty"`
	Detail    string            `json:"detail,omitempty"`
}

// ListEvents returns a page of userID's security log, newest first: up to
// limit events (0: DefaultEventPage; at most MaxEventPage) older than the
// cursor before (0: from the newest). next is the cursor of the following
// page, 0 when there is none. Paging is stable while new events arrive.
func (m *Manager) ListEvents(ctx context.Context, userID string, before int64, limit int) (events []EventInfo, next int64, err error) {
	if limit <= 0 {
		limit = DefaultEventPage
	}
	limit = min(limit, MaxEventPage)
	// One more than asked tells whether another page exists.
	list, err := m.cfg.Store.ListEvents(ctx, userID, before, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: listing events: %w", ErrUnavailable, err)
	}
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].ID
	}
	events = make([]EventInfo, len(list))
	for i, e := range list {
		events[i] = EventInfo{ID: e.ID, Type: e.Type, At: e.At, SessionID: e.SessionHandle, IP: e.IP, Device: e.Device, Location: e.Location, Detail: e.Detail}
	}
	return events, next, nil
}
