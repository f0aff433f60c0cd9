package session

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/sessionguard/sessionguard/internal/httpjson"
)

// Routes returns the JSON handlers of the HTTP contract (DESIGN.md), to be
// mounted under a prefix of the app's choice behind [Manager.Handler]:
//
//	mux.Handle("/auth/", http.StripPrefix("/auth", m.Routes()))
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
//
// State-changing routes are wrapped in http.CrossOriginProtection ([Manager.Protect])
// and answer 405 to other methods; every route needs an authenticated
// session (a JSON 401 otherwise, whatever [Config.Unauthenticated] says; logout also accepts a session pending its second
// factor, to abandon a sign-in).
func (m *Manager) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /logout", m.Protect(http.HandlerFunc(m.serveLogout)))
	mux.Handle("GET /sessions", m.RequireAuth(http.HandlerFunc(m.serveList)))
	mux.Handle("DELETE /sessions/{id}", m.Protect(m.RequireAuth(http.HandlerFunc(m.serveRevoke))))
	mux.Handle("POST /sessions/revoke-others", m.Protect(m.RequireRecentAuth(http.HandlerFunc(m.serveRevokeOthers))))
	mux.Handle("POST /sessions/revoke-all", m.Protect(m.RequireRecentAuth(http.HandlerFunc(m.serveRevokeAll))))
	mux.Handle("GET /apps", m.RequireAuth(http.HandlerFunc(m.serveApps)))
	mux.Handle("DELETE /apps/{id}", m.Protect(m.RequireAuth(http.HandlerFunc(m.serveRevokeApp))))
	mux.Handle("GET /events", m.RequireAuth(http.HandlerFunc(m.serveEvents)))
	return m.JSONAPI(mux)
}

func (m *Manager) serveLogout(w http.ResponseWriter, r *http.Request) {
	if _, ok := anyFromContext(r.Context()); !ok {
		m.unauthenticated(w, r)
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
	if err := m.Revoke(WithRequest(r.Context(), r), s.UserID, r.PathValue("id")); err != nil {
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
	n, err := m.RevokeOthers(WithRequest(r.Context(), r), s)
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
	n, apps, err := m.LogoutEverywhere(w, r, body.IncludeApps)
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
	apps, err := m.ListApps(r.Context(), s.UserID)
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
	if err := m.RevokeApp(WithRequest(r.Context(), r), s.UserID, r.PathValue("id")); err != nil {
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
	events, next, err := m.ListEvents(r.Context(), s.UserID, before, int(min(limit, MaxEventPage)))
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
		m.unauthenticated(w, r)
	case errors.Is(err, ErrUnavailable):
		m.cfg.Logger.Error("session: storage failure", "err", err, "path", r.URL.Path)
		m.errorHandler(w, r, err)
	default:
		m.cfg.Logger.Error("session: request failed", "err", err, "path", r.URL.Path)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "Something went wrong.")
	}
}
