package session_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/session"
)

// TestSessionContextAcrossBackends: on every backend, a stream held open
// through instance B ends with ErrRevoked when instance A, with its own
// client of the store, revokes the session (through the notifier), and a
// stream of another session of the user stays open.
func TestSessionContextAcrossBackends(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(*testing.T) backend{
		"memory": memoryBackend, "sqlite": sqliteBackend, "postgres": postgresBackend, "redis": redisBackend,
		"redis-cluster": redisTopologyBackend("redis-cluster", "SESSION_TEST_REDIS_CLUSTER_URL",
			"redis://127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003"),
		"redis-sentinel": redisTopologyBackend("redis-sentinel", "SESSION_TEST_REDIS_SENTINEL_URL",
			"redis://127.0.0.1:26391?master_name=sessionguard"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			be := mk(t)
			keys := []session.KeyPair{mustKeys(t)}
			a := newInstance(t, be.open(t, ""), keys)
			b := newInstance(t, be.open(t, ""), keys)
			user := randomName("user-")
			victimCookie, victim := signIn(t, a, user)
			otherCookie, _ := signIn(t, a, user)
			victimEnded := stream(t, b, victimCookie)
			otherEnded := stream(t, b, otherCookie)

			start := time.Now()
			if err := a.Revoke(context.Background(), session.Audit{}, user, victim.Handle); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-victimEnded:
				if !errors.Is(err, session.ErrRevoked) {
					t.Fatalf("the revoked session's stream on B ended with %v, want ErrRevoked", err)
				}
				t.Logf("stream on B ended %v after the revocation on A", time.Since(start))
			case <-time.After(5 * time.Second):
				t.Fatal("the revoked session's stream on B is still open 5 s after the revocation on A")
			}
			select {
			case err := <-otherEnded:
				t.Fatalf("the other session's stream ended with %v, want it open", err)
			case <-time.After(200 * time.Millisecond):
			}
		})
	}
}

// stream serves a long-lived request with cookie v through m's middleware
// and returns once its handler holds a SessionContext; the channel gets
// context.Cause when it ends.
func stream(t *testing.T, m *session.Manager, v string) <-chan error {
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
	go h.ServeHTTP(nopWriter{http.Header{}}, withCookie(m, v).WithContext(reqCtx))
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream handler did not start (session refused?)")
	}
	return ended
}

type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header         { return w.h }
func (w nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w nopWriter) WriteHeader(int)             {}
