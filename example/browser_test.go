package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	otptotp "github.com/pquerna/otp/totp"

	"github.com/sessionguard/sessionguard/internal/chromiumtest"
)

// The browser test drives the app in headless Chromium, with three
// independent browser profiles (each its own browser, user-data directory,
// User-Agent and client address) signed in to the same account.
//
// It needs Chromium: SESSION_TEST_CHROMIUM names the binary, else
// "chromium" is looked up on PATH. Without it the test is skipped, except
// when CI=true, where it fails.
//
// TestBrowserPages (audit_test.go) saves the README's screenshots, on the
// demo data, into a temporary directory, or into SESSION_SCREENSHOT_DIR
// when set (a relative path is taken from the module root):
//
//	SESSION_SCREENSHOT_DIR=example/screenshots go test -count=1 ./example -run TestBrowserPages

const (
	firefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	// actionTimeout bounds each browser step.
	actionTimeout = 20 * time.Second
)

func chromiumPath(t *testing.T) string { return chromiumtest.Path(t, "the browser test") }

// screenshotDir is where screenshots go: SESSION_SCREENSHOT_DIR (relative
// to the module root, since go test runs in the package directory) or a
// temporary directory.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SESSION_SCREENSHOT_DIR")
	if dir == "" {
		return t.TempDir()
	}
	if !filepath.IsAbs(dir) {
		root, err := filepath.Abs("..") // the package is one level below the module root
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			t.Fatalf("SESSION_SCREENSHOT_DIR: cannot find the module root: %v", err)
		}
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// profile is one browser with its own profile directory.
type profile struct {
	t       *testing.T
	name    string
	base    string
	ctx     context.Context
	dialogs atomic.Int32
}

func newProfile(t *testing.T, chromium, base, name, userAgent, ip string, width, height int) *profile {
	t.Helper()
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
		chromedp.UserDataDir(t.TempDir()),
		chromedp.UserAgent(userAgent),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	p := &profile{t: t, name: name, base: base, ctx: ctx}

	// The first call starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: starting chromium: %v", name, err)
	}
	// Each profile comes from its own address, through the X-Forwarded-For
	// header the app trusts from loopback in this test.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"X-Forwarded-For": ip}}); err != nil {
		t.Fatal(err)
	}
	// Accept every JavaScript dialog, and count them (the app has none:
	// it asks in its own <dialog>).
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			p.dialogs.Add(1)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return p
}

func (p *profile) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

func runIn[T any](p *profile, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
	return v
}

// open navigates to path and returns where the browser ended up.
func (p *profile) open(path string) string {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base + path))
	return p.where()
}

// where is the path and query of the page shown.
func (p *profile) where() string {
	p.t.Helper()
	return strings.TrimPrefix(runIn(p, chromedp.Location()), p.base)
}

// submit clicks the button sel, waits for the page that follows and
// returns its status.
func (p *profile) submit(sel string) int64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		p.t.Fatalf("%s: submitting %s: %v", p.name, sel, err)
	}
	return resp.Status
}

// confirmInDialog clicks opener, checks that the page's confirmation
// dialog opens asking want with the focus on Cancel, confirms, and waits
// for the page that follows.
func (p *profile) confirmInDialog(opener, want string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(opener), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS("dialog.confirm-dialog[open]")))
	if got := runIn(p, chromedp.Text(chromedp.CSS("#confirm-dialog-title"))); got != want {
		p.t.Fatalf("%s: the dialog asks %q, want %q", p.name, got, want)
	}
	if got := runIn(p, chromedp.Evaluate[string](`document.activeElement.id`)); got != "confirm-dialog-cancel" {
		p.t.Errorf("%s: the dialog opens with the focus on %q, want Cancel", p.name, got)
	}
	p.submit(`dialog.confirm-dialog[open] button.danger`)
}

func (p *profile) fill(sel, value string) {
	p.t.Helper()
	p.do(chromedp.SetValue(chromedp.CSS(sel), value))
}

// text is the visible text of the page's main element.
func (p *profile) text() string {
	p.t.Helper()
	return runIn(p, chromedp.Text(chromedp.CSS("main")))
}

// expect checks that the page shown is at path (with its query) and says
// each of want.
func (p *profile) expect(path string, want ...string) {
	p.t.Helper()
	if got := p.where(); got != path {
		p.t.Fatalf("%s is on %s, want %s", p.name, got, path)
	}
	text := p.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			p.t.Fatalf("%s on %s: the page does not say %q:\n%s", p.name, path, w, text)
		}
	}
}

func (p *profile) signIn(username, password string) {
	p.t.Helper()
	p.open("/login")
	p.fill("#username", username)
	p.fill("#password", password)
	p.submit(`form[action="/login"] button[type=submit]`)
}

// signInWithCode signs in with the password and a fresh TOTP code.
func (p *profile) signInWithCode(password, secret string, clock *testClock) {
	p.t.Helper()
	p.signIn(demoUser, password)
	p.expect("/login/2fa", "Code from your authenticator app")
	p.enterCode("#code", secret, clock)
	p.submit(`form[action="/login/2fa"] button[type=submit]`)
	p.expect("/", "Hello, demo")
}

