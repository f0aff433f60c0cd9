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
// # Revocation delivery and its bound
//
// Every revocation (RevokeSession, RevokeUserSessions, RotateSession,
// RevokeAppGrant, RevokeUserAppGrants) does three things in one statement:
// it deletes the rows, appends a notice to the revocation feed (the
// revocation_feed table) and calls pg_notify, so the notice exists when,
// and only if, the change commits. Subscribers receive it one of two ways:
//
//   - LISTEN (the default). Each [Store] holds one listener connection
//     that LISTENs on [Options.Channel]. It proves that it works: at start
//     and every [Options.ListenerPingInterval] it sends a test notice
//     through the pool, the path revocations take, and must receive it on
//     the listener within the next interval. New fails with
//     [ErrNoTestNotice] if the first one does not arrive (LISTEN through a
//     transaction pooler, or a ListenURL on another database). Later, a
//     lost connection or a missed test notice sends subscribers a Reset,
//     reports the failure ([Options.OnError], [Store.OnDeliveryError]),
//     and switches to the feed until a new LISTEN connection is proven.
//   - The feed ([Options.FeedOnly], or while LISTEN fails): every
//     [Options.FeedInterval] the store reads, through the pool, the notices
//     committed since its previous read (a snapshot cursor, so a notice
//     whose transaction commits late is not skipped). A failed read sends
//     subscribers a Reset. The background sweep prunes notices older than
//     [Options.FeedRetention].
//
// Either way every revocation reaches every subscriber, or a Reset does,
// within [Store.NotifyBound]: two ping intervals with LISTEN (20 s by
// default; milliseconds in practice), two feed intervals with the feed
// alone (2 s by default). When delivery resumes after a failure that may
// have lost notices, subscribers receive a second Reset, so anything missed
// meanwhile is never trusted from a cache. A session.Manager adopts the
// bound as its default RevocationTTL (within 5-30 s) and logs every
// delivery failure ([storage.BoundedNotifier]).
//
// # Connections, poolers and failover
//
// A Store runs its queries on the pool. With LISTEN it holds one more
// connection, its own (not counted by the pool), made with the pool's
// settings or [Options.ListenURL]; with the feed alone, none.
//
// Behind a transaction pooler such as PgBouncer in transaction-pooling
// mode: set the pool's exec mode to one the pooler supports (pgx's
// default caches prepared statements, which PgBouncer 1.18 cannot carry:
// add default_query_exec_mode=cache_describe, exec or simple_protocol to
// the URL; GetSession and every revocation are one round trip in each);
// name the
// schema in [Options.Schema] rather than a search_path startup parameter;
// and either point [Options.ListenURL] at a direct connection to the same
// database or set [Options.FeedOnly]. No statement leaves session state
// behind: no SET, no named prepared statement unless the pool's mode makes
// them, transaction-scoped advisory locks only.
//
// A multi-host URL with target_session_attrs=read-write follows a failover
// to the new primary. Each revocation is a single autocommitted statement:
// it is reported done only once committed, and a connection lost before
// the answer is an error, never a success. With synchronous replication to
// the standby that is promoted, nothing reported done is lost; with
// asynchronous replication, the last commits before a failover can be.
//
// # Schema
//
// [New] creates or upgrades the tables in [Options.Schema], or else the
// first schema of the connection's search_path. Migrations are versioned
// in a schema_migrations table and run under a transaction-scoped advisory
// lock, so they are safe on every start and from many instances starting
// at once. Token hashes are stored as bytea, times as timestamptz
// (microsecond precision).
//
// NOTIFY channels are database-wide, not per schema: deployments that share
// one database in separate schemas need distinct [Options.Channel] values.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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
	// DefaultFeedInterval is the default [Options.FeedInterval].
	DefaultFeedInterval = time.Second
	// DefaultFeedRetention is the default [Options.FeedRetention].
	DefaultFeedRetention = time.Hour
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

	// Schema, if set, is the schema that holds the tables: every statement
	// names it, so no search_path is needed (a startup parameter that
	// PgBouncer refuses, and session state that a transaction pooler must
	// not carry). It must exist. The default (empty) is the first schema of
	// the connection's search_path.
	Schema string

	// ListenURL, if set, is the connection string (as accepted by
	// [pgx.ParseConfig]) of the listener's connection, which must be a
	// session-level connection to the same database as the pool: a direct
	// one, while queries go through a transaction pooler such as PgBouncer.
	// The default (empty) connects the listener with the pool's connection
	// settings, which is right without a pooler or behind session pooling.
	// It is not used with FeedOnly.
	ListenURL string

	// FeedOnly delivers revocations by the revocation feed alone, with no
	// LISTEN connection, for proxies that forbid LISTEN: every instance
	// reads new notices from a table every FeedInterval. The default
	// (false) LISTENs and falls back to the feed only while LISTEN fails.
	FeedOnly bool

	// FeedInterval is how often the revocation feed is read when it is in
	// use (FeedOnly, or while LISTEN fails). A revocation reaches every
	// subscriber, or a Reset does, within two intervals. The default (zero
	// or negative) is one second.
	FeedInterval time.Duration

	// FeedRetention is how long notices stay in the revocation feed table
	// before the background sweep prunes them. It is at least ten
	// FeedIntervals. The default (zero or negative) is one hour.
	FeedRetention time.Duration

	// SweepInterval is how often expired sessions and old feed entries are
	// deleted in the background, until [Store.Close]. The default (zero or
	// negative) is one minute.
	SweepInterval time.Duration

	// ListenerPingInterval is the listener's health-check period: every
	// interval it sends a test notice through the pool and must receive it
	// on its LISTEN connection within the next interval, or it reports the
	// failure, sends subscribers a Reset and falls back to the revocation
	// feed. It also bounds each connection attempt. The default (zero or
	// negative) is 10 seconds.
	ListenerPingInterval time.Duration

	// Now returns the current time for the background sweep and for
	// GetThrottle's expiry check. The default is time.Now.
	Now func() time.Time

	// OnError, if set, receives the errors of background work (sweeps,
	// listener failures, failed reconnections, feed reads), which have no
	// caller to return to. It is called from background goroutines and
	// must be safe for concurrent use. The default ignores them (a
	// session.Manager hears of delivery failures through
	// [Store.OnDeliveryError] anyway).
	OnError func(error)
}

