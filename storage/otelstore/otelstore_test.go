package otelstore_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
	"github.com/sessionguard/sessionguard/storage/otelstore"
	"github.com/sessionguard/sessionguard/storage/storagetest"
)

// The wrapper is transparent: the memory store wrapped passes the whole
// conformance suite.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := otelstore.New(memory.New(memory.Options{}), otelstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}, storagetest.WithPeer(func(t *testing.T, s storage.Store) storage.Store { return s }))
}

func TestCallsAreMeasuredAndTraced(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	s, err := otelstore.New(memory.New(memory.Options{}), otelstore.Options{
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.Backend(), "memory"; got != want {
		t.Errorf("Backend(): got %q, want %q", got, want)
	}
	ctx := t.Context()
	secret := storage.HashToken([]byte("a secret token"))
	if _, err := s.GetSession(ctx, secret); err == nil {
		t.Fatal("GetSession of an unknown hash: got nil error, want ErrNotFound")
	}
	now := time.Now()
	x := &storage.Session{TokenHash: secret, Handle: "handle-1", UserID: "alice@example.com", CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), AuthLevel: storage.AuthPassword, AuthAt: now, LastSeenAt: now}
	if err := s.CreateSession(ctx, x); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ListSessions(cancelled, "alice@example.com"); err == nil {
		t.Fatal("ListSessions with a cancelled context: got nil error")
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{} // "operation error.type" → count
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != otelstore.MetricOperationDuration {
				continue
			}
			if m.Unit != "s" {
				t.Errorf("unit: got %q, want s", m.Unit)
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				op, _ := dp.Attributes.Value(otelstore.AttrOperation)
				be, _ := dp.Attributes.Value(otelstore.AttrBackend)
				et, _ := dp.Attributes.Value("error.type")
				if be.AsString() != "memory" {
					t.Errorf("backend attribute: got %q, want memory", be.AsString())
				}
				got[op.AsString()+" "+et.AsString()] += dp.Count
			}
		}
	}
	want := map[string]uint64{"GetSession ": 1, "CreateSession ": 1, "ListSessions canceled": 1}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("data points %q: got %d, want %d (all: %v)", k, got[k], n, got)
		}
	}

	ended := spans.Ended()
	if len(ended) != 3 {
		t.Fatalf("spans: got %d, want 3", len(ended))
	}
	for _, sp := range ended {
		for _, kv := range sp.Attributes() {
			if v := kv.Value.Emit(); v == "alice@example.com" || v == secret.String() || v == "handle-1" {
				t.Errorf("span %q carries %s=%q: no user, token hash or handle may appear", sp.Name(), kv.Key, v)
			}
		}
	}
	last := ended[2]
	if got, want := last.Name(), "sessionguard.store ListSessions"; got != want {
		t.Errorf("span name: got %q, want %q", got, want)
	}
	if got := last.Status(); got.Code != codes.Error || got.Description != "canceled" {
		t.Errorf("failed span status: got %+v, want Error \"canceled\"", got)
	}
	if ended[0].Status().Code == codes.Error {
		t.Errorf("a not-found answer is an expected result, got span status Error")
	}
	if !hasAttr(last.Attributes(), attribute.String("error.type", "canceled")) {
		t.Errorf("failed span attributes %v: want error.type=canceled", last.Attributes())
	}
}

func hasAttr(kvs []attribute.KeyValue, want attribute.KeyValue) bool {
	for _, kv := range kvs {
		if kv == want {
			return true
		}
	}
	return false
}
