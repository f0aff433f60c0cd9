package session

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/sessionguard/sessionguard/internal/httpjson"
)

// RouteSet is a group of JSON routes that [Manager.Routes] mounts next to
// the Manager's own, under the same prefix: the totp package's Service is
// one, and so is every later feature that adds routes (passkeys, trusted
// browsers).
type RouteSet interface {
	// RegisterRoutes adds the set's routes to mux, with patterns relative
	// to the mount point ("POST /totp/verify"). Each handler does its own
	// checks — [Manager.Protect] for state changes, [Manager.JSONGuard]
	// for authentication — because Routes wraps none around them.
	RegisterRoutes(mux *http.ServeMux)
}

// Routes returns the JSON handlers of the HTTP contract (DESIGN.md
// "HTTP contract"), with those of every RouteSet given, to be mounted under
// a prefix of the app's choice behind [Manager.Handler]. Any of these
// mounts works as it is, without further wrapping:
//
//	mux.Handle("/auth/", m.Routes(totpService))                          // http.ServeMux prefix pattern
//	mux.Handle("/auth/", http.StripPrefix("/auth", m.Routes(totpService))) // or with StripPrefix
//	r.Mount("/auth", m.Routes(totpService))                              // chi
//
// Routes:
//
//	POST   /logout                  end this session; 204, cookie expired, Clear-Site-Data
//	GET    /sessions                {"sessions": [...]} this user's live sessions
//	DELETE /sessions/{id}           end one of this user's sessions; 204 (404 for unknown or another user's id)
//	POST   /sessions/revoke-others  end all but this session; {"revoked": n}; needs a recent authentication
//	POST   /sessions/revoke-all     end all, this one included; {"revoked": n}; needs a recent authentication;
//	                                body {"include_apps": true} also revokes every connected app ({"revoked_apps": n})
//	GET    /apps                    {"apps": [...]} this user's connected apps
//	DELETE /apps/{id}               revoke one of this user's apps; 204 (404 for unknown or another user's id)
//	GET    /events?before=&limit=   {"events": [...], "next": cursor} the security log, newest first
//	GET    /trusted-browsers        {"trusted_browsers": [...]} browsers that skip the second factor
//	DELETE /trusted-browsers/{id}   stop trusting one; 204 (404 for unknown or another user's id)
//
// State-changing routes are wrapped in http.CrossOriginProtection
// ([Manager.Protect], which [Config.CrossOriginBypass] never exempts) and
// answer 405 to other methods; JSON bodies are decoded strictly (a
// repeated name, an unknown name or trailing data is a 400). Every route
// needs an authenticated session: a JSON 401 otherwise, whatever
// [Config.Unauthenticated] says ([Manager.JSONGuard]); logout also accepts
// a session pending its second factor, to abandon a sign-in. Routes panics
// if two route sets register the same pattern, as http.ServeMux does.
func (m *Manager) Routes(sets ...RouteSet) http.Handler {
	g := m.JSONGuard()
	mux := http.NewServeMux()
	mux.Handle("POST /logout", m.Protect(http.HandlerFunc(m.serveLogout)))
	mux.Handle("GET /sessions", g.RequireAuth(http.HandlerFunc(m.serveList)))
	mux.Handle("DELETE /sessions/{id}", m.Protect(g.RequireAuth(http.HandlerFunc(m.serveRevoke))))
	mux.Handle("POST /sessions/revoke-others", m.Protect(g.RequireRecentAuth(http.HandlerFunc(m.serveRevokeOthers))))
	mux.Handle("POST /sessions/revoke-all", m.Protect(g.RequireRecentAuth(http.HandlerFunc(m.serveRevokeAll))))
	mux.Handle("GET /apps", g.RequireAuth(http.HandlerFunc(m.serveApps)))
	mux.Handle("DELETE /apps/{id}", m.Protect(g.RequireAuth(http.HandlerFunc(m.serveRevokeApp))))
	mux.Handle("GET /events", g.RequireAuth(http.HandlerFunc(m.serveEvents)))
	mux.Handle("GET /trusted-browsers", g.RequireAuth(http.HandlerFunc(m.serveTrustedBrowsers)))
	mux.Handle("DELETE /trusted-browsers/{id}", m.Protect(g.RequireAuth(http.HandlerFunc(m.serveRevokeTrustedBrowser))))
	for _, s := range sets {
		s.RegisterRoutes(mux)
	}
	return mounted(m.tel.traced(mux))
}

