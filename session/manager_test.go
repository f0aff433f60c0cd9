package session

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	store := newMemoryStore(t)
	keys := testKeys(t, 1)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"a nil store is refused", Config{Keys: keys}},
		{"missing keys are refused", Config{Store: store}},
		{"SameSite=None without Secure is refused", Config{Store: store, Keys: keys, Insecure: true, SameSite: http.SameSiteNoneMode}},
		{"a __Host- name without Secure is refused", Config{Store: store, Keys: keys, Insecure: true, CookieName: "__Host-x"}},
		{"a negative timeout is refused", Config{Store: store, Keys: keys, IdleTimeout: -time.Second}},
		{"a bad trusted origin is refused", Config{Store: store, Keys: keys, TrustedOrigins: []string{"not an origin"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg)
			if err == nil {
				m.Close()
				t.Fatal("New succeeded, want error")
			}
			if !strings.HasPrefix(err.Error(), "session: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	w := httptest.NewRecorder()
	s, err := m.Login(w, httptest.NewRequest("POST", "/", nil), "alice", storage.AuthPassword)
	if err != nil {
		t.Fatal(err)
	}
	c := w.Result().Cookies()[0]
	if c.Name != "__Host-session" || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie attributes: got %+v", c)
	}
	if c.MaxAge <= 0 || c.Expires.After(s.ExpiresAt.Add(time.Second)) {
		t.Errorf("cookie outlives the session: MaxAge %d, Expires %v, session expiry %v", c.MaxAge, c.Expires, s.ExpiresAt)
	}
	if len(c.Name)+len(c.Value) > 4096 {
		t.Errorf("cookie is %d bytes", len(c.Name)+len(c.Value))
	}
	if strings.Contains(c.Value, "alice") {
		t.Error("cookie shows the user ID in clear")
	}
}

// TestFixation: signing in always issues a new token and kills the one the
// request carried (OWASP ASVS 7.2.4).
func TestFixation(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, newTestManager(t, newMemoryStore(t), newFakeClock(), nil))
	attacker := app.browser(t)
	attacker.login("mallory")
	planted := attacker.cookie()

	victim := app.browser(t)
	victim.setCookie(planted)
	victim.login("alice")
	if victim.cookie() == planted {
		t.Fatal("login kept the planted token")
	}
	if got := victim.whoami(); got != "alice" {
		t.Fatalf("victim: got %q, want alice", got)
	}
	if got := attacker.whoami(); got != "" {
		t.Errorf("the planted session still works as %q", got)
	}

	// Signing in again as the same user also rotates.
	before := victim.cookie()
	victim.login("alice")
	old := app.browser(t)
	old.setCookie(before)
	if victim.cookie() == before || old.whoami() != "" {
		t.Error("re-login did not rotate the token")
	}
}

func TestElevateRotatesToken(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	app := newTestApp(t, newTestManager(t, newMemoryStore(t), clock, nil))
	b := app.browser(t)
	b.login("alice")
	before := b.cookie()
	clock.Advance(time.Hour)
	if resp, body := b.do("POST", "/reauth", nil); resp.StatusCode != 200 {
		t.Fatalf("reauth: %d %s", resp.StatusCode, body)
	}
	if b.cookie() == before {
		t.Fatal("Elevate kept the token")
	}
	stale := app.browser(t)
	stale.setCookie(before)
	if stale.whoami() != "" {
		t.Error("the pre-elevation cookie still works")
	}
	if b.whoami() != "alice" {
		t.Error("the new cookie does not work")
	}
	s, err := app.m.Check(cookieRequest(app.m, b.cookie()))
	if err != nil || !s.AuthAt.Equal(clock.Now()) {
		t.Errorf("AuthAt = %v (%v), want %v", s.AuthAt, err, clock.Now())
	}
}

