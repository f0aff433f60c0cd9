package dbsc_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/sessionguard/sessionguard/dbsc"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// Turn on device binding: one Config field, and the Service mounted with
// the Manager's routes. Sign-ins then offer DBSC registration.
func Example() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys},
		DeviceBinding: session.DeviceBindingConfig{RoutesPath: "/auth"}})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	svc, err := dbsc.New(dbsc.Config{Manager: m})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", m.Routes(svc)))
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		m.Login(w, r, "alice", storage.AuthPassword) // after the password check
	})
	w := httptest.NewRecorder()
	m.Handler(mux).ServeHTTP(w, httptest.NewRequest("POST", "https://example.com/login", nil))
	fmt.Println(w.Header().Get("Secure-Session-Registration") != "")
	// Output: true
}
