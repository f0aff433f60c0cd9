package session

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/gorilla/securecookie"

	"github.com/sessionguard/sessionguard/storage"
)

// KeyPair is one generation of cookie keys: HashKey authenticates the cookie
// (HMAC-SHA256) and BlockKey encrypts it (AES-256). Generate each with
// crypto/rand and keep them secret; never commit them.
type KeyPair struct {
	// HashKey must be 32 or 64 bytes.
	HashKey []byte
	// BlockKey must be 32 bytes (AES-256). It is required: a missing block
	// key would silently disable encryption (SECURITY.md §3).
	BlockKey []byte
}

// GenerateKeyPair returns a new random KeyPair (64-byte hash key, 32-byte
// block key) from crypto/rand.
func GenerateKeyPair() (KeyPair, error) {
	k := KeyPair{HashKey: securecookie.GenerateRandomKey(64), BlockKey: securecookie.GenerateRandomKey(32)}
	if k.HashKey == nil || k.BlockKey == nil {
		return KeyPair{}, errors.New("session: generating keys: crypto/rand failed")
	}
	return k, nil
}

const (
	tokenSize = 32 // bytes of crypto/rand entropy (SECURITY.md §1, ASVS 7.2.3)
	// payloadVersion prefixes the compact binary payload so its layout can
	// change later without ambiguity.
	payloadVersion = 1
	// fixedPayload: version, level, token, issued-at, expires-at.
	fixedPayload = 1 + 1 + tokenSize + 8 + 8
	// MaxUserIDLength is the longest user ID a session can carry (bytes).
	MaxUserIDLength = 256
	// maxCookieSize bounds name + value (RFC 6265bis §5.7, ASVS 3.3).
	maxCookieSize = 4096
	// sessionOnlyBit marks payload.sessionOnly in the level byte.
	sessionOnlyBit = 0x80
	kidLen         = 4 // characters of the key-ID prefix
	kidSep         = '.'
)

// payload is what the cookie carries. It is serialised by hand into a
// compact binary form: no gob or JSON on the request path.
type payload struct {
	level storage.AuthLevel
	// sessionOnly: a sign-in without "remember me" — a browser-session
	// cookie and Config.SessionOnlyIdleTimeout. Sealed with the rest, so
	// a client cannot turn it off.
	sessionOnly bool
	token       [tokenSize]byte
	issuedAt    int64 // unix seconds: when this token was issued
	expiresAt   int64 // unix seconds: absolute expiry of the session
	userID      string
}

func (p *payload) marshal() []byte {
	b := make([]byte, fixedPayload, fixedPayload+len(p.userID))
	b[0] = payloadVersion
	b[1] = byte(p.level)
	if p.sessionOnly {
		b[1] |= sessionOnlyBit
	}
	copy(b[2:], p.token[:])
	binary.BigEndian.PutUint64(b[2+tokenSize:], uint64(p.issuedAt))
	binary.BigEndian.PutUint64(b[2+tokenSize+8:], uint64(p.expiresAt))
	return append(b, p.userID...)
}

var errPayload = errors.New("session: malformed cookie payload")

func (p *payload) unmarshal(b []byte) error {
	if len(b) <= fixedPayload || len(b) > fixedPayload+MaxUserIDLength || b[0] != payloadVersion {
		return errPayload
	}
	p.level = storage.AuthLevel(b[1] &^ sessionOnlyBit)
	p.sessionOnly = b[1]&sessionOnlyBit != 0
	if !p.level.Valid() {
		return errPayload
	}
	copy(p.token[:], b[2:2+tokenSize])
	p.issuedAt = int64(binary.BigEndian.Uint64(b[2+tokenSize:]))
	p.expiresAt = int64(binary.BigEndian.Uint64(b[2+tokenSize+8:]))
	if p.expiresAt < p.issuedAt {
		return errPayload
	}
	// No copy: b is the buffer securecookie decoded and decrypted for this
	// cookie alone, and nothing writes to it afterwards (see decode).
	p.userID = unsafe.String(&b[fixedPayload], len(b)-fixedPayload)
	return nil
}

