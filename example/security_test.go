package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pagesForSignedIn are the GET pages that need a signed-in user.
var pagesForSignedIn = []string{
	"/", "/sessions", "/sessions/confirm/others", "/sessions/confirm/everywhere", "/two-factor",
	"/two-factor/recovery-codes", "/apps", "/security-log", "/password",
}

// actions are the state-changing form targets of a signed-in user, with a
// plausible form for each.
var actions = []struct {
	path string
	form url.Values
}{
	{"/sessions/x/logout", url.Values{}},
	{"/sessions/logout-others", url.Values{"password": {demoPassword}}},
	{"/sessions/logout-everywhere", url.Values{"password": {demoPassword}}},
	{"/two-factor/enroll", url.Values{"password": {demoPassword}}},
	{"/two-factor/confirm", url.Values{"code": {"123456"}}},
	{"/two-factor/cancel", url.Values{}},
	{"/two-factor/recovery-codes", url.Values{"password": {demoPassword}, "code": {"123456"}}},
	{"/two-factor/disable", url.Values{"password": {demoPassword}, "code": {"123456"}}},
	{"/apps/demo", url.Values{}},
	{"/apps/x/revoke", url.Values{}},
	{"/password", url.Values{"current": {demoPassword}, "new": {"taken over!"}, "confirm": {"taken over!"}}},
}

func TestPendingSessionReachesOnlyTheSecondStep(t *testing.T) {
	t.Parallel()
	srv, a, clock := newClockedServer(t)
	secret, _ := enableTwoFactor(t, a, clock, demoUser, demoPassword)
	owner := newClient(t, srv, chromeMac)
	owner.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
	owner.expectRedirect("POST", "/login/2fa", url.Values{"code": {code(t, clock, secret)}}, "/")

	// Someone who knows the password, but has no code.
	thief := newClient(t, srv, firefoxUA)
	thief.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
	for _, path := range append(pagesForSignedIn, "/login", "/signup") {
		thief.expectRedirect("GET", path, nil, "/login/2fa")
	}
	for _, act := range actions {
		thief.expectRedirect("POST", act.path, act.form, "/login/2fa")
	}
	for _, path := range []string{"/auth/sessions", "/auth/events", "/auth/apps", "/auth/totp"} {
		if status, _, _ := thief.send("GET", path, nil); status != http.StatusUnauthorized {
			t.Errorf("GET %s from a pending session: got %d, want 401", path, status)
		}
	}
	thief.page("/login/2fa", "/login/2fa", "Code from your authenticator app")

	// Nothing changed: the owner is still signed in, two-factor is on, the
	// password is the same.
	owner.page("/two-factor", "/two-factor", "On")
	if _, err := a.users.authenticate(demoUser, demoPassword); err != nil {
		t.Error("the password changed")
	}
	if body := owner.page("/apps", "/apps"); !strings.Contains(body, "No app has access") {
		t.Error("an app was connected")
	}
	thief.expectRedirect("POST", "/logout", url.Values{}, "/login?m=logged-out")
}

func TestCrossSitePostsRefused(t *testing.T) {
	t.Parallel()
	srv, _, _ := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.login(demoUser, demoPassword)
	paths := []string{"/login", "/login/2fa", "/signup", "/logout", "/auth/logout", "/auth/sessions/revoke-others", "/auth/totp/enroll"}
	for _, act := range actions {
		paths = append(paths, act.path)
	}
	for _, path := range paths {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(url.Values{"password": {demoPassword}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := c.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: got %d, want 403", path, resp.StatusCode)
		}
	}
	body := c.page("/sessions", "/sessions", "This device")
	if all, _ := handlesOf(body); len(all) != 1 {
		t.Errorf("got %d sessions after the refused requests, want 1", len(all))
	}
}

func TestGetOnPostRoutes(t *testing.T) {
	t.Parallel()
	srv, _, _ := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.login(demoUser, demoPassword)
	paths := []string{"/logout", "/auth/logout", "/auth/sessions/revoke-others", "/auth/totp/enroll"}
	for _, act := range actions {
		if act.path != "/two-factor/recovery-codes" && act.path != "/password" { // also pages
			paths = append(paths, act.path)
		}
	}
	for _, path := range paths {
		if status, _, _ := c.send("GET", path, nil); status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: got %d, want 405", path, status)
		}
	}
	for _, path := range []string{"/", "/sessions", "/password"} {
		if status, _, _ := c.send("DELETE", path, nil); status != http.StatusMethodNotAllowed {
			t.Errorf("DELETE %s: got %d, want 405", path, status)
		}
	}
}

