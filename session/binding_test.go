package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// withBinding turns device binding on.
func withBinding(c *Config) { c.DeviceBinding = DeviceBindingConfig{RoutesPath: "/auth"} }

// bindDirect binds s as the dbsc routes would after a verified proof and
// returns the rotated session's cookie value, the device cookie's value
// and the fresh session.
func bindDirect(t testing.TB, m *Manager, s *Session) (session, device string, fresh *Session) {
	t.Helper()
	d := m.DeviceBindings()
	w := httptest.NewRecorder()
	fresh, err := d.Bind(context.Background(), w, Audit{}, s, "id-1", []byte(`{"kty":"EC"}`), "thumb")
	if err != nil {
		t.Fatal(err)
	}
	d.SetCookie(w, fresh)
	for _, c := range w.Result().Cookies() {
		switch c.Name {
		case m.cfg.CookieName:
			session = c.Value
		case d.CookieName():
			device = c.Value
		}
	}
	if session == "" || device == "" {
		t.Fatalf("got session cookie %q and device cookie %q, want both set", session, device)
	}
	return session, device, fresh
}

// boundRequest carries both cookies.
func boundRequest(m *Manager, session, device string) *http.Request {
	r := httptest.NewRequest("GET", "https://example.com/", nil)
	r.Header.Set("Cookie", m.cfg.CookieName+"="+session+"; "+m.DeviceBindings().CookieName()+"="+device)
	return r
}

func TestDeviceBoundCheck(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newTestManager(t, newMemoryStore(t), clock, withBinding)
	_, s := loginDirect(t, m, "alice")
	plainV, _ := loginDirect(t, m, "alice")
	v, dev, _ := bindDirect(t, m, s)
	_, other := loginDirect(t, m, "bob")
	_, otherDev, _ := bindDirect(t, m, other)
	tests := []struct {
		name    string
		r       *http.Request
		advance time.Duration
		want    error
	}{
		{"a bound session with its device cookie passes", boundRequest(m, v, dev), 0, nil},
		{"a bound session without a device cookie is refused", cookieRequest(m, v), 0, ErrDeviceUnproven},
		{"another session's device cookie is refused", boundRequest(m, v, otherDev), 0, ErrDeviceUnproven},
		{"a tampered device cookie is refused", boundRequest(m, v, dev[:31]+string(dev[31]^1)), 0, ErrDeviceUnproven},
		{"a device cookie of the wrong length is refused", boundRequest(m, v, dev+"A"), 0, ErrDeviceUnproven},
		{"an expired device cookie is refused", boundRequest(m, v, dev), DefaultDeviceCookieLifetime, ErrDeviceUnproven},
		{"an unbound session needs no device cookie", cookieRequest(m, plainV), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			defer clock.Advance(-tt.advance)
			_, err := m.Check(tt.r)
			if !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDeviceBoundAcrossInstances: binding on A rotates the session's
// token. The session cookie from before binding, cached as live on B, is
// refused on B as soon as Bind returns (the memory store's notifier
// delivers before the commit returns; no clock advance, so not through
// RevocationTTL), even with the device cookie. The new session cookie
// needs the device cookie on B from its first use.
func TestDeviceBoundAcrossInstances(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := newMemoryStore(t)
	keys := testKeys(t, 1)
	a := newTestManager(t, store, clock, func(c *Config) { c.Keys = keys; withBinding(c) })
	b := newTestManager(t, store, clock, func(c *Config) { c.Keys = keys; withBinding(c) })
	before, s := loginDirect(t, a, "alice")
	if _, err := b.Check(cookieRequest(b, before)); err != nil {
		t.Fatalf("B, before binding: got %v, want nil", err)
	}
	after, dev, fresh := bindDirect(t, a, s)
	if after == before {
		t.Fatal("binding kept the session cookie, want a rotated one")
	}
	if fresh.Handle != s.Handle || fresh.AuthLevel != s.AuthLevel || !fresh.AuthAt.Equal(s.AuthAt) || !fresh.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("got fresh session %+v, want handle, level, AuthAt and expiry of %+v", fresh, s)
	}
	tests := []struct {
		name string
		m    *Manager
		r    *http.Request
		want error
	}{
		{"B refuses the cookie copied before binding", b, cookieRequest(b, before), ErrRevoked},
		{"B refuses the cookie copied before binding with the device cookie", b, boundRequest(b, before, dev), ErrRevoked},
		{"A refuses the cookie copied before binding", a, cookieRequest(a, before), ErrRevoked},
		{"B refuses the new cookie without the device cookie", b, cookieRequest(b, after), ErrDeviceUnproven},
		{"A refuses the new cookie without the device cookie", a, cookieRequest(a, after), ErrDeviceUnproven},
		{"B accepts the new cookie with the device cookie", b, boundRequest(b, after, dev), nil},
		{"A accepts the new cookie with the device cookie", a, boundRequest(a, after, dev), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.m.Check(tt.r)
			if !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDeviceBindRevokedSession: binding a session that ended meanwhile
// fails with ErrRevoked, sets no cookie and leaves no binding.
func TestDeviceBindRevokedSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newMemoryStore(t)
	m := newTestManager(t, store, newFakeClock(), withBinding)
	_, s := loginDirect(t, m, "alice")
	if err := m.Revoke(ctx, Audit{}, "alice", s.Handle); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if _, err := m.DeviceBindings().Bind(ctx, w, Audit{}, s, "id-1", []byte(`{"kty":"EC"}`), "thumb"); !errors.Is(err, ErrRevoked) {
		t.Fatalf("got %v, want ErrRevoked", err)
	}
	if c := w.Result().Cookies(); len(c) != 0 {
		t.Fatalf("got Set-Cookie %v, want none", c)
	}
	if _, err := store.GetDeviceBinding(ctx, "alice", s.Handle); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("binding of the ended session: got %v, want ErrNotFound", err)
	}
}

// TestDeviceBoundRefusalKeepsCookie: the middleware passes the refused
// request unauthenticated without expiring the session cookie, so the
// browser can refresh its device cookie.
func TestDeviceBoundRefusalKeepsCookie(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), withBinding)
	_, s := loginDirect(t, m, "alice")
	v, _, _ := bindDirect(t, m, s)
	var rejection error
	w := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := FromContext(r.Context()); ok {
			t.Error("the request was authenticated without the device cookie")
		}
		rejection = RejectionFromContext(r.Context())
	})).ServeHTTP(w, cookieRequest(m, v))
	if !errors.Is(rejection, ErrDeviceUnproven) {
		t.Fatalf("got rejection %v, want ErrDeviceUnproven", rejection)
	}
	if c := w.Result().Cookies(); len(c) != 0 {
		t.Fatalf("got Set-Cookie %v, want none", c)
	}
}

