package session

import (
	"net/http"
	"net/url"
	"strings"
)

// mounted serves routes, an http.ServeMux whose patterns are relative to
// the point where the app mounts it ("POST /logout"), however the app's
// router mounts it:
//
//   - behind http.StripPrefix: the path is already relative;
//   - on an http.ServeMux prefix pattern, mux.Handle("/auth/", h), or
//     "/auth/{rest...}", or with wildcards ("/{tenant}/auth/"): the
//     pattern's segments are dropped from the path;
//   - by chi, r.Mount("/auth", h): chi reports the rest of the path as the
//     path value "*".
func mounted(routes http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := routePath(r)
		if p == r.URL.Path {
			routes.ServeHTTP(w, r)
			return
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path, u.RawPath = p, ""
		r2.URL = &u
		routes.ServeHTTP(w, r2)
	})
}

// routePath returns r's path relative to the mount point, from the pattern
// that the outer router matched (r.Pattern, set by http.ServeMux and by
// chi). A path that something already rewrote (http.StripPrefix) is taken
// as it is.
func routePath(r *http.Request) string {
	pat := r.Pattern
	if pat == "" || rewritten(r) {
		return r.URL.Path
	}
	if _, rest, ok := strings.Cut(pat, " "); ok { // "POST /auth/" → "/auth/"
		pat = strings.TrimLeft(rest, " \t")
	}
	if i := strings.IndexByte(pat, '/'); i > 0 { // "example.com/auth/" → "/auth/"
		pat = pat[i:]
	}
	last := pat[strings.LastIndexByte(pat, '/')+1:]
	switch {
	case last == "*": // chi: "/auth/*"
		rest := r.PathValue("*")
		if r.URL.RawPath != "" { // chi matched the escaped path
			if u, err := url.PathUnescape(rest); err == nil {
				rest = u
			}
		}
		return "/" + rest
	case strings.HasPrefix(last, "{") && strings.HasSuffix(last, "...}"): // "/auth/{rest...}"
		return "/" + r.PathValue(last[1:len(last)-4])
	case last == "": // a prefix pattern: "/auth/"
		return stripSegments(r.URL.Path, pat)
	}
	return r.URL.Path
}

// stripSegments drops from path the segments of prefix, a pattern ending in
// "/" whose segments are literals or {wildcards}. A path that does not
// start with them is returned as it is.
func stripSegments(path, prefix string) string {
	segs := strings.Split(strings.Trim(prefix, "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		return path // "/": mounted at the root
	}
	rest := path
	for _, seg := range segs {
		if !strings.HasPrefix(rest, "/") {
			return path
		}
		name, after, _ := strings.Cut(rest[1:], "/")
		if seg != name && !(strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}")) {
			return path
		}
		rest = "/" + after
	}
	return rest
}

// rewritten reports whether r's path differs from the one the client sent,
// as after http.StripPrefix.
func rewritten(r *http.Request) bool {
	if r.RequestURI == "" || r.RequestURI == "*" {
		return false
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	return err == nil && u.Path != r.URL.Path
}
