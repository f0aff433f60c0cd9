package postgres_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// envPGBin names the environment variable that overrides the directory of
// the PostgreSQL server binaries the failover tests run privately.
const envPGBin = "SESSION_TEST_PG_BIN"

// pgBinGlob is where Debian's postgresql packages install them, one
// directory per major version; the newest is used.
const pgBinGlob = "/usr/lib/postgresql/*/bin"

// privateServer is a PostgreSQL server of the test's own, in a temporary
// directory, on a free loopback port, that the test may stop, restart and
// promote: never the shared server.
type privateServer struct {
	t       testing.TB
	bin     string
	data    string
	sockets string
	port    int
	runAs   string // OS user to run the server as ("": the current one)
	extra   []string
}

// pgBin returns the directory of the server binaries, or skips tb.
func pgBin(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv(envPGBin)
	if bin == "" {
		dirs, _ := filepath.Glob(pgBinGlob)
		slices.SortFunc(dirs, func(a, b string) int {
			va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
			vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
			return va - vb
		})
		if len(dirs) == 0 {
			tb.Skipf("no PostgreSQL server binaries in %s (install Debian's postgresql package, or set %s)", pgBinGlob, envPGBin)
		}
		bin = dirs[len(dirs)-1]
	}
	for _, name := range []string{"initdb", "pg_ctl", "postgres", "pg_basebackup"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			tb.Skipf("PostgreSQL server binaries not found in %s (install Debian's postgresql package, or set %s): %v", bin, envPGBin, err)
		}
	}
	return bin
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newPrivateDir returns a temporary directory that the server's OS user
// can use: PostgreSQL refuses to run as root, so as root the server runs
// as the postgres user.
func newPrivateDir(tb testing.TB) (dir, runAs string) {
	tb.Helper()
	dir = tb.TempDir()
	if os.Geteuid() != 0 {
		return dir, ""
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		tb.Skipf("running as root and no postgres OS user to run a private PostgreSQL server as: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The parents made by TempDir are private to root: let the server's
	// user through, without listing them.
	for p := dir; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o711); err != nil {
			tb.Fatalf("chmod: %v", err)
		}
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		tb.Fatalf("chown: %v", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		tb.Fatalf("chmod: %v", err)
	}
	return dir, "postgres"
}

// run runs a server binary as the server's OS user.
func (s *privateServer) run(name string, args ...string) {
	s.t.Helper()
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// startPrivateServer initdbs a cluster and starts it. extra are more
// "-c name=value" server settings.
func startPrivateServer(tb testing.TB, extra ...string) *privateServer {
	tb.Helper()
	bin := pgBin(tb)
	dir, runAs := newPrivateDir(tb)
	s := &privateServer{t: tb, bin: bin, data: filepath.Join(dir, "data"), sockets: dir, port: freePort(tb), runAs: runAs, extra: extra}
	s.run("initdb", "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	// Before start: pg_ctl can fail (a -w timeout on a loaded machine)
	// with the server running, and nothing else would stop it.
	tb.Cleanup(s.stopQuietly)
	s.start()
	return s
}

// standby makes a streaming-replication standby of s (pg_basebackup) and
// starts it.
func (s *privateServer) standby(extra ...string) *privateServer {
	s.t.Helper()
	dir, runAs := newPrivateDir(s.t)
	r := &privateServer{t: s.t, bin: s.bin, data: filepath.Join(dir, "data"), sockets: dir, port: freePort(s.t), runAs: runAs, extra: extra}
	s.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "postgres",
		"-D", r.data, "-R", "-X", "stream", "--no-sync", "-c", "fast")
	s.t.Cleanup(r.stopQuietly) // before start, as in startPrivateServer
	r.start()
	return r
}

func (s *privateServer) start() {
	s.t.Helper()
	opts := []string{"-p", strconv.Itoa(s.port), "-k", s.sockets, "-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=60", "-c", "shared_buffers=16MB", "-c", "fsync=off"}
	for _, e := range s.extra {
		opts = append(opts, "-c", e)
	}
	s.run("pg_ctl", "-D", s.data, "-l", filepath.Join(s.data, "server.log"), "-w", "-t", "60",
		"-o", strings.Join(opts, " "), "start")
}

// stop stops the server the way a crash would (immediate: no checkpoint,
// every connection dropped).
func (s *privateServer) stop() {
	s.t.Helper()
	s.run("pg_ctl", "-D", s.data, "-m", "immediate", "-w", "stop")
}

// promote makes a standby the primary.
func (s *privateServer) promote() {
	s.t.Helper()
	s.run("pg_ctl", "-D", s.data, "-w", "promote")
}

func (s *privateServer) stopQuietly() {
	path := filepath.Join(s.bin, "pg_ctl")
	args := []string{"-D", s.data, "-m", "immediate", "-w", "stop"}
	if s.runAs != "" {
		_ = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...).Run()
	} else {
		_ = exec.Command(path, args...).Run()
	}
}

// hostPort is the server's "127.0.0.1:port".
func (s *privateServer) hostPort() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// url returns a URL of database postgres on servers, in order: more than
// one makes a multi-host URL that connects to the first read-write one.
func serversURL(servers ...*privateServer) string {
	hosts := make([]string, len(servers))
	for i, s := range servers {
		hosts[i] = s.hostPort()
	}
	u := "postgres://postgres@" + strings.Join(hosts, ",") + "/postgres?sslmode=disable&connect_timeout=2"
	if len(servers) > 1 {
		u += "&target_session_attrs=read-write"
	}
	return u
}

// waitPrimary waits until url reaches a read-write server.
func waitPrimary(tb testing.TB, url string) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			var ro string
			err = conn.QueryRow(ctx, "SHOW transaction_read_only").Scan(&ro)
			_ = conn.Close(ctx)
			if err == nil && ro == "off" {
				cancel()
				return
			}
			if err == nil {
				err = fmt.Errorf("transaction_read_only = %s", ro)
			}
		}
		cancel()
		if time.Now().After(deadline) {
			tb.Fatalf("no read-write server at %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
