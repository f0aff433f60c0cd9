package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/internal/fakeclock"

	otptotp "github.com/pquerna/otp/totp"
	"github.com/sessionguard/sessionguard/session"
	"golang.org/x/crypto/bcrypt"
)

// testClock is a clock the test moves by hand: TOTP codes need a new
// 30-second step for every use (replay protection), and "Last active 3
// hours ago" needs hours to pass.
type testClock = fakeclock.Clock

func newTestClock() *testClock { return fakeclock.New(time.Now().UTC().Truncate(time.Minute)) }

// testLocations places a few documentation addresses in cities: the demo
// mode's fake GeoIP data (demo.go).
var testLocations = demoLocations

// loopback trusts X-Forwarded-For from the test's own clients, so that
// each browser profile or client can claim a different address.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// newClockedServer serves an app on the in-memory store with a test clock,
// the fake locator, and X-Forwarded-For trusted from loopback.
func newClockedServer(t *testing.T) (*httptest.Server, *app, *testClock) {
	t.Helper()
	clock := newTestClock()
	a, err := newApp(appConfig{
		DataDir: t.TempDir(), Logger: quietLogger(), BcryptCost: bcrypt.MinCost, StoreKind: storeMemory,
		Clock: clock.Now, Locator: testLocations, TrustedProxies: loopback,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return srv, a, clock
}

// send sends a same-origin request as a browser would and does not follow
// redirects: it returns the status, the Location header and the body.
func (c *client) send(method, path string, form url.Values) (int, string, string) {
	c.t.Helper()
	noFollow := *c.c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Do(c.request(method, path, form))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// expectRedirect checks that method path answers 303 See Other to want.
func (c *client) expectRedirect(method, path string, form url.Values, want string) {
	c.t.Helper()
	status, loc, _ := c.send(method, path, form)
	if status != http.StatusSeeOther || loc != want {
		c.t.Errorf("%s %s: got %d to %q, want 303 to %q", method, path, status, loc, want)
	}
}

// page GETs path, following redirects, and checks where it lands and what
// it says.
func (c *client) page(path, wantPath string, want ...string) string {
	c.t.Helper()
	status, at, body := c.do("GET", path, nil)
	if at != wantPath {
		c.t.Errorf("GET %s: landed on %s (%d), want %s", path, at, status, wantPath)
		return body
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			c.t.Errorf("GET %s: the page does not say %q", path, w)
		}
	}
	return body
}

// code returns the TOTP code of the next 30-second step, moving the clock
// there: each step is accepted once.
func code(t *testing.T, clock *testClock, secret string) string {
	t.Helper()
	clock.Advance(30 * time.Second)
	c, err := otptotp.GenerateCode(secret, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enableTwoFactor turns on TOTP for username through the Go API and
// returns the secret and the recovery codes.
func enableTwoFactor(t *testing.T, a *app, clock *testClock, username, password string) (string, []string) {
	t.Helper()
	u, err := a.users.authenticate(username, password)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e, err := a.tf.Enroll(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := a.tf.Confirm(ctx, session.Audit{}, u.ID, code(t, clock, e.Secret))
	if err != nil {
		t.Fatal(err)
	}
	return e.Secret, codes
}

// userID returns the ID of an account.
func userID(t *testing.T, a *app, username, password string) string {
	t.Helper()
	u, err := a.users.authenticate(username, password)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// handleOf extracts the session handles listed on a sessions page, in
// order, with the one marked This device.
func handlesOf(body string) (all []string, current string) {
	for _, li := range strings.Split(body, `<li class="session`)[1:] {
		m := sessionIDs.FindStringSubmatch(li)
		if m == nil {
			continue
		}
		all = append(all, m[1])
		if strings.Contains(li, "This device") {
			current = m[1]
		}
	}
	return all, current
}
