package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sessionguard/sessionguard/internal/clientip"
	"github.com/sessionguard/sessionguard/internal/httpjson"
	"github.com/sessionguard/sessionguard/storage"
)

// Errors reported by [Manager.Check] and the Go operations. Test them with
// errors.Is.
var (
	// ErrNoSession: the request carries no session cookie.
	ErrNoSession = errors.New("session: no session")
	// ErrInvalidCookie: the cookie is garbage, tampered with, oversized, or
	// sealed by a key that is no longer configured.
	ErrInvalidCookie = errors.New("session: invalid session cookie")
	// ErrExpired: the session passed its absolute or idle timeout.
	ErrExpired = errors.New("session: session expired")
	// ErrRevoked: the session was revoked (or never existed server-side).
	ErrRevoked = errors.New("session: session revoked")
	// ErrUnavailable: the session state could not be read or written; the
	// request is not authenticated (fail closed). It wraps the cause.
	ErrUnavailable = errors.New("session: session store unavailable")
	// ErrNotFound: no such session (or app grant) for this user. Another
	// user's handle gives the same error as an unknown one.
	ErrNotFound = errors.New("session: not found")
	// ErrSecondFactorRequired: the operation needs a second factor that was
	// not given (for example elevating a pending session to password
	// level).
	ErrSecondFactorRequired = errors.New("session: second factor required")
)

// Session is the authenticated state of a request, as put in its context by
// [Manager.Handler]. A *Session is shared between requests of the same
// session: treat it as read-only.
type Session struct {
	// UserID is the application's identifier of the user.
	UserID string
	// Handle is the public, random identifier of the session (its "id" in
	// the sessions list). It is not a credential.
	Handle string
	// AuthLevel says how the session authenticated.
	AuthLevel storage.AuthLevel
	// AuthAt is when the session last authenticated.
	AuthAt time.Time
	// CreatedAt is when the user signed in on this device.
	CreatedAt time.Time
	// ExpiresAt is the absolute expiry; it never moves.
	ExpiresAt time.Time

	tokenHash   storage.TokenHash
	sessionOnly bool
}

// Remembered reports whether the user chose "remember me" when signing in
// ([LoginOptions.Remember]): the cookie then outlives the browser and the
// idle timeout is [Config.IdleTimeout] rather than
// [Config.SessionOnlyIdleTimeout].
func (s *Session) Remembered() bool { return !s.sessionOnly }

// SecondFactor reports whether the session passed a second factor.
func (s *Session) SecondFactor() bool { return s.AuthLevel == storage.AuthSecondFactor }

type ctxKey struct{}
type rejectKey struct{}

// FromContext returns the request's session if it is fully authenticated.
// A session still waiting for its second factor is not returned (see
// [PendingFromContext]).
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	if !ok || s.AuthLevel == storage.AuthPendingSecondFactor {
		return nil, false
	}
	return s, true
}

// PendingFromContext returns the request's session if it passed the first
// factor and waits for the second. Only the second-factor step should use
// it (SECURITY.md §18).
func PendingFromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	if !ok || s.AuthLevel != storage.AuthPendingSecondFactor {
		return nil, false
	}
	return s, true
}

// anyFromContext returns the session at any level.
func anyFromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	return s, ok
}

// RejectionFromContext reports why the request's session cookie was
// refused by [Manager.Handler]: [ErrExpired], [ErrRevoked],
// [ErrInvalidCookie], or [ErrDeviceUnproven] (a device-bound session
// without its device cookie). It returns nil when the request had no cookie or a
// valid one. Apps use it to say "You were signed out".
func RejectionFromContext(ctx context.Context) error {
	err, _ := ctx.Value(rejectKey{}).(error)
	return err
}

// Manager issues, checks and revokes sessions. Create it with [New]; it is
// safe for concurrent use. Call [Manager.Close] when done. Connected apps
// ([Manager.Apps]) and the security log ([Manager.SecurityLog]) are their
// own types that share its store and revocation cache.
type Manager struct {
	cfg           Config
	codec         *codec
	cache         *revocationCache
	revocationTTL time.Duration
	ips           *clientip.Resolver
	cop           *http.CrossOriginProtection // Protect and the library's routes: no bypass
	handlerCOP    *http.CrossOriginProtection // Handler: cop plus Config.CrossOriginBypass
	cookieSecure  bool

	noStore []string // shared header values, never appended to (cap == len)
	vary    []string

	log      *SecurityLog
	apps     *AppTokens
	tel      *telemetry
	watch    *watchers       // open SessionContexts
	bind     *DeviceBindings // nil: device binding off
	throttle *PasswordThrottle
	trusted  *TrustedBrowsers

	unsubscribe func()
	closeOnce   sync.Once
}

