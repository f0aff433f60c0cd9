// Package bench compares sessionguard with scs v2 and gorilla/sessions on
// equal terms. It is a module of its own, so that the library never depends
// on the libraries it is compared with.
//
// Every library is wrapped in the same small server (see [Open]); the Go
// benchmarks (bench_test.go) call its handler directly and the HTTP load
// test (cmd/loadserver, driven by the run script) serves it on loopback.
// `bench/run` runs both and writes the results file the README quotes.
package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
	"github.com/sessionguard/sessionguard/storage/postgres"
	sgredis "github.com/sessionguard/sessionguard/storage/redis"
)

// The environment variables naming the servers. A backend whose variable is
// unset is skipped, never faked.
const (
	EnvPostgres = "SESSION_TEST_POSTGRES_URL"
	EnvRedis    = "SESSION_TEST_REDIS_URL"
)

// Libraries compared.
const (
	Sessionguard = "sessionguard" // this library
	SCS          = "scs"          // github.com/alexedwards/scs/v2
	Gorilla      = "gorilla"      // github.com/gorilla/sessions CookieStore
	Floor        = "floor"        // securecookie decode + LRU lookup: the least any such library does
)

// Backends. SCS uses memstore, pgxstore and redisstore (redigo); gorilla
// and the floor keep everything in the cookie (and, for the floor, in an
// in-process LRU).
const (
	Memory   = "memory"
	Postgres = "postgres"
	Redis    = "redis"
	Cookie   = "cookie"
)

// ErrSkip is returned by [Open] when the backend's server is not configured;
// the error names the environment variable.
var ErrSkip = errors.New("bench: backend not configured")

// Options chooses the server [Open] builds.
type Options struct {
	Library string // Sessionguard, SCS, Gorilla or Floor
	Backend string // Memory, Postgres or Redis (SCS, Sessionguard); Cookie (Gorilla, Floor)

	// Miss makes every sessionguard request a cache miss (RevocationTTL
	// 1 ns), so each one reads the store. Other libraries ignore it.
	Miss bool

	// PostgresURL and RedisURL locate the servers; empty means absent.
	PostgresURL, RedisURL string
}

// OptionsFromEnv returns Options for library and backend with the server
// URLs from [EnvPostgres] and [EnvRedis].
func OptionsFromEnv(library, backend string) Options {
	return Options{Library: library, Backend: backend, PostgresURL: os.Getenv(EnvPostgres), RedisURL: os.Getenv(EnvRedis)}
}

// Server is one library's equivalent small server. Its Handler serves:
//
//   - POST /login?user=ID — starts a new session for ID and sets its cookie;
//   - GET / — 200 "ok" when the request carries a live session, else 401;
//   - POST /logout-others — ends every other session of the request's user
//     and answers the number ended (404 where the library cannot).
//
// Close releases everything Open created (schemas, keys, connections).
type Server struct {
	Name    string
	Handler http.Handler
	closers []func()
}

// Close removes the server's data from the stores and closes its
// connections. It is not safe to call concurrently with requests.
func (s *Server) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Open builds the server o describes. It returns an error wrapping
// [ErrSkip] when o's backend needs a server whose URL is empty.
func Open(ctx context.Context, o Options) (_ *Server, err error) {
	s := &Server{Name: o.Library + "/" + o.Backend}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	switch o.Backend {
	case Postgres:
		if o.PostgresURL == "" {
			return nil, fmt.Errorf("%w: %s is not set", ErrSkip, EnvPostgres)
		}
	case Redis:
		if o.RedisURL == "" {
			return nil, fmt.Errorf("%w: %s is not set", ErrSkip, EnvRedis)
		}
	}
	switch {
	case o.Library == Sessionguard && (o.Backend == Memory || o.Backend == Postgres || o.Backend == Redis):
		err = s.openSessionguard(ctx, o)
	case o.Library == SCS && (o.Backend == Memory || o.Backend == Postgres || o.Backend == Redis):
		err = s.openSCS(ctx, o)
	case o.Library == Gorilla && o.Backend == Cookie:
		err = s.openGorilla()
	case o.Library == Floor && o.Backend == Cookie:
		err = s.openFloor()
	default:
		err = fmt.Errorf("bench: no server %s/%s", o.Library, o.Backend)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) onClose(f func()) { s.closers = append(s.closers, f) }

// ok is the answer of GET / to an authenticated request.
var ok = []byte("ok\n")

func unauthorized(w http.ResponseWriter) { http.Error(w, "unauthenticated", http.StatusUnauthorized) }

func writeCount(w http.ResponseWriter, n int) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, strconv.Itoa(n))
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// --- sessionguard -------------------------------------------------------

