// Command loadserver serves one library's equivalent small server (see
// package bench) on a free loopback port for the HTTP load test.
//
//	loadserver -lib sessionguard -backend memory [-max 5m]
//
// It signs one user in through the server's own POST /login, then prints
// one line, "<address> <Cookie header>", and serves until it receives
// SIGINT or SIGTERM, or -max has passed, whichever comes first. The
// PostgreSQL and Redis backends read SESSION_TEST_POSTGRES_URL and
// SESSION_TEST_REDIS_URL; it exits with status 3 when the one it needs is
// not set.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sessionguard/sessionguard/bench"
)

func main() {
	lib := flag.String("lib", bench.Sessionguard, "library: sessionguard, scs, gorilla or floor")
	backend := flag.String("backend", bench.Memory, "backend: memory, postgres, redis (sessionguard, scs) or cookie (gorilla, floor)")
	maxRun := flag.Duration("max", 5*time.Minute, "exit after this long even if never signalled")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("loadserver: ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxRun)
	defer cancel()

	s, err := bench.Open(ctx, bench.OptionsFromEnv(*lib, *backend))
	if errors.Is(err, bench.ErrSkip) {
		log.Print(err)
		os.Exit(3)
	} else if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	cookie, err := signIn(s.Handler)
	if err != nil {
		log.Print(err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Print(err)
		return
	}
	srv := &http.Server{Handler: s.Handler, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Printf("%s %s\n", ln.Addr(), cookie)

	select {
	case <-ctx.Done():
	case err := <-done:
		log.Print(err)
	}
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	srv.Shutdown(shutdown)
}

// signIn signs "loadtest" in through h and returns the Cookie header that
// authenticates as that user, after checking that GET / accepts it.
func signIn(h http.Handler) (string, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login?user=loadtest", nil))
	var cookie string
	for _, c := range rec.Result().Cookies() {
		if c.Value != "" && c.MaxAge >= 0 {
			cookie = c.Name + "=" + c.Value
		}
	}
	if rec.Code != http.StatusOK || cookie == "" {
		return "", fmt.Errorf("POST /login: got status %d and no session cookie", rec.Code)
	}
	rec = httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", cookie)
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("GET / with the new session: got status %d, want 200", rec.Code)
	}
	return cookie, nil
}
