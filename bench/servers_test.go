package bench

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// allServers are every server Open builds, as the benchmarks use them.
var allServers = []Options{
	{Library: Floor, Backend: Cookie},
	{Library: Gorilla, Backend: Cookie},
	{Library: Sessionguard, Backend: Memory},
	{Library: Sessionguard, Backend: Memory, Miss: true},
	{Library: Sessionguard, Backend: Postgres},
	{Library: Sessionguard, Backend: Postgres, Miss: true},
	{Library: Sessionguard, Backend: Redis},
	{Library: Sessionguard, Backend: Redis, Miss: true},
	{Library: SCS, Backend: Memory},
	{Library: SCS, Backend: Postgres},
	{Library: SCS, Backend: Redis},
}

func openTest(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := Open(context.Background(), withEnv(o))
	if errors.Is(err, ErrSkip) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func status(s *Server, method, target, cookie string) (int, string) {
	w := newWriter()
	s.Handler.ServeHTTP(w, request(method, target, cookie))
	return w.status(), string(w.body)
}

// TestServersAreEquivalent checks that every server does what the
// benchmarks time: it signs in, accepts its own cookie, and refuses a
// request without one or with a tampered one.
func TestServersAreEquivalent(t *testing.T) {
	for _, o := range allServers {
		name := o.Library + "/" + o.Backend
		if o.Miss {
			name += "/miss"
		}
		t.Run(name, func(t *testing.T) {
			s := openTest(t, o)
			cookie, err := loginAndGet(s, "alice")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name   string
				cookie string
				want   int
			}{
				{"a request with the session's cookie is authenticated", cookie, http.StatusOK},
				{"a request without a cookie is refused", "", http.StatusUnauthorized},
				{"a request with a tampered cookie is refused", tamper(cookie), http.StatusUnauthorized},
			} {
				// The cache of "miss" servers is bypassed, so repeat.
				for range 2 {
					if got, body := status(s, http.MethodGet, "/", c.cookie); got != c.want {
						t.Errorf("%s: got %d (%s), want %d", c.name, got, body, c.want)
					}
				}
			}
		})
	}
}

// tamper flips one character in the middle of the cookie's value.
func tamper(cookie string) string {
	name, value, _ := strings.Cut(cookie, "=")
	b := []byte(value)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return name + "=" + string(b)
}

// TestLogoutOthersEndsExactlyTheOtherSessions checks POST /logout-others,
// which BenchmarkRevokeOthers times: the user's other sessions are refused
// at once, the current one and another user's are not.
func TestLogoutOthersEndsExactlyTheOtherSessions(t *testing.T) {
	for _, o := range allServers {
		if o.Library != Sessionguard && o.Library != SCS || o.Miss {
			continue
		}
		t.Run(o.Library+"/"+o.Backend, func(t *testing.T) {
			s := openTest(t, o)
			cookies := signIn(t, s, 4, func(int) string { return "alice" })
			bob := signIn(t, s, 1, func(int) string { return "bob" })[0]
			current := cookies[3]
			if got, body := status(s, http.MethodPost, "/logout-others", current); got != http.StatusOK || body != "3" {
				t.Fatalf("POST /logout-others: got %d %q, want 200 \"3\"", got, body)
			}
			for i, c := range cookies[:3] {
				if got, _ := status(s, http.MethodGet, "/", c); got != http.StatusUnauthorized {
					t.Errorf("GET / with ended session %d: got %d, want 401", i, got)
				}
			}
			if got, _ := status(s, http.MethodGet, "/", current); got != http.StatusOK {
				t.Errorf("GET / with the current session: got %d, want 200", got)
			}
			if got, _ := status(s, http.MethodGet, "/", bob); got != http.StatusOK {
				t.Errorf("GET / with another user's session: got %d, want 200", got)
			}
		})
	}
}

// TestGorillaCannotLogoutOthers pins that the cookie store has no
// POST /logout-others, which is why BenchmarkRevokeOthers leaves it out.
func TestGorillaCannotLogoutOthers(t *testing.T) {
	s := openTest(t, Options{Library: Gorilla, Backend: Cookie})
	cookie, err := loginAndGet(s, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := status(s, http.MethodPost, "/logout-others", cookie); got == http.StatusOK {
		t.Errorf("POST /logout-others on gorilla: got 200, want an error status")
	}
}

// TestOpenWithoutServerSkipsNamingTheVariable checks that a backend whose
// URL is unset gives ErrSkip naming the variable.
func TestOpenWithoutServerSkipsNamingTheVariable(t *testing.T) {
	for _, c := range []struct {
		backend, env string
	}{{Postgres, EnvPostgres}, {Redis, EnvRedis}} {
		_, err := Open(context.Background(), Options{Library: Sessionguard, Backend: c.backend})
		if !errors.Is(err, ErrSkip) || !strings.Contains(err.Error(), c.env) {
			t.Errorf("Open %s without a URL: got %v, want ErrSkip naming %s", c.backend, err, c.env)
		}
	}
}