// enterCode moves the clock to the next 30-second step (each step is
// accepted once) and types the code of that step.
func (p *profile) enterCode(sel, secret string, clock *testClock) {
	p.t.Helper()
	clock.Advance(30 * time.Second)
	code, err := otptotp.GenerateCode(secret, clock.Now())
	if err != nil {
		p.t.Fatal(err)
	}
	p.fill(sel, code)
}

func (p *profile) signOut() {
	p.t.Helper()
	p.submit(`header form[action="/logout"] button`)
	p.expect("/login?m=logged-out", "You are logged out.")
}

// expectSignedOut checks that the profile's next navigation lands on the
// login page saying it was logged out.
func (p *profile) expectSignedOut() {
	p.t.Helper()
	p.open("/sessions")
	p.expect("/login?m=signed-out", "You were logged out")
}

type sessionRow struct {
	ID      string `json:"id"`
	Device  string `json:"device"`
	Current bool   `json:"current"`
	Meta    string `json:"meta"`
}

// sessions reads the sessions page's list.
func (p *profile) sessions() []sessionRow {
	p.t.Helper()
	p.open("/sessions")
	return runIn(p, chromedp.Evaluate[[]sessionRow](`[...document.querySelectorAll("li.session")].map(li => ({
		id: li.dataset.id,
		device: li.querySelector(".device").textContent,
		current: li.classList.contains("current") && li.textContent.includes("This device"),
		meta: li.querySelector(".meta").textContent.replace(/\s+/g, " ").trim(),
	}))`))
}

