package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/internal/fakeclock"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

type fakeClock = fakeclock.Clock

func newFakeClock() *fakeClock { return fakeclock.New(time.Now().Truncate(time.Second)) }

// countingStore counts session reads and can be made to fail.
type countingStore struct {
	storage.Store
	gets atomic.Int64
	fail atomic.Bool
	// block, when set, is called inside GetSession after the read.
	block func()
}

var errOutage = errors.New("test: storage outage")

func (s *countingStore) GetSession(ctx context.Context, h storage.TokenHash) (*storage.Session, error) {
	s.gets.Add(1)
	if s.fail.Load() {
		return nil, errOutage
	}
	st, err := s.Store.GetSession(ctx, h)
	if s.block != nil {
		s.block()
	}
	return st, err
}

func (s *countingStore) TouchSession(ctx context.Context, h storage.TokenHash, a storage.Activity) error {
	if s.fail.Load() {
		return errOutage
	}
	return s.Store.TouchSession(ctx, h, a)
}

func newMemoryStore(t testing.TB) *memory.Store {
	s := memory.New(memory.Options{})
	t.Cleanup(func() { s.Close() })
	return s
}

func testKeys(t testing.TB, n int) []KeyPair {
	keys := make([]KeyPair, n)
	for i := range keys {
		k, err := GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	return keys
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestManager returns a Manager on store with a fake clock.
func newTestManager(t testing.TB, store storage.Store, clock *fakeClock, mod func(*Config)) *Manager {
	cfg := Config{Store: store, Keys: testKeys(t, 1), Clock: clock.Now, Logger: quietLogger()}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// testApp is a tiny application on top of a Manager, served over TLS
// (Secure cookies need it) like a real deployment.
type testApp struct {
	m   *Manager
	srv *httptest.Server
}

func newTestApp(t testing.TB, m *Manager) *testApp {
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", m.Routes()))
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		level := storage.AuthPassword
		if r.FormValue("pending") != "" {
			level = storage.AuthPendingSecondFactor
		}
		if _, err := m.Login(w, r, r.FormValue("user"), level); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /reauth", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Elevate(w, r, storage.AuthPassword); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
		}
	})
	mux.Handle("GET /whoami", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := FromContext(r.Context())
		io.WriteString(w, s.UserID)
	})))
	mux.HandleFunc("GET /public", func(w http.ResponseWriter, r *http.Request) {
		if err := RejectionFromContext(r.Context()); err != nil {
			io.WriteString(w, "rejected: "+err.Error())
			return
		}
		io.WriteString(w, "public")
	})
	srv := httptest.NewTLSServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	return &testApp{m: m, srv: srv}
}

// browser is one cookie jar (one device) talking to a testApp.
type browser struct {
	t      testing.TB
	app    *testApp
	client *http.Client
}

func (a *testApp) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	c := new(http.Client)
	*c = *a.srv.Client() // Client() returns one shared client: copy it
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, app: a, client: c}
}

// do sends a request as a same-origin browser page would (Sec-Fetch-Site
// and Origin set), returning status and body.
func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.app.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.app.srv.URL)
	req.Header.Set("User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func (b *browser) login(user string) {
	b.t.Helper()
	if resp, body := b.do("POST", "/login", url.Values{"user": {user}}); resp.StatusCode != 200 {
		b.t.Fatalf("login: got %d %s, want 200", resp.StatusCode, body)
	}
}

// whoami returns the signed-in user, or "" when the request is refused.
func (b *browser) whoami() string {
	b.t.Helper()
	resp, body := b.do("GET", "/whoami", nil)
	if resp.StatusCode != 200 {
		return ""
	}
	return body
}

// cookie returns the session cookie value the jar holds.
func (b *browser) cookie() string {
	u, _ := url.Parse(b.app.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == b.app.m.cfg.CookieName {
			return c.Value
		}
	}
	return ""
}

func (b *browser) setCookie(v string) {
	u, _ := url.Parse(b.app.srv.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: b.app.m.cfg.CookieName, Value: v, Path: "/", Secure: true}})
}

// request builds a server-side request carrying the cookie value v.
func cookieRequest(m *Manager, v string) *http.Request {
	r := httptest.NewRequest("GET", "https://example.com/", nil)
	r.Header.Set("Cookie", m.cfg.CookieName+"="+v)
	return r
}

// loginDirect signs userID in without HTTP and returns the cookie value.
func loginDirect(t testing.TB, m *Manager, userID string) (string, *Session) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "https://example.com/login", nil)
	s, err := m.Login(w, r, userID, storage.AuthPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == m.cfg.CookieName {
			return c.Value, s
		}
	}
	t.Fatal("Login set no cookie")
	return "", nil
}
