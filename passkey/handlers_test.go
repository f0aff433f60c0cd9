package passkey_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/internal/fakeclock"
	"github.com/sessionguard/sessionguard/passkey"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

type testApp struct {
	srv   *httptest.Server
	store *memory.Store
	clock *fakeclock.Clock
	svc   *passkey.Service
}

func newTestApp(t *testing.T) *testApp {
	t.Helper()
	clock := fakeclock.New(time.Now().Truncate(time.Second))
	store := memory.New(memory.Options{Now: clock.Now})
	t.Cleanup(func() { store.Close() })
	keys, err := session.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}, Clock: clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	svc, err := passkey.New(passkey.Config{Manager: m, Store: store, RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"}, Clock: clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", m.Routes(svc))
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Login(w, r, "alice", storage.AuthPassword); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	srv := httptest.NewTLSServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	return &testApp{srv: srv, store: store, clock: clock, svc: svc}
}

type client struct {
	t   *testing.T
	app *testApp
	c   *http.Client
}

func (a *testApp) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	c := *a.srv.Client()
	c.Jar = jar
	return &client{t, a, &c}
}

func (c *client) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.app.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// challengeOf returns the challenge_id of a begin answer.
func challengeOf(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `"challenge_id":"`)
	id, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 || id == "" {
		t.Fatalf("no challenge_id in %s", body)
	}
	return id
}

// TestHTTPCeremonyErrors: every bad input of a ceremony is a clear JSON
// error, and changes nothing: no passkey appears, no session starts, the
// challenge is spent.
func TestHTTPCeremonyErrors(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	alice := app.client(t)
	alice.do("POST", "/login", "")
	_, body := alice.do("POST", "/auth/passkeys/register/begin", `{"name":"Key"}`)
	ch := challengeOf(t, body)
	if !strings.Contains(body, `"rp":{"name":"Example","id":"example.com"}`) || !strings.Contains(body, `"residentKey":"preferred"`) {
		t.Errorf("registration options: got %s", body)
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"a name that is too long is refused", "POST", "/auth/passkeys/register/begin", `{"name":"` + strings.Repeat("x", 65) + `"}`, 400, "bad_request"},
		{"an empty name is refused", "POST", "/auth/passkeys/register/begin", `{"name":""}`, 400, "bad_request"},
		{"an unknown field is refused", "POST", "/auth/passkeys/register/begin", `{"name":"Key","admin":true}`, 400, "bad_request"},
		{"trust_browser on a registration is refused", "POST", "/auth/passkeys/register/finish", `{"challenge_id":"x","credential":{},"trust_browser":true}`, 400, "bad_request"},
		{"a garbage credential is refused and spends the challenge", "POST", "/auth/passkeys/register/finish", `{"challenge_id":"` + ch + `","credential":{"id":"x"}}`, 400, "invalid_credential"},
		{"a spent challenge is refused", "POST", "/auth/passkeys/register/finish", `{"challenge_id":"` + ch + `","credential":{"id":"x"}}`, 400, "invalid_challenge"},
		{"an unknown challenge is refused", "POST", "/auth/passkeys/register/finish", `{"challenge_id":"nope","credential":{}}`, 400, "invalid_challenge"},
		{"a passkey sign-in finish with a registration challenge is refused", "POST", "/auth/passkeys/login/finish", `{"challenge_id":"` + ch + `","credential":{}}`, 400, "invalid_challenge"},
		{"a second factor without any key is not found", "POST", "/auth/passkeys/login/begin", `{}`, 404, "not_found"},
		{"renaming an unknown passkey is not found", "PATCH", "/auth/passkeys/nope", `{"name":"x"}`, 404, "not_found"},
		{"removing an unknown passkey is not found", "DELETE", "/auth/passkeys/nope", ``, 404, "not_found"},
	}
	for _, tt := range tests {
		status, body := alice.do(tt.method, tt.path, tt.body)
		if status != tt.status || !strings.Contains(body, `"error":"`+tt.code+`"`) {
			t.Errorf("%s: got %d %s, want %d %s", tt.name, status, body, tt.status, tt.code)
		}
	}
	if list, _ := app.svc.List(context.Background(), "alice"); len(list) != 0 {
		t.Errorf("passkeys after failed ceremonies: got %d, want 0", len(list))
	}
}

// TestHTTPChallengesExpire: a challenge older than ChallengeTTL is refused.
func TestHTTPChallengesExpire(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	anon := app.client(t)
	_, body := anon.do("POST", "/auth/passkeys/login/begin", `{}`)
	if !strings.Contains(body, `"userVerification":"required"`) {
		t.Errorf("a sign-in without password must require user verification: got %s", body)
	}
	ch := challengeOf(t, body)
	app.clock.Advance(passkey.DefaultChallengeTTL)
	if status, body := anon.do("POST", "/auth/passkeys/login/finish", `{"challenge_id":"`+ch+`","credential":{}}`); status != 400 || !strings.Contains(body, "invalid_challenge") {
		t.Errorf("an expired challenge: got %d %s, want 400 invalid_challenge", status, body)
	}
}

// TestHTTPRegistrationNeedsRecentAuthentication: registering and removing
// need a recent authentication; without a session everything but the
// passkey sign-in is a 401.
func TestHTTPRegistrationNeedsRecentAuthentication(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	alice := app.client(t)
	alice.do("POST", "/login", "")
	app.clock.Advance(time.Hour)
	for _, p := range []struct{ method, path, body string }{
		{"POST", "/auth/passkeys/register/begin", `{"name":"Key"}`},
		{"POST", "/auth/passkeys/register/finish", `{}`},
		{"DELETE", "/auth/passkeys/x", ``},
	} {
		if status, body := alice.do(p.method, p.path, p.body); status != 403 || !strings.Contains(body, "reauth_required") {
			t.Errorf("%s %s an hour after sign-in: got %d %s, want 403 reauth_required", p.method, p.path, status, body)
		}
	}
	anon := app.client(t)
	for _, p := range []struct{ method, path string }{{"GET", "/auth/passkeys"}, {"POST", "/auth/passkeys/register/begin"}, {"PATCH", "/auth/passkeys/x"}} {
		if status, _ := anon.do(p.method, p.path, `{}`); status != 401 {
			t.Errorf("%s %s without a session: got %d, want 401", p.method, p.path, status)
		}
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	t.Parallel()
	store := memory.New(memory.Options{})
	t.Cleanup(func() { store.Close() })
	tests := []struct {
		name string
		cfg  passkey.Config
	}{
		{"an empty config is refused", passkey.Config{}},
		{"an origin with a path is refused", passkey.Config{Manager: &session.Manager{}, Store: store, RPID: "example.com", RPDisplayName: "E", RPOrigins: []string{"https://example.com/app"}}},
	}
	for _, tt := range tests {
		if _, err := passkey.New(tt.cfg); err == nil {
			t.Errorf("%s: got nil, want an error", tt.name)
		}
	}
}
