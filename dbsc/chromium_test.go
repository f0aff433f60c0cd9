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
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

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

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SESSION_TEST_CHROMIUM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: install it or set SESSION_TEST_CHROMIUM (required when CI=true)")
	}
	t.Skip("chromium not found: install it or set SESSION_TEST_CHROMIUM to run the DBSC browser test")
	return ""
}

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
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Login(w, r, "alice", storage.AuthPassword); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		if s, ok := session.FromContext(r.Context()); ok {
			io.WriteString(w, s.UserID)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
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
	whoami := func() string {
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
	var handle string
	waitFor("registration", func() bool {
		list, _ := store.ListSessions(context.Background(), "alice")
		if len(list) == 1 {
			handle = list[0].Handle
			_, err := store.GetDeviceBinding(context.Background(), "alice", handle)
			return err == nil
		}
		return false
	})
	if got := whoami(); !strings.HasPrefix(got, "200") {
		t.Fatalf("after registration: got %q, want 200", got)
	}
	cookies := run("cookies", chromedp.Action[string](func(ctx context.Context, _ *chromedp.Target) (string, error) {
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
	if !strings.Contains(cookies, "__Host-device=") {
		t.Fatalf("got cookies %q, want a bound __Host-device cookie", cookies)
	}

	// After the device cookie expires, a signed refresh precedes the next
	// request, which succeeds (Chromium may also refresh on its own while
	// the cookie runs out: the assertion is "a refresh before the
	// request", not a count).
	mark := len(log.snapshot())
	time.Sleep(lifetime + 500*time.Millisecond)
	if got := whoami(); !strings.HasPrefix(got, "200") {
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

	// The session cookie alone, copied into a plain Go client, is refused.
	var sessionCookie string
	for _, c := range strings.Split(cookies, "; ") {
		if strings.HasPrefix(c, "__Host-session=") {
			sessionCookie = c
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/whoami", nil)
	req.Header.Set("Cookie", sessionCookie)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the copied session cookie: got %d, want 401", resp.StatusCode)
	}

	// Logout ends the binding.
	if got := fetch("POST", "/auth/logout"); !strings.HasPrefix(got, "204") {
		t.Fatalf("logout: got %q, want 204", got)
	}
	if _, err := store.GetDeviceBinding(context.Background(), "alice", handle); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("binding after logout: got %v, want ErrNotFound", err)
	}
	if got := whoami(); !strings.HasPrefix(got, "401") {
		t.Fatalf("after logout: got %q, want 401", got)
	}
	t.Logf("server saw: %q", log.snapshot())
}
