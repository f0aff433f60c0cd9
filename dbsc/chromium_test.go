package dbsc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionguard/sessionguard/internal/chromiumtest"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// The end-to-end test drives real headless Chromium through DBSC. It needs
// Chromium: SESSION_TEST_CHROMIUM names the binary, else "chromium" is
// looked up on PATH; without it the test is skipped, except when CI=true,
// where it fails.
//
// Chromium only binds sessions over TLS without a certificate error, with
// software keys enabled by a feature flag: the test serves httptest's TLS
// server as https://example.com:PORT, maps example.com to 127.0.0.1 and
// trusts the server's key by its SPKI hash.

func chromiumPath(t *testing.T) string { return chromiumtest.Path(t, "the DBSC browser test") }

// requestLog records what the server saw, in order.
type requestLog struct {
	mu      sync.Mutex
	entries []string
}

func (l *requestLog) add(s string) {
	l.mu.Lock()
	l.entries = append(l.entries, s)
	l.mu.Unlock()
}

func (l *requestLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.entries...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func TestChromium(t *testing.T) {
	chromium := chromiumPath(t)
	const lifetime = 2 * time.Second
	store := memory.New(memory.Options{})
	t.Cleanup(func() { store.Close() })
	k, err := session.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{k},
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		DeviceBinding: session.DeviceBindingConfig{RoutesPath: "/auth", CookieLifetime: lifetime}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	// Instance B shares the store (and its notifier) and the keys.
	mB, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{k},
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		DeviceBinding: session.DeviceBindingConfig{RoutesPath: "/auth", CookieLifetime: lifetime}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mB.Close() })
	svc, err := New(Config{Manager: m})
	if err != nil {
		t.Fatal(err)
	}
	log := new(requestLog)
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", m.Routes(svc)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><title>dbsc</title><p>test")
	})
	// The session cookie as the sign-in sets it, before registration: B
	// checks it before the response (and its registration offer) leaves,
	// so B has it cached as a live, unbound session.
	var preBinding string
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Login(w, r, "alice", storage.AuthPassword); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		for _, c := range (&http.Response{Header: w.Header()}).Cookies() {
			if c.Name == "__Host-session" {
				preBinding = c.Name + "=" + c.Value
			}
		}
		rb, _ := http.NewRequest("GET", "https://example.com/whoami", nil)
		rb.Header.Set("Cookie", preBinding)
		if _, err := mB.Check(rb); err != nil {
			http.Error(w, "instance B: "+err.Error(), 500)
		}
	})
	whoami := func(w http.ResponseWriter, r *http.Request) {
		if s, ok := session.FromContext(r.Context()); ok {
			io.WriteString(w, s.UserID)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}
	mux.HandleFunc("GET /whoami", whoami)
	muxB := http.NewServeMux()
	muxB.HandleFunc("GET /whoami", whoami)
	srvB := httptest.NewTLSServer(mB.Handler(muxB))
	t.Cleanup(srvB.Close)
	h := m.Handler(mux)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		entry := r.URL.Path
		if r.Header.Get("Secure-Session-Response") != "" {
			entry += "+proof"
		}
		log.add(fmt.Sprintf("%s %d", entry, sw.status))
	}))
	t.Cleanup(srv.Close)
	spki := sha256.Sum256(srv.Certificate().RawSubjectPublicKeyInfo)
	u, _ := url.Parse(srv.URL)
	base := "https://example.com:" + u.Port()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("enable-features", "DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false,EnableBoundSessionCredentialsSoftwareKeysForManualTesting"),
		chromedp.Flag("host-resolver-rules", "MAP example.com 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	// Chromium's own account of DBSC, for the failure messages.
	var dbscEvents requestLog
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	events := chromedp.Events(ctx, network.DeviceBoundSessionEventOccurred)
	go func() {
		for e, err := range events {
			if err != nil {
				return
			}
			dbscEvents.add(fmt.Sprintf("succeeded=%v creation=%+v refresh=%+v termination=%+v challenge=%+v",
				e.Succeeded, e.CreationEventDetails, e.RefreshEventDetails, e.TerminationEventDetails, e.ChallengeEventDetails))
		}
	}()
	if _, err := chromedp.Call(ctx, network.EnableDeviceBoundSessions, network.EnableDeviceBoundSessionsParams{Enable: true}); err != nil {
		t.Logf("Network.enableDeviceBoundSessions: %v (diagnostics only)", err)
	}
	run := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, a)
		if err != nil {
			t.Fatalf("%s: %v\nserver saw: %q\nchromium DBSC events: %q", what, err, log.snapshot(), dbscEvents.snapshot())
		}
		return v
	}
	fetch := func(method, path string) string {
		t.Helper()
		return run(method+" "+path, chromedp.Evaluate[string](
			fmt.Sprintf(`fetch(%q, {method: %q}).then(r => String(r.status))`, path, method), chromedp.EvalAwaitPromise))
	}
	whoamiBrowser := func() string {
		t.Helper()
		return run("whoami", chromedp.Evaluate[string](`fetch("/whoami").then(r => String(r.status))`, chromedp.EvalAwaitPromise))
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out\nserver saw: %q\nchromium DBSC events: %q", what, log.snapshot(), dbscEvents.snapshot())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Sign in: the response offers registration, Chromium registers.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	if got := fetch("POST", "/login"); !strings.HasPrefix(got, "200") {
		t.Fatalf("sign-in: got %q, want 200", got)
	}
	jar := func() string {
		t.Helper()
		return run("cookies", chromedp.Action[string](func(ctx context.Context, _ *chromedp.Target) (string, error) {
			res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
			if err != nil {
				return "", err
			}
			var out []string
			for _, c := range res.Cookies {
				out = append(out, c.Name+"="+c.Value)
			}
			return strings.Join(out, "; "), nil
		}))
	}
	// Registration is done when the server answered it and Chromium
	// stored the answer's cookies (a request sent before carries the
	// session cookie from before binding, now refused).
	waitFor("registration", func() bool {
		return slices.Contains(log.snapshot(), "/auth/dbsc/register+proof 200") && strings.Contains(jar(), "__Host-device=")
	})
	var handle string
	if list, err := store.ListSessions(context.Background(), "alice"); err != nil || len(list) != 1 {
		t.Fatalf("sessions after registration: got %d (%v), want 1", len(list), err)
	} else {
		handle = list[0].Handle
	}
	if _, err := store.GetDeviceBinding(context.Background(), "alice", handle); err != nil {
		t.Fatalf("binding after registration: got %v, want one", err)
	}
	// plain sends cookie from a plain Go client (another machine) to
	// instance A or B and returns the status.
	plain := func(srv *httptest.Server, cookie string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/whoami", nil)
		req.Header.Set("Cookie", cookie)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The session cookie copied before registration is dead on B right
	// after registration returned (the rotation's notice; the memory
	// store delivers it before the commit returns), though B had it cached
	// as live and unbound.
	if preBinding == "" {
		t.Fatal("the sign-in set no session cookie")
	}
	if got := plain(srvB, preBinding); got != http.StatusUnauthorized {
		t.Fatalf("the session cookie copied before registration, on instance B: got %d, want 401", got)
	}
	if got := plain(srv, preBinding); got != http.StatusUnauthorized {
		t.Fatalf("the session cookie copied before registration, on instance A: got %d, want 401", got)
	}
	if got := whoamiBrowser(); !strings.HasPrefix(got, "200") {
		t.Fatalf("after registration: got %q, want 200\nserver saw: %q\ncookies: %q", got, log.snapshot(), jar())
	}
	cookies := jar()
	if !strings.Contains(cookies, "__Host-device=") {
		t.Fatalf("got cookies %q, want a bound __Host-device cookie", cookies)
	}

	// After the device cookie expires, a signed refresh precedes the next
	// request, which succeeds (Chromium may also refresh on its own while
	// the cookie runs out: the assertion is "a refresh before the
	// request", not a count).
	mark := len(log.snapshot())
	time.Sleep(lifetime + 500*time.Millisecond)
	if got := whoamiBrowser(); !strings.HasPrefix(got, "200") {
		t.Fatalf("after the device cookie expired: got %q, want 200 (refreshed first)", got)
	}
	seen := log.snapshot()[mark:]
	refreshed := false
	for _, e := range seen {
		if e == "/auth/dbsc/refresh+proof 200" {
			refreshed = true
		}
		if strings.HasPrefix(e, "/whoami ") {
			if !refreshed {
				t.Fatalf("the request after expiry reached the server before a signed refresh: %q", seen)
			}
			if e != "/whoami 200" {
				t.Fatalf("got %q, want /whoami 200", e)
			}
			break
		}
	}
	if !refreshed {
		t.Fatalf("no signed refresh: %q", seen)
	}

	// The session cookie copied after registration (Chromium took the
	// rotated one from the registration answer) is refused alone on
	// either instance; with a fresh device cookie B accepts it, so the
	// refusal is the missing device proof.
	var sessionCookie, deviceCookie string
	for _, c := range strings.Split(cookies, "; ") {
		switch {
		case strings.HasPrefix(c, "__Host-session="):
			sessionCookie = c
		case strings.HasPrefix(c, "__Host-device="):
			deviceCookie = c
		}
	}
	if sessionCookie == "" || sessionCookie == preBinding {
		t.Fatalf("Chromium's session cookie after registration: got %q, want the rotated one (not %q)", sessionCookie, preBinding)
	}
	if got := plain(srv, sessionCookie); got != http.StatusUnauthorized {
		t.Fatalf("the copied session cookie on instance A: got %d, want 401", got)
	}
	if got := plain(srvB, sessionCookie); got != http.StatusUnauthorized {
		t.Fatalf("the copied session cookie on instance B: got %d, want 401", got)
	}
	fresh := deviceCookie
	for _, c := range strings.Split(jar(), "; ") {
		if strings.HasPrefix(c, "__Host-device=") {
			fresh = c
		}
	}
	if got := plain(srvB, sessionCookie+"; "+fresh); got != http.StatusOK {
		t.Fatalf("the session cookie with the browser's current device cookie on instance B: got %d, want 200", got)
	}

	// Logout ends the binding.
	if got := fetch("POST", "/auth/logout"); !strings.HasPrefix(got, "204") {
		t.Fatalf("logout: got %q, want 204", got)
	}
	if _, err := store.GetDeviceBinding(context.Background(), "alice", handle); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("binding after logout: got %v, want ErrNotFound", err)
	}
	if got := whoamiBrowser(); !strings.HasPrefix(got, "401") {
		t.Fatalf("after logout: got %q, want 401", got)
	}
	t.Logf("server saw: %q", log.snapshot())
}
