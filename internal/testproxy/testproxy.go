// Package testproxy is a loopback TCP proxy for fault tests: it forwards
// connections to a server and can cut them (as a crashed server or a reset
// network would), black-hole them (as a silent partition would) and let
// traffic through again. It is meant for tests only and talks only to
// loopback addresses the test chose.
package testproxy

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards every connection accepted on Addr to the target. Safe for
// concurrent use. Its resources are released by the test's cleanup.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool // Cut: refuse new connections
	conns map[*link]struct{}
	wg    sync.WaitGroup
}

type link struct {
	client, server net.Conn
	mu             sync.Mutex
	blackhole      bool
}

// New starts a proxy on 127.0.0.1 in front of target ("host:port").
func New(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testproxy: listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[*link]struct{}{}}
	p.wg.Go(p.accept)
	tb.Cleanup(func() {
		ln.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port.
func (p *Proxy) Port() uint16 { return uint16(p.ln.Addr().(*net.TCPAddr).Port) }

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		l := &link{client: client, server: server}
		p.mu.Lock()
		p.conns[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(l, server, client) })
		p.wg.Go(func() { p.pipe(l, client, server) })
	}
}

func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.conns, l)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		l.mu.Lock()
		drop := l.blackhole
		l.mu.Unlock()
		if drop {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// Cut closes every connection and refuses new ones until Restore: clients
// see resets and failed connects at once.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
}

// Blackhole silently drops all traffic on the connections open now, like a
// network partition that nobody reports. New connections still work.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.conns {
		l.mu.Lock()
		l.blackhole = true
		l.mu.Unlock()
	}
}

// Restore accepts new connections again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.client.Close()
		l.server.Close()
	}
}
