package session_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// A readiness probe: 200 while the store answers, 503 when it does not,
// with the notifier's state in the body.
func ExampleManager_Health() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, _ := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	defer m.Close()

	healthz := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := m.Health(r.Context())
		if !h.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(h.Notifier)
	})
	w := httptest.NewRecorder()
	healthz.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output: 200 {"supported":true,"live":true,"resets":0}
}

// A back-office tool: a support agent lists a user's sessions and
// connected apps and ends them all; the user's security log names the
// agent.
func ExampleManager_RevokeAll_admin() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, _ := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
	defer m.Close()
	for range 2 {
		m.Login(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil), "alice", storage.AuthPassword)
	}

	ctx := context.Background()
	agent := session.Audit{Actor: "support:jane"}
	sessions, _ := m.ListSessions(ctx, "alice", nil)
	apps, _ := m.Apps().List(ctx, "alice")
	n, _ := m.RevokeAll(ctx, agent, "alice")
	m.Apps().RevokeAll(ctx, agent, "alice")
	events, _, _ := m.SecurityLog().List(ctx, "alice", 0, 1)
	fmt.Println(len(sessions), len(apps), n, events[0].Type, events[0].Actor)
	// Output: 2 0 2 all_sessions_revoked support:jane
}

// Cap each account at two sessions: a third sign-in ends the least
// recently used one, and the user sees why in the security log.
func ExampleConfig_maxSessionsPerUser() {
	store := memory.New(memory.Options{})
	defer store.Close()
	keys, _ := session.GenerateKeyPair()
	m, _ := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}, MaxSessionsPerUser: 2})
	defer m.Close()
	for range 3 {
		m.Login(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil), "alice", storage.AuthPassword)
	}

	ctx := context.Background()
	sessions, _ := m.ListSessions(ctx, "alice", nil)
	events, _, _ := m.SecurityLog().List(ctx, "alice", 0, 1)
	fmt.Println(len(sessions), events[0].Type)
	// Output: 2 session_ended_by_limit
}
