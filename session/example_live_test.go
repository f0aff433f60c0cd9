package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// A server-sent-events handler that ends the moment its session is ended,
// here or on any instance sharing the store.
func ExampleManager_SessionContext() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, _ := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	defer m.Close()

	open, ended := make(chan struct{}), make(chan error, 1)
	events := m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := m.SessionContext(r)
		defer cancel()
		close(open)
		w.Header().Set("Content-Type", "text/event-stream")
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				ended <- context.Cause(ctx)
				return
			case <-tick.C:
				fmt.Fprint(w, "data: still signed in\n\n")
			}
		}
	}))

	// Sign in, open the stream, then end the session from elsewhere.
	login := httptest.NewRecorder()
	s, _ := m.Login(login, httptest.NewRequest("POST", "/login", nil), "alice", storage.AuthPassword)
	r := httptest.NewRequest("GET", "/events", nil)
	r.Header.Set("Cookie", login.Result().Cookies()[0].String())
	go m.Handler(events).ServeHTTP(httptest.NewRecorder(), r)
	<-open
	m.Revoke(context.Background(), session.Audit{}, "alice", s.Handle)
	fmt.Println(errors.Is(<-ended, session.ErrRevoked))
	// Output: true
}

// Alert on sign-ins from a device and country the account has not used
// recently: OnEvent receives a new_device_sign_in event.
func ExampleConfig_newDevice() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, _ := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys},
		OnEvent: func(_ context.Context, e storage.Event) {
			if e.Type == storage.EventNewDeviceSignIn {
				fmt.Printf("new sign-in for %s: %s\n", e.UserID, e.Device) // send the e-mail here
			}
		}})
	defer m.Close()
	for _, ua := range []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	} {
		r := httptest.NewRequest("POST", "/login", nil)
		r.Header.Set("User-Agent", ua)
		m.Login(httptest.NewRecorder(), r, "alice", storage.AuthPassword)
	}
	// Output: new sign-in for alice: Firefox 133 on Windows
}
