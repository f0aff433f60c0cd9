package session

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// Defaults of [DeviceBindingConfig].
const (
	DefaultDeviceCookieName         = "__Host-device"
	DefaultInsecureDeviceCookieName = "device"
	DefaultDeviceCookieLifetime     = 5 * time.Minute
	DefaultDeviceChallengeLifetime  = 5 * time.Minute
)

// ErrDeviceUnproven: the session is bound to a device (DBSC) and the
// request did not carry a valid, unexpired device cookie — for example the
// session cookie was copied to another machine. The request is not
// authenticated; the session itself is untouched, and its own browser
// refreshes the device cookie before its next request.
var ErrDeviceUnproven = errors.New("session: device-bound session without a valid device proof")

// DeviceBindingConfig turns on Device Bound Session Credentials (DBSC, the
// W3C draft shipped in Chrome): a session can be bound to a private key
// that never leaves the device, and once bound a request needs, besides
// the session cookie, a short-lived device cookie that the browser keeps
// fresh by signing server challenges with that key. A session cookie
// copied to another machine is then useless. Browsers without DBSC never
// register and keep working as before.
//
// The zero value leaves device binding off. The protocol's routes are the
// package github.com/sessionguard/sessionguard/dbsc: pass its Service to
// [Manager.Routes].
type DeviceBindingConfig struct {
	// RoutesPath is the URL path under which the application mounts
	// [Manager.Routes] with the dbsc Service (for example "/auth": the
	// browser registers at "/auth/dbsc/register"). Setting it turns device
	// binding on: every sign-in and token rotation then offers
	// registration. Default "" (off).
	RoutesPath string

	// CookieName is the device cookie's name. Default "__Host-device"
	// ("device" when Config.Insecure).
	CookieName string

	// CookieLifetime is how long a device cookie proves possession of the
	// key: after it, the browser signs a fresh challenge. It bounds how
	// long a copied device cookie (with its session cookie) works. Default
	// 5 minutes.
	CookieLifetime time.Duration

	// ChallengeLifetime is how long a registration or refresh challenge
	// may be answered. Default 5 minutes.
	ChallengeLifetime time.Duration
}

// DeviceBindings is the session side of DBSC device binding (see
// [DeviceBindingConfig]): the binding state, kept with each session in the
// revocation cache so that the check on every request does no storage I/O,
// and the operations the dbsc package's routes use. Get it with
// [Manager.DeviceBindings]. Safe for concurrent use.
type DeviceBindings struct {
	m       *Manager
	cfg     DeviceBindingConfig
	macKeys [][32]byte // one per Config.Keys entry, newest first
	secure  bool
}

// DeviceBindings returns the Manager's device bindings, or nil when
// [Config.DeviceBinding] leaves them off.
func (m *Manager) DeviceBindings() *DeviceBindings { return m.bind }

func newDeviceBindings(m *Manager) *DeviceBindings {
	cfg := m.cfg.DeviceBinding
	if cfg.RoutesPath == "" {
		return nil
	}
	d := &DeviceBindings{m: m, cfg: cfg, secure: m.cookieSecure}
	for _, k := range m.cfg.Keys {
		// A key of its own per purpose: the device cookie's MAC never
		// shares a key with securecookie's.
		d.macKeys = append(d.macKeys, sha256.Sum256(append([]byte("sessionguard device cookie\x00"), k.HashKey...)))
	}
	return d
}

func (c *DeviceBindingConfig) setDefaults(insecure bool) {
	if c.CookieName == "" {
		c.CookieName = DefaultDeviceCookieName
		if insecure {
			c.CookieName = DefaultInsecureDeviceCookieName
		}
	}
	setDefault(&c.CookieLifetime, DefaultDeviceCookieLifetime)
	setDefault(&c.ChallengeLifetime, DefaultDeviceChallengeLifetime)
}

