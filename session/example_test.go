package session_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// Wrap an application: the middleware on everything, the JSON routes under
// /auth/, and sign-in calling Login after the password check.
func Example() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, err := session.GenerateKeyPair() // load them from your secret store in production
	if err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", m.Routes()))
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		userID := "alice" // after checking r.FormValue("password")
		if _, err := m.Login(w, r, userID, storage.AuthPassword); err != nil {
			http.Error(w, "sign-in failed", http.StatusServiceUnavailable)
		}
	})
	mux.Handle("GET /account", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", s.UserID)
	})))
	handler := m.Handler(mux) // pass to http.ListenAndServe

	w := httptest.NewRecorder()
	handler.ServeHTTP(w, httptest.NewRequest("GET", "/account", nil))
	fmt.Println(w.Code)
	// Output: 401
}

// Sign out everywhere else: end every session of the user but this one.
func ExampleManager_RevokeOthers() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, _ := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	defer m.Close()

	var current *session.Session
	for range 3 { // three devices
		current, _ = m.Login(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil), "alice", storage.AuthPassword)
	}
	n, err := m.RevokeOthers(context.Background(), session.Audit{}, current)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ended", n)
	// Output: ended 2
}

// After a password change, end every other session of the user.
func ExampleManager_PasswordChanged() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, _ := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	defer m.Close()

	m.Login(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil), "alice", storage.AuthPassword)
	here, _ := m.Login(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil), "alice", storage.AuthPassword)
	n, _ := m.PasswordChanged(context.Background(), session.Audit{}, "alice", here)
	list, _ := m.ListSessions(context.Background(), "alice", here)
	fmt.Println("ended", n, "left", len(list), "current", list[0].Current)
	// Output: ended 1 left 1 current true
}

// Rotate cookie keys: put the new pair first and keep the old one until
// every cookie it sealed has expired or been re-issued.
func ExampleConfig_keyRotation() {
	oldKeys, _ := session.GenerateKeyPair()
	newKeys, _ := session.GenerateKeyPair()
	cfg := session.Config{
		Store: memory.New(memory.Options{}),
		Keys:  []session.KeyPair{newKeys, oldKeys},
	}
	m, err := session.New(cfg)
	fmt.Println(err == nil)
	m.Close()
	cfg.Store.Close()
	// Output: true
}

// Mount the JSON routes, with those of features such as the totp package's
// Service (m.Routes(totpService)), on a ServeMux prefix pattern; behind
// http.StripPrefix or chi's r.Mount("/auth", m.Routes()) they work the same.
func ExampleManager_Routes() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, _ := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	defer m.Close()

	mux := http.NewServeMux()
	mux.Handle("/auth/", m.Routes())
	h := m.Handler(mux)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/auth/sessions", nil))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output: 401 {"error":"unauthenticated","message":"Please sign in."}
}

// Pages redirect to the sign-in page; the app's own JSON endpoints keep a
// JSON 401 through JSONGuard.
func ExampleManager_JSONGuard() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, _ := session.New(session.Config{
		Store: store, Keys: []session.KeyPair{keys},
		Unauthenticated: http.RedirectHandler("/login", http.StatusSeeOther),
	})
	defer m.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /account", m.RequireAuth(http.NotFoundHandler()))
	mux.Handle("GET /api/profile", m.JSONGuard().RequireAuth(http.NotFoundHandler()))
	h := m.Handler(mux)

	for _, path := range []string{"/account", "/api/profile"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		fmt.Println(path, w.Code)
	}
	// Output:
	// /account 303
	// /api/profile 401
}

// Connected apps: grant a token (shown once), authenticate its requests
// with Apps().Handler and require a scope.
func ExampleAppTokens_Grant() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, _ := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	defer m.Close()

	// From the handler where alice authorises the app, pass
	// session.Audit{Request: r} so the security log records her device.
	token, grant, err := m.Apps().Grant(context.Background(), session.Audit{}, "alice", "Photo printer", []string{"photos:read"})
	if err != nil {
		log.Fatal(err)
	}
	api := m.Apps().Handler(m.Apps().RequireScope("photos:read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, _ := session.GrantFromContext(r.Context())
		fmt.Fprintf(w, "%s for %s", g.AppName, g.UserID)
	})))
	call := func() {
		r := httptest.NewRequest("GET", "/api/photos", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	call()
	m.Apps().Revoke(context.Background(), session.Audit{}, "alice", grant.ID)
	call()
	// Output:
	// 200 Photo printer for alice
	// 401 {"error":"invalid_token","message":"The access token is invalid or was revoked."}
}
