// Package postgres is the PostgreSQL storage backend of sessionguard, built
// on github.com/jackc/pgx/v5 (pgxpool).
//
// # When to use it
//
// Use it when several application instances run behind a load balancer and
// already share a PostgreSQL database: every instance sees the same
// sessions, TOTP credentials, throttles, app grants and security log, and a
// revocation made through one instance reaches all the others through
// LISTEN/NOTIFY. A single instance is served as well by storage/sqlite or
// storage/memory.
//
// # Revocation bound
//
// Every revocation (RevokeSession, RevokeUserSessions, RotateSession,
// RevokeAppGrant, RevokeUserAppGrants) calls pg_notify in the same statement
// that deletes the rows, so the notice is sent when, and only if, the change
// commits. Each [Store] holds one dedicated listener connection that LISTENs
// on [Options.Channel] and hands notices to its subscribers: other instances
// drop the revoked sessions from their caches within milliseconds.
//
// If the listener connection is lost, subscribers receive
// storage.Revocation{Reset: true} at once, the listener reconnects with a
// bounded backoff, and subscribers receive a second Reset once LISTEN is
// active again: anything missed meanwhile is never trusted from a cache. A
// connection that dies silently (a network partition without a reset) is
// found out by a LISTEN round trip after each quiet
// [Options.ListenerPingInterval], itself bounded by that interval: the first
// Reset comes at most two intervals (20 seconds by default) after the
// partition.
//
// # Connections
//
// A Store runs its queries on the pool and takes one more connection out of
// it for the listener (hijacked: it no longer counts against MaxConns). The
// listener needs a session-level connection: behind PgBouncer in
// transaction-pooling mode, LISTEN does not work; connect directly or
// through session pooling. Queries work in every pgx QueryExecMode.
//
// # Schema
//
// [New] creates or upgrades the tables in the first schema of the
// connection's search_path. Migrations are versioned in a schema_migrations
// table and run under a transaction-scoped advisory lock, so they are safe on
// every start and from many instances starting at once. Token hashes are
// stored as bytea, times as timestamptz (microsecond precision).
//
// NOTIFY channels are database-wide, not per schema: deployments that share
// one database in separate schemas need distinct [Options.Channel] values.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionguard/sessionguard/storage"
)

// Defaults of [Options].
const (
	// DefaultChannel is the default [Options.Channel].
	DefaultChannel = "sessionguard_revocations"
	// DefaultSweepInterval is the default [Options.SweepInterval].
	DefaultSweepInterval = time.Minute
	// DefaultListenerPingInterval is the default [Options.ListenerPingInterval].
	DefaultListenerPingInterval = 10 * time.Second
	// ListenerApplicationName is the application_name of the listener
	// connection, as shown in pg_stat_activity.
	ListenerApplicationName = "sessionguard-listener"
)

// maxChannelLen is PostgreSQL's identifier limit (NAMEDATALEN - 1).
const maxChannelLen = 63

// Options configures a [Store]. The zero value is ready to use.
type Options struct {
	// Channel is the LISTEN/NOTIFY channel that carries revocations between
	// the instances sharing the database. It must be at most 63 bytes.
	// Channels are database-wide: deployments sharing one database in
	// different schemas need different channels. The default is
	// [DefaultChannel], "sessionguard_revocations".
	Channel string

	// SweepInterval is how often expired sessions are deleted in the
	// background, until [Store.Close]. The default (zero or negative) is
	// one minute.
	SweepInterval time.Duration

	// ListenerPingInterval is how long the listener waits for a notice
	// before it checks with a round trip that its connection is still
	// alive; it also bounds that round trip and each reconnection attempt.
	// The default (zero or negative) is 10 seconds.
	ListenerPingInterval time.Duration

	// Now returns the current time for the background sweep. The default
	// is time.Now.
	Now func() time.Time

	// OnError, if set, receives the errors of background work (sweeps,
	// listener connection losses and failed reconnections), which have no
	// caller to return to. It is called from background goroutines and
	// must be safe for concurrent use. The default ignores them: sweeps are
	// retried at the next interval and the listener keeps reconnecting.
	OnError func(error)
}

