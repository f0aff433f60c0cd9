package dbsc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sessionguard/sessionguard/internal/fakeclock"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// app is a small application with device binding on, served over TLS.
type app struct {
	m     *session.Manager
	store storage.Store
	clock *fakeclock.Clock
	srv   *httptest.Server
}

func newApp(t *testing.T) *app {
	t.Helper()
	store := memory.New(memory.Options{})
	t.Cleanup(func() { store.Close() })
	k, err := session.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Now().Truncate(time.Second))
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{k}, Clock: clock.Now,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		DeviceBinding: session.DeviceBindingConfig{RoutesPath: "/auth"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	svc, err := New(Config{Manager: m})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", m.Routes(svc)))
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Login(w, r, r.FormValue("user"), storage.AuthPassword); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("POST /reauth", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Elevate(w, r, storage.AuthPassword); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
		}
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s, ok := session.FromContext(r.Context())
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			if err := session.RejectionFromContext(r.Context()); err != nil {
				io.WriteString(w, err.Error())
			}
			return
		}
		io.WriteString(w, s.UserID)
	})
	srv := httptest.NewTLSServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	return &app{m: m, store: store, clock: clock, srv: srv}
}

// device is a DBSC browser simulated in Go: a cookie jar and a key.
type device struct {
	t     *testing.T
	a     *app
	c     *http.Client
	key   any // *ecdsa.PrivateKey or *rsa.PrivateKey
	alg   jose.SignatureAlgorithm
	offer map[string]string // the last Secure-Session-Registration's parameters
	id    string

	sessionCookie *http.Cookie
}

func (a *app) device(t *testing.T) *device {
	jar, _ := cookiejar.New(nil)
	c := new(http.Client)
	*c = *a.srv.Client()
	c.Jar = jar
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return &device{t: t, a: a, c: c, key: k, alg: jose.ES256}
}

var param = regexp.MustCompile(`;(\w+)="([^"]*)"`)

