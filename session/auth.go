package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/sessionguard/sessionguard/internal/device"
	"github.com/sessionguard/sessionguard/storage"
)

// Login starts a session for userID after the application verified the
// user's password, sets the session cookie on w and returns the session.
//
// The token is always new (OWASP ASVS 7.2.4: no fixation): any session the
// request already carried is revoked first. level is
// [storage.AuthPassword] for a user without a second factor, or
// [storage.AuthPendingSecondFactor] when one must still be given (the totp
// package's SignIn chooses for you); a pending session expires after
// [Config.PendingTimeout] unless the second factor completes it. Login
// records a "signed_in" event.
func (m *Manager) Login(w http.ResponseWriter, r *http.Request, userID string, level storage.AuthLevel) (*Session, error) {
	return m.LoginWithOptions(w, r, userID, level, LoginOptions{Remember: true})
}

// LoginOptions are the options of [Manager.LoginWithOptions]. The zero
// value is a sign-in without "remember me".
type LoginOptions struct {
	// Remember is the "remember me" box. True: the cookie has Expires and
	// Max-Age (the session's absolute expiry) and the idle timeout is
	// [Config.IdleTimeout] — what [Manager.Login] does. False: a
	// browser-session cookie (no Expires, no Max-Age), dropped when the
	// browser closes, and the shorter [Config.SessionOnlyIdleTimeout].
	// Either way the absolute and idle timeouts are enforced on the
	// server against server-side activity (SECURITY.md §5); the choice is
	// sealed in the cookie, so the client cannot change it, and it
	// survives [Manager.Elevate].
	Remember bool
}

// LoginWithOptions is [Manager.Login] with options: [LoginOptions.Remember]
// is the "remember me" box of the sign-in form.
func (m *Manager) LoginWithOptions(w http.ResponseWriter, r *http.Request, userID string, level storage.AuthLevel, opts LoginOptions) (*Session, error) {
	if userID == "" || len(userID) > MaxUserIDLength || !utf8.ValidString(userID) {
		return nil, fmt.Errorf("session: Login: user ID must be 1 to %d bytes of UTF-8", MaxUserIDLength)
	}
	if !level.Valid() {
		return nil, fmt.Errorf("session: Login: invalid auth level %d", level)
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.cfg.StorageTimeout)
	defer cancel()
	if old, err := m.current(r); err == nil {
		if _, err := m.revoke(ctx, old.UserID, old.Handle, EndReplaced); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	} else if errors.Is(err, ErrUnavailable) {
		return nil, err
	}
	now := m.cfg.Clock()
	token, err := randomBytes(tokenSize)
	if err != nil {
		return nil, err
	}
	handle, err := newHandle()
	if err != nil {
		return nil, err
	}
	act := m.activity(ctx, r, now)
	lifetime := m.cfg.AbsoluteTimeout
	if level == storage.AuthPendingSecondFactor {
		lifetime = min(m.cfg.PendingTimeout, lifetime)
	}
	st := &storage.Session{
		TokenHash:  storage.HashToken(token),
		Handle:     handle,
		UserID:     userID,
		CreatedAt:  now,
		ExpiresAt:  now.Add(lifetime),
		AuthLevel:  level,
		AuthAt:     now,
		LastSeenAt: now,
		LastSeenIP: act.IP,
		UserAgent:  act.UserAgent,
		Device:     act.Device,
		Location:   act.Location,
	}
	newDevice := level != storage.AuthPendingSecondFactor && m.checkNewDevice(ctx, r, userID, now)
	if err := m.cfg.Store.CreateSession(ctx, st); err != nil {
		return nil, fmt.Errorf("%w: creating session: %w", ErrUnavailable, err)
	}
	p := payload{level: level, sessionOnly: !opts.Remember, issuedAt: now.Unix(), expiresAt: st.ExpiresAt.Unix(), userID: userID}
	copy(p.token[:], token)
	if err := m.setCookie(w, &p); err != nil {
		return nil, err
	}
	s := sessionFromStorage(st)
	if m.bind != nil && level != storage.AuthPendingSecondFactor {
		m.bind.offer(ctx, w, s)
	}
	s.sessionOnly = p.sessionOnly
	m.tel.sessionStarted(ctx, level)
	m.log.record(ctx, Audit{Request: r}, s, userID, storage.EventSignedIn, level.String())
	if newDevice {
		m.log.record(ctx, Audit{Request: r}, s, userID, storage.EventNewDeviceSignIn, "")
	}
	if m.cfg.MaxSessionsPerUser > 0 && level != storage.AuthPendingSecondFactor {
		m.enforceSessionLimit(ctx, r, s)
	}
	return s, nil
}

