package redis_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// dieWithTest makes the kernel kill cmd when the test binary dies: a test
// binary that exits without running its cleanups (go test -timeout
// panics and exits) must not leave private servers running.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// envOrphanHelper makes TestPrivateServerHelper start a server and exit
// without cleanups.
const envOrphanHelper = "SESSION_TEST_REDIS_ORPHAN_HELPER"

// TestPrivateServerHelper is run by TestPrivateServersDieWithTheTestBinary
// in a child test binary; otherwise it does nothing.
func TestPrivateServerHelper(t *testing.T) {
	if os.Getenv(envOrphanHelper) == "" {
		return
	}
	s := startServer(t)
	fmt.Printf("addr=%s\n", s.addr)
	os.Exit(3) // as a test timeout does: no cleanup runs
}

func TestPrivateServersDieWithTheTestBinary(t *testing.T) {
	needPrivateServers(t)
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPrivateServerHelper$")
	cmd.Env = append(os.Environ(), envOrphanHelper+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var addr string
	for sc := bufio.NewScanner(out); sc.Scan(); {
		if a, ok := strings.CutPrefix(sc.Text(), "addr="); ok {
			addr = a
		}
	}
	_ = cmd.Wait()
	if addr == "" {
		t.Fatal("the helper did not start a server")
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(context.Background()).Err() == nil {
		if time.Now().After(deadline) {
			_ = c.Do(context.Background(), "shutdown", "nosave").Err()
			t.Fatalf("the server the helper started at %s still runs 5 s after the helper died", addr)
		}
		time.Sleep(20 * time.Millisecond) // polling for the kill
	}
}