func (d *device) do(method, path string, h map[string]string) (*http.Response, string) {
	d.t.Helper()
	var body io.Reader
	if method == "POST" && path == "/login" {
		body = strings.NewReader(url.Values{"user": {"alice"}}.Encode())
	}
	req, _ := http.NewRequest(method, d.a.srv.URL+path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := d.c.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (d *device) login() {
	d.t.Helper()
	resp, body := d.do("POST", "/login", nil)
	if resp.StatusCode != 200 {
		d.t.Fatalf("login: got %d %s", resp.StatusCode, body)
	}
	reg := resp.Header.Get("Secure-Session-Registration")
	if !strings.HasPrefix(reg, "(ES256 RS256);") {
		d.t.Fatalf("login: got Secure-Session-Registration %q, want an offer of ES256 and RS256", reg)
	}
	d.offer = map[string]string{}
	for _, m := range param.FindAllStringSubmatch(reg, -1) {
		d.offer[m[1]] = m[2]
	}
	if d.offer["path"] != "/auth/dbsc/register" {
		d.t.Fatalf("registration path: got %q, want /auth/dbsc/register", d.offer["path"])
	}
}

// sign returns a JWT over payload with the device key, embedding the
// public key when embed.
func (d *device) sign(payload map[string]string, embed bool) string {
	d.t.Helper()
	opts := (&jose.SignerOptions{EmbedJWK: embed}).WithType("dbsc+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: d.alg, Key: d.key}, opts)
	if err != nil {
		d.t.Fatal(err)
	}
	p, _ := json.Marshal(payload)
	jws, err := s.Sign(p)
	if err != nil {
		d.t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func (d *device) register() (*http.Response, string) {
	return d.do("POST", d.offer["path"], map[string]string{"Secure-Session-Response": d.sign(map[string]string{
		"jti": d.offer["challenge"], "authorization": d.offer["authorization"]}, true)})
}

func (d *device) mustRegister() {
	d.t.Helper()
	resp, body := d.register()
	if resp.StatusCode != 200 {
		d.t.Fatalf("register: got %d %s, want 200", resp.StatusCode, body)
	}
	var in instructions
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		d.t.Fatal(err)
	}
	if in.RefreshURL != "/auth/dbsc/refresh" || len(in.Credentials) != 1 || in.Credentials[0].Name != "__Host-device" {
		d.t.Fatalf("registration answer: got %s", body)
	}
	d.id = in.SessionIdentifier
}

// refresh runs the two-step refresh and returns the final status.
func (d *device) refresh() int {
	d.t.Helper()
	resp, body := d.do("POST", "/auth/dbsc/refresh", map[string]string{"Sec-Secure-Session-Id": d.id})
	if resp.StatusCode != http.StatusForbidden {
		d.t.Fatalf("refresh without proof: got %d %s, want 403", resp.StatusCode, body)
	}
	m := regexp.MustCompile(`^"([^"]+)";id="([^"]+)"$`).FindStringSubmatch(resp.Header.Get("Secure-Session-Challenge"))
	if m == nil || m[2] != d.id {
		d.t.Fatalf("Secure-Session-Challenge: got %q", resp.Header.Get("Secure-Session-Challenge"))
	}
	resp, _ = d.do("POST", "/auth/dbsc/refresh", map[string]string{"Sec-Secure-Session-Id": d.id,
		"Secure-Session-Response": d.sign(map[string]string{"jti": m[1]}, false)})
	return resp.StatusCode
}

func (d *device) whoami() (int, string) {
	resp, body := d.do("GET", "/whoami", nil)
	return resp.StatusCode, body
}

// cookie returns the jar's cookie name.
func (d *device) cookie(name string) *http.Cookie {
	u, _ := url.Parse(d.a.srv.URL)
	for _, c := range d.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (d *device) sessionHandle() string {
	d.t.Helper()
	list, err := d.a.store.ListSessions(context.Background(), "alice")
	if err != nil || len(list) == 0 {
		d.t.Fatalf("no session: %v", err)
	}
	return list[0].Handle
}

// TestBindingLifecycle: sign in, register, the device cookie carries the
// session; the session cookie alone does not; after the device cookie
// expires the request is refused until a signed refresh; logout ends the
// binding.
func TestBindingLifecycle(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	d := a.device(t)
	d.login()
	if code, _ := d.whoami(); code != 200 {
		t.Fatalf("before registration: got %d, want 200 (unbound sessions work as before)", code)
	}
	pre := d.cookie("__Host-session")
	d.mustRegister()
	if code, _ := d.whoami(); code != 200 {
		t.Fatalf("after registration: got %d, want 200", code)
	}
	if post := d.cookie("__Host-session"); post == nil || post.Value == pre.Value {
		t.Fatal("the registration answer set no new session cookie, want the rotated one")
	}

	// The session cookie copied before registration is dead: registration
	// rotated the token. With the device cookie it is refused too.
	early := a.device(t)
	u, _ := url.Parse(a.srv.URL)
	early.c.Jar.SetCookies(u, []*http.Cookie{pre, d.cookie("__Host-device")})
	if code, body := early.whoami(); code != 401 || !strings.Contains(body, session.ErrRevoked.Error()) {
		t.Fatalf("the session cookie copied before registration: got %d %q, want 401 with ErrRevoked", code, body)
	}

	thief := a.device(t)
	thief.c.Jar.SetCookies(u, []*http.Cookie{d.cookie("__Host-session")})
	if code, body := thief.whoami(); code != 401 || !strings.Contains(body, session.ErrDeviceUnproven.Error()) {
		t.Fatalf("the session cookie alone: got %d %q, want 401 with ErrDeviceUnproven", code, body)
	}

	a.clock.Advance(session.DefaultDeviceCookieLifetime)
	if code, _ := d.whoami(); code != 401 {
		t.Fatalf("after the device cookie expired: got %d, want 401", code)
	}
	if d.cookie("__Host-session") == nil {
		t.Fatal("the refused request dropped the session cookie; its browser could not refresh")
	}
	if code := d.refresh(); code != 200 {
		t.Fatalf("signed refresh: got %d, want 200", code)
	}
	if code, _ := d.whoami(); code != 200 {
		t.Fatalf("after refresh: got %d, want 200", code)
	}

	handle := d.sessionHandle()
	resp, _ := d.do("POST", "/auth/logout", map[string]string{"Origin": a.srv.URL, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: got %d, want 204", resp.StatusCode)
	}
	if _, err := a.store.GetDeviceBinding(context.Background(), "alice", handle); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("binding after logout: got %v, want ErrNotFound", err)
	}
}

// TestSessionsListSaysBound and the security log records the binding.
func TestSessionsListSaysBound(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	bound, plain := a.device(t), a.device(t)
	bound.login()
	bound.mustRegister()
	plain.login()
	list, err := a.m.ListSessions(context.Background(), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range list {
		got[s.ID] = s.DeviceBound
	}
	if n := len(got); n != 2 {
		t.Fatalf("got %d sessions, want 2", n)
	}
	nBound := 0
	for _, b := range got {
		if b {
			nBound++
		}
	}
	if nBound != 1 {
		t.Fatalf("got %d bound sessions in the list, want 1", nBound)
	}
	events, _, err := a.m.SecurityLog().List(context.Background(), "alice", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !hasEvent(events, storage.EventDeviceBound) {
		t.Fatalf("got events %+v, want a device_bound event", events)
	}
}

func hasEvent(events []session.EventInfo, typ storage.EventType) bool {
	for _, e := range events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

func b64(v any) string {
	j, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(j)
}

// TestRegistrationRefusals: every bad registration is refused with its
// error, stores no binding and is recorded.
func TestRegistrationRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		proof func(d *device, other *device) string
		want  error
	}{
		{"alg none is refused", func(d, _ *device) string {
			return b64(map[string]string{"alg": "none", "typ": "dbsc+jwt"}) + "." + b64(map[string]string{"jti": d.offer["challenge"], "authorization": d.offer["authorization"]}) + "."
		}, ErrAlgorithm},
		{"an HMAC algorithm is refused", func(d, _ *device) string {
			d.alg, d.key = jose.HS256, []byte("0123456789abcdef0123456789abcdef")
			return d.sign(map[string]string{"jti": d.offer["challenge"], "authorization": d.offer["authorization"]}, false)
		}, ErrAlgorithm},
		{"a registration without a key is refused", func(d, _ *device) string {
			return d.sign(map[string]string{"jti": d.offer["challenge"], "authorization": d.offer["authorization"]}, false)
		}, ErrKey},
		{"an EC key on another curve is refused", func(d, _ *device) string {
			d.key, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			d.alg = jose.ES384
			return d.sign(map[string]string{"jti": d.offer["challenge"], "authorization": d.offer["authorization"]}, true)
		}, ErrAlgorithm},
		{"an RSA key under 2048 bits is refused", func(d, _ *device) string {
			d.key, _ = rsa.GenerateKey(rand.Reader, 1024)
			d.alg = jose.RS256
			return d.sign(map[string]string{"jti": d.offer["challenge"], "authorization": d.offer["authorization"]}, true)
		}, ErrKey},
		{"a wrong authorization is refused", func(d, _ *device) string {
			return d.sign(map[string]string{"jti": d.offer["challenge"], "authorization": "guess"}, true)
		}, ErrAuthorization},
		{"a challenge never issued is refused", func(d, _ *device) string {
			return d.sign(map[string]string{"jti": "made-up", "authorization": d.offer["authorization"]}, true)
		}, ErrChallenge},
		{"another session's challenge is refused", func(d, other *device) string {
			return d.sign(map[string]string{"jti": other.offer["challenge"], "authorization": other.offer["authorization"]}, true)
		}, ErrChallenge},
		{"a tampered signature is refused", func(d, _ *device) string {
			tok := d.sign(map[string]string{"jti": d.offer["challenge"], "authorization": d.offer["authorization"]}, true)
			parts := strings.Split(tok, ".")
			parts[1] = b64(map[string]string{"jti": d.offer["challenge"], "authorization": d.offer["authorization"], "x": "y"})
			return strings.Join(parts, ".")
		}, ErrSignature},
		{"a malformed header is refused", func(*device, *device) string { return "not a jwt" }, ErrMalformed},
		{"an empty header is refused", func(*device, *device) string { return "" }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			d, other := a.device(t), a.device(t)
			other.login()
			d.login()
			resp, body := d.do("POST", "/auth/dbsc/register", map[string]string{"Secure-Session-Response": tt.proof(d, other)})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tt.want.Error()) {
				t.Fatalf("got %d %s, want 400 with %q", resp.StatusCode, body, tt.want)
			}
			if _, err := a.store.GetDeviceBinding(context.Background(), "alice", d.sessionHandle()); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("binding after a refused registration: got %v, want ErrNotFound", err)
			}
			if d.cookie("__Host-device") != nil {
				t.Fatal("a refused registration set a device cookie")
			}
			events, _, _ := a.m.SecurityLog().List(context.Background(), "alice", 0, 0)
			if !hasEvent(events, storage.EventDeviceProofFailed) {
				t.Fatalf("got events %+v, want device_proof_failed", events)
			}
		})
	}
}

// TestRegistrationReplay: a registration proof sent twice binds once.
func TestRegistrationReplay(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	d := a.device(t)
	d.login()
	proof := d.sign(map[string]string{"jti": d.offer["challenge"], "authorization": d.offer["authorization"]}, true)
	if resp, body := d.do("POST", "/auth/dbsc/register", map[string]string{"Secure-Session-Response": proof}); resp.StatusCode != 200 {
		t.Fatalf("first registration: got %d %s", resp.StatusCode, body)
	}
	resp, body := d.do("POST", "/auth/dbsc/register", map[string]string{"Secure-Session-Response": proof})
	if resp.StatusCode != 400 || !strings.Contains(body, ErrChallenge.Error()) {
		t.Fatalf("replayed registration: got %d %s, want 400 %q", resp.StatusCode, body, ErrChallenge)
	}
}

// TestRefreshRefusals: a refresh with a key, signed by another key, with a
// replayed challenge or another identifier is refused and issues no cookie.
func TestRefreshRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, d *device) (*http.Response, string)
		want error
	}{
		{"a jwk on refresh is refused", func(t *testing.T, d *device) (*http.Response, string) {
			ch := challenge(t, d)
			return d.do("POST", "/auth/dbsc/refresh", map[string]string{"Sec-Secure-Session-Id": d.id, "Secure-Session-Response": d.sign(map[string]string{"jti": ch}, true)})
		}, ErrKeyOnRefresh},
		{"another key's signature is refused", func(t *testing.T, d *device) (*http.Response, string) {
			ch := challenge(t, d)
			d.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			return d.do("POST", "/auth/dbsc/refresh", map[string]string{"Sec-Secure-Session-Id": d.id, "Secure-Session-Response": d.sign(map[string]string{"jti": ch}, false)})
		}, ErrSignature},
		{"a replayed refresh is refused", func(t *testing.T, d *device) (*http.Response, string) {
			ch := challenge(t, d)
			proof := d.sign(map[string]string{"jti": ch}, false)
			if resp, body := d.do("POST", "/auth/dbsc/refresh", map[string]string{"Sec-Secure-Session-Id": d.id, "Secure-Session-Response": proof}); resp.StatusCode != 200 {
				t.Fatalf("first refresh: got %d %s", resp.StatusCode, body)
			}
			d.c.Jar, _ = cookiejar.New(nil) // drop the fresh device cookie
			u, _ := url.Parse(d.a.srv.URL)
			d.c.Jar.SetCookies(u, []*http.Cookie{d.sessionCookie})
			return d.do("POST", "/auth/dbsc/refresh", map[string]string{"Sec-Secure-Session-Id": d.id, "Secure-Session-Response": proof})
		}, ErrChallenge},
		{"the registration challenge does not refresh", func(t *testing.T, d *device) (*http.Response, string) {
			return d.do("POST", "/auth/dbsc/refresh", map[string]string{"Sec-Secure-Session-Id": d.id, "Secure-Session-Response": d.sign(map[string]string{"jti": d.offer["challenge"]}, false)})
		}, ErrChallenge},
		{"another session identifier is refused", func(t *testing.T, d *device) (*http.Response, string) {
			return d.do("POST", "/auth/dbsc/refresh", map[string]string{"Sec-Secure-Session-Id": "someone-else"})
		}, ErrSessionID},
		{"an alg none refresh is refused", func(t *testing.T, d *device) (*http.Response, string) {
			ch := challenge(t, d)
			return d.do("POST", "/auth/dbsc/refresh", map[string]string{"Sec-Secure-Session-Id": d.id,
				"Secure-Session-Response": b64(map[string]string{"alg": "none"}) + "." + b64(map[string]string{"jti": ch}) + "."})
		}, ErrAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			d := a.device(t)
			d.login()
			d.mustRegister()
			// A re-authentication rotates the token and offers
			// registration again: its challenge is the "registration
			// challenge" row's.
			resp, body := d.do("POST", "/reauth", map[string]string{"Origin": a.srv.URL, "Sec-Fetch-Site": "same-origin"})
			if resp.StatusCode != 200 {
				t.Fatalf("reauth: got %d %s", resp.StatusCode, body)
			}
			d.offer = map[string]string{}
			for _, m := range param.FindAllStringSubmatch(resp.Header.Get("Secure-Session-Registration"), -1) {
				d.offer[m[1]] = m[2]
			}
			if d.offer["challenge"] == "" {
				t.Fatalf("reauth offered no registration: %q", resp.Header.Get("Secure-Session-Registration"))
			}
			d.sessionCookie = d.cookie("__Host-session")
			a.clock.Advance(session.DefaultDeviceCookieLifetime)
			resp, body = tt.run(t, d)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tt.want.Error()) {
				t.Fatalf("got %d %s, want 400 with %q", resp.StatusCode, body, tt.want)
			}
			if code, _ := d.whoami(); code != 401 {
				t.Fatalf("after a refused refresh: got %d, want 401", code)
			}
		})
	}
}

func challenge(t *testing.T, d *device) string {
	t.Helper()
	resp, body := d.do("POST", "/auth/dbsc/refresh", map[string]string{"Sec-Secure-Session-Id": d.id})
	m := regexp.MustCompile(`^"([^"]+)"`).FindStringSubmatch(resp.Header.Get("Secure-Session-Challenge"))
	if resp.StatusCode != 403 || m == nil {
		t.Fatalf("challenge: got %d %s", resp.StatusCode, body)
	}
	return m[1]
}

// TestWithoutSession: the routes need the session cookie.
func TestWithoutSession(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	d := a.device(t)
	for _, p := range []string{"/auth/dbsc/register", "/auth/dbsc/refresh"} {
		if resp, _ := d.do("POST", p, nil); resp.StatusCode != 401 {
			t.Errorf("%s without a session: got %d, want 401", p, resp.StatusCode)
		}
	}
}

func TestNewRefusesAManagerWithoutBinding(t *testing.T) {
	t.Parallel()
	store := memory.New(memory.Options{})
	defer store.Close()
	k, _ := session.GenerateKeyPair()
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{k}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := New(Config{Manager: m}); err == nil {
		t.Fatal("got nil error, want one saying device binding is off")
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("got nil error without a Manager")
	}
}