// screenshot saves a PNG of the whole page as dir/name and checks that it
// decodes to a non-empty image.
func (p *profile) screenshot(dir, name string) {
	p.t.Helper()
	b := runIn(p, chromedp.FullScreenshot(100))
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if r := img.Bounds(); r.Dx() == 0 || r.Dy() == 0 {
		p.t.Fatalf("screenshot %s is empty: %v", name, r)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func TestBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	srv, _, clock := newClockedServer(t)
	base := srv.URL

	start := time.Now()
	laptop := newProfile(t, chromium, base, "laptop", chromeMac, "203.0.113.7", 1000, 800)
	phone := newProfile(t, chromium, base, "phone", iphone, "203.0.113.50", 390, 844)
	desktop := newProfile(t, chromium, base, "desktop", firefoxWindows, "198.51.100.23", 1200, 800)
	t.Logf("three browsers started in %v", time.Since(start).Round(time.Millisecond))

	// Three devices sign in, hours apart.
	desktop.signIn(demoUser, demoPassword)
	desktop.expect("/", "Hello, demo")
	clock.Advance(3 * time.Hour)
	phone.signIn(demoUser, demoPassword)
	clock.Advance(25 * time.Minute)
	laptop.signIn(demoUser, demoPassword)

	t.Run("each device sees all sessions, itself first as This device", func(t *testing.T) {
		rows := laptop.sessions()
		if len(rows) != 3 {
			t.Fatalf("the laptop lists %d sessions, want 3: %+v", len(rows), rows)
		}
		want := []struct{ device, meta string }{
			{"Chrome 131 on macOS", "Lisbon, Portugal · 203.0.113.7 · Active now"},
			{"Safari 17 on iPhone", "Porto, Portugal · 203.0.113.50 · Last active 25 minutes ago"},
			{"Firefox 133 on Windows", "Toronto, Canada · 198.51.100.23 · Last active 3 hours ago"},
		}
		for i, w := range want {
			if rows[i].Device != w.device || rows[i].Meta != w.meta || rows[i].Current != (i == 0) {
				t.Errorf("row %d: got %+v, want %s / %s / current %v", i, rows[i], w.device, w.meta, i == 0)
			}
		}

		rows = phone.sessions()
		if len(rows) != 3 || !rows[0].Current || rows[0].Device != "Safari 17 on iPhone" || rows[1].Current || rows[2].Current {
			t.Errorf("the phone's list: got %+v, want the iPhone first and alone marked This device", rows)
		}
	})

	t.Run("the laptop ends the phone's session", func(t *testing.T) {
		var phoneID string
		for _, r := range laptop.sessions() {
			if strings.Contains(r.Device, "iPhone") {
				phoneID = r.ID
			}
		}
		laptop.open("/sessions/" + phoneID)
		laptop.expect("/sessions/"+phoneID, "Safari 17 on iPhone", "Porto, Portugal", "Log out the device shown")
		laptop.confirmInDialog(`form[data-post] button`, "Log out Safari 17 on iPhone?")
		laptop.expect("/sessions?m=ended-one", "That device is logged out")
		phone.expectSignedOut()
		if n := len(laptop.sessions()); n != 2 {
			t.Errorf("after ending the phone's session the laptop lists %d sessions, want 2", n)
		}
	})

	var secret string
	var recovery []string
	t.Run("the laptop turns on two-factor authentication", func(t *testing.T) {
		laptop.open("/two-factor")
		laptop.submit(`form[action="/two-factor/enroll"] button`)
		laptop.expect("/two-factor", "Scan this QR code", "Can't scan it?")
		if w := runIn(laptop, chromedp.Evaluate[int](`document.querySelector("img.qr").naturalWidth`)); w == 0 {
			t.Error("the QR code image did not load")
		}
		secret = strings.ReplaceAll(runIn(laptop, chromedp.Text(chromedp.CSS("#totp-secret"))), " ", "")

		laptop.enterCode("#confirm-code", secret, clock)
		laptop.submit(`form[action="/two-factor/confirm"] button`)
		laptop.expect("/two-factor/recovery-codes?m=2fa-enabled", "Two-factor authentication is on.", "Save these codes now", "shown only this once")
		recovery = runIn(laptop, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#recovery-codes code")].map(c => c.textContent)`))
		if len(recovery) != 10 {
			t.Fatalf("got %d recovery codes, want 10", len(recovery))
		}
		laptop.open("/two-factor/recovery-codes")
		if text := laptop.text(); strings.Contains(text, recovery[0]) || !strings.Contains(text, "can't be shown again") {
			t.Errorf("the recovery codes were shown twice:\n%s", text)
		}
	})
	if secret == "" || len(recovery) == 0 {
		t.FailNow()
	}

	t.Run("signing in again asks for a code", func(t *testing.T) {
		laptop.signOut()
		laptop.signInWithCode(demoPassword, secret, clock)
	})

	t.Run("a recovery code works once", func(t *testing.T) {
		laptop.signOut()
		laptop.signIn(demoUser, demoPassword)
		laptop.expect("/login/2fa")
		laptop.submit(`a[href="/login/2fa?with=recovery-code"]`)
		laptop.fill("#recovery_code", recovery[0])
		laptop.submit(`form[action="/login/2fa"] button[type=submit]`)
		laptop.expect("/?m=recovery-used&n=9", "You have 9 recovery codes left.", "Hello, demo")

		laptop.signOut()
		laptop.signIn(demoUser, demoPassword)
		laptop.open("/login/2fa?with=recovery-code")
		laptop.fill("#recovery_code", recovery[0])
		if status := laptop.submit(`form[action="/login/2fa"] button[type=submit]`); status != 403 {
			t.Errorf("a used recovery code: got status %d, want 403", status)
		}
		laptop.expect("/login/2fa", "That recovery code is not right, or it was used already.")
		if text := laptop.open("/sessions"); text != "/login/2fa" {
			t.Errorf("a session pending its second factor reached %s, want /login/2fa", text)
		}
		laptop.open("/login/2fa")
		laptop.enterCode("#code", secret, clock)
		laptop.submit(`form[action="/login/2fa"] button[type=submit]`)
		laptop.expect("/", "Hello, demo")
	})

	t.Run("log out all other sessions, after a confirmation dialog", func(t *testing.T) {
		phone.signInWithCode(demoPassword, secret, clock)
		if n := len(laptop.sessions()); n != 3 {
			t.Fatalf("the laptop lists %d sessions, want 3", n)
		}
		laptop.confirmInDialog(`form[action="/sessions/confirm/others"] button`, "Log out all other sessions?")
		if n := laptop.dialogs.Load(); n != 0 {
			t.Errorf("got %d JavaScript dialogs, want none (the page's own dialog asks)", n)
		}
		laptop.expect("/sessions?m=ended-others&n=2", "All your other sessions were ended. 2 sessions ended.")
		phone.expectSignedOut()
		desktop.expectSignedOut()
		if rows := laptop.sessions(); len(rows) != 1 || !rows[0].Current {
			t.Errorf("after logging out the others: got %+v, want this device alone", rows)
		}
	})

	t.Run("changing the password ends the other sessions", func(t *testing.T) {
		phone.signInWithCode(demoPassword, secret, clock)
		desktop.signInWithCode(demoPassword, secret, clock)
		laptop.open("/password")
		laptop.fill("#current", demoPassword)
		laptop.fill("#new", "a much better passphrase")
		laptop.fill("#confirm", "a much better passphrase")
		laptop.submit(`form[action="/password"] button`)
		laptop.expect("/password?m=password-changed&n=2", "Your password was changed. 2 other sessions were logged out.")
		phone.expectSignedOut()
		desktop.expectSignedOut()
		laptop.open("/")
		laptop.expect("/", "Hello, demo")

		laptop.signOut()
		laptop.signIn(demoUser, demoPassword)
		laptop.expect("/login", "Wrong username or password.")
		laptop.signInWithCode("a much better passphrase", secret, clock)
	})

	if elapsed := time.Since(start); elapsed > 60*time.Second {
		t.Logf("the browser test took %v (budget: about 60 s)", elapsed)
	}
}
