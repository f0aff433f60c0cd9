package totp

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/internal/fakeclock"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// testEpoch is 15 s into a time step, so that a test is never at a step
// boundary by accident.
var testEpoch = time.Date(2026, 3, 1, 12, 0, 15, 0, time.UTC)

// newFakeClock returns the clock shared by a test's Manager and Service.
func newFakeClock() *fakeclock.Clock { return fakeclock.New(testEpoch) }

func randomKey(t testing.TB, id string) Key {
	t.Helper()
	k := Key{ID: id, Secret: make([]byte, KeySize)}
	rand.Read(k.Secret)
	return k
}

type testEnv struct {
	svc   *Service
	mgr   *session.Manager
	store *memory.Store
	clock *fakeclock.Clock
	keys  []Key
}

// newTestEnv returns a Service on a fresh memory store and fake clock.
// edit, if not nil, changes the Config before New.
func newTestEnv(t testing.TB, edit func(*Config)) *testEnv {
	t.Helper()
	clk := newFakeClock()
	st := memory.New(memory.Options{Now: clk.Now})
	t.Cleanup(func() { st.Close() })
	pair, err := session.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := session.New(session.Config{Store: st, Keys: []session.KeyPair{pair}, Clock: clk.Now})
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	t.Cleanup(func() { mgr.Close() })
	cfg := Config{Manager: mgr, Store: st, Clock: clk.Now, Issuer: "Example", Keys: []Key{randomKey(t, "k1")}}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &testEnv{svc: svc, mgr: mgr, store: st, clock: clk, keys: cfg.Keys}
}

// withService returns a second Service on the same Manager and store with
// other keys.
func (e *testEnv) withKeys(t testing.TB, keys ...Key) *Service {
	t.Helper()
	svc, err := New(Config{Manager: e.mgr, Store: e.store, Issuer: "Example", Keys: keys, Clock: e.clock.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return svc
}

// code returns the code of a base32 secret for the current step + offset.
func (e *testEnv) code(t testing.TB, secret string, offset int64) string {
	t.Helper()
	c, err := codeAt(secret, stepAt(e.clock.Now())+offset)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enroll enrolls and confirms userID, then moves the clock two steps on,
// so that the confirmation step is out of the window and every step of the
// window is unused. It returns the base32 secret and the recovery codes.
func (e *testEnv) enroll(t testing.TB, userID string) (string, []string) {
	t.Helper()
	ctx := context.Background()
	en, err := e.svc.Enroll(ctx, userID)
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	codes, err := e.svc.Confirm(ctx, noAudit, userID, e.code(t, en.Secret, 0))
	if err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	e.clock.Advance(2 * Period)
	return en.Secret, codes
}

// events returns the types of userID's security events, oldest first.
func (e *testEnv) events(t testing.TB, userID string) []storage.EventType {
	t.Helper()
	evs, err := e.store.ListEvents(context.Background(), userID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	types := make([]storage.EventType, len(evs))
	for i, ev := range evs {
		types[len(evs)-1-i] = ev.Type
	}
	return types
}

func (e *testEnv) countEvents(t testing.TB, userID string, typ storage.EventType) int {
	t.Helper()
	n := 0
	for _, x := range e.events(t, userID) {
		if x == typ {
			n++
		}
	}
	return n
}

func (e *testEnv) throttle(t testing.TB, userID string) storage.Throttle {
	t.Helper()
	th, err := e.store.GetThrottle(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// hookStore lets a test run code in the middle of a store call.
type hookStore struct {
	storage.Store
	beforeConfirm func()
}

func (h *hookStore) ConfirmTOTP(ctx context.Context, userID string, step int64, at time.Time) error {
	if h.beforeConfirm != nil {
		h.beforeConfirm()
	}
	return h.Store.ConfirmTOTP(ctx, userID, step, at)
}

// failingStore fails every TOTP read.
type failingStore struct{ storage.Store }

var errDown = errors.New("test: storage down")

func (failingStore) GetTOTP(context.Context, string) (*storage.TOTPCredential, error) {
	return nil, errDown
}

func containsBytes(haystack, needle []byte) bool { return bytes.Contains(haystack, needle) }

// expectOneWinner runs attempt n times at once and checks that exactly one
// succeeds and every other is refused with ErrInvalidCode: the atomic
// single-use rules of the store, under a real race.
func expectOneWinner(t *testing.T, n int, attempt func() error) {
	t.Helper()
	var ok, invalid atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			switch err := attempt(); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrInvalidCode):
				invalid.Add(1)
			default:
				t.Errorf("got %v, want nil or ErrInvalidCode", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || invalid.Load() != int32(n-1) {
		t.Errorf("got %d successes and %d rejections, want 1 and %d", ok.Load(), invalid.Load(), n-1)
	}
}

// withStore returns a second Service on the same Manager and keys that
// uses store.
func (e *testEnv) withStore(t testing.TB, store storage.Store) *Service {
	t.Helper()
	svc, err := New(Config{Manager: e.mgr, Issuer: "Example", Keys: e.keys, Clock: e.clock.Now, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// noAudit is the Audit of calls that no request asked for.
var noAudit session.Audit