// enforceSessionLimit ends the least recently used of the user's live
// sessions beyond Config.MaxSessionsPerUser, never the new session s, and
// records a "session_ended_by_limit" event for each, naming it, with its
// device. A failure is logged: the sign-in itself succeeded.
//
// It runs when a sign-in is complete (Login without a pending second
// factor, or Elevate completing one), never for a sign-in that passed only
// the password: someone who knows the password but lacks the second factor
// must not be able to log the user's devices out. Sessions pending their
// second factor are neither counted nor ended (they expire after
// PendingTimeout).
func (m *Manager) enforceSessionLimit(ctx context.Context, r *http.Request, s *Session) {
	list, err := m.cfg.Store.ListSessions(ctx, s.UserID)
	if err != nil {
		m.cfg.Logger.Warn("session: listing sessions for the per-user limit failed", "err", err)
		return
	}
	now := m.cfg.Clock()
	kept := 1             // s
	for i := range list { // most recent activity first
		st := &list[i]
		if st.Handle == s.Handle || st.AuthLevel == storage.AuthPendingSecondFactor ||
			!now.Before(st.ExpiresAt) || now.Sub(st.LastSeenAt) > m.cfg.IdleTimeout {
			continue
		}
		if kept < m.cfg.MaxSessionsPerUser {
			kept++
			continue
		}
		if _, err := m.revoke(ctx, s.UserID, st.Handle, EndSessionLimit); errors.Is(err, ErrNotFound) {
			continue // ended meanwhile
		} else if err != nil {
			m.cfg.Logger.Warn("session: ending a session beyond the per-user limit failed", "err", err)
			return
		}
		ended := sessionFromStorage(st)
		m.log.record(ctx, Audit{Request: r}, ended, s.UserID, storage.EventSessionLimitReached, device.Label(st.Device))
	}
}