func (s *Server) openSessionguard(ctx context.Context, o Options) error {
	var store storage.Store
	switch o.Backend {
	case Memory:
		st := memory.New(memory.Options{})
		s.onClose(func() { st.Close() })
		store = st
	case Postgres:
		pool, err := schemaPool(ctx, s, o.PostgresURL)
		if err != nil {
			return err
		}
		st, err := postgres.New(ctx, pool, postgres.Options{Channel: pool.Config().ConnConfig.RuntimeParams["search_path"]})
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		s.onClose(func() { st.Close() })
		store = st
	case Redis:
		prefix := randomName("bench:sg:") + ":"
		if err := dropRedisPrefix(ctx, s, o.RedisURL, prefix); err != nil {
			return err
		}
		st, err := sgredis.Open(ctx, o.RedisURL, sgredis.Options{Prefix: prefix})
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		s.onClose(func() { st.Close() })
		store = st
	}
	keys, err := session.GenerateKeyPair()
	if err != nil {
		return err
	}
	cfg := session.Config{Store: store, Keys: []session.KeyPair{keys}, Insecure: true}
	if o.Miss {
		cfg.RevocationTTL = time.Nanosecond
	}
	m, err := session.New(cfg)
	if err != nil {
		return err
	}
	s.onClose(func() { m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Login(w, r, r.URL.Query().Get("user"), storage.AuthPassword); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.Handle("GET /{$}", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(ok)
	})))
	mux.Handle("POST /logout-others", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, _ := session.FromContext(r.Context())
		n, err := m.RevokeOthers(r.Context(), session.Audit{Request: r}, cur)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeCount(w, n)
	})))
	s.Handler = m.Handler(mux)
	return nil
}

// --- scs v2 -------------------------------------------------------------

// scsSchema is the table pgxstore documents.
const scsSchema = `CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);`