// TestDeviceBindingOff: without Config.DeviceBinding nothing is offered
// and DeviceBindings is nil.
func TestDeviceBindingOff(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	if m.DeviceBindings() != nil {
		t.Fatal("DeviceBindings is not nil with binding off")
	}
	w := httptest.NewRecorder()
	if _, err := m.Login(w, httptest.NewRequest("POST", "https://example.com/login", nil), "alice", storage.AuthPassword); err != nil {
		t.Fatal(err)
	}
	if h := w.Header().Get("Secure-Session-Registration"); h != "" {
		t.Fatalf("got Secure-Session-Registration %q with binding off, want none", h)
	}
}

// TestDeviceBoundCacheHitAllocations: the bound check adds no allocation
// to the cache-hit path (same bound as TestMiddlewareCacheHitAllocations).
func TestDeviceBoundCacheHitAllocations(t *testing.T) {
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), withBinding)
	_, s := loginDirect(t, m, "alice")
	v, dev, _ := bindDirect(t, m, s)
	h := m.Handler(okHandler)
	r := boundRequest(m, v, dev)
	w := &benchWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	got := testing.AllocsPerRun(100, func() {
		clear(w.h)
		h.ServeHTTP(w, r)
	})
	if got > 14 {
		t.Errorf("a bound cache hit allocates %v times, want ≤ 14", got)
	}
}

// BenchmarkDeviceBound compares the cache hit of a bound session (with its
// device cookie) with the unbound hit. BoundOverHit is the median ratio of
// alternating batches; the target is ≤ 1.15.
func BenchmarkDeviceBound(b *testing.B) {
	m := newTestManager(b, newMemoryStore(b), newFakeClock(), withBinding)
	plain, _ := loginDirect(b, m, "alice")
	_, s := loginDirect(b, m, "alice")
	v, dev, _ := bindDirect(b, m, s)
	h := m.Handler(okHandler)
	hitReq, boundReq := cookieRequest(m, plain), boundRequest(m, v, dev)
	w := &benchWriter{h: make(http.Header, 4)}
	h.ServeHTTP(w, hitReq)
	h.ServeHTTP(w, boundReq)
	b.Run("Hit", func(b *testing.B) { benchServe(b, h, hitReq) })
	b.Run("BoundHit", func(b *testing.B) { benchServe(b, h, boundReq) })
	b.Run("BoundOverHit", func(b *testing.B) {
		var ratios []float64
		for b.Loop() {
			t0 := time.Now()
			for range 32 {
				clear(w.h)
				h.ServeHTTP(w, hitReq)
			}
			t1 := time.Now()
			for range 32 {
				clear(w.h)
				h.ServeHTTP(w, boundReq)
			}
			ratios = append(ratios, float64(time.Since(t1))/float64(t1.Sub(t0)))
		}
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "bound/hit")
	})
}

// TestRevocationEndsBindings: every way of ending sessions deletes their
// bindings, and only theirs.
func TestRevocationEndsBindings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name     string
		end      func(m *Manager, keep, gone *Session) error
		keptLive bool
	}{
		{"revoking one session ends its binding", func(m *Manager, _, gone *Session) error {
			return m.Revoke(ctx, Audit{}, "alice", gone.Handle)
		}, true},
		{"log out all other sessions keeps the current binding", func(m *Manager, keep, _ *Session) error {
			_, err := m.RevokeOthers(ctx, Audit{}, keep)
			return err
		}, true},
		{"a password change keeping this session keeps its binding", func(m *Manager, keep, _ *Session) error {
			_, err := m.PasswordChanged(ctx, Audit{}, "alice", keep)
			return err
		}, true},
		{"revoke-all ends every binding", func(m *Manager, _, _ *Session) error {
			_, err := m.RevokeAll(ctx, Audit{}, "alice")
			return err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newMemoryStore(t)
			m := newTestManager(t, store, newFakeClock(), withBinding)
			_, keep := loginDirect(t, m, "alice")
			_, gone := loginDirect(t, m, "alice")
			_, _, keep = bindDirect(t, m, keep)
			_, _, gone = bindDirect(t, m, gone)
			if err := tt.end(m, keep, gone); err != nil {
				t.Fatal(err)
			}
			if _, err := store.GetDeviceBinding(ctx, "alice", gone.Handle); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("ended session's binding: got %v, want ErrNotFound", err)
			}
			_, err := store.GetDeviceBinding(ctx, "alice", keep.Handle)
			if got := err == nil; got != tt.keptLive {
				t.Errorf("kept session's binding present: got %v, want %v", got, tt.keptLive)
			}
		})
	}
}
