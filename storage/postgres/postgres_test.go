package postgres_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
	"github.com/sessionguard/sessionguard/storage/storagetest"
)

// envURL names the environment variable that points the tests at a
// PostgreSQL server, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const envURL = "SESSION_TEST_POSTGRES_URL"

// serverURL returns the test server's URL, or skips tb if it is not
// configured or not reachable.
func serverURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		tb.Skipf("%s is not set: no PostgreSQL server to test against", envURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Skipf("%s: PostgreSQL server unreachable: %v", envURL, err)
	}
	_ = conn.Close(ctx)
	return url
}

// adminExec runs sql on a connection of its own, outside any test schema.
func adminExec(tb testing.TB, url, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// adminQueryInt runs a query returning one integer on a connection of its
// own.
func adminQueryInt(tb testing.TB, url, sql string, args ...any) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

// fixture is one isolated test database: a fresh schema and a NOTIFY
// channel nobody else uses (channels are database-wide).
type fixture struct {
	url     string
	schema  string
	channel string
	app     string // application_name of the fixture's pools
}

// newFixture creates a schema with a random name, dropped at the end of tb.
func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	url := serverURL(tb)
	name := "sgtest_" + strings.ToLower(rand.Text())
	f := &fixture{url: url, schema: name, channel: name, app: name}
	adminExec(tb, url, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	tb.Cleanup(func() { adminExec(tb, url, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE") })
	return f
}

// pool opens a pool on f's schema, closed at the end of tb. configure, if
// not nil, adjusts the configuration first.
func (f *fixture) pool(tb testing.TB, configure func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(f.url)
	if err != nil {
		tb.Fatalf("ParseConfig: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = f.schema
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

// store opens a Store on a new pool on f's schema, closed at the end of
// tb. opts.Channel defaults to f's channel.
func (f *fixture) store(tb testing.TB, opts postgres.Options, configure func(*pgxpool.Config)) *postgres.Store {
	tb.Helper()
	pool := f.pool(tb, configure)
	if opts.Channel == "" {
		opts.Channel = f.channel
	}
	s, err := postgres.New(context.Background(), pool, opts)
	if err != nil {
		tb.Fatalf("postgres.New: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// listenQuery is the last statement of a listener on channel, as
// pg_stat_activity shows it: its LISTEN, which reports the backend's pid.
func listenQuery(channel string) string {
	return "LISTEN " + pgx.Identifier{channel}.Sanitize() + "; SELECT pg_backend_pid()"
}

func TestConformance(t *testing.T) {
	serverURL(t)
	var fixtures sync.Map // storage.Store → *fixture
	storagetest.Run(t, func(t *testing.T) storage.Store {
		f := newFixture(t)
		s := f.store(t, postgres.Options{}, nil)
		fixtures.Store(storage.Store(s), f)
		return s
	}, storagetest.WithPeer(func(t *testing.T, s storage.Store) storage.Store {
		f, ok := fixtures.Load(s)
		if !ok {
			t.Fatal("WithPeer: a store this test did not open")
		}
		// A second pool and listener on the same schema and channel: a
		// second application instance.
		return f.(*fixture).store(t, postgres.Options{}, nil)
	}))
}

// migrations is the number of schema migrations.
const migrations = 7

func TestConcurrentNewOnAFreshSchemaMigratesOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const instances = 4
	pools := make([]*pgxpool.Pool, instances)
	for i := range pools {
		pools[i] = f.pool(t, nil)
	}
	stores := make([]*postgres.Store, instances)
	errs := make([]error, instances)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.New(t.Context(), pools[i], postgres.Options{Channel: f.channel})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent New #%d: got error %v, want nil", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	versions := adminQueryInt(t, f.url, "SELECT count(*) FROM "+pgx.Identifier{f.schema, "schema_migrations"}.Sanitize())
	if versions != migrations {
		t.Errorf("schema_migrations rows after %d concurrent starts: got %d, want %d", instances, versions, migrations)
	}

	// A later start finds nothing to do, and the schema works from every
	// instance.
	again := f.store(t, postgres.Options{}, nil)
	if got := adminQueryInt(t, f.url, "SELECT count(*) FROM "+pgx.Identifier{f.schema, "schema_migrations"}.Sanitize()); got != versions {
		t.Errorf("schema_migrations rows after one more start: got %d, want %d", got, versions)
	}
	sess := testSession("user-1")
	if err := stores[0].CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := again.GetSession(t.Context(), sess.TokenHash); err != nil {
		t.Fatalf("GetSession through another instance: got error %v, want nil", err)
	}
}

func TestNewFailsWithoutASchemaToMigrate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pool := f.pool(t, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["search_path"] = f.schema + "_missing"
	})
	s, err := postgres.New(t.Context(), pool, postgres.Options{Channel: f.channel})
	if err == nil {
		_ = s.Close()
		t.Fatal("New with a search_path naming no existing schema: got nil error, want one")
	}
	if !strings.HasPrefix(err.Error(), "storage/postgres: ") {
		t.Errorf("error %q: want the storage/postgres: prefix", err)
	}
}

func TestNewValidatesItsArguments(t *testing.T) {
	t.Parallel()
	// A pool connects lazily: these cases need no server.
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatalf("pgxpool.New: %v", err)
	}
	defer pool.Close()
	tests := []struct {
		name string
		pool *pgxpool.Pool
		opts postgres.Options
	}{
		{"a nil pool is refused", nil, postgres.Options{}},
		{"a channel longer than an identifier is refused", pool, postgres.Options{Channel: strings.Repeat("c", 64)}},
		{"a channel with a NUL byte is refused", pool, postgres.Options{Channel: "a\x00b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := postgres.New(t.Context(), tt.pool, tt.opts)
			if err == nil {
				_ = s.Close()
				t.Fatal("got nil error, want one")
			}
			if !strings.HasPrefix(err.Error(), "storage/postgres: ") {
				t.Errorf("got error %q, want the storage/postgres: prefix", err)
			}
		})
	}
}

func TestOpenDoesNotQuoteTheConnectionString(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(t.Context(), "postgres://user:s3cr3t-password@127.0.0.1:notaport/db", postgres.Options{})
	if err == nil {
		t.Fatal("Open with a malformed connection string: got nil error, want one")
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("got error %q, which quotes the password", err)
	}
}

func TestOpenOwnsItsPool(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	url := f.url
	if strings.Contains(url, "?") {
		url += "&"
	} else {
		url += "?"
	}
	url += "search_path=" + f.schema + "&application_name=" + f.app
	s, err := postgres.Open(t.Context(), url, postgres.Options{Channel: f.channel})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sess := testSession("user-open")
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("a second Close: got error %v, want nil", err)
	}
	if _, err := s.GetSession(t.Context(), sess.TokenHash); err == nil {
		t.Error("GetSession after Close of a store that owns its pool: got nil error, want one")
	}
	if _, err := s.Subscribe(func(storage.Revocation) {}); err == nil {
		t.Error("Subscribe after Close: got nil error, want one")
	}
	// Every connection of the store is gone, the listener's included.
	waitFor(t, "the store's connections to close", func() bool {
		return adminQueryInt(t, f.url, `SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 OR query = $2`, f.app, listenQuery(f.channel)) == 0
	})
}

func TestSweepDeletesExpiredSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	clock := time.Now().Add(time.Hour)
	s := f.store(t, postgres.Options{
		SweepInterval: 10 * time.Millisecond,
		Now:           func() time.Time { return clock },
	}, nil)
	expired := testSession("user-sweep")
	expired.ExpiresAt = clock.Add(-time.Second)
	live := testSession("user-sweep")
	live.ExpiresAt = clock.Add(time.Second)
	for _, sess := range []*storage.Session{expired, live} {
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	waitFor(t, "the sweep to delete the expired session", func() bool {
		_, err := s.GetSession(t.Context(), expired.TokenHash)
		return errors.Is(err, storage.ErrNotFound)
	})
	if _, err := s.GetSession(t.Context(), live.TokenHash); err != nil {
		t.Errorf("GetSession of the unexpired session after sweeps: got error %v, want nil", err)
	}
}

// countingTracer counts the queries and statement preparations a pool
// sends.
type countingTracer struct {
	queries, prepares atomic.Int64
}

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	return ctx
}

func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *countingTracer) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	c.prepares.Add(1)
	return ctx
}

func (c *countingTracer) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

func TestHotOperationsAreOneStatement(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tracer := &countingTracer{}
	s := f.store(t, postgres.Options{}, func(c *pgxpool.Config) {
		c.ConnConfig.Tracer = tracer
		c.MaxConns = 1 // one connection, so that statements are prepared once
	})
	sessions := make([]*storage.Session, 6)
	for i := range sessions {
		sessions[i] = testSession("user-rt")
		if err := s.CreateSession(t.Context(), sessions[i]); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"GetSession", func() error { _, err := s.GetSession(t.Context(), sessions[0].TokenHash); return err }},
		{"RevokeUserSessions", func() error {
			_, err := s.RevokeUserSessions(t.Context(), "user-rt", sessions[0].TokenHash)
			return err
		}},
	}
	for _, tt := range tests {
		if err := tt.call(); err != nil { // prepares the statement
			t.Fatalf("%s: %v", tt.name, err)
		}
		q, p := tracer.queries.Load(), tracer.prepares.Load()
		if err := tt.call(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := tracer.queries.Load() - q; got != 1 {
			t.Errorf("%s: got %d statements, want 1", tt.name, got)
		}
		if got := tracer.prepares.Load() - p; got != 0 {
			t.Errorf("%s: got %d preparations of a cached statement, want 0", tt.name, got)
		}
	}
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testSession returns a session of userID with a random token hash and
// handle.
func testSession(userID string) *storage.Session {
	now := time.Now().UTC().Truncate(time.Millisecond)
	var token [32]byte
	_, _ = rand.Read(token[:]) // never fails (crypto/rand)
	return &storage.Session{
		TokenHash:  storage.HashToken(token[:]),
		Handle:     rand.Text(),
		UserID:     userID,
		CreatedAt:  now,
		ExpiresAt:  now.Add(30 * 24 * time.Hour),
		AuthLevel:  storage.AuthPassword,
		AuthAt:     now,
		LastSeenAt: now,
		LastSeenIP: "192.0.2.1",
		UserAgent:  "test",
		Device:     storage.Device{Browser: "Firefox", BrowserVersion: "133", OS: "Linux", Type: "desktop"},
	}
}
