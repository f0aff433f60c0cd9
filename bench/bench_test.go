package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// writer is a reusable ResponseWriter, so that the benchmarks measure the
// libraries, not httptest.ResponseRecorder.
type writer struct {
	h    http.Header
	code int
	body []byte
}

func newWriter() *writer { return &writer{h: make(http.Header, 4)} }

func (w *writer) Header() http.Header { return w.h }
func (w *writer) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *writer) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}
func (w *writer) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
func (w *writer) reset() {
	clear(w.h)
	w.code = 0
	w.body = w.body[:0]
}

// open builds the server o describes, closed at the end of b; a backend
// whose server is not configured skips b, naming the variable.
func open(b *testing.B, o Options) *Server {
	b.Helper()
	s, err := Open(context.Background(), o)
	if errors.Is(err, ErrSkip) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return s
}

func request(method, target, cookie string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return r
}

// login starts a session for user on s and returns its Cookie header.
func login(s *Server, user string) (string, error) {
	w := newWriter()
	s.Handler.ServeHTTP(w, request(http.MethodPost, "/login?user="+user, ""))
	if w.status() != http.StatusOK {
		return "", fmt.Errorf("%s: POST /login: got status %d (%s), want 200", s.Name, w.status(), w.body)
	}
	for _, line := range w.h["Set-Cookie"] {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Value != "" && c.MaxAge >= 0 {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", fmt.Errorf("%s: POST /login: no session cookie in %q", s.Name, w.h["Set-Cookie"])
}

// get serves GET / with cookie once (filling any cache) and fails unless
// the request is authenticated.
func get(s *Server, cookie string) error {
	w := newWriter()
	s.Handler.ServeHTTP(w, request(http.MethodGet, "/", cookie))
	if w.status() != http.StatusOK {
		return fmt.Errorf("%s: GET / with a fresh session: got status %d (%s), want 200", s.Name, w.status(), w.body)
	}
	return nil
}

// loginAndGet is login then get.
func loginAndGet(s *Server, user string) (string, error) {
	cookie, err := login(s, user)
	if err != nil {
		return "", err
	}
	return cookie, get(s, cookie)
}

// serve measures h on copies of base: each iteration gets a fresh
// *http.Request (copied into the same memory, so without allocating), as a
// real server does, because gorilla/sessions stores its registry in the
// request it is given.
func serve(b *testing.B, h http.Handler, base *http.Request, want int) {
	w, r := newWriter(), new(http.Request)
	b.ReportAllocs()
	for b.Loop() {
		*r = *base
		w.reset()
		h.ServeHTTP(w, r)
		if w.status() != want {
			b.Fatalf("got status %d (%s), want %d", w.status(), w.body, want)
		}
	}
}

// requestCases are the servers of the request-path comparison.
var requestCases = []struct {
	name string
	o    Options
}{
	{"floor", Options{Library: Floor, Backend: Cookie}},
	{"sessionguard/memory/hit", Options{Library: Sessionguard, Backend: Memory}},
	{"sessionguard/memory/miss", Options{Library: Sessionguard, Backend: Memory, Miss: true}},
	{"sessionguard/postgres/hit", Options{Library: Sessionguard, Backend: Postgres}},
	{"sessionguard/postgres/miss", Options{Library: Sessionguard, Backend: Postgres, Miss: true}},
	{"sessionguard/redis/hit", Options{Library: Sessionguard, Backend: Redis}},
	{"sessionguard/redis/miss", Options{Library: Sessionguard, Backend: Redis, Miss: true}},
	{"scs/memory", Options{Library: SCS, Backend: Memory}},
	{"scs/postgres", Options{Library: SCS, Backend: Postgres}},
	{"scs/redis", Options{Library: SCS, Backend: Redis}},
	{"gorilla/cookie", Options{Library: Gorilla, Backend: Cookie}},
}

func withEnv(o Options) Options {
	e := OptionsFromEnv(o.Library, o.Backend)
	o.PostgresURL, o.RedisURL = e.PostgresURL, e.RedisURL
	return o
}

// BenchmarkRequest is one authenticated GET / over a trivial handler:
// "baseline" is the handler alone, "floor" adds securecookie decode and an
// LRU lookup, the others are the libraries. sessionguard "hit" finds the
// session in its revocation cache; "miss" reads the store on every request
// (RevocationTTL 1 ns). scs reads its store on every request by design;
// gorilla keeps the session in the cookie.
func BenchmarkRequest(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(ok) })
		serve(b, h, request(http.MethodGet, "/", ""), http.StatusOK)
	})
	for _, c := range requestCases {
		b.Run(c.name, func(b *testing.B) {
			s := open(b, withEnv(c.o))
			cookie := signIn(b, s, 1, func(int) string { return "alice" })[0]
			serve(b, s.Handler, request(http.MethodGet, "/", cookie), http.StatusOK)
		})
	}
}

