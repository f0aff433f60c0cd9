//go:build !sqliteonly

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// TestNetworkedStores runs the app on PostgreSQL and on Redis, as
// `-postgres URL` and `-redis URL` do: sign in, see the session, end the
// others from a second browser.
func TestNetworkedStores(t *testing.T) {
	t.Parallel()
	suffix := make([]byte, 6)
	rand.Read(suffix)
	tests := []struct {
		name, kind, env string
		// isolate gives the run its own schema or key prefix, removed at
		// the end, and returns the URL to use.
		isolate func(t *testing.T, cfg *appConfig, url string) string
	}{
		{"postgres", storePostgres, "SESSION_TEST_POSTGRES_URL", func(t *testing.T, _ *appConfig, u string) string {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, u)
			if err != nil {
				t.Skipf("SESSION_TEST_POSTGRES_URL: server unreachable: %v", err)
			}
			schema := "sg_example_" + hex.EncodeToString(suffix)
			if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
				conn.Close(context.Background())
			})
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			return u + sep + "search_path=" + schema
		}},
		{"redis", storeRedis, "SESSION_TEST_REDIS_URL", func(t *testing.T, cfg *appConfig, u string) string {
			opts, err := goredis.ParseURL(u)
			if err != nil {
				t.Fatal(err)
			}
			c := goredis.NewClient(opts)
			if err := c.Ping(context.Background()).Err(); err != nil {
				t.Skipf("SESSION_TEST_REDIS_URL: server unreachable: %v", err)
			}
			cfg.RedisPrefix = "sgexample:" + hex.EncodeToString(suffix) + ":"
			t.Cleanup(func() {
				ctx := context.Background()
				iter := c.Scan(ctx, 0, cfg.RedisPrefix+"*", 1000).Iterator()
				for iter.Next(ctx) {
					c.Del(ctx, iter.Val())
				}
				c.Close()
			})
			return u
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := os.Getenv(tt.env)
			if u == "" {
				t.Skipf("set %s to run the example on %s", tt.env, tt.name)
			}
			cfg := appConfig{DataDir: t.TempDir(), Logger: quietLogger(), BcryptCost: bcrypt.MinCost, StoreKind: tt.kind}
			cfg.StoreURL = tt.isolate(t, &cfg, u)
			a, err := newApp(cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(a.Handler())
			t.Cleanup(func() { srv.Close(); a.Close() })

			user := "u" + hex.EncodeToString(suffix)
			laptop, phone := newClient(t, srv, chromeMac), newClient(t, srv, iphone)
			if status, _, body := laptop.do("POST", "/signup", url.Values{"username": {user}, "password": {"correct horse battery"}}); status != 200 {
				t.Fatalf("signup: %d %s", status, body)
			}
			phone.login(user, "correct horse battery")
			if _, _, body := laptop.do("GET", "/sessions", nil); !strings.Contains(body, "Safari 17 on iPhone") {
				t.Fatal("the phone's session is not listed")
			}
			laptop.do("POST", "/sessions/logout-others", url.Values{})
			if _, path, _ := phone.do("GET", "/sessions", nil); !strings.HasPrefix(path, "/login") {
				t.Errorf("the phone still reaches %s after log-out-others", path)
			}
		})
	}
}
