package redis_test

import (
	"crypto/rand"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/internal/testproxy"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
)

// recorder collects the notices of one subscription.
type recorder struct {
	mu  sync.Mutex
	got []storage.Revocation
}

func (r *recorder) fn(rev storage.Revocation) {
	r.mu.Lock()
	r.got = append(r.got, rev)
	r.mu.Unlock()
}

func (r *recorder) all() []storage.Revocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitFor waits until a notice matching ok has arrived and returns the
// notices up to and including the first such one.
func (r *recorder) waitFor(t *testing.T, ok func(storage.Revocation) bool) []storage.Revocation {
	t.Helper()
	return r.waitForAfter(t, 0, ok)
}

// mark returns how many notices have arrived so far, for waitForAfter.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// waitForAfter is waitFor over the notices that arrived after mark: a
// notice that arrived before an event (a Reset from a health check that
// timed out on a loaded machine, say) proves nothing about the event.
func (r *recorder) waitForAfter(t *testing.T, mark int, ok func(storage.Revocation) bool) []storage.Revocation {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.all()
		if i := slices.IndexFunc(got[mark:], ok); i >= 0 {
			return got[mark : mark+i+1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching notice within 10s; got %+v", got)
		}
		time.Sleep(5 * time.Millisecond) // polling for asynchronous delivery
	}
}

// withoutTime returns r without its CommittedAt, for comparisons.
func withoutTime(r storage.Revocation) storage.Revocation {
	r.CommittedAt = time.Time{}
	return r
}

// subscribe subscribes a new recorder to s, cancelled at cleanup.
func subscribe(t *testing.T, s *redis.Store) *recorder {
	t.Helper()
	r := &recorder{}
	cancel, err := s.Subscribe(r.fn)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(cancel)
	return r
}

// waitN waits until n notices have arrived and returns them.
func (r *recorder) waitN(t *testing.T, n int) []storage.Revocation {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := r.all(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d notices within 10s; got %+v", n, r.all())
		}
		time.Sleep(5 * time.Millisecond) // polling for asynchronous delivery
	}
}

// pubsubClients returns the CLIENT LIST fields of the pub/sub connections
// named name.
func pubsubClients(t *testing.T, raw *goredis.Client, name string) []map[string]string {
	t.Helper()
	list, err := raw.Do(t.Context(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	var out []map[string]string
	for line := range strings.Lines(list) {
		m := map[string]string{}
		for field := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(field, "=")
			m[k] = v
		}
		if m["name"] == name {
			out = append(out, m)
		}
	}
	return out
}

// pubsubClientIDs returns the IDs of the pub/sub connections named name.
func pubsubClientIDs(t *testing.T, raw *goredis.Client, name string) []string {
	t.Helper()
	var ids []string
	for _, c := range pubsubClients(t, raw, name) {
		ids = append(ids, c["id"])
	}
	return ids
}

func TestHealthyConnectionSurvivesItsHealthChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	name := "sgtest-listener-" + rand.Text()
	// 200 ms leaves room for a PONG on a loaded 2-core machine under -race
	// (at 20 ms a slow reply was taken for a lost connection).
	s := f.open(t, redis.Options{HealthCheckInterval: 200 * time.Millisecond}, name)
	rec := subscribe(t, s)
	ids := pubsubClientIDs(t, f.raw, name)
	if len(ids) != 1 {
		t.Fatalf("listener connections: got %v, want one", ids)
	}
	// Wait until the connection is over two seconds old and pinging: about
	// ten health checks, each of which would replace the connection if its
	// PONG went unnoticed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cs := pubsubClients(t, f.raw, name)
		if len(cs) != 1 || cs[0]["id"] != ids[0] {
			t.Fatalf("listener connections: got %v, want the first one only (id %s)", cs, ids[0])
		}
		if age, _ := strconv.Atoi(cs[0]["age"]); cs[0]["cmd"] == "ping" && age >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the listener did not ping for 2s within 10s: %v", cs[0])
		}
		time.Sleep(20 * time.Millisecond) // polling the server's view
	}
	if got := rec.all(); len(got) != 0 {
		t.Errorf("notices on a healthy connection: got %+v, want none", got)
	}
}

