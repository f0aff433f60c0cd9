package session

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionguard/sessionguard/storage"
)

// TestNoSecretsInLogsOrStorage: the store keeps only the SHA-256 of the
// token (SECURITY.md §1), and no log line — including those of a storage
// outage and a refused cookie — holds the cookie, the token, its hash or a
// session handle.
func TestNoSecretsInLogsOrStorage(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	store := &countingStore{Store: newMemoryStore(t)}
	clock := newFakeClock()
	m := newTestManager(t, store, clock, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.RevocationTTL = 1 // every request reads storage
	})
	cookie, s := loginDirect(t, m, "alice")

	var p payload
	if _, err := m.codec.decode(cookie, &p); err != nil {
		t.Fatal(err)
	}
	stored, err := store.GetSession(context.Background(), storage.HashToken(p.token[:]))
	if err != nil {
		t.Fatalf("the session is not stored under the SHA-256 of its token: %v", err)
	}
	if bytes.Contains([]byte(stored.Handle+stored.UserID+stored.UserAgent), p.token[:]) {
		t.Error("the raw token is stored")
	}

	// Exercise the logging paths: outage, refused cookies, logout.
	clock.Advance(2)
	store.fail.Store(true)
	h := m.Handler(okHandler)
	h.ServeHTTP(httptest.NewRecorder(), cookieRequest(m, cookie))
	store.fail.Store(false)
	h.ServeHTTP(httptest.NewRecorder(), cookieRequest(m, cookie[:len(cookie)-4]+"AAAA"))
	r := cookieRequest(m, cookie)
	w := httptest.NewRecorder()
	if err := m.Logout(w, r); err != nil {
		t.Fatal(err)
	}
	h.ServeHTTP(httptest.NewRecorder(), cookieRequest(m, cookie))
	if logs.Len() == 0 {
		t.Fatal("nothing was logged: the test proves nothing")
	}
	hash := storage.HashToken(p.token[:])
	for name, secret := range map[string]string{
		"cookie":       cookie,
		"cookie body":  cookie[kidLen+1 : kidLen+30],
		"token (hex)":  hex.EncodeToString(p.token[:]),
		"token (raw)":  string(p.token[:]),
		"token hash":   hash.String(),
		"handle":       s.Handle,
		"handle (hex)": hex.EncodeToString([]byte(s.Handle)),
	} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
}
