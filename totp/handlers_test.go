package totp

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// testApp is a small application using the Service, served over TLS
// (Secure cookies need it), mounted as the Routes doc says.
type testApp struct {
	*testEnv
	srv *httptest.Server
}

func newTestApp(t *testing.T, edit func(*Config)) *testApp {
	t.Helper()
	env := newTestEnv(t, edit)
	mux := http.NewServeMux()
	mux.Handle("/auth/", env.mgr.Routes(env.svc))
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// The application checked the password.
		pending, err := env.svc.SignIn(w, r, r.URL.Query().Get("user"))
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]bool{"pending": pending})
	})
	mux.HandleFunc("POST /reauth", func(w http.ResponseWriter, r *http.Request) {
		// The application re-checked the password.
		if _, err := env.mgr.Elevate(w, r, storage.AuthPassword); err != nil {
			http.Error(w, "reauth failed", http.StatusUnauthorized)
		}
	})
	mux.Handle("GET /whoami", env.mgr.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		io.WriteString(w, s.UserID)
	})))
	srv := httptest.NewTLSServer(env.mgr.Handler(mux))
	t.Cleanup(srv.Close)
	return &testApp{testEnv: env, srv: srv}
}

// browser is one user agent with its own cookie jar, sending requests the
// way a browser does (Sec-Fetch-Site, Origin).
type browser struct {
	t   *testing.T
	app *testApp
	c   *http.Client
}

func (a *testApp) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := new(http.Client)
	*c = *a.srv.Client() // a copy: the server's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, app: a, c: c}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (r response) errorCode(t *testing.T) string {
	t.Helper()
	s, _ := r.json(t)["error"].(string)
	return s
}

// do sends a same-origin request; body, if not nil, is sent as JSON.
func (b *browser) do(method, path string, body any) response {
	b.t.Helper()
	return b.send(method, path, body, "same-origin", b.app.srv.URL)
}

func (b *browser) send(method, path string, body any, fetchSite, origin string) response {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			j, err := json.Marshal(body)
			if err != nil {
				b.t.Fatal(err)
			}
			rd = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequest(method, b.app.srv.URL+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Sec-Fetch-Site", fetchSite)
	if method != http.MethodGet && origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, data}
}

// login signs in as user (the password was checked) and reports whether
// the session is pending its second factor.
func (b *browser) login(user string) bool {
	b.t.Helper()
	r := b.do("POST", "/login?user="+url.QueryEscape(user), nil)
	if r.status != http.StatusOK {
		b.t.Fatalf("login: got %d %s, want 200", r.status, r.body)
	}
	return r.json(b.t)["pending"].(bool)
}

func (b *browser) whoami() int {
	b.t.Helper()
	return b.do("GET", "/whoami", nil).status
}

// cookies returns a copy of the jar's cookies.
func (b *browser) cookies() []*http.Cookie {
	u, _ := url.Parse(b.app.srv.URL)
	return b.c.Jar.Cookies(u)
}

// withCookies returns a new browser holding exactly cookies.
func (a *testApp) withCookies(t *testing.T, cookies []*http.Cookie) *browser {
	b := a.browser(t)
	u, _ := url.Parse(a.srv.URL)
	b.c.Jar.SetCookies(u, cookies)
	return b
}

// enrollHTTP enrolls and confirms the browser's user through the routes
// and moves the clock two steps on. It returns the secret and the codes.
func (b *browser) enrollHTTP() (string, []string) {
	b.t.Helper()
	r := b.do("POST", "/auth/totp/enroll", nil)
	if r.status != http.StatusOK {
		b.t.Fatalf("enroll: got %d %s, want 200", r.status, r.body)
	}
	secret := r.json(b.t)["secret"].(string)
	r = b.do("POST", "/auth/totp/confirm", map[string]string{"code": b.app.code(b.t, secret, 0)})
	if r.status != http.StatusOK {
		b.t.Fatalf("confirm: got %d %s, want 200", r.status, r.body)
	}
	var body struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		b.t.Fatal(err)
	}
	b.app.clock.Advance(2 * Period)
	return secret, body.RecoveryCodes
}

