package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestRunSaysWhereFirst: the address is printed the moment the app
// listens, before anything slow (here a store that cannot be reached);
// "ready" follows once the app serves.
func TestRunSaysWhereFirst(t *testing.T) {
	t.Parallel()
	t.Run("the address comes before the store opens, even when it never does", func(t *testing.T) {
		var out bytes.Buffer
		cfg := appConfig{DataDir: t.TempDir(), Logger: quietLogger(), BcryptCost: bcrypt.MinCost,
			StoreKind: storePostgres, StoreURL: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"}
		if err := run(t.Context(), &out, "127.0.0.1:0", cfg, ""); err == nil {
			t.Fatal("run with an unreachable store: got no error")
		}
		if got := out.String(); !strings.HasPrefix(got, "sessionguard example listening on http://localhost:") || strings.Contains(got, "ready") {
			t.Errorf("run with an unreachable store printed %q, want the address first and no ready", got)
		}
	})
	t.Run("with -demo the data is filled in before ready", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		r, w := io.Pipe()
		cfg := demoConfig(appConfig{DataDir: t.TempDir(), Logger: quietLogger(), BcryptCost: bcrypt.MinCost})
		done := make(chan error, 1)
		go func() { done <- run(ctx, w, "127.0.0.1:0", cfg, ""); w.Close() }()
		var lines []string
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.HasPrefix(sc.Text(), "ready:") {
				cancel()
				go io.Copy(io.Discard, r)
				break
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("run: %v", err)
		}
		want := []string{"sessionguard example listening on", "sessions kept in: memory", "demo mode:", "ready: open http://localhost:"}
		if len(lines) != len(want) {
			t.Fatalf("got %q, want lines starting %q", lines, want)
		}
		for i := range want {
			if !strings.HasPrefix(lines[i], want[i]) {
				t.Errorf("line %d: got %q, want it to start with %q", i+1, lines[i], want[i])
			}
		}
	})
}
