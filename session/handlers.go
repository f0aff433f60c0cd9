package session

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/sessionguard/sessionguard/internal/httpjson"
	"github.com/sessionguard/sessionguard/storage"
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
//	POST   /sessions/revoke-all     end all, this one included; {"revoked": n}; needs a recent authentication
//
// State-changing routes are wrapped in http.CrossOriginProtection ([Manager.Protect])
// and answer 405 to other methods; every route needs an authenticated
// session (401 otherwise; logout also accepts a session pending its second
// factor, to abandon a sign-in).
func (m *Manager) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /logout", m.Protect(http.HandlerFunc(m.serveLogout)))
	mux.Handle("GET /sessions", m.RequireAuth(http.HandlerFunc(m.serveList)))
	mux.Handle("DELETE /sessions/{id}", m.Protect(m.RequireAuth(http.HandlerFunc(m.serveRevoke))))
	mux.Handle("POST /sessions/revoke-others", m.Protect(m.RequireRecentAuth(http.HandlerFunc(m.serveRevokeOthers))))
	mux.Handle("POST /sessions/revoke-all", m.Protect(m.RequireRecentAuth(http.HandlerFunc(m.serveRevokeAll))))
	return mux
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
	if err := m.Revoke(withRequest(r), s.UserID, r.PathValue("id")); err != nil {
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
	n, err := m.RevokeOthers(withRequest(r), s)
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, revokedBody{n})
}

func (m *Manager) serveRevokeAll(w http.ResponseWriter, r *http.Request) {
	s, _ := FromContext(r.Context())
	n, err := m.revokeUser(r.Context(), s.UserID, storage.TokenHash{})
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	m.recordEvent(r.Context(), r, s, s.UserID, storage.EventSignedOutEverywhere, strconv.Itoa(n))
	m.clearClient(w)
	httpjson.Write(w, http.StatusOK, revokedBody{n})
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
