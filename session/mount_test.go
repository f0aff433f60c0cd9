package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// TestRoutesMount: Routes answers wherever an app mounts it — behind
// http.StripPrefix, on a ServeMux prefix pattern (literal, {rest...} or with
// wildcards) and with chi's r.Mount — without any wrapping.
func TestRoutesMount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefix string // where the routes answer
		mount  func(routes http.Handler) http.Handler
	}{
		{"http.StripPrefix on a ServeMux prefix pattern", "/auth", func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/auth/", http.StripPrefix("/auth", h))
			return mux
		}},
		{"a ServeMux prefix pattern alone", "/auth", func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/auth/", h)
			return mux
		}},
		{"a ServeMux prefix pattern with a host", "/auth", func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("example.com/auth/", h)
			return mux
		}},
		{"a ServeMux {rest...} pattern", "/auth", func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/auth/{rest...}", h)
			return mux
		}},
		{"a ServeMux prefix pattern with a wildcard segment", "/acme/auth", func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/{tenant}/auth/", h)
			return mux
		}},
		{"a ServeMux root pattern", "", func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/", h)
			return mux
		}},
		{"chi's r.Mount", "/auth", func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Mount("/auth", h)
			return r
		}},
		{"chi's r.Mount inside r.Route", "/api/v1/auth", func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Route("/api/v1", func(r chi.Router) { r.Mount("/auth", h) })
			return r
		}},
		{"chi's r.Mount under a URL parameter", "/acme/auth", func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Mount("/{tenant}/auth", h)
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
			h := m.Handler(tt.mount(m.Routes()))
			laptop, _ := loginDirect(t, m, "alice")
			_, phone := loginDirect(t, m, "alice")
			do := func(method, path string) (int, string) {
				r := cookieRequest(m, laptop)
				r.Method = method
				r.URL.Path = tt.prefix + path
				r.RequestURI = r.URL.Path
				r.Header.Set("Sec-Fetch-Site", "same-origin")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w.Code, w.Body.String()
			}
			if code, body := do("GET", "/sessions"); code != 200 || strings.Count(body, `"id"`) != 2 {
				t.Fatalf("GET %s/sessions: got %d %s, want 200 and two sessions", tt.prefix, code, body)
			}
			if code, _ := do("DELETE", "/sessions/"+phone.Handle); code != 204 {
				t.Errorf("DELETE %s/sessions/{id}: got %d, want 204", tt.prefix, code)
			}
			if code, _ := do("GET", "/sessions/revoke-others"); code != 405 {
				t.Errorf("GET %s/sessions/revoke-others: got %d, want 405", tt.prefix, code)
			}
			if code, _ := do("GET", "/nothing-here"); code != 404 {
				t.Errorf("GET %s/nothing-here: got %d, want 404", tt.prefix, code)
			}
		})
	}
}

// TestRoutesMountStripsOnce: behind http.StripPrefix the path is taken as
// it is, so "/auth/auth/sessions" does not reach /sessions by losing the
// prefix twice.
func TestRoutesMountStripsOnce(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", m.Routes()))
	h := m.Handler(mux)
	cookie, _ := loginDirect(t, m, "alice")
	r := cookieRequest(m, cookie)
	r.URL.Path, r.RequestURI = "/auth/auth/sessions", "/auth/auth/sessions"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 404 {
		t.Errorf("GET /auth/auth/sessions: got %d, want 404", w.Code)
	}
}

// FuzzRoutePath: whatever path a client sends, resolving it against the
// outer router's pattern never panics and gives a rooted path or the path
// itself.
func FuzzRoutePath(f *testing.F) {
	for _, s := range [][2]string{
		{"/auth/", "/auth/sessions"}, {"POST /auth/", "/auth/logout"}, {"example.com/auth/", "/auth/x"},
		{"/{tenant}/auth/", "/acme/auth/sessions/abc"}, {"/auth/{rest...}", "/auth/"}, {"/auth/*", "/auth/a%2Fb"},
		{"/", "/"}, {"/auth/", "/other"}, {"", ""}, {"/auth/", "/auth"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		r := httptest.NewRequest("GET", "https://example.com/", nil)
		r.Pattern, r.URL.Path, r.RequestURI = pattern, path, ""
		got := routePath(r)
		if got != path && !strings.HasPrefix(got, "/") {
			t.Fatalf("routePath(pattern %q, path %q) = %q: not rooted", pattern, path, got)
		}
	})
}
