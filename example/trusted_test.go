package main

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var trustedIDs = regexp.MustCompile(`<li class="trusted-browser" data-id="([A-Za-z0-9_-]+)">`)

// signInWithCode signs in with the password and then a code, ticking
// "Don't ask again on this browser" when trust is set, and returns the
// page it lands on.
func signInWithCode(t *testing.T, c *client, clock *testClock, secret string, trust bool) string {
	t.Helper()
	c.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}, "remember": {"on"}}, "/login/2fa")
	form := url.Values{"code": {code(t, clock, secret)}}
	if trust {
		form.Set("trust", "on")
	}
	_, at, body := c.do("POST", "/login/2fa", form)
	if at != "/" && !strings.HasPrefix(at, "/?") {
		t.Fatalf("the second factor landed on %s: %.300s", at, body)
	}
	return body
}

func TestTrustThisBrowser(t *testing.T) {
	t.Parallel()
	srv, a, clock := newClockedServer(t)
	secret, _ := enableTwoFactor(t, a, clock, demoUser, demoPassword)
	laptop, phone := newClient(t, srv, chromeMac), newClient(t, srv, iphone)
	laptop.ip = "203.0.113.7"

	// The box is on both forms of the code step, unticked.
	laptop.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
	for _, path := range []string{"/login/2fa", "/login/2fa?with=recovery-code"} {
		body := laptop.page(path, path, "Don't ask again on this browser")
		if strings.Contains(body, `name="trust" value="on" aria-describedby="trust-hint" checked`) {
			t.Errorf("%s: the trust box is ticked by default", path)
		}
	}
	laptop.do("POST", "/logout", nil)

	if body := signInWithCode(t, laptop, clock, secret, true); !strings.Contains(body, "This browser is trusted") {
		t.Errorf("after ticking the box the home page does not say the browser is trusted:\n%.500s", body)
	}
	laptop.do("POST", "/logout", nil)
	// Trusted: the password alone completes the sign-in here…
	laptop.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/")
	// …but not on another browser, nor after a sign-in that did not tick it.
	signInWithCode(t, phone, clock, secret, false)
	phone.do("POST", "/logout", nil)
	phone.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")

	body := laptop.page("/two-factor", "/two-factor", "Trusted browsers", "Chrome 131 on macOS", "Lisbon, Portugal", `data-post="/two-factor/trusted-browsers/`)
	ids := trustedIDs.FindAllStringSubmatch(body, -1)
	if len(ids) != 1 {
		t.Fatalf("the two-factor page lists %d trusted browsers, want 1", len(ids))
	}
	id := ids[0][1]
	laptop.page("/two-factor/trusted-browsers/"+id, "/two-factor/trusted-browsers/"+id,
		"Stop trusting Chrome 131 on macOS?", "will ask for a code from your authenticator app again", `action="/two-factor/trusted-browsers/`+id+`/remove"`)
	laptop.page("/two-factor/trusted-browsers/nope", "/two-factor?m=browser-not-found", "That browser is no longer trusted.")

	// Another account can neither see nor remove it.
	if _, err := a.users.create("bob", "bob-password-123"); err != nil {
		t.Fatal(err)
	}
	bob := newClient(t, srv, chromeMac)
	bob.login("bob", "bob-password-123")
	bob.page("/two-factor/trusted-browsers/"+id, "/two-factor?m=browser-not-found")
	bob.expectRedirect("POST", "/two-factor/trusted-browsers/"+id+"/remove", nil, "/two-factor?m=browser-not-found")
	laptop.do("POST", "/logout", nil)
	laptop.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/")

	// Removed, the browser asks for the code again.
	laptop.expectRedirect("POST", "/two-factor/trusted-browsers/"+id+"/remove", nil, "/two-factor?m=browser-removed")
	body = laptop.page("/two-factor", "/two-factor", "No browser is trusted.")
	if strings.Contains(body, `class="trusted-browser"`) {
		t.Error("the removed browser is still listed")
	}
	laptop.do("POST", "/logout", nil)
	laptop.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/login/2fa")
}

func TestTrustedBrowserRemovalIsProtected(t *testing.T) {
	t.Parallel()
	srv, a, clock := newClockedServer(t)
	secret, _ := enableTwoFactor(t, a, clock, demoUser, demoPassword)
	laptop := newClient(t, srv, chromeMac)
	signInWithCode(t, laptop, clock, secret, true)
	id := trustedIDs.FindStringSubmatch(laptop.page("/two-factor", "/two-factor"))[1]
	// A GET never removes; a cross-site POST is refused.
	laptop.page("/two-factor/trusted-browsers/"+id+"/remove", "/two-factor/trusted-browsers/"+id+"/remove")
	req := laptop.request("POST", "/two-factor/trusted-browsers/"+id+"/remove", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := laptop.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("a cross-site removal: got %d, want 403", resp.StatusCode)
	}
	if ids := trustedIDs.FindAllString(laptop.page("/two-factor", "/two-factor"), -1); len(ids) != 1 {
		t.Errorf("after a GET and a cross-site POST: got %d trusted browsers, want 1", len(ids))
	}
}
