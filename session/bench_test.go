package session

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/sessionguard/sessionguard/storage"
)

// benchWriter is a reusable ResponseWriter so that the benchmarks measure
// the middleware, not httptest.ResponseRecorder.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

func benchServe(b *testing.B, h http.Handler, r *http.Request) {
	w := &benchWriter{h: make(http.Header, 4)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkMiddleware compares a trivial handler alone (Baseline) with the
// same handler behind the middleware on an authenticated request whose
// session is in the cache (CacheHit), sealed by the current key or by the
// previous one (OldKey). The target is ≤ 5 µs and ≤ 22 allocs over
// Baseline, and OldKey ≤ 1.2× CacheHit.
func BenchmarkMiddleware(b *testing.B) {
	clock := newFakeClock()
	store := newMemoryStore(b)
	keys := testKeys(b, 2)
	m := newTestManager(b, store, clock, func(c *Config) { c.Keys = keys })
	old := newTestManager(b, store, clock, func(c *Config) { c.Keys = keys[1:] })
	current, _ := loginDirect(b, m, "alice")
	oldCookie, _ := loginDirect(b, old, "alice")
	h := m.Handler(okHandler)

	b.Run("Baseline", func(b *testing.B) { benchServe(b, okHandler, cookieRequest(m, current)) })
	b.Run("CacheHit", func(b *testing.B) {
		r := cookieRequest(m, current)
		h.ServeHTTP(&benchWriter{h: http.Header{}}, r) // fill the cache
		benchServe(b, h, r)
	})
	b.Run("OldKey", func(b *testing.B) {
		r := cookieRequest(m, oldCookie)
		h.ServeHTTP(&benchWriter{h: http.Header{}}, r)
		benchServe(b, h, r)
	})
	b.Run("NoCookie", func(b *testing.B) { benchServe(b, h, cookieRequest(m, "")) })
}

// BenchmarkCacheGet measures a cache hit alone, serially and under
// RunParallel over many sessions: a parallel lookup must not be slower per
// operation than a serial one.
func BenchmarkCacheGet(b *testing.B) {
	c := newRevocationCache(DefaultCacheSize)
	hashes := make([]storage.TokenHash, 1024)
	for i := range hashes {
		hashes[i] = storage.HashToken([]byte{byte(i), byte(i >> 8)})
		e := &entry{sess: &Session{}, validUntil: 1 << 62}
		_, gen := c.get(hashes[i], 0)
		c.fill(hashes[i], e, gen)
	}
	b.Run("Serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.get(hashes[i&1023], 1)
			i++
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		var worker atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine serves its own stream of sessions, as
			// concurrent requests of different users do.
			i := int(worker.Add(1) * 389)
			for pb.Next() {
				c.get(hashes[i&1023], 1)
				i++
			}
		})
	})
}

// BenchmarkCacheMiss is the cold path: the cache is empty for the token
// (RevocationTTL 1ns), so every request reads the memory store.
func BenchmarkCacheMiss(b *testing.B) {
	clock := newFakeClock()
	m := newTestManager(b, newMemoryStore(b), clock, func(c *Config) { c.RevocationTTL = 1 })
	v, _ := loginDirect(b, m, "alice")
	h := m.Handler(okHandler)
	r := cookieRequest(m, v)
	w := &benchWriter{h: make(http.Header, 4)}
	b.ReportAllocs()
	for b.Loop() {
		clock.Advance(2)
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}