// Elevate records a fresh authentication of the request's current session
// — a re-entered password ([storage.AuthPassword]) or a verified second
// factor ([storage.AuthSecondFactor]) — and rotates its token (ASVS 7.2.4):
// the old cookie stops working at once, the new one is set on w. The
// session keeps its handle, creation time and absolute expiry.
//
// Elevate returns the fresh session: use it for the rest of the request.
// The one in r's context carries the retired token, and the operations
// that act on "this session" ([Manager.RevokeOthers],
// [Manager.PasswordChanged]) refuse it with [ErrRevoked] rather than end
// every session, the fresh one included.
//
// A session pending its second factor can only be elevated with
// [storage.AuthSecondFactor] ([ErrSecondFactorRequired] otherwise). A
// session that already passed a second factor keeps that level when
// elevated with a password.
func (m *Manager) Elevate(w http.ResponseWriter, r *http.Request, level storage.AuthLevel) (*Session, error) {
	if level != storage.AuthPassword && level != storage.AuthSecondFactor {
		return nil, fmt.Errorf("session: Elevate: invalid auth level %d", level)
	}
	cur, err := m.current(r)
	if err != nil {
		return nil, err
	}
	if cur.AuthLevel == storage.AuthPendingSecondFactor && level != storage.AuthSecondFactor {
		return nil, ErrSecondFactorRequired
	}
	level = max(level, cur.AuthLevel)
	ctx, cancel := context.WithTimeout(r.Context(), m.cfg.StorageTimeout)
	defer cancel()
	st, err := m.cfg.Store.GetSession(ctx, cur.tokenHash)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrRevoked
	} else if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	token, err := randomBytes(tokenSize)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Clock()
	// A sign-in pending its second factor completes now.
	newDevice := cur.AuthLevel == storage.AuthPendingSecondFactor && m.checkNewDevice(ctx, r, st.UserID, now)
	old := st.TokenHash
	if st.AuthLevel == storage.AuthPendingSecondFactor {
		// The sign-in completes now: from a short PendingTimeout to the
		// session's full lifetime, counted from its creation.
		st.ExpiresAt = st.CreatedAt.Add(m.cfg.AbsoluteTimeout)
	}
	st.TokenHash = storage.HashToken(token)
	st.AuthLevel = level
	st.AuthAt = now
	st.LastSeenAt = now
	if err := m.cfg.Store.RotateSession(ctx, old, st); errors.Is(err, storage.ErrNotFound) {
		return nil, ErrRevoked
	} else if err != nil {
		return nil, fmt.Errorf("%w: rotating session: %w", ErrUnavailable, err)
	}
	m.cache.tombstone(old, st.UserID)
	p := payload{level: level, sessionOnly: cur.sessionOnly, issuedAt: now.Unix(), expiresAt: st.ExpiresAt.Unix(), userID: st.UserID}
	copy(p.token[:], token)
	if err := m.setCookie(w, &p); err != nil {
		return nil, err
	}
	s := sessionFromStorage(st)
	if m.bind != nil {
		m.bind.offer(ctx, w, s)
	}
	s.sessionOnly = p.sessionOnly
	if cur.AuthLevel != storage.AuthPendingSecondFactor {
		m.log.record(ctx, Audit{Request: r}, s, s.UserID, storage.EventReauthenticated, level.String())
	} else if m.cfg.MaxSessionsPerUser > 0 {
		m.enforceSessionLimit(ctx, r, s) // the sign-in completes now
	}
	if newDevice {
		m.log.record(ctx, Audit{Request: r}, s, s.UserID, storage.EventNewDeviceSignIn, "")
	}
	return s, nil
}

// Logout ends the request's session (pending or not) server-side before
// anything is sent, expires the cookie and sends Clear-Site-Data
// (SECURITY.md §6). Without a session it only expires the cookie and
// returns [ErrNoSession] (or the reason the cookie was refused).
func (m *Manager) Logout(w http.ResponseWriter, r *http.Request) error {
	s, err := m.current(r)
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			m.clearClient(w)
		}
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.cfg.StorageTimeout)
	defer cancel()
	if _, err := m.revoke(ctx, s.UserID, s.Handle, EndLogout); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	m.clearClient(w)
	m.log.record(ctx, Audit{Request: r}, s, s.UserID, storage.EventSignedOut, "")
	return nil
}

// LogoutEverywhereOptions are the options of [Manager.LogoutEverywhere].
// The zero value ends the sessions only.
type LogoutEverywhereOptions struct {
	// IncludeApps also revokes every connected app of the user
	// ([AppTokens.RevokeAll]).
	IncludeApps bool
}

// LogoutEverywhere ends every session of the request's user, this one
// included ("Log out everywhere", the "I don't recognise this device"
// path), every trusted browser ([TrustedBrowsers.RevokeAll]) and, with
// opts.IncludeApps, every connected app. Like
// [Manager.Logout] it expires the cookie and sends Clear-Site-Data. It
// returns how many sessions and apps it ended and records a
// "signed_out_everywhere" event. The HTTP route requires a recent
// authentication first; Go callers decide for themselves.
func (m *Manager) LogoutEverywhere(w http.ResponseWriter, r *http.Request, opts LogoutEverywhereOptions) (sessions, apps int, err error) {
	s, err := m.current(r)
	if err != nil {
		return 0, 0, err
	}
	ctx := r.Context()
	if sessions, err = m.revokeUser(ctx, s.UserID, storage.TokenHash{}, "", EndLogoutEverywhere); err != nil {
		return 0, 0, err
	}
	m.log.record(ctx, Audit{Request: r}, s, s.UserID, storage.EventSignedOutEverywhere, fmt.Sprint(sessions))
	if _, err := m.trusted.RevokeAll(ctx, Audit{Request: r}, s.UserID); err != nil {
		return sessions, 0, err
	}
	if opts.IncludeApps {
		if apps, err = m.apps.RevokeAll(ctx, Audit{Request: r}, s.UserID); err != nil {
			return sessions, 0, err
		}
	}
	m.clearClient(w)
	return sessions, apps, nil
}

