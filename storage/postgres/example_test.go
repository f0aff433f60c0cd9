package postgres_test

import (
	"context"
	"fmt"
	"time"

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

// ExampleOpen_pgBouncer runs the store's queries through PgBouncer in
// transaction-pooling mode: an exec mode the pooler supports, the schema
// named in Options rather than in a search_path startup parameter, and a
// direct connection for LISTEN. Compiled but not run.
func ExampleOpen_pgBouncer() {
	ctx := context.Background()
	store, err := postgres.Open(ctx,
		"postgres://app@pgbouncer.internal:6432/app?sslmode=verify-full&default_query_exec_mode=cache_describe",
		postgres.Options{
			Schema:    "sessionguard",
			ListenURL: "postgres://app@db.internal:5432/app?sslmode=verify-full",
		})
	if err != nil {
		fmt.Println(err) // ErrNoTestNotice if LISTEN does not hear the pool's notices
		return
	}
	defer store.Close()
	fmt.Println("every revocation reaches every instance within", store.NotifyBound())
}

// ExampleOpen_feedOnly delivers revocations without LISTEN, for managed
// proxies that forbid it, and follows a failover of the primary through a
// multi-host URL. Compiled but not run.
func ExampleOpen_feedOnly() {
	ctx := context.Background()
	store, err := postgres.Open(ctx,
		"postgres://app@db-a.internal:5432,db-b.internal:5432/app?sslmode=verify-full&target_session_attrs=read-write",
		postgres.Options{FeedOnly: true, FeedInterval: 500 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	fmt.Println(store.NotifyBound()) // two feed intervals: 1s
}