// Store is a [storage.Store] backed by PostgreSQL. Create it with [New] or
// [Open]; it is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
	channel string
	now     func() time.Time
	onError func(error)

	listener *listener

	cancel    context.CancelFunc
	done      sync.WaitGroup
	closeOnce sync.Once
}

var _ storage.Store = (*Store)(nil)

// New returns a Store that uses pool, which the caller keeps owning: Close
// does not close it. New applies the schema migrations, starts the expiry
// sweep and the listener, and returns once the listener is LISTENing, so
// that every revocation committed after Subscribe returns is delivered.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("storage/postgres: nil pool")
	}
	return newStore(ctx, pool, false, opts)
}

// Open connects to connString (a PostgreSQL URL or key=value string, as
// accepted by [pgxpool.ParseConfig]) and returns a Store that owns the pool:
// Close closes it. Otherwise it is like [New].
func Open(ctx context.Context, connString string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// The parse error may quote the connection string, password
		// included: do not wrap it.
		return nil, errors.New("storage/postgres: invalid connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("storage/postgres: open: %w", err)
	}
	s, err := newStore(ctx, pool, true, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func newStore(ctx context.Context, pool *pgxpool.Pool, ownPool bool, opts Options) (*Store, error) {
	channel := opts.Channel
	if channel == "" {
		channel = DefaultChannel
	}
	if len(channel) > maxChannelLen {
		return nil, fmt.Errorf("storage/postgres: channel name longer than %d bytes", maxChannelLen)
	}
	for i := 0; i < len(channel); i++ {
		if channel[i] == 0 {
			return nil, errors.New("storage/postgres: channel name contains a NUL byte")
		}
	}
	sweep := opts.SweepInterval
	if sweep <= 0 {
		sweep = DefaultSweepInterval
	}
	ping := opts.ListenerPingInterval
	if ping <= 0 {
		ping = DefaultListenerPingInterval
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	onError := opts.OnError
	if onError == nil {
		onError = func(error) {}
	}

	if err := migrate(ctx, pool); err != nil {
		return nil, err
	}

	bg, cancel := context.WithCancel(context.Background())
	s := &Store{
		pool:    pool,
		ownPool: ownPool,
		channel: channel,
		now:     now,
		onError: onError,
		cancel:  cancel,
	}
	s.listener = newListener(pool, channel, ping, onError)
	if err := s.listener.start(ctx, bg, &s.done); err != nil {
		cancel()
		s.done.Wait()
		return nil, err
	}
	s.done.Add(1)
	go s.sweepLoop(bg, sweep)
	return s, nil
}

// Close stops the expiry sweep and the listener, closes the listener's
// connection and, for a Store made by [Open], the pool. It is safe to call
// more than once. Calls to other methods after Close may fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.listener.close()
		s.cancel()
		s.done.Wait()
		if s.ownPool {
			s.pool.Close()
		}
	})
	return nil
}

func (s *Store) sweepLoop(ctx context.Context, every time.Duration) {
	defer s.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.DeleteExpiredSessions(ctx, s.now()); err != nil && ctx.Err() == nil {
				s.onError(err)
			}
		}
	}
}

// sqlStateUniqueViolation is the SQLSTATE of unique_violation.
const sqlStateUniqueViolation = "23505"

// wrap maps a driver error to the storage contract: no rows become
// storage.ErrNotFound, unique violations storage.ErrConflict, and an error
// caused by ctx wraps ctx.Err(). Driver errors stay wrapped for errors.As;
// their text holds no row values (PostgreSQL keeps those in Detail, which
// [pgconn.PgError.Error] leaves out), and no secret reaches this package in
// clear anyway.
func wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("storage/postgres: %s: %w", op, storage.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == sqlStateUniqueViolation {
		return fmt.Errorf("storage/postgres: %s: %w (%s)", op, storage.ErrConflict, pgErr.ConstraintName)
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("storage/postgres: %s: %w: %w", op, ctxErr, err)
	}
	return fmt.Errorf("storage/postgres: %s: %w", op, err)
}

// notFound returns the ErrNotFound error of op.
func notFound(op string) error {
	return fmt.Errorf("storage/postgres: %s: %w", op, storage.ErrNotFound)
}

// nullTime maps the zero time to SQL NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// timeOrZero maps SQL NULL back to the zero time.
func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
