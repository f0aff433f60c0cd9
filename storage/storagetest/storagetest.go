// Package storagetest is the conformance suite that every
// [github.com/sessionguard/sessionguard/storage] backend passes unchanged.
//
// A backend's test is one call:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store {
//			s := mybackend.New(...) // a fresh, empty store
//			t.Cleanup(func() { s.Close() })
//			return s
//		}, storagetest.WithPeer(func(t *testing.T, s storage.Store) storage.Store {
//			return mybackend.Open(...) // a second client on the same data as s
//		}))
//	}
//
// [Run] calls newStore once per subtest and runs the subtests in parallel,
// so each store must be independent of the others (its own file, schema or
// key prefix). The subtests are grouped by name — Session/…, TOTP/…,
// RecoveryCodes/…, Throttle/…, AppGrant/…, Event/…, DeviceBinding/…, TrustedBrowser/…,
// Passkey/…, Notifier/…,
// Concurrency/…, Context/… — so one group or one case can be selected with
// go test -run, e.g. -run 'Conformance/Concurrency/'.
//
// Run the suite under the race detector (go test -race): the Concurrency
// cases prove the atomic operations of the contract (a TOTP step accepted
// once, a recovery code consumed once, attempts reserved under the lockout
// rule, RevokeUserSessions racing CreateSession) only when data races are
// detected too.
//
// The suite writes times truncated to the millisecond, in UTC, and compares
// them with [time.Time.Equal]: a backend may return them in any location but
// must keep millisecond precision. Every fixture is random (crypto/rand), so
// backends that share a server between subtests see no collisions.
//
// A backend whose Subscribe returns [storage.ErrNoNotifier] has the
// Notifier cases skipped, with that reason.
package storagetest

import (
	"testing"

	"github.com/sessionguard/sessionguard/storage"
)

// Option configures [Run].
type Option func(*config)

type config struct {
	peer func(t *testing.T, s storage.Store) storage.Store
}

// WithPeer enables the cross-client cases. open returns a second client on
// the same backing data as s, as a second application instance would have
// it: for memory the same *Store, for sqlite the same file opened again, for
// postgres a second pool on the same schema, for redis a second client with
// the same key prefix. open registers the cleanup of what it opens with
// t.Cleanup.
//
// With a peer, the notifier is tested across clients (a revocation through
// one reaches a subscriber of the other) and the atomic operations are raced
// from both clients at once.
func WithPeer(open func(t *testing.T, s storage.Store) storage.Store) Option {
	return func(c *config) { c.peer = open }
}

// Run runs the conformance suite against fresh stores made by newStore.
// Each subtest gets its own empty store; newStore registers its own cleanup
// (Close) with t.Cleanup. Subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store, opts ...Option) {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Session", sessionCases()},
		{"TOTP", totpCases()},
		{"RecoveryCodes", recoveryCases()},
		{"Throttle", throttleCases()},
		{"ThrottleExpiry", throttleExpiryCases()},
		{"AppGrant", appGrantCases()},
		{"Event", append(eventCases(), eventActorCases()...)},
		{"DeviceBinding", bindingCases()},
		{"TrustedBrowser", trustedBrowserCases()},
		{"Passkey", passkeyCases()},
		{"Notifier", notifierCases()},
		{"Concurrency", concurrencyCases()},
		{"Context", contextCases()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					e := &env{store: newStore(t)}
					if cfg.peer != nil {
						e.openPeer = func() storage.Store { return cfg.peer(t, e.store) }
					}
					tc.fn(t, e)
				})
			}
		})
	}
}

// testCase is one named conformance case.
type testCase struct {
	name string
	fn   func(t *testing.T, e *env)
}

// env is what a case works on: a fresh store and, if configured, a way to
// open a second client on it.
type env struct {
	store    storage.Store
	openPeer func() storage.Store // nil without WithPeer
}

// clients returns the store and, with WithPeer, a second client on it.
func (e *env) clients() []storage.Store {
	if e.openPeer == nil {
		return []storage.Store{e.store}
	}
	return []storage.Store{e.store, e.openPeer()}
}

// peer returns a second client on the store, or skips t without WithPeer.
func (e *env) peer(t *testing.T) storage.Store {
	t.Helper()
	if e.openPeer == nil {
		t.Skip("needs storagetest.WithPeer: the backend test gave no second client")
	}
	return e.openPeer()
}
