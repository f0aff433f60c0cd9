package totp

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// TestSignInWithoutRememberMe: a sign-in without "remember me" is a
// browser-session cookie while pending, and still one once the second
// factor completes it.
func TestSignInWithoutRememberMe(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.enroll(t, "alice")
	w := httptest.NewRecorder()
	pending, err := env.svc.SignInWithOptions(w, httptest.NewRequest("POST", "https://example.com/login", nil), "alice", session.LoginOptions{})
	if err != nil || !pending {
		t.Fatalf("SignInWithOptions: got pending %v, %v; want true, nil", pending, err)
	}
	if h := w.Header().Get("Set-Cookie"); strings.Contains(h, "Max-Age") {
		t.Errorf("pending cookie %q: want no Max-Age", h)
	}
	r := httptest.NewRequest("POST", "https://example.com/2fa", nil)
	r.AddCookie(w.Result().Cookies()[0])
	w = httptest.NewRecorder()
	s, err := env.mgr.Elevate(w, r, storage.AuthSecondFactor)
	if err != nil {
		t.Fatal(err)
	}
	if h := w.Header().Get("Set-Cookie"); strings.Contains(h, "Max-Age") || s.Remembered() {
		t.Errorf("after the second factor: Set-Cookie %q, Remembered %v; want a browser-session cookie", h, s.Remembered())
	}
}
