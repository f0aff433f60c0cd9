package session_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// newMeasuredInstance is newInstance with a per-user session limit and its
// own metric reader.
func newMeasuredInstance(t *testing.T, store storage.Store, keys []session.KeyPair, limit int) (*session.Manager, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	m, err := session.New(session.Config{
		Store:              store,
		Keys:               keys,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxSessionsPerUser: limit,
		MeterProvider:      sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, reader
}

// histogramCount returns how many values the histogram name recorded.
func histogramCount(t *testing.T, r *sdkmetric.ManualReader, name string) uint64 {
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == name {
				for _, dp := range h.DataPoints {
					n += dp.Count
				}
			}
		}
	}
	return n
}

// histogramMax returns the largest value the histogram name (in seconds)
// recorded, or 0.
func histogramMax(t *testing.T, r *sdkmetric.ManualReader, name string) time.Duration {
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var out float64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == name {
				for _, dp := range h.DataPoints {
					if v, ok := dp.Max.Value(); ok {
						out = max(out, v)
					}
				}
			}
		}
	}
	return time.Duration(out * float64(time.Second))
}

// TestOperationsAcrossInstances runs the admin operations, the per-user
// session limit and the health check on every backend, with two instances
// sharing the store.
func TestOperationsAcrossInstances(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(*testing.T) backend{"memory": memoryBackend, "sqlite": sqliteBackend, "postgres": postgresBackend, "redis": redisBackend} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			be := mk(t)
			keys := []session.KeyPair{mustKeys(t)}
			a, _ := newMeasuredInstance(t, be.open(t, ""), keys, 2)
			b, bMetrics := newMeasuredInstance(t, be.open(t, ""), keys, 2)
			ctx := context.Background()
			for _, m := range []*session.Manager{a, b} {
				if h := m.Health(ctx); !h.Ready() || !h.Notifier.Supported || !h.Notifier.Live {
					t.Fatalf("Health: got %+v, want ready with a live notifier", h)
				}
			}

			user := randomName("user-")
			first, _ := signIn(t, a, user)
			time.Sleep(10 * time.Millisecond) // distinct LastSeenAt
			second, _ := signIn(t, b, user)
			if _, err := b.Check(withCookie(b, first)); err != nil {
				t.Fatal(err) // B caches the first session as live
			}
			time.Sleep(10 * time.Millisecond)
			start := time.Now()
			third, _ := signIn(t, a, user) // beyond the limit: the first (least recently used) ends
			waitRevoked(t, b, first, start, 5*time.Second)
			for _, v := range []string{second, third} {
				if _, err := b.Check(withCookie(b, v)); err != nil {
					t.Errorf("a session within the limit: got %v on B, want live", err)
				}
			}
			if n := histogramCount(t, bMetrics, session.MetricNotifierLag); n == 0 {
				t.Errorf("%s: the notice's lag was not measured on B (no Revocation.CommittedAt?)", be.name)
			}

			// An administrator lists and ends the user's sessions from
			// another instance; the events name the administrator.
			admin := session.Audit{Actor: "support:jane"}
			list, err := b.ListSessions(ctx, user, nil)
			if err != nil || len(list) != 2 {
				t.Fatalf("admin listing: got %d sessions (%v), want 2", len(list), err)
			}
			if err := b.Revoke(ctx, admin, user, list[0].ID); err != nil {
				t.Fatal(err)
			}
			if n, err := b.RevokeAll(ctx, admin, user); err != nil || n != 1 {
				t.Fatalf("RevokeAll: got %d, %v; want 1", n, err)
			}
			for _, v := range []string{second, third} {
				if _, err := a.Check(withCookie(a, v)); !errors.Is(err, session.ErrRevoked) {
					waitRevoked(t, a, v, time.Now(), 5*time.Second)
				}
			}
			events, _, err := a.SecurityLog().List(ctx, user, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			types := map[storage.EventType]bool{}
			for _, e := range events {
				types[e.Type] = true
			}
			for _, want := range []storage.EventType{storage.EventSessionLimitReached, storage.EventSessionRevoked, storage.EventAllSessionsRevokedAdm} {
				if !types[want] {
					t.Errorf("security log: no %s event (got %v)", want, events)
				}
			}
			if events[0].Actor != "support:jane" {
				t.Errorf("%s: admin event: got actor %q, want support:jane", be.name, events[0].Actor)
			}
		})
	}
}