// clearClient expires the session cookie and asks the browser to drop
// cached pages and site data.
func (m *Manager) clearClient(w http.ResponseWriter) {
	m.expireCookie(w)
	w.Header().Set("Clear-Site-Data", m.cfg.ClearSiteData)
	w.Header().Set("Cache-Control", "no-store")
}

// Revoke ends one of userID's sessions, named by its public handle. Another
// user's handle gives [ErrNotFound], exactly like an unknown one
// (SECURITY.md §10). After Revoke returns, this Manager rejects the session
// on the very next request, and other instances within the notifier bound.
// It records a "session_revoked" event with what a tells, whose detail is
// the device label of the session it ended ("Firefox 133 on Windows"), so
// that the log can say which device was logged out.
func (m *Manager) Revoke(ctx context.Context, a Audit, userID, handle string) error {
	st, err := m.revoke(ctx, userID, handle, EndRevoked)
	if err != nil {
		return err
	}
	m.log.Record(ctx, a, userID, storage.EventSessionRevoked, device.Label(st.Device))
	return nil
}

// revoke ends one session and returns its last stored state.
func (m *Manager) revoke(ctx context.Context, userID, handle string, why EndReason) (*storage.Session, error) {
	st, err := m.cfg.Store.RevokeSession(ctx, userID, handle)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("%w: revoking session: %w", ErrUnavailable, err)
	}
	m.cache.tombstone(st.TokenHash, userID)
	m.watch.notice(storage.Revocation{UserID: userID, TokenHash: st.TokenHash})
	if m.bind != nil {
		// The session is gone, so its binding can no longer be used;
		// deleting it is housekeeping.
		if err := m.cfg.Store.DeleteDeviceBinding(ctx, userID, handle); err != nil {
			m.cfg.Logger.Warn("session: deleting a revoked session's device binding failed", "err", err)
		}
	}
	m.tel.sessionsEnded(ctx, why, 1)
	return st, nil
}

// RevokeOthers ends every session of current's user except current ("Log
// out all other sessions") and returns how many it ended. It records an
// "other_sessions_revoked" event with what a tells, naming current as the
// acting session. The HTTP handler requires a recent authentication first;
// Go callers decide for themselves.
//
// current must be live under its token: a session that ended, or whose
// token [Manager.Elevate] rotated (the one left in the request context
// after Elevate), gives [ErrRevoked] and nothing ends. After Elevate, pass
// the session it returned.
func (m *Manager) RevokeOthers(ctx context.Context, a Audit, current *Session) (int, error) {
	if err := m.live(ctx, current); err != nil {
		return 0, err
	}
	n, err := m.revokeUser(ctx, current.UserID, current.tokenHash, current.Handle, EndRevokedOthers)
	if err != nil {
		return 0, err
	}
	m.log.record(ctx, a, current, current.UserID, storage.EventOtherSessionsRevoked, fmt.Sprint(n))
	return n, nil
}

// RevokeAll ends every session of userID, for example from an admin tool or
// when an account is disabled, and returns how many it ended. It records
// an "all_sessions_revoked" event with what a tells.
func (m *Manager) RevokeAll(ctx context.Context, a Audit, userID string) (int, error) {
	n, err := m.revokeUser(ctx, userID, storage.TokenHash{}, "", EndRevokedAll)
	if err != nil {
		return 0, err
	}
	m.log.Record(ctx, a, userID, storage.EventAllSessionsRevokedAdm, fmt.Sprint(n))
	return n, nil
}