func TestHTTPSignInWithSecondFactor(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, nil)
	alice := app.browser(t)
	if alice.login("alice") {
		t.Fatal("login without a second factor is pending")
	}
	if r := alice.do("GET", "/auth/totp", nil); r.status != 200 || string(r.body) != `{"enabled":false,"pending":false,"recovery_codes_left":0}`+"\n" {
		t.Fatalf("status: got %d %s", r.status, r.body)
	}

	// Enrollment: secret, URL and QR code, no-store.
	r := alice.do("POST", "/auth/totp/enroll", nil)
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enroll: got %d, Cache-Control %q; want 200, no-store", r.status, r.header.Get("Cache-Control"))
	}
	var en struct {
		Secret string `json:"secret"`
		URL    string `json:"otpauth_url"`
		QRPNG  []byte `json:"qr_png"`
	}
	if err := json.Unmarshal(r.body, &en); err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(en.QRPNG)); err != nil || !strings.HasPrefix(en.URL, "otpauth://totp/") || en.Secret == "" {
		t.Fatalf("enroll: got URL %q, PNG error %v", en.URL, err)
	}
	if r := alice.do("GET", "/auth/totp/", nil); r.status != 200 || r.json(t)["pending"] != true {
		t.Fatalf("status while pending: got %d %s", r.status, r.body)
	}
	r = alice.do("POST", "/auth/totp/confirm", map[string]string{"code": app.code(t, en.Secret, 0)})
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("confirm: got %d %s", r.status, r.body)
	}
	if codes := r.json(t)["recovery_codes"].([]any); len(codes) != 10 {
		t.Fatalf("confirm: got %d recovery codes, want 10", len(codes))
	}
	// The confirmed secret is never returned again.
	if r := alice.do("POST", "/auth/totp/enroll", nil); r.status != http.StatusConflict || r.errorCode(t) != "already_enabled" {
		t.Errorf("second enroll: got %d %s, want 409 already_enabled", r.status, r.body)
	}
	r = alice.do("GET", "/auth/totp", nil)
	if r.status != 200 || string(r.body) != `{"enabled":true,"pending":false,"recovery_codes_left":10}`+"\n" {
		t.Errorf("status: got %d %s", r.status, r.body)
	}
	if bytes.Contains(r.body, []byte(en.Secret)) {
		t.Error("status contains the secret")
	}
	app.clock.Advance(2 * Period)

	// A new sign-in is pending and gets nowhere but the second step.
	phone := app.browser(t)
	if !phone.login("alice") {
		t.Fatal("login with a second factor is not pending")
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/whoami"}, {"GET", "/auth/sessions"}, {"GET", "/auth/totp"},
		{"POST", "/auth/totp/enroll"}, {"POST", "/auth/totp/confirm"}, {"POST", "/auth/totp/disable"},
		{"POST", "/auth/totp/recovery-codes"}, {"POST", "/auth/sessions/revoke-others"},
	} {
		if r := phone.do(c.method, c.path, map[string]string{"code": app.code(t, en.Secret, 0)}); r.status != http.StatusUnauthorized {
			t.Errorf("pending session: %s %s got %d %s, want 401", c.method, c.path, r.status, r.body)
		}
	}
	pendingCookies := phone.cookies()
	r = phone.do("POST", "/auth/totp/verify", map[string]string{"code": app.code(t, en.Secret, 0)})
	if r.status != 200 || r.json(t)["auth_level"] != "second_factor" {
		t.Fatalf("verify: got %d %s, want 200 second_factor", r.status, r.body)
	}
	if phone.whoami() != 200 {
		t.Fatal("after verify: not signed in")
	}
	// The token was rotated: the pending cookie is dead.
	stale := app.withCookies(t, pendingCookies)
	if r := stale.do("POST", "/auth/totp/verify", map[string]string{"code": app.code(t, en.Secret, 1)}); r.status != http.StatusUnauthorized {
		t.Errorf("old cookie on verify: got %d %s, want 401", r.status, r.body)
	}
	if stale.whoami() != http.StatusUnauthorized {
		t.Error("old cookie still signs in")
	}

	// The event of the second step names the session and the client.
	evs, err := app.store.ListEvents(context.Background(), "alice", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var used *storage.Event
	for i := range evs {
		if evs[i].Type == storage.EventSecondFactorUsed {
			used = &evs[i]
			break
		}
	}
	if used == nil || used.SessionHandle == "" || used.IP != "127.0.0.1" {
		t.Errorf("got second_factor_used event %+v, want one with a session handle and IP 127.0.0.1", used)
	}
}

