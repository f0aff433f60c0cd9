package session

import (
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/sessionguard/sessionguard/storage"
)

func TestPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	p := payload{level: storage.AuthSecondFactor, issuedAt: 1700000000, expiresAt: 1702592000, userID: "user-42 ü"}
	copy(p.token[:], "0123456789abcdef0123456789abcdef")
	var got payload
	if err := got.unmarshal(p.marshal()); err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Errorf("got %+v, want %+v", got, p)
	}
}

func TestPayloadRejectsMalformed(t *testing.T) {
	t.Parallel()
	good := (&payload{level: storage.AuthPassword, issuedAt: 10, expiresAt: 20, userID: "u"}).marshal()
	mutate := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"an empty payload is refused", nil},
		{"a payload without a user ID is refused", good[:fixedPayload]},
		{"an unknown version is refused", mutate(func(b []byte) []byte { b[0] = 9; return b })},
		{"an unknown auth level is refused", mutate(func(b []byte) []byte { b[1] = 0; return b })},
		{"an expiry before issuance is refused", mutate(func(b []byte) []byte { b[2+tokenSize+7] = 30; return b })},
		{"an over-long user ID is refused", append(good, strings.Repeat("x", MaxUserIDLength)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p payload
			if err := p.unmarshal(tt.b); err == nil {
				t.Errorf("unmarshal succeeded, want error")
			}
		})
	}
}

func TestCodecRefusesBadKeys(t *testing.T) {
	t.Parallel()
	k := testKeys(t, 1)[0]
	tests := []struct {
		name string
		keys []KeyPair
	}{
		{"no keys are refused", nil},
		{"a short hash key is refused", []KeyPair{{HashKey: k.HashKey[:16], BlockKey: k.BlockKey}}},
		{"a missing block key is refused (it would disable encryption)", []KeyPair{{HashKey: k.HashKey}}},
		{"a 16-byte block key is refused (AES-256 only)", []KeyPair{{HashKey: k.HashKey, BlockKey: k.BlockKey[:16]}}},
		{"a duplicate pair is refused", []KeyPair{k, k}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(Config{Store: newMemoryStore(t), Keys: tt.keys}); err == nil {
				t.Error("New succeeded, want error")
			}
		})
	}
}

func TestCookieValueScan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers []string
		want    string
		wantOK  bool
	}{
		{"a lone cookie is found", []string{"s=abc"}, "abc", true},
		{"a cookie among others is found", []string{"a=1; s=abc; b=2"}, "abc", true},
		{"the first of duplicates wins", []string{"s=first; s=second"}, "first", true},
		{"a cookie in a second header line is found", []string{"a=1", "s=abc"}, "abc", true},
		{"a quoted value is unquoted", []string{`s="abc"`}, "abc", true},
		{"a similarly named cookie is not confused", []string{"ss=abc; s_=x"}, "", false},
		{"no cookie header finds nothing", nil, "", false},
		{"junk finds nothing", []string{";;;==;"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := cookieValue(map[string][]string{"Cookie": tt.headers}, "s")
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestBadCookiesNeverReachStorage: garbage, tampered, truncated, oversized,
// expired and foreign-key cookies are refused without a panic and without a
// storage read (SECURITY.md §2–3).
func TestBadCookiesNeverReachStorage(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := &countingStore{Store: newMemoryStore(t)}
	m := newTestManager(t, store, clock, nil)
	good, _ := loginDirect(t, m, "alice")
	other := newTestManager(t, newMemoryStore(t), clock, nil)
	foreign, _ := loginDirect(t, other, "alice")

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"an empty value", "", ErrNoSession},
		{"garbage", "not a cookie", ErrInvalidCookie},
		{"binary junk", "\x00\xff\xfe", ErrInvalidCookie},
		{"a bit flipped in the MAC part", flip(good, len(good)-3), ErrInvalidCookie},
		{"a bit flipped in the body", flip(good, len(good)/2), ErrInvalidCookie},
		{"a changed key ID", flip(good, 1), ErrInvalidCookie},
		{"a truncated cookie", good[:len(good)-10], ErrInvalidCookie},
		{"only the key ID", good[:kidLen+1], ErrInvalidCookie},
		{"an oversized cookie", good + strings.Repeat("A", 5000), ErrInvalidCookie},
		{"a cookie sealed by another deployment's keys", foreign, ErrInvalidCookie},
		{"a base64 blob with a valid key ID", good[:kidLen+1] + base64.URLEncoding.EncodeToString([]byte("1|2|3")), ErrInvalidCookie},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := store.gets.Load()
			_, err := m.Check(cookieRequest(m, tt.value))
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if store.gets.Load() != before {
				t.Error("a refused cookie caused a storage read")
			}
		})
	}

	t.Run("an expired cookie is refused before storage", func(t *testing.T) {
		clock.Advance(DefaultAbsoluteTimeout + time.Second)
		defer clock.Advance(-DefaultAbsoluteTimeout - time.Second)
		before := store.gets.Load()
		if _, err := m.Check(cookieRequest(m, good)); !errors.Is(err, ErrExpired) {
			t.Errorf("got %v, want ErrExpired", err)
		}
		if store.gets.Load() != before {
			t.Error("an expired cookie caused a storage read")
		}
	})
	if _, err := m.Check(cookieRequest(m, good)); err != nil {
		t.Fatalf("the good cookie: %v", err)
	}
}

