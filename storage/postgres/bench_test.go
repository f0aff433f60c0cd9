package postgres_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// getSessionTarget is one way to reach the server for the GetSession
// benchmarks.
type getSessionTarget struct {
	name string
	url  func(tb testing.TB) string // PgBouncer's; skips when absent. nil: direct
	mode pgx.QueryExecMode
}

// getSessionTargets are the direct connection in pgx's default exec mode
// and PgBouncer in each exec mode a transaction pooler supports.
func getSessionTargets() []getSessionTarget {
	targets := []getSessionTarget{{"via=direct/mode=cache_statement", nil, pgx.QueryExecModeCacheStatement}}
	for _, mode := range pooledExecModes {
		targets = append(targets, getSessionTarget{"via=pgbouncer/mode=" + strings.ReplaceAll(mode.String(), " ", "_"), bouncerURL, mode})
	}
	return targets
}

// getSessionBench is a store and a stored session to read, and the bare
// pgx read of the same row on the same pool.
type getSessionBench struct {
	store *postgres.Store
	sess  *storage.Session
	bare  func() error
}

func newGetSessionBench(b *testing.B, tg getSessionTarget) *getSessionBench {
	f := newFixture(b)
	var pool *pgxpool.Pool
	opts := postgres.Options{Channel: f.channel}
	if tg.url != nil {
		pool = f.bouncerPool(b, tg.url(b), tg.mode, nil)
		opts.Schema, opts.ListenURL = f.schema, f.url
	} else {
		pool = f.pool(b, func(c *pgxpool.Config) { c.ConnConfig.DefaultQueryExecMode = tg.mode })
	}
	s, err := postgres.New(context.Background(), pool, opts)
	if err != nil {
		b.Fatalf("postgres.New: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	sess := testSession("user-bench")
	ctx := context.Background()
	if err := s.CreateSession(ctx, sess); err != nil {
		b.Fatalf("CreateSession: %v", err)
	}
	query := `SELECT token_hash, handle, user_id, created_at, expires_at, auth_level, auth_at,
	last_seen_at, last_seen_ip, user_agent, browser, browser_version, os, device_type,
	city, region, country, country_code FROM ` + pgx.Identifier{f.schema, "sessions"}.Sanitize() + ` WHERE token_hash = $1`
	var (
		hash                                               []byte
		handle, user, ip, ua, browser, version, os, device string
		city, region, country, code                        string
		created, expires, authAt, lastSeen                 time.Time
		level                                              int16
	)
	bare := func() error {
		return pool.QueryRow(ctx, query, sess.TokenHash[:]).Scan(&hash, &handle, &user, &created, &expires,
			&level, &authAt, &lastSeen, &ip, &ua, &browser, &version, &os, &device,
			&city, &region, &country, &code)
	}
	return &getSessionBench{store: s, sess: sess, bare: bare}
}

// BenchmarkGetSession measures the cache-miss path of a request, one read
// by token hash, against the bare pgx client doing the same single read on
// the same pool (a QueryRow scanned into local variables), for each
// getSessionTargets. Compare with benchstat -col /client.
func BenchmarkGetSession(b *testing.B) {
	for _, tg := range getSessionTargets() {
		b.Run(tg.name, func(b *testing.B) {
			g := newGetSessionBench(b, tg)
			ctx := context.Background()
			b.Run("client=store", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := g.store.GetSession(ctx, g.sess.TokenHash); err != nil {
						b.Fatalf("GetSession: %v", err)
					}
				}
			})
			b.Run("client=pgx", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := g.bare(); err != nil {
						b.Fatalf("QueryRow: %v", err)
					}
				}
			})
		})
	}
}

// BenchmarkGetSessionPaired times the store's read and the bare pgx read
// alternately in one loop (in alternating order), so that both see the
// same server and machine load, and reports each one's time per read and
// their ratio: on a shared, loaded machine this is the fair comparison.
func BenchmarkGetSessionPaired(b *testing.B) {
	for _, tg := range getSessionTargets() {
		b.Run(tg.name, func(b *testing.B) {
			g := newGetSessionBench(b, tg)
			ctx := context.Background()
			store := func() error { _, err := g.store.GetSession(ctx, g.sess.TokenHash); return err }
			var tStore, tBare time.Duration
			n := 0
			for b.Loop() {
				first, second, d1, d2 := store, g.bare, &tStore, &tBare
				if n%2 == 1 {
					first, second, d1, d2 = g.bare, store, &tBare, &tStore
				}
				start := time.Now()
				err1 := first()
				mid := time.Now()
				err2 := second()
				*d1 += mid.Sub(start)
				*d2 += time.Since(mid)
				if err := errors.Join(err1, err2); err != nil {
					b.Fatalf("read: %v", err)
				}
				n++
			}
			b.ReportMetric(float64(tStore.Nanoseconds())/float64(n), "store-ns/read")
			b.ReportMetric(float64(tBare.Nanoseconds())/float64(n), "pgx-ns/read")
			b.ReportMetric(float64(tStore)/float64(tBare), "store/pgx")
		})
	}
}

