package totp

import (
	"net/http"
	"testing"

	"github.com/sessionguard/sessionguard/storage"
)

// TestHTTPTrustThisBrowser: after a second factor with "trust_browser",
// signing in again on that browser needs no code, while another browser
// still does; the browser is listed (as the current one) and can be
// revoked; turning the second factor off ends the trust.
func TestHTTPTrustThisBrowser(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, nil)
	setup := app.browser(t)
	setup.login("alice")
	secret, _ := setup.enrollHTTP()
	code := func() string {
		app.clock.Advance(Period) // each step is accepted once
		return app.code(t, secret, 0)
	}

	home := app.browser(t)
	if !home.login("alice") {
		t.Fatal("first sign-in on a new browser: got not pending, want pending")
	}
	r := home.do("POST", "/auth/totp/verify", map[string]any{"code": code(), "trust_browser": true})
	if r.status != http.StatusOK || r.json(t)["trusted_browser"] != true {
		t.Fatalf("verify with trust_browser: got %d %s, want 200 and trusted_browser", r.status, r.body)
	}
	if home.login("alice") {
		t.Fatal("sign-in on the trusted browser: got pending, want complete")
	}
	if got := home.whoami(); got != http.StatusOK {
		t.Errorf("after a trusted sign-in: whoami got %d, want 200", got)
	}
	if n := app.countEvents(t, "alice", storage.EventSecondFactorSkipped); n != 1 {
		t.Errorf("second_factor_skipped events: got %d, want 1", n)
	}
	if !app.browser(t).login("alice") {
		t.Error("sign-in on another browser: got complete, want pending")
	}

	r = home.do("GET", "/auth/trusted-browsers", nil)
	list, _ := r.json(t)["trusted_browsers"].([]any)
	if r.status != http.StatusOK || len(list) != 1 || list[0].(map[string]any)["current"] != true {
		t.Fatalf("GET /trusted-browsers: got %d %s, want one current browser", r.status, r.body)
	}
	if r := home.do("POST", "/auth/totp/disable", map[string]any{"code": code(), "trust_browser": true}); r.status != http.StatusBadRequest {
		t.Errorf("trust_browser on disable: got %d %s, want 400", r.status, r.body)
	}
	home.do("POST", "/reauth", nil)
	if r := home.do("POST", "/auth/totp/disable", map[string]any{"code": code()}); r.status != http.StatusOK {
		t.Fatalf("disable: got %d %s, want 200", r.status, r.body)
	}
	if r := home.do("GET", "/auth/trusted-browsers", nil); len(r.json(t)["trusted_browsers"].([]any)) != 0 {
		t.Errorf("after turning 2FA off: got %s, want no trusted browser", r.body)
	}
	home.enrollHTTP()
	if !home.login("alice") {
		t.Error("after 2FA was turned off and on again: got complete, want pending on the once-trusted browser")
	}
}