// payloadSerializer hands the bytes securecookie opened straight to
// payload.unmarshal (no intermediate []byte that would escape to the heap);
// it encodes a []byte as is, like securecookie.NopEncoder.
type payloadSerializer struct{}

func (payloadSerializer) Serialize(src any) ([]byte, error) {
	b, ok := src.([]byte)
	if !ok {
		return nil, errPayload
	}
	return b, nil
}

func (payloadSerializer) Deserialize(src []byte, dst any) error {
	p, ok := dst.(*payload)
	if !ok {
		return errPayload
	}
	if err := p.unmarshal(src); err != nil {
		return err
	}
	// p.userID keeps src alive: wipe the token from it (p has a copy).
	clear(src[:fixedPayload])
	return nil
}

// codec encodes and decodes session cookies under a rotating list of keys.
//
// Every cookie value is "<kid>.<securecookie value>": the 4-character key ID
// names the key pair that sealed it, so decoding costs one HMAC and one
// decryption whatever the number of keys (securecookie.DecodeMulti would try
// them in turn), and a cookie sealed by a removed key is rejected at once.
type codec struct {
	name   string
	kids   []string // kids[i] is the key ID of keys[i]
	coders []*securecookie.SecureCookie
}

func newCodec(name string, keys []KeyPair, maxAge time.Duration) (*codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("session: Config.Keys: at least one key pair is required")
	}
	c := &codec{name: name}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		if n := len(k.HashKey); n != 32 && n != 64 {
			return nil, fmt.Errorf("session: Config.Keys[%d]: hash key is %d bytes, want 32 or 64", i, n)
		}
		if n := len(k.BlockKey); n != 32 {
			return nil, fmt.Errorf("session: Config.Keys[%d]: block key is %d bytes, want 32 (AES-256)", i, n)
		}
		kid := keyID(k)
		if seen[kid] {
			return nil, fmt.Errorf("session: Config.Keys[%d]: duplicate key pair", i)
		}
		seen[kid] = true
		sc := securecookie.New(k.HashKey, k.BlockKey)
		sc.SetSerializer(payloadSerializer{})
		sc.MaxAge(int(maxAge / time.Second))
		sc.MaxLength(maxCookieSize)
		c.kids = append(c.kids, kid)
		c.coders = append(c.coders, sc)
	}
	return c, nil
}

// keyID derives a stable, non-secret identifier for a key pair: it does not
// change when other keys are added or removed, so old cookies keep
// decoding under rotation.
func keyID(k KeyPair) string {
	h := sha256.New()
	h.Write([]byte("sessionguard cookie key id\x00"))
	h.Write(k.HashKey)
	h.Write(k.BlockKey)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:3])
}

// encode seals p under the newest key.
func (c *codec) encode(p *payload) (string, error) {
	v, err := c.coders[0].Encode(c.name, p.marshal())
	if err != nil {
		return "", fmt.Errorf("session: encoding cookie: %w", err)
	}
	return c.kids[0] + string(kidSep) + v, nil
}

// decode opens a cookie value. It returns the index of the key that sealed
// it (0: the newest). Any failure is ErrInvalidCookie; the value is never
// echoed in the error.
func (c *codec) decode(value string, p *payload) (int, error) {
	if len(c.name)+1+len(value) > maxCookieSize || len(value) < kidLen+2 || value[kidLen] != kidSep {
		return 0, ErrInvalidCookie
	}
	kid := value[:kidLen]
	for i, k := range c.kids {
		if k != kid {
			continue
		}
		// securecookie decodes into a new buffer, decrypts it in place
		// and passes it to payloadSerializer; p.userID points into it.
		if err := c.coders[i].Decode(c.name, value[kidLen+1:], p); err != nil {
			return 0, ErrInvalidCookie
		}
		return i, nil
	}
	return 0, ErrInvalidCookie
}

// cookieValue returns the value of the cookie called name in r's Cookie
// headers without allocating (http.Request.Cookie parses and allocates every
// cookie of the header). The first occurrence wins, as in net/http.
func cookieValue(h map[string][]string, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}