// BenchmarkRequestParallel is BenchmarkRequest's in-memory cases under
// RunParallel, each goroutine with its own user: per-request time must not
// be worse than serial.
func BenchmarkRequestParallel(b *testing.B) {
	for _, c := range requestCases {
		if c.o.Backend != Memory && c.o.Backend != Cookie || c.o.Miss {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			s := open(b, withEnv(c.o))
			const users = 64
			cookies := signIn(b, s, users, func(i int) string { return "user" + strconv.Itoa(i) })
			var mu sync.Mutex
			next := 0
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				mu.Lock()
				base := request(http.MethodGet, "/", cookies[next%users])
				next++
				mu.Unlock()
				w, r := newWriter(), new(http.Request)
				for pb.Next() {
					*r = *base
					w.reset()
					s.Handler.ServeHTTP(w, r)
					if w.status() != http.StatusOK {
						b.Errorf("got status %d (%s), want 200", w.status(), w.body)
						return
					}
				}
			})
		})
	}
}

// BenchmarkLogin is POST /login: a new session (new token, stored where the
// library stores it, sessionguard's security-log event included) and its
// Set-Cookie.
func BenchmarkLogin(b *testing.B) {
	cases := []struct {
		name string
		o    Options
	}{
		{"floor", Options{Library: Floor, Backend: Cookie}},
		{"sessionguard/memory", Options{Library: Sessionguard, Backend: Memory}},
		{"sessionguard/postgres", Options{Library: Sessionguard, Backend: Postgres}},
		{"sessionguard/redis", Options{Library: Sessionguard, Backend: Redis}},
		{"scs/memory", Options{Library: SCS, Backend: Memory}},
		{"scs/postgres", Options{Library: SCS, Backend: Postgres}},
		{"scs/redis", Options{Library: SCS, Backend: Redis}},
		{"gorilla/cookie", Options{Library: Gorilla, Backend: Cookie}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := open(b, withEnv(c.o))
			serve(b, s.Handler, request(http.MethodPost, "/login?user=alice", ""), http.StatusOK)
		})
	}
}

// BenchmarkRevokeOthers is "log out all other sessions" for a user with 10
// or 1,000 sessions, all in use (each served once, so sessionguard caches
// them), through POST /logout-others. scs iterates over every session in
// its store, so its cost grows with the store (here about the user's own
// sessions). sessionguard's "others=100000" first signs in 100,000 other
// users and serves each once, which fills its default-size cache. Each
// iteration's sessions are created with the timer stopped, so run it with
// a fixed -benchtime (bench/run: -count 8 -benchtime 1x). gorilla's
// CookieStore cannot end another device's session and is absent.
func BenchmarkRevokeOthers(b *testing.B) {
	type revokeCase struct {
		lib, backend  string
		sessions      int
		others        int
		parallelSetup bool
	}
	var cases []revokeCase
	for _, lib := range []string{Sessionguard, SCS} {
		for _, backend := range []string{Memory, Postgres, Redis} {
			for _, n := range []int{10, 1000} {
				cases = append(cases, revokeCase{lib: lib, backend: backend, sessions: n})
			}
		}
	}
	cases = append(cases, revokeCase{lib: Sessionguard, backend: Memory, sessions: 10, others: 100_000})
	for _, c := range cases {
		name := fmt.Sprintf("%s/%s/sessions=%d", c.lib, c.backend, c.sessions)
		if c.others > 0 {
			name += fmt.Sprintf("/others=%d", c.others)
		}
		// The server outlives the sub-benchmark's calibration run (b.N = 1),
		// so that the others are signed in once.
		var s *Server
		victims := 0 // every iteration's user is new
		b.Run(name, func(b *testing.B) {
			if s == nil {
				var err error
				s, err = Open(context.Background(), OptionsFromEnv(c.lib, c.backend))
				if errors.Is(err, ErrSkip) {
					b.Skip(err)
				} else if err != nil {
					b.Fatal(err)
				}
				signIn(b, s, c.others, func(i int) string { return "other-" + strconv.Itoa(i) })
			}
			w := newWriter()
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				victims++
				victim := "victim-" + strconv.Itoa(victims)
				cookies := signIn(b, s, c.sessions, func(int) string { return victim })
				r := request(http.MethodPost, "/logout-others", cookies[len(cookies)-1])
				w.reset()
				b.StartTimer()
				s.Handler.ServeHTTP(w, r)
				b.StopTimer()
				if w.status() != http.StatusOK || string(w.body) != strconv.Itoa(c.sessions-1) {
					b.Fatalf("POST /logout-others: got %d %q, want 200 %q", w.status(), w.body, strconv.Itoa(c.sessions-1))
				}
				b.StartTimer()
			}
		})
		if s != nil {
			s.Close()
		}
	}
}

// signIn starts n sessions on s, the i-th for user(i), serves one request
// with each (which fills sessionguard's cache) and returns their cookies.
func signIn(tb testing.TB, s *Server, n int, user func(i int) string) []string {
	cookies := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				cookies[i], errs[i] = loginAndGet(s, user(i))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatal(err)
	}
	return cookies
}

// BenchmarkRead is the bare client doing the single read a cache miss
// needs: pgx selecting one ~300-byte row by primary key, go-redis getting
// one ~300-byte value. It is the reference for the "miss" cases above.
func BenchmarkRead(b *testing.B) {
	b.Run("pgx", func(b *testing.B) { benchmarkReadPostgres(b) })
	b.Run("go-redis", func(b *testing.B) { benchmarkReadRedis(b) })
}
