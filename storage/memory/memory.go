// Package memory is the embedded, zero-config default storage backend of
// sessionguard.
//
// A [Store] keeps everything in the memory of the process: nothing survives a
// restart and nothing is shared with other processes. It suits a single
// application instance, development and tests; several instances behind a
// load balancer need a shared backend (sqlite on one host, postgres or redis).
//
// A Store is safe for concurrent use. Its notifier is an in-process fan-out:
// several Managers sharing one *Store see every revocation at once, because
// subscribers are called synchronously from the revoking goroutine, after the
// change is made and outside the store's lock.
//
// Expired sessions are removed by a background goroutine every
// [Options.SweepInterval]; [Store.Close] stops it.
package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/internal/fanout"
)

// DefaultSweepInterval is the default [Options.SweepInterval].
const DefaultSweepInterval = time.Minute

// Options configures a [Store]. The zero value is ready to use.
type Options struct {
	// SweepInterval is how often expired sessions are removed in the
	// background. The default (zero or negative) is one minute.
	SweepInterval time.Duration
	// Now returns the current time for the background sweep and for
	// GetThrottle's expiry check. The default is time.Now.
	Now func() time.Time
}

// Wrapped sentinels: returned as they are, so that a miss on the hot path
// does not allocate. They are never modified.
var (
	errSessionNotFound  = fmt.Errorf("storage/memory: session: %w", storage.ErrNotFound)
	errSessionConflict  = fmt.Errorf("storage/memory: session: %w", storage.ErrConflict)
	errTOTPNotFound     = fmt.Errorf("storage/memory: totp: %w", storage.ErrNotFound)
	errTOTPConfirmed    = fmt.Errorf("storage/memory: totp: already confirmed: %w", storage.ErrConflict)
	errTOTPStale        = fmt.Errorf("storage/memory: totp: %w", storage.ErrStaleStep)
	errRecoveryNotFound = fmt.Errorf("storage/memory: recovery code: %w", storage.ErrNotFound)
	errGrantNotFound    = fmt.Errorf("storage/memory: app grant: %w", storage.ErrNotFound)
	errGrantConflict    = fmt.Errorf("storage/memory: app grant: %w", storage.ErrConflict)
	errLocked           = fmt.Errorf("storage/memory: throttle: %w", storage.ErrLocked)
)

// Store is an in-memory [storage.Store]. Create it with [New]; it is safe
// for concurrent use.
type Store struct {
	mu sync.RWMutex

	sessions     map[storage.TokenHash]*storage.Session
	handles      map[string]storage.TokenHash              // handle → token hash
	userSessions map[string]map[storage.TokenHash]struct{} // user → token hashes
	totp         map[string]*storage.TOTPCredential        // user → credential
	recovery     map[string]map[storage.TokenHash]struct{} // user → unused code hashes
	throttles    map[string]throttleRecord                 // user → state
	grants       map[storage.TokenHash]*storage.AppGrant   // token hash → grant
	grantIDs     map[string]storage.TokenHash              // grant ID → token hash
	userGrants   map[string]map[storage.TokenHash]struct{} // user → grant token hashes
	events       map[string][]storage.Event                // user → events, ascending ID
	lastEventID  int64
	trusted      map[string]map[string]storage.TrustedBrowser // user → ID → record (trusted.go)
	passkeys     map[string]*storage.Passkey                  // ID → passkey (passkey.go)
	challenges   map[string]*storage.PasskeyChallenge         // ID → challenge (passkey.go)

	subs fanout.Set

	bindings bindingTables // binding.go

	now       func() time.Time
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ storage.Store = (*Store)(nil)

// New returns an empty Store and starts its background sweep of expired
// sessions. Call [Store.Close] to stop it.
func New(opts Options) *Store {
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		sessions:     make(map[storage.TokenHash]*storage.Session),
		handles:      make(map[string]storage.TokenHash),
		userSessions: make(map[string]map[storage.TokenHash]struct{}),
		totp:         make(map[string]*storage.TOTPCredential),
		recovery:     make(map[string]map[storage.TokenHash]struct{}),
		throttles:    make(map[string]throttleRecord),
		grants:       make(map[storage.TokenHash]*storage.AppGrant),
		grantIDs:     make(map[string]storage.TokenHash),
		userGrants:   make(map[string]map[storage.TokenHash]struct{}),
		events:       make(map[string][]storage.Event),
		now:          opts.Now,
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	go s.sweep(opts.SweepInterval)
	return s
}

// sweep removes expired sessions and throttle records every interval until
// Close.
func (s *Store) sweep(interval time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			// Cannot fail: the context is never cancelled.
			now := s.now()
			_, _ = s.DeleteExpiredSessions(context.Background(), now)
			_, _ = s.DeleteExpiredThrottles(context.Background(), now)
		}
	}
}

