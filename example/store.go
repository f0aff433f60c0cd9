package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
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
		path := filepath.Join(cfg.DataDir, "sessions.db")
		if err := ownerOnlyDatabase(path); err != nil {
			return nil, false, err
		}
		s, err := sqlite.Open(ctx, path, sqlite.Options{Now: cfg.Clock})
		if err != nil {
			return nil, false, err
		}
		return s, true, nil
	case storePostgres:
		s, err := openPostgres(ctx, cfg)
		if err != nil {
			return nil, false, err
		}
		return s, true, nil
	case storeRedis:
		s, err := openRedis(ctx, cfg)
		if err != nil {
			return nil, false, err
		}
		return s, true, nil
	default:
		return nil, false, fmt.Errorf("unknown store %q (want sqlite, memory, postgres or redis)", cfg.StoreKind)
	}
}

// ownerOnlyDatabase makes the SQLite database at path readable and writable
// by its owner only, creating it empty (a new database to SQLite) if it does
// not exist. It holds the security log (addresses, devices) and the
// encrypted second factors; SQLite itself creates files with mode 0644
// (less the umask), readable by every local user when the data directory
// already existed with a wider mode. SQLite gives the -wal and -shm files
// it creates later the database file's mode; any left from an earlier run
// are restricted here too.
func ownerOnlyDatabase(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	err = f.Chmod(0o600)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Chmod(path+suffix, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