// New validates cfg, applies defaults and returns a Manager. It subscribes
// to the store's revocation notifier when the store has one, and starts the
// security log's retention loop; [Manager.Close] ends both.
func New(cfg Config) (*Manager, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c, err := newCodec(cfg.CookieName, cfg.Keys, cfg.AbsoluteTimeout)
	if err != nil {
		return nil, err
	}
	if err := instrumentStore(&cfg); err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:          cfg,
		codec:        c,
		cache:        newRevocationCache(cfg.CacheSize),
		ips:          clientip.New(cfg.TrustedProxies, clientip.WithHeader(proxyHeader(cfg.ProxyHeader))),
		cop:          http.NewCrossOriginProtection(),
		handlerCOP:   http.NewCrossOriginProtection(),
		cookieSecure: !cfg.Insecure,
		noStore:      []string{"no-store"}[:1:1],
		vary:         []string{"Cookie"}[:1:1],
	}
	for _, o := range cfg.TrustedOrigins {
		if err := m.cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("session: Config.TrustedOrigins: %w", err)
		}
		_ = m.handlerCOP.AddTrustedOrigin(o) // valid: cop accepted it
	}
	for _, p := range cfg.CrossOriginBypass {
		if err := addBypass(m.handlerCOP, p); err != nil {
			return nil, fmt.Errorf("session: Config.CrossOriginBypass: %w", err)
		}
	}
	m.cop.SetDenyHandler(http.HandlerFunc(crossOriginDenied))
	m.watch = newWatchers(m)
	m.bind = newDeviceBindings(m)
	tel, err := newTelemetry(&cfg, m.cache)
	if err != nil {
		return nil, err
	}
	// Before Subscribe: a notice may arrive before it returns.
	m.tel = tel
	tel.subscribed(true)
	unsub, err := cfg.Store.Subscribe(m.notice)
	switch {
	case err == nil:
		m.unsubscribe = unsub
		if bn, ok := unwrapStore(cfg.Store).(storage.BoundedNotifier); ok {
			// The notifier's own bound is the staleness bound, and its
			// failures are heard (storage.BoundedNotifier). Below the
			// no-notifier TTL, re-reads would cost more than they buy: the
			// notifier bounds staleness anyway.
			setDefault(&m.cfg.RevocationTTL, min(max(bn.NotifyBound(), DefaultRevocationTTLNoNotify), DefaultRevocationTTL))
			stop := bn.OnDeliveryError(func(err error) {
				m.cfg.Logger.Error("session: revocation notifier cannot deliver; revocation cache emptied", "err", err)
			})
			m.unsubscribe = func() { stop(); unsub() }
		}
		setDefault(&m.cfg.RevocationTTL, DefaultRevocationTTL)
	case errors.Is(err, storage.ErrNoNotifier):
		tel.subscribed(false)
		setDefault(&m.cfg.RevocationTTL, DefaultRevocationTTLNoNotify)
	default:
		tel.close()
		return nil, fmt.Errorf("session: subscribing to revocations: %w", err)
	}
	m.revocationTTL = m.cfg.RevocationTTL
	m.watch.start()
	m.log = newSecurityLog(&m.cfg, m.activity, tel)
	m.apps = &AppTokens{cfg: &m.cfg, cache: m.cache, log: m.log, ttl: m.revocationTTL, noStore: m.noStore, fail: m.errorHandler, tel: tel}
	m.trusted = newTrustedBrowsers(&m.cfg, m.log)
	m.throttle = &PasswordThrottle{cfg: &m.cfg, pol: m.cfg.PasswordThrottle, log: m.log, clock: m.cfg.Clock, ip: m.ips.ClientIP}
	return m, nil
}

// notice handles a notice from the store's notifier: the cache first, then
// the notifier's metrics and liveness.
func (m *Manager) notice(r storage.Revocation) {
	m.cache.apply(r)
	m.watch.notice(r)
	m.tel.notice(r, m.cfg.Clock())
}

// addBypass adds pattern to c, turning the panic of an invalid pattern into
// an error.
func addBypass(c *http.CrossOriginProtection, pattern string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("pattern %q: %v", pattern, p)
		}
	}()
	c.AddInsecureBypassPattern(pattern)
	return nil
}

// crossOriginDenied answers a request refused by cross-origin protection.
func crossOriginDenied(w http.ResponseWriter, _ *http.Request) {
	httpjson.Error(w, http.StatusForbidden, "cross_origin", "Cross-origin request refused.")
}

