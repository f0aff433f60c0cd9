package redis_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
)

// openOn opens a store on url with opts, closed at cleanup.
func openOn(t *testing.T, url string, opts redis.Options) *redis.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := redis.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openAfterFailover opens a store as a new app instance would right after
// a failover: the surviving servers may still name the dead primary for a
// moment, and Open fails (closed) until they agree, so it is retried.
func openAfterFailover(t *testing.T, url string, opts redis.Options) *redis.Store {
	t.Helper()
	var s *redis.Store
	eventually(t, 30*time.Second, "Open after the failover", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		var err error
		s, err = redis.Open(ctx, url, opts)
		return err
	})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eventually retries op until it succeeds (a client finding the new
// primary after a failover), or fails t after d.
func eventually(t *testing.T, d time.Duration, what string, op func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := op()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, d, err)
		}
		time.Sleep(50 * time.Millisecond) // waiting for the failover to settle
	}
}

// TestSentinelForcedFailoverAfterRevokeAllBringsNothingBack is the drill
// of issue "a failover undoes revocations": the replica lags (paused) when
// RevokeUserSessions runs, the primary is killed the moment it returns,
// Sentinel promotes the replica, and not one of the sessions may be
// accepted again, by an instance that was running or by a fresh one.
// Without WAIT, RevokeUserSessions returns while the replica still has the
// sessions, and all of them come back. With it, RevokeUserSessions returns
// once the resumed replica has caught up.
func TestSentinelForcedFailoverAfterRevokeAllBringsNothingBack(t *testing.T) {
	needPrivateServers(t)
	t.Parallel()
	set := startSentinelSet(t)
	opts := redis.Options{Prefix: "drill:", ReplicaTimeout: 10 * time.Second}
	a := openOn(t, set.url(), opts)
	b := openOn(t, set.url(), opts)
	ctx := t.Context()

	now := time.Now()
	var sessions []*storage.Session
	for range 5 {
		x := newSession("victim", now, time.Hour)
		mustCreate(t, a, x)
		sessions = append(sessions, x)
	}
	for _, x := range sessions {
		if _, err := b.GetSession(ctx, x.TokenHash); err != nil {
			t.Fatalf("GetSession before the revocation: %v", err)
		}
	}

	// The replica lags: paused, with its link dropped, so that nothing
	// written from now on is even in its socket buffer.
	set.replica.signal(t, syscall.SIGSTOP)
	set.primary.do(t, "client", "kill", "type", "replica")
	resume := time.AfterFunc(300*time.Millisecond, func() { _ = set.replica.cmd.Process.Signal(syscall.SIGCONT) })
	defer resume.Stop()
	n, err := a.RevokeUserSessions(ctx, "victim", storage.TokenHash{})
	if err != nil || n != 5 {
		t.Fatalf("RevokeUserSessions: got %d, %v; want 5, nil", n, err)
	}
	set.primary.kill(t) // forced failover right after the success
	_ = set.replica.cmd.Process.Signal(syscall.SIGCONT)

	waitUntil(t, 30*time.Second, "Sentinel promotes the replica", func() bool {
		return set.masterAddr(t) == set.replica.addr
	})
	fresh := openAfterFailover(t, set.url(), opts)
	for _, s := range []*redis.Store{b, fresh} {
		for i, x := range sessions {
			eventually(t, 15*time.Second, "GetSession after the failover", func() error {
				_, err := s.GetSession(ctx, x.TokenHash)
				if errors.Is(err, storage.ErrNotFound) {
					return nil
				}
				if err == nil {
					t.Fatalf("session %d is accepted again after the failover: got nil error, want ErrNotFound", i)
				}
				return err
			})
		}
	}
}

