package session

import (
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sessionguard/sessionguard/storage"
)

// BenchmarkCacheHitTelemetry is BenchmarkMiddleware's CacheHit under each
// kind of provider: Global (the default: the global providers, no SDK
// installed), Noop (explicit no-op providers) and SDK (the OpenTelemetry
// SDK with a manual reader and an always-sampling tracer). The targets:
// Global and Noop within noise of CacheHit without telemetry, SDK at most
// 10% over, all with the same allocations.
func BenchmarkCacheHitTelemetry(b *testing.B) {
	for _, c := range []struct {
		name string
		mod  func(*Config)
	}{
		{"Global", nil},
		{"Noop", func(c *Config) {
			c.MeterProvider, c.TracerProvider = noop.NewMeterProvider(), tracenoop.NewTracerProvider()
		}},
		{"SDK", func(c *Config) {
			c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			c.TracerProvider = sdktrace.NewTracerProvider()
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := newTestManager(b, newMemoryStore(b), newFakeClock(), c.mod)
			v, _ := loginDirect(b, m, "alice")
			h := m.Handler(okHandler)
			r := cookieRequest(m, v)
			h.ServeHTTP(&benchWriter{h: http.Header{}}, r) // fill the cache
			benchServe(b, h, r)
		})
	}
}

// BenchmarkCacheHitTelemetryPaired runs cache hits on a Manager with no-op
// providers and on one with the SDK in alternating batches of 64 within
// each iteration, so that load on a shared machine hits both alike, and
// reports each one's ns/hit and the SDK's overhead in percent.
func BenchmarkCacheHitTelemetryPaired(b *testing.B) {
	handler := func(mod func(*Config)) (http.Handler, *http.Request) {
		m := newTestManager(b, newMemoryStore(b), newFakeClock(), mod)
		v, _ := loginDirect(b, m, "alice")
		h := m.Handler(okHandler)
		r := cookieRequest(m, v)
		h.ServeHTTP(&benchWriter{h: http.Header{}}, r)
		return h, r
	}
	noopH, noopR := handler(func(c *Config) {
		c.MeterProvider, c.TracerProvider = noop.NewMeterProvider(), tracenoop.NewTracerProvider()
	})
	sdkH, sdkR := handler(func(c *Config) {
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		c.TracerProvider = sdktrace.NewTracerProvider()
	})
	w := &benchWriter{h: make(http.Header, 4)}
	const batch = 64
	var noopNS, sdkNS time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		for range batch {
			clear(w.h)
			noopH.ServeHTTP(w, noopR)
		}
		mid := time.Now()
		for range batch {
			clear(w.h)
			sdkH.ServeHTTP(w, sdkR)
		}
		noopNS += mid.Sub(start)
		sdkNS += time.Since(mid)
	}
	hits := float64(b.N * batch)
	b.ReportMetric(float64(noopNS)/hits, "noop-ns/hit")
	b.ReportMetric(float64(sdkNS)/hits, "sdk-ns/hit")
	b.ReportMetric(100*(float64(sdkNS)/float64(noopNS)-1), "sdk-overhead-%")
}

// BenchmarkHitCounter is the whole of what telemetry adds to a cache hit:
// one addition to a sharded atomic counter, whatever the provider (the
// default global one with no SDK installed, explicit no-op providers, the
// SDK), which reads it only when metrics are collected.
func BenchmarkHitCounter(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"Global", Config{}},
		{"Noop", Config{MeterProvider: noop.NewMeterProvider()}},
		{"SDK", Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))}},
	} {
		b.Run(c.name, func(b *testing.B) {
			tel, err := newTelemetry(&c.cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer tel.close()
			h := storage.HashToken([]byte("token"))
			b.ReportAllocs()
			for b.Loop() {
				tel.hit(&h)
			}
		})
	}
}
