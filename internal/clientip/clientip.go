// Package clientip finds the address of the client that sent an HTTP
// request, believing proxy headers only from proxies the application trusts.
//
// The immediate peer (http.Request.RemoteAddr) is the only address the
// server saw itself. A reverse proxy in front of the application reports the
// client it saw by appending to X-Forwarded-For or to Forwarded (RFC 7239),
// but anyone can send those headers: an entry is believed only when every
// hop to its right is a trusted proxy. [Resolver.ClientIP] therefore walks
// the list from the right, skipping trusted proxies, and stops at the first
// address it does not trust: that is the client. Everything to the left of
// it was written by that client and is ignored (see "The perils of the 'real'
// client IP" for the attacks this prevents).
//
// With no trusted prefixes the headers are never read and the client is the
// immediate peer: the right default for an application that faces the
// internet directly.
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

const (
	// MaxHeaderBytes is how much of a forwarding header, counted from its
	// right end, the resolver reads. The entries that matter are the ones
	// trusted proxies appended on the right; a client can pad the left
	// with anything, and that part is never read.
	MaxHeaderBytes = 4 << 10

	// MaxHops is how many entries, counted from the right, the resolver
	// reads. A real chain of proxies is a handful long.
	MaxHops = 64
)

// Header selects the forwarding header a [Resolver] reads.
type Header int

const (
	// HeaderAuto reads Forwarded (RFC 7239) when a request has one, and
	// X-Forwarded-For otherwise. Use it only behind proxies that set or
	// strip both headers: if a trusted proxy writes X-Forwarded-For but
	// passes a client's Forwarded header through unchanged, the client can
	// choose its own address. Prefer naming the header your proxy writes.
	HeaderAuto Header = iota
	// HeaderForwarded reads only Forwarded (RFC 7239).
	HeaderForwarded
	// HeaderXForwardedFor reads only X-Forwarded-For.
	HeaderXForwardedFor
)

// Option configures a [Resolver] at construction.
type Option func(*Resolver)

// WithHeader makes the resolver read only the given forwarding header. The
// default is [HeaderAuto].
func WithHeader(h Header) Option {
	return func(r *Resolver) { r.header = h }
}

// Resolver finds a request's client address. Build it with [New]; it is
// immutable afterwards and safe for concurrent use. The zero value trusts no
// proxy and answers the immediate peer.
type Resolver struct {
	trusted []netip.Prefix
	header  Header
}

// New returns a Resolver that believes forwarding headers only from peers in
// the trusted prefixes (for example your load balancer's subnet, or
// 127.0.0.1/32 for a proxy on the same host). Prefixes are masked;
// IPv4-mapped IPv6 prefixes (::ffff:10.0.0.0/104) are treated as the IPv4
// prefix they map; invalid prefixes trust nothing and are skipped. New copies
// the slice. By default the resolver reads Forwarded when present and
// X-Forwarded-For otherwise ([HeaderAuto]).
func New(trusted []netip.Prefix, opts ...Option) *Resolver {
	r := &Resolver{trusted: make([]netip.Prefix, 0, len(trusted))}
	for _, p := range trusted {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	for _, opt := range opts {
		opt(r)
	}
	return r
}

// ClientIP returns the address of the client that sent req.
//
// It starts from the immediate peer, parsed from req.RemoteAddr ("ip:port",
// "[ipv6]:port" or a bare address); if that cannot be parsed it returns the
// invalid netip.Addr{} (for example on a Unix socket). If the peer is not
// trusted, the peer is the answer and no header is read. Otherwise ClientIP
// reads the forwarding header (all its lines, in order, as one
// comma-separated list) from the right: it skips trusted addresses and
// returns the first untrusted one. It stops, and returns the last address it
// accepted, at the first entry that is not an address (garbage, an
// obfuscated identifier such as "unknown" or "_hidden", a Forwarded element
// without for=), after [MaxHops] entries or [MaxHeaderBytes] bytes: nothing
// to the left of such an entry can be believed. When every entry is trusted,
// that is the leftmost one.
//
// The result never has a zone and an IPv4-mapped IPv6 address is returned as
// IPv4. It is always either invalid or an address that appears in the
// request. A nil *Resolver behaves as the zero value.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	peer := ParseRemoteAddr(req.RemoteAddr)
	if !peer.IsValid() || !r.trusts(peer) {
		return peer
	}
	switch r.header {
	case HeaderForwarded:
		return r.walk(peer, req.Header.Values("Forwarded"), parseForwardedElement)
	case HeaderXForwardedFor:
		return r.walk(peer, req.Header.Values("X-Forwarded-For"), parseNode)
	}
	if fwd := req.Header.Values("Forwarded"); present(fwd) {
		return r.walk(peer, fwd, parseForwardedElement)
	}
	return r.walk(peer, req.Header.Values("X-Forwarded-For"), parseNode)
}