// Close stops the background sweep and waits for it to return. It is
// idempotent and always returns nil. The Store keeps working after Close,
// without the sweep.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// ctxErr returns ctx's error, wrapped, if ctx is done.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage/memory: %w", err)
	}
	return nil
}

// addIndex adds h to the set m[key], creating it if needed.
func addIndex(m map[string]map[storage.TokenHash]struct{}, key string, h storage.TokenHash) {
	set := m[key]
	if set == nil {
		set = make(map[storage.TokenHash]struct{})
		m[key] = set
	}
	set[h] = struct{}{}
}

// removeIndex removes h from the set m[key], dropping the set when empty.
func removeIndex(m map[string]map[storage.TokenHash]struct{}, key string, h storage.TokenHash) {
	set := m[key]
	delete(set, h)
	if len(set) == 0 {
		delete(m, key)
	}
}

// ---- Sessions ----

// CreateSession stores a copy of sess; see [storage.SessionStore].
func (s *Store) CreateSession(ctx context.Context, sess *storage.Session) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	c := *sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[c.TokenHash]; ok {
		return errSessionConflict
	}
	if _, ok := s.handles[c.Handle]; ok {
		return errSessionConflict
	}
	s.insertSessionLocked(&c)
	return nil
}

func (s *Store) insertSessionLocked(c *storage.Session) {
	s.sessions[c.TokenHash] = c
	s.handles[c.Handle] = c.TokenHash
	addIndex(s.userSessions, c.UserID, c.TokenHash)
}

func (s *Store) deleteSessionLocked(c *storage.Session) {
	delete(s.sessions, c.TokenHash)
	delete(s.handles, c.Handle)
	removeIndex(s.userSessions, c.UserID, c.TokenHash)
}

// GetSession returns a copy of the session with token hash h; see
// [storage.SessionStore].
func (s *Store) GetSession(ctx context.Context, h storage.TokenHash) (*storage.Session, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	p, ok := s.sessions[h]
	var c storage.Session
	if ok {
		c = *p
	}
	s.mu.RUnlock()
	if !ok {
		return nil, errSessionNotFound
	}
	return &c, nil
}

// ListSessions returns copies of userID's sessions, most recent LastSeenAt
// first (ties: most recent CreatedAt first); see [storage.SessionStore].
func (s *Store) ListSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	set := s.userSessions[userID]
	out := make([]storage.Session, 0, len(set))
	for h := range set {
		out = append(out, *s.sessions[h])
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if !a.LastSeenAt.Equal(b.LastSeenAt) {
			return a.LastSeenAt.After(b.LastSeenAt)
		}
		return a.CreatedAt.After(b.CreatedAt)
	})
	return out, nil
}

// TouchSession records activity on the session with token hash h; see
// [storage.SessionStore].
func (s *Store) TouchSession(ctx context.Context, h storage.TokenHash, a storage.Activity) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.sessions[h]
	if !ok {
		return errSessionNotFound
	}
	p.LastSeenAt = a.At
	p.LastSeenIP = a.IP
	p.UserAgent = a.UserAgent
	p.Device = a.Device
	p.Location = a.Location
	return nil
}

// RotateSession atomically replaces the session old by a copy of sess and
// notifies subscribers; see [storage.SessionStore]. It returns ErrConflict,
// and changes nothing, if sess's token hash or handle belongs to another
// session.
func (s *Store) RotateSession(ctx context.Context, old storage.TokenHash, sess *storage.Session) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	c := *sess
	s.mu.Lock()
	prev, ok := s.sessions[old]
	if !ok {
		s.mu.Unlock()
		return errSessionNotFound
	}
	if other, ok := s.sessions[c.TokenHash]; ok && other != prev {
		s.mu.Unlock()
		return errSessionConflict
	}
	if h, ok := s.handles[c.Handle]; ok && h != old {
		s.mu.Unlock()
		return errSessionConflict
	}
	s.deleteSessionLocked(prev)
	s.insertSessionLocked(&c)
	s.mu.Unlock()
	s.notify(storage.Revocation{UserID: prev.UserID, TokenHash: old})
	return nil
}

