package session

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func bearerRequest(tok string) *http.Request {
	r := httptest.NewRequest("GET", "https://example.com/api", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestAppGrants(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	store := newMemoryStore(t)
	clock := newFakeClock()
	m := newTestManager(t, store, clock, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	other := newTestManager(t, store, clock, func(c *Config) { c.Keys = m.cfg.Keys })
	ctx := context.Background()

	tok, g, err := m.Apps().Grant(ctx, Audit{}, "alice", "Photo printer", []string{"read", "print"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, AppTokenPrefix) || len(tok) != appTokenLen {
		t.Fatalf("token %d bytes, want prefix and %d bytes", len(tok), appTokenLen)
	}
	api := m.Apps().Handler(m.Apps().RequireScope("print", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, _ := GrantFromContext(r.Context())
		w.Write([]byte(g.UserID))
	})))
	serve := func(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := serve(api, bearerRequest(tok)); w.Code != 200 || w.Body.String() != "alice" {
		t.Fatalf("valid token: %d %s", w.Code, w.Body.String())
	}
	lowercase := bearerRequest(tok)
	lowercase.Header.Set("Authorization", "bearer "+tok)
	if w := serve(api, lowercase); w.Code != 200 {
		t.Errorf("the auth scheme is case-insensitive (RFC 7235): got %d", w.Code)
	}

	t.Run("scopes are enforced", func(t *testing.T) {
		admin := m.Apps().Handler(m.Apps().RequireScope("admin", http.NotFoundHandler()))
		w := serve(admin, bearerRequest(tok))
		if w.Code != 403 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("missing scope: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
		}
		if w := serve(admin, httptest.NewRequest("GET", "/", nil)); w.Code != 401 {
			t.Errorf("no token: got %d, want 401", w.Code)
		}
	})
	t.Run("malformed tokens get 401", func(t *testing.T) {
		for _, bad := range []string{"", "x", AppTokenPrefix, tok[:len(tok)-1], tok + "A", strings.Replace(tok, "sgapp_", "sgxpp_", 1), AppTokenPrefix + strings.Repeat("!", appTokenLen-len(AppTokenPrefix))} {
			if w := serve(api, bearerRequest(bad)); w.Code != 401 {
				t.Errorf("token %q: got %d, want 401", bad, w.Code)
			}
		}
	})
	t.Run("another user's grant answers like an unknown one", func(t *testing.T) {
		if err := m.Apps().Revoke(ctx, Audit{}, "mallory", g.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
		if w := serve(api, bearerRequest(tok)); w.Code != 200 {
			t.Error("a refused revocation killed the grant")
		}
	})
	t.Run("the list never shows the token", func(t *testing.T) {
		apps, err := m.Apps().List(ctx, "alice")
		if err != nil || len(apps) != 1 || apps[0].Name != "Photo printer" || apps[0].LastUsedAt == nil {
			t.Fatalf("ListApps = %+v, %v", apps, err)
		}
	})
	// The other instance caches the grant as live.
	if w := serve(other.Apps().Handler(http.NotFoundHandler()), bearerRequest(tok)); w.Code != 404 {
		t.Fatalf("other instance: %d", w.Code)
	}
	if err := m.Apps().Revoke(ctx, Audit{}, "alice", g.ID); err != nil {
		t.Fatal(err)
	}
	t.Run("a revoked grant is refused at once on every instance", func(t *testing.T) {
		for _, mm := range []*Manager{m, other} {
			if _, err := mm.Apps().Check(bearerRequest(tok)); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("got %v, want ErrInvalidToken", err)
			}
		}
	})
	t.Run("revoking again is idempotent: the grant stays gone", func(t *testing.T) {
		if err := m.Apps().Revoke(ctx, Audit{}, "alice", g.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
	if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), tok[len(AppTokenPrefix):]) {
		t.Error("the token reached the logs")
	}
}

func TestAppsAPI(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	app := newTestApp(t, newTestManager(t, newMemoryStore(t), clock, nil))
	alice, bob := app.browser(t), app.browser(t)
	alice.login("alice")
	bob.login("bob")
	ctx := context.Background()
	tok, g, _ := app.m.Apps().Grant(ctx, Audit{}, "alice", "Scheduler", []string{"write"})
	_, bobGrant, _ := app.m.Apps().Grant(ctx, Audit{}, "bob", "Bob's app", nil)

	resp, body := alice.do("GET", "/auth/apps", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"name":"Scheduler"`) || strings.Contains(body, tok) || strings.Contains(body, "Bob") {
		t.Fatalf("GET /apps: %d %s", resp.StatusCode, body)
	}
	r1, b1 := alice.do("DELETE", "/auth/apps/"+bobGrant.ID, nil)
	r2, b2 := alice.do("DELETE", "/auth/apps/unknown", nil)
	if r1.StatusCode != 404 || r2.StatusCode != 404 || b1 != b2 {
		t.Errorf("other user's app: %d %s; unknown: %d %s", r1.StatusCode, b1, r2.StatusCode, b2)
	}
	if resp, _ := alice.do("DELETE", "/auth/apps/"+g.ID, nil); resp.StatusCode != 204 {
		t.Fatalf("DELETE /apps: %d", resp.StatusCode)
	}
	if _, err := app.m.Apps().Check(bearerRequest(tok)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("revoked app token: %v", err)
	}

	// "Log out everywhere" can take the apps along.
	tok2, _, _ := app.m.Apps().Grant(ctx, Audit{}, "alice", "Mail", nil)
	clock.Advance(DefaultReauthWindow + time.Minute)
	alice.do("POST", "/reauth", nil)
	revokeAll := func(body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", app.srv.URL+"/auth/sessions/revoke-all", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		res, err := alice.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	// A body two JSON readers understand differently is refused whole:
	// nothing is revoked (a proxy reading the first name saw false).
	for _, body := range []string{`{"include_apps":false,"include_apps":true}`, `{"Include_Apps":true}`, `{"include_apps":true} {}`} {
		if got := revokeAll(body); got != 400 {
			t.Errorf("revoke-all with body %s: got %d, want 400", body, got)
		}
	}
	if alice.whoami() != "alice" {
		t.Fatal("a refused revoke-all ended the session")
	}
	if got := revokeAll(`{"include_apps":true}`); got != 200 {
		t.Fatalf("revoke-all with apps: got %d, want 200", got)
	}
	if _, err := app.m.Apps().Check(bearerRequest(tok2)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("app token after revoke-all with apps: %v", err)
	}
	if bob.whoami() != "bob" {
		t.Error("bob was affected")
	}
}

func FuzzParseAppToken(f *testing.F) {
	f.Add(AppTokenPrefix + strings.Repeat("A", appTokenLen-len(AppTokenPrefix)))
	f.Add("")
	f.Add(AppTokenPrefix)
	f.Add("sgapp_!!!!")
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := parseAppToken(s)
		if ok && (len(s) != appTokenLen || !strings.HasPrefix(s, AppTokenPrefix)) {
			t.Fatalf("accepted malformed token %q", s)
		}
		if !ok && !h.IsZero() {
			t.Fatal("a refused token returned a hash")
		}
	})
}

func BenchmarkAppHandler(b *testing.B) {
	m := newTestManager(b, newMemoryStore(b), newFakeClock(), nil)
	tok, _, err := m.Apps().Grant(context.Background(), Audit{}, "alice", "bench", []string{"read"})
	if err != nil {
		b.Fatal(err)
	}
	h := m.Apps().Handler(okHandler)
	r := bearerRequest(tok)
	h.ServeHTTP(&benchWriter{h: http.Header{}}, r)
	benchServe(b, h, r)
}
