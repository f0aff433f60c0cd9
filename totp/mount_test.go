package totp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// TestRoutesMountedByChi: the second factor's routes, registered with the
// Manager's (session.RouteSet), answer under chi's r.Mount without any
// wrapping, like on a ServeMux.
func TestRoutesMountedByChi(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	r := chi.NewRouter()
	r.Mount("/auth", env.mgr.Routes(env.svc))
	h := env.mgr.Handler(r)

	w := httptest.NewRecorder()
	if _, err := env.svc.SignIn(w, httptest.NewRequest("POST", "https://example.com/login", nil), "alice"); err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "https://example.com"+path, strings.NewReader(body))
		req.AddCookie(cookie)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := do("GET", "/auth/totp", ""); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"enabled":false`) {
		t.Errorf("GET /auth/totp: got %d %s, want 200 and the status", w.Code, w.Body)
	}
	if w := do("POST", "/auth/totp/enroll", "{}"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"otpauth_url"`) {
		t.Errorf("POST /auth/totp/enroll: got %d %s, want 200 and an enrollment", w.Code, w.Body)
	}
	if w := do("GET", "/auth/sessions", ""); w.Code != http.StatusOK {
		t.Errorf("GET /auth/sessions next to the totp routes: got %d, want 200", w.Code)
	}
}