// RevokeSession deletes userID's session with the given handle, returns it
// and notifies subscribers; see [storage.SessionStore].
func (s *Store) RevokeSession(ctx context.Context, userID, handle string) (*storage.Session, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	h, ok := s.handles[handle]
	if !ok {
		s.mu.Unlock()
		return nil, errSessionNotFound
	}
	p := s.sessions[h]
	if p.UserID != userID {
		// Another user's session: indistinguishable from none (SECURITY.md §10).
		s.mu.Unlock()
		return nil, errSessionNotFound
	}
	s.deleteSessionLocked(p)
	s.mu.Unlock()
	s.notify(storage.Revocation{UserID: userID, TokenHash: h})
	return p, nil // p is no longer referenced by the store
}

// RevokeUserSessions atomically deletes userID's sessions except the one
// with token hash except, and notifies subscribers once; see
// [storage.SessionStore].
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, except storage.TokenHash) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	n := 0
	s.mu.Lock()
	for h := range s.userSessions[userID] {
		if h == except {
			continue
		}
		// Deleting from the set being ranged over is allowed in Go.
		s.deleteSessionLocked(s.sessions[h])
		n++
	}
	s.mu.Unlock()
	s.notify(storage.Revocation{UserID: userID})
	return n, nil
}

// DeleteExpiredSessions removes sessions whose ExpiresAt is not after now;
// see [storage.SessionStore]. It does not notify.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	n := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.sessions {
		if !p.ExpiresAt.After(now) {
			s.deleteSessionLocked(p)
			n++
		}
	}
	return n, nil
}

// ---- TOTP ----

func copyTOTP(c *storage.TOTPCredential) *storage.TOTPCredential {
	d := *c
	d.Secret = slices.Clone(c.Secret)
	return &d
}

// PutPendingTOTP stores a copy of c as userID's pending credential; see
// [storage.TOTPStore]. ConfirmedAt is cleared along with Confirmed.
func (s *Store) PutPendingTOTP(ctx context.Context, c *storage.TOTPCredential) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	d := copyTOTP(c)
	d.Confirmed = false
	d.ConfirmedAt = time.Time{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.totp[d.UserID]; ok && cur.Confirmed {
		return errTOTPConfirmed
	}
	s.totp[d.UserID] = d
	return nil
}

// GetTOTP returns a copy of userID's credential; see [storage.TOTPStore].
func (s *Store) GetTOTP(ctx context.Context, userID string) (*storage.TOTPCredential, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.totp[userID]
	if !ok {
		return nil, errTOTPNotFound
	}
	return copyTOTP(c), nil
}

// ConfirmTOTP marks userID's pending credential confirmed; see
// [storage.TOTPStore].
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, step int64, at time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.totp[userID]
	if !ok || c.Confirmed {
		return errTOTPNotFound
	}
	c.Confirmed = true
	c.ConfirmedAt = at
	c.LastStep = step
	return nil
}

// AcceptTOTPStep records step if it is strictly newer than the last
// accepted one (RFC 6238 §5.2); see [storage.TOTPStore].
func (s *Store) AcceptTOTPStep(ctx context.Context, userID string, step int64) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.totp[userID]
	if !ok || !c.Confirmed {
		return errTOTPNotFound
	}
	if step <= c.LastStep {
		return errTOTPStale
	}
	c.LastStep = step
	return nil
}

// UpdateTOTPSecret replaces the encrypted secret and key ID of userID's
// credential; see [storage.TOTPStore].
func (s *Store) UpdateTOTPSecret(ctx context.Context, userID string, secret []byte, keyID string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	secret = slices.Clone(secret)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.totp[userID]
	if !ok {
		return errTOTPNotFound
	}
	c.Secret = secret
	c.KeyID = keyID
	return nil
}

// DeleteTOTP removes userID's credential; see [storage.TOTPStore].
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.totp, userID)
	s.mu.Unlock()
	return nil
}

// ---- Recovery codes ----

