package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

var (
	shownToken = regexp.MustCompile(`<input id="new-token" class="mono" readonly value="(sgapp_[A-Za-z0-9_-]+)">`)
	revokeApp  = regexp.MustCompile(`href="/apps/([A-Za-z0-9_-]+)"`)
)

// callAPI calls GET /api/me with a bearer token.
func callAPI(t *testing.T, srv string, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestConnectedApps(t *testing.T) {
	t.Parallel()
	srv, _, _ := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.expectRedirect("GET", "/apps", nil, "/login")
	c.login(demoUser, demoPassword)
	c.page("/apps", "/apps", "No app has access to your account.", "Connect Sample Calendar")

	c.expectRedirect("POST", "/apps/demo", url.Values{}, "/apps")
	body := c.page("/apps", "/apps", "Sample Calendar is connected", "shown only this once", "profile:read", "never used")
	m := shownToken.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no token shown:\n%s", body)
	}
	token := m[1]
	if body := c.page("/apps", "/apps", "Sample Calendar"); strings.Contains(body, token) {
		t.Error("the token was shown twice")
	}
	c.page("/sessions", "/sessions", "1 app has access to your account.")

	status, got := callAPI(t, srv.URL, token)
	if status != 200 || !strings.Contains(got, `"username":"demo"`) || !strings.Contains(got, `"app":"Sample Calendar"`) {
		t.Errorf("GET /api/me with the token: got %d %s", status, got)
	}
	if status, _ := callAPI(t, srv.URL, "sgapp_forged"); status != http.StatusUnauthorized {
		t.Errorf("GET /api/me with a forged token: got %d, want 401", status)
	}
	c.page("/apps", "/apps", "last used")

	ids := revokeApp.FindStringSubmatch(c.page("/apps", "/apps"))
	if ids == nil {
		t.Fatal("no link to the app's page")
	}
	body = c.page("/apps/"+ids[1], "/apps/"+ids[1], "<h1>Sample Calendar</h1>", "Read your profile", "Connected", "Last used", "Revoke access",
		"will no longer be able to use your account")
	if strings.Contains(body, `action="/apps/`+ids[1]+`/revoke"`) {
		t.Error("the app's page revokes without a confirmation")
	}
	c.page("/apps/"+ids[1]+"?confirm=revoke", "/apps/"+ids[1]+"?confirm=revoke", "Revoke access of Sample Calendar?", `method="post" action="/apps/`+ids[1]+`/revoke"`, "Cancel")
	c.expectRedirect("POST", "/apps/"+ids[1]+"/revoke", url.Values{}, "/apps?m=app-revoked")
	if status, _ := callAPI(t, srv.URL, token); status != http.StatusUnauthorized {
		t.Errorf("GET /api/me after revoking: got %d, want 401", status)
	}
	c.page("/apps?m=app-revoked", "/apps?m=app-revoked", "Access revoked.", "No app has access to your account.")
	c.expectRedirect("POST", "/apps/"+ids[1]+"/revoke", url.Values{}, "/apps?m=app-not-found")

	t.Run("another user's app cannot be revoked", func(t *testing.T) {
		c.expectRedirect("POST", "/apps/demo", url.Values{}, "/apps")
		c.page("/apps", "/apps")
		id := revokeApp.FindStringSubmatch(c.page("/apps", "/apps"))[1]
		stranger := newClient(t, srv, firefoxUA)
		stranger.do("POST", "/signup", url.Values{"username": {"stranger"}, "password": {"stranger-password"}})
		stranger.expectRedirect("POST", "/apps/"+id+"/revoke", url.Values{}, "/apps?m=app-not-found")
		c.page("/apps", "/apps", "Sample Calendar")
	})
}

func TestSecurityLog(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.ip = "203.0.113.7"
	c.expectRedirect("GET", "/security-log", nil, "/login")
	c.login(demoUser, demoPassword)
	phone := newClient(t, srv, iphone)
	phone.login(demoUser, demoPassword)
	c.expectRedirect("POST", "/sessions/logout-others", url.Values{}, "/sessions?m=ended-others&n=1")
	setUpTwoFactor(t, c, clock)

	body := c.page("/security-log", "/security-log",
		"Logged in", "Chrome 131 on macOS · Lisbon, Portugal · 203.0.113.7", "This device",
		"Safari 17 on iPhone", "Logged out all other sessions (1 session ended)",
		"Turned on two-factor authentication")
	if strings.Contains(body, "Older events") || strings.Contains(body, "Newest events") {
		t.Error("a short log has page links")
	}

	t.Run("a long log comes in pages", func(t *testing.T) {
		for range 25 {
			p := newClient(t, srv, firefoxUA)
			p.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
		}
		body := c.page("/security-log", "/security-log", "Older events")
		if n := strings.Count(body, `<li class="event">`); n != securityLogPageSize {
			t.Errorf("the first page has %d events, want %d", n, securityLogPageSize)
		}
		next := regexp.MustCompile(`href="(/security-log\?before=\d+)"`).FindStringSubmatch(body)
		if next == nil {
			t.Fatal("no link to older events")
		}
		body = c.page(next[1], next[1], "Newest events", "Turned on two-factor authentication")
		if n := strings.Count(body, `<li class="event">`); n == 0 || n > securityLogPageSize {
			t.Errorf("the second page has %d events", n)
		}
	})
	t.Run("a malformed cursor is refused", func(t *testing.T) {
		for _, q := range []string{"abc", "-5", "0"} {
			if status, _, _ := c.do("GET", "/security-log?before="+q, nil); status != http.StatusBadRequest {
				t.Errorf("before=%s: got %d, want 400", q, status)
			}
		}
	})
}

