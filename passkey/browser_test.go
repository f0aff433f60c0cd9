package passkey_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/sessionguard/sessionguard/internal/chromiumtest"
	"github.com/sessionguard/sessionguard/passkey"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
	"github.com/sessionguard/sessionguard/totp"
)

// The browser test drives real headless Chromium with the DevTools
// protocol's virtual authenticators (WebAuthn.enable,
// WebAuthn.addVirtualAuthenticator): no part of the ceremonies is faked.
// It needs Chromium: SESSION_TEST_CHROMIUM names the binary, else
// "chromium" is looked up on PATH. Without it the test is skipped, except
// when CI=true, where it fails.

func chromiumPath(t *testing.T) string { return chromiumtest.Path(t, "the passkey browser test") }

// page is the test app's only page: helpers that run the ceremonies the
// way a real front end does, with the browser's own JSON codecs.
const page = `<!doctype html><meta charset="utf-8"><title>passkeys</title><script>
async function call(method, path, body) {
	const r = await fetch(path, {method, headers: {"Content-Type": "application/json"}, body: body === undefined ? undefined : JSON.stringify(body)});
	const text = await r.text();
	return {status: r.status, body: text ? JSON.parse(text) : null};
}
async function register(name) {
	const b = await call("POST", "/auth/passkeys/register/begin", {name});
	if (b.status !== 200) return b;
	const cred = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(b.body.options.publicKey)});
	return call("POST", "/auth/passkeys/register/finish", {challenge_id: b.body.challenge_id, credential: cred.toJSON()});
}
async function assert(tamper, trust) {
	const b = await call("POST", "/auth/passkeys/login/begin", {});
	if (b.status !== 200) return b;
	const cred = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(b.body.options.publicKey)});
	const json = cred.toJSON();
	if (tamper) json.response.signature = json.response.signature.slice(0, -4) + "AAAA";
	return call("POST", "/auth/passkeys/login/finish", {challenge_id: b.body.challenge_id, credential: json, trust_browser: !!trust});
}
</script>`

// addVirtualAuthenticator is WebAuthn.addVirtualAuthenticator with only
// the options given: the generated parameters send every extension flag,
// and Chromium refuses some it does not know.
var addVirtualAuthenticator = cdp.Command[addVirtualAuthenticatorParams, webauthn.AddVirtualAuthenticatorResult]{Method: webauthn.CommandAddVirtualAuthenticator}

type addVirtualAuthenticatorParams struct {
	Options map[string]any `json:"options"`
}

// addCredential is WebAuthn.addCredential with only the fields given (as
// addVirtualAuthenticator).
var addCredential = cdp.Command[addCredentialParams, cdp.Empty]{Method: webauthn.CommandAddCredential}

type addCredentialParams struct {
	AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
	Credential      map[string]any           `json:"credential"`
}

