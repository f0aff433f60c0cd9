package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	a, err := newApp(appConfig{DataDir: t.TempDir(), Logger: quietLogger(), BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return srv
}

// client is one browser profile.
type client struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
	ua  string
	ip  string // sent as X-Forwarded-For when set
}

func newClient(t *testing.T, srv *httptest.Server, ua string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, srv: srv, ua: ua, c: &http.Client{Jar: jar}}
}

// request builds a request as this browser would send it: same-origin
// fetch metadata, its User-Agent and (through the test's trusted proxy) its
// address.
func (c *client) request(method, path string, form url.Values) *http.Request {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("User-Agent", c.ua)
	if c.ip != "" {
		req.Header.Set("X-Forwarded-For", c.ip)
	}
	return req
}

// do sends a request as the browser would (same-origin fetch metadata) and
// follows redirects; it returns the final status, URL path and body.
func (c *client) do(method, path string, form url.Values) (int, string, string) {
	c.t.Helper()
	resp, err := c.c.Do(c.request(method, path, form))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.RequestURI(), string(b)
}

// login signs in as the form does by default: "Remember me" is ticked.
func (c *client) login(user, password string) string {
	c.t.Helper()
	_, path, body := c.do("POST", "/login", url.Values{"username": {user}, "password": {password}, "remember": {"on"}})
	if path != "/" {
		c.t.Fatalf("login as %s landed on %s: %s", user, path, body)
	}
	return body
}

const (
	chromeMac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	iphone    = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

var sessionIDs = regexp.MustCompile(`href="/sessions/([A-Za-z0-9_-]+)"`)

func TestSignInListAndLogOutOthers(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	laptop, phone := newClient(t, srv, chromeMac), newClient(t, srv, iphone)
	laptop.login(demoUser, demoPassword)
	phone.login(demoUser, demoPassword)

	status, _, body := laptop.do("GET", "/sessions", nil)
	if status != 200 || !strings.Contains(body, "Chrome 131 on macOS") || !strings.Contains(body, "This device") {
		t.Fatalf("sessions page: %d\n%s", status, body)
	}
	if n := len(sessionIDs.FindAllString(body, -1)); n != 2 {
		t.Fatalf("sessions page lists %d sessions, want 2", n)
	}

	_, path, body := laptop.do("POST", "/sessions/logout-others", url.Values{})
	if path != "/sessions?m=ended-others&n=1" || !strings.Contains(body, "All your other sessions were ended. 1 session ended.") {
		t.Fatalf("log out others landed on %s", path)
	}
	_, path, body = phone.do("GET", "/sessions", nil)
	if path != "/login?m=signed-out" || !strings.Contains(body, "You were logged out") {
		t.Errorf("the phone after log-out-others: landed on %s", path)
	}
	if _, path, _ := laptop.do("GET", "/sessions", nil); path != "/sessions" {
		t.Errorf("the laptop was signed out too: %s", path)
	}
}

func TestEndOneSessionAndLogout(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	a, b := newClient(t, srv, chromeMac), newClient(t, srv, iphone)
	a.login(demoUser, demoPassword)
	b.login(demoUser, demoPassword)
	_, _, body := a.do("GET", "/sessions", nil)
	var other string
	for _, li := range strings.Split(body, "<li ")[1:] {
		if !strings.Contains(li, "This device") {
			other = sessionIDs.FindStringSubmatch(li)[1]
		}
	}
	if _, path, _ := a.do("POST", "/sessions/"+other+"/logout", url.Values{}); path != "/sessions?m=ended-one" {
		t.Fatalf("ending a session landed on %s", path)
	}
	if _, path, _ := b.do("GET", "/", nil); !strings.HasPrefix(path, "/login") {
		t.Errorf("the ended session still reaches %s", path)
	}
	if _, path, _ := a.do("POST", "/logout", url.Values{}); path != "/login?m=logged-out" {
		t.Errorf("logout landed on %s", path)
	}
	if _, path, _ := a.do("GET", "/sessions", nil); !strings.HasPrefix(path, "/login") {
		t.Errorf("after logout the sessions page is reachable")
	}
}

func TestSignupAndBadLogin(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	c := newClient(t, srv, chromeMac)
	status, _, body := c.do("POST", "/login", url.Values{"username": {demoUser}, "password": {"wrong"}})
	if status != 401 || !strings.Contains(body, "Wrong username or password.") {
		t.Errorf("bad password: %d", status)
	}
	if status, _, _ := c.do("POST", "/signup", url.Values{"username": {"x"}, "password": {"short"}}); status != 400 {
		t.Errorf("bad signup: got %d, want 400", status)
	}
	_, path, body := c.do("POST", "/signup", url.Values{"username": {"newbie"}, "password": {"correct horse"}})
	if path != "/?m=welcome" || !strings.Contains(body, "Hello, newbie") {
		t.Errorf("signup landed on %s", path)
	}
	if status, _, _ := c.do("POST", "/signup", url.Values{"username": {"newbie"}, "password": {"correct horse"}}); status != 400 {
		t.Errorf("duplicate signup: got %d, want 400", status)
	}
}

func TestHostileUserAgentIsEscaped(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	evil := newClient(t, srv, `<script>alert(1)</script>"onmouseover="x`)
	evil.login(demoUser, demoPassword)
	viewer := newClient(t, srv, chromeMac)
	viewer.login(demoUser, demoPassword)
	_, _, body := viewer.do("GET", "/sessions", nil)
	if strings.Contains(body, "<script>alert") || strings.Contains(body, `"onmouseover="`) {
		t.Error("a hostile User-Agent reached the page unescaped")
	}
}

func TestCrossSiteFormPostRefused(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	c := newClient(t, srv, chromeMac)
	c.login(demoUser, demoPassword)
	for _, path := range []string{"/logout", "/sessions/logout-others", "/sessions/x/logout", "/login", "/signup"} {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(""))
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
	if _, path, _ := c.do("GET", "/", nil); path != "/" {
		t.Error("a refused cross-site request signed the user out")
	}
}

func TestKeysPersistAcrossRestarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, err := loadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := loadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(k1.Cookie[0].HashKey) != string(k2.Cookie[0].HashKey) {
		t.Error("keys were regenerated on restart")
	}
}