// PasswordChanged ends the sessions of userID after its password changed
// (SECURITY.md §7), and all of userID's trusted browsers
// ([TrustedBrowsers.RevokeAll]), and records a "password_changed" event
// with what a tells. When keep is non-nil (the session that changed the password), that
// session survives; otherwise all end. It returns how many sessions ended.
// Like [Manager.RevokeOthers] it refuses with [ErrRevoked] a keep that is
// no longer live under its token (after [Manager.Elevate], pass the session
// Elevate returned), and then ends nothing.
func (m *Manager) PasswordChanged(ctx context.Context, a Audit, userID string, keep *Session) (int, error) {
	var except storage.TokenHash
	var exceptHandle string
	if keep != nil {
		if keep.UserID != userID {
			return 0, errors.New("session: PasswordChanged: keep belongs to another user")
		}
		if err := m.live(ctx, keep); err != nil {
			return 0, err
		}
		except, exceptHandle = keep.tokenHash, keep.Handle
	}
	n, err := m.revokeUser(ctx, userID, except, exceptHandle, EndPasswordChanged)
	if err != nil {
		return 0, err
	}
	m.log.record(ctx, a, keep, userID, storage.EventPasswordChanged, fmt.Sprint(n))
	if _, err := m.trusted.RevokeAll(ctx, a, userID); err != nil {
		return n, err
	}
	return n, nil
}

// live checks that s is still a session under its own token, so that an
// operation keeping "this session" never mistakes a rotated or ended one
// for it (and ends every session instead).
func (m *Manager) live(ctx context.Context, s *Session) error {
	if s == nil {
		return errors.New("session: no current session given")
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StorageTimeout)
	defer cancel()
	switch _, err := m.cfg.Store.GetSession(ctx, s.tokenHash); {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("%w: the session ended or its token was rotated (after Elevate, use the session it returned)", ErrRevoked)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// revokeUser ends userID's sessions but the one of token hash except
// (zero: none), whose handle is exceptHandle.
func (m *Manager) revokeUser(ctx context.Context, userID string, except storage.TokenHash, exceptHandle string, why EndReason) (int, error) {
	n, err := m.cfg.Store.RevokeUserSessions(ctx, userID, except)
	if err != nil {
		return 0, fmt.Errorf("%w: revoking sessions: %w", ErrUnavailable, err)
	}
	m.cache.forgetUser(userID, except)
	m.watch.notice(storage.Revocation{UserID: userID})
	if m.bind != nil {
		if _, err := m.cfg.Store.DeleteDeviceBindings(ctx, userID, exceptHandle); err != nil {
			m.cfg.Logger.Warn("session: deleting revoked sessions' device bindings failed", "err", err)
		}
	}
	m.tel.sessionsEnded(ctx, why, n)
	return n, nil
}

// current returns the request's session at any level: from the context
// when the middleware ran, else by checking the cookie.
func (m *Manager) current(r *http.Request) (*Session, error) {
	if s, ok := anyFromContext(r.Context()); ok {
		return s, nil
	}
	return m.Check(r)
}

func (m *Manager) setCookie(w http.ResponseWriter, p *payload) error {
	value, err := m.codec.encode(p)
	if err != nil {
		return err
	}
	c := &http.Cookie{
		Name:     m.cfg.CookieName,
		Value:    value,
		Path:     "/",
		Secure:   m.cookieSecure,
		HttpOnly: true,
		SameSite: m.cfg.SameSite,
	}
	if !p.sessionOnly {
		// A remembered sign-in outlives the browser, never the session.
		// A session-only one has neither attribute: the browser drops it
		// when it closes (RFC 6265bis §5.7).
		c.Expires = time.Unix(p.expiresAt, 0)
		c.MaxAge = max(int(c.Expires.Sub(m.cfg.Clock())/time.Second), 1)
	}
	http.SetCookie(w, c)
	return nil
}

func (m *Manager) expireCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     m.cfg.CookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   m.cookieSecure,
		HttpOnly: true,
		SameSite: m.cfg.SameSite,
	})
}

func sessionFromStorage(st *storage.Session) *Session {
	return &Session{
		UserID:    st.UserID,
		Handle:    st.Handle,
		AuthLevel: st.AuthLevel,
		AuthAt:    st.AuthAt,
		CreatedAt: st.CreatedAt,
		ExpiresAt: st.ExpiresAt,
		tokenHash: st.TokenHash,
	}
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("session: crypto/rand: %w", err)
	}
	return b, nil
}

// newHandle returns a public session handle: 128 random bits, URL-safe.
func newHandle() (string, error) {
	b, err := randomBytes(16)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