func proxyHeader(name string) clientip.Header {
	if http.CanonicalHeaderKey(name) == "Forwarded" {
		return clientip.HeaderForwarded
	}
	return clientip.HeaderXForwardedFor
}

// Close stops the Manager's background work and its revocation
// subscription. It does not close the store. Safe to call more than once.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		if m.unsubscribe != nil {
			m.unsubscribe()
		}
		m.log.close()
		m.watch.close()
		m.tel.close()
	})
	return nil
}

// Check reads and validates the request's session cookie against the
// server-side state: decoding (no storage I/O for a bad cookie), the
// revocation cache (one storage read on a miss), the absolute and idle
// timeouts, and the throttled last-activity write. It returns the session
// at any level, including one pending its second factor.
func (m *Manager) Check(r *http.Request) (*Session, error) {
	value, ok := cookieValue(r.Header, m.cfg.CookieName)
	if !ok || value == "" {
		return nil, ErrNoSession
	}
	rs := new(requestSession)
	_, err := m.check(r, value, &rs.p, &rs.s, true)
	clear(rs.p.token[:])
	if err != nil {
		return nil, err
	}
	return &rs.s, nil
}

// requestSession is the one allocation an authenticated request costs the
// middleware: the decoded cookie, the Session handed to the handler, and
// the request context that carries it (no context.WithValue on top). The
// raw token is wiped from p once the middleware is done with it, so that a
// Session kept by the application does not keep the credential in memory.
type requestSession struct {
	context.Context
	s Session
	p payload
}

// Value returns the request's *Session for ctxKey{}, else asks the parent.
func (rs *requestSession) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return &rs.s
	}
	return rs.Context.Value(key)
}

// String describes the context without printing the session, as
// context.WithValue's does.
func (rs *requestSession) String() string {
	parent := "context"
	if s, ok := rs.Context.(fmt.Stringer); ok {
		parent = s.String()
	}
	return parent + ".WithValue(session.ctxKey, *session.Session)"
}

// check validates the cookie value, decoding it into p, and fills s. It
// reports which key sealed the cookie. With proof, a session bound to its
// device also needs a valid device cookie (ErrDeviceUnproven). On a cache
// hit it allocates nothing beyond what securecookie's decoding does.
func (m *Manager) check(r *http.Request, value string, p *payload, s *Session, proof bool) (int, error) {
	keyIdx, err := m.codec.decode(value, p)
	if err != nil {
		return 0, err
	}
	now := m.cfg.Clock()
	nowNS := now.UnixNano()
	if now.Unix() >= p.expiresAt {
		return 0, ErrExpired
	}
	h := storage.HashToken(p.token[:])
	uh := m.cache.userHash(p.userID)
	var c cachedSession
	found, gen := m.cache.getSession(h, &c)
	if !found || (c.kind == kindSession && nowNS >= c.validUntil) {
		m.tel.miss(&h)
		if err := m.fill(r.Context(), h, uh, gen, now, &c); err != nil {
			return 0, err
		}
	} else {
		m.tel.hit(&h)
	}
	if c.kind != kindSession || c.userHash != uh {
		// A MAC-valid cookie whose token belongs to another user cannot
		// be produced without the keys; refuse it all the same.
		return 0, ErrRevoked
	}
	idle := m.cfg.IdleTimeout
	if p.sessionOnly {
		idle = m.cfg.SessionOnlyIdleTimeout
	}
	if nowNS >= c.expiresAt || nowNS-c.lastSeen > int64(idle) {
		return 0, ErrExpired
	}
	if c.bound && proof && !m.bind.validCookie(r, c.handle, now.Unix()) {
		return 0, ErrDeviceUnproven
	}
	if nowNS-c.lastSeen >= int64(m.cfg.TouchInterval) && m.cache.startTouch(h) {
		if err := m.touch(r, h, p.userID, now); err != nil {
			return 0, err
		}
	}
	c.session(h, p.userID, s)
	s.sessionOnly = p.sessionOnly
	return keyIdx, nil
}

// fill reads the session for h from storage into c and caches it (a
// tombstone if there is none).
func (m *Manager) fill(ctx context.Context, h storage.TokenHash, userHash, gen uint64, now time.Time, c *cachedSession) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StorageTimeout)
	defer cancel()
	st, err := m.cfg.Store.GetSession(ctx, h)
	if errors.Is(err, storage.ErrNotFound) {
		*c = cachedSession{kind: kindTombstone, userHash: userHash}
		m.cache.fillSession(h, c, gen)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var ok bool
	*c, ok = newCachedSession(st, m.cache.userHash(st.UserID), now.Add(m.revocationTTL).UnixNano())
	if m.bind != nil {
		if c.bound, err = m.bind.bound(ctx, st.UserID, st.Handle); err != nil {
			return err
		}
	}
	if ok {
		m.cache.fillSession(h, c, gen)
	}
	return nil
}

