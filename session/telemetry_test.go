package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sessionguard/sessionguard/storage"
)

// collect returns the sum of every counter data point, keyed by
// "metric attr=value" (or "metric" without attributes), and the count of
// every histogram.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	key := func(name string, set attribute.Set) string {
		k := name
		for _, kv := range set.ToSlice() {
			k += " " + string(kv.Key) + "=" + kv.Value.Emit()
		}
		return k
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out[key(m.Name, dp.Attributes)] += dp.Value
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					out[key(m.Name, dp.Attributes)] = dp.Value
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out[m.Name] += int64(dp.Count)
				}
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	clock := newFakeClock()
	store := &countingStore{Store: newMemoryStore(t)}
	m := newTestManager(t, store, clock, func(c *Config) {
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	})
	h := m.Handler(okHandler)
	serve := func(v string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, cookieRequest(m, v))
		return w.Code
	}
	alice, _ := loginDirect(t, m, "alice")
	_, bob := loginDirect(t, m, "bob")
	serve(alice) // miss
	serve(alice) // hit
	serve(alice) // hit
	store.fail.Store(true)
	clock.Advance(time.Hour) // past RevocationTTL: the next request reads storage
	if code := serve(alice); code != http.StatusServiceUnavailable {
		t.Fatalf("request during an outage: got %d, want 503", code)
	}
	store.fail.Store(false)
	if err := m.Revoke(t.Context(), Audit{}, "bob", bob.Handle); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RevokeAll(t.Context(), Audit{}, "alice"); err != nil {
		t.Fatal(err)
	}

	got := collect(t, reader)
	for name, want := range map[string]int64{
		"sessionguard.cache.lookups sessionguard.cache.result=hit":                  2,
		"sessionguard.cache.lookups sessionguard.cache.result=miss":                 2,
		"sessionguard.session.fail_closed":                                          1,
		"sessionguard.sessions.started sessionguard.auth.level=password":            2,
		"sessionguard.sessions.ended sessionguard.session.end_reason=revoked":       1,
		"sessionguard.sessions.ended sessionguard.session.end_reason=revoked_all":   1,
		"sessionguard.security.events sessionguard.event.type=signed_in":            2,
		"sessionguard.security.events sessionguard.event.type=session_revoked":      1,
		"sessionguard.security.events sessionguard.event.type=all_sessions_revoked": 1,
		"sessionguard.notifier.lag":                                                 2,
		"sessionguard.notifier.live":                                                1,
		"sessionguard.store.operation.duration":                                     got["sessionguard.store.operation.duration"],
	} {
		if got[name] != want {
			t.Errorf("%s: got %d, want %d", name, got[name], want)
		}
	}
	if got["sessionguard.store.operation.duration"] < 5 {
		t.Errorf("store operations measured: got %d, want at least 5 (all: %v)", got["sessionguard.store.operation.duration"], got)
	}
}

// TestCacheHitAllocatesNothingMore: with the SDK installed, a cache hit
// allocates exactly as much as with no-op providers, and records no span.
func TestCacheHitAllocatesNothingMore(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	allocs := func(mod func(*Config)) float64 {
		m := newTestManager(t, newMemoryStore(t), newFakeClock(), mod)
		v, _ := loginDirect(t, m, "alice")
		h := m.Handler(okHandler)
		r := cookieRequest(m, v)
		w := &benchWriter{h: make(http.Header, 4)}
		h.ServeHTTP(w, r) // fill
		before := len(spans.Ended())
		n := testing.AllocsPerRun(200, func() { clear(w.h); h.ServeHTTP(w, r) })
		for _, s := range spans.Ended()[before:] {
			if s.Name() != "sessionguard.store DeleteEventsBefore" { // the retention loop's
				t.Errorf("a cache hit recorded span %q, want none", s.Name())
			}
		}
		return n
	}
	noops := allocs(func(c *Config) {
		c.MeterProvider = noop.NewMeterProvider()
	})
	sdk := allocs(func(c *Config) {
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		c.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	})
	if sdk != noops {
		t.Errorf("allocations per cache hit: got %v with the SDK, want %v as with no-op providers", sdk, noops)
	}
}

