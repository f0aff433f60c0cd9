// Command example is a small web app that shows sessionguard in a browser:
// sign up, sign in (with an authenticator app as a second factor), see your
// devices and log them out one by one, all others or everywhere, connect an
// app, read the security log, change the password.
//
//	go run ./example                       # http://localhost:8080, demo / demo-password
//	go run ./example -addr :9000           # another address
//	go run ./example -store memory         # forget everything on exit
//	go run ./example -postgres postgres://user:pass@localhost/db
//	go run ./example -redis redis://localhost:6379/0
//	go run ./example -geoip GeoLite2-City.mmdb   # show where devices are
//	go run ./example -demo                 # made-up devices, places and events, in memory
//	go run -tags sqliteonly ./example      # builds faster: no PostgreSQL or Redis driver
//
// Everything it keeps lives in the data directory (-data, default "data",
// git-ignored): the keys generated on first start (keys.json, never
// regenerated, so sessions survive a restart), the SQLite database
// (sessions.db) and the accounts (users.json, bcrypt hashes only).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sessionguard/sessionguard/session/geoip"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	dataDir := flag.String("data", "data", "directory for the generated keys, the SQLite database and the accounts")
	storeKind := flag.String("store", storeSQLite, "session store: sqlite (in the data directory) or memory")
	postgresURL := flag.String("postgres", "", "PostgreSQL URL: keep sessions in PostgreSQL instead")
	redisURL := flag.String("redis", "", "Redis URL: keep sessions in Redis instead")
	geoIP := flag.String("geoip", "", "MaxMind GeoLite2-City .mmdb file, to show where devices are")
	demo := flag.Bool("demo", false, "fill the demo account with made-up devices, places and events (kept in memory, labelled as demo data)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := appConfig{DataDir: *dataDir, Logger: logger, StoreKind: *storeKind}
	switch {
	case *postgresURL != "" && *redisURL != "":
		fmt.Fprintln(os.Stderr, "example: choose -postgres or -redis, not both")
		os.Exit(2)
	case *postgresURL != "":
		cfg.StoreKind, cfg.StoreURL = storePostgres, *postgresURL
	case *redisURL != "":
		cfg.StoreKind, cfg.StoreURL = storeRedis, *redisURL
	case *storeKind != storeSQLite && *storeKind != storeMemory:
		fmt.Fprintln(os.Stderr, "example: -store is sqlite or memory (use -postgres or -redis for those)")
		os.Exit(2)
	}
	if *demo {
		if *postgresURL != "" || *redisURL != "" || *geoIP != "" {
			fmt.Fprintln(os.Stderr, "example: -demo keeps its made-up data in memory; it takes no store or GeoIP flag")
			os.Exit(2)
		}
		cfg = demoConfig(cfg)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *addr, cfg, *geoIP); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// run serves the app on addr until ctx is done, telling out where.
func run(ctx context.Context, out io.Writer, addr string, cfg appConfig, geoIP string) error {
	// Listen first and say where: everything after this can take a moment
	// (a remote store, a GeoIP file), and the address is what a person
	// waits for.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Fprintf(out, "sessionguard example listening on %s\n", displayURL(ln.Addr()))
	fmt.Fprintf(out, "sessions kept in: %s\n", describeStore(cfg))
	if geoIP != "" {
		geo, err := geoip.Open(geoIP)
		if err != nil {
			return err
		}
		defer geo.Close()
		cfg.Locator = geo
	}
	cfg.PasskeyOrigin = displayURL(ln.Addr())
	a, err := newApp(cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.seed != nil {
		if err := cfg.seed(a); err != nil {
			return fmt.Errorf("filling in the demo data: %w", err)
		}
		fmt.Fprintln(out, "demo mode: made-up devices, places and events, kept in memory")
	}

	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(out, "ready: open %s and log in as %s / %s\n", displayURL(ln.Addr()), demoUser, demoPassword)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// describeStore says where sessions are kept, without the URL's password.
func describeStore(cfg appConfig) string {
	switch cfg.StoreKind {
	case storeMemory:
		return "memory (lost on exit)"
	case storePostgres, storeRedis:
		if u, err := url.Parse(cfg.StoreURL); err == nil {
			return cfg.StoreKind + " at " + u.Redacted()
		}
		return cfg.StoreKind
	default:
		return "SQLite, " + filepath.Join(cfg.DataDir, "sessions.db")
	}
}

// displayURL turns a listener address into a URL a person can click.
func displayURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
