package session

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// SessionContext returns a context derived from r's that is cancelled when
// the request's session ends, for handlers that keep a connection open
// (server-sent events, long polls, WebSockets): revoked on this instance or
// on any other sharing the store (through its notifier), logged out, or
// past its absolute or idle timeout. context.Cause tells why:
// [ErrRevoked], [ErrExpired], [ErrUnavailable] (the session state could not
// be re-read: fail closed), or r's own cancellation. Without a session in
// r's context (the handler is not behind [Manager.Handler], or the request
// is not signed in) the context is returned already cancelled with
// [ErrNoSession].
//
// The bound: with a notifier, the context ends within the notifier's
// delivery time plus one storage read after the revocation commits;
// without one (or while it reconnects), within [Config.RevocationTTL].
// Rotating the session's token ([Manager.Elevate], device binding) does
// not end it: the session lives on under its handle.
//
// Call cancel when the handler returns. Only handlers that call
// SessionContext pay for it (one storage read when called, one per
// revocation notice of the user while it is open); the middleware does not
// change. Safe for concurrent use.
func (m *Manager) SessionContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(r.Context())
	s, ok := anyFromContext(r.Context())
	if !ok {
		cancel(ErrNoSession)
		return ctx, func() { cancel(context.Canceled) }
	}
	w := &watcher{userID: s.UserID, handle: s.Handle, cancel: cancel}
	if !s.ExpiresAt.IsZero() {
		w.timer = time.AfterFunc(max(s.ExpiresAt.Sub(m.cfg.Clock()), 0), func() { cancel(ErrExpired) })
	}
	m.watch.add(w)
	stop := context.AfterFunc(ctx, func() { m.watch.remove(w) })
	return ctx, func() {
		if stop() {
			m.watch.remove(w)
		}
		cancel(context.Canceled)
	}
}

// watcher is one open SessionContext.
type watcher struct {
	userID, handle string
	cancel         context.CancelCauseFunc
	timer          *time.Timer
}

// watchers keeps the open SessionContexts of a Manager and re-checks their
// sessions against storage when a revocation notice concerns their user,
// on a reset, and every RevocationTTL. One goroutine per Manager, started
// by New and ended by Close; requests that do not ask cost nothing.
type watchers struct {
	m *Manager

	mu     sync.Mutex
	byUser map[string]map[*watcher]struct{}
	dirty  map[string]struct{}
	all    bool // re-check every watched user

	kick chan struct{} // capacity 1: work is waiting
	stop chan struct{}
	done chan struct{}
}

func newWatchers(m *Manager) *watchers {
	w := &watchers{
		m: m, byUser: make(map[string]map[*watcher]struct{}), dirty: make(map[string]struct{}),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	return w
}

// start starts the loop; m.revocationTTL must be set.
func (ws *watchers) start() { go ws.loop() }

func (ws *watchers) add(w *watcher) {
	ws.mu.Lock()
	set := ws.byUser[w.userID]
	if set == nil {
		set = make(map[*watcher]struct{})
		ws.byUser[w.userID] = set
	}
	set[w] = struct{}{}
	// A revocation may have landed between the middleware's check and
	// now: re-check at once.
	ws.dirty[w.userID] = struct{}{}
	ws.mu.Unlock()
	ws.wake()
}

func (ws *watchers) remove(w *watcher) {
	ws.mu.Lock()
	if set := ws.byUser[w.userID]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(ws.byUser, w.userID)
		}
	}
	ws.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

// notice handles a revocation notice (from the store's notifier or a local
// revocation). It never blocks.
func (ws *watchers) notice(r storage.Revocation) {
	ws.mu.Lock()
	switch {
	case r.Reset:
		ws.all = len(ws.byUser) > 0
	case ws.byUser[r.UserID] != nil:
		ws.dirty[r.UserID] = struct{}{}
	default:
		ws.mu.Unlock()
		return
	}
	ws.mu.Unlock()
	ws.wake()
}

func (ws *watchers) wake() {
	select {
	case ws.kick <- struct{}{}:
	default:
	}
}

func (ws *watchers) loop() {
	defer close(ws.done)
	t := time.NewTicker(ws.m.revocationTTL)
	defer t.Stop()
	for {
		select {
		case <-ws.stop:
			return
		case <-ws.kick:
		case <-t.C:
			ws.mu.Lock()
			ws.all = len(ws.byUser) > 0
			ws.mu.Unlock()
		}
		ws.mu.Lock()
		var users []string
		if ws.all {
			for u := range ws.byUser {
				users = append(users, u)
			}
		} else {
			for u := range ws.dirty {
				if ws.byUser[u] != nil {
					users = append(users, u)
				}
			}
		}
		ws.all = false
		clear(ws.dirty)
		ws.mu.Unlock()
		for _, u := range users {
			ws.recheck(u)
		}
	}
}

// recheck reads userID's sessions and cancels the watchers whose session
// is gone (ErrRevoked) or past its timeouts (ErrExpired); every watcher of
// the user on a storage error (ErrUnavailable: fail closed).
func (ws *watchers) recheck(userID string) {
	m := ws.m
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.StorageTimeout)
	list, err := m.cfg.Store.ListSessions(ctx, userID)
	cancel()
	now := m.cfg.Clock()
	live := make(map[string]error, len(list))
	for _, st := range list {
		if !now.Before(st.ExpiresAt) || now.Sub(st.LastSeenAt) > m.cfg.IdleTimeout {
			live[st.Handle] = ErrExpired
		} else {
			live[st.Handle] = nil
		}
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for w := range ws.byUser[userID] {
		var cause error
		if err != nil {
			cause = fmt.Errorf("%w: re-checking an open connection's session: %w", ErrUnavailable, err)
		} else if e, ok := live[w.handle]; !ok {
			cause = ErrRevoked
		} else {
			cause = e
		}
		if cause != nil {
			w.cancel(cause)
		}
	}
}

// close stops the loop and waits for it.
func (ws *watchers) close() {
	close(ws.stop)
	<-ws.done
}
