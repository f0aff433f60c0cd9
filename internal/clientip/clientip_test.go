package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// The proxies of the tests: a private subnet, a documentation IPv6 subnet
// and the loopback address. Clients use the other documentation ranges.
var testTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("2001:db8:ffff::/48"),
	netip.MustParsePrefix("127.0.0.1/32"),
}

func request(remote string, xff, fwd []string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remote
	for _, v := range xff {
		req.Header.Add("X-Forwarded-For", v)
	}
	for _, v := range fwd {
		req.Header.Add("Forwarded", v)
	}
	return req
}

func addr(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(s)
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	padding := strings.Repeat("198.51.100.66, ", 400) // 6 KiB a client prepends
	chain := strings.Repeat("10.0.0.9, ", MaxHops)
	tests := []struct {
		name   string
		header Header
		remote string
		xff    []string
		fwd    []string
		want   string
	}{
		{name: "an untrusted peer without headers is the client", remote: "203.0.113.7:5555", want: "203.0.113.7"},
		{name: "an untrusted peer's X-Forwarded-For is ignored", remote: "203.0.113.7:5555", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "an untrusted peer's Forwarded is ignored", remote: "203.0.113.7:5555", fwd: []string{"for=198.51.100.1"}, want: "203.0.113.7"},
		{name: "an untrusted peer whose headers name a trusted proxy is still the client", remote: "203.0.113.7:5555", xff: []string{"10.0.0.1"}, want: "203.0.113.7"},
		{name: "a trusted peer without headers is the client", remote: "10.0.0.1:5555", want: "10.0.0.1"},
		{name: "a trusted proxy's X-Forwarded-For names the client", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "a chain of trusted proxies is skipped from the right", remote: "10.0.0.4:5555", xff: []string{"203.0.113.7, 10.0.0.2, 10.0.0.3"}, want: "203.0.113.7"},
		{name: "a client's spoofed entry left of its real address is ignored", remote: "10.0.0.1:5555", xff: []string{"198.51.100.1, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "a client pretending to be a trusted proxy gains nothing", remote: "10.0.0.1:5555", xff: []string{"10.0.0.2, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "a chain of only trusted addresses answers the leftmost", remote: "10.0.0.1:5555", xff: []string{"10.0.0.2, 10.0.0.3"}, want: "10.0.0.2"},
		{name: "all header lines are read as one list in order", remote: "10.0.0.1:5555", xff: []string{"198.51.100.1", "203.0.113.7, 10.0.0.2"}, want: "203.0.113.7"},
		{name: "a client address in an earlier line is found", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7", "10.0.0.2"}, want: "203.0.113.7"},
		{name: "garbage at the right end leaves the peer", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7, garbage"}, want: "10.0.0.1"},
		{name: "garbage behind a trusted proxy leaves that proxy", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7, nonsense, 10.0.0.2"}, want: "10.0.0.2"},
		{name: "an unknown entry stops the walk", remote: "10.0.0.1:5555", xff: []string{"198.51.100.1, unknown"}, want: "10.0.0.1"},
		{name: "an address with a zone is garbage in a header", remote: "10.0.0.1:5555", xff: []string{"fe80::1%eth0"}, want: "10.0.0.1"},
		{name: "an IPv4 address with leading zeros is garbage", remote: "10.0.0.1:5555", xff: []string{"203.0.113.07"}, want: "10.0.0.1"},
		{name: "empty list elements are skipped", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7,, ,\t,10.0.0.2,"}, want: "203.0.113.7"},
		{name: "an IPv6 client behind an IPv6 proxy", remote: "[2001:db8:ffff::1]:443", xff: []string{"2001:db8:1::7"}, want: "2001:db8:1::7"},
		{name: "an IPv4-mapped client is unmapped", remote: "10.0.0.1:5555", xff: []string{"::ffff:203.0.113.7"}, want: "203.0.113.7"},
		{name: "an IPv4-mapped trusted peer is trusted", remote: "[::ffff:10.0.0.1]:5555", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "an IPv4 entry with a port is accepted", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7:4711"}, want: "203.0.113.7"},
		{name: "a bracketed IPv6 entry with a port is accepted", remote: "10.0.0.1:5555", xff: []string{"[2001:db8:1::7]:4711"}, want: "2001:db8:1::7"},
		{name: "a bracketed IPv6 entry without a port is accepted", remote: "10.0.0.1:5555", xff: []string{"[2001:db8:1::7]"}, want: "2001:db8:1::7"},
		{name: "a bracketed IPv4 entry is garbage", remote: "10.0.0.1:5555", xff: []string{"[203.0.113.7]"}, want: "10.0.0.1"},
		{name: "a client padding the header beyond the limit is still found", remote: "10.0.0.1:5555", xff: []string{padding + "203.0.113.7, 10.0.0.2"}, want: "203.0.113.7"},
		{name: "a walk that reaches the byte limit stops at the last trusted hop", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7" + strings.Repeat(",", MaxHeaderBytes) + "10.0.0.2"}, want: "10.0.0.2"},
		{name: "the byte limit spans header lines", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7", strings.Repeat(",", MaxHeaderBytes-10) + "10.0.0.2"}, want: "10.0.0.2"},
		{name: "a line that fits the byte limit exactly is read whole", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7" + strings.Repeat(",", MaxHeaderBytes-len("203.0.113.7"))}, want: "203.0.113.7"},
		{name: "a walk stops after MaxHops entries", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7, " + chain}, want: "10.0.0.9"},
		{name: "a chain of exactly MaxHops entries is read", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7, " + strings.Repeat("10.0.0.9, ", MaxHops-1)}, want: "203.0.113.7"},
		{name: "a flood of empty lines ends the walk", remote: "10.0.0.1:5555", xff: append([]string{"203.0.113.7"}, make([]string, MaxHeaderBytes+1)...), want: "10.0.0.1"},

		{name: "Forwarded names the client", remote: "10.0.0.1:5555", fwd: []string{"for=203.0.113.7"}, want: "203.0.113.7"},
		{name: "Forwarded with a quoted IPv6 address and port", remote: "10.0.0.1:5555", fwd: []string{`for="[2001:db8:1::7]:4711"`}, want: "2001:db8:1::7"},
		{name: "Forwarded with a quoted IPv4 address and port", remote: "10.0.0.1:5555", fwd: []string{`for="203.0.113.7:4711"`}, want: "203.0.113.7"},
		{name: "Forwarded with an obfuscated port", remote: "10.0.0.1:5555", fwd: []string{`for="203.0.113.7:_p1"`}, want: "203.0.113.7"},
		{name: "Forwarded with other parameters around for", remote: "10.0.0.2:5555", fwd: []string{`proto=https;for=203.0.113.7;by=10.0.0.1, for=10.0.0.1;host="example.com"`}, want: "203.0.113.7"},
		{name: "Forwarded parameter names are case-insensitive", remote: "10.0.0.1:5555", fwd: []string{"For=203.0.113.7"}, want: "203.0.113.7"},
		{name: "Forwarded accepts an unquoted bracketed IPv6 address", remote: "10.0.0.1:5555", fwd: []string{"for=[2001:db8:1::7]"}, want: "2001:db8:1::7"},
		{name: "Forwarded accepts quoted-pairs in other parameters", remote: "10.0.0.1:5555", fwd: []string{`for=203.0.113.7;ext="a\"b"`}, want: "203.0.113.7"},
		{name: "Forwarded over several lines", remote: "10.0.0.1:5555", fwd: []string{"for=203.0.113.7", "for=10.0.0.2"}, want: "203.0.113.7"},
		{name: "Forwarded obfuscated node stops the walk at the last proxy", remote: "10.0.0.1:5555", fwd: []string{"for=198.51.100.9, for=_hidden, for=10.0.0.2"}, want: "10.0.0.2"},
		{name: "Forwarded unknown node stops the walk", remote: "10.0.0.1:5555", fwd: []string{"for=198.51.100.9, for=unknown"}, want: "10.0.0.1"},
		{name: "Forwarded element without for stops the walk", remote: "10.0.0.1:5555", fwd: []string{"for=198.51.100.9, proto=https"}, want: "10.0.0.1"},
		{name: "Forwarded element with two for parameters is garbage", remote: "10.0.0.1:5555", fwd: []string{"for=198.51.100.9;for=203.0.113.7"}, want: "10.0.0.1"},
		{name: "Forwarded unterminated quoted-string is garbage", remote: "10.0.0.1:5555", fwd: []string{`for="203.0.113.7`}, want: "10.0.0.1"},
		{name: "Forwarded quoted-pair inside for is garbage", remote: "10.0.0.1:5555", fwd: []string{`for="203.0.113.\7"`}, want: "10.0.0.1"},
		{name: "Forwarded IPv6 without brackets is garbage", remote: "10.0.0.1:5555", fwd: []string{`for="2001:db8:1::7"`}, want: "10.0.0.1"},
		{name: "Forwarded IPv4 in brackets is garbage", remote: "10.0.0.1:5555", fwd: []string{`for="[203.0.113.7]"`}, want: "10.0.0.1"},
		{name: "Forwarded port that is not a port is garbage", remote: "10.0.0.1:5555", fwd: []string{`for="203.0.113.7:http"`}, want: "10.0.0.1"},
		{name: "Forwarded text after a value is garbage", remote: "10.0.0.1:5555", fwd: []string{"for=203.0.113.7 junk"}, want: "10.0.0.1"},
		{name: "Forwarded pair without a value is garbage", remote: "10.0.0.1:5555", fwd: []string{"for="}, want: "10.0.0.1"},
		{name: "Forwarded empty pairs between semicolons are allowed", remote: "10.0.0.1:5555", fwd: []string{";for=203.0.113.7;;"}, want: "203.0.113.7"},

		{name: "Forwarded is preferred when both headers are present", remote: "10.0.0.1:5555", xff: []string{"198.51.100.1"}, fwd: []string{"for=203.0.113.7"}, want: "203.0.113.7"},
		{name: "a blank Forwarded does not hide X-Forwarded-For", remote: "10.0.0.1:5555", xff: []string{"203.0.113.7"}, fwd: []string{" "}, want: "203.0.113.7"},
		{name: "pinned to X-Forwarded-For, a Forwarded header is ignored", header: HeaderXForwardedFor, remote: "10.0.0.1:5555", xff: []string{"203.0.113.7"}, fwd: []string{"for=198.51.100.1"}, want: "203.0.113.7"},
		{name: "pinned to Forwarded, X-Forwarded-For is ignored", header: HeaderForwarded, remote: "10.0.0.1:5555", xff: []string{"198.51.100.1"}, want: "10.0.0.1"},

		{name: "an unparsable peer is invalid", remote: "garbage", xff: []string{"203.0.113.7"}, want: ""},
		{name: "a Unix socket peer is invalid", remote: "@", want: ""},
		{name: "an empty peer is invalid", remote: "", want: ""},
		{name: "a peer with an impossible port is invalid", remote: "203.0.113.7:99999", want: ""},
		{name: "a bare peer address is accepted", remote: "203.0.113.7", want: "203.0.113.7"},
		{name: "a bracketed IPv6 peer without a port is accepted", remote: "[2001:db8:1::7]", want: "2001:db8:1::7"},
		{name: "a peer's zone is dropped", remote: "[fe80::1%eth0]:5555", want: "fe80::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := New(testTrusted, WithHeader(tt.header))
			got := r.ClientIP(request(tt.remote, tt.xff, tt.fwd))
			if want := addr(tt.want); got != want {
				t.Errorf("ClientIP(RemoteAddr %q, X-Forwarded-For %q, Forwarded %q) = %v, want %v", tt.remote, tt.xff, tt.fwd, got, want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		want    string
	}{
		{"no trusted prefixes read no header", nil, "10.0.0.1:1", "10.0.0.1"},
		{"an unmasked prefix is masked", []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")}, "10.9.9.9:1", "203.0.113.7"},
		{"an IPv4-mapped prefix trusts IPv4 peers", []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}, "10.0.0.1:1", "203.0.113.7"},
		{"an IPv4 prefix trusts IPv4-mapped peers", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "[::ffff:10.0.0.1]:1", "203.0.113.7"},
		{"an invalid prefix trusts nothing", []netip.Prefix{{}}, "10.0.0.1:1", "10.0.0.1"},
		{"a prefix outside the peer trusts nothing", []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}, "10.0.0.1:1", "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := New(tt.trusted).ClientIP(request(tt.remote, []string{"203.0.113.7"}, nil))
			if want := addr(tt.want); got != want {
				t.Errorf("New(%v).ClientIP(%q) = %v, want %v", tt.trusted, tt.remote, got, want)
			}
		})
	}
}

func TestNewCopiesPrefixes(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r := New(trusted)
	trusted[0] = netip.MustParsePrefix("192.168.0.0/16")
	if got, want := r.ClientIP(request("10.0.0.1:1", []string{"203.0.113.7"}, nil)), addr("203.0.113.7"); got != want {
		t.Errorf("after the caller changed its slice, ClientIP = %v, want %v", got, want)
	}
}

func TestZeroAndNilResolverTrustNothing(t *testing.T) {
	t.Parallel()
	req := request("10.0.0.1:1", []string{"203.0.113.7"}, []string{"for=203.0.113.7"})
	var zero Resolver
	if got, want := zero.ClientIP(req), addr("10.0.0.1"); got != want {
		t.Errorf("zero Resolver: got %v, want %v", got, want)
	}
	var nilResolver *Resolver
	if got, want := nilResolver.ClientIP(req), addr("10.0.0.1"); got != want {
		t.Errorf("nil *Resolver: got %v, want %v", got, want)
	}
}

func TestParseRemoteAddr(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"IPv4 with a port", "192.0.2.1:1234", "192.0.2.1"},
		{"IPv6 with a port", "[2001:db8::1]:1234", "2001:db8::1"},
		{"bare IPv4", "192.0.2.1", "192.0.2.1"},
		{"bare IPv6", "2001:db8::1", "2001:db8::1"},
		{"bracketed IPv6", "[2001:db8::1]", "2001:db8::1"},
		{"IPv4-mapped IPv6 with a port", "[::ffff:192.0.2.1]:1234", "192.0.2.1"},
		{"IPv6 with a zone", "[fe80::1%en0]:1234", "fe80::1"},
		{"bracketed IPv4", "[192.0.2.1]", ""},
		{"a host name", "example.com:80", ""},
		{"a port alone", ":80", ""},
		{"empty", "", ""},
		{"a Unix socket", "@", ""},
		{"a missing bracket", "[2001:db8::1:80", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, want := ParseRemoteAddr(tt.in), addr(tt.want); got != want {
				t.Errorf("ParseRemoteAddr(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
}

// inputAddrs returns every address that can be read out of the inputs by
// cutting them at any separator a parser might use: the fuzz oracle for
// "the result appears in the request".
func inputAddrs(inputs ...string) map[netip.Addr]bool {
	found := map[netip.Addr]bool{}
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			found[a.WithZone("").Unmap()] = true
		}
		if ap, err := netip.ParseAddrPort(s); err == nil {
			found[ap.Addr().WithZone("").Unmap()] = true
		}
	}
	for _, in := range inputs {
		add(in)
		for _, tok := range strings.FieldsFunc(in, func(r rune) bool { return strings.ContainsRune(",;=\"[] \t\n", r) }) {
			add(tok)
		}
	}
	return found
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:5555", "203.0.113.7, 10.0.0.2", "", uint8(0))
	f.Add("10.0.0.1:5555", "", `for="[2001:db8:1::7]:4711";proto=https, for=10.0.0.2`, uint8(0))
	f.Add("[2001:db8:ffff::1]:443", "[2001:db8:1::7]:80", "for=_x, for=unknown", uint8(1))
	f.Add("[::ffff:10.0.0.1]:80", "::ffff:203.0.113.7\n10.0.0.3", "For=\"203.0.113.7:_p\"", uint8(2))
	f.Add("203.0.113.7", "garbage", `for="unterminated`, uint8(3))
	f.Add("@", "", "", uint8(4))
	f.Fuzz(func(t *testing.T, remote, xff, fwd string, mode uint8) {
		trusted := testTrusted
		if mode&4 != 0 {
			trusted = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
		}
		r := New(trusted, WithHeader(Header(mode%3)))
		var xffLines, fwdLines []string
		if xff != "" {
			xffLines = strings.Split(xff, "\n")
		}
		if fwd != "" {
			fwdLines = strings.Split(fwd, "\n")
		}
		got := r.ClientIP(request(remote, xffLines, fwdLines))
		if !got.IsValid() {
			if ParseRemoteAddr(remote).IsValid() {
				t.Errorf("ClientIP = invalid, want an address since RemoteAddr %q parses", remote)
			}
			return
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Errorf("ClientIP = %v, want no zone and no IPv4-mapped form", got)
		}
		if !inputAddrs(remote, xff, fwd)[got] {
			t.Errorf("ClientIP(%q, %q, %q) = %v, an address that is not in the request", remote, xff, fwd, got)
		}
		if peer := ParseRemoteAddr(remote); !r.trusts(peer) && got != peer {
			t.Errorf("ClientIP = %v, want the untrusted peer %v", got, peer)
		}
	})
}

func BenchmarkClientIP(b *testing.B) {
	r := New(testTrusted)
	cases := []struct {
		name string
		req  *http.Request
	}{
		{"untrusted peer", request("203.0.113.7:5555", []string{"198.51.100.1"}, nil)},
		{"X-Forwarded-For through three proxies", request("10.0.0.4:5555", []string{"198.51.100.1, 203.0.113.7, 10.0.0.2, 10.0.0.3"}, nil)},
		{"Forwarded through two proxies", request("10.0.0.4:5555", nil, []string{`for="[2001:db8:1::7]:4711";proto=https, for=10.0.0.2;by=10.0.0.4`})},
		{"a 64-hop chain of trusted proxies", request("10.0.0.4:5555", []string{strings.Repeat("10.0.0.9, ", MaxHops+10)}, nil)},
		{"a 6 KiB padded header", request("10.0.0.4:5555", []string{strings.Repeat("198.51.100.66, ", 400) + "203.0.113.7"}, nil)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.ClientIP(c.req)
			}
		})
	}
}
