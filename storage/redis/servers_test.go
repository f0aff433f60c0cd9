package redis_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// privateServer is a redis-server process that one test starts on a free
// loopback port, to kill, pause or fail over without touching the servers
// other tests share. It is killed at cleanup.
type privateServer struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// needPrivateServers skips tb unless the failover drills can run: they
// start their own redis-server processes, and run where the shared Redis
// tests run (SESSION_TEST_REDIS_URL set, as .ci/run does).
func needPrivateServers(tb testing.TB) {
	tb.Helper()
	if os.Getenv(envURL) == "" {
		tb.Skipf("%s is not set: the Redis failover drills run only where the Redis tests do", envURL)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Skip("redis-server is not on PATH: the failover drills start their own servers")
	}
}

// freePort returns a loopback port that is free, and whose cluster bus
// port (port+10000) is free too.
func freePort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if p+10000 > 65535 {
			continue
		}
		if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000)); err == nil {
			_ = l2.Close()
			return p
		}
	}
	tb.Fatal("no free port pair found")
	return 0
}

// startServer starts redis-server with extra arguments (after the port,
// bind and no-persistence ones), waits until it answers, and kills it at
// cleanup.
func startServer(tb testing.TB, extra ...string) *privateServer {
	tb.Helper()
	port := freePort(tb)
	dir := tb.TempDir()
	args := append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"),
	}, extra...)
	return runServer(tb, port, exec.Command("redis-server", args...))
}

// startSentinel starts a sentinel watching master name at primary with
// quorum 1 and a short down-after, and kills it at cleanup.
func startSentinel(tb testing.TB, name string, primary *privateServer) *privateServer {
	tb.Helper()
	port := freePort(tb)
	dir := tb.TempDir()
	host, pport, _ := net.SplitHostPort(primary.addr)
	conf := strings.Join([]string{
		"port " + strconv.Itoa(port),
		"bind 127.0.0.1",
		"dir " + dir,
		"logfile " + filepath.Join(dir, "sentinel.log"),
		fmt.Sprintf("sentinel monitor %s %s %s 1", name, host, pport),
		"sentinel down-after-milliseconds " + name + " 500",
		"sentinel failover-timeout " + name + " 5000",
		"",
	}, "\n")
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	return runServer(tb, port, exec.Command("redis-server", path, "--sentinel"))
}

func runServer(tb testing.TB, port int, cmd *exec.Cmd) *privateServer {
	tb.Helper()
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %v: %v", cmd.Args, err)
	}
	s := &privateServer{addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	c := s.client()
	defer c.Close()
	waitUntil(tb, 10*time.Second, "redis-server "+s.addr+" answers", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
	return s
}

// client returns a plain client on the server; the caller closes it.
func (s *privateServer) client() *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: s.addr, MaxRetries: -1, DialTimeout: time.Second})
}

// kill kills the server (SIGKILL: no chance to hand anything over).
func (s *privateServer) kill(tb testing.TB) {
	tb.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		tb.Fatal(err)
	}
	<-s.done
}

// signal sends sig (SIGSTOP, SIGCONT) to the server.
func (s *privateServer) signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
}

// do runs one command on the server and fails tb on error.
func (s *privateServer) do(tb testing.TB, args ...any) any {
	tb.Helper()
	c := s.client()
	defer c.Close()
	v, err := c.Do(context.Background(), args...).Result()
	if err != nil {
		tb.Fatalf("%s %v: %v", s.addr, args, err)
	}
	return v
}

// try runs one command on the server and returns its reply, or nil on an
// error (a server that is restarting its role drops connections).
func (s *privateServer) try(args ...any) any {
	c := s.client()
	defer c.Close()
	v, _ := c.Do(context.Background(), args...).Result()
	return v
}

// waitUntil polls ok until it holds, or fails tb after d.
func waitUntil(tb testing.TB, d time.Duration, what string, ok func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond) // polling a server's state
	}
}

// sentinelSet is a private primary, replica and sentinel.
type sentinelSet struct {
	primary, replica, sentinel *privateServer
	name                       string
}

