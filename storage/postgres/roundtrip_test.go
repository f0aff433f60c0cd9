package postgres_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionguard/sessionguard/storage/postgres"
)

// writeCounter counts the writes on the connections it dials: every
// write the driver makes is followed by a wait for the server's answer,
// so writes are network round trips.
type writeCounter struct{ n atomic.Int64 }

type countedConn struct {
	net.Conn
	c *writeCounter
}

func (c countedConn) Write(p []byte) (int, error) {
	c.c.n.Add(1)
	return c.Conn.Write(p)
}

func (w *writeCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return countedConn{conn, w}, nil
}

func TestGetSessionIsOneRoundTripInEveryExecMode(t *testing.T) {
	t.Parallel()
	type target struct {
		name    string
		bouncer bool
		mode    pgx.QueryExecMode
	}
	targets := []target{{"direct, " + pgx.QueryExecModeCacheStatement.String(), false, pgx.QueryExecModeCacheStatement}}
	for _, mode := range pooledExecModes {
		targets = append(targets, target{"PgBouncer, " + mode.String(), true, mode})
	}
	for _, tg := range targets {
		t.Run(strings.ReplaceAll(tg.name, ",", ""), func(t *testing.T) {
			f := newFixture(t)
			writes := &writeCounter{}
			configure := func(c *pgxpool.Config) {
				c.MaxConns = 1
				c.ConnConfig.DefaultQueryExecMode = tg.mode
				c.ConnConfig.DialFunc = writes.dial
			}
			var pool *pgxpool.Pool
			opts := postgres.Options{Channel: f.channel, ListenURL: f.url, ListenerPingInterval: time.Minute}
			if tg.bouncer {
				pool = f.bouncerPool(t, bouncerURL(t), tg.mode, configure)
				opts.Schema = f.schema
			} else {
				pool = f.pool(t, configure)
			}
			s, err := postgres.New(t.Context(), pool, opts)
			if err != nil {
				t.Fatalf("postgres.New: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			sess := testSession("user-rt")
			if err := s.CreateSession(t.Context(), sess); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			if _, err := s.GetSession(t.Context(), sess.TokenHash); err != nil { // describes or prepares, if the mode does
				t.Fatalf("GetSession: %v", err)
			}
			for i := range 3 {
				before := writes.n.Load()
				if _, err := s.GetSession(t.Context(), sess.TokenHash); err != nil {
					t.Fatalf("GetSession: %v", err)
				}
				if got := writes.n.Load() - before; got != 1 {
					t.Errorf("GetSession #%d: got %d round trips, want 1", i+2, got)
				}
			}
		})
	}
}