func TestDescribeEvent(t *testing.T) {
	t.Parallel()
	types := []storage.EventType{
		storage.EventSignedIn, storage.EventSignedOut, storage.EventSessionRevoked, storage.EventSignedOutEverywhere,
		storage.EventOtherSessionsRevoked, storage.EventPasswordChanged, storage.EventReauthenticated,
		storage.EventSecondFactorEnabled, storage.EventSecondFactorDisabled, storage.EventSecondFactorUsed,
		storage.EventRecoveryCodeUsed, storage.EventRecoveryCodesRenewed, storage.EventSecondFactorReplay,
		storage.EventSecondFactorLockout, storage.EventSecondFactorFailed, storage.EventAppAuthorized,
		storage.EventAppRevoked, storage.EventAllSessionsRevokedAdm,
		storage.EventPasskeyAdded, storage.EventPasskeyRemoved, storage.EventPasskeyCounterRegressed,
	}
	seen := map[string]storage.EventType{}
	for _, typ := range types {
		got := describeEvent(typ, "")
		if got == "" || strings.Contains(got, string(typ)) {
			t.Errorf("%s: got %q, want a description in words", typ, got)
		}
		if prev, ok := seen[got]; ok && !(typ == storage.EventAllSessionsRevokedAdm && prev == storage.EventSignedOutEverywhere) {
			t.Errorf("%s and %s are both described as %q", typ, prev, got)
		}
		seen[got] = typ
	}
	tests := []struct {
		name   string
		typ    storage.EventType
		detail string
		want   string
	}{
		{"a pending sign-in says so", storage.EventSignedIn, "pending_second_factor", "Password entered; waiting for the second factor"},
		{"a count of sessions", storage.EventOtherSessionsRevoked, "2", "Logged out all other sessions (2 sessions ended)"},
		{"one session", storage.EventPasswordChanged, "1", "Changed the password (1 session ended)"},
		{"a text where a count belongs is left out", storage.EventPasswordChanged, "<b>", "Changed the password"},
		{"an app's name", storage.EventAppAuthorized, "Sample Calendar", "Connected the app “Sample Calendar”"},
		{"a key named when added", storage.EventPasskeyAdded, "YubiKey", "Added the security key or passkey “YubiKey”"},
		{"a key as the second factor", storage.EventSecondFactorUsed, "passkey", "Used a security key or passkey"},
		{"an unknown type", storage.EventType("future_thing"), "", "Security event: future_thing"},
	}
	for _, tt := range tests {
		if got := describeEvent(tt.typ, tt.detail); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	srv, _, _ := newClockedServer(t)
	c, phone, desktop := newClient(t, srv, chromeMac), newClient(t, srv, iphone), newClient(t, srv, firefoxUA)
	c.expectRedirect("GET", "/password", nil, "/login")
	c.login(demoUser, demoPassword)
	phone.login(demoUser, demoPassword)
	desktop.login(demoUser, demoPassword)
	c.page("/password", "/password", `<label for="current">`, `<label for="new">`, `<label for="confirm">`, `autocomplete="new-password"`)

	tests := []struct {
		name                 string
		current, next, again string
		status               int
		want                 string
	}{
		{"a wrong current password", "wrong", "new password 1", "new password 1", 401, "Your current password is not right"},
		{"two different new passwords", demoPassword, "new password 1", "new password 2", 400, "The two new passwords differ."},
		{"a short new password", demoPassword, "short", "short", 400, "a password is at least 8 characters"},
	}
	for _, tt := range tests {
		status, _, body := c.send("POST", "/password", url.Values{"current": {tt.current}, "new": {tt.next}, "confirm": {tt.again}})
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: got %d, want %d saying %q", tt.name, status, tt.status, tt.want)
		}
	}
	phone.page("/", "/") // nothing changed yet

	c.expectRedirect("POST", "/password", url.Values{"current": {demoPassword}, "new": {"new password 1"}, "confirm": {"new password 1"}}, "/password?m=password-changed&n=2")
	c.page("/password?m=password-changed&n=2", "/password?m=password-changed&n=2", "Your password was changed. 2 other sessions were logged out.")
	phone.expectRedirect("GET", "/", nil, "/login?m=signed-out")
	desktop.expectRedirect("GET", "/", nil, "/login?m=signed-out")

	status, _, _ := phone.send("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}})
	if status != http.StatusUnauthorized {
		t.Errorf("the old password: got %d, want 401", status)
	}
	phone.login(demoUser, "new password 1")
	c.expectRedirect("POST", "/password", url.Values{"current": {"new password 1"}, "new": {"new password 2"}, "confirm": {"new password 2"}}, "/password?m=password-changed&n=1")
	c.expectRedirect("POST", "/password", url.Values{"current": {"new password 2"}, "new": {"new password 3"}, "confirm": {"new password 3"}}, "/password?m=password-changed&n=0")
	c.page("/password?m=password-changed&n=0", "/password?m=password-changed&n=0", "No other session was logged in.")
	body := c.page("/security-log", "/security-log", fmt.Sprintf("Changed the password (%d sessions ended)", 2))
	if n := strings.Count(body, "Confirmed the password"); n != 0 {
		t.Errorf("the log shows %d password confirmations besides the password changes, want 0", n)
	}
}

// signInCookie posts the sign-in form and returns the session cookie the
// answer sets.
func signInCookie(t *testing.T, c *client, form url.Values) *http.Cookie {
	t.Helper()
	noFollow := *c.c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Do(c.request("POST", "/login", form))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == session.DefaultCookieName || ck.Name == session.DefaultInsecureCookieName {
			return ck
		}
	}
	t.Fatalf("POST /login answered %d without a session cookie", resp.StatusCode)
	return nil
}