func TestHTTPVerifyWithRecoveryCode(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, nil)
	alice := app.browser(t)
	alice.login("alice")
	_, codes := alice.enrollHTTP()
	phone := app.browser(t)
	phone.login("alice")
	r := phone.do("POST", "/auth/totp/verify", map[string]string{"recovery_code": strings.ToUpper(codes[0])})
	if r.status != 200 || r.json(t)["recovery_codes_left"] != float64(9) {
		t.Fatalf("verify: got %d %s, want 200 with 9 codes left", r.status, r.body)
	}
	if phone.whoami() != 200 {
		t.Fatal("after a recovery code: not signed in")
	}
	other := app.browser(t)
	other.login("alice")
	if r := other.do("POST", "/auth/totp/verify", map[string]string{"recovery_code": codes[0]}); r.status != http.StatusForbidden || r.errorCode(t) != "invalid_code" {
		t.Errorf("reused recovery code: got %d %s, want 403 invalid_code", r.status, r.body)
	}
	if other.whoami() != http.StatusUnauthorized {
		t.Error("a reused recovery code signed in")
	}
}

func TestHTTPLockoutAcrossSessions(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, nil)
	alice := app.browser(t)
	alice.login("alice")
	secret, _ := alice.enrollHTTP()
	wrong := map[string]string{"code": "000000"}
	for off := int64(-1); off <= 1; off++ {
		if app.code(t, secret, off) == "000000" {
			t.Skip("000000 happens to be valid now")
		}
	}
	// Each failure from a different session (a different device).
	for i := range DefaultPolicy().FreeAttempts {
		b := app.browser(t)
		b.login("alice")
		if r := b.do("POST", "/auth/totp/verify", wrong); r.status != http.StatusForbidden || r.errorCode(t) != "invalid_code" {
			t.Fatalf("failure %d: got %d %s, want 403 invalid_code", i+1, r.status, r.body)
		}
	}
	// The right code from yet another session is refused while locked.
	b := app.browser(t)
	b.login("alice")
	right := map[string]string{"code": app.code(t, secret, 0)}
	r := b.do("POST", "/auth/totp/verify", right)
	if r.status != http.StatusTooManyRequests || r.errorCode(t) != "locked" || r.header.Get("Retry-After") != "30" {
		t.Fatalf("right code while locked: got %d %s Retry-After %q, want 429 locked, 30", r.status, r.body, r.header.Get("Retry-After"))
	}
	// Same answer for a wrong code.
	if r2 := b.do("POST", "/auth/totp/verify", wrong); r2.status != r.status || !bytes.Equal(r2.body, r.body) {
		t.Errorf("wrong code while locked: got %d %s, want the same as for the right code", r2.status, r2.body)
	}
	if b.whoami() != http.StatusUnauthorized {
		t.Fatal("signed in while locked")
	}
	app.clock.Advance(DefaultPolicy().BaseLockout)
	if r := b.do("POST", "/auth/totp/verify", right); r.status != 200 {
		t.Fatalf("after the lockout: got %d %s, want 200", r.status, r.body)
	}
	if th := app.throttle(t, "alice"); th != (storage.Throttle{}) {
		t.Errorf("got throttle %+v after a success, want it reset", th)
	}
}

