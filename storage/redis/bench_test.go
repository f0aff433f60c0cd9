package redis_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
)

// BenchmarkGetSession measures the cache-miss path of a request: one
// script, one round trip. Its "bare client" sub-benchmark is the floor it
// is held to: the same read of the session's fields (HMGET of the session
// hash) by a plain go-redis client on the same server, in the same run;
// compare the two with benchstat.
func BenchmarkGetSession(b *testing.B) {
	f := newFixture(b, redis.Options{})
	ctx := context.Background()
	x := newSession("bench", time.Now(), time.Hour)
	mustCreate(b, f.store, x)
	if _, err := f.store.GetSession(ctx, x.TokenHash); err != nil { // loads the script
		b.Fatal(err)
	}
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.store.GetSession(ctx, x.TokenHash); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare client", func(b *testing.B) {
		key := f.prefix + "s:" + x.TokenHash.String()
		fields := []string{"user", "handle", "created", "expires", "level", "authat", "seen", "ip", "ua",
			"browser", "bver", "os", "dtype", "city", "region", "country", "cc"}
		b.ReportAllocs()
		for b.Loop() {
			v, err := f.raw.HMGet(ctx, key, fields...).Result()
			if err != nil || v[0] == nil {
				b.Fatalf("HMGET: got %v, %v", v, err)
			}
		}
	})
}

// BenchmarkRevokeUserSessions1000 measures "log out everywhere" for a user
// with 1,000 sessions; the sessions are created outside the timer.
func BenchmarkRevokeUserSessions1000(b *testing.B) {
	f := newFixture(b, redis.Options{})
	ctx := context.Background()
	if _, err := f.store.RevokeUserSessions(ctx, "nobody", storage.TokenHash{}); err != nil { // loads the script
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		user := "bench-" + strconv.Itoa(i)
		i++
		// Lay the sessions out as CreateSession does, in one pipeline: a
		// thousand CreateSession round trips per iteration would make the
		// run long. The count check below proves the layout right.
		pipe := f.raw.Pipeline()
		for range 1000 {
			x := newSession(user, now, time.Hour)
			h := x.TokenHash.String()
			pipe.HSet(ctx, f.prefix+"s:"+h, "user", user, "handle", x.Handle)
			pipe.PExpire(ctx, f.prefix+"s:"+h, time.Hour)
			pipe.Set(ctx, f.prefix+"h:"+x.Handle, h, time.Hour)
			pipe.HSet(ctx, f.prefix+"us:"+user, x.Handle, h)
			pipe.ZAdd(ctx, f.prefix+"sx", goredis.Z{Score: float64(x.ExpiresAt.UnixMilli()), Member: h + "|" + user})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := f.store.RevokeUserSessions(ctx, user, storage.TokenHash{})
		if err != nil || n != 1000 {
			b.Fatalf("RevokeUserSessions: got %d, %v; want 1000", n, err)
		}
	}
}

// BenchmarkRevokeSessionWait measures what waiting for a replica (WAIT,
// the default Options.MinReplicas on Sentinel and on a cluster with
// replicas) adds to a revocation: the same RevokeSession with and without
// it, on each replicated topology; compare them with benchstat. The
// session is created outside the timer.
func BenchmarkRevokeSessionWait(b *testing.B) {
	for _, tp := range []topology{sentinelTopology, clusterTopology} {
		for _, w := range []struct {
			name        string
			minReplicas int
		}{{"no WAIT", -1}, {"WAIT 1 replica", 1}} {
			b.Run(tp.name+"/"+w.name, func(b *testing.B) {
				f := newTopoFixture(b, tp, redis.Options{MinReplicas: w.minReplicas})
				ctx := context.Background()
				now := time.Now()
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					x := newSession("bench", now, time.Hour)
					mustCreate(b, f.store, x)
					b.StartTimer()
					if _, err := f.store.RevokeSession(ctx, "bench", x.Handle); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRevokeUserSessions1000Cluster is BenchmarkRevokeUserSessions1000
// ("log out everywhere else" for a user with 1,000 sessions) on the Redis
// Cluster, with the default WAIT for a replica.
func BenchmarkRevokeUserSessions1000Cluster(b *testing.B) {
	f := newTopoFixture(b, clusterTopology, redis.Options{})
	c := clusterTopology.client(b)
	ctx := context.Background()
	if _, err := f.store.RevokeUserSessions(ctx, "nobody", storage.TokenHash{}); err != nil { // loads the script
		b.Fatal(err)
	}
	root := "{" + f.prefix + "}"
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		user := "bench-" + strconv.Itoa(i)
		i++
		keep := newSession(user, now, time.Hour)
		mustCreate(b, f.store, keep)
		// Lay the other sessions out as CreateSession does, in one
		// pipeline (all keys share the store's hash slot); the count check
		// below proves the layout right.
		pipe := c.Pipeline()
		for range 1000 {
			x := newSession(user, now, time.Hour)
			h := x.TokenHash.String()
			pipe.HSet(ctx, root+"s:"+h, "user", user, "handle", x.Handle)
			pipe.PExpire(ctx, root+"s:"+h, time.Hour)
			pipe.Set(ctx, root+"h:"+x.Handle, h, time.Hour)
			pipe.HSet(ctx, root+"us:"+user, x.Handle, h)
			pipe.ZAdd(ctx, root+"sx", goredis.Z{Score: float64(x.ExpiresAt.UnixMilli()), Member: h + "|" + user})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := f.store.RevokeUserSessions(ctx, user, keep.TokenHash)
		if err != nil || n != 1000 {
			b.Fatalf("RevokeUserSessions: got %d, %v; want 1000", n, err)
		}
	}
}