// Store is a [storage.Store] backed by PostgreSQL. Create it with [New] or
// [Open]; it is safe for concurrent use.
type Store struct {
	pool      *pgxpool.Pool
	ownPool   bool
	channel   string
	retention time.Duration
	now       func() time.Time
	onError   func(error)
	sql       statements

	notifier *notifier

	cancel    context.CancelFunc
	done      sync.WaitGroup
	closeOnce sync.Once
}

var (
	_ storage.Store           = (*Store)(nil)
	_ storage.BoundedNotifier = (*Store)(nil)
)

// New returns a Store that uses pool, which the caller keeps owning: Close
// does not close it. New applies the schema migrations, starts the expiry
// sweep and the notifier, and returns once the notifier is proven to work
// (the listener received a test notice sent through the pool, or with
// [Options.FeedOnly] the feed was read), so that every revocation
// committed after Subscribe returns is delivered. It fails if the test
// notice does not arrive within [Options.ListenerPingInterval], as happens
// when LISTEN goes through a transaction pooler.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("storage/postgres: nil pool")
	}
	return newStore(ctx, pool, false, opts)
}

// Open connects to connString (a PostgreSQL URL or key=value string, as
// accepted by [pgxpool.ParseConfig]) and returns a Store that owns the pool:
// Close closes it. Otherwise it is like [New]. A multi-host URL with
// target_session_attrs=read-write follows a failover to the new primary.
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
	if strings.IndexByte(channel, 0) >= 0 {
		return nil, errors.New("storage/postgres: channel name contains a NUL byte")
	}
	if len(opts.Schema) > maxChannelLen {
		return nil, fmt.Errorf("storage/postgres: schema name longer than %d bytes", maxChannelLen)
	}
	if strings.IndexByte(opts.Schema, 0) >= 0 {
		return nil, errors.New("storage/postgres: schema name contains a NUL byte")
	}
	var listenConfig *pgx.ConnConfig
	if !opts.FeedOnly {
		if opts.ListenURL != "" {
			cfg, err := pgx.ParseConfig(opts.ListenURL)
			if err != nil {
				// The parse error may quote the password: do not wrap it.
				return nil, errors.New("storage/postgres: invalid Options.ListenURL")
			}
			listenConfig = cfg
		} else {
			listenConfig = pool.Config().ConnConfig.Copy()
		}
		// A startup parameter, not a SET: nothing is left on a server
		// connection that a pooler would hand to another client.
		listenConfig.RuntimeParams["application_name"] = ListenerApplicationName
	}
	sweep := positiveOr(opts.SweepInterval, DefaultSweepInterval)
	ping := positiveOr(opts.ListenerPingInterval, DefaultListenerPingInterval)
	feedEvery := positiveOr(opts.FeedInterval, DefaultFeedInterval)
	retention := max(positiveOr(opts.FeedRetention, DefaultFeedRetention), 10*feedEvery)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	onError := opts.OnError
	if onError == nil {
		onError = func(error) {}
	}

	s := &Store{
		pool:      pool,
		ownPool:   ownPool,
		channel:   channel,
		retention: retention,
		now:       now,
		onError:   onError,
	}
	s.sql.init(opts.Schema)
	if err := migrate(ctx, pool, opts.Schema, s.q); err != nil {
		return nil, err
	}

	bg, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.notifier = newNotifier(s, listenConfig, ping, feedEvery)
	if err := s.notifier.start(ctx, bg, &s.done); err != nil {
		cancel()
		s.done.Wait()
		return nil, err
	}
	s.done.Add(1)
	go s.sweepLoop(bg, sweep)
	return s, nil
}

func positiveOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// statements resolves the {schema}. prefix of SQL templates, once per
// template: reads are a lock-free map lookup (no allocation on the request
// path), a new template copies the map.
type statements struct {
	replacer *strings.Replacer
	mu       sync.Mutex
	m        atomic.Pointer[map[string]string]
}

func (st *statements) init(schema string) {
	prefix := ""
	if schema != "" {
		prefix = pgx.Identifier{schema}.Sanitize() + "."
	}
	st.replacer = strings.NewReplacer("{schema}.", prefix)
	st.m.Store(&map[string]string{})
}

// q returns the statement of template tmpl, whose tables are written
// {schema}.name.
func (s *Store) q(tmpl string) string {
	if stmt, ok := (*s.sql.m.Load())[tmpl]; ok {
		return stmt
	}
	st := &s.sql
	st.mu.Lock()
	defer st.mu.Unlock()
	old := *st.m.Load()
	if stmt, ok := old[tmpl]; ok {
		return stmt
	}
	m := make(map[string]string, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	stmt := st.replacer.Replace(tmpl)
	m[tmpl] = stmt
	st.m.Store(&m)
	return stmt
}

// Close stops the expiry sweep and the listener, closes the listener's
// connection and, for a Store made by [Open], the pool. It is safe to call
// more than once. Calls to other methods after Close may fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.notifier.close()
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
			if err := s.pruneFeed(ctx); err != nil && ctx.Err() == nil {
				s.onError(err)
			}
			if _, err := s.DeleteExpiredThrottles(ctx, s.now()); err != nil && ctx.Err() == nil {
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
