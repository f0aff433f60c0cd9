package main

import (
	"bytes"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// Example runs the program's handler as main serves it: a wrong password,
// a sign-in, the account page, the sessions list, logout.
func Example() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	h := newHandler(m)

	var cookie string
	do := func(method, path string, form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://localhost:8080"+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin") // as a browser sends a form of the same site
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		for _, c := range w.Result().Cookies() {
			cookie = c.Name + "=" + c.Value
		}
		return w
	}
	fmt.Println("wrong password:", do("POST", "/login", url.Values{"user": {"demo"}, "password": {"guess"}}).Code)
	fmt.Println("sign in:", do("POST", "/login", url.Values{"user": {"demo"}, "password": {"demo-password"}}).Code)
	w := do("GET", "/account", nil)
	fmt.Print("account: ", w.Code, " ", w.Body.String())
	fmt.Println("sessions:", strings.Count(do("GET", "/auth/sessions", nil).Body.String(), `"current":true`))
	fmt.Println("log out:", do("POST", "/auth/logout", nil).Code)
	fmt.Println("account after logout:", do("GET", "/account", nil).Code)
	// Output:
	// wrong password: 401
	// sign in: 303
	// account: 200 Hello, demo.
	// sessions: 1
	// log out: 204
	// account after logout: 401
}

// TestCrossSiteSignInIsRefused: the program as written refuses a sign-in
// form posted from another site (login CSRF).
func TestCrossSiteSignInIsRefused(t *testing.T) {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	form := url.Values{"user": {"demo"}, "password": {"demo-password"}}
	r := httptest.NewRequest("POST", "https://localhost:8080/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Origin", "https://evil.example")
	w := httptest.NewRecorder()
	newHandler(m).ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
		t.Errorf("cross-site sign-in: got %d with %d cookies, want 403 and none", w.Code, len(w.Result().Cookies()))
	}
}

// TestREADMEQuickStartIsThisProgram: the README's Quick start block is
// this file, byte for byte, so the README shows a program that compiles
// (go vet and go test build it) and that Example runs.
func TestREADMEQuickStartIsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	program, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	block, err := quickStartBlock(readme)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(block, program) {
		t.Errorf("README.md's Quick start differs from example/quickstart/main.go: copy the file into the README's go block\n--- README\n%s\n--- main.go\n%s", block, program)
	}
}

// quickStartBlock returns the first ```go block after the "## Quick start"
// heading of readme.
func quickStartBlock(readme []byte) ([]byte, error) {
	_, after, ok := bytes.Cut(readme, []byte("\n## Quick start"))
	if !ok {
		return nil, fmt.Errorf(`README.md has no "## Quick start" section`)
	}
	_, after, ok = bytes.Cut(after, []byte("\n```go\n"))
	if !ok {
		return nil, fmt.Errorf("README.md's Quick start has no ```go block")
	}
	block, _, ok := bytes.Cut(after, []byte("\n```\n"))
	if !ok {
		return nil, fmt.Errorf("README.md's Quick start block is not closed")
	}
	return append(block, '\n'), nil
}