// TestPendingSecondFactor: a session that passed only the first factor is
// unauthenticated everywhere (SECURITY.md §18) and cannot be elevated with
// a password.
func TestPendingSecondFactor(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, newTestManager(t, newMemoryStore(t), newFakeClock(), nil))
	b := app.browser(t)
	if resp, _ := b.do("POST", "/login", map[string][]string{"user": {"alice"}, "pending": {"1"}}); resp.StatusCode != 200 {
		t.Fatal("login failed")
	}
	if b.whoami() != "" {
		t.Error("a pending session passed RequireAuth")
	}
	for _, path := range []string{"/auth/sessions"} {
		if resp, _ := b.do("GET", path, nil); resp.StatusCode != 401 {
			t.Errorf("GET %s with a pending session: got %d, want 401", path, resp.StatusCode)
		}
	}
	if resp, _ := b.do("POST", "/auth/sessions/revoke-others", nil); resp.StatusCode != 401 {
		t.Errorf("revoke-others with a pending session: got %d, want 401", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/reauth", nil); resp.StatusCode != 401 {
		t.Errorf("password elevation of a pending session: got %d, want refusal", resp.StatusCode)
	}
	// Abandoning the sign-in is allowed.
	if resp, _ := b.do("POST", "/auth/logout", nil); resp.StatusCode != 204 {
		t.Errorf("logout of a pending session: got %d, want 204", resp.StatusCode)
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		steps   []time.Duration // advance, then check, for each
		wantErr error
	}{
		{"activity within the idle timeout keeps the session", []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute}, nil},
		{"inactivity past the idle timeout ends it", []time.Duration{61 * time.Minute}, ErrExpired},
		{"the absolute timeout ends even an active session", []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute}, ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			m := newTestManager(t, newMemoryStore(t), clock, func(c *Config) {
				c.IdleTimeout = time.Hour
				c.AbsoluteTimeout = 4 * time.Hour
				c.RevocationTTL = time.Minute
			})
			v, _ := loginDirect(t, m, "alice")
			var err error
			for _, d := range tt.steps {
				clock.Advance(d)
				_, err = m.Check(cookieRequest(m, v))
			}
			if !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestIdleTimeoutSurvivesCacheLoss: the idle deadline comes from storage,
// not only from this process's cache.
func TestIdleTimeoutSurvivesCacheLoss(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := newMemoryStore(t)
	mod := func(c *Config) { c.IdleTimeout = time.Hour }
	m := newTestManager(t, store, clock, mod)
	v, _ := loginDirect(t, m, "alice")
	clock.Advance(61 * time.Minute)
	fresh := newTestManager(t, store, clock, func(c *Config) { mod(c); c.Keys = m.cfg.Keys })
	if _, err := fresh.Check(cookieRequest(fresh, v)); !errors.Is(err, ErrExpired) {
		t.Errorf("got %v, want ErrExpired", err)
	}
}

func TestTouchIsThrottled(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := newMemoryStore(t)
	m := newTestManager(t, store, clock, nil)
	v, s := loginDirect(t, m, "alice")
	lastSeen := func() time.Time {
		st, err := store.GetSession(context.Background(), s.tokenHash)
		if err != nil {
			t.Fatal(err)
		}
		return st.LastSeenAt
	}
	start := lastSeen()
	for range 5 {
		clock.Advance(10 * time.Second)
		if _, err := m.Check(cookieRequest(m, v)); err != nil {
			t.Fatal(err)
		}
	}
	if got := lastSeen(); !got.Equal(start) {
		t.Errorf("last seen written within TouchInterval: got %v, want %v", got, start)
	}
	clock.Advance(15 * time.Second)
	if _, err := m.Check(cookieRequest(m, v)); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); !got.Equal(clock.Now()) {
		t.Errorf("last seen after TouchInterval: got %v, want %v", got, clock.Now())
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, newTestManager(t, newMemoryStore(t), newFakeClock(), nil))
	b := app.browser(t)
	b.login("alice")
	stolen := b.cookie()
	resp, _ := b.do("GET", "/whoami", nil)
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Vary") != "Cookie" {
		t.Errorf("authenticated response headers: Cache-Control %q, Vary %q", resp.Header.Get("Cache-Control"), resp.Header.Get("Vary"))
	}
	resp, _ = b.do("POST", "/auth/logout", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: got %d, want 204", resp.StatusCode)
	}
	if got := resp.Header.Get("Clear-Site-Data"); got != `"cache", "cookies", "storage"` {
		t.Errorf("Clear-Site-Data = %q", got)
	}
	var expired bool
	for _, c := range resp.Cookies() {
		expired = expired || (c.Name == app.m.cfg.CookieName && c.MaxAge < 0)
	}
	if !expired {
		t.Error("logout did not expire the cookie")
	}
	thief := app.browser(t)
	thief.setCookie(stolen)
	resp, body := thief.do("GET", "/public", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "revoked") {
		t.Errorf("revoked cookie on a public page: got %d %q, want the rejection reason", resp.StatusCode, body)
	}
	// A revoked token's cookie is not expired: it may have been rotated
	// away while the request was in flight, and the Set-Cookie would
	// delete its successor (TestRevokedCookieKeepsSuccessor).
	if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
		t.Errorf("a revoked cookie: got Set-Cookie %q, want none", c)
	}
	if thief.whoami() != "" {
		t.Error("a cookie copied before logout still works")
	}
}