// TestKeyRotation: a cookie sealed by the previous key still works and is
// re-issued under the new one; a removed key is refused.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := newMemoryStore(t)
	keys := testKeys(t, 3)
	oldM := newTestManager(t, store, clock, func(c *Config) { c.Keys = keys[1:2] })
	oldCookie, s := loginDirect(t, oldM, "alice")

	rotated := newTestManager(t, store, clock, func(c *Config) { c.Keys = keys[0:2] })
	app := newTestApp(t, rotated)
	b := app.browser(t)
	b.setCookie(oldCookie)
	if got := b.whoami(); got != "alice" {
		t.Fatalf("old-key cookie after rotation: got user %q, want alice", got)
	}
	reissued := b.cookie()
	if reissued == oldCookie || !strings.HasPrefix(reissued, keyID(keys[0])) {
		t.Fatalf("cookie was not re-issued under the newest key")
	}
	var p payload
	if idx, err := rotated.codec.decode(reissued, &p); err != nil || idx != 0 {
		t.Fatalf("re-issued cookie: key %d, %v", idx, err)
	}
	if p.expiresAt != s.ExpiresAt.Unix() {
		t.Errorf("re-issue moved the absolute expiry: got %d, want %d", p.expiresAt, s.ExpiresAt.Unix())
	}
	if got := b.whoami(); got != "alice" {
		t.Fatalf("re-issued cookie: got user %q, want alice", got)
	}

	removed := newTestManager(t, store, clock, func(c *Config) { c.Keys = []KeyPair{keys[2], keys[0]} })
	if _, err := removed.Check(cookieRequest(removed, oldCookie)); !errors.Is(err, ErrInvalidCookie) {
		t.Errorf("cookie of a removed key: got %v, want ErrInvalidCookie", err)
	}
	if _, err := removed.Check(cookieRequest(removed, reissued)); err != nil {
		t.Errorf("cookie of a kept key: %v", err)
	}
}

// FuzzDecodeCookie: no input makes the decoder panic or accept something it
// did not issue.
func FuzzDecodeCookie(f *testing.F) {
	m := newTestManager(f, newMemoryStore(f), newFakeClock(), nil)
	good, _ := loginDirect(f, m, "alice")
	var want payload
	if _, err := m.codec.decode(good, &want); err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:kidLen+1])
	f.Add("")
	f.Add("abcd.")
	f.Add("abcd.MTIzfDQ1Nnw3ODk=")
	f.Add(strings.Repeat("A", 4100))
	f.Fuzz(func(t *testing.T, v string) {
		var p payload
		// Only the issued payload can ever decode (other encodings of
		// the same bytes are harmless); anything else is a forgery.
		if _, err := m.codec.decode(v, &p); err == nil && p != want {
			t.Fatalf("decode accepted a payload it never issued: %q", v)
		}
		m.Check(cookieRequest(m, v))
	})
}

// TestDecodedUserIDOwnsItsBytes guards the no-copy decoding: a payload's
// user ID points into the buffer securecookie decrypted, which is sound
// only while securecookie gives every Decode a buffer of its own and never
// writes to it again. A securecookie that pooled or reused its buffers
// would turn one request's user ID into another's; this fails if it does.
func TestDecodedUserIDOwnsItsBytes(t *testing.T) {
	t.Parallel()
	k, err := GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	c, err := newCodec("sid", []KeyPair{k}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	seal := func(userID string) string {
		p := payload{level: storage.AuthPassword, issuedAt: time.Now().Unix(), expiresAt: time.Now().Add(time.Hour).Unix(), userID: userID}
		v, err := c.encode(&p)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	alice, mallory := seal("alice-000"), seal("mallory-1")
	var first payload
	if _, err := c.decode(alice, &first); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 2000 {
				var p payload
				if _, err := c.decode(mallory, &p); err != nil {
					t.Error(err)
					return
				}
				if unsafe.StringData(p.userID) == unsafe.StringData(first.userID) {
					t.Error("a later decoding's user ID shares the first one's bytes")
					return
				}
			}
		})
	}
	wg.Wait()
	if first.userID != "alice-000" {
		t.Errorf("the first cookie's user ID after later decodings: got %q, want %q", first.userID, "alice-000")
	}
}
