package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// openStream serves a long-lived request carrying cookie v through m's
// middleware, as an SSE handler would, and returns once the handler holds
// its SessionContext. The channel receives context.Cause when it ends.
func openStream(t *testing.T, m *Manager, v string) <-chan error {
	t.Helper()
	ready, ended := make(chan struct{}), make(chan error, 1)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := m.SessionContext(r)
		defer cancel()
		close(ready)
		<-ctx.Done()
		ended <- context.Cause(ctx)
	}))
	reqCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go h.ServeHTTP(httptest.NewRecorder(), cookieRequest(m, v).WithContext(reqCtx))
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream handler did not start")
	}
	return ended
}

func wantEnded(t *testing.T, ended <-chan error, want error, within time.Duration) {
	t.Helper()
	select {
	case err := <-ended:
		if !errors.Is(err, want) {
			t.Fatalf("stream ended with %v, want %v", err, want)
		}
	case <-time.After(within):
		t.Fatalf("stream still open after %v, want it ended with %v", within, want)
	}
}

func wantOpen(t *testing.T, ended <-chan error) {
	t.Helper()
	select {
	case err := <-ended:
		t.Fatalf("stream ended with %v, want it still open", err)
	case <-time.After(150 * time.Millisecond):
	}
}

// noPoll makes the periodic re-check too slow to matter, so that a test
// proves the notice path.
func noPoll(c *Config) { c.RevocationTTL = time.Hour }

func TestSessionContextEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(t *testing.T, m *Manager, v string, s *Session)
		want error
	}{
		{"a revocation from the sessions list ends the stream", func(t *testing.T, m *Manager, v string, s *Session) {
			if err := m.Revoke(context.Background(), Audit{}, s.UserID, s.Handle); err != nil {
				t.Fatal(err)
			}
		}, ErrRevoked},
		{"logging out in another tab ends the stream", func(t *testing.T, m *Manager, v string, s *Session) {
			if err := m.Logout(httptest.NewRecorder(), cookieRequest(m, v)); err != nil {
				t.Fatal(err)
			}
		}, ErrRevoked},
		{"log out all other sessions from another device ends the stream", func(t *testing.T, m *Manager, v string, s *Session) {
			_, other := loginDirect(t, m, s.UserID)
			if _, err := m.RevokeOthers(context.Background(), Audit{}, other); err != nil {
				t.Fatal(err)
			}
		}, ErrRevoked},
		{"an admin's revoke-all ends the stream", func(t *testing.T, m *Manager, v string, s *Session) {
			if _, err := m.RevokeAll(context.Background(), Audit{}, s.UserID); err != nil {
				t.Fatal(err)
			}
		}, ErrRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newTestManager(t, newMemoryStore(t), newFakeClock(), noPoll)
			v, s := loginDirect(t, m, "alice")
			ended := openStream(t, m, v)
			tt.end(t, m, v, s)
			wantEnded(t, ended, tt.want, 2*time.Second)
		})
	}
}

// TestSessionContextAcrossInstances: a revocation on one instance ends a
// stream held open by another sharing the store, through the notifier
// (polling is an hour away).
func TestSessionContextAcrossInstances(t *testing.T) {
	t.Parallel()
	store := newMemoryStore(t)
	clock := newFakeClock()
	keys := testKeys(t, 1)
	a := newTestManager(t, store, clock, func(c *Config) { c.Keys = keys; noPoll(c) })
	b := newTestManager(t, store, clock, func(c *Config) { c.Keys = keys; noPoll(c) })
	v, s := loginDirect(t, a, "alice")
	ended := openStream(t, b, v)
	wantOpen(t, ended)
	start := time.Now()
	if err := a.Revoke(context.Background(), Audit{}, "alice", s.Handle); err != nil {
		t.Fatal(err)
	}
	wantEnded(t, ended, ErrRevoked, time.Second)
	t.Logf("stream on the other instance ended %v after the revocation", time.Since(start))
}