// touch records activity for the session, at most once per TouchInterval
// (the caller claimed it with startTouch). A session that vanished
// meanwhile (revoked elsewhere) is refused.
func (m *Manager) touch(r *http.Request, h storage.TokenHash, userID string, now time.Time) error {
	ctx, cancel := context.WithTimeout(r.Context(), m.cfg.StorageTimeout)
	defer cancel()
	err := m.cfg.Store.TouchSession(ctx, h, m.activity(ctx, r, now))
	switch {
	case err == nil:
		m.cache.endTouch(h, now.UnixNano())
		return nil
	case errors.Is(err, storage.ErrNotFound):
		m.cache.tombstone(h, userID)
		return ErrRevoked
	default:
		// The revocation state was established within RevocationTTL; a
		// failed activity write grants nothing new. Retry next request.
		m.cache.endTouch(h, 0)
		m.cfg.Logger.Warn("session: recording activity failed", "err", err)
		return nil
	}
}

// Handler is the session middleware. It puts the request's session in the
// context ([FromContext], [PendingFromContext]) and marks authenticated
// responses "Cache-Control: no-store" and "Vary: Cookie". A request without
// a valid session passes through unauthenticated, with the reason in
// [RejectionFromContext] (an expired or invalid cookie is expired on the
// response; a revoked one is not, since its token may have been rotated
// away while the request was in flight); a storage failure is answered by
// [Config.ErrorHandler] (503 by default) and never passes as
// authenticated.
//
// Every request with an unsafe method (anything but GET, HEAD and OPTIONS)
// first passes http.CrossOriginProtection (SECURITY.md §12): a browser's
// cross-site POST — to sign-in, the app's own forms, anything behind
// Handler — gets 403 {"error":"cross_origin"} before its cookie is read, so
// no other site can sign a visitor in or out, or act as them. Exempt
// routes with [Config.CrossOriginBypass].
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.handlerCOP.Check(r) != nil {
			crossOriginDenied(w, r)
			return
		}
		value, ok := cookieValue(r.Header, m.cfg.CookieName)
		if !ok || value == "" {
			next.ServeHTTP(w, r)
			return
		}
		rs := &requestSession{Context: r.Context()}
		keyIdx, err := m.check(r, value, &rs.p, &rs.s, true)
		switch {
		case err == nil:
			h := w.Header()
			h["Cache-Control"] = m.noStore
			h["Vary"] = m.vary
			if keyIdx != 0 {
				m.reissue(w, &rs.p, rs.s.tokenHash)
			}
			clear(rs.p.token[:])
			next.ServeHTTP(w, r.WithContext(rs))
		case errors.Is(err, ErrUnavailable):
			m.cfg.Logger.Error("session: cannot check session; refusing request", "err", err, "path", r.URL.Path)
			m.tel.failClosed.Add(r.Context(), 1)
			m.errorHandler(w, r, err)
		case errors.Is(err, ErrDeviceUnproven):
			// Unauthenticated, but the cookie stays: its own browser
			// refreshes the device cookie and goes on.
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), rejectKey{}, err)))
		default:
			// Expired or invalid: forget the cookie client-side too. A
			// revoked token's cookie stays: the token may have been
			// rotated away (Elevate, device binding) while this request
			// was in flight, and the browser may already hold its
			// successor, which an expiring Set-Cookie would delete. The
			// dead cookie authenticates nothing.
			if !errors.Is(err, ErrRevoked) {
				m.expireCookie(w)
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), rejectKey{}, err)))
		}
	})
}

func (m *Manager) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if m.cfg.ErrorHandler != nil {
		m.cfg.ErrorHandler(w, r, err)
		return
	}
	httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "Sessions cannot be checked right now. Please try again shortly.")
}

// reissue re-seals a cookie (payload p, token hash h) that an older key
// sealed under the newest key, at most once per TouchInterval per session.
// The payload, and so the absolute expiry, is unchanged.
func (m *Manager) reissue(w http.ResponseWriter, p *payload, h storage.TokenHash) {
	if !m.cache.claimReissue(h, m.cfg.Clock().UnixNano(), int64(m.cfg.TouchInterval)) {
		return
	}
	if err := m.setCookie(w, p); err != nil {
		m.cfg.Logger.Warn("session: re-issuing cookie under the newest key failed", "err", err)
	}
}