func TestHostileUserAgentIsEscapedEverywhere(t *testing.T) {
	t.Parallel()
	srv, a, _ := newClockedServer(t)
	// 8 KiB of User-Agent with markup, quotes, CR and LF: a real client
	// library refuses to send CR/LF, so the request is served in-process.
	hostile := "Mozilla/5.0 <script>alert(1)</script><img src=x onerror=alert(2)>\"'\r\nX-Injected: yes\r\n Chrome/131.0 " +
		strings.Repeat("A", 8<<10) + "END-OF-UA"
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"username": {demoUser}, "password": {demoPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header["User-Agent"] = []string{hostile}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("signing in with a hostile User-Agent: got %d", rec.Code)
	}

	viewer := newClient(t, srv, chromeMac)
	viewer.login(demoUser, demoPassword)
	hostileHandles, hostileCurrent := handlesOf(viewer.page("/sessions", "/sessions"))
	paths := []string{"/sessions", "/security-log"}
	for _, h := range hostileHandles {
		if h != hostileCurrent {
			paths = append(paths, "/sessions/"+h)
		}
	}
	for _, path := range paths {
		status, _, body := viewer.do("GET", path, nil)
		if status != 200 {
			t.Fatalf("GET %s: got %d", path, status)
		}
		for _, bad := range []string{"<script>alert", "<img src=x", `onerror=alert(2)>"`, "END-OF-UA"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s: the page contains %q", path, bad)
			}
		}
		if strings.Contains(body, strings.Repeat("A", 600)) {
			t.Errorf("GET %s: the User-Agent was not truncated", path)
		}
	}
	// The stored (truncated) User-Agent is shown, escaped, on the session's
	// own page.
	all, current := handlesOf(viewer.page("/sessions", "/sessions"))
	var hostileID string
	for _, h := range all {
		if h != current {
			hostileID = h
		}
	}
	viewer.page("/sessions/"+hostileID, "/sessions/"+hostileID, "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&#34;&#39;", strings.Repeat("A", 100))
	// The response headers are the app's own.
	resp, err := viewer.c.Get(srv.URL + "/sessions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Injected") != "" {
		t.Error("the User-Agent injected a header")
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("the page has no %s header", h)
		}
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("a signed-in page: got Cache-Control %q, want no-store", cc)
	}
}

var (
	inputTag = regexp.MustCompile(`<input\b[^>]*>`)
	inputID  = regexp.MustCompile(`\bid="([^"]+)"`)
)

// TestEveryInputHasALabel renders every form of the app, in each of its
// states, and checks that each visible input has a <label for> (WCAG
// 1.3.1, 4.1.2) and that the page has one <h1> and a language.
func TestEveryInputHasALabel(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	var pages []string
	grab := func(path string) {
		_, _, body := c.do("GET", path, nil)
		pages = append(pages, body)
	}
	grab("/login")
	grab("/signup")
	c.login(demoUser, demoPassword)
	for _, p := range pagesForSignedIn {
		grab(p)
	}
	c.expectRedirect("POST", "/apps/demo", url.Values{}, "/apps")
	grab("/apps") // with the token shown
	c.expectRedirect("POST", "/two-factor/enroll", url.Values{}, "/two-factor")
	grab("/two-factor") // the setup
	setUpTwoFactor(t, c, clock)
	clock.Advance(20 * time.Minute) // stale: the password fields appear
	for _, p := range pagesForSignedIn {
		grab(p)
	}
	p := newClient(t, srv, iphone)
	p.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
	for _, path := range []string{"/login/2fa", "/login/2fa?with=recovery-code"} {
		_, _, body := p.do("GET", path, nil)
		pages = append(pages, body)
	}

	inputs := 0
	for _, body := range pages {
		title := regexp.MustCompile(`<title>([^<]*)</title>`).FindStringSubmatch(body)
		if title == nil || strings.Count(body, "<h1>") != 1 || !strings.Contains(body, `<html lang="en">`) {
			t.Errorf("a page without a title, one h1 or a language:\n%.300s", body)
			continue
		}
		for _, tag := range inputTag.FindAllString(body, -1) {
			if strings.Contains(tag, `type="hidden"`) {
				continue
			}
			inputs++
			id := inputID.FindStringSubmatch(tag)
			if id == nil || !strings.Contains(body, `<label for="`+id[1]+`">`) {
				t.Errorf("%s: %s has no label", title[1], tag)
			}
		}
	}
	if inputs < 20 {
		t.Errorf("checked %d inputs, expected every form of the app", inputs)
	}
}