// TestSessionContextSurvives: what does not end the session does not end
// the stream: a token rotation (Elevate), another session's revocation,
// another user's.
func TestSessionContextSurvives(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), noPoll)
	v, s := loginDirect(t, m, "alice")
	ended := openStream(t, m, v)
	w := httptest.NewRecorder()
	if _, err := m.Elevate(w, cookieRequest(m, v), storage.AuthPassword); err != nil {
		t.Fatal(err)
	}
	wantOpen(t, ended)
	_, other := loginDirect(t, m, "alice")
	if err := m.Revoke(context.Background(), Audit{}, "alice", other.Handle); err != nil {
		t.Fatal(err)
	}
	_, bob := loginDirect(t, m, "bob")
	if err := m.Revoke(context.Background(), Audit{}, "bob", bob.Handle); err != nil {
		t.Fatal(err)
	}
	wantOpen(t, ended)
	if err := m.Revoke(context.Background(), Audit{}, "alice", s.Handle); err != nil {
		t.Fatal(err)
	}
	wantEnded(t, ended, ErrRevoked, 2*time.Second)
}

// TestSessionContextExpires: past its absolute timeout the stream ends at
// the next periodic re-check (RevocationTTL).
func TestSessionContextExpires(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newTestManager(t, newMemoryStore(t), clock, func(c *Config) { c.RevocationTTL = 20 * time.Millisecond })
	v, _ := loginDirect(t, m, "alice")
	ended := openStream(t, m, v)
	wantOpen(t, ended)
	clock.Advance(DefaultAbsoluteTimeout)
	wantEnded(t, ended, ErrExpired, 2*time.Second)
}

// listFailStore fails ListSessions on demand.
type listFailStore struct {
	storage.Store
	fail chan struct{}
}

func (s *listFailStore) ListSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	select {
	case <-s.fail:
		return nil, errOutage
	default:
		return s.Store.ListSessions(ctx, userID)
	}
}

// TestSessionContextFailsClosed: when the session cannot be re-read the
// stream ends with ErrUnavailable rather than outlive a revocation.
func TestSessionContextFailsClosed(t *testing.T) {
	t.Parallel()
	store := &listFailStore{Store: newMemoryStore(t), fail: make(chan struct{})}
	m := newTestManager(t, store, newFakeClock(), func(c *Config) { c.RevocationTTL = 20 * time.Millisecond })
	v, _ := loginDirect(t, m, "alice")
	ended := openStream(t, m, v)
	wantOpen(t, ended)
	close(store.fail)
	wantEnded(t, ended, ErrUnavailable, 2*time.Second)
}

func TestSessionContextWithoutSession(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	ctx, cancel := m.SessionContext(httptest.NewRequest("GET", "/", nil))
	defer cancel()
	if err := context.Cause(ctx); !errors.Is(err, ErrNoSession) {
		t.Fatalf("got cause %v, want ErrNoSession", err)
	}
}

// TestSessionContextReleases: a handler that returns releases its watcher.
func TestSessionContextReleases(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	v, _ := loginDirect(t, m, "alice")
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, cancel := m.SessionContext(r)
		cancel()
	}))
	for range 10 {
		h.ServeHTTP(httptest.NewRecorder(), cookieRequest(m, v))
	}
	m.watch.mu.Lock()
	n := len(m.watch.byUser)
	m.watch.mu.Unlock()
	if n != 0 {
		t.Fatalf("got %d users with watchers after the handlers returned, want 0", n)
	}
}

// TestMiddlewareStartsNoGoroutine: handlers that do not ask for a
// SessionContext start no goroutine (and, TestMiddlewareCacheHitAllocations,
// allocate nothing more).
func TestMiddlewareStartsNoGoroutine(t *testing.T) {
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	v, _ := loginDirect(t, m, "alice")
	started := make(chan int, 1)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- runtime.NumGoroutine():
		default:
		}
	}))
	before := runtime.NumGoroutine()
	h.ServeHTTP(httptest.NewRecorder(), cookieRequest(m, v))
	if got := <-started; got != before {
		t.Fatalf("got %d goroutines inside the handler, want %d as before the request", got, before)
	}
}

// BenchmarkSessionContext is what a streaming handler pays to ask (the
// request path of others is BenchmarkMiddleware/CacheHit, unchanged).
func BenchmarkSessionContext(b *testing.B) {
	m := newTestManager(b, newMemoryStore(b), newFakeClock(), noPoll)
	v, _ := loginDirect(b, m, "alice")
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, cancel := m.SessionContext(r)
		cancel()
	}))
	benchServe(b, h, cookieRequest(m, v))
}