func TestJSONRoutesAndStorageAreTraced(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), func(c *Config) {
		c.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	})
	v, _ := loginDirect(t, m, "alice")
	h := m.Handler(m.Routes())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, cookieRequest(m, v).WithContext(t.Context()))
	r := cookieRequest(m, v)
	r.URL.Path = "/sessions"
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /sessions: got %d, want 200", w.Code)
	}
	var route, list bool
	for _, s := range spans.Ended() {
		switch s.Name() {
		case "sessionguard GET /sessions":
			route = true
			want := []attribute.KeyValue{attribute.String("http.route", "GET /sessions"), attribute.Int("http.response.status_code", 200)}
			for _, kv := range want {
				found := false
				for _, a := range s.Attributes() {
					found = found || a == kv
				}
				if !found {
					t.Errorf("route span attributes %v: want %v", s.Attributes(), kv)
				}
			}
		case "sessionguard.store ListSessions":
			list = true
		}
		for _, a := range s.Attributes() {
			if a.Value.Emit() == "alice" || a.Value.Emit() == v {
				t.Errorf("span %q carries %s: no user ID or cookie may appear", s.Name(), a.Key)
			}
		}
	}
	if !route || !list {
		t.Errorf("spans: route span %v, ListSessions span %v; want both", route, list)
	}
}

// noticeStore hands the test the Manager's notifier callback.
type noticeStore struct {
	storage.Store
	mu sync.Mutex
	fn func(storage.Revocation)
}

func (s *noticeStore) Subscribe(fn func(storage.Revocation)) (func(), error) {
	s.mu.Lock()
	s.fn = fn
	s.mu.Unlock()
	return func() {}, nil
}

func (s *noticeStore) send(r storage.Revocation) {
	s.mu.Lock()
	fn := s.fn
	s.mu.Unlock()
	fn(r)
}

func TestHealth(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	counting := &countingStore{Store: newMemoryStore(t)}
	store := &noticeStore{Store: counting}
	m := newTestManager(t, store, clock, nil)
	ctx := t.Context()
	check := func(what string, ready, live bool, downSince time.Time) {
		t.Helper()
		h := m.Health(ctx)
		if h.Ready() != ready || h.Notifier.Live != live || !h.Notifier.DownSince.Equal(downSince) || !h.Notifier.Supported {
			t.Errorf("%s: got ready %v, notifier %+v; want ready %v, live %v, down since %v", what, h.Ready(), h.Notifier, ready, live, downSince)
		}
		if !ready && !errors.Is(h.Store.Err, ErrUnavailable) {
			t.Errorf("%s: store error %v, want ErrUnavailable", what, h.Store.Err)
		}
	}
	check("at start", true, true, time.Time{})
	dropped := clock.Now()
	store.send(storage.Revocation{Reset: true})
	check("after the drop Reset", true, false, dropped)
	clock.Advance(time.Second)
	store.send(storage.Revocation{Reset: true})
	check("after the recovery Reset", true, true, time.Time{})
	stray := clock.Now()
	store.send(storage.Revocation{Reset: true})
	check("after a one-off Reset", true, false, stray)
	store.send(storage.Revocation{UserID: "alice"})
	check("after an ordinary notice", true, true, time.Time{})
	counting.fail.Store(true)
	check("during a store outage", false, true, time.Time{})
	if got := m.Health(ctx).Notifier.Resets; got != 3 {
		t.Errorf("Resets: got %d, want 3", got)
	}
}

func TestHealthWithoutNotifier(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, noNotifierStore{newMemoryStore(t)}, newFakeClock(), nil)
	h := m.Health(t.Context())
	if !h.Ready() || h.Notifier.Supported || h.Notifier.Live {
		t.Errorf("got %+v, want ready, notifier not supported and not live", h)
	}
}

type noNotifierStore struct{ storage.Store }

func (noNotifierStore) Subscribe(func(storage.Revocation)) (func(), error) {
	return nil, storage.ErrNoNotifier
}

func TestSessionLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newTestManager(t, newMemoryStore(t), clock, func(c *Config) { c.MaxSessionsPerUser = 2 })
	ctx := t.Context()
	h := m.Handler(okHandler)
	use := func(v string) { h.ServeHTTP(httptest.NewRecorder(), cookieRequest(m, v)) }
	first, s1 := loginDirect(t, m, "alice")
	clock.Advance(2 * time.Minute)
	second, _ := loginDirect(t, m, "alice")
	clock.Advance(2 * time.Minute)
	use(first) // first is now more recently used than second
	clock.Advance(2 * time.Minute)
	third, _ := loginDirect(t, m, "alice")

	for _, c := range []struct {
		name    string
		cookie  string
		wantErr error
	}{
		{"the least recently used session ended", second, ErrRevoked},
		{"the recently used older session lives", first, nil},
		{"the new session lives", third, nil},
	} {
		if _, err := m.Check(cookieRequest(m, c.cookie)); !errors.Is(err, c.wantErr) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.wantErr)
		}
	}
	list, err := m.ListSessions(ctx, "alice", nil)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListSessions: got %d sessions (%v), want 2", len(list), err)
	}
	events, _, err := m.SecurityLog().List(ctx, "alice", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if events[0].Type != storage.EventSessionLimitReached || events[0].SessionID == "" || events[0].SessionID == s1.Handle {
		t.Errorf("newest event: got %+v, want %s naming the second session", events[0], storage.EventSessionLimitReached)
	}
	if _, err := New(Config{Store: newMemoryStore(t), Keys: testKeys(t, 1), MaxSessionsPerUser: -1}); err == nil {
		t.Error("New with a negative MaxSessionsPerUser: got nil error")
	}
}

func TestAdminActorIsRecorded(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	ctx := t.Context()
	_, s := loginDirect(t, m, "alice")
	loginDirect(t, m, "alice")
	admin := Audit{Actor: "support:jane"}
	list, err := m.ListSessions(ctx, "alice", nil)
	if err != nil || len(list) != 2 {
		t.Fatalf("admin listing: got %d sessions (%v), want 2", len(list), err)
	}
	if err := m.Revoke(ctx, admin, "alice", s.Handle); err != nil {
		t.Fatal(err)
	}
	if n, err := m.RevokeAll(ctx, admin, "alice"); err != nil || n != 1 {
		t.Fatalf("RevokeAll: got %d, %v; want 1", n, err)
	}
	events, _, err := m.SecurityLog().List(ctx, "alice", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events[:2] {
		if e.Actor != "support:jane" {
			t.Errorf("event %s: got actor %q, want support:jane", e.Type, e.Actor)
		}
	}
	if events[2].Actor != "" {
		t.Errorf("the user's own sign-in: got actor %q, want none", events[2].Actor)
	}
}

func TestCloseStopsObservations(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), func(c *Config) {
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	})
	if got := collect(t, reader)["sessionguard.notifier.live"]; got != 1 {
		t.Fatalf("sessionguard.notifier.live before Close: got %d, want 1", got)
	}
	m.Close()
	if got, ok := collect(t, reader)["sessionguard.notifier.live"]; ok {
		t.Errorf("sessionguard.notifier.live after Close: got %d, want no observation", got)
	}
}

// Someone who knows the password but not the second factor cannot end
// the user's sessions through the limit: only a completed sign-in does.
func TestSessionLimitIgnoresPendingSignIns(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newTestManager(t, newMemoryStore(t), clock, func(c *Config) { c.MaxSessionsPerUser = 1 })
	first, _ := loginDirect(t, m, "alice")
	pendingCookie := ""
	for range 3 {
		clock.Advance(time.Minute)
		w := httptest.NewRecorder()
		if _, err := m.Login(w, httptest.NewRequest("POST", "https://example.com/login", nil), "alice", storage.AuthPendingSecondFactor); err != nil {
			t.Fatal(err)
		}
		pendingCookie = w.Result().Cookies()[0].Value
	}
	if _, err := m.Check(cookieRequest(m, first)); err != nil {
		t.Fatalf("the signed-in session after three password-only sign-ins: got %v, want live", err)
	}
	// The last of them passes its second factor: now the limit applies.
	r := cookieRequest(m, pendingCookie)
	if _, err := m.Elevate(httptest.NewRecorder(), r, storage.AuthSecondFactor); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Check(cookieRequest(m, first)); !errors.Is(err, ErrRevoked) {
		t.Errorf("the older session after a completed sign-in beyond the limit: got %v, want ErrRevoked", err)
	}
}
