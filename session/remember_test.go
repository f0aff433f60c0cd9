package session

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// loginWith signs userID in with opts and returns the Set-Cookie header
// and the cookie value.
func loginWith(t *testing.T, m *Manager, level storage.AuthLevel, opts LoginOptions) (string, string) {
	t.Helper()
	w := httptest.NewRecorder()
	if _, err := m.LoginWithOptions(w, httptest.NewRequest("POST", "https://example.com/login", nil), "alice", level, opts); err != nil {
		t.Fatal(err)
	}
	return w.Header().Get("Set-Cookie"), w.Result().Cookies()[0].Value
}

// TestRememberMeCookie: with "remember me" the cookie lasts as long as the
// session (today's behaviour); without it the cookie is a browser-session
// cookie, and it stays one when the token rotates.
func TestRememberMeCookie(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	for _, tt := range []struct {
		name     string
		remember bool
	}{
		{"a remembered sign-in gets Expires and Max-Age", true},
		{"a sign-in without remember me gets a browser-session cookie", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			header, v := loginWith(t, m, storage.AuthPassword, LoginOptions{Remember: tt.remember})
			persistent := strings.Contains(header, "Max-Age=") && strings.Contains(header, "Expires=")
			if persistent != tt.remember {
				t.Fatalf("Set-Cookie %q: got persistent %v, want %v", header, persistent, tt.remember)
			}
			r := cookieRequest(m, v)
			s, err := m.Check(r)
			if err != nil {
				t.Fatal(err)
			}
			if s.Remembered() != tt.remember {
				t.Errorf("Remembered: got %v, want %v", s.Remembered(), tt.remember)
			}
			w := httptest.NewRecorder()
			s2, err := m.Elevate(w, r, storage.AuthPassword)
			if err != nil {
				t.Fatal(err)
			}
			h := w.Header().Get("Set-Cookie")
			if got := strings.Contains(h, "Max-Age="); got != tt.remember || s2.Remembered() != tt.remember {
				t.Errorf("after Elevate: Set-Cookie %q, Remembered %v; want persistent %v", h, s2.Remembered(), tt.remember)
			}
		})
	}
}

// TestSessionOnlyIdleTimeout: a sign-in without remember me ends after
// the shorter idle timeout, checked on the server (a fresh Manager on the
// same store, without the cache, refuses it too); a remembered one idle as
// long lives on; activity keeps either alive; the absolute timeout is the
// same for both.
func TestSessionOnlyIdleTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		remember bool
		steps    []time.Duration
		wantErr  error
	}{
		{"a session-only sign-in idle past its timeout ends", false, []time.Duration{2*time.Hour + 2*time.Minute}, ErrExpired},
		{"a remembered sign-in idle as long lives on", true, []time.Duration{2*time.Hour + 2*time.Minute}, nil},
		{"an active session-only sign-in lives on", false, []time.Duration{time.Hour, time.Hour, time.Hour}, nil},
		{"a remembered sign-in ends at its idle timeout", true, []time.Duration{7*24*time.Hour + 2*time.Minute}, ErrExpired},
		{"an active session-only sign-in ends at the absolute timeout", false, []time.Duration{90 * time.Minute, 90 * time.Minute, 90 * time.Minute, 90 * time.Minute}, ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			store := newMemoryStore(t)
			mod := func(c *Config) { c.AbsoluteTimeout = 5 * time.Hour }
			m := newTestManager(t, store, clock, mod)
			_, v := loginWith(t, m, storage.AuthPassword, LoginOptions{Remember: tt.remember})
			var err error
			for _, d := range tt.steps {
				clock.Advance(d)
				_, err = m.Check(cookieRequest(m, v))
			}
			if !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
			fresh := newTestManager(t, store, clock, func(c *Config) { mod(c); c.Keys = m.cfg.Keys })
			if _, err2 := fresh.Check(cookieRequest(fresh, v)); (err2 == nil) != (err == nil) {
				t.Errorf("another instance: got %v, want %v", err2, err)
			}
		})
	}
}

func TestSessionOnlyIdleTimeoutConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		want    time.Duration
		wantErr bool
	}{
		{"the default is two hours", Config{}, DefaultSessionOnlyIdleTimeout, false},
		{"a shorter IdleTimeout caps the default", Config{IdleTimeout: time.Hour}, time.Hour, false},
		{"a value above IdleTimeout is refused", Config{IdleTimeout: time.Hour, SessionOnlyIdleTimeout: 2 * time.Hour}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Store, tt.cfg.Keys, tt.cfg.Logger = newMemoryStore(t), testKeys(t, 1), quietLogger()
			m, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				defer m.Close()
				if m.cfg.SessionOnlyIdleTimeout != tt.want {
					t.Errorf("got %s, want %s", m.cfg.SessionOnlyIdleTimeout, tt.want)
				}
			}
		})
	}
}

// TestRememberFlagIsSealed: the flag rides in the sealed payload, so it
// round-trips and a client cannot flip it without the keys.
func TestRememberFlagIsSealed(t *testing.T) {
	t.Parallel()
	for _, sessionOnly := range []bool{false, true} {
		p := payload{level: storage.AuthSecondFactor, sessionOnly: sessionOnly, issuedAt: 1, expiresAt: 2, userID: "u"}
		var q payload
		if err := q.unmarshal(p.marshal()); err != nil {
			t.Fatal(err)
		}
		if q.level != p.level || q.sessionOnly != sessionOnly {
			t.Errorf("round trip: got level %v sessionOnly %v, want %v %v", q.level, q.sessionOnly, p.level, sessionOnly)
		}
	}
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	_, v := loginWith(t, m, storage.AuthPassword, LoginOptions{})
	b := []byte(v)
	b[len(b)-3] ^= 1
	if _, err := m.Check(cookieRequest(m, string(b))); !errors.Is(err, ErrInvalidCookie) {
		t.Errorf("a modified cookie: got %v, want ErrInvalidCookie", err)
	}
}