func TestHTTPRecentAuthentication(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, nil)
	alice := app.browser(t)
	alice.login("alice")
	app.clock.Advance(session.DefaultReauthWindow + time.Minute)
	if r := alice.do("POST", "/auth/totp/enroll", nil); r.status != http.StatusForbidden || r.errorCode(t) != "reauth_required" {
		t.Fatalf("enroll without recent auth: got %d %s, want 403 reauth_required", r.status, r.body)
	}
	if r := alice.do("POST", "/reauth", nil); r.status != 200 {
		t.Fatalf("reauth: got %d", r.status)
	}
	secret, codes := alice.enrollHTTP()
	app.clock.Advance(session.DefaultReauthWindow + time.Minute)
	code := map[string]string{"code": app.code(t, secret, 0)}
	for _, path := range []string{"/auth/totp/disable", "/auth/totp/recovery-codes"} {
		if r := alice.do("POST", path, code); r.status != http.StatusForbidden || r.errorCode(t) != "reauth_required" {
			t.Errorf("%s without recent auth: got %d %s, want 403 reauth_required", path, r.status, r.body)
		}
	}
	// A second-factor check by a full session is a re-authentication.
	before := alice.cookies()
	if r := alice.do("POST", "/auth/totp/verify", code); r.status != 200 {
		t.Fatalf("verify as re-authentication: got %d %s", r.status, r.body)
	}
	if app.withCookies(t, before).whoami() != http.StatusUnauthorized {
		t.Error("re-authentication did not rotate the token")
	}
	app.clock.Advance(Period)
	r := alice.do("POST", "/auth/totp/recovery-codes", map[string]string{"code": app.code(t, secret, 0)})
	if r.status != 200 {
		t.Fatalf("recovery-codes after re-authentication: got %d %s", r.status, r.body)
	}
	fresh := r.json(t)["recovery_codes"].([]any)
	if len(fresh) != 10 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("got %d codes, Cache-Control %q; want 10, no-store", len(fresh), r.header.Get("Cache-Control"))
	}
	// Old codes stopped working, new ones work.
	phone := app.browser(t)
	phone.login("alice")
	if r := phone.do("POST", "/auth/totp/verify", map[string]string{"recovery_code": codes[1]}); r.status != http.StatusForbidden {
		t.Errorf("old recovery code: got %d %s, want 403", r.status, r.body)
	}
	if r := phone.do("POST", "/auth/totp/verify", map[string]string{"recovery_code": fresh[0].(string)}); r.status != 200 {
		t.Errorf("new recovery code: got %d %s, want 200", r.status, r.body)
	}
	// Disable with a wrong code fails, with the right one succeeds.
	app.clock.Advance(Period)
	if r := alice.do("POST", "/auth/totp/disable", map[string]string{"code": "999999x"}); r.status != http.StatusForbidden || r.errorCode(t) != "invalid_code" {
		t.Errorf("disable with a wrong code: got %d %s, want 403 invalid_code", r.status, r.body)
	}
	if r := alice.do("POST", "/auth/totp/disable", map[string]string{"code": app.code(t, secret, 0)}); r.status != 200 {
		t.Fatalf("disable: got %d %s", r.status, r.body)
	}
	if r := alice.do("GET", "/auth/totp", nil); r.json(t)["enabled"] != false {
		t.Errorf("after disable: got %s", r.body)
	}
	if alice.login("alice") {
		t.Error("sign-in after disable is pending")
	}
	evs := app.events(t, "alice")
	if n := app.countEvents(t, "alice", storage.EventSecondFactorDisabled); n != 1 {
		t.Errorf("got %d disabled events in %v, want 1", n, evs)
	}
}