// startSentinelSet starts a primary, a replica of it and a sentinel, and
// waits until the sentinel knows the replica.
func startSentinelSet(tb testing.TB) *sentinelSet {
	tb.Helper()
	p := startServer(tb)
	host, port, _ := net.SplitHostPort(p.addr)
	r := startServer(tb, "--replicaof", host, port)
	set := &sentinelSet{primary: p, replica: r, name: "drill"}
	waitUntil(tb, 10*time.Second, "replica in sync", func() bool {
		info, _ := r.try("info", "replication").(string)
		return strings.Contains(info, "master_link_status:up")
	})
	set.sentinel = startSentinel(tb, set.name, p)
	waitUntil(tb, 10*time.Second, "sentinel sees the replica", func() bool {
		v, _ := set.sentinel.try("sentinel", "replicas", set.name).([]any)
		return len(v) == 1
	})
	return set
}

// url returns the failover URL of the set.
func (set *sentinelSet) url() string {
	return "redis://" + set.sentinel.addr + "?master_name=" + set.name
}

// masterAddr returns the primary's address as the sentinel has it.
func (set *sentinelSet) masterAddr(tb testing.TB) string {
	tb.Helper()
	v, _ := set.sentinel.do(tb, "sentinel", "get-master-addr-by-name", set.name).([]any)
	if len(v) != 2 {
		tb.Fatalf("get-master-addr-by-name: got %v", v)
	}
	return fmt.Sprintf("%v:%v", v[0], v[1])
}

// privateCluster is a cluster of three private nodes: m1 serves every
// slot, r1 is its replica, m2 is a master with no slots (the target of a
// resharding).
type privateCluster struct {
	m1, r1, m2 *privateServer
}

// startCluster starts and joins the three nodes and waits until every
// node reports the cluster ok and r1 replicates m1.
func startCluster(tb testing.TB) *privateCluster {
	tb.Helper()
	node := func() *privateServer {
		return startServer(tb, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000")
	}
	c := &privateCluster{m1: node(), r1: node(), m2: node()}
	c.m1.do(tb, "cluster", "addslotsrange", 0, 16383)
	host, port, _ := net.SplitHostPort(c.m1.addr)
	for _, n := range []*privateServer{c.r1, c.m2} {
		n.do(tb, "cluster", "meet", host, port)
	}
	id1 := c.m1.id(tb)
	waitUntil(tb, 10*time.Second, "r1 knows m1", func() bool {
		nodes, _ := c.r1.try("cluster", "nodes").(string)
		return strings.Contains(nodes, id1)
	})
	c.r1.do(tb, "cluster", "replicate", id1)
	for _, n := range []*privateServer{c.m1, c.r1, c.m2} {
		waitUntil(tb, 20*time.Second, "cluster ok on "+n.addr, func() bool {
			info, _ := n.try("cluster", "info").(string)
			nodes, _ := n.try("cluster", "nodes").(string)
			return strings.Contains(info, "cluster_state:ok") && strings.Count(nodes, "connected") == 3
		})
	}
	waitUntil(tb, 20*time.Second, "r1 in sync", func() bool {
		info, _ := c.r1.try("info", "replication").(string)
		return strings.Contains(info, "master_link_status:up")
	})
	return c
}

// url returns the cluster URL form of the three nodes.
func (c *privateCluster) url() string {
	return "redis://" + c.m1.addr + "?addr=" + c.r1.addr + "&addr=" + c.m2.addr
}

// id returns the node's cluster ID.
func (s *privateServer) id(tb testing.TB) string {
	tb.Helper()
	id, _ := s.do(tb, "cluster", "myid").(string)
	return id
}

// moveSlot migrates slot, with its keys, from one master to another, as
// redis-cli --cluster reshard does, and tells every node.
func (c *privateCluster) moveSlot(tb testing.TB, slot int64, from, to *privateServer) {
	tb.Helper()
	fromID, toID := from.id(tb), to.id(tb)
	to.do(tb, "cluster", "setslot", slot, "importing", fromID)
	from.do(tb, "cluster", "setslot", slot, "migrating", toID)
	host, port, _ := net.SplitHostPort(to.addr)
	for {
		keys, _ := from.do(tb, "cluster", "getkeysinslot", slot, 100).([]any)
		if len(keys) == 0 {
			break
		}
		args := []any{"migrate", host, port, "", 0, 5000, "keys"}
		from.do(tb, append(args, keys...)...)
	}
	for _, n := range []*privateServer{to, from} {
		n.do(tb, "cluster", "setslot", slot, "node", toID)
	}
}