// userSessions is how many sessions BenchmarkRevokeUserSessions revokes at
// once.
const userSessions = 1000

// BenchmarkRevokeUserSessions measures "log out everywhere" for a user with
// 1,000 sessions: the store's single statement (DELETE and pg_notify in one
// CTE, one round trip), against the same work as a four-statement
// transaction for comparison.
func BenchmarkRevokeUserSessions(b *testing.B) {
	f := newFixture(b)
	s := f.store(b, postgres.Options{}, nil)
	// A subscriber, so that notices are delivered as in production.
	cancel, err := s.Subscribe(func(storage.Revocation) {})
	if err != nil {
		b.Fatalf("Subscribe: %v", err)
	}
	b.Cleanup(cancel)
	setup := f.pool(b, nil)
	ctx := context.Background()

	b.Run("statement", func(b *testing.B) {
		benchmarkRevoke(b, setup, "user-bench", func() (int, error) {
			return s.RevokeUserSessions(ctx, "user-bench", storage.TokenHash{})
		})
	})
	b.Run("transaction", func(b *testing.B) {
		benchmarkRevoke(b, setup, "user-bench", func() (int, error) {
			var n int
			err := pgx.BeginFunc(ctx, setup, func(tx pgx.Tx) error {
				tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, "user-bench")
				if err != nil {
					return err
				}
				n = int(tag.RowsAffected())
				_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, f.channel, ":user-bench")
				return err
			})
			return n, err
		})
	})
}

// BenchmarkRevokeOthers measures "log out all other sessions" as an
// application calls it, session.Manager.RevokeOthers, for a user with
// 1,000 other sessions: the store's statement, the cache invalidation and
// the security-log entry.
func BenchmarkRevokeOthers(b *testing.B) {
	f := newFixture(b)
	s := f.store(b, postgres.Options{}, nil)
	m, err := session.New(session.Config{
		Store:  s,
		Keys:   []session.KeyPair{mustKeys(b)},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatalf("session.New: %v", err)
	}
	b.Cleanup(func() { _ = m.Close() })
	_, keep := signIn(b, m, "user-others")
	ctx := context.Background()
	benchmarkRevoke(b, f.pool(b, nil), "user-others", func() (int, error) {
		return m.RevokeOthers(ctx, session.Audit{}, keep)
	})
}

// benchmarkRevoke times revoke, which must delete the userSessions
// sessions of user stored before each call, outside the timer.
func benchmarkRevoke(b *testing.B, setup *pgxpool.Pool, user string, revoke func() (int, error)) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		// Start every iteration from a table without dead rows, so that the
		// variants compare fairly.
		if _, err := setup.Exec(ctx, `VACUUM sessions`); err != nil {
			b.Fatalf("VACUUM: %v", err)
		}
		if _, err := setup.Exec(ctx, `INSERT INTO sessions (token_hash, handle, user_id, created_at, expires_at,
	auth_level, auth_at, last_seen_at, last_seen_ip, user_agent, browser, browser_version, os, device_type,
	city, region, country, country_code)
SELECT sha256(convert_to(gen_random_uuid()::text, 'UTF8')), gen_random_uuid()::text, $2, now(),
	now() + interval '30 days', 2, now(), now() - i * interval '1 second', '192.0.2.1', 'bench',
	'Firefox', '133', 'Linux', 'desktop', '', '', '', ''
FROM generate_series(1, $1) AS i`, userSessions, user); err != nil {
			b.Fatalf("inserting sessions: %v", err)
		}
		b.StartTimer()
		n, err := revoke()
		if err != nil {
			b.Fatalf("revoke: %v", err)
		}
		if n != userSessions {
			b.Fatalf("revoked %d sessions, want %d", n, userSessions)
		}
	}
}