// ReplaceRecoveryCodes replaces userID's recovery codes with hashes; see
// [storage.RecoveryCodeStore].
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []storage.TokenHash) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	var set map[storage.TokenHash]struct{}
	if len(hashes) > 0 {
		set = make(map[storage.TokenHash]struct{}, len(hashes))
		for _, h := range hashes {
			set[h] = struct{}{}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if set == nil {
		delete(s.recovery, userID)
	} else {
		s.recovery[userID] = set
	}
	return nil
}

// ConsumeRecoveryCode removes the code with hash h from userID's set; see
// [storage.RecoveryCodeStore].
func (s *Store) ConsumeRecoveryCode(ctx context.Context, userID string, h storage.TokenHash) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.recovery[userID]
	if _, ok := set[h]; !ok {
		return errRecoveryNotFound
	}
	delete(set, h)
	if len(set) == 0 {
		delete(s.recovery, userID)
	}
	return nil
}

// CountRecoveryCodes returns how many unused codes userID has; see
// [storage.RecoveryCodeStore].
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.recovery[userID]), nil
}

// ---- Throttle ----

// throttleRecord is a stored throttle and its expiry (zero: never); see
// [storage.ThrottleStore].
type throttleRecord struct {
	t       storage.Throttle
	expires time.Time
}

// expiredAt reports whether r may be removed at now.
func (r throttleRecord) expiredAt(now time.Time) bool {
	return !r.expires.IsZero() && !r.expires.After(now)
}

// ReserveAttempt applies p.Next to userID's throttle at now; see
// [storage.ThrottleStore].
func (s *Store) ReserveAttempt(ctx context.Context, userID string, now time.Time, p storage.AttemptPolicy) (storage.Throttle, error) {
	if err := ctxErr(ctx); err != nil {
		return storage.Throttle{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.throttles[userID]
	if ok && rec.expiredAt(now) {
		rec = throttleRecord{}
	}
	next, err := p.Next(rec.t, now)
	if err != nil {
		return rec.t, errLocked
	}
	s.throttles[userID] = throttleRecord{t: next, expires: p.ExpiresAt(next, now)}
	return next, nil
}

// GetThrottle returns userID's throttle state; see [storage.ThrottleStore].
func (s *Store) GetThrottle(ctx context.Context, userID string) (storage.Throttle, error) {
	if err := ctxErr(ctx); err != nil {
		return storage.Throttle{}, err
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.throttles[userID]
	if r.expiredAt(now) {
		return storage.Throttle{}, nil
	}
	return r.t, nil
}

// DeleteExpiredThrottles removes the throttle records whose expiry is not
// after now; see [storage.ThrottleStore]. The background sweep calls it.
func (s *Store) DeleteExpiredThrottles(ctx context.Context, now time.Time) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	n := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range s.throttles {
		if r.expiredAt(now) {
			delete(s.throttles, k)
			n++
		}
	}
	return n, nil
}

// ResetAttempts clears userID's throttle state; see [storage.ThrottleStore].
func (s *Store) ResetAttempts(ctx context.Context, userID string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.throttles, userID)
	s.mu.Unlock()
	return nil
}

// ---- App grants ----

func copyGrant(g *storage.AppGrant) *storage.AppGrant {
	d := *g
	d.Scopes = slices.Clone(g.Scopes)
	return &d
}

// CreateAppGrant stores a copy of g; see [storage.AppGrantStore].
func (s *Store) CreateAppGrant(ctx context.Context, g *storage.AppGrant) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	d := copyGrant(g)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.grants[d.TokenHash]; ok {
		return errGrantConflict
	}
	if _, ok := s.grantIDs[d.ID]; ok {
		return errGrantConflict
	}
	s.grants[d.TokenHash] = d
	s.grantIDs[d.ID] = d.TokenHash
	addIndex(s.userGrants, d.UserID, d.TokenHash)
	return nil
}

// GetAppGrant returns a copy of the grant with token hash h; see
// [storage.AppGrantStore].
func (s *Store) GetAppGrant(ctx context.Context, h storage.TokenHash) (*storage.AppGrant, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.grants[h]
	if !ok {
		return nil, errGrantNotFound
	}
	return copyGrant(g), nil
}