// TestSecurityWritesFailWhenNoReplicaAcknowledges pauses the only replica:
// every security write must then fail with ErrNotReplicated instead of
// reporting a success that a failover could undo.
func TestSecurityWritesFailWhenNoReplicaAcknowledges(t *testing.T) {
	needPrivateServers(t)
	t.Parallel()
	set := startSentinelSet(t)
	s := openOn(t, set.url(), redis.Options{Prefix: "drill:", ReplicaTimeout: 200 * time.Millisecond})
	ctx := t.Context()
	now := time.Now()
	x := newSession("u", now, time.Hour)
	y := newSession("u", now, time.Hour)
	mustCreate(t, s, x)
	mustCreate(t, s, y)
	if err := s.PutPendingTOTP(ctx, &storage.TOTPCredential{UserID: "u", Secret: []byte("s"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmTOTP(ctx, "u", 1, now); err != nil {
		t.Fatalf("ConfirmTOTP with the replica up: %v", err)
	}
	code := storage.HashToken([]byte("code"))
	if err := s.ReplaceRecoveryCodes(ctx, "u", []storage.TokenHash{code}); err != nil {
		t.Fatalf("ReplaceRecoveryCodes with the replica up: %v", err)
	}

	set.replica.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { _ = set.replica.cmd.Process.Signal(syscall.SIGCONT) })
	rotated := newSession("u", now, time.Hour)
	tests := []struct {
		name string
		op   func() error
	}{
		{"a revocation of one session fails", func() error { _, err := s.RevokeSession(ctx, "u", x.Handle); return err }},
		{"a rotation fails", func() error { return s.RotateSession(ctx, y.TokenHash, rotated) }},
		{"a revocation of all sessions fails", func() error { _, err := s.RevokeUserSessions(ctx, "u", storage.TokenHash{}); return err }},
		{"an accepted TOTP step fails", func() error { return s.AcceptTOTPStep(ctx, "u", 2) }},
		{"a consumed recovery code fails", func() error { return s.ConsumeRecoveryCode(ctx, "u", code) }},
		{"a replaced set of recovery codes fails", func() error { return s.ReplaceRecoveryCodes(ctx, "u", nil) }},
		{"a reserved attempt fails", func() error {
			_, err := s.ReserveAttempt(ctx, "u", now, storage.AttemptPolicy{FreeAttempts: 5, BaseLockout: time.Second, MaxLockout: time.Minute, MaxFailures: 10})
			return err
		}},
		{"a revocation of all app grants fails", func() error { _, err := s.RevokeUserAppGrants(ctx, "u"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			if !errors.Is(err, redis.ErrNotReplicated) {
				t.Errorf("got %v, want an error wrapping ErrNotReplicated", err)
			}
		})
	}
}

// TestSentinelGracefulFailoverMovesTheSubscription is the drill of issue
// "a graceful failover silently stops propagation": after SENTINEL
// FAILOVER the listener must find its subscription off the new primary,
// reset its subscribers, subscribe on the new primary, and deliver the
// next revocation within the notifier bound.
func TestSentinelGracefulFailoverMovesTheSubscription(t *testing.T) {
	needPrivateServers(t)
	t.Parallel()
	set := startSentinelSet(t)
	const health = 500 * time.Millisecond
	opts := redis.Options{Prefix: "drill:", HealthCheckInterval: health}
	listener := openOn(t, set.url(), opts)
	writer := openOn(t, set.url(), opts)
	rec := subscribe(t, listener)
	ctx := t.Context()

	x := newSession("u", time.Now(), time.Hour)
	mustCreate(t, writer, x)
	if _, err := writer.RevokeSession(ctx, "u", x.Handle); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, func(r storage.Revocation) bool { return r.TokenHash == x.TokenHash })

	sc := set.sentinel.client()
	defer sc.Close()
	before := rec.mark()
	// A sentinel refuses (NOGOODSLAVE) until it has fresh news of the
	// replica.
	eventually(t, 15*time.Second, "SENTINEL FAILOVER", func() error {
		return sc.Do(ctx, "sentinel", "failover", set.name).Err()
	})
	waitUntil(t, 30*time.Second, "Sentinel switches to the replica", func() bool {
		return set.masterAddr(t) == set.replica.addr
	})
	switched := time.Now()
	rec.waitForAfter(t, before, func(r storage.Revocation) bool { return r.Reset })
	if d := time.Since(switched); d > 5*health {
		t.Errorf("reset after %v, want within %v of the switch", d, 5*health)
	}
	waitUntil(t, 5*time.Second, "the subscription is on the new primary", func() bool {
		v, _ := set.replica.try("pubsub", "numsub", "drill:revocations").([]any)
		return len(v) == 2 && v[1] == int64(1)
	})

	// Revocations wait for a replica: let the demoted primary finish its
	// resynchronisation as the new replica first.
	waitUntil(t, 30*time.Second, "the demoted primary replicates the new one", func() bool {
		info, _ := set.primary.try("info", "replication").(string)
		return strings.Contains(info, "master_link_status:up")
	})
	y := newSession("u", time.Now(), time.Hour)
	eventually(t, 15*time.Second, "CreateSession on the new primary", func() error { return writer.CreateSession(ctx, y) })
	// A health check that times out on a loaded machine resubscribes and
	// delivers a Reset instead of the notice: that also honours the bound.
	sent := rec.mark()
	if _, err := writer.RevokeSession(ctx, "u", y.Handle); err != nil {
		t.Fatal(err)
	}
	returned := time.Now()
	rec.waitForAfter(t, sent, func(r storage.Revocation) bool { return r.TokenHash == y.TokenHash || r.Reset })
	if d := time.Since(returned); d > 2*health {
		t.Errorf("the revocation after the failover arrived %v after RevokeSession returned, want within %v", d, 2*health)
	}
}

// clusterNoticeDrill opens a listener and a writer on a private cluster,
// checks a revocation reaches the listener, runs disrupt (which returns
// the node that serves the store's slot after it), and then requires a
// reset, the subscription on that node, and the next revocation within
// the notifier bound.
func clusterNoticeDrill(t *testing.T, minReplicas int, disrupt func(c *privateCluster) *privateServer) {
	needPrivateServers(t)
	t.Parallel()
	c := startCluster(t)
	const health = 500 * time.Millisecond
	opts := redis.Options{Prefix: "drill:", HealthCheckInterval: health, MinReplicas: minReplicas}
	listener := openOn(t, c.url(), opts)
	writer := openOn(t, c.url(), opts)
	rec := subscribe(t, listener)
	ctx := t.Context()

	x := newSession("u", time.Now(), time.Hour)
	mustCreate(t, writer, x)
	if _, err := writer.RevokeSession(ctx, "u", x.Handle); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, func(r storage.Revocation) bool { return r.TokenHash == x.TokenHash })

	before := rec.mark()
	primary := disrupt(c)
	disrupted := time.Now()
	rec.waitForAfter(t, before, func(r storage.Revocation) bool { return r.Reset })
	if d := time.Since(disrupted); d > 5*health {
		t.Errorf("reset after %v, want within %v", d, 5*health)
	}
	waitUntil(t, 5*time.Second, "the subscription is on the slot's new primary", func() bool {
		v, _ := primary.try("pubsub", "shardnumsub", "{drill:}revocations").([]any)
		return len(v) == 2 && v[1] == int64(1)
	})

	y := newSession("u", time.Now(), time.Hour)
	eventually(t, 15*time.Second, "CreateSession after the change", func() error { return writer.CreateSession(ctx, y) })
	// A health check that times out on a loaded machine resubscribes and
	// delivers a Reset instead of the notice: that also honours the bound.
	sent := rec.mark()
	if _, err := writer.RevokeSession(ctx, "u", y.Handle); err != nil {
		t.Fatal(err)
	}
	returned := time.Now()
	rec.waitForAfter(t, sent, func(r storage.Revocation) bool { return r.TokenHash == y.TokenHash || r.Reset })
	if d := time.Since(returned); d > 2*health {
		t.Errorf("the revocation after the change arrived %v after RevokeSession returned, want within %v", d, 2*health)
	}
}

// TestClusterFailoverMovesTheSubscription fails the store's shard over
// (CLUSTER FAILOVER on the replica): the listener must reset and follow
// the new primary.
func TestClusterFailoverMovesTheSubscription(t *testing.T) {
	clusterNoticeDrill(t, 0, func(c *privateCluster) *privateServer {
		c.r1.do(t, "cluster", "failover")
		waitUntil(t, 20*time.Second, "r1 becomes a primary", func() bool {
			role, _ := c.r1.try("role").([]any)
			return len(role) > 0 && role[0] == "master"
		})
		return c.r1
	})
}

// TestClusterReshardingMovesTheSubscription moves the store's slot to
// another master: the listener must reset and follow the slot. The target
// master has no replica, so the stores do not wait for one.
func TestClusterReshardingMovesTheSubscription(t *testing.T) {
	clusterNoticeDrill(t, -1, func(c *privateCluster) *privateServer {
		slot, _ := c.m1.do(t, "cluster", "keyslot", "{drill:}").(int64)
		c.moveSlot(t, slot, c.m1, c.m2)
		return c.m2
	})
}

// TestClusterForcedFailoverAfterRevokeAllBringsNothingBack is the forced
// failover drill on a cluster: the shard's replica lags (paused, link
// dropped) when RevokeUserSessions runs, the primary is killed the moment
// it returns, the replica takes over (CLUSTER FAILOVER TAKEOVER: no
// agreement needed from the dead primary), and not one session may be
// accepted again.
func TestClusterForcedFailoverAfterRevokeAllBringsNothingBack(t *testing.T) {
	needPrivateServers(t)
	t.Parallel()
	c := startCluster(t)
	opts := redis.Options{Prefix: "drill:", ReplicaTimeout: 10 * time.Second}
	a := openOn(t, c.url(), opts)
	b := openOn(t, c.url(), opts)
	ctx := t.Context()

	now := time.Now()
	var sessions []*storage.Session
	for range 5 {
		x := newSession("victim", now, time.Hour)
		mustCreate(t, a, x)
		sessions = append(sessions, x)
	}
	for _, x := range sessions {
		if _, err := b.GetSession(ctx, x.TokenHash); err != nil {
			t.Fatalf("GetSession before the revocation: %v", err)
		}
	}

	c.r1.signal(t, syscall.SIGSTOP)
	c.m1.do(t, "client", "kill", "type", "replica")
	resume := time.AfterFunc(300*time.Millisecond, func() { _ = c.r1.cmd.Process.Signal(syscall.SIGCONT) })
	defer resume.Stop()
	n, err := a.RevokeUserSessions(ctx, "victim", storage.TokenHash{})
	if err != nil || n != 5 {
		t.Fatalf("RevokeUserSessions: got %d, %v; want 5, nil", n, err)
	}
	c.m1.kill(t)
	_ = c.r1.cmd.Process.Signal(syscall.SIGCONT)
	waitUntil(t, 30*time.Second, "the replica takes over", func() bool {
		_ = c.r1.try("cluster", "failover", "takeover")
		role, _ := c.r1.try("role").([]any)
		return len(role) > 0 && role[0] == "master"
	})

	fresh := openAfterFailover(t, "redis://"+c.r1.addr+"?addr="+c.m2.addr, opts)
	for _, s := range []*redis.Store{b, fresh} {
		for i, x := range sessions {
			eventually(t, 30*time.Second, "GetSession after the failover", func() error {
				_, err := s.GetSession(ctx, x.TokenHash)
				if errors.Is(err, storage.ErrNotFound) {
					return nil
				}
				if err == nil {
					t.Fatalf("session %d is accepted again after the failover: got nil error, want ErrNotFound", i)
				}
				return err
			})
		}
	}
}

// TestDemotedServerResetsTheSubscribers demotes the server under a plain
// client (REPLICAOF, as an operator promoting another node does): the
// listener must notice the role change and reset its subscribers, since
// notices published on the new primary while it was being demoted may be
// lost.
func TestDemotedServerResetsTheSubscribers(t *testing.T) {
	needPrivateServers(t)
	t.Parallel()
	a := startServer(t)
	b := startServer(t)
	const health = 500 * time.Millisecond
	s := openOn(t, "redis://"+a.addr, redis.Options{Prefix: "drill:", HealthCheckInterval: health, MinReplicas: -1})
	rec := subscribe(t, s)
	x := newSession("u", time.Now(), time.Hour)
	mustCreate(t, s, x)
	if _, err := s.RevokeSession(t.Context(), "u", x.Handle); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, func(r storage.Revocation) bool { return r.TokenHash == x.TokenHash })

	host, port, _ := strings.Cut(b.addr, ":")
	before := rec.mark()
	a.do(t, "replicaof", host, port)
	demoted := time.Now()
	rec.waitForAfter(t, before, func(r storage.Revocation) bool { return r.Reset })
	if d := time.Since(demoted); d > 5*health {
		t.Errorf("reset after %v, want within %v of the demotion", d, 5*health)
	}
}