func TestHTTPCrossOriginRequestsAreRefused(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, nil)
	alice := app.browser(t)
	alice.login("alice")
	secret, _ := alice.enrollHTTP()
	phone := app.browser(t)
	phone.login("alice")
	code := map[string]string{"code": app.code(t, secret, 0)}
	for _, path := range []string{"/auth/totp/enroll", "/auth/totp/confirm", "/auth/totp/verify", "/auth/totp/disable", "/auth/totp/recovery-codes"} {
		for _, b := range []*browser{alice, phone} {
			if r := b.send("POST", path, code, "cross-site", "https://evil.example"); r.status != http.StatusForbidden {
				t.Errorf("cross-site POST %s: got %d %s, want 403", path, r.status, r.body)
			}
		}
		if r := alice.do("GET", path, nil); r.status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: got %d, want 405", path, r.status)
		}
	}
	// Nothing changed: the pending session is still pending, the second
	// factor still on, and the code still unused.
	if phone.whoami() != http.StatusUnauthorized {
		t.Error("a cross-site verify completed the sign-in")
	}
	if on, _ := app.svc.Enabled(context.Background(), "alice"); !on {
		t.Error("a cross-site disable turned the second factor off")
	}
	if r := phone.do("POST", "/auth/totp/verify", code); r.status != 200 {
		t.Errorf("same-origin verify afterwards: got %d %s, want 200", r.status, r.body)
	}
}

func TestHTTPAnotherUsersStateCannotBeCompleted(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, nil)
	bob := app.browser(t)
	bob.login("bob")
	bobSecret, _ := bob.enrollHTTP()
	alice := app.browser(t)
	alice.login("alice")
	aliceSecret, _ := alice.enrollHTTP()

	// Alice's pending sign-in cannot be completed with Bob's code.
	phone := app.browser(t)
	phone.login("alice")
	if r := phone.do("POST", "/auth/totp/verify", map[string]string{"code": app.code(t, bobSecret, 0)}); r.status != http.StatusForbidden {
		t.Errorf("alice's pending session with bob's code: got %d %s, want 403", r.status, r.body)
	}
	if phone.whoami() != http.StatusUnauthorized {
		t.Error("alice's pending session signed in with bob's code")
	}

	// Carol's pending enrollment cannot be confirmed by Alice, even with
	// Carol's code.
	carol := app.browser(t)
	carol.login("carol")
	r := carol.do("POST", "/auth/totp/enroll", nil)
	carolSecret := r.json(t)["secret"].(string)
	mallory := app.browser(t)
	mallory.login("mallory")
	if r := mallory.do("POST", "/auth/totp/confirm", map[string]string{"code": app.code(t, carolSecret, 0)}); r.status != http.StatusConflict || r.errorCode(t) != "no_pending" {
		t.Errorf("confirming another user's enrollment: got %d %s, want 409 no_pending", r.status, r.body)
	}
	if st, _ := app.svc.Status(context.Background(), "carol"); st != (Status{Pending: true}) {
		t.Errorf("carol's state: got %+v, want pending", st)
	}
	_ = aliceSecret
}