// trusts reports whether a is inside a trusted prefix.
func (r *Resolver) trusts(a netip.Addr) bool {
	if r == nil {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// present reports whether a header has any non-blank line.
func present(lines []string) bool {
	for _, l := range lines {
		if trimOWS(l) != "" {
			return true
		}
	}
	return false
}

// walk reads the comma-separated list spread over lines from the right, as
// ClientIP describes, starting from the trusted peer.
func (r *Resolver) walk(peer netip.Addr, lines []string, parse func(string) (netip.Addr, bool)) netip.Addr {
	last := peer
	budget, hops := MaxHeaderBytes, 0
	for li := len(lines) - 1; li >= 0; li-- {
		line := lines[li]
		cut := false
		if len(line) > budget {
			// Keep the right end; the first entry of what is left may be
			// a fragment, so it is never read (below).
			line, cut = line[len(line)-budget:], true
		}
		// Every line costs at least a byte, so a flood of empty lines
		// ends the walk too.
		budget -= max(len(line), 1)
		for {
			i := strings.LastIndexByte(line, ',')
			if i < 0 && cut {
				return last
			}
			elem := line[i+1:]
			if elem = trimOWS(elem); elem != "" {
				// RFC 9110 §5.6.1: empty list elements are ignored.
				hops++
				if hops > MaxHops {
					return last
				}
				a, ok := parse(elem)
				if !ok {
					return last
				}
				last = a
				if !r.trusts(a) {
					return a
				}
			}
			if i < 0 {
				break
			}
			line = line[:i]
		}
		if budget <= 0 {
			return last
		}
	}
	return last
}

// trimOWS removes optional whitespace (RFC 9110 §5.6.3: SP and HTAB) from
// both ends of s.
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

// ParseRemoteAddr parses an http.Request.RemoteAddr: "ip:port",
// "[ipv6]:port", or a bare or bracketed address. It drops any IPv6 zone and
// unmaps IPv4-mapped IPv6 addresses. It returns the invalid netip.Addr{} for
// anything else, such as the address of a Unix socket.
func ParseRemoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap()
	}
	if inner, ok := bracketed(s); ok {
		if a, err := netip.ParseAddr(inner); err == nil && a.Is6() {
			return a.WithZone("").Unmap()
		}
	}
	return netip.Addr{}
}

// bracketed returns s without the square brackets around it.
func bracketed(s string) (string, bool) {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		return s[1 : len(s)-1], true
	}
	return "", false
}

// parseNode parses one X-Forwarded-For entry: an address, optionally with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711", as some load balancers
// write), or a bracketed IPv6 address. A zone is refused: no proxy writes
// one.
func parseNode(s string) (netip.Addr, bool) {
	var a netip.Addr
	if ip, err := netip.ParseAddr(s); err == nil {
		a = ip
	} else if ap, err := netip.ParseAddrPort(s); err == nil {
		a = ap.Addr()
	} else if inner, ok := bracketed(s); ok {
		ip, err := netip.ParseAddr(inner)
		if err != nil || !ip.Is6() {
			return netip.Addr{}, false
		}
		a = ip
	} else {
		return netip.Addr{}, false
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