type result struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// TestBrowserPasskeys: register a security key, sign in with password +
// key, register a passkey, sign in with the passkey alone, refuse a forged
// signature and a counter that went backwards (changing nothing), remove
// the key.
func TestBrowserPasskeys(t *testing.T) {
	chromium := chromiumPath(t)
	store := memory.New(memory.Options{})
	t.Cleanup(func() { store.Close() })
	keys, err := session.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tf, err := totp.New(totp.Config{Manager: m, Store: store, Issuer: "Test", Keys: []totp.Key{{ID: "k", Secret: make32()}}})
	if err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://localhost:" + portOf(ln)
	pk, err := passkey.New(passkey.Config{Manager: m, Store: store, RPID: "localhost", RPDisplayName: "Test", RPOrigins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", m.Routes(tf, pk))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, page) })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// The application checked the password.
		pending, err := tf.SignIn(w, r, "alice")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]bool{"pending": pending})
	})
	mux.Handle("GET /whoami", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		json.NewEncoder(w).Encode(s.UserID)
	})))
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: m.Handler(mux)}}
	srv.Start()
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	step := func(what string, a chromedp.Action[result]) result {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		r, err := chromedp.Run(sctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return r
	}
	js := func(what, expr string) result {
		t.Helper()
		return step(what, chromedp.Evaluate[result](expr, chromedp.EvalAwaitPromise))
	}
	want := func(what string, r result, status int) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s: got %d %s, want %d", what, r.Status, r.Body, status)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	addAuthenticator := func(o map[string]any) webauthn.AuthenticatorID {
		o["automaticPresenceSimulation"] = true
		res, err := chromedp.Call(ctx, addVirtualAuthenticator, addVirtualAuthenticatorParams{Options: o})
		if err != nil {
			t.Fatal(err)
		}
		return res.AuthenticatorID
	}

	// 1. A USB security key without user verification, as a second factor.
	key := addAuthenticator(map[string]any{"protocol": "ctap2", "transport": "usb"})
	want("sign in with the password", js("login", `call("POST", "/login")`), 200)
	if r := js("register a key before signing in", `(async () => { await call("POST", "/auth/logout"); return register("nope"); })()`); r.Status != 401 {
		t.Fatalf("register without a session: got %d %s, want 401", r.Status, r.Body)
	}
	js("login", `call("POST", "/login")`)
	want("register the security key", js("register", `register("YubiKey")`), 200)
	if n := countEvents(t, store, storage.EventPasskeyAdded); n != 1 {
		t.Errorf("passkey_added events: got %d, want 1", n)
	}

	// 2. Password + key.
	js("logout", `call("POST", "/auth/logout")`)
	r := js("login", `call("POST", "/login")`)
	if string(r.Body) != `{"pending":true}` {
		t.Fatalf("password sign-in with a key registered: got %s, want pending", r.Body)
	}
	want("whoami while pending", js("whoami", `call("GET", "/whoami")`), 401)
	want("a forged signature", js("tampered", `assert(true)`), 400)
	want("whoami after a forged signature", js("whoami", `call("GET", "/whoami")`), 401)
	r = js("second factor", `assert(false, true)`)
	if r.Status != 200 || string(r.Body) != `{"auth_level":"second_factor","trusted_browser":true}` {
		t.Fatalf("the key as second factor, trusting the browser: got %d %s", r.Status, r.Body)
	}
	want("whoami after the key", js("whoami", `call("GET", "/whoami")`), 200)
	// Signing in again (without logging out: the default Clear-Site-Data
	// of a logout clears the trust cookie too).
	if r := js("login", `call("POST", "/login")`); string(r.Body) != `{"pending":false}` {
		t.Fatalf("password sign-in on the trusted browser: got %s, want not pending", r.Body)
	}

	// 3. A passkey: discoverable, with user verification, synced.
	if _, err := chromedp.Call(ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: key}); err != nil {
		t.Fatal(err)
	}
	laptop := addAuthenticator(map[string]any{
		"protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
		"hasResidentKey": true, "hasUserVerification": true, "isUserVerified": true,
		"defaultBackupEligibility": true, "defaultBackupState": true,
	})
	want("register the passkey", js("register", `register("Laptop")`), 200)

	// 4. The passkey alone: no password, no session.
	js("logout", `call("POST", "/auth/logout")`)
	if r := js("trust without a second factor", `assert(false, true)`); r.Status != 400 {
		t.Fatalf("trust_browser on a passkey sign-in: got %d %s, want 400", r.Status, r.Body)
	}
	r = js("passkey sign-in", `assert(false)`)
	if r.Status != 200 || string(r.Body) != `{"auth_level":"second_factor"}` {
		t.Fatalf("passkey sign-in: got %d %s, want 200 second_factor", r.Status, r.Body)
	}
	if r := js("whoami", `call("GET", "/whoami")`); r.Status != 200 || string(r.Body) != `"alice"` {
		t.Fatalf("after the passkey sign-in: got %d %s, want alice", r.Status, r.Body)
	}

	// 5. Remove the security key (this sign-in is recent enough).
	r = js("list", `call("GET", "/auth/passkeys")`)
	var listed struct{ Passkeys []passkey.Info }
	if err := json.Unmarshal(r.Body, &listed); err != nil || len(listed.Passkeys) != 2 {
		t.Fatalf("GET /passkeys: got %d %s, want 2 passkeys", r.Status, r.Body)
	}
	yubikey, laptopKey := listed.Passkeys[0], listed.Passkeys[1]
	if yubikey.Name != "YubiKey" || yubikey.LastUsedAt == nil || yubikey.Synced || laptopKey.Name != "Laptop" || !laptopKey.Synced || !laptopKey.BackedUp {
		t.Errorf("GET /passkeys: got %s", r.Body)
	}
	want("remove another user's id", js("remove", `call("DELETE", "/auth/passkeys/nope")`), 404)
	trustReq := httptest.NewRequest("POST", origin+"/", nil)
	if _, err := m.TrustedBrowsers().Trust(httptest.NewRecorder(), trustReq, session.Audit{}, "alice"); err != nil {
		t.Fatal(err)
	}
	trusted := func() int {
		list, err := m.TrustedBrowsers().List(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	want("remove the key", js("remove", `call("DELETE", "/auth/passkeys/`+yubikey.ID+`")`), 204)
	if list, err := pk.List(context.Background(), "alice"); err != nil || len(list) != 1 || list[0].ID != laptopKey.ID {
		t.Fatalf("after removing the key: got %+v, %v; want the passkey only", list, err)
	}
	if n := trusted(); n != 2 {
		t.Errorf("trusted browsers while a passkey remains: got %d, want 2", n)
	}

	// 6. A counter that goes backwards (a cloned key) is refused and
	// logged, and changes nothing.
	creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: laptop})
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("GetCredentials: got %v, %v", creds, err)
	}
	orig := creds.Credentials[0]
	if orig.SignCount < 1 {
		t.Fatalf("the passkey's counter after a sign-in: got %v, want at least 1", orig.SignCount)
	}
	if _, err := chromedp.Call(ctx, webauthn.RemoveCredential, webauthn.RemoveCredentialParams{AuthenticatorID: laptop, CredentialID: orig.CredentialID}); err != nil {
		t.Fatal(err)
	}
	clone := map[string]any{ // the same key, its counter back at 0
		"credentialId": orig.CredentialID, "isResidentCredential": true, "rpId": orig.RpID,
		"privateKey": orig.PrivateKey, "userHandle": orig.UserHandle, "signCount": 0,
		"backupEligibility": orig.BackupEligibility, "backupState": orig.BackupState,
	}
	if _, err := chromedp.Call(ctx, addCredential, addCredentialParams{AuthenticatorID: laptop, Credential: clone}); err != nil {
		t.Fatal(err)
	}
	js("logout", `call("POST", "/auth/logout")`)
	r = js("cloned passkey", `assert(false)`)
	if r.Status != 403 {
		t.Fatalf("a counter that went backwards: got %d %s, want 403", r.Status, r.Body)
	}
	want("whoami after the clone", js("whoami", `call("GET", "/whoami")`), 401)
	if n := countEvents(t, store, storage.EventPasskeyCounterRegressed); n != 1 {
		t.Errorf("passkey_counter_regressed events: got %d, want 1", n)
	}

	// 7. Removing the last second factor ends the trusted browsers.
	if err := pk.Remove(context.Background(), session.Audit{}, "alice", laptopKey.ID); err != nil {
		t.Fatal(err)
	}
	if n := trusted(); n != 0 {
		t.Errorf("trusted browsers after the last passkey was removed: got %d, want 0", n)
	}

}

func countEvents(t *testing.T, s storage.Store, typ storage.EventType) int {
	t.Helper()
	es, err := s.ListEvents(context.Background(), "alice", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func portOf(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func make32() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}
