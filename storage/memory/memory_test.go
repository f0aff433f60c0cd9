package memory_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
	"github.com/sessionguard/sessionguard/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := memory.New(memory.Options{})
		t.Cleanup(func() { s.Close() })
		return s
	}, storagetest.WithPeer(func(t *testing.T, s storage.Store) storage.Store { return s }))
}

// clock is a settable clock for the sweep.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func TestSweepRemovesExpiredSessions(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &clock{t: start}
	s := memory.New(memory.Options{SweepInterval: time.Millisecond, Now: clk.Now})
	defer s.Close()
	ctx := t.Context()

	short := &storage.Session{TokenHash: storage.HashToken([]byte("short")), Handle: "short", UserID: "u", ExpiresAt: start.Add(time.Hour)}
	long := &storage.Session{TokenHash: storage.HashToken([]byte("long")), Handle: "long", UserID: "u", ExpiresAt: start.Add(48 * time.Hour)}
	for _, x := range []*storage.Session{short, long} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatalf("CreateSession: got error %v, want nil", err)
		}
	}
	clk.Set(start.Add(time.Hour)) // short's ExpiresAt is not after now
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.GetSession(ctx, short.TokenHash)
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetSession of an expired session 5s after the clock passed its expiry: got error %v, want ErrNotFound", err)
		}
		time.Sleep(time.Millisecond) // polling for the background sweep
	}
	if _, err := s.GetSession(ctx, long.TokenHash); err != nil {
		t.Errorf("GetSession of an unexpired session after the sweep: got error %v, want nil", err)
	}
}

func TestCloseStopsTheSweep(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &clock{t: start}
	swept := make(chan struct{}, 1)
	now := func() time.Time {
		select {
		case swept <- struct{}{}:
		default:
		}
		return clk.Now()
	}
	s := memory.New(memory.Options{SweepInterval: time.Millisecond, Now: now})
	<-swept // the sweep runs
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("a second Close: got error %v, want nil", err)
	}
	// Close waited for the sweep goroutine: no sweep runs after it.
	select {
	case <-swept: // a sweep that ran before Close returned
	default:
	}
	x := &storage.Session{TokenHash: storage.HashToken([]byte("x")), Handle: "x", UserID: "u", ExpiresAt: start}
	if err := s.CreateSession(context.Background(), x); err != nil {
		t.Fatalf("CreateSession after Close: got error %v, want nil", err)
	}
	// Fifty sweep intervals without a call to Now.
	timer := time.NewTimer(50 * time.Millisecond)
	defer timer.Stop()
	select {
	case <-swept:
		t.Fatal("the sweep ran after Close returned")
	case <-timer.C:
	}
	if _, err := s.GetSession(context.Background(), x.TokenHash); err != nil {
		t.Errorf("GetSession of an expired session after Close: got error %v, want nil (no sweep)", err)
	}
}

func TestDefaultsStartAndStop(t *testing.T) {
	t.Parallel()
	s := memory.New(memory.Options{SweepInterval: -1})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
}

