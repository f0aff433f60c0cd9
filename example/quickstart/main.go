// Command quickstart is the README's Quick start: a complete program that
// signs a user in with a password and serves a page only to signed-in
// users, with the JSON API of sessionguard under /auth/.
//
//	go run ./example/quickstart
//	curl -c jar -d user=demo -d password=demo-password localhost:8080/login
//	curl -b jar localhost:8080/account
//	curl -b jar localhost:8080/auth/sessions
package main

import (
	"crypto/subtle"
	"fmt"
	"log"
	"net/http"

	"golang.org/x/crypto/bcrypt"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

func main() {
	store := memory.New(memory.Options{}) // or sqlite, postgres, redis: see "Storage backends"
	defer store.Close()
	keys, err := session.GenerateKeyPair() // persist them (never commit them): new keys sign everyone out
	if err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	log.Fatal(http.ListenAndServe("localhost:8080", newHandler(m)))
}

// newHandler is the whole app: every request passes the session middleware,
// which also refuses cross-site POSTs (sign-in included).
func newHandler(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/auth/", m.Routes()) // log out, sessions list, "log out all other sessions"…
	mux.Handle("GET /account", m.RequireAuth(http.HandlerFunc(account)))
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		userID, ok := checkPassword(r.PostFormValue("user"), r.PostFormValue("password"))
		if !ok {
			http.Error(w, "wrong user name or password", http.StatusUnauthorized)
			return
		}
		// Always a new session token (no fixation); any previous session of this browser ends.
		if _, err := m.Login(w, r, userID, storage.AuthPassword); err != nil {
			http.Error(w, "please try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	return m.Handler(mux)
}

func account(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context()) // RequireAuth let only signed-in users through
	fmt.Fprintf(w, "Hello, %s.\n", s.UserID)
}

// demoHash stands in for your user database: the bcrypt hash of "demo-password".
var demoHash, _ = bcrypt.GenerateFromPassword([]byte("demo-password"), bcrypt.DefaultCost)

// checkPassword returns the user ID of a valid user name and password.
func checkPassword(user, password string) (userID string, ok bool) {
	err := bcrypt.CompareHashAndPassword(demoHash, []byte(password)) // always, so timing does not tell users apart
	if subtle.ConstantTimeCompare([]byte(user), []byte("demo")) != 1 || err != nil {
		return "", false
	}
	return "demo", true
}
