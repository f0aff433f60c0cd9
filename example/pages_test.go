package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"
)

const firefoxUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"

func TestHomePage(t *testing.T) {
	t.Parallel()
	srv, _, _ := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.expectRedirect("GET", "/", nil, "/login")
	c.login(demoUser, demoPassword)
	c.page("/", "/", "Hello, demo", "Logged in on this device only.", "Turn it on", "No app has access to your account.")
	other := newClient(t, srv, iphone)
	other.login(demoUser, demoPassword)
	c.page("/", "/", "Logged in on 2 devices.")
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	srv, a, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)

	body := c.page("/login", "/login", `<label for="username">`, `<label for="password">`, "demo-password")
	if strings.Contains(body, "You were logged out") {
		t.Error("a first visit says the visitor was signed out")
	}
	t.Run("a wrong password is refused and the username kept", func(t *testing.T) {
		status, _, body := c.send("POST", "/login", url.Values{"username": {demoUser}, "password": {"nope"}})
		if status != http.StatusUnauthorized || !strings.Contains(body, "Wrong username or password.") || !strings.Contains(body, `value="demo"`) {
			t.Errorf("got %d:\n%s", status, body)
		}
	})
	t.Run("an unknown user gets the same answer", func(t *testing.T) {
		status, _, body := c.send("POST", "/login", url.Values{"username": {"nobody"}, "password": {"whatever-123"}})
		if status != http.StatusUnauthorized || !strings.Contains(body, "Wrong username or password.") {
			t.Errorf("got %d", status)
		}
	})
	t.Run("the right password signs in and the sign-in page then goes home", func(t *testing.T) {
		c.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/")
		c.expectRedirect("GET", "/login", nil, "/")
		c.expectRedirect("GET", "/signup", nil, "/")
	})
	t.Run("with two-factor on, the password leads to the second step", func(t *testing.T) {
		if _, err := a.users.create("alice", "alice-password"); err != nil {
			t.Fatal(err)
		}
		enableTwoFactor(t, a, clock, "alice", "alice-password")
		p := newClient(t, srv, firefoxUA)
		p.expectRedirect("POST", "/login", url.Values{"username": {"alice"}, "password": {"alice-password"}}, "/login/2fa")
		p.expectRedirect("GET", "/login", nil, "/login/2fa")
		p.expectRedirect("GET", "/", nil, "/login/2fa")
	})
}

