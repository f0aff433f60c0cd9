package session

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
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