// ListAppGrants returns copies of userID's grants, newest CreatedAt first;
// see [storage.AppGrantStore].
func (s *Store) ListAppGrants(ctx context.Context, userID string) ([]storage.AppGrant, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	set := s.userGrants[userID]
	out := make([]storage.AppGrant, 0, len(set))
	for h := range set {
		out = append(out, *copyGrant(s.grants[h]))
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// TouchAppGrant sets the LastUsedAt of the grant with token hash h; see
// [storage.AppGrantStore].
func (s *Store) TouchAppGrant(ctx context.Context, h storage.TokenHash, at time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[h]
	if !ok {
		return errGrantNotFound
	}
	g.LastUsedAt = at
	return nil
}

// RevokeAppGrant deletes userID's grant with the given ID, returns it and
// notifies subscribers; see [storage.AppGrantStore].
func (s *Store) RevokeAppGrant(ctx context.Context, userID, id string) (*storage.AppGrant, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	h, ok := s.grantIDs[id]
	if !ok {
		s.mu.Unlock()
		return nil, errGrantNotFound
	}
	g := s.grants[h]
	if g.UserID != userID {
		// Another user's grant: indistinguishable from none (RFC 7009 §2.1).
		s.mu.Unlock()
		return nil, errGrantNotFound
	}
	s.deleteGrantLocked(g)
	s.mu.Unlock()
	s.notify(storage.Revocation{UserID: userID, TokenHash: h})
	return g, nil // g is no longer referenced by the store
}

func (s *Store) deleteGrantLocked(g *storage.AppGrant) {
	delete(s.grants, g.TokenHash)
	delete(s.grantIDs, g.ID)
	removeIndex(s.userGrants, g.UserID, g.TokenHash)
}

// RevokeUserAppGrants deletes all of userID's grants and notifies
// subscribers once; see [storage.AppGrantStore].
func (s *Store) RevokeUserAppGrants(ctx context.Context, userID string) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	n := 0
	s.mu.Lock()
	for h := range s.userGrants[userID] {
		s.deleteGrantLocked(s.grants[h])
		n++
	}
	s.mu.Unlock()
	s.notify(storage.Revocation{UserID: userID})
	return n, nil
}

// ---- Events ----

// AppendEvent stores a copy of e and sets e.ID; see [storage.EventStore].
func (s *Store) AppendEvent(ctx context.Context, e *storage.Event) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastEventID++
	e.ID = s.lastEventID
	s.events[e.UserID] = append(s.events[e.UserID], *e)
	return nil
}

// ListEvents returns up to limit of userID's events with ID < before
// (before <= 0: from the newest), newest first; see [storage.EventStore].
// A limit <= 0 returns no events.
func (s *Store) ListEvents(ctx context.Context, userID string, before int64, limit int) ([]storage.Event, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	evs := s.events[userID] // ascending ID
	end := len(evs)
	if before > 0 {
		end = sort.Search(len(evs), func(i int) bool { return evs[i].ID >= before })
	}
	n := min(max(limit, 0), end)
	out := make([]storage.Event, 0, n)
	for i := end - 1; i >= end-n; i-- {
		out = append(out, evs[i])
	}
	return out, nil
}

// DeleteEventsBefore removes events whose At is before t; see
// [storage.EventStore].
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	n := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for user, evs := range s.events {
		kept := evs[:0]
		for _, e := range evs {
			if e.At.Before(t) {
				n++
				continue
			}
			kept = append(kept, e)
		}
		if len(kept) == 0 {
			delete(s.events, user)
			continue
		}
		clear(evs[len(kept):]) // release the removed strings
		s.events[user] = kept
	}
	return n, nil
}

// ---- Notifier ----

// Subscribe calls fn for every later revocation made through this Store,
// synchronously from the revoking goroutine, after the change and outside
// the store's lock; see [storage.Notifier]. The memory store never loses
// notices, so fn is never called with Reset. cancel stops delivery at once
// (a call already under way may finish) and may be called more than once,
// also from fn. Subscribe keeps working after [Store.Close].
func (s *Store) Subscribe(fn func(storage.Revocation)) (cancel func(), err error) {
	if fn == nil {
		return nil, errors.New("storage/memory: subscribe: nil func")
	}
	cancel, _ = s.subs.Add(fn) // never fails: s.subs is never closed
	return cancel, nil
}

// notify calls every subscriber with r. It must be called without s.mu held.
// It stamps r with the commit time.
func (s *Store) notify(r storage.Revocation) {
	r.CommittedAt = s.now()
	s.subs.Deliver(r)
}
