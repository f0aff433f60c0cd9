//go:build sqliteonly

package main

import (
	"context"
	"errors"

	"github.com/sessionguard/sessionguard/storage"
)

// Built with -tags sqliteonly: the example keeps sessions in SQLite or in
// memory only, and builds faster without the PostgreSQL and Redis drivers.

var errNotBuiltIn = errors.New("this build has no PostgreSQL or Redis driver (built with -tags sqliteonly): build without that tag to use -postgres or -redis")

func openPostgres(context.Context, appConfig) (storage.Store, error) { return nil, errNotBuiltIn }

func openRedis(context.Context, appConfig) (storage.Store, error) { return nil, errNotBuiltIn }
