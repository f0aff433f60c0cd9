package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/session"
)

var (
	shownSecret   = regexp.MustCompile(`<code class="secret" id="totp-secret">([A-Z2-7 ]+)</code>`)
	shownQR       = regexp.MustCompile(`<img class="qr" src="data:image/png;base64,([A-Za-z0-9/=]|&#43;){200,}"`)
	shownRecovery = regexp.MustCompile(`<li><code>([a-z2-7-]{34})</code></li>`)
)

// recoveryCodesOn returns the recovery codes a page shows.
func recoveryCodesOn(body string) []string {
	var codes []string
	for _, m := range shownRecovery.FindAllStringSubmatch(body, -1) {
		codes = append(codes, m[1])
	}
	return codes
}

// setUpTwoFactor goes through the two-factor pages as a person would and
// returns the secret and the recovery codes.
func setUpTwoFactor(t *testing.T, c *client, clock *testClock) (string, []string) {
	t.Helper()
	c.expectRedirect("POST", "/two-factor/enroll", url.Values{}, "/two-factor")
	body := c.page("/two-factor", "/two-factor", "Scan this QR code", `<label for="confirm-code">`)
	m := shownSecret.FindStringSubmatch(body)
	if m == nil || !shownQR.MatchString(body) {
		t.Fatalf("the setup page shows no secret or no QR code:\n%s", body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	c.expectRedirect("POST", "/two-factor/confirm", url.Values{"code": {code(t, clock, secret)}}, "/two-factor/recovery-codes?m=2fa-enabled")
	body = c.page("/two-factor/recovery-codes?m=2fa-enabled", "/two-factor/recovery-codes?m=2fa-enabled", "Two-factor authentication is on.", "Save these codes now", "shown only this once")
	codes := recoveryCodesOn(body)
	if len(codes) != 10 {
		t.Fatalf("got %d recovery codes, want 10", len(codes))
	}
	return secret, codes
}

func TestTwoFactorSetUp(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.expectRedirect("GET", "/two-factor", nil, "/login")
	c.login(demoUser, demoPassword)
	body := c.page("/two-factor", "/two-factor", "Off", "Set up two-factor authentication")
	if strings.Contains(body, `name="password"`) {
		t.Error("a fresh sign-in is asked for its password")
	}

	t.Run("a wrong first code does not turn it on", func(t *testing.T) {
		c.expectRedirect("POST", "/two-factor/enroll", url.Values{}, "/two-factor")
		c.expectRedirect("POST", "/two-factor/confirm", url.Values{"code": {"000000"}}, "/two-factor?f=confirm-code&m=wrong-code")
		c.page("/two-factor?f=confirm-code&m=wrong-code", "/two-factor?f=confirm-code&m=wrong-code", "That code is not right.", "Scan this QR code", `id="confirm-code" name="code" class="code" inputmode="numeric" pattern="[0-9 ]*" maxlength="8" autocomplete="one-time-code" required  aria-invalid="true" autofocus aria-describedby="confirm-code-error"`, `<p class="field-error" id="confirm-code-error">That code is not right.`)
	})
	t.Run("cancelling drops the setup", func(t *testing.T) {
		c.expectRedirect("POST", "/two-factor/cancel", url.Values{}, "/two-factor?m=2fa-cancelled")
		body := c.page("/two-factor", "/two-factor", "Set up two-factor authentication")
		if strings.Contains(body, "totp-secret") {
			t.Error("the cancelled secret is still shown")
		}
	})

	secret, codes := setUpTwoFactor(t, c, clock)
	t.Run("the recovery codes are shown once", func(t *testing.T) {
		body := c.page("/two-factor/recovery-codes", "/two-factor/recovery-codes", "can't be shown again", "You have 10 unused codes.")
		if strings.Contains(body, codes[0]) {
			t.Error("the recovery codes were shown twice")
		}
	})
	t.Run("the secret is never shown again", func(t *testing.T) {
		body := c.page("/two-factor", "/two-factor", "On", "You have 10 unused recovery codes.", "Turn off")
		if strings.Contains(body, "totp-secret") || strings.Contains(body, secret[:8]) {
			t.Error("the confirmed secret is shown again")
		}
		c.expectRedirect("POST", "/two-factor/enroll", url.Values{}, "/two-factor?m=2fa-on-already")
		c.expectRedirect("POST", "/two-factor/cancel", url.Values{}, "/two-factor?m=2fa-on-already")
		c.page("/auth/totp", "/auth/totp", `"enabled":true`)
	})
	t.Run("a stale sign-in needs the password to start a setup", func(t *testing.T) {
		d := newClient(t, srv, firefoxUA)
		d.do("POST", "/signup", url.Values{"username": {"dora"}, "password": {"dora-password"}})
		clock.Advance(20 * time.Minute)
		d.page("/two-factor", "/two-factor", `<label for="enroll-password">Your password</label>`)
		d.expectRedirect("POST", "/two-factor/enroll", url.Values{}, "/two-factor?m=wrong-confirm")
		d.page("/two-factor", "/two-factor", "Set up two-factor authentication")
		d.expectRedirect("POST", "/two-factor/enroll", url.Values{"password": {"dora-password"}}, "/two-factor")
		d.page("/two-factor", "/two-factor", "Scan this QR code")
	})
}

func TestRevealedSecretsStayWithTheirSession(t *testing.T) {
	t.Parallel()
	srv, _, _ := newClockedServer(t)
	c, other := newClient(t, srv, chromeMac), newClient(t, srv, iphone)
	c.login(demoUser, demoPassword)
	other.login(demoUser, demoPassword)
	c.expectRedirect("POST", "/two-factor/enroll", url.Values{}, "/two-factor")
	// Another session of the same user, given this browser's reveal
	// cookie, does not see the secret.
	u, _ := url.Parse(srv.URL)
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == revealCookie {
			other.c.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/"}})
		}
	}
	if body := other.page("/two-factor", "/two-factor"); strings.Contains(body, "totp-secret") {
		t.Error("another session read the revealed secret")
	}
	c.page("/two-factor", "/two-factor", "totp-secret")
}

func TestRecoveryCodesRegenerate(t *testing.T) {
	t.Parallel()
	srv, a, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.login(demoUser, demoPassword)
	c.expectRedirect("POST", "/two-factor/recovery-codes", url.Values{"code": {"123456"}}, "/two-factor?m=2fa-off-already")
	secret, old := setUpTwoFactor(t, c, clock)

	c.expectRedirect("POST", "/two-factor/recovery-codes", url.Values{"code": {"000000"}}, "/two-factor?f=regenerate-code&m=wrong-code")
	clock.Advance(20 * time.Minute)
	c.expectRedirect("POST", "/two-factor/recovery-codes", url.Values{"code": {code(t, clock, secret)}}, "/two-factor?m=wrong-confirm")
	c.expectRedirect("POST", "/two-factor/recovery-codes", url.Values{"password": {demoPassword}, "code": {code(t, clock, secret)}}, "/two-factor/recovery-codes")
	codes := recoveryCodesOn(c.page("/two-factor/recovery-codes", "/two-factor/recovery-codes", "Save these codes now"))
	if len(codes) != 10 || codes[0] == old[0] {
		t.Fatalf("got %d new codes (first %q, old first %q)", len(codes), codes[0], old[0])
	}
	// The old codes stopped working, the new ones work.
	uid := userID(t, a, demoUser, demoPassword)
	if err := a.tf.VerifyRecoveryCode(t.Context(), session.Audit{}, uid, old[1]); err == nil {
		t.Error("an old recovery code still works")
	}
	if err := a.tf.VerifyRecoveryCode(t.Context(), session.Audit{}, uid, codes[1]); err != nil {
		t.Errorf("a new recovery code: %v", err)
	}
}

func TestTwoFactorDisable(t *testing.T) {
	t.Parallel()
	srv, _, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.login(demoUser, demoPassword)
	_, codes := setUpTwoFactor(t, c, clock)

	c.expectRedirect("POST", "/two-factor/disable", url.Values{"code": {"not a code"}}, "/two-factor?f=disable-code&m=wrong-code")
	clock.Advance(20 * time.Minute)
	c.expectRedirect("POST", "/two-factor/disable", url.Values{"code": {codes[0]}}, "/two-factor?m=wrong-confirm")
	c.page("/two-factor", "/two-factor", "On")
	c.expectRedirect("POST", "/two-factor/disable", url.Values{"password": {demoPassword}, "code": {codes[0]}}, "/two-factor?m=2fa-disabled")
	c.page("/two-factor?m=2fa-disabled", "/two-factor?m=2fa-disabled", "Two-factor authentication is off.", "Set up two-factor authentication")
	c.expectRedirect("POST", "/two-factor/disable", url.Values{"code": {codes[1]}}, "/two-factor?m=2fa-off-already")

	// Signing in needs the password only again.
	p := newClient(t, srv, iphone)
	p.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/")
}
