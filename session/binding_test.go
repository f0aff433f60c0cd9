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
// returns the device cookie's value.
func bindDirect(t testing.TB, m *Manager, s *Session) string {
	t.Helper()
	d := m.DeviceBindings()
	if err := d.Bind(context.Background(), Audit{}, s, "id-1", []byte(`{"kty":"EC"}`), "thumb"); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	d.SetCookie(w, s)
	for _, c := range w.Result().Cookies() {
		if c.Name == d.CookieName() {
			return c.Value
		}
	}
	t.Fatal("SetCookie set no device cookie")
	return ""
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
	v, s := loginDirect(t, m, "alice")
	plainV, _ := loginDirect(t, m, "alice")
	dev := bindDirect(t, m, s)
	_, other := loginDirect(t, m, "bob")
	otherDev := bindDirect(t, m, other)
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

// TestDeviceBoundAcrossInstances: another instance learns of the binding
// when its cached entry is re-read (RevocationTTL) and from then on needs
// the device cookie; the cookie it gets is accepted (shared keys).
func TestDeviceBoundAcrossInstances(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := newMemoryStore(t)
	keys := testKeys(t, 1)
	a := newTestManager(t, store, clock, func(c *Config) { c.Keys = keys; withBinding(c) })
	b := newTestManager(t, store, clock, func(c *Config) { c.Keys = keys; withBinding(c) })
	v, s := loginDirect(t, a, "alice")
	dev := bindDirect(t, a, s)
	if _, err := b.Check(cookieRequest(b, v)); !errors.Is(err, ErrDeviceUnproven) {
		t.Fatalf("another instance, without a device cookie: got %v, want ErrDeviceUnproven", err)
	}
	if _, err := b.Check(boundRequest(b, v, dev)); err != nil {
		t.Fatalf("another instance, with the device cookie: got %v, want nil", err)
	}
}

// TestDeviceBoundRefusalKeepsCookie: the middleware passes the refused
// request unauthenticated without expiring the session cookie, so the
// browser can refresh its device cookie.
func TestDeviceBoundRefusalKeepsCookie(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), withBinding)
	v, s := loginDirect(t, m, "alice")
	bindDirect(t, m, s)
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
	v, s := loginDirect(t, m, "alice")
	dev := bindDirect(t, m, s)
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
	v, s := loginDirect(b, m, "alice")
	dev := bindDirect(b, m, s)
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
			bindDirect(t, m, keep)
			bindDirect(t, m, gone)
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
