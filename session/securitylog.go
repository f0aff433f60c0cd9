package session

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessionguard/sessionguard/internal/device"
	"github.com/sessionguard/sessionguard/storage"
)

// Limits of [SecurityLog.List].
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
	// Actor names the administrator or tool that acted, when it was not
	// the user ([Audit.Actor]).
	Actor string `json:"actor,omitempty"`
}

// SecurityLog is the users' security log (OWASP ASVS 5.0 16.3.1,
// SECURITY.md §22): every authentication and session event, with time,
// session, IP, device and approximate location, never a secret. The
// Manager, its app tokens and the totp package write to it; get it with
// [Manager.SecurityLog]. It is safe for concurrent use. It keeps events
// for [Config.EventRetention], deleting older ones hourly until
// [Manager.Close].
type SecurityLog struct {
	store    storage.Store
	clock    func() time.Time
	logger   *slog.Logger
	timeout  time.Duration
	onEvent  func(ctx context.Context, e storage.Event)
	retain   time.Duration
	activity func(ctx context.Context, r *http.Request, now time.Time) storage.Activity
	tel      *telemetry

	stop chan struct{}
	done chan struct{}
}

func newSecurityLog(cfg *Config, activity func(context.Context, *http.Request, time.Time) storage.Activity, tel *telemetry) *SecurityLog {
	l := &SecurityLog{
		store: cfg.Store, clock: cfg.Clock, logger: cfg.Logger, timeout: cfg.StorageTimeout,
		onEvent: cfg.OnEvent, retain: cfg.EventRetention, activity: activity, tel: tel,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.retentionLoop()
	return l
}

// SecurityLog returns the Manager's security log.
func (m *Manager) SecurityLog() *SecurityLog { return m.log }

// Record appends a security event of type typ for userID, with the time
// and what a tells about who asked (its request, its Actor), and passes it
// to [Config.OnEvent]. A storage failure is logged, never returned: the
// log must not make an action fail. detail must not contain a secret.
func (l *SecurityLog) Record(ctx context.Context, a Audit, userID string, typ storage.EventType, detail string) {
	l.record(ctx, a, nil, userID, typ, detail)
}

// record records an event. a.Request may be nil; s, the session acted on
// or acting, may be nil: then the request's own session, if any, is the
// acting one.
func (l *SecurityLog) record(ctx context.Context, a Audit, s *Session, userID string, typ storage.EventType, detail string) {
	r := a.Request
	e := storage.Event{UserID: userID, Type: typ, At: l.clock(), Detail: detail, Actor: a.Actor}
	if s == nil && r != nil {
		s, _ = anyFromContext(r.Context())
	}
	if s != nil && s.UserID == userID {
		e.SessionHandle = s.Handle
	}
	if r != nil {
		a := l.activity(ctx, r, e.At)
		e.IP = a.IP
		e.Device = device.Label(a.Device)
		e.Location = LocationLabel(a.Location)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	if err := l.store.AppendEvent(ctx, &e); err != nil {
		l.logger.Error("session: recording security event failed", "type", string(typ), "err", err)
		return
	}
	l.tel.event(ctx, typ)
	if l.onEvent != nil {
		l.onEvent(ctx, e)
	}
}

// List returns a page of userID's security log, newest first: up to limit
// events (0: DefaultEventPage; at most MaxEventPage) older than the cursor
// before (0: from the newest). next is the cursor of the following page, 0
// when there is none. Paging is stable while new events arrive.
func (l *SecurityLog) List(ctx context.Context, userID string, before int64, limit int) (events []EventInfo, next int64, err error) {
	if limit <= 0 {
		limit = DefaultEventPage
	}
	limit = min(limit, MaxEventPage)
	// One more than asked tells whether another page exists.
	list, err := l.store.ListEvents(ctx, userID, before, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: listing events: %w", ErrUnavailable, err)
	}
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].ID
	}
	events = make([]EventInfo, len(list))
	for i, e := range list {
		events[i] = EventInfo{ID: e.ID, Type: e.Type, At: e.At, SessionID: e.SessionHandle, IP: e.IP, Device: e.Device, Location: e.Location, Detail: e.Detail, Actor: e.Actor}
	}
	return events, next, nil
}

// retentionLoop deletes events older than the retention at once and then
// hourly, until close.
func (l *SecurityLog) retentionLoop() {
	defer close(l.done)
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := l.store.DeleteEventsBefore(ctx, l.clock().Add(-l.retain)); err != nil {
			l.logger.Warn("session: security log retention failed", "err", err)
		}
		cancel()
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
	}
}

// close stops the retention loop and waits for it.
func (l *SecurityLog) close() {
	close(l.stop)
	<-l.done
}