func (c *DeviceBindingConfig) validate(cookieName string) []error {
	var errs []error
	if c.RoutesPath == "" {
		return nil
	}
	if c.RoutesPath[0] != '/' {
		errs = append(errs, fmt.Errorf("DeviceBinding.RoutesPath %q must start with /", c.RoutesPath))
	}
	if c.CookieLifetime < 0 || c.ChallengeLifetime < 0 {
		errs = append(errs, errors.New("DeviceBinding lifetimes must not be negative"))
	}
	if c.CookieName == cookieName {
		errs = append(errs, errors.New("DeviceBinding.CookieName must differ from CookieName"))
	}
	return errs
}

// RegisterPath is the path the browser registers at.
func (d *DeviceBindings) RegisterPath() string { return d.cfg.RoutesPath + "/dbsc/register" }

// RefreshPath is the path the browser refreshes the device cookie at.
func (d *DeviceBindings) RefreshPath() string { return d.cfg.RoutesPath + "/dbsc/refresh" }

// CookieName is the device cookie's name.
func (d *DeviceBindings) CookieName() string { return d.cfg.CookieName }

// CookieAttributes are the device cookie's attributes as DBSC's
// registration answer names them.
func (d *DeviceBindings) CookieAttributes() string {
	a := "Path=/; HttpOnly; SameSite=Lax"
	if d.secure {
		a += "; Secure"
	}
	return a
}

// deviceCookieLen is the length of a device cookie's value: base64url of
// an 8-byte expiry and a 16-byte MAC.
const deviceCookieLen = 32

// deviceMACKey is how many bytes of a MAC key enter the MAC: 192 bits, so
// that key, expiry and a 22-byte handle fit one SHA-256 block.
const deviceMACKey = 24

// deviceMAC computes the device cookie's MAC of the session handle and
// expiry (unix seconds) under key: SHA-256 over the fixed-length key, the
// expiry and the handle (at most 64 bytes; longer ones get no valid
// cookie), truncated to 128 bits. The key comes first and has a fixed
// length, so length extension gains nothing. Without allocating.
func deviceMAC(key *[32]byte, handle string, exp int64) (out [16]byte, ok bool) {
	if len(handle) > 64 {
		return out, false
	}
	var buf [deviceMACKey + 8 + 64]byte
	copy(buf[:], key[:deviceMACKey])
	binary.BigEndian.PutUint64(buf[deviceMACKey:], uint64(exp))
	n := copy(buf[deviceMACKey+8:], handle)
	sum := sha256.Sum256(buf[:deviceMACKey+8+n])
	copy(out[:], sum[:16])
	return out, true
}

// validCookie reports whether r carries an unexpired device cookie for
// the session handle at now (unix seconds). No allocation, no I/O.
func (d *DeviceBindings) validCookie(r *http.Request, handle string, now int64) bool {
	v, ok := cookieValue(r.Header, d.cfg.CookieName)
	if !ok || len(v) != deviceCookieLen {
		return false
	}
	var raw [24]byte
	var src [deviceCookieLen]byte
	copy(src[:], v)
	if n, err := base64.RawURLEncoding.Decode(raw[:], src[:]); err != nil || n != len(raw) {
		return false
	}
	exp := int64(binary.BigEndian.Uint64(raw[:8]))
	if now >= exp {
		return false
	}
	for i := range d.macKeys {
		if want, ok := deviceMAC(&d.macKeys[i], handle, exp); ok && subtle.ConstantTimeCompare(want[:], raw[8:]) == 1 {
			return true
		}
	}
	return false
}

