package postgres_test

import (
	"context"
	"fmt"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// ExampleOpen opens a store that owns its connection pool and subscribes to
// revocations made by any application instance. It needs a server, so it is
// compiled but not run.
func ExampleOpen() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, "postgres://app@db.internal:5432/app?sslmode=verify-full", postgres.Options{
		// One channel per deployment that shares the database.
		Channel: "myapp_revocations",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	// Drop cached sessions when any instance revokes them.
	cancel, err := store.Subscribe(func(r storage.Revocation) {
		switch {
		case r.Reset:
			fmt.Println("forget every cached session")
		case r.TokenHash.IsZero():
			fmt.Println("forget every cached session of", r.UserID)
		default:
			fmt.Println("forget session", r.TokenHash)
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cancel()
}
