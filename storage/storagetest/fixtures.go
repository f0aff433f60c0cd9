package storagetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// now returns the current time as the suite stores it: UTC, truncated to
// the millisecond (the precision every backend must keep).
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// randomID returns a random identifier, usable as a user ID, a session
// handle or a grant ID.
func randomID() string { return rand.Text() }

// randomHash returns a random token hash.
func randomHash() storage.TokenHash {
	var h storage.TokenHash
	_, _ = rand.Read(h[:]) // never fails (crypto/rand)
	return h
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// newSession returns a session of userID with every field set, a random
// token hash and handle, created at base and expiring 30 days later.
func newSession(userID string, base time.Time) *storage.Session {
	return &storage.Session{
		TokenHash:  randomHash(),
		Handle:     randomID(),
		UserID:     userID,
		CreatedAt:  base,
		ExpiresAt:  base.Add(30 * 24 * time.Hour),
		AuthLevel:  storage.AuthPassword,
		AuthAt:     base,
		LastSeenAt: base.Add(time.Second),
		LastSeenIP: "203.0.113.7",
		UserAgent:  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Chrome/131.0",
		Device:     storage.Device{Browser: "Chrome", BrowserVersion: "131", OS: "macOS", Type: "desktop"},
		Location:   storage.Location{City: "Lisbon", Region: "Lisbon", Country: "Portugal", CountryCode: "PT"},
	}
}

// newTOTP returns a pending credential of userID with a random secret.
func newTOTP(userID string, base time.Time) *storage.TOTPCredential {
	return &storage.TOTPCredential{
		UserID:    userID,
		Secret:    randomBytes(48),
		KeyID:     "key-" + randomID()[:6],
		CreatedAt: base,
	}
}

// newGrant returns an app grant of userID with a random ID and token hash.
func newGrant(userID string, base time.Time) *storage.AppGrant {
	return &storage.AppGrant{
		ID:        randomID(),
		UserID:    userID,
		AppName:   "Calendar Sync",
		Scopes:    []string{"sessions:read", "events:read"},
		TokenHash: randomHash(),
		CreatedAt: base,
	}
}

// newEvent returns an event of userID at at with every field set.
func newEvent(userID string, at time.Time) *storage.Event {
	return &storage.Event{
		UserID:        userID,
		Type:          storage.EventSignedIn,
		At:            at,
		SessionHandle: randomID(),
		IP:            "2001:db8::1",
		Device:        "Firefox 133 on Linux",
		Location:      "Porto, Portugal",
		Detail:        "password",
	}
}

// newHashes returns n random code hashes.
func newHashes(n int) []storage.TokenHash {
	hs := make([]storage.TokenHash, n)
	for i := range hs {
		hs[i] = randomHash()
	}
	return hs
}

// diff describes how the struct got differs from want, field by field
// ("" if equal). Times compare with Equal, empty and nil slices are equal.
// got and want are structs or pointers to structs of the same type.
func diff(got, want any) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	if gv.Kind() == reflect.Pointer {
		if gv.IsNil() || wv.IsNil() {
			if gv.IsNil() == wv.IsNil() {
				return ""
			}
			return fmt.Sprintf("got %v, want %v", got, want)
		}
		gv, wv = gv.Elem(), wv.Elem()
	}
	var b strings.Builder
	for i := range gv.NumField() {
		g, w := gv.Field(i), wv.Field(i)
		if !equalValue(g, w) {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s: got %v, want %v", gv.Type().Field(i).Name, g.Interface(), w.Interface())
		}
	}
	return b.String()
}

func equalValue(g, w reflect.Value) bool {
	switch {
	case g.Type() == reflect.TypeFor[time.Time]():
		return g.Interface().(time.Time).Equal(w.Interface().(time.Time))
	case g.Kind() == reflect.Slice && g.Len() == 0 && w.Len() == 0:
		return true
	default:
		return reflect.DeepEqual(g.Interface(), w.Interface())
	}
}

// checkEqual fails t if got differs from want.
func checkEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

// checkErr fails t unless errors.Is(err, want) (want nil: err must be nil).
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: got error %v, want nil", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// mustCreateSession stores sess or fails t.
func mustCreateSession(t *testing.T, s storage.Store, sess *storage.Session) {
	t.Helper()
	checkErr(t, "CreateSession", s.CreateSession(t.Context(), sess), nil)
}

// mustGetSession returns the session with token hash h or fails t.
func mustGetSession(t *testing.T, s storage.Store, h storage.TokenHash) *storage.Session {
	t.Helper()
	got, err := s.GetSession(t.Context(), h)
	checkErr(t, "GetSession", err, nil)
	return got
}

// checkNoSession fails t unless the session with token hash h is absent.
func checkNoSession(t *testing.T, s storage.Store, h storage.TokenHash) {
	t.Helper()
	got, err := s.GetSession(t.Context(), h)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetSession of a session that must be gone: got %+v, %v; want ErrNotFound", got, err)
	}
}

// mustListSessions returns userID's sessions or fails t.
func mustListSessions(t *testing.T, s storage.Store, userID string) []storage.Session {
	t.Helper()
	got, err := s.ListSessions(t.Context(), userID)
	checkErr(t, "ListSessions", err, nil)
	return got
}

// handles returns the handles of ss, in order.
func handles(ss []storage.Session) []string {
	out := make([]string, len(ss))
	for i := range ss {
		out[i] = ss[i].Handle
	}
	return out
}

// mustGetTOTP returns userID's credential or fails t.
func mustGetTOTP(t *testing.T, s storage.Store, userID string) *storage.TOTPCredential {
	t.Helper()
	got, err := s.GetTOTP(t.Context(), userID)
	checkErr(t, "GetTOTP", err, nil)
	return got
}

// mustCount returns userID's number of recovery codes or fails t.
func mustCount(t *testing.T, s storage.Store, userID string) int {
	t.Helper()
	n, err := s.CountRecoveryCodes(t.Context(), userID)
	checkErr(t, "CountRecoveryCodes", err, nil)
	return n
}

// mustListEvents lists userID's events or fails t.
func mustListEvents(t *testing.T, s storage.Store, userID string, before int64, limit int) []storage.Event {
	t.Helper()
	got, err := s.ListEvents(t.Context(), userID, before, limit)
	checkErr(t, "ListEvents", err, nil)
	return got
}

// eventIDs returns the IDs of es, in order.
func eventIDs(es []storage.Event) []int64 {
	out := make([]int64, len(es))
	for i := range es {
		out[i] = es[i].ID
	}
	return out
}
