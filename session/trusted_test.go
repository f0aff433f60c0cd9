package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// trust trusts a browser for userID and returns its cookie and record ID.
func trust(t *testing.T, m *Manager, userID string) (*http.Cookie, string) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "https://example.com/2fa", nil)
	info, err := m.TrustedBrowsers().Trust(w, r, Audit{Request: r}, userID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == m.cfg.TrustedBrowsers.CookieName {
			if c.MaxAge != int(DefaultTrustedBrowserDuration/time.Second) || !c.Secure || !c.HttpOnly {
				t.Errorf("trusted-browser cookie: got MaxAge %d Secure %v HttpOnly %v, want 30 days, true, true", c.MaxAge, c.Secure, c.HttpOnly)
			}
			return c, info.ID
		}
	}
	t.Fatal("Trust set no cookie")
	return nil, ""
}

func trustedWith(m *Manager, c *http.Cookie, userID string) bool {
	r := httptest.NewRequest("POST", "https://example.com/login", nil)
	if c != nil {
		r.AddCookie(c)
	}
	return m.TrustedBrowsers().Trusted(r, userID)
}

// TestTrustedBrowserCookie: only the user's own, untampered cookie whose
// record exists and has not expired counts.
func TestTrustedBrowserCookie(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newTestManager(t, newMemoryStore(t), clock, nil)
	c, _ := trust(t, m, "alice")
	tampered := *c
	tampered.Value = c.Value[:len(c.Value)-2] + "AA"
	sessionKeys := newTestManager(t, newMemoryStore(t), clock, nil) // other keys
	tests := []struct {
		name   string
		m      *Manager
		cookie *http.Cookie
		user   string
		want   bool
	}{
		{"the user's own cookie is trusted", m, c, "alice", true},
		{"no cookie is not trusted", m, nil, "alice", false},
		{"another user's cookie is not trusted", m, c, "bob", false},
		{"a tampered cookie is not trusted", m, &tampered, "alice", false},
		{"a cookie sealed with other keys is not trusted", sessionKeys, c, "alice", false},
	}
	for _, tt := range tests {
		if got := trustedWith(tt.m, tt.cookie, tt.user); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	clock.Advance(DefaultTrustedBrowserDuration)
	if trustedWith(m, c, "alice") {
		t.Error("after 30 days: got trusted, want not")
	}
	if list, _ := m.TrustedBrowsers().List(context.Background(), "alice"); len(list) != 0 {
		t.Errorf("List after expiry: got %d, want 0", len(list))
	}
}

// TestTrustedBrowserRevocation: revoking one ends that one only (another
// user's ID answers like an unknown one); a password change and "log out
// everywhere" end them all.
func TestTrustedBrowserRevocation(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	ctx := context.Background()
	tb := m.TrustedBrowsers()
	c1, id1 := trust(t, m, "alice")
	c2, _ := trust(t, m, "alice")
	if err := tb.Revoke(ctx, Audit{}, "bob", id1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revoke of another user's browser: got %v, want ErrNotFound", err)
	}
	if err := tb.Revoke(ctx, Audit{}, "alice", id1); err != nil {
		t.Fatal(err)
	}
	if trustedWith(m, c1, "alice") || !trustedWith(m, c2, "alice") {
		t.Fatal("Revoke: want the first browser untrusted and the second still trusted")
	}

	c3, _ := trust(t, m, "alice")
	if _, err := m.PasswordChanged(ctx, Audit{}, "alice", nil); err != nil {
		t.Fatal(err)
	}
	if trustedWith(m, c2, "alice") || trustedWith(m, c3, "alice") {
		t.Error("after a password change: a browser is still trusted")
	}

	c4, _ := trust(t, m, "alice")
	v, _ := loginDirect(t, m, "alice")
	if _, _, err := m.LogoutEverywhere(httptest.NewRecorder(), cookieRequest(m, v), LogoutEverywhereOptions{}); err != nil {
		t.Fatal(err)
	}
	if trustedWith(m, c4, "alice") {
		t.Error("after log out everywhere: the browser is still trusted")
	}
}

// TestTrustedBrowsersAreBounded: trusting more than MaxPerUser browsers
// removes the oldest.
func TestTrustedBrowsersAreBounded(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newTestManager(t, newMemoryStore(t), clock, func(c *Config) { c.TrustedBrowsers.MaxPerUser = 2 })
	first, _ := trust(t, m, "alice")
	clock.Advance(time.Second)
	trust(t, m, "alice")
	clock.Advance(time.Second)
	last, _ := trust(t, m, "alice")
	list, err := m.TrustedBrowsers().List(context.Background(), "alice")
	if err != nil || len(list) != 2 {
		t.Fatalf("List: got %d, %v; want 2, nil", len(list), err)
	}
	if trustedWith(m, first, "alice") || !trustedWith(m, last, "alice") {
		t.Error("want the oldest browser dropped and the newest kept")
	}
}

// TestHTTPTrustedBrowsers: GET lists the user's trusted browsers; DELETE
// of another user's answers 404 and changes nothing, of one's own 204.
func TestHTTPTrustedBrowsers(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	app := newTestApp(t, m)
	_, bobs := trust(t, m, "bob")
	_, alices := trust(t, m, "alice")
	b := app.browser(t)
	b.login("alice")
	if resp, body := b.do("DELETE", "/auth/trusted-browsers/"+bobs, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE of bob's browser: got %d %s, want 404", resp.StatusCode, body)
	}
	if list, _ := m.TrustedBrowsers().List(context.Background(), "bob"); len(list) != 1 {
		t.Error("bob's browser was removed by alice")
	}
	if resp, body := b.do("GET", "/auth/trusted-browsers", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, alices) || strings.Contains(body, bobs) {
		t.Errorf("GET: got %d %s, want alice's browser only", resp.StatusCode, body)
	}
	if resp, _ := b.do("DELETE", "/auth/trusted-browsers/"+alices, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE of alice's browser: got %d, want 204", resp.StatusCode)
	}
	if list, _ := m.TrustedBrowsers().List(context.Background(), "alice"); len(list) != 0 {
		t.Error("alice's browser is still trusted after DELETE")
	}
	var events []storage.EventType
	es, _ := m.cfg.Store.ListEvents(context.Background(), "alice", 0, 50)
	for _, e := range es {
		events = append(events, e.Type)
	}
	if !containsType(events, storage.EventBrowserTrusted) || !containsType(events, storage.EventTrustedBrowserRevoked) {
		t.Errorf("alice's events: got %v, want browser_trusted and trusted_browser_revoked", events)
	}
}

func containsType(list []storage.EventType, typ storage.EventType) bool {
	for _, x := range list {
		if x == typ {
			return true
		}
	}
	return false
}
