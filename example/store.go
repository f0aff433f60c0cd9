package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
	"github.com/sessionguard/sessionguard/storage/postgres"
	"github.com/sessionguard/sessionguard/storage/redis"
	"github.com/sessionguard/sessionguard/storage/sqlite"
)

// Store kinds of appConfig.StoreKind and the -store flag.
const (
	storeSQLite   = "sqlite"
	storeMemory   = "memory"
	storePostgres = "postgres"
	storeRedis    = "redis"
)

// openStore opens the backend cfg names. It also reports whether the store
// keeps its data across restarts, in which case the accounts are kept in
// the data directory too.
func openStore(ctx context.Context, cfg appConfig) (st storage.Store, persistent bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch cfg.StoreKind {
	case storeMemory:
		return memory.New(memory.Options{Now: cfg.Clock}), false, nil
	case storeSQLite, "":
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, false, err
		}
		s, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "sessions.db"), sqlite.Options{Now: cfg.Clock})
		if err != nil {
			return nil, false, err
		}
		return s, true, nil
	case storePostgres:
		s, err := postgres.Open(ctx, cfg.StoreURL, postgres.Options{Now: cfg.Clock})
		if err != nil {
			return nil, false, err
		}
		return s, true, nil
	case storeRedis:
		s, err := redis.Open(ctx, cfg.StoreURL, redis.Options{Now: cfg.Clock, Prefix: cfg.RedisPrefix})
		if err != nil {
			return nil, false, err
		}
		return s, true, nil
	default:
		return nil, false, fmt.Errorf("unknown store %q (want sqlite, memory, postgres or redis)", cfg.StoreKind)
	}
}