// SetCookie sets a fresh device cookie for s on w, valid for
// CookieLifetime. Only the dbsc routes call it, after a verified proof.
func (d *DeviceBindings) SetCookie(w http.ResponseWriter, s *Session) {
	now := d.m.cfg.Clock()
	exp := now.Add(d.cfg.CookieLifetime).Unix()
	mac, ok := deviceMAC(&d.macKeys[0], s.Handle, exp)
	if !ok {
		return
	}
	var raw [24]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(exp))
	copy(raw[8:], mac[:])
	http.SetCookie(w, &http.Cookie{
		Name:     d.cfg.CookieName,
		Value:    base64.RawURLEncoding.EncodeToString(raw[:]),
		Path:     "/",
		MaxAge:   int(d.cfg.CookieLifetime / time.Second),
		Secure:   d.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// Session returns the request's fully authenticated session, checked like
// [Manager.Check] but without the device proof: only the dbsc routes,
// whose request proves the device with a signature instead, may use it.
func (d *DeviceBindings) Session(r *http.Request) (*Session, error) {
	value, ok := cookieValue(r.Header, d.m.cfg.CookieName)
	if !ok || value == "" {
		return nil, ErrNoSession
	}
	rs := new(requestSession)
	_, err := d.m.check(r, value, &rs.p, &rs.s, false)
	clear(rs.p.token[:])
	if err != nil {
		return nil, err
	}
	if rs.s.AuthLevel == storage.AuthPendingSecondFactor {
		return nil, ErrSecondFactorRequired
	}
	return &rs.s, nil
}

// offer stores a registration challenge for s and sets the
// Secure-Session-Registration header on w. A failure is logged: the sign-in
// goes on unbound.
func (d *DeviceBindings) offer(ctx context.Context, w http.ResponseWriter, s *Session) {
	challenge, err := newHandle()
	if err != nil {
		d.m.cfg.Logger.Warn("session: device binding offer failed", "err", err)
		return
	}
	auth, err := newHandle()
	if err != nil {
		d.m.cfg.Logger.Warn("session: device binding offer failed", "err", err)
		return
	}
	c := &storage.BindingChallenge{UserID: s.UserID, SessionHandle: s.Handle, Value: challenge, Authorization: auth,
		ExpiresAt: d.m.cfg.Clock().Add(d.cfg.ChallengeLifetime)}
	if err := d.m.cfg.Store.AddBindingChallenge(ctx, c); err != nil {
		d.m.cfg.Logger.Warn("session: device binding offer failed", "err", err)
		return
	}
	w.Header().Set("Secure-Session-Registration", "(ES256 RS256);path="+strconv.Quote(d.RegisterPath())+
		";challenge="+strconv.Quote(challenge)+";authorization="+strconv.Quote(auth))
}

// NewChallenge stores and returns a fresh refresh challenge for s.
func (d *DeviceBindings) NewChallenge(ctx context.Context, s *Session) (string, error) {
	v, err := newHandle()
	if err != nil {
		return "", err
	}
	c := &storage.BindingChallenge{UserID: s.UserID, SessionHandle: s.Handle, Value: v, ExpiresAt: d.m.cfg.Clock().Add(d.cfg.ChallengeLifetime)}
	if err := d.m.cfg.Store.AddBindingChallenge(ctx, c); err != nil {
		return "", fmt.Errorf("%w: storing a device challenge: %w", ErrUnavailable, err)
	}
	return v, nil
}

// UseChallenge consumes the challenge value issued to s: it returns
// [ErrNotFound] for a challenge never issued to s, already used or
// expired.
func (d *DeviceBindings) UseChallenge(ctx context.Context, s *Session, value string) (*storage.BindingChallenge, error) {
	c, err := d.m.cfg.Store.UseBindingChallenge(ctx, s.UserID, s.Handle, value, d.m.cfg.Clock())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("%w: using a device challenge: %w", ErrUnavailable, err)
	}
	return c, nil
}

// Binding returns s's binding, or [ErrNotFound] when s is not bound.
func (d *DeviceBindings) Binding(ctx context.Context, s *Session) (*storage.DeviceBinding, error) {
	b, err := d.m.cfg.Store.GetDeviceBinding(ctx, s.UserID, s.Handle)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("%w: reading a device binding: %w", ErrUnavailable, err)
	}
	return b, nil
}

