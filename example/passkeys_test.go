package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// sendJSON sends a same-origin JSON request as the page's script does and
// returns the status and the decoded answer.
func (c *client) sendJSON(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	req := c.request(method, path, nil)
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestPasskeyCard: the two-factor page offers security keys and passkeys
// with the library's routes mounted under /auth/ for the relying party
// "localhost"; registering needs a recent authentication, which the
// page's password step gives (a wrong password changes nothing); a key is
// listed with its dates, and removing it asks first, with the password
// once the sign-in is old.
func TestPasskeyCard(t *testing.T) {
	t.Parallel()
	srv, a, clock := newClockedServer(t)
	c := newClient(t, srv, chromeMac)
	c.expectRedirect("POST", "/login", url.Values{"username": {demoUser}, "password": {demoPassword}}, "/")

	c.page("/two-factor", "/two-factor", "Security keys and passkeys", "No security key or passkey yet.", `id="passkey-register"`, "Log in with a security key")
	if body := c.page("/login", "/"); strings.Contains(body, "data-passkey-login") {
		t.Error("a signed-in user is shown the sign-in page")
	}

	status, begin := c.sendJSON("POST", "/auth/passkeys/register/begin", `{"name":"YubiKey"}`)
	if status != http.StatusOK {
		t.Fatalf("register/begin just after signing in: got %d %v, want 200", status, begin)
	}
	opts, _ := begin["options"].(map[string]any)
	pk, _ := opts["publicKey"].(map[string]any)
	rp, _ := pk["rp"].(map[string]any)
	if rp["id"] != "localhost" {
		t.Errorf("relying party: got %v, want id localhost", rp)
	}

	// Older than the re-authentication window: the password comes first.
	clock.Advance(20 * time.Minute)
	c.page("/two-factor", "/two-factor", `id="passkey-password"`)
	if status, body := c.sendJSON("POST", "/auth/passkeys/register/begin", `{"name":"YubiKey"}`); status == http.StatusOK {
		t.Fatalf("register/begin 20 minutes after signing in: got 200 %v, want a refusal", body)
	}
	status, _, body := c.send("POST", "/two-factor/passkeys/confirm-password", url.Values{"password": {"wrong"}})
	if status != http.StatusForbidden || !strings.Contains(body, "That password is not right") {
		t.Errorf("a wrong password: got %d %s, want 403 with the message", status, body)
	}
	if status, _ := c.sendJSON("POST", "/auth/passkeys/register/begin", `{"name":"YubiKey"}`); status == http.StatusOK {
		t.Error("a wrong password made the session recent")
	}
	if status, _, body := c.send("POST", "/two-factor/passkeys/confirm-password", url.Values{"password": {demoPassword}}); status != http.StatusNoContent {
		t.Fatalf("the right password: got %d %s, want 204", status, body)
	}
	if status, body := c.sendJSON("POST", "/auth/passkeys/register/begin", `{"name":"YubiKey"}`); status != http.StatusOK {
		t.Fatalf("register/begin after confirming the password: got %d %v, want 200", status, body)
	}

	// A key as the ceremony would store it (the browser test makes real ones).
	uid := userID(t, a, demoUser, demoPassword)
	if err := a.store.CreatePasskey(context.Background(), &storage.Passkey{ID: "pk1", UserID: uid, CredentialID: []byte("cred-1"),
		Name: "YubiKey <5C>", Data: []byte("{}"), CreatedAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	c.page("/two-factor", "/two-factor", `data-id="pk1"`, "YubiKey &lt;5C&gt;", "never used",
		`data-confirm="Remove YubiKey &lt;5C&gt;?"`, `data-post="/two-factor/passkeys/pk1/remove"`)

	// Old sign-in again: no dialog, the confirmation page asks for the password.
	clock.Advance(20 * time.Minute)
	body = c.page("/two-factor", "/two-factor")
	if strings.Contains(body, `data-post="/two-factor/passkeys/pk1/remove"`) {
		t.Error("with an old sign-in the Remove button opens a dialog that cannot take the password")
	}
	c.page("/two-factor/passkeys/pk1", "/two-factor/passkeys/pk1", "Remove YubiKey &lt;5C&gt;?", "won&#39;t be able to log in with it", `id="remove-password"`)
	c.expectRedirect("POST", "/two-factor/passkeys/pk1/remove", url.Values{"password": {"wrong"}}, "/two-factor/passkeys/pk1?m=wrong-confirm")
	if list, _ := a.pk.List(context.Background(), uid); len(list) != 1 {
		t.Fatalf("after a wrong password %d keys are left, want 1", len(list))
	}
	c.expectRedirect("POST", "/two-factor/passkeys/pk1/remove", url.Values{"password": {demoPassword}}, "/two-factor?m=passkey-removed")
	if list, _ := a.pk.List(context.Background(), uid); len(list) != 0 {
		t.Errorf("after removing it %d keys are left, want 0", len(list))
	}
	c.expectRedirect("GET", "/two-factor/passkeys/pk1", nil, "/two-factor?m=passkey-not-found")
	c.expectRedirect("POST", "/two-factor/passkeys/pk1/remove", nil, "/two-factor?m=passkey-not-found")

	// Signed out: the sign-in page offers a passkey.
	c.do("POST", "/logout", nil)
	c.page("/login", "/login", `data-passkey-login="sign-in"`, "Log in with a passkey")
}