func (m *Manager) serveLogout(w http.ResponseWriter, r *http.Request) {
	if _, ok := anyFromContext(r.Context()); !ok {
		m.JSONGuard().unauthenticated(w, r)
		return
	}
	if err := m.Logout(w, r); err != nil {
		m.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Manager) serveList(w http.ResponseWriter, r *http.Request) {
	s, _ := FromContext(r.Context())
	list, err := m.ListSessions(r.Context(), s.UserID, s)
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, struct {
		Sessions []SessionInfo `json:"sessions"`
	}{list})
}

func (m *Manager) serveRevoke(w http.ResponseWriter, r *http.Request) {
	s, _ := FromContext(r.Context())
	if err := m.Revoke(r.Context(), Audit{Request: r}, s.UserID, r.PathValue("id")); err != nil {
		m.writeError(w, r, err)
		return
	}
	if r.PathValue("id") == s.Handle {
		// Ending the current session from the list is a logout.
		m.clearClient(w)
	}
	w.WriteHeader(http.StatusNoContent)
}

type revokedBody struct {
	Revoked int `json:"revoked"`
}

func (m *Manager) serveRevokeOthers(w http.ResponseWriter, r *http.Request) {
	s, _ := FromContext(r.Context())
	n, err := m.RevokeOthers(r.Context(), Audit{Request: r}, s)
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, revokedBody{n})
}

func (m *Manager) serveRevokeAll(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IncludeApps bool `json:"include_apps"`
	}
	if httpjson.Decode(w, r, m.cfg.MaxBodyBytes, &body) != nil {
		return
	}
	n, apps, err := m.LogoutEverywhere(w, r, LogoutEverywhereOptions{IncludeApps: body.IncludeApps})
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	out := struct {
		Revoked     int  `json:"revoked"`
		RevokedApps *int `json:"revoked_apps,omitempty"`
	}{Revoked: n}
	if body.IncludeApps {
		out.RevokedApps = &apps
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (m *Manager) serveApps(w http.ResponseWriter, r *http.Request) {
	s, _ := FromContext(r.Context())
	apps, err := m.apps.List(r.Context(), s.UserID)
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, struct {
		Apps []AppInfo `json:"apps"`
	}{apps})
}

func (m *Manager) serveRevokeApp(w http.ResponseWriter, r *http.Request) {
	s, _ := FromContext(r.Context())
	if err := m.apps.Revoke(r.Context(), Audit{Request: r}, s.UserID, r.PathValue("id")); err != nil {
		if errors.Is(err, ErrNotFound) {
			httpjson.Error(w, http.StatusNotFound, "not_found", "No such app.")
			return
		}
		m.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Manager) serveEvents(w http.ResponseWriter, r *http.Request) {
	s, _ := FromContext(r.Context())
	q := r.URL.Query()
	before, err1 := parseOptionalInt(q.Get("before"))
	limit, err2 := parseOptionalInt(q.Get("limit"))
	if err1 != nil || err2 != nil || before < 0 || limit < 0 {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "before and limit must be non-negative integers.")
		return
	}
	events, next, err := m.log.List(r.Context(), s.UserID, before, int(min(limit, MaxEventPage)))
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, struct {
		Events []EventInfo `json:"events"`
		Next   int64       `json:"next"`
	}{events, next})
}

func parseOptionalInt(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// writeError maps an operation's error to the JSON error contract. Storage
// failures go through Config.ErrorHandler (503 by default).
func (m *Manager) writeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not_found", "No such session.")
	case errors.Is(err, ErrNoSession), errors.Is(err, ErrRevoked), errors.Is(err, ErrExpired), errors.Is(err, ErrInvalidCookie):
		m.JSONGuard().unauthenticated(w, r)
	case errors.Is(err, ErrUnavailable):
		m.cfg.Logger.Error("session: storage failure", "err", err, "path", r.URL.Path)
		m.errorHandler(w, r, err)
	default:
		m.cfg.Logger.Error("session: request failed", "err", err, "path", r.URL.Path)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "Something went wrong.")
	}
}
