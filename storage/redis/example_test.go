package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
)

// Every application instance opens the store on the same server with the
// same prefix; a revocation through one reaches the subscribers of all.
// (Not run by go test: it needs a Redis server.)
func Example() {
	ctx := context.Background()
	store, err := redis.Open(ctx, "redis://127.0.0.1:6379/0", redis.Options{Prefix: "myapp:"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// A session Manager subscribes to drop what its cache holds.
	cancel, err := store.Subscribe(func(r storage.Revocation) {
		switch {
		case r.Reset:
			fmt.Println("notices may have been lost: drop the whole cache")
		case r.TokenHash.IsZero():
			fmt.Println("drop every cached session of", r.UserID)
		default:
			fmt.Println("drop the cached session", r.TokenHash)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cancel()

	now := time.Now()
	s := &storage.Session{
		TokenHash: storage.HashToken([]byte("the random token from the cookie")),
		Handle:    "h-123",
		UserID:    "user-42",
		CreatedAt: now,
		ExpiresAt: now.Add(30 * 24 * time.Hour), // the key's TTL
		AuthLevel: storage.AuthPassword,
		AuthAt:    now,
	}
	if err := store.CreateSession(ctx, s); err != nil {
		log.Fatal(err)
	}

	// "Log out everywhere": one round trip, one notice.
	n, err := store.RevokeUserSessions(ctx, "user-42", storage.TokenHash{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revoked", n)

	// Run the sweep periodically so that index entries of sessions that
	// expired by TTL do not pile up.
	if _, err := store.DeleteExpiredSessions(ctx, time.Now()); err != nil {
		log.Fatal(err)
	}
}

// A Redis Cluster opens from go-redis' cluster URL form: seed nodes as addr
// parameters. Every key of the store shares the hash tag {myapp:}.
// (Not run by go test: it needs a cluster.)
func ExampleOpen_cluster() {
	ctx := context.Background()
	store, err := redis.Open(ctx, "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000",
		redis.Options{Prefix: "myapp:"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
}

// A Sentinel-managed primary opens from go-redis' failover URL form. Every
// revocation waits for one replica (the default on Sentinel), so a failover
// cannot bring a revoked session back; when no replica acknowledges in
// time the call fails with ErrNotReplicated. (Not run by go test: it needs
// a Sentinel set.)
func ExampleOpen_sentinel() {
	ctx := context.Background()
	store, err := redis.Open(ctx, "redis://10.0.0.1:26379?master_name=sessions&addr=10.0.0.2:26379&addr=10.0.0.3:26379",
		redis.Options{Prefix: "myapp:", ReplicaTimeout: 500 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	_, err = store.RevokeUserSessions(ctx, "user-42", storage.TokenHash{})
	if errors.Is(err, redis.ErrNotReplicated) {
		fmt.Println("not yet safe from a failover: tell the user to try again")
	}
}
