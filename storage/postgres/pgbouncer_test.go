package postgres_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
	"github.com/sessionguard/sessionguard/storage/storagetest"
)

// envPgBouncerURL names the environment variable that points the tests at
// PgBouncer in transaction-pooling mode in front of the server of
// SESSION_TEST_POSTGRES_URL (same database), e.g.
// postgres://postgres@127.0.0.1:6432/test?sslmode=disable. .ci/run starts
// one.
const envPgBouncerURL = "SESSION_TEST_PGBOUNCER_URL"

// bouncerURL returns PgBouncer's URL, or skips tb if it is not configured
// or not reachable.
func bouncerURL(tb testing.TB) string {
	tb.Helper()
	serverURL(tb) // the direct URL: listener and administration
	url := os.Getenv(envPgBouncerURL)
	if url == "" {
		tb.Skipf("%s is not set: no PgBouncer (transaction pooling) to test through", envPgBouncerURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Skipf("%s: PgBouncer unreachable: %v", envPgBouncerURL, err)
	}
	_ = conn.Close(ctx)
	return url
}

// pooledExecModes are pgx's exec modes that work through a transaction
// pooler without prepared-statement support (PgBouncer before 1.21, or
// with max_prepared_statements = 0).
var pooledExecModes = []pgx.QueryExecMode{
	pgx.QueryExecModeCacheDescribe,
	pgx.QueryExecModeExec,
	pgx.QueryExecModeSimpleProtocol,
}

// bouncerPool opens a pool through PgBouncer in exec mode mode, closed at
// the end of tb. It sets no search_path (PgBouncer refuses it): stores
// name f.schema in Options.Schema.
func (f *fixture) bouncerPool(tb testing.TB, url string, mode pgx.QueryExecMode, configure func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatalf("ParseConfig: %v", err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = mode
	cfg.ConnConfig.RuntimeParams["application_name"] = f.app
	cfg.MaxConns = 4
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("pgxpool.NewWithConfig: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// delivery is how a store behind PgBouncer receives revocations.
type delivery struct {
	name string
	opts func(f *fixture) postgres.Options
}

// deliveries are the two setups that work behind a transaction pooler: a
// direct LISTEN connection, and the feed alone.
var deliveries = []delivery{
	{"direct LISTEN", func(f *fixture) postgres.Options {
		return postgres.Options{Schema: f.schema, Channel: f.channel, ListenURL: f.url}
	}},
	{"feed only", func(f *fixture) postgres.Options {
		return postgres.Options{Schema: f.schema, Channel: f.channel, FeedOnly: true, FeedInterval: 50 * time.Millisecond}
	}},
}

// bouncerStore opens a Store through PgBouncer, closed at the end of tb.
func (f *fixture) bouncerStore(tb testing.TB, url string, mode pgx.QueryExecMode, opts postgres.Options) *postgres.Store {
	tb.Helper()
	s, err := postgres.New(context.Background(), f.bouncerPool(tb, url, mode, nil), opts)
	if err != nil {
		tb.Fatalf("postgres.New through PgBouncer: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformanceThroughPgBouncer(t *testing.T) {
	url := bouncerURL(t)
	for _, mode := range pooledExecModes {
		for _, d := range deliveries {
			t.Run(mode.String()+"/"+d.name, func(t *testing.T) {
				var fixtures sync.Map // storage.Store → *fixture
				storagetest.Run(t, func(t *testing.T) storage.Store {
					f := newFixture(t)
					s := f.bouncerStore(t, url, mode, d.opts(f))
					fixtures.Store(storage.Store(s), f)
					return s
				}, storagetest.WithPeer(func(t *testing.T, s storage.Store) storage.Store {
					f, ok := fixtures.Load(s)
					if !ok {
						t.Fatal("WithPeer: a store this test did not open")
					}
					ff := f.(*fixture)
					return ff.bouncerStore(t, url, mode, d.opts(ff))
				}))
			})
		}
	}
}

func TestNewThroughPgBouncerWithoutADirectListenerFailsLoudly(t *testing.T) {
	t.Parallel()
	url := bouncerURL(t)
	f := newFixture(t)
	pool := f.bouncerPool(t, url, pgx.QueryExecModeExec, nil)
	s, err := postgres.New(t.Context(), pool, postgres.Options{
		Schema: f.schema, Channel: f.channel, ListenerPingInterval: 500 * time.Millisecond,
	})
	if err == nil {
		_ = s.Close()
		t.Fatal("New with LISTEN through a transaction pooler: got nil error, want one")
	}
	if !errors.Is(err, postgres.ErrNoTestNotice) {
		t.Errorf("got error %v, want ErrNoTestNotice", err)
	}
	t.Logf("New through PgBouncer without ListenURL: %v", err)
}