// Bind stores the binding of s to the device key (a public JWK and its
// RFC 7638 thumbprint) under the DBSC session identifier id, replacing an
// earlier one, and rotates s's token: the session keeps its handle, auth
// level, AuthAt and expiry, and the new session cookie is set on w (send it
// with the device cookie on the registration answer). The token the
// session had before binding dies on every instance within the notifier's
// bound (as for [Manager.Revoke]; within [Config.RevocationTTL] on a
// backend without a notifier), so a session cookie copied before
// registration stops working there too; the new token is refused without
// a device cookie on every instance from its first use. Bind returns the
// fresh session, and records a "device_bound" event with what a tells.
//
// If the rotation fails (ErrRevoked: the session ended meanwhile;
// ErrUnavailable), the binding is removed again and nothing is set on w.
func (d *DeviceBindings) Bind(ctx context.Context, w http.ResponseWriter, a Audit, s *Session, id string, publicJWK []byte, thumbprint string) (*Session, error) {
	m := d.m
	st, err := m.cfg.Store.GetSession(ctx, s.tokenHash)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrRevoked
	} else if err != nil {
		return nil, fmt.Errorf("%w: reading a session: %w", ErrUnavailable, err)
	}
	b := &storage.DeviceBinding{UserID: st.UserID, SessionHandle: st.Handle, ID: id, PublicKey: publicJWK,
		Thumbprint: thumbprint, CreatedAt: m.cfg.Clock(), ExpiresAt: st.ExpiresAt}
	if err := m.cfg.Store.PutDeviceBinding(ctx, b); err != nil {
		return nil, fmt.Errorf("%w: storing a device binding: %w", ErrUnavailable, err)
	}
	// The binding is stored before the rotation, so the new token is
	// bound from its first cache fill on any instance.
	token, err := randomBytes(tokenSize)
	if err == nil {
		old := st.TokenHash
		st.TokenHash = storage.HashToken(token)
		if err = m.cfg.Store.RotateSession(ctx, old, st); errors.Is(err, storage.ErrNotFound) {
			err = ErrRevoked
		} else if err != nil {
			err = fmt.Errorf("%w: rotating session: %w", ErrUnavailable, err)
		} else {
			m.cache.tombstone(old, st.UserID)
		}
	}
	if err != nil {
		// The browser gets no device cookie: a binding left behind would
		// lock its session out.
		if derr := m.cfg.Store.DeleteDeviceBinding(context.WithoutCancel(ctx), st.UserID, st.Handle); derr != nil && !errors.Is(derr, storage.ErrNotFound) {
			m.cfg.Logger.Warn("session: removing a device binding after a failed rotation failed", "err", derr)
		}
		return nil, err
	}
	p := payload{level: st.AuthLevel, issuedAt: m.cfg.Clock().Unix(), expiresAt: st.ExpiresAt.Unix(), userID: st.UserID}
	copy(p.token[:], token)
	clear(token)
	if err := m.setCookie(w, &p); err != nil {
		return nil, err
	}
	clear(p.token[:])
	fresh := sessionFromStorage(st)
	m.log.record(ctx, a, fresh, fresh.UserID, storage.EventDeviceBound, thumbprint)
	return fresh, nil
}

// RecordFailure records a "device_proof_failed" event for s (a refused
// registration or refresh) with a short reason, never a secret.
func (d *DeviceBindings) RecordFailure(ctx context.Context, a Audit, s *Session, reason string) {
	d.m.log.record(ctx, a, s, s.UserID, storage.EventDeviceProofFailed, reason)
}

// bound reports whether userID's session handle is bound (for the sessions
// list).
func (d *DeviceBindings) bound(ctx context.Context, userID, handle string) (bool, error) {
	_, err := d.m.cfg.Store.GetDeviceBinding(ctx, userID, handle)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("%w: reading a device binding: %w", ErrUnavailable, err)
	}
}
