package clientip

import (
	"net/netip"
	"strings"
)

// parseForwardedElement returns the address in the for= parameter of one
// RFC 7239 forwarded-element, such as
//
//	for=192.0.2.60;proto=http;by=203.0.113.43
//	for="[2001:db8:cafe::17]:4711"
//
// It reports false, so that the walk stops, for an element that does not
// follow the grammar of RFC 7239 §4, has no for= or more than one, or whose
// node is not an address (§6: "unknown", an obfuscated "_identifier").
// Parameter names are case-insensitive (§4); a value may be a token or a
// quoted-string. Unquoted values are read leniently up to ';' or whitespace,
// since an address must still parse. A for= value holding a quoted-pair is
// refused: no address needs one.
func parseForwardedElement(elem string) (netip.Addr, bool) {
	var node string
	seen := false
	for s := elem; ; {
		s = trimOWS(s)
		// RFC 7239 §4: forwarded-pair is optional between semicolons.
		if s != "" && s[0] != ';' {
			name, value, rest, ok := forwardedPair(s)
			if !ok {
				return netip.Addr{}, false
			}
			if strings.EqualFold(name, "for") {
				// §4: "Each parameter MUST NOT occur more than once per
				// forwarded-element."
				if seen {
					return netip.Addr{}, false
				}
				seen, node = true, value
			}
			s = trimOWS(rest)
		}
		if s == "" {
			break
		}
		if s[0] != ';' {
			return netip.Addr{}, false
		}
		s = s[1:]
	}
	if !seen || strings.IndexByte(node, '\\') >= 0 {
		return netip.Addr{}, false
	}
	return parseForwardedNode(node)
}

// forwardedPair splits the forwarded-pair at the start of s (token "="
// value) and returns its name, its value (the inside of a quoted-string,
// quoted-pairs left as they are) and the rest of s.
func forwardedPair(s string) (name, value, rest string, ok bool) {
	i := 0
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	if i == 0 || i == len(s) || s[i] != '=' {
		return "", "", "", false
	}
	name, s = s[:i], s[i+1:]
	if s != "" && s[0] == '"' {
		for j := 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++ // quoted-pair: the next byte is literal
			case '"':
				return name, s[1:j], s[j+1:], true
			}
		}
		return "", "", "", false // unterminated quoted-string
	}
	j := strings.IndexAny(s, "; \t")
	if j < 0 {
		j = len(s)
	}
	if j == 0 {
		return "", "", "", false
	}
	return name, s[:j], s[j:], true
}

// isTchar reports whether c may appear in an HTTP token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseForwardedNode parses an RFC 7239 §6 node: IPv4address [":" port] or
// "[" IPv6address "]" [":" port]. "unknown" and obfuscated identifiers are
// not addresses and report false.
func parseForwardedNode(v string) (netip.Addr, bool) {
	if inner, ok := strings.CutPrefix(v, "["); ok {
		host, port, ok := strings.Cut(inner, "]")
		if !ok {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.Addr{}, false
		}
		if port != "" {
			p, ok := strings.CutPrefix(port, ":")
			if !ok || !validPort(p) {
				return netip.Addr{}, false
			}
		}
		return a.Unmap(), true
	}
	host, port, hasPort := strings.Cut(v, ":")
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	if hasPort && !validPort(port) {
		return netip.Addr{}, false
	}
	return a, true
}

// validPort reports whether p is an RFC 7239 §6 node-port: 1*5DIGIT, or an
// obfuscated port "_" followed by ALPHA, DIGIT, ".", "_" or "-".
func validPort(p string) bool {
	if p == "" {
		return false
	}
	if obf, ok := strings.CutPrefix(p, "_"); ok {
		if obf == "" {
			return false
		}
		for i := 0; i < len(obf); i++ {
			c := obf[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
		return true
	}
	if len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}
