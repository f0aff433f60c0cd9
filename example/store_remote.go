//go:build !sqliteonly

package main

import (
	"context"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
	"github.com/sessionguard/sessionguard/storage/redis"
)

// The PostgreSQL and Redis stores (-postgres, -redis). Their drivers are a
// third of the example's first build: `go build -tags sqliteonly` leaves
// them out (store_sqliteonly.go).

func openPostgres(ctx context.Context, cfg appConfig) (storage.Store, error) {
	return postgres.Open(ctx, cfg.StoreURL, postgres.Options{Now: cfg.Clock})
}

func openRedis(ctx context.Context, cfg appConfig) (storage.Store, error) {
	return redis.Open(ctx, cfg.StoreURL, redis.Options{Now: cfg.Clock, Prefix: cfg.RedisPrefix})
}
