package session

import (
	"net/http"

	"github.com/sessionguard/sessionguard/internal/httpjson"
)

// Guard wraps handlers with authentication requirements; what it answers
// to a refused request is fixed when the Guard is made. [Manager.RequireAuth],
// [Manager.RequireRecentAuth] and [Manager.RequireSecondFactor] are the
// Guard that answers with [Config.Unauthenticated]; [Manager.JSONGuard]
// answers in JSON. A Guard is a small value, safe for concurrent use; the
// zero Guard is not usable: get one from [Manager.JSONGuard].
type Guard struct {
	m    *Manager
	deny http.Handler // nil: the JSON 401
}

// JSONGuard returns the Guard of JSON endpoints: a refused request gets
// 401 {"error":"unauthenticated"} whatever [Config.Unauthenticated] says
// (typically a redirect to a sign-in page for browsers). The library's
// own routes ([Manager.Routes]) use it; use it for your own JSON endpoints.
func (m *Manager) JSONGuard() Guard { return Guard{m: m} }

// RequireAuth lets only fully authenticated requests through; others get
// [Config.Unauthenticated] (401 JSON by default). A session pending its
// second factor is refused.
func (m *Manager) RequireAuth(next http.Handler) http.Handler {
	return Guard{m, m.cfg.Unauthenticated}.RequireAuth(next)
}

// RequireSecondFactor lets only sessions that passed a second factor
// through: [Config.Unauthenticated] (401 by default) without a session,
// 403 {"error":"second_factor_required"} for a password-only session.
func (m *Manager) RequireSecondFactor(next http.Handler) http.Handler {
	return Guard{m, m.cfg.Unauthenticated}.RequireSecondFactor(next)
}

// RequireRecentAuth is [Manager.RequireAuth] plus the recent-authentication
// rule (OWASP ASVS 5.0 7.5.2): a session that authenticated longer ago than
// [Config.ReauthWindow] gets 403 {"error":"reauth_required"}. The app then
// re-verifies the password (or a second factor) and calls
// [Manager.Elevate].
func (m *Manager) RequireRecentAuth(next http.Handler) http.Handler {
	return Guard{m, m.cfg.Unauthenticated}.RequireRecentAuth(next)
}

// RequireAuth is [Manager.RequireAuth] with g's answer to a refused
// request.
func (g Guard) RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := FromContext(r.Context()); !ok {
			g.unauthenticated(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireSecondFactor is [Manager.RequireSecondFactor] with g's answer to
// a request without a session.
func (g Guard) RequireSecondFactor(next http.Handler) http.Handler {
	return g.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, _ := FromContext(r.Context()); !s.SecondFactor() {
			httpjson.Error(w, http.StatusForbidden, "second_factor_required", "This page requires two-factor authentication.")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// RequireRecentAuth is [Manager.RequireRecentAuth] with g's answer to a
// request without a session.
func (g Guard) RequireRecentAuth(next http.Handler) http.Handler {
	return g.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, _ := FromContext(r.Context()); !g.m.RecentlyAuthenticated(s) {
			httpjson.Error(w, http.StatusForbidden, "reauth_required", "Please confirm your password to continue.")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

func (g Guard) unauthenticated(w http.ResponseWriter, r *http.Request) {
	if g.deny != nil {
		g.deny.ServeHTTP(w, r)
		return
	}
	httpjson.Error(w, http.StatusUnauthorized, "unauthenticated", "Please sign in.")
}

// RecentlyAuthenticated reports whether s authenticated within
// [Config.ReauthWindow] (OWASP ASVS 5.0 7.5.2).
func (m *Manager) RecentlyAuthenticated(s *Session) bool {
	return s != nil && m.cfg.Clock().Sub(s.AuthAt) <= m.cfg.ReauthWindow
}

// Protect wraps a state-changing handler in http.CrossOriginProtection
// with [Config.TrustedOrigins] (SECURITY.md §12): cross-site POST, PUT,
// PATCH and DELETE requests get 403 {"error":"cross_origin"}.
// [Manager.Handler] already protects every request it serves, except
// those [Config.CrossOriginBypass] exempts; Protect never bypasses, so a
// route wrapped in it stays protected whatever the bypass patterns say.
func (m *Manager) Protect(next http.Handler) http.Handler { return m.cop.Handler(next) }