func (s *Server) openSCS(ctx context.Context, o Options) error {
	sm := scs.New()
	sm.Cookie.Secure = false
	// The stores' expiry sweeps are off (interval 0): their StopCleanup
	// races with the sweep goroutine's start, and a sweep every few minutes
	// plays no part in the measurements.
	switch o.Backend {
	case Memory:
		sm.Store = memstore.NewWithCleanupInterval(0)
	case Postgres:
		pool, err := schemaPool(ctx, s, o.PostgresURL)
		if err != nil {
			return err
		}
		if _, err := pool.Exec(ctx, scsSchema); err != nil {
			return fmt.Errorf("bench: scs schema: %w", err)
		}
		sm.Store = pgxstore.NewWithCleanupInterval(pool, 0)
	case Redis:
		prefix := randomName("bench:scs:") + ":"
		if err := dropRedisPrefix(ctx, s, o.RedisURL, prefix); err != nil {
			return err
		}
		pool := &redis.Pool{
			MaxIdle: 16,
			Dial:    func() (redis.Conn, error) { return redis.DialURL(o.RedisURL) },
		}
		s.onClose(func() { pool.Close() })
		sm.Store = redisstore.NewWithPrefix(pool, prefix)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// scs's documented login: a new token (no fixation), then the user.
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sm.Put(r.Context(), "userID", r.URL.Query().Get("user"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if sm.GetString(r.Context(), "userID") == "" {
			unauthorized(w)
			return
		}
		w.Write(ok)
	})
	mux.HandleFunc("POST /logout-others", func(w http.ResponseWriter, r *http.Request) {
		user := sm.GetString(r.Context(), "userID")
		if user == "" {
			unauthorized(w)
			return
		}
		// scs has no per-user index: its documented way is to iterate
		// over every session in the store (IterableStore) and destroy the
		// user's other ones.
		current := sm.Token(r.Context())
		n := 0
		err := sm.Iterate(r.Context(), func(ctx context.Context) error {
			if sm.GetString(ctx, "userID") != user || sm.Token(ctx) == current {
				return nil
			}
			n++
			return sm.Destroy(ctx)
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeCount(w, n)
	})
	s.Handler = sm.LoadAndSave(mux)
	return nil
}

// --- gorilla/sessions CookieStore ----------------------------------------

func (s *Server) openGorilla() error {
	store := sessions.NewCookieStore(securecookie.GenerateRandomKey(64), securecookie.GenerateRandomKey(32))
	store.Options.Secure = false
	store.Options.HttpOnly = true
	const name = "session"
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		sess, _ := store.New(r, name)
		sess.Values["userID"] = r.URL.Query().Get("user")
		if err := sess.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		sess, err := store.Get(r, name)
		if user, _ := sess.Values["userID"].(string); err != nil || user == "" {
			unauthorized(w)
			return
		}
		w.Write(ok)
	})
	// A cookie store cannot end another device's session: no
	// POST /logout-others (the mux answers 404/405).
	s.Handler = mux
	return nil
}

// --- the floor ------------------------------------------------------------

// floor is the least a library with signed, encrypted cookies and a
// server-side revocation check does per request: find the cookie,
// securecookie-decode it (HMAC-SHA256 + AES-256, no serializer), hash the
// token, look it up in a golang-lru cache, and hand the user to the handler
// through the request context. It has no storage, no expiry, no rotation.
type floor struct {
	sc    *securecookie.SecureCookie
	cache *lru.Cache[[sha256.Size]byte, string]
}

type floorKey struct{}

const floorCookie = "session"

func (s *Server) openFloor() error {
	sc := securecookie.New(securecookie.GenerateRandomKey(64), securecookie.GenerateRandomKey(32))
	sc.SetSerializer(securecookie.NopEncoder{})
	cache, err := lru.New[[sha256.Size]byte, string](session.DefaultCacheSize)
	if err != nil {
		return err
	}
	f := &floor{sc: sc, cache: cache}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", f.login)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if u, _ := r.Context().Value(floorKey{}).(string); u == "" {
			unauthorized(w)
			return
		}
		w.Write(ok)
	})
	s.Handler = f.middleware(mux)
	return nil
}

func (f *floor) login(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	token := make([]byte, 32, 32+len(user))
	rand.Read(token)
	f.cache.Add(sha256.Sum256(token), user)
	v, err := f.sc.Encode(floorCookie, append(token, user...))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: floorCookie, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (f *floor) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, found := cookieValue(r.Header, floorCookie)
		if !found {
			next.ServeHTTP(w, r)
			return
		}
		var b []byte
		if err := f.sc.Decode(floorCookie, v, &b); err != nil || len(b) <= 32 {
			next.ServeHTTP(w, r)
			return
		}
		if user, hit := f.cache.Get(sha256.Sum256(b[:32])); hit && user == string(b[32:]) {
			r = r.WithContext(context.WithValue(r.Context(), floorKey{}, user))
		}
		next.ServeHTTP(w, r)
	})
}

// cookieValue finds the cookie name in h without allocating.
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, found := strings.Cut(strings.TrimSpace(part), "=")
			if found && k == name {
				return v, true
			}
		}
	}
	return "", false
}

// --- server isolation -------------------------------------------------------

// schemaPool opens a pool on a new schema of its own, dropped at s.Close.
func schemaPool(ctx context.Context, s *Server, url string) (*pgxpool.Pool, error) {
	schema := randomName("bench_")
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", EnvPostgres, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, fmt.Errorf("bench: create schema: %w", err)
	}
	s.onClose(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, url); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: invalid URL", EnvPostgres)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	s.onClose(pool.Close)
	return pool, nil
}

// dropRedisPrefix deletes every key under prefix at s.Close.
func dropRedisPrefix(ctx context.Context, s *Server, url, prefix string) error {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("bench: %s: invalid URL", EnvRedis)
	}
	c := goredis.NewClient(o)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return fmt.Errorf("bench: %s: %w", EnvRedis, err)
	}
	s.onClose(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				c.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			c.Unlink(ctx, keys...)
		}
	})
	return nil
}
