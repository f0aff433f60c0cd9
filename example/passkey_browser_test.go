package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"
)

// addVirtualAuthenticator is WebAuthn.addVirtualAuthenticator with only
// the options given: the generated parameters send every extension flag,
// and Chromium refuses some it does not know.
var addVirtualAuthenticator = cdp.Command[virtualAuthenticatorParams, webauthn.AddVirtualAuthenticatorResult]{Method: webauthn.CommandAddVirtualAuthenticator}

type virtualAuthenticatorParams struct {
	Options map[string]any `json:"options"`
}

// TestBrowserPasskeyCard: in headless Chromium with the DevTools
// protocol's virtual authenticator (a platform passkey with user
// verification), the two-factor page's card adds a passkey through
// navigator.credentials.create, lists and renames it; the password then
// leads to the second step, which the key completes (trusting the
// browser when asked, so that the password alone then suffices there);
// after logging out,
// "Log in with a passkey" on the sign-in page signs in with it alone; the
// key is then removed behind the confirmation dialog and can no longer
// sign in.
func TestBrowserPasskeyCard(t *testing.T) {
	chromium := chromiumPath(t)
	// WebAuthn needs a secure context: http://localhost is one, and the
	// relying party is "localhost".
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://localhost:" + port
	a, err := newApp(appConfig{DataDir: t.TempDir(), Logger: quietLogger(), BcryptCost: bcrypt.MinCost, StoreKind: storeMemory,
		Locator: testLocations, TrustedProxies: loopback, PasskeyOrigin: base})
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: a.Handler()}}
	srv.Start()
	t.Cleanup(func() { srv.Close(); a.Close() })

	p := newProfile(t, chromium, base, "laptop", chromeMac, "203.0.113.7", 1000, 800)
	if _, err := chromedp.Call(p.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(p.ctx, addVirtualAuthenticator, virtualAuthenticatorParams{Options: map[string]any{
		"protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
		"hasResidentKey": true, "hasUserVerification": true, "isUserVerified": true,
		"automaticPresenceSimulation": true,
	}}); err != nil {
		t.Fatal(err)
	}
	// With axe-core at hand, the states only this test reaches (a real key
	// at the relying party's origin) are audited like TestBrowserPages's.
	audit := func(string, string) {}
	if os.Getenv("SESSION_TEST_AXE") != "" {
		au := &auditor{t: t, p: p, axe: axeSource(t)}
		audit = au.check
	} else {
		t.Log("SESSION_TEST_AXE is not set: the passkey page states are not audited")
	}
	waitFor := func(path string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for p.where() != path {
			if time.Now().After(deadline) {
				t.Fatalf("still on %s, want %s: %s", p.where(), path, p.text())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	p.signIn(demoUser, demoPassword)
	p.expect("/", "Hello, demo")
	p.open("/two-factor")
	p.expect("/two-factor", "Security keys and passkeys", "No security key or passkey yet.")
	p.fill("#passkey-name", "Laptop")
	p.do(chromedp.Click(chromedp.CSS(`#passkey-register button[type=submit]`), chromedp.NodeVisible))
	waitFor("/two-factor?m=passkey-added")
	p.expect("/two-factor?m=passkey-added", "Your security key or passkey was added", "Laptop", "never used")
	audit("a passkey added", "")

	// Rename it.
	id := runIn(p, chromedp.Evaluate[string](`document.querySelector("li.passkey").dataset.id`))
	p.do(chromedp.Click(chromedp.CSS(`li.passkey details[data-rename] summary`), chromedp.NodeVisible))
	p.fill("#rename-"+id, "MacBook")
	p.do(chromedp.Click(chromedp.CSS(`li.passkey details[data-rename] button[type=submit]`), chromedp.NodeVisible))
	waitFor("/two-factor?m=passkey-renamed")
	p.expect("/two-factor?m=passkey-renamed", "MacBook")

	// With a key registered, the password alone is not enough: the key
	// completes the second step.
	p.signOut()
	p.signIn(demoUser, demoPassword)
	p.expect("/login/2fa", "Use one of your security keys or passkeys")
	audit("second factor, a passkey only", "")
	if strings.Contains(p.text(), "Code from your authenticator app") {
		t.Error("the second step asks for an authenticator code the user does not have")
	}
	// "Don't ask again on this browser" works with the key as with a code.
	p.do(chromedp.Click(chromedp.CSS(`label[for="trust"]`), chromedp.NodeVisible))
	p.do(chromedp.Click(chromedp.CSS(`#passkey-login`), chromedp.NodeVisible))
	waitFor("/?m=browser-trusted")
	p.expect("/?m=browser-trusted", "Hello, demo", "This browser is trusted")
	p.signOut()
	p.signIn(demoUser, demoPassword)
	p.expect("/", "Hello, demo")

	// Log out, then the passkey alone.
	p.signOut()
	p.open("/login")
	p.do(chromedp.Click(chromedp.CSS(`#passkey-login`), chromedp.NodeVisible))
	waitFor("/")
	p.expect("/", "Hello, demo")
	p.open("/two-factor")
	if text := p.text(); !strings.Contains(text, "last used") || strings.Contains(text, "never used") {
		t.Errorf("after signing in with it the key is not shown as used:\n%s", text)
	}
	p.open("/sessions")
	if rows := p.sessions(); len(rows) != 1 {
		t.Errorf("after the passkey sign-in: got %d sessions, want 1", len(rows))
	}

	// Remove it behind the confirmation dialog (the sign-in is recent).
	p.open("/two-factor")
	p.confirmInDialog(`li.passkey form[data-confirm] button`, "Remove MacBook?")
	p.expect("/two-factor?m=passkey-removed", "That security key or passkey was removed", "No security key or passkey yet.")
	if list, err := a.pk.List(context.Background(), userID(t, a, demoUser, demoPassword)); err != nil || len(list) != 0 {
		t.Fatalf("after removing it: got %d keys (%v), want 0", len(list), err)
	}

	// The security log says what happened, in words.
	p.open("/security-log")
	p.expect("/security-log", "Added the security key or passkey “Laptop”", "Used a security key or passkey", "Removed a security key or passkey")

	// The removed key no longer signs in: the page says so and stays put.
	p.signOut()
	p.open("/login")
	p.do(chromedp.Click(chromedp.CSS(`#passkey-login`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS(`#passkey-login-error`)))
	if got := p.where(); got != "/login" {
		t.Errorf("a removed key signed in: on %s", got)
	}
	audit("passkey sign-in refused", "passkey-login")
	if n := p.dialogs.Load(); n != 0 {
		t.Errorf("the pages opened %d JavaScript dialogs, want 0", n)
	}
}