// TestRevokedCookieKeepsSuccessor: a request still carrying the token a
// rotation (Elevate) retired is refused without expiring the session
// cookie, so the successor the browser may already hold survives.
func TestRevokedCookieKeepsSuccessor(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	old, _ := loginDirect(t, m, "alice")
	w := httptest.NewRecorder()
	if _, err := m.Elevate(w, cookieRequest(m, old), storage.AuthPassword); err != nil {
		t.Fatal(err)
	}
	var rejection error
	w = httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rejection = RejectionFromContext(r.Context())
	})).ServeHTTP(w, cookieRequest(m, old))
	if !errors.Is(rejection, ErrRevoked) {
		t.Fatalf("got rejection %v, want ErrRevoked", rejection)
	}
	if c := w.Result().Cookies(); len(c) != 0 {
		t.Fatalf("got Set-Cookie %v, want none", c)
	}
}

// TestStateChangingRoutes: every state-changing route refuses cross-site
// requests built as browsers send them (SECURITY.md §12) and other methods.
func TestStateChangingRoutes(t *testing.T) {
	t.Parallel()
	routes := []struct{ method, path string }{
		{"POST", "/auth/logout"},
		{"DELETE", "/auth/sessions/some-handle"},
		{"POST", "/auth/sessions/revoke-others"},
		{"POST", "/auth/sessions/revoke-all"},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, newTestManager(t, newMemoryStore(t), newFakeClock(), nil))
			b := app.browser(t)
			b.login("alice")
			crossSite := []struct {
				name    string
				headers map[string]string
			}{
				{"a modern browser's cross-site request", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
				{"a same-site but cross-origin request", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example.com"}},
				{"an older browser's cross-origin request (Origin only)", map[string]string{"Origin": "https://evil.example"}},
			}
			for _, cs := range crossSite {
				req, _ := http.NewRequest(rt.method, app.srv.URL+rt.path, nil)
				for k, v := range cs.headers {
					req.Header.Set(k, v)
				}
				resp, err := b.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s: got %d, want 403", cs.name, resp.StatusCode)
				}
			}
			if b.whoami() != "alice" {
				t.Fatal("a refused cross-site request changed state")
			}
			for _, method := range []string{"GET", "PUT"} {
				if method == rt.method {
					continue
				}
				if resp, _ := b.do(method, rt.path, nil); resp.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("%s: got %d, want 405", method, resp.StatusCode)
				}
			}
		})
	}
}

