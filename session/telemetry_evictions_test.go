package session

import (
	"net/http/httptest"
	"strconv"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// TestCacheEvictionsAreCounted fills revocation caches with more sessions
// than they hold and reads sessionguard.cache.evictions through the SDK:
// every session beyond the capacity evicts one, and a cache with room for
// them all evicts none.
func TestCacheEvictionsAreCounted(t *testing.T) {
	t.Parallel()
	const users = 300
	for _, tt := range []struct {
		name    string
		size    int
		atLeast int64
		atMost  int64
	}{
		{"a cache of 64 entries evicts every session beyond 64", cacheShards, users - cacheShards, 2 * users},
		{"a cache with room for every session evicts none", 4 * users * cacheShards, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reader := sdkmetric.NewManualReader()
			m := newTestManager(t, newMemoryStore(t), newFakeClock(), func(c *Config) {
				c.CacheSize = tt.size
				c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			})
			h := m.Handler(okHandler)
			for i := range users {
				v, _ := loginDirect(t, m, "user-"+strconv.Itoa(i))
				h.ServeHTTP(httptest.NewRecorder(), cookieRequest(m, v))
			}
			got := collect(t, reader)[MetricCacheEvictions]
			if got < tt.atLeast || got > tt.atMost {
				t.Errorf("%s after %d sessions: got %d, want between %d and %d", MetricCacheEvictions, users, got, tt.atLeast, tt.atMost)
			}
		})
	}
}
