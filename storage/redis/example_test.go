package redis_test

import (
	"context"
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
