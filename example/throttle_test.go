package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestPasswordGuessingIsThrottled: after 10 wrong passwords an account is
// locked for a while — the right password too — and an unknown username
// behaves exactly the same, so the lockout reveals nothing.
func TestPasswordGuessingIsThrottled(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	for _, name := range []string{demoUser, "nobody-here"} {
		c := newClient(t, srv, chromeMac)
		for i := range 10 {
			if status, _, _ := c.send("POST", "/login", url.Values{"username": {name}, "password": {"wrong guess"}}); status != http.StatusUnauthorized {
				t.Fatalf("%s: guess %d: got %d, want 401", name, i+1, status)
			}
		}
		status, _, body := c.send("POST", "/login", url.Values{"username": {name}, "password": {demoPassword}})
		if status != http.StatusTooManyRequests || !strings.Contains(body, "Too many wrong passwords") {
			t.Errorf("%s: the right password during a lockout: got %d, want 429", name, status)
		}
	}
	clock.Advance(2 * time.Minute)
	c := newClient(t, srv, chromeMac)
	c.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/")
}

// TestConnectingAnAppNeedsRecentAuthentication: a stolen, older cookie
// cannot mint an app token, which would outlive "Log out everywhere".
func TestConnectingAnAppNeedsRecentAuthentication(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.login(demoUser, demoPassword)
	clock.Advance(time.Hour)
	c.page("/apps", "/apps", "Your password")
	c.expectRedirect("POST", "/apps/demo", url.Values{}, "/apps?m=wrong-confirm")
	if _, _, body := c.do("GET", "/apps", nil); !strings.Contains(body, "No app has access") {
		t.Fatal("an app was connected without the password")
	}
	c.expectRedirect("POST", "/apps/demo", url.Values{"password": {demoPassword}}, "/apps")
	if _, _, body := c.do("GET", "/apps", nil); !strings.Contains(body, "sgapp_") {
		t.Error("the app token was not shown after connecting with the password")
	}
}