func TestListenerConnectionKilled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	ctx := t.Context()
	name := "sgtest-listener-" + rand.Text()
	s := f.open(t, redis.Options{}, name)
	rec := subscribe(t, s)

	ids := pubsubClientIDs(t, f.raw, name)
	if len(ids) != 1 {
		t.Fatalf("listener connections named %s: got %v, want one", name, ids)
	}
	if err := f.raw.Do(ctx, "CLIENT", "KILL", "ID", ids[0]).Err(); err != nil {
		t.Fatalf("CLIENT KILL: %v", err)
	}
	// A reset at once (the connection is gone, anything may be missed),
	// and again once the subscription is confirmed on a fresh connection.
	got := rec.waitN(t, 2)
	if len(got) != 2 || !got[0].Reset || !got[1].Reset {
		t.Fatalf("notices after the kill: got %+v, want two resets", got)
	}
	if now := pubsubClientIDs(t, f.raw, name); len(now) != 1 || now[0] == ids[0] {
		t.Errorf("listener connections after the kill: got %v, want one new one (old %s)", now, ids[0])
	}

	// A revocation published after that is delivered.
	x := newSession("judy", time.Now(), time.Hour)
	mustCreate(t, f.store, x)
	if _, err := f.store.RevokeSession(ctx, "judy", x.Handle); err != nil {
		t.Fatal(err)
	}
	got = rec.waitFor(t, func(r storage.Revocation) bool { return !r.Reset })
	want := storage.Revocation{UserID: "judy", TokenHash: x.TokenHash}
	if len(got) != 3 || withoutTime(got[2]) != want {
		t.Errorf("notices: got %+v, want two resets then %+v", got, want)
	}
}

func TestUnreadableNoticeResets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	rec := subscribe(t, f.store)
	for _, payload := range []string{"no separator", "nothex|user"} {
		if err := f.raw.Publish(t.Context(), f.prefix+"revocations", payload).Err(); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.waitN(t, 2)
	if len(got) != 2 || !got[0].Reset || !got[1].Reset {
		t.Errorf("got %+v, want two resets", got)
	}
}

func TestCancelFromInsideTheCallback(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	var (
		mu     sync.Mutex
		calls  int
		cancel func()
	)
	ready := make(chan struct{})
	c, err := f.store.Subscribe(func(storage.Revocation) {
		<-ready
		mu.Lock()
		calls++
		mu.Unlock()
		cancel() // must not deadlock
	})
	if err != nil {
		t.Fatal(err)
	}
	cancel = c
	close(ready)
	rec := subscribe(t, f.store)
	for _, u := range []string{"a", "b"} {
		if _, err := f.store.RevokeUserSessions(t.Context(), u, storage.TokenHash{}); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, func(r storage.Revocation) bool { return r.UserID == "b" })
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("calls of a callback that cancelled itself: got %d, want 1", calls)
	}
}

func TestSubscribeFailsWhenTheServerCannotBeReached(t *testing.T) {
	t.Parallel()
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	s, err := redis.New(c, redis.Options{SubscribeTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cancel, err := s.Subscribe(func(storage.Revocation) {})
	if err == nil {
		cancel()
		t.Fatal("Subscribe: got nil error, want one")
	}
	if !strings.HasPrefix(err.Error(), "storage/redis: ") {
		t.Errorf("Subscribe: got error %q, want a storage/redis error", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestSilentConnectionIsDetected(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	proxy := testproxy.New(t, f.opts.Addr)
	c := newClientWith(t, func(o *goredis.Options) {
		o.Addr = proxy.Addr()
		o.DialTimeout = 200 * time.Millisecond
		o.ReadTimeout = 200 * time.Millisecond
		o.MaxRetries = -1
	})
	s, err := redis.New(c, redis.Options{Prefix: f.prefix, HealthCheckInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rec := subscribe(t, s)

	proxy.Blackhole() // the connection stays open but goes silent; new ones work
	got := rec.waitN(t, 2)
	if !got[0].Reset || !got[1].Reset {
		t.Fatalf("notices across the partition: got %+v, want two resets", got)
	}

	// Delivery works again, through the fresh connection.
	x := newSession("mallory", time.Now(), time.Hour)
	mustCreate(t, f.store, x)
	if _, err := f.store.RevokeSession(t.Context(), "mallory", x.Handle); err != nil {
		t.Fatal(err)
	}
	got = rec.waitFor(t, func(r storage.Revocation) bool { return !r.Reset })
	if want := (storage.Revocation{UserID: "mallory", TokenHash: x.TokenHash}); withoutTime(got[len(got)-1]) != want {
		t.Errorf("notice after the partition: got %+v, want %+v", got[len(got)-1], want)
	}
	for _, r := range got[2 : len(got)-1] {
		if !r.Reset {
			t.Errorf("unexpected notice %+v", r)
		}
	}
}