// TestARetriedRevocationWaitsForTheFirst: a revocation that failed with
// ErrNotReplicated is applied on the primary, and the app retries it, here
// through another instance (another connection). The retry finds nothing
// to revoke; it must not answer "not found" (which Logout takes as done)
// before the first attempt has reached a replica, or a failover would
// bring back a session the user was told had ended.
func TestARetriedRevocationWaitsForTheFirst(t *testing.T) {
	needPrivateServers(t)
	t.Parallel()
	p := startServer(t)
	host, port, _ := net.SplitHostPort(p.addr)
	r := startServer(t, "--replicaof", host, port)
	waitUntil(t, 10*time.Second, "replica in sync", func() bool {
		info, _ := r.try("info", "replication").(string)
		return strings.Contains(info, "master_link_status:up")
	})
	opts := redis.Options{Prefix: "drill:", MinReplicas: 1, ReplicaTimeout: 200 * time.Millisecond}
	first := openOn(t, "redis://"+p.addr, opts)
	retry := openOn(t, "redis://"+p.addr, opts)
	ctx := t.Context()
	x := newSession("u", time.Now(), time.Hour)
	mustCreate(t, first, x)
	g := &storage.AppGrant{ID: "grant-1", UserID: "u", AppName: "app", TokenHash: storage.HashToken([]byte("grant")), CreatedAt: time.Now()}
	if err := first.CreateAppGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	r.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { _ = r.cmd.Process.Signal(syscall.SIGCONT) })
	tests := []struct {
		name string
		op   func(s *redis.Store) error
	}{
		{"a retried session revocation", func(s *redis.Store) error { _, err := s.RevokeSession(ctx, "u", x.Handle); return err }},
		{"a retried app grant revocation", func(s *redis.Store) error { _, err := s.RevokeAppGrant(ctx, "u", g.ID); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name+" fails while the first is not replicated", func(t *testing.T) {
			if err := tt.op(first); !errors.Is(err, redis.ErrNotReplicated) {
				t.Fatalf("first attempt: got %v, want an error wrapping ErrNotReplicated", err)
			}
			if err := tt.op(retry); !errors.Is(err, redis.ErrNotReplicated) {
				t.Errorf("retry: got %v, want an error wrapping ErrNotReplicated", err)
			}
		})
	}
}
