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