func TestSubscriberMayCallTheStore(t *testing.T) {
	t.Parallel()
	// Notices are delivered outside the store's lock: a subscriber that
	// reads the store from its callback does not deadlock and sees the
	// change.
	s := memory.New(memory.Options{})
	defer s.Close()
	ctx := t.Context()
	x := &storage.Session{TokenHash: storage.HashToken([]byte("t")), Handle: "h", UserID: "u", ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.CreateSession(ctx, x); err != nil {
		t.Fatalf("CreateSession: got error %v, want nil", err)
	}
	var seen error
	cancel, err := s.Subscribe(func(r storage.Revocation) {
		_, seen = s.GetSession(context.Background(), r.TokenHash)
	})
	if err != nil {
		t.Fatalf("Subscribe: got error %v, want nil", err)
	}
	defer cancel()
	if _, err := s.RevokeSession(ctx, "u", "h"); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	// Delivery is synchronous: seen is set when RevokeSession returns.
	if !errors.Is(seen, storage.ErrNotFound) {
		t.Errorf("GetSession from the subscriber: got error %v, want ErrNotFound", seen)
	}
}

func TestSubscribeRejectsANilFunc(t *testing.T) {
	t.Parallel()
	s := memory.New(memory.Options{})
	defer s.Close()
	if cancel, err := s.Subscribe(nil); err == nil || cancel != nil {
		t.Errorf("Subscribe(nil): got cancel nil %v, error %v; want nil, an error", cancel == nil, err)
	}
}

func TestSubscribeWorksAfterClose(t *testing.T) {
	t.Parallel()
	// The Store keeps working after Close, its notifier included.
	s := memory.New(memory.Options{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
	got := 0
	cancel, err := s.Subscribe(func(storage.Revocation) { got++ })
	if err != nil {
		t.Fatalf("Subscribe after Close: got error %v, want nil", err)
	}
	defer cancel()
	if _, err := s.RevokeUserSessions(t.Context(), "u", storage.TokenHash{}); err != nil {
		t.Fatalf("RevokeUserSessions: got error %v, want nil", err)
	}
	if got != 1 {
		t.Errorf("notices: got %d, want 1", got)
	}
}

func ExampleNew() {
	store := memory.New(memory.Options{})
	defer store.Close()
	ctx := context.Background()

	// Two Managers sharing one *Store see each other's revocations at once.
	cancel, _ := store.Subscribe(func(r storage.Revocation) {
		fmt.Println("revoked a session of", r.UserID)
	})
	defer cancel()

	now := time.Now()
	_ = store.CreateSession(ctx, &storage.Session{
		TokenHash: storage.HashToken([]byte("a random session token")),
		Handle:    "k3Jx9",
		UserID:    "alice",
		CreatedAt: now,
		ExpiresAt: now.Add(30 * 24 * time.Hour),
		AuthLevel: storage.AuthPassword,
		AuthAt:    now,
	})
	sessions, _ := store.ListSessions(ctx, "alice")
	fmt.Println(len(sessions), "session")

	if _, err := store.RevokeSession(ctx, "alice", "k3Jx9"); err != nil {
		fmt.Println(err)
	}
	_, err := store.GetSession(ctx, storage.HashToken([]byte("a random session token")))
	fmt.Println(errors.Is(err, storage.ErrNotFound))
	// Output:
	// 1 session
	// revoked a session of alice
	// true
}

func BenchmarkGetSession(b *testing.B) {
	s := memory.New(memory.Options{})
	defer s.Close()
	ctx := context.Background()
	var hashes []storage.TokenHash
	for i := range 10_000 {
		h := storage.HashToken(fmt.Appendf(nil, "token-%d", i))
		hashes = append(hashes, h)
		x := &storage.Session{TokenHash: h, Handle: fmt.Sprint(i), UserID: fmt.Sprint("user-", i%100), ExpiresAt: time.Now().Add(time.Hour)}
		if err := s.CreateSession(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.GetSession(ctx, hashes[i%len(hashes)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRevokeUserSessions1000(b *testing.B) {
	s := memory.New(memory.Options{})
	defer s.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	// Another user's sessions, which the revocation must not scan.
	for i := range 10_000 {
		x := &storage.Session{TokenHash: storage.HashToken(fmt.Appendf(nil, "other-%d", i)), Handle: fmt.Sprint("o", i), UserID: "bob", ExpiresAt: exp}
		if err := s.CreateSession(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		for i := range 1000 {
			n++
			x := &storage.Session{TokenHash: storage.HashToken(fmt.Appendf(nil, "t-%d", n)), Handle: fmt.Sprint("h", n), UserID: "alice", ExpiresAt: exp}
			if err := s.CreateSession(ctx, x); err != nil {
				b.Fatal(err, i)
			}
		}
		b.StartTimer()
		if got, err := s.RevokeUserSessions(ctx, "alice", storage.TokenHash{}); err != nil || got != 1000 {
			b.Fatalf("RevokeUserSessions: got %d, %v; want 1000, nil", got, err)
		}
	}
}

func TestNoticesCarryTheCommitTime(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := memory.New(memory.Options{Now: func() time.Time { return at }})
	defer s.Close()
	var got []storage.Revocation
	cancel, err := s.Subscribe(func(r storage.Revocation) { got = append(got, r) })
	if err != nil {
		t.Fatalf("Subscribe: got error %v, want nil", err)
	}
	defer cancel()
	if _, err := s.RevokeUserSessions(t.Context(), "alice", storage.TokenHash{}); err != nil {
		t.Fatalf("RevokeUserSessions: got error %v, want nil", err)
	}
	if want := (storage.Revocation{UserID: "alice", CommittedAt: at}); len(got) != 1 || got[0] != want {
		t.Fatalf("notices: got %+v, want [%+v]", got, want)
	}
}
