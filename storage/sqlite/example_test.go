package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/sqlite"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "sessionguard-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "sessions.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops the sweep and the poller

	// A Manager subscribes to drop revoked sessions from its cache.
	cancel, err := store.Subscribe(func(r storage.Revocation) {
		fmt.Println("notice: sessions of", r.UserID, "revoked")
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cancel()

	token := []byte("32 random bytes from crypto/rand") // never stored
	now := time.Now()
	err = store.CreateSession(ctx, &storage.Session{
		TokenHash:  storage.HashToken(token),
		Handle:     "q3Vx7Yb2",
		UserID:     "alice",
		CreatedAt:  now,
		ExpiresAt:  now.Add(30 * 24 * time.Hour),
		AuthLevel:  storage.AuthPassword,
		AuthAt:     now,
		LastSeenAt: now,
	})
	if err != nil {
		log.Fatal(err)
	}

	sess, err := store.GetSession(ctx, storage.HashToken(token))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sess.UserID, sess.AuthLevel)

	n, err := store.RevokeUserSessions(ctx, "alice", storage.TokenHash{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revoked:", n)
	// Output:
	// alice password
	// notice: sessions of alice revoked
	// revoked: 1
}