func TestHTTPBadInput(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, nil)
	alice := app.browser(t)
	alice.login("alice")
	alice.enrollHTTP()
	phone := app.browser(t)
	phone.login("alice")
	tests := []struct {
		name   string
		body   any
		status int
	}{
		{"an empty body is refused", nil, 400},
		{"an empty object is refused", map[string]string{}, 400},
		{"both fields are refused", map[string]string{"code": "123456", "recovery_code": "abcd"}, 400},
		{"a number is refused", `{"code":123456}`, 400},
		{"an unknown field is refused", `{"code":"123456","user":"bob"}`, 400},
		{"broken JSON is refused", `{"code":`, 400},
		{"a huge body is refused", `{"code":"` + strings.Repeat("1", 4096) + `"}`, 413},
	}
	for _, tt := range tests {
		r := phone.do("POST", "/auth/totp/verify", tt.body)
		if r.status != tt.status || r.errorCode(t) == "" {
			t.Errorf("%s: got %d %s, want %d with an error code", tt.name, r.status, r.body, tt.status)
		}
	}
	// Requests that were not attempts are not counted.
	if th := app.throttle(t, "alice"); th.Failures != 0 {
		t.Errorf("got %d failures, want 0", th.Failures)
	}
	// A malformed code is an attempt, answered like a wrong one.
	if r := phone.do("POST", "/auth/totp/verify", map[string]string{"code": "１２３４５６"}); r.status != http.StatusForbidden || r.errorCode(t) != "invalid_code" {
		t.Errorf("full-width digits: got %d %s, want 403 invalid_code", r.status, r.body)
	}
	if th := app.throttle(t, "alice"); th.Failures != 1 {
		t.Errorf("got %d failures, want 1", th.Failures)
	}
	// Confirm takes no recovery code.
	if r := alice.do("POST", "/auth/totp/confirm", map[string]string{"recovery_code": "x"}); r.status != 400 {
		t.Errorf("confirm with a recovery code: got %d %s, want 400", r.status, r.body)
	}
}

func TestHTTPWithoutSession(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, nil)
	anon := app.browser(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/auth/totp"}, {"POST", "/auth/totp/verify"}, {"POST", "/auth/totp/enroll"},
		{"POST", "/auth/totp/confirm"}, {"POST", "/auth/totp/disable"}, {"POST", "/auth/totp/recovery-codes"},
	} {
		r := anon.do(c.method, c.path, map[string]string{"code": "123456"})
		if r.status != http.StatusUnauthorized || r.errorCode(t) != "unauthenticated" {
			t.Errorf("%s %s without a session: got %d %s, want 401 unauthenticated", c.method, c.path, r.status, r.body)
		}
	}
	// A full session of a user without a second factor has nothing to verify.
	anon.login("dave")
	if r := anon.do("POST", "/auth/totp/verify", map[string]string{"code": "123456"}); r.status != http.StatusConflict || r.errorCode(t) != "not_enabled" {
		t.Errorf("verify without a second factor: got %d %s, want 409 not_enabled", r.status, r.body)
	}
	if r := anon.do("POST", "/auth/totp/confirm", map[string]string{"code": "123456"}); r.status != http.StatusConflict || r.errorCode(t) != "no_pending" {
		t.Errorf("confirm without enrollment: got %d %s, want 409 no_pending", r.status, r.body)
	}
}

func TestSignInFailsClosed(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.enroll(t, "alice")
	svc, err := New(Config{Manager: env.mgr, Store: failingStore{env.store}, Clock: env.clock.Now, Issuer: "Example", Keys: env.keys})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "https://example.com/login", nil)
	if _, err := svc.SignIn(w, r, "alice"); err == nil {
		t.Fatal("SignIn with an unreadable second factor: got nil error")
	}
	if c := w.Result().Cookies(); len(c) != 0 {
		t.Errorf("SignIn failed but set %d cookies", len(c))
	}
}

// TestRoutesAnswerJSONWhenTheAppRedirects: an app that sends unsigned-in
// browsers to a sign-in page still gets JSON 401s from the TOTP routes.
func TestRoutesAnswerJSONWhenTheAppRedirects(t *testing.T) {
	t.Parallel()
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	pair, _ := session.GenerateKeyPair()
	mgr, err := session.New(session.Config{Store: st, Keys: []session.KeyPair{pair},
		Unauthenticated: http.RedirectHandler("/login", http.StatusSeeOther)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	svc, err := New(Config{Manager: mgr, Store: st, Issuer: "Example", Keys: []Key{randomKey(t, "k1")}})
	if err != nil {
		t.Fatal(err)
	}
	h := mgr.Handler(http.StripPrefix("/auth", mgr.Routes(svc)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/auth/totp", nil))
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"unauthenticated"`) {
		t.Errorf("GET /auth/totp without a session: got %d %q, want a JSON 401", w.Code, w.Body.String())
	}
}