func TestRememberMe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		remember bool
		// alive: the session still works after 3 hours without activity.
		alive bool
	}{
		{name: "a ticked box keeps the sign-in across browser restarts", remember: true, alive: true},
		{name: "an unticked box gives a browser-session cookie and a shorter idle timeout", remember: false, alive: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _, clock := newClockedServer(t)
			c := newClient(t, srv, chromeMac)
			form := url.Values{"username": {demoUser}, "password": {demoPassword}}
			if tt.remember {
				form.Set("remember", "on")
			}
			ck := signInCookie(t, c, form)
			if persistent := ck.MaxAge > 0 || !ck.Expires.IsZero(); persistent != tt.remember {
				t.Errorf("the session cookie outlives the browser: got %v (Max-Age %d, Expires %v), want %v", persistent, ck.MaxAge, ck.Expires, tt.remember)
			}
			c.page("/", "/", "Hello, demo")
			clock.Advance(3 * time.Hour)
			_, at, _ := c.do("GET", "/sessions", nil)
			if alive := at == "/sessions"; alive != tt.alive {
				t.Errorf("after 3 idle hours GET /sessions landed on %s: alive %v, want %v", at, alive, tt.alive)
			}
		})
	}
}

func TestRememberMeBoxKeepsTheChoice(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	c := newClient(t, srv, chromeMac)
	body := c.page("/login", "/login", `id="remember"`)
	if !strings.Contains(body, `aria-describedby="remember-hint" checked>`) {
		t.Error("the login page: the Remember me box is not ticked by default")
	}
	for _, remember := range []string{"", "on"} {
		_, _, body := c.send("POST", "/login", url.Values{"username": {demoUser}, "password": {"wrong"}, "remember": {remember}})
		if checked := strings.Contains(body, `aria-describedby="remember-hint" checked>`); checked != (remember != "") {
			t.Errorf("after a wrong password with remember=%q the box is ticked: got %v, want %v", remember, checked, remember != "")
		}
	}
}

func TestRememberMeSurvivesTheSecondFactor(t *testing.T) {
	t.Parallel()
	srv, a, clock := newClockedServer(t)
	secret, _ := enableTwoFactor(t, a, clock, demoUser, demoPassword)
	c := newClient(t, srv, iphone)
	ck := signInCookie(t, c, url.Values{"username": {demoUser}, "password": {demoPassword}})
	if ck.MaxAge > 0 || !ck.Expires.IsZero() {
		t.Errorf("the pending session's cookie: got Max-Age %d, Expires %v, want a browser-session cookie", ck.MaxAge, ck.Expires)
	}
	if _, at, body := c.do("POST", "/login/2fa", url.Values{"code": {code(t, clock, secret)}}); at != "/" {
		t.Fatalf("the second factor landed on %s: %.300s", at, body)
	}
	clock.Advance(3 * time.Hour)
	if _, at, _ := c.do("GET", "/sessions", nil); at == "/sessions" {
		t.Error("a sign-in without Remember me still works after 3 idle hours, want it ended after 2")
	}
}
