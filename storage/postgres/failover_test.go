package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// These drills run a private PostgreSQL (never the shared server) and make
// its primary restart or change while stores revoke sessions under load.
// The contract: a revocation either commits and is reported done, or
// fails with an error that says so; nothing reported done is lost; every
// subscriber receives a Reset when its listener is lost and again once
// delivery is restored, so Managers empty their caches.

func TestRevocationsSurviveAPrimaryRestartUnderLoad(t *testing.T) {
	srv := startPrivateServer(t)
	drill(t, serversURL(srv), func() {
		srv.stop()
		srv.start()
	})
}

// TestRevocationsSurviveAFailoverUnderLoad fails over from a primary to its
// synchronous standby: with synchronous replication a commit is reported
// only once the standby has it, so the new primary has every revocation
// reported done. (With asynchronous replication the last commits before a
// failover can be lost; README says so.)
func TestRevocationsSurviveAFailoverUnderLoad(t *testing.T) {
	primary := startPrivateServer(t, "synchronous_standby_names='*'")
	standby := primary.standby()
	drill(t, serversURL(primary, standby), func() {
		primary.stop()
		standby.promote()
	})
}

// drill runs revocations through one store while event disrupts the server
// behind url, and checks the contract.
func drill(t *testing.T, url string, event func()) {
	t.Helper()
	waitPrimary(t, url)
	open := func() *postgres.Store {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			t.Fatalf("ParseConfig: %v", err)
		}
		cfg.MaxConns = 4
		pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
		if err != nil {
			t.Fatalf("pgxpool: %v", err)
		}
		t.Cleanup(pool.Close)
		s, err := postgres.New(t.Context(), pool, postgres.Options{
			ListenerPingInterval: 500 * time.Millisecond,
			FeedInterval:         100 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("postgres.New: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	writer := open()
	peer := open() // another instance, whose subscriber must be reset
	n := subscribeNotices(t, peer)

	var (
		mu       sync.Mutex
		done     []storage.TokenHash // revocations reported done
		failures []error
		after    atomic.Int64 // revocations reported done after the event began
		evented  atomic.Bool
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			user := "user-drill-" + string(rune('a'+w))
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				sess := testSession(user)
				if err := writer.CreateSession(ctx, sess); err != nil {
					cancel()
					time.Sleep(10 * time.Millisecond)
					continue
				}
				_, err := writer.RevokeSession(ctx, sess.UserID, sess.Handle)
				cancel()
				mu.Lock()
				if err == nil {
					done = append(done, sess.TokenHash)
					if evented.Load() {
						after.Add(1)
					}
				} else {
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	resetsBefore := n.resets()
	evented.Store(true)
	event()
	deadline := time.Now().Add(30 * time.Second)
	for after.Load() < 20 {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("revocations reported done after the event: got %d in 30 s, want 20", after.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	waitFor(t, "a Reset at the loss and another once delivery is restored", func() bool { return n.resets() >= resetsBefore+2 })

	// Every failure says what failed; none claims the session was not
	// there.
	for _, err := range failures {
		if !strings.HasPrefix(err.Error(), "storage/postgres: revoke session: ") || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("a revocation failed with %q, want a storage/postgres: revoke session: system error", err)
		}
	}
	// Nothing reported done is lost: every such session is gone from the
	// primary now serving.
	check := open()
	for _, h := range done {
		if _, err := check.GetSession(t.Context(), h); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a session whose revocation was reported done: GetSession got %v, want ErrNotFound", err)
		}
	}
	t.Logf("%d revocations reported done (%d after the event), %d failed with an error; the peer's subscriber got %d Resets",
		len(done), after.Load(), len(failures), n.resets()-resetsBefore)

	// And delivery works on the new primary.
	sess := testSession("user-after")
	if err := writer.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession after the event: %v", err)
	}
	if _, err := writer.RevokeSession(t.Context(), sess.UserID, sess.Handle); err != nil {
		t.Fatalf("RevokeSession after the event: %v", err)
	}
	want := storage.Revocation{UserID: sess.UserID, TokenHash: sess.TokenHash}
	waitFor(t, "the peer to receive a revocation after the event", func() bool { return n.has(want) })
}