func TestSecondFactorStep(t *testing.T) {
	t.Parallel()
	srv, a, clock := newClockedServer(t)
	secret, recovery := enableTwoFactor(t, a, clock, demoUser, demoPassword)

	anonymous := newClient(t, srv, chromeMac)
	anonymous.expectRedirect("GET", "/login/2fa", nil, "/login")
	anonymous.expectRedirect("POST", "/login/2fa", url.Values{"code": {"123456"}}, "/login")

	c := newClient(t, srv, chromeMac)
	c.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
	c.page("/login/2fa", "/login/2fa", `<label for="code">`, `autocomplete="one-time-code"`, "Use a recovery code", "Cancel and log out")
	c.page("/login/2fa?with=recovery-code", "/login/2fa?with=recovery-code", `<label for="recovery_code">`, "Use the authenticator app instead")

	t.Run("a wrong code is refused", func(t *testing.T) {
		status, _, body := c.send("POST", "/login/2fa", url.Values{"code": {"000000"}})
		if status != http.StatusForbidden || !strings.Contains(body, "That code is not right.") {
			t.Errorf("got %d:\n%s", status, body)
		}
		// The error is announced and tied to the field, which takes the focus.
		for _, want := range []string{`role="alert"`, `id="page-error"`, `aria-invalid="true" autofocus aria-describedby="code-hint code-error"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the page with the error does not contain %s", want)
			}
		}
	})
	t.Run("the right code completes the sign-in", func(t *testing.T) {
		good := code(t, clock, secret)
		c.expectRedirect("POST", "/login/2fa", url.Values{"code": {good}}, "/")
		_, current := handlesOf(c.page("/sessions", "/sessions"))
		c.page("/sessions/"+current, "/sessions/"+current, "Password and second factor")
		c.expectRedirect("GET", "/login/2fa", nil, "/")

		// The same code, from another browser: replay protection.
		other := newClient(t, srv, iphone)
		other.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
		if status, _, body := other.send("POST", "/login/2fa", url.Values{"code": {good}}); status != http.StatusForbidden || !strings.Contains(body, "That code was already used. Wait for the next code") {
			t.Errorf("a replayed code: got %d, want 403 saying it was used already:\n%s", status, body)
		}
	})
	t.Run("a recovery code works once", func(t *testing.T) {
		p := newClient(t, srv, firefoxUA)
		p.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
		upper := strings.ToUpper(recovery[0]) // case and dashes do not matter
		p.expectRedirect("POST", "/login/2fa", url.Values{"method": {"recovery-code"}, "recovery_code": {upper}}, "/?m=recovery-used&n=9")
		p.page("/?m=recovery-used&n=9", "/?m=recovery-used&n=9", "You have 9 recovery codes left.")

		q := newClient(t, srv, firefoxUA)
		q.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
		status, _, body := q.send("POST", "/login/2fa", url.Values{"method": {"recovery-code"}, "recovery_code": {recovery[0]}})
		if status != http.StatusForbidden || !strings.Contains(body, `name="recovery_code"`) {
			t.Errorf("a used recovery code: got %d, want 403 with the recovery form again", status)
		}
	})
	t.Run("too many wrong codes lock the account", func(t *testing.T) {
		p := newClient(t, srv, firefoxUA)
		p.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
		var status int
		var body string
		for range 8 {
			status, _, body = p.send("POST", "/login/2fa", url.Values{"code": {"000000"}})
		}
		if status != http.StatusTooManyRequests || !strings.Contains(body, "Too many wrong codes") || !regexp.MustCompile(`Try again in \d+ minutes?\.`).MatchString(body) {
			t.Errorf("got %d, want 429 saying so, with the time left:\n%s", status, body)
		}
		// Even a right code is refused during the lockout: one for the next
		// step, which the ±1 step window accepts without moving the clock.
		right, err := otptotp.GenerateCode(secret, clock.Now().Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if status, _, _ := p.send("POST", "/login/2fa", url.Values{"code": {right}}); status != http.StatusTooManyRequests {
			t.Errorf("the right code during a lockout: got %d, want 429", status)
		}
		// After the lockout the half-finished sign-in has expired too
		// (session.Config.PendingTimeout): sign in again, then the code works.
		clock.Advance(2 * time.Hour)
		p.expectRedirect("POST", "/login/2fa", url.Values{"code": {code(t, clock, secret)}}, "/login?m=signed-out")
		p.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
		p.expectRedirect("POST", "/login/2fa", url.Values{"code": {code(t, clock, secret)}}, "/")
	})
	t.Run("a pending sign-in can be abandoned", func(t *testing.T) {
		p := newClient(t, srv, firefoxUA)
		p.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
		p.expectRedirect("POST", "/logout", url.Values{}, "/login?m=logged-out")
		p.expectRedirect("GET", "/login/2fa", nil, "/login")
	})
}

func TestSignupPage(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	c := newClient(t, srv, chromeMac)
	c.page("/signup", "/signup", `<label for="username">`, `autocomplete="new-password"`, `aria-describedby="password-hint"`)
	tests := []struct {
		name, username, password, want string
	}{
		{"a short username is refused", "ab", "long enough pass", "a username is 3 to 32 characters"},
		{"upper case is refused", "Alice", "long enough pass", "a username is 3 to 32 characters"},
		{"a short password is refused", "alice", "short", "a password is at least 8 characters"},
		{"a taken username is refused", demoUser, "long enough pass", "That username is taken."},
		{"markup in a username is refused and escaped", "<b>x</b>", "long enough pass", "&lt;b&gt;x&lt;/b&gt;"},
	}
	for _, tt := range tests {
		status, _, body := c.send("POST", "/signup", url.Values{"username": {tt.username}, "password": {tt.password}})
		if status != http.StatusBadRequest || !strings.Contains(body, tt.want) {
			t.Errorf("%s: got %d, want 400 saying %q", tt.name, status, tt.want)
		}
	}
	c.expectRedirect("POST", "/signup", url.Values{"username": {"newbie"}, "password": {"correct horse"}}, "/?m=welcome")
	c.page("/?m=welcome", "/?m=welcome", "Welcome! Your account is ready.", "Hello, newbie")
}

func TestLogout(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	c := newClient(t, srv, chromeMac)
	c.login(demoUser, demoPassword)
	status, loc, _ := c.send("POST", "/logout", url.Values{})
	if status != http.StatusSeeOther || loc != "/login?m=logged-out" {
		t.Fatalf("got %d to %s", status, loc)
	}
	c.page("/login?m=logged-out", "/login?m=logged-out", "You are logged out.")
	c.expectRedirect("GET", "/sessions", nil, "/login")
	// Signing out twice is harmless.
	c.expectRedirect("POST", "/logout", url.Values{}, "/login?m=logged-out")
}

func TestSignedOutRedirect(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.login(demoUser, demoPassword)
	clock.Advance(8 * 24 * time.Hour) // past the idle timeout
	c.expectRedirect("GET", "/sessions", nil, "/login?m=signed-out")
	c.page("/login?m=signed-out", "/login?m=signed-out", "You were logged out. Please log in again.")
}

func TestFlashMessagesAreKeys(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	c := newClient(t, srv, chromeMac)
	tests := []struct {
		name, query, want, notWant string
	}{
		{"a known key shows its text", "?m=logged-out", "You are logged out.", ""},
		{"an unknown key shows nothing", "?m=%3Cscript%3Ealert(1)%3C/script%3E", "", "alert(1)"},
		{"free text is never shown", "?m=You+won+a+prize", "", "You won a prize"},
		{"a count is appended", "?m=ended-others&n=3", "All your other sessions were ended. 3 sessions ended.", ""},
		{"a non-numeric count is ignored", "?m=ended-others&n=%3Cb%3E", "All your other sessions were ended.", "&lt;b&gt;"},
		{"a negative count is ignored", "?m=ended-others&n=-2", "All your other sessions were ended.", "-2"},
		{"errors are alerts", "?m=wrong-confirm", `role="alert" tabindex="-1" data-announce><span class="visually-hidden">Error: </span>That password is not right`, ""},
		{"successes look like successes", "?m=logged-out", `<p class="flash success" role="status" data-announce>`, ""},
	}
	for _, tt := range tests {
		_, _, body := c.do("GET", "/login"+tt.query, nil)
		if tt.want != "" && !strings.Contains(body, tt.want) {
			t.Errorf("%s: the page does not say %q", tt.name, tt.want)
		}
		if tt.notWant != "" && strings.Contains(body, tt.notWant) {
			t.Errorf("%s: the page says %q", tt.name, tt.notWant)
		}
	}
}

func TestSessionsPage(t *testing.T) {
	t.Parallel()
	srv, a, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.ip = "203.0.113.7"
	c.expectRedirect("GET", "/sessions", nil, "/login")
	c.login(demoUser, demoPassword)
	body := c.page("/sessions", "/sessions", "You're logged in on this device only.", "Chrome 131 on macOS", "Lisbon, Portugal · 203.0.113.7 · Active now")
	for _, pointless := range []string{"Log out everywhere", "Log out all other sessions"} {
		if strings.Contains(body, pointless) {
			t.Errorf("with one device logged in, the page offers %q", pointless)
		}
	}

	phone := newClient(t, srv, iphone)
	phone.ip = "203.0.113.50"
	phone.login(demoUser, demoPassword)
	clock.Advance(3 * time.Hour)
	// The laptop was active after the phone: the list still starts with
	// this device.
	body = c.page("/sessions", "/sessions", "Safari 17 on iPhone", "Porto, Portugal · 203.0.113.50 · ", "Last active 3 hours ago", "Log out all other sessions", "Log out everywhere")
	all, current := handlesOf(body)
	if len(all) != 2 || all[0] != current {
		t.Errorf("got sessions %v with %q current, want 2 with the current first", all, current)
	}
	body = phone.page("/sessions", "/sessions")
	if phoneAll, phoneCurrent := handlesOf(body); phoneAll[0] != phoneCurrent || phoneCurrent == current {
		t.Errorf("the phone's list: got %v with %q current", phoneAll, phoneCurrent)
	}
	if !strings.Contains(body, `<a class="device" href="/sessions/`+current+`">Chrome 131 on macOS</a>`) {
		t.Error("the other device's row does not lead to its page")
	}
	if strings.Contains(body, "<form method=\"post\" action=\"/sessions/"+current) {
		t.Error("the list logs a device out without a confirmation")
	}

	t.Run("a sign-in waiting for its second factor is shown as such", func(t *testing.T) {
		enableTwoFactor(t, a, clock, demoUser, demoPassword)
		p := newClient(t, srv, firefoxUA)
		p.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
		c.page("/sessions", "/sessions", "Firefox 133 on Windows", "Waiting for second factor")
	})
}

func TestEndOneSession(t *testing.T) {
	t.Parallel()
	srv, _, _ := newClockedServer(t)
	c, phone := newClient(t, srv, chromeMac), newClient(t, srv, iphone)
	c.login(demoUser, demoPassword)
	phone.login(demoUser, demoPassword)
	all, current := handlesOf(c.page("/sessions", "/sessions"))
	other := all[1]

	c.expectRedirect("POST", "/sessions/"+other+"/logout", url.Values{}, "/sessions?m=ended-one")
	phone.expectRedirect("GET", "/sessions", nil, "/login?m=signed-out")
	c.expectRedirect("POST", "/sessions/"+other+"/logout", url.Values{}, "/sessions?m=not-found")
	c.expectRedirect("POST", "/sessions/no-such-session/logout", url.Values{}, "/sessions?m=not-found")

	t.Run("another user's session cannot be ended", func(t *testing.T) {
		stranger := newClient(t, srv, firefoxUA)
		stranger.do("POST", "/signup", url.Values{"username": {"stranger"}, "password": {"stranger-password"}})
		stranger.expectRedirect("POST", "/sessions/"+current+"/logout", url.Values{}, "/sessions?m=not-found")
		c.page("/sessions", "/sessions", "This device")
	})
	t.Run("ending this device's session signs out", func(t *testing.T) {
		c.expectRedirect("POST", "/sessions/"+current+"/logout", url.Values{}, "/login?m=logged-out")
		c.expectRedirect("GET", "/sessions", nil, "/login")
	})
}

func TestConfirmPage(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.expectRedirect("GET", "/sessions/confirm/others", nil, "/login")
	c.login(demoUser, demoPassword)
	for range 2 {
		newClient(t, srv, iphone).login(demoUser, demoPassword)
	}
	body := c.page("/sessions/confirm/others", "/sessions/confirm/others", "Log out all other sessions?", "2 sessions</strong> will end.", `action="/sessions/logout-others"`)
	if strings.Contains(body, `name="password"`) {
		t.Error("a fresh sign-in is asked for its password")
	}
	c.page("/sessions/confirm/everywhere", "/sessions/confirm/everywhere", "Log out everywhere?", "3 sessions</strong> will end.", `action="/sessions/logout-everywhere"`)
	if status, _, _ := c.do("GET", "/sessions/confirm/nothing", nil); status != http.StatusNotFound {
		t.Errorf("an unknown confirmation: got %d, want 404", status)
	}

	// The sessions page uses a dialog while the sign-in is fresh, and the
	// confirmation page (with the password) once it is not.
	if body := c.page("/sessions", "/sessions"); !strings.Contains(body, `data-confirm="Log out all other sessions?`) || !strings.Contains(body, `data-post="/sessions/logout-everywhere"`) {
		t.Error("the sessions page has no confirmation dialog for a fresh sign-in")
	}
	clock.Advance(20 * time.Minute)
	c.page("/sessions/confirm/others", "/sessions/confirm/others", `<label for="confirm-password">Your password</label>`)
	if body := c.page("/sessions", "/sessions"); strings.Contains(body, "data-confirm") {
		t.Error("a stale sign-in gets the dialog instead of the password page")
	}
}

func TestLogOutOtherSessions(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	c, phone := newClient(t, srv, chromeMac), newClient(t, srv, iphone)
	c.login(demoUser, demoPassword)
	if body := c.page("/sessions/confirm/others", "/sessions/confirm/others", "there is nothing to log out"); strings.Contains(body, `action="/sessions/logout-others"`) {
		t.Error("with no other device the confirmation still offers to log them out")
	}
	c.expectRedirect("POST", "/sessions/logout-others", url.Values{}, "/sessions?m=ended-none")
	phone.login(demoUser, demoPassword)

	t.Run("a stale sign-in needs the password", func(t *testing.T) {
		clock.Advance(20 * time.Minute)
		c.expectRedirect("POST", "/sessions/logout-others", url.Values{}, "/sessions/confirm/others?m=wrong-confirm")
		c.expectRedirect("POST", "/sessions/logout-others", url.Values{"password": {"wrong"}}, "/sessions/confirm/others?m=wrong-confirm")
		phone.page("/sessions", "/sessions")
		c.page("/sessions/confirm/others?m=wrong-confirm", "/sessions/confirm/others?m=wrong-confirm", "That password is not right, so nothing was changed.")
	})
	t.Run("with the password, the others end", func(t *testing.T) {
		c.expectRedirect("POST", "/sessions/logout-others", url.Values{"password": {demoPassword}}, "/sessions?m=ended-others&n=1")
		phone.expectRedirect("GET", "/sessions", nil, "/login?m=signed-out")
		c.page("/sessions", "/sessions", "This device")
	})
	t.Run("the password made the sign-in fresh again", func(t *testing.T) {
		phone.login(demoUser, demoPassword)
		c.expectRedirect("POST", "/sessions/logout-others", url.Values{}, "/sessions?m=ended-others&n=1")
	})
}

func TestLogOutEverywhere(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	c, phone, desktop := newClient(t, srv, chromeMac), newClient(t, srv, iphone), newClient(t, srv, firefoxUA)
	c.login(demoUser, demoPassword)
	phone.login(demoUser, demoPassword)
	desktop.login(demoUser, demoPassword)

	clock.Advance(20 * time.Minute)
	c.expectRedirect("POST", "/sessions/logout-everywhere", url.Values{"password": {"wrong"}}, "/sessions/confirm/everywhere?m=wrong-confirm")
	phone.page("/", "/")

	status, loc, _ := c.send("POST", "/sessions/logout-everywhere", url.Values{"password": {demoPassword}})
	if status != http.StatusSeeOther || loc != "/login?m=ended-everywhere&n=3" {
		t.Fatalf("got %d to %s", status, loc)
	}
	c.page(loc, loc, "You were logged out everywhere. 3 sessions ended.")
	// This browser's cookie is gone; the others' are refused.
	c.expectRedirect("GET", "/", nil, "/login")
	for _, p := range []*client{phone, desktop} {
		p.expectRedirect("GET", "/", nil, "/login?m=signed-out")
	}
}

func TestJSONAPIMounted(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	c := newClient(t, srv, chromeMac)
	for _, path := range []string{"/auth/sessions", "/auth/totp", "/auth/events", "/auth/apps"} {
		status, _, body := c.send("GET", path, nil)
		if status != http.StatusUnauthorized || !strings.Contains(body, `"error":"unauthenticated"`) {
			t.Errorf("GET %s without a session: got %d %s, want 401 JSON (not a redirect)", path, status, body)
		}
	}
	c.login(demoUser, demoPassword)
	status, _, body := c.send("GET", "/auth/sessions", nil)
	var list struct {
		Sessions []struct {
			Current     bool   `json:"current"`
			DeviceLabel string `json:"device_label"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(body), &list); status != 200 || err != nil || len(list.Sessions) != 1 || !list.Sessions[0].Current {
		t.Errorf("GET /auth/sessions: got %d %s", status, body)
	}
	if status, _, body := c.send("GET", "/auth/totp", nil); status != 200 || !strings.Contains(body, `"enabled":false`) {
		t.Errorf("GET /auth/totp: got %d %s", status, body)
	}
	if status, _, _ := c.send("GET", "/auth/totp/", nil); status != 200 {
		t.Errorf("GET /auth/totp/: got %d", status)
	}
}

func TestAgo(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"seconds ago is now", 30 * time.Second, "Active now"},
		{"minutes", 25 * time.Minute, "Last active 25 minutes ago"},
		{"one hour", 90 * time.Minute, "Last active an hour ago"},
		{"hours", 3 * time.Hour, "Last active 3 hours ago"},
		{"days", 72 * time.Hour, "Last active 3 days ago"},
	}
	for _, tt := range tests {
		if got := ago(now, now.Add(-tt.d)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSessionDetailPage(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.ip = "203.0.113.7"
	c.login(demoUser, demoPassword)
	phone := newClient(t, srv, iphone)
	phone.ip = "203.0.113.50"
	phone.login(demoUser, demoPassword)
	clock.Advance(25 * time.Minute)
	all, current := handlesOf(c.page("/sessions", "/sessions"))
	other := all[1]

	body := c.page("/sessions/"+other, "/sessions/"+other, "<h1>Safari 17 on iPhone", "Porto, Portugal", "203.0.113.50",
		"Logged in", "Last active", `<time datetime="`, "Password", "Browser details", "iPhone OS 17_5",
		"Log out the device shown", "It will be logged out at once")
	if strings.Contains(body, `action="/sessions/`+other+`/logout"`) {
		t.Error("the session page logs out without a confirmation")
	}
	t.Run("the confirmation states the consequence and posts", func(t *testing.T) {
		c.page("/sessions/"+other+"?confirm=logout", "/sessions/"+other+"?confirm=logout",
			"Log out Safari 17 on iPhone?", "It will be logged out at once", `action="/sessions/`+other+`/logout"`, "Cancel")
	})
	t.Run("this device's page says what logging out here does", func(t *testing.T) {
		c.page("/sessions/"+current, "/sessions/"+current, "This device", "You will be logged out on this device")
	})
	t.Run("an unknown or another user's session is not found", func(t *testing.T) {
		c.expectRedirect("GET", "/sessions/no-such-session", nil, "/sessions?m=not-found")
		stranger := newClient(t, srv, firefoxUA)
		stranger.do("POST", "/signup", url.Values{"username": {"stranger"}, "password": {"stranger-password"}})
		stranger.expectRedirect("GET", "/sessions/"+other, nil, "/sessions?m=not-found")
	})
	t.Run("the log says which device was logged out", func(t *testing.T) {
		c.expectRedirect("POST", "/sessions/"+other+"/logout", url.Values{}, "/sessions?m=ended-one")
		c.page("/security-log", "/security-log", "Logged out Safari 17 on iPhone")
	})
}

func TestNotFoundPage(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	c := newClient(t, srv, chromeMac)
	status, _, body := c.do("GET", "/no-such-page", nil)
	if status != http.StatusNotFound {
		t.Errorf("GET /no-such-page: got %d, want 404", status)
	}
	for _, want := range []string{`<html lang="en">`, "<title>Page not found · sessionguard example</title>", `<main id="main"`, "<h1>Page not found</h1>", `<a href="/login">`} {
		if !strings.Contains(body, want) {
			t.Errorf("the 404 page does not contain %s", want)
		}
	}
	c.login(demoUser, demoPassword)
	c.page("/nowhere", "/nowhere", "Page not found", `<a href="/">Back to your account</a>`)
	if status, _, body := c.send("GET", "/api/nothing", nil); status != http.StatusNotFound || !strings.Contains(body, `"error":"not_found"`) {
		t.Errorf("GET /api/nothing: got %d %s, want a JSON 404", status, body)
	}
}
