package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// serverState describes the session state of the server connection that
// PgBouncer hands to the next statement of pool: PgBouncer reuses the
// server connection released last, so right after a store's statement it
// is the one that statement ran on.
func serverState(tb testing.TB, pool *pgxpool.Pool, channel string) string {
	tb.Helper()
	var prepared, listening, locks int
	var searchPath string
	err := pool.QueryRow(context.Background(), `SELECT
	(SELECT count(*) FROM pg_prepared_statements),
	(SELECT count(*) FROM pg_listening_channels() AS c WHERE c = $1),
	(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
	current_setting('search_path')`, pgx.QueryExecModeSimpleProtocol, channel).Scan(&prepared, &listening, &locks, &searchPath)
	if err != nil {
		tb.Fatalf("reading the server connection's state: %v", err)
	}
	if prepared == 0 && listening == 0 && locks == 0 && searchPath == `"$user", public` {
		return ""
	}
	return fmt.Sprintf("%d prepared statements, LISTEN on the channel %d, %d advisory locks, search_path %s",
		prepared, listening, locks, searchPath)
}

func TestNothingIsLeftOnPooledServerConnections(t *testing.T) {
	t.Parallel()
	url := bouncerURL(t)
	for _, mode := range pooledExecModes {
		t.Run(mode.String(), func(t *testing.T) {
			f := newFixture(t)
			// One client connection, so that each check follows the
			// store's statement on the same PgBouncer client.
			pool := f.bouncerPool(t, url, mode, func(c *pgxpool.Config) { c.MaxConns = 1 })
			s, err := postgres.New(t.Context(), pool, postgres.Options{Schema: f.schema, Channel: f.channel, ListenURL: f.url})
			if err != nil {
				t.Fatalf("postgres.New: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			if state := serverState(t, pool, f.channel); state != "" {
				t.Errorf("after New: server connection left with %s", state)
			}
			ctx := t.Context()
			sess := testSession("user-state")
			next := testSession("user-state")
			ops := []struct {
				name string
				op   func() error
			}{
				{"CreateSession", func() error { return s.CreateSession(ctx, sess) }},
				{"GetSession", func() error { _, err := s.GetSession(ctx, sess.TokenHash); return err }},
				{"RotateSession", func() error { return s.RotateSession(ctx, sess.TokenHash, next) }},
				{"ReplaceRecoveryCodes", func() error {
					return s.ReplaceRecoveryCodes(ctx, "user-state", []storage.TokenHash{storage.HashToken([]byte("code"))})
				}},
				{"ReserveAttempt", func() error {
					_, err := s.ReserveAttempt(ctx, "user-state", time.Now(), storage.AttemptPolicy{FreeAttempts: 5, BaseLockout: time.Minute, MaxLockout: time.Hour, MaxFailures: 10})
					return err
				}},
				{"RevokeSession", func() error { _, err := s.RevokeSession(ctx, next.UserID, next.Handle); return err }},
				{"RevokeUserSessions", func() error { _, err := s.RevokeUserSessions(ctx, "user-state", storage.TokenHash{}); return err }},
			}
			for _, o := range ops {
				if err := o.op(); err != nil {
					t.Fatalf("%s: %v", o.name, err)
				}
				if state := serverState(t, pool, f.channel); state != "" {
					t.Errorf("after %s: server connection left with %s", o.name, state)
				}
			}
		})
	}
}

func TestAFailedLISTENThroughPgBouncerIsTakenBack(t *testing.T) {
	t.Parallel()
	url := bouncerURL(t)
	f := newFixture(t)
	pool := f.bouncerPool(t, url, pgx.QueryExecModeExec, func(c *pgxpool.Config) { c.MaxConns = 1 })
	s, err := postgres.New(t.Context(), pool, postgres.Options{
		Schema: f.schema, Channel: f.channel, ListenerPingInterval: 300 * time.Millisecond,
	})
	if err == nil {
		_ = s.Close()
		t.Fatal("New with LISTEN through PgBouncer: got nil error, want ErrNoTestNotice")
	}
	if state := serverState(t, pool, f.channel); state != "" {
		t.Errorf("after the failed New: server connection left with %s", state)
	}
}