func TestSessionsAPI(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	app := newTestApp(t, newTestManager(t, newMemoryStore(t), clock, nil))
	laptop, phone, tablet := app.browser(t), app.browser(t), app.browser(t)
	laptop.login("alice")
	clock.Advance(time.Second)
	phone.login("alice")
	clock.Advance(time.Second)
	tablet.login("alice")
	bob := app.browser(t)
	bob.login("bob")

	list := func(b *browser) []SessionInfo {
		t.Helper()
		resp, body := b.do("GET", "/auth/sessions", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /sessions: %d %s", resp.StatusCode, body)
		}
		var out struct{ Sessions []SessionInfo }
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{`"id"`, `"current"`, `"created_at"`, `"last_seen_at"`, `"ip"`, `"location"`, `"browser"`, `"os"`, `"device"`, `"second_factor"`} {
			if !strings.Contains(body, f) {
				t.Errorf("GET /sessions lacks field %s", f)
			}
		}
		if strings.Contains(body, b.cookie()) {
			t.Error("GET /sessions leaks the token")
		}
		return out.Sessions
	}
	sessions := list(phone)
	if len(sessions) != 3 {
		t.Fatalf("got %d sessions, want 3", len(sessions))
	}
	var current, laptopID string
	for _, s := range sessions {
		if s.Current {
			current = s.ID
		}
	}
	laptopID = sessions[len(sessions)-1].ID // oldest activity last
	if current == "" || current == laptopID {
		t.Fatalf("current marker wrong: %+v", sessions)
	}

	// Another user's handle answers exactly like an unknown one.
	bobID := list(bob)[0].ID
	r1, b1 := phone.do("DELETE", "/auth/sessions/"+bobID, nil)
	r2, b2 := phone.do("DELETE", "/auth/sessions/no-such-handle", nil)
	if r1.StatusCode != 404 || r2.StatusCode != 404 || b1 != b2 {
		t.Errorf("other user's id: %d %q; unknown id: %d %q; want identical 404s", r1.StatusCode, b1, r2.StatusCode, b2)
	}
	if bob.whoami() != "bob" {
		t.Fatal("alice ended bob's session")
	}

	// End the laptop's session from the phone.
	if resp, _ := phone.do("DELETE", "/auth/sessions/"+laptopID, nil); resp.StatusCode != 204 {
		t.Fatalf("DELETE laptop: %d", resp.StatusCode)
	}
	if laptop.whoami() != "" {
		t.Error("the ended session still works")
	}
	if got := len(list(phone)); got != 2 {
		t.Errorf("after ending one: %d sessions, want 2", got)
	}

	// Revoke-others needs a recent authentication.
	clock.Advance(DefaultReauthWindow + time.Minute)
	if resp, body := phone.do("POST", "/auth/sessions/revoke-others", nil); resp.StatusCode != 403 || !strings.Contains(body, "reauth_required") {
		t.Fatalf("revoke-others without recent auth: %d %s, want 403 reauth_required", resp.StatusCode, body)
	}
	if tablet.whoami() != "alice" {
		t.Fatal("a refused revoke-others ended a session")
	}
	phone.do("POST", "/reauth", nil)
	resp, body := phone.do("POST", "/auth/sessions/revoke-others", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"revoked":1}` {
		t.Fatalf("revoke-others: %d %s, want {\"revoked\":1}", resp.StatusCode, body)
	}
	if tablet.whoami() != "" || phone.whoami() != "alice" || bob.whoami() != "bob" {
		t.Error("revoke-others ended the wrong sessions")
	}

	// Revoke-all ends this one too and clears the cookie.
	tablet.login("alice")
	resp, body = phone.do("POST", "/auth/sessions/revoke-all", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"revoked":2}` {
		t.Fatalf("revoke-all: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Clear-Site-Data") == "" || phone.whoami() != "" || tablet.whoami() != "" || bob.whoami() != "bob" {
		t.Error("revoke-all did not end exactly alice's sessions")
	}
}

// TestStorageOutageFailsClosed: on a cache miss with storage down, the
// request is not authenticated and gets 503 (SECURITY.md §9).
func TestStorageOutageFailsClosed(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: newMemoryStore(t)}
	var hooked error
	m := newTestManager(t, store, newFakeClock(), func(c *Config) {
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			hooked = err
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	})
	v, _ := loginDirect(t, m, "alice")
	store.fail.Store(true)
	reached := false
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, cookieRequest(m, v))
	if w.Code != http.StatusServiceUnavailable || reached {
		t.Errorf("got status %d, handler reached %v; want 503 and not reached", w.Code, reached)
	}
	if !errors.Is(hooked, ErrUnavailable) || !errors.Is(hooked, errOutage) {
		t.Errorf("error hook got %v", hooked)
	}
	if _, err := m.Check(cookieRequest(m, v)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Check: got %v, want ErrUnavailable", err)
	}

	// The default answer is a JSON 503.
	m2 := newTestManager(t, store, newFakeClock(), func(c *Config) { c.Keys = m.cfg.Keys })
	w = httptest.NewRecorder()
	m2.Handler(h).ServeHTTP(w, cookieRequest(m2, v))
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"unavailable"`) {
		t.Errorf("default error handler: %d %s", w.Code, w.Body.String())
	}
}

// TestNoResurrection: a cache fill that read "live" before a revocation
// and finishes after it must not put the session back (DESIGN.md).
func TestNoResurrection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		revoke func(m *Manager, s *Session) error
	}{
		{"Revoke", func(m *Manager, s *Session) error { return m.Revoke(context.Background(), Audit{}, s.UserID, s.Handle) }},
		{"RevokeAll", func(m *Manager, s *Session) error {
			_, err := m.RevokeAll(context.Background(), Audit{}, s.UserID)
			return err
		}},
		{"a remote notice", func(m *Manager, s *Session) error {
			_, err := m.cfg.Store.RevokeSession(context.Background(), s.UserID, s.Handle)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := &countingStore{Store: newMemoryStore(t)}
			m := newTestManager(t, store, newFakeClock(), nil)
			v, s := loginDirect(t, m, "alice")

			readDone, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			store.block = func() {
				once.Do(func() {
					close(readDone)
					<-release
				})
			}
			errc := make(chan error, 1)
			go func() {
				_, err := m.Check(cookieRequest(m, v))
				errc <- err
			}()
			<-readDone // the fill has read "live" from storage
			if err := tc.revoke(m, s); err != nil {
				t.Fatal(err)
			}
			close(release) // let the late fill finish
			<-errc         // it may pass: it raced the revocation
			for range 3 {
				if _, err := m.Check(cookieRequest(m, v)); !errors.Is(err, ErrRevoked) {
					t.Fatalf("after the revocation: got %v, want ErrRevoked (resurrected by a late fill)", err)
				}
			}
		})
	}
}

// TestRevocationAcrossManagers: two Managers (two app instances) on one
// store; a revocation through one is honoured by the other at once.
func TestRevocationAcrossManagers(t *testing.T) {
	t.Parallel()
	store := newMemoryStore(t)
	clock := newFakeClock()
	keys := testKeys(t, 1)
	a := newTestManager(t, store, clock, func(c *Config) { c.Keys = keys })
	b := newTestManager(t, store, clock, func(c *Config) { c.Keys = keys })

	v1, s1 := loginDirect(t, a, "alice")
	v2, _ := loginDirect(t, b, "alice")
	v3, _ := loginDirect(t, b, "alice")
	for _, v := range []string{v1, v2, v3} {
		for _, m := range []*Manager{a, b} {
			if _, err := m.Check(cookieRequest(m, v)); err != nil {
				t.Fatal(err) // both caches now hold every session as live
			}
		}
	}
	if _, err := a.RevokeOthers(context.Background(), Audit{}, s1); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{v2, v3} {
		if _, err := b.Check(cookieRequest(b, v)); !errors.Is(err, ErrRevoked) {
			t.Errorf("instance B after revoke-others on A: got %v, want ErrRevoked", err)
		}
	}
	if _, err := b.Check(cookieRequest(b, v1)); err != nil {
		t.Errorf("the kept session on B: %v", err)
	}
	if err := a.Revoke(context.Background(), Audit{}, "alice", s1.Handle); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Check(cookieRequest(b, v1)); !errors.Is(err, ErrRevoked) {
		t.Errorf("instance B after revoke on A: got %v, want ErrRevoked", err)
	}
}

// TestConcurrentRequestsAndRevocations exercises the cache under -race.
func TestConcurrentRequestsAndRevocations(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	var cookies []string
	var sessions []*Session
	for range 20 {
		v, s := loginDirect(t, m, "alice")
		cookies = append(cookies, v)
		sessions = append(sessions, s)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				v := cookies[(i+j)%len(cookies)]
				if _, err := m.Check(cookieRequest(m, v)); err != nil && !errors.Is(err, ErrRevoked) {
					t.Error(err)
				}
				if j == 10 && i < len(sessions) {
					m.Revoke(context.Background(), Audit{}, "alice", sessions[i].Handle)
				}
			}
		}()
	}
	wg.Wait()
	for i, v := range cookies {
		if _, err := m.Check(cookieRequest(m, v)); !errors.Is(err, ErrRevoked) {
			t.Errorf("session %d: got %v, want ErrRevoked", i, err)
		}
	}
}

func TestRequireSecondFactor(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	v, _ := loginDirect(t, m, "alice")
	h := m.Handler(m.RequireSecondFactor(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, cookieRequest(m, v))
	if w.Code != 403 || !strings.Contains(w.Body.String(), "second_factor_required") {
		t.Errorf("password-only session: got %d %s, want 403", w.Code, w.Body.String())
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 401 {
		t.Errorf("no session: got %d, want 401", w.Code)
	}
}

// TestClientIPThroughTrustedProxies: the recorded IP comes from the
// configured forwarding header only when the peer is a trusted proxy.
func TestClientIPThroughTrustedProxies(t *testing.T) {
	t.Parallel()
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	tests := []struct {
		name   string
		header string
		remote string
		set    map[string]string
		want   string
	}{
		{"a direct client is its peer address", "", "203.0.113.7:5555", map[string]string{"X-Forwarded-For": "198.51.100.1"}, "203.0.113.7"},
		{"a trusted proxy's X-Forwarded-For is believed", "", "10.1.2.3:443", map[string]string{"X-Forwarded-For": "198.51.100.1"}, "198.51.100.1"},
		{"a client's own Forwarded header is ignored behind an X-Forwarded-For proxy", "", "10.1.2.3:443", map[string]string{"X-Forwarded-For": "198.51.100.1", "Forwarded": "for=192.0.2.66"}, "198.51.100.1"},
		{"Forwarded is read when configured", "Forwarded", "10.1.2.3:443", map[string]string{"X-Forwarded-For": "192.0.2.66", "Forwarded": "for=198.51.100.1"}, "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newMemoryStore(t)
			m := newTestManager(t, store, newFakeClock(), func(c *Config) {
				c.TrustedProxies = []netip.Prefix{proxy}
				c.ProxyHeader = tt.header
			})
			r := httptest.NewRequest("POST", "https://example.com/login", nil)
			r.RemoteAddr = tt.remote
			for k, v := range tt.set {
				r.Header.Set(k, v)
			}
			if _, err := m.Login(httptest.NewRecorder(), r, "alice", storage.AuthPassword); err != nil {
				t.Fatal(err)
			}
			list, _ := m.ListSessions(context.Background(), "alice", nil)
			if len(list) != 1 || list[0].IP != tt.want {
				t.Errorf("got %+v, want IP %s", list, tt.want)
			}
		})
	}
	if _, err := New(Config{Store: newMemoryStore(t), Keys: testKeys(t, 1), ProxyHeader: "X-Real-IP"}); err == nil {
		t.Error("an unsupported ProxyHeader was accepted")
	}
}

// TestPendingSignInExpiresQuickly: a half-signed-in session lives
// PendingTimeout; completing the second factor gives it the full lifetime.
func TestPendingSignInExpiresQuickly(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newTestManager(t, newMemoryStore(t), clock, nil)
	login := func() (string, *Session) {
		w := httptest.NewRecorder()
		s, err := m.Login(w, httptest.NewRequest("POST", "/", nil), "alice", storage.AuthPendingSecondFactor)
		if err != nil {
			t.Fatal(err)
		}
		return w.Result().Cookies()[0].Value, s
	}
	abandoned, s := login()
	if want := s.CreatedAt.Add(DefaultPendingTimeout); !s.ExpiresAt.Equal(want) {
		t.Fatalf("pending session expires %v, want %v", s.ExpiresAt, want)
	}
	completed, _ := login()
	w := httptest.NewRecorder()
	done, err := m.Elevate(w, cookieRequest(m, completed), storage.AuthSecondFactor)
	if err != nil {
		t.Fatal(err)
	}
	if want := done.CreatedAt.Add(DefaultAbsoluteTimeout); !done.ExpiresAt.Equal(want) {
		t.Errorf("completed session expires %v, want %v", done.ExpiresAt, want)
	}
	clock.Advance(DefaultPendingTimeout + time.Second)
	if _, err := m.Check(cookieRequest(m, abandoned)); !errors.Is(err, ErrExpired) {
		t.Errorf("abandoned pending sign-in: got %v, want ErrExpired", err)
	}
	if _, err := m.Check(cookieRequest(m, w.Result().Cookies()[0].Value)); err != nil {
		t.Errorf("completed sign-in: %v", err)
	}
}

// TestJSONRoutesIgnoreTheBrowserRedirect: an app whose Unauthenticated
// handler redirects browsers to a sign-in page still gets JSON 401s from
// the library's JSON routes.
func TestJSONRoutesIgnoreTheBrowserRedirect(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), func(c *Config) {
		c.Unauthenticated = http.RedirectHandler("/login", http.StatusSeeOther)
	})
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", m.Routes()))
	mux.Handle("GET /page", m.RequireAuth(http.NotFoundHandler()))
	mux.Handle("GET /api/me", m.JSONGuard().RequireAuth(http.NotFoundHandler()))
	mux.Handle("GET /api/recent", m.JSONGuard().RequireRecentAuth(http.NotFoundHandler()))
	mux.Handle("GET /api/2fa", m.JSONGuard().RequireSecondFactor(http.NotFoundHandler()))
	mux.Handle("GET /page/recent", m.RequireRecentAuth(http.NotFoundHandler()))
	h := m.Handler(mux)
	for path, want := range map[string]int{"/auth/sessions": 401, "/api/me": 401, "/api/recent": 401, "/api/2fa": 401, "/page": 303, "/page/recent": 303} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != want {
			t.Errorf("GET %s: got %d, want %d", path, w.Code, want)
		}
		if want == 401 && !strings.Contains(w.Body.String(), `"unauthenticated"`) {
			t.Errorf("GET %s: body %q is not the JSON error", path, w.Body.String())
		}
	}
}

// TestStaleSessionAfterElevateIsRefused: after Elevate the session left in
// the request context carries the retired token. Passing it where "this
// session" must survive is refused with ErrRevoked and ends nothing —
// without the check every session, the fresh one included, would end.
func TestStaleSessionAfterElevateIsRefused(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	ctx := context.Background()
	cookie, stale := loginDirect(t, m, "alice")
	loginDirect(t, m, "alice") // another device
	w := httptest.NewRecorder()
	fresh, err := m.Elevate(w, cookieRequest(m, cookie), storage.AuthPassword)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Handle != stale.Handle {
		t.Fatalf("Elevate changed the handle: got %s, want %s", fresh.Handle, stale.Handle)
	}
	tests := []struct {
		name string
		op   func() (int, error)
	}{
		{"RevokeOthers with the stale session", func() (int, error) { return m.RevokeOthers(ctx, Audit{}, stale) }},
		{"PasswordChanged keeping the stale session", func() (int, error) { return m.PasswordChanged(ctx, Audit{}, "alice", stale) }},
	}
	for _, tt := range tests {
		if n, err := tt.op(); !errors.Is(err, ErrRevoked) || n != 0 {
			t.Errorf("%s: got %d, %v; want 0, ErrRevoked", tt.name, n, err)
		}
		if list, _ := m.ListSessions(ctx, "alice", nil); len(list) != 2 {
			t.Fatalf("%s: %d sessions left, want 2 (nothing ended)", tt.name, len(list))
		}
	}
	if n, err := m.RevokeOthers(ctx, Audit{}, fresh); n != 1 || err != nil {
		t.Fatalf("RevokeOthers with the fresh session: got %d, %v; want 1, nil", n, err)
	}
	newCookie := w.Result().Cookies()[0].Value
	if _, err := m.Check(cookieRequest(m, newCookie)); err != nil {
		t.Errorf("the fresh session after RevokeOthers: %v", err)
	}
}
