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
