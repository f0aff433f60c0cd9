package session

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unsafe"

	"github.com/sessionguard/sessionguard/storage"
)

// TestMiddlewareCacheHitAllocations bounds the authenticated cache-hit
// path: securecookie's decoding (12 allocations) plus the request context
// (2). BenchmarkMiddleware/CacheHit measures the same path.
func TestMiddlewareCacheHitAllocations(t *testing.T) {
	clock := newFakeClock()
	m := newTestManager(t, newMemoryStore(t), clock, nil)
	v, _ := loginDirect(t, m, "alice")
	h := m.Handler(okHandler)
	r := cookieRequest(m, v)
	w := &benchWriter{h: http.Header{}}
	h.ServeHTTP(w, r) // fill the cache
	got := testing.AllocsPerRun(100, func() {
		clear(w.h)
		h.ServeHTTP(w, r)
	})
	if got > 14 {
		t.Errorf("a cache hit allocates %v times, want ≤ 14", got)
	}
}

type parentKey struct{}

// TestMiddlewareContext checks the request context the middleware builds
// without context.WithValue: the session, the parent's values and its
// cancellation are all visible, and the raw token is not kept in memory
// with the Session.
func TestMiddlewareContext(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newTestManager(t, newMemoryStore(t), clock, nil)
	v, want := loginDirect(t, m, "alice")
	var p payload
	if _, err := m.codec.decode(v, &p); err != nil {
		t.Fatal(err)
	}
	token := p.token
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), parentKey{}, "kept"))
	r := cookieRequest(m, v).WithContext(parent)
	served := false
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served = true
		ctx := r.Context()
		s, ok := FromContext(ctx)
		if !ok || s.UserID != "alice" || s.Handle != want.Handle || s.tokenHash != storage.HashToken(token[:]) {
			t.Fatalf("FromContext = %+v, %v; want alice's session %s", s, ok, want.Handle)
		}
		if got := ctx.Value(parentKey{}); got != "kept" {
			t.Errorf("the parent's value: got %v, want kept", got)
		}
		if got := fmt.Sprint(ctx); strings.Contains(got, "alice") || strings.Contains(got, want.Handle) {
			t.Errorf("printing the context shows the session: %s", got)
		}
		if err := RejectionFromContext(ctx); err != nil {
			t.Errorf("RejectionFromContext = %v, want nil", err)
		}
		cancel()
		<-ctx.Done() // the parent's cancellation reaches the handler
		rs := ctx.(*requestSession)
		if rs.p.token != [tokenSize]byte{} {
			t.Error("the request context keeps the raw token")
		}
		// The user ID points into securecookie's buffer; the token that
		// preceded it there is wiped.
		buf := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(s.UserID)), -fixedPayload)), fixedPayload)
		if bytes.Contains(buf, token[:8]) {
			t.Error("the Session's user ID keeps the raw token alive in memory")
		}
	})).ServeHTTP(&benchWriter{h: http.Header{}}, r)
	if !served {
		t.Fatal("the handler was not called")
	}
}
