package passkey

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/sessionguard/sessionguard/internal/httpjson"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// maxBody limits request bodies: an attestation with its certificates
// fits well within it.
const maxBody = 64 << 10

// RegisterRoutes adds the passkey routes to mux (relative to the mount
// point); it makes the Service a [session.RouteSet]:
//
//	POST   /passkeys/register/begin   {"name"} → {"challenge_id", "options"}; needs a recent authentication
//	POST   /passkeys/register/finish  {"challenge_id", "credential"} → {"passkey"}; needs a recent authentication
//	POST   /passkeys/login/begin      {} → {"challenge_id", "options"}: with a session pending its second
//	                                  factor (or a signed-in one), over the user's keys; without a session,
//	                                  a sign-in without a password (discoverable, user verification required)
//	POST   /passkeys/login/finish     {"challenge_id", "credential"} → {"auth_level"}: completes the pending
//	                                  sign-in (or re-authenticates), or signs in; the token is rotated or new;
//	                                  as a second factor, "trust_browser": true also trusts this browser
//	                                  ({"trusted_browser": true})
//	GET    /passkeys                  {"passkeys": [...]}
//	PATCH  /passkeys/{id}             {"name"} → 204
//	DELETE /passkeys/{id}             204; needs a recent authentication
//
// "options" is what PublicKeyCredential.parseCreationOptionsFromJSON and
// parseRequestOptionsFromJSON read (its "publicKey" member), "credential"
// what PublicKeyCredential.toJSON() gives. Errors are {"error", "message"}
// and change nothing (a failed ceremony starts again from begin):
//
//	400 bad_request          malformed JSON, a bad name
//	400 invalid_challenge    unknown, used, expired, or another ceremony's or user's challenge
//	400 invalid_credential   the authenticator's answer did not verify
//	403 counter_regressed    the signature counter did not increase: a possible cloned key (logged)
//	404 not_found            no such passkey (another user's id included), or none to sign in with
//	409 too_many             the user has MaxPasskeys passkeys
//
// State-changing routes are POST, PATCH or DELETE behind
// [session.Manager.Protect].
func (s *Service) RegisterRoutes(mux *http.ServeMux) {
	m, g := s.cfg.Manager, s.cfg.Manager.JSONGuard()
	mux.Handle("POST /passkeys/register/begin", m.Protect(g.RequireRecentAuth(http.HandlerFunc(s.serveRegisterBegin))))
	mux.Handle("POST /passkeys/register/finish", m.Protect(g.RequireRecentAuth(http.HandlerFunc(s.serveRegisterFinish))))
	mux.Handle("POST /passkeys/login/begin", m.Protect(http.HandlerFunc(s.serveLoginBegin)))
	mux.Handle("POST /passkeys/login/finish", m.Protect(http.HandlerFunc(s.serveLoginFinish)))
	mux.Handle("GET /passkeys", g.RequireAuth(http.HandlerFunc(s.serveList)))
	mux.Handle("PATCH /passkeys/{id}", m.Protect(g.RequireAuth(http.HandlerFunc(s.serveRename))))
	mux.Handle("DELETE /passkeys/{id}", m.Protect(g.RequireRecentAuth(http.HandlerFunc(s.serveRemove))))
}

type beginBody struct {
	ChallengeID string `json:"challenge_id"`
	Options     any    `json:"options"`
}

type finishBody struct {
	ChallengeID string          `json:"challenge_id"`
	Credential  json.RawMessage `json:"credential"`
	// TrustBrowser (login/finish as a second factor only): skip the
	// second factor on this browser from now on (session.TrustedBrowsers).
	TrustBrowser bool `json:"trust_browser"`
}

func (s *Service) serveRegisterBegin(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Name string `json:"name"`
	}
	if httpjson.Decode(w, r, maxBody, &b) != nil {
		return
	}
	sess, _ := session.FromContext(r.Context())
	id, opts, err := s.BeginRegistration(r.Context(), sess.UserID, b.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, beginBody{id, opts})
}

func (s *Service) serveRegisterFinish(w http.ResponseWriter, r *http.Request) {
	var b finishBody
	if httpjson.Decode(w, r, maxBody, &b) != nil {
		return
	}
	if b.TrustBrowser {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", `"trust_browser" is accepted by POST /passkeys/login/finish with a second factor only.`)
		return
	}
	sess, _ := session.FromContext(r.Context())
	info, err := s.FinishRegistration(r.Context(), session.Audit{Request: r}, sess.UserID, b.ChallengeID, b.Credential)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, struct {
		Passkey Info `json:"passkey"`
	}{info})
}

// anySession returns the request's session, pending or full, if any.
func anySession(r *http.Request) (*session.Session, bool) {
	if s, ok := session.PendingFromContext(r.Context()); ok {
		return s, true
	}
	return session.FromContext(r.Context())
}

func (s *Service) serveLoginBegin(w http.ResponseWriter, r *http.Request) {
	var b struct{}
	if httpjson.Decode(w, r, maxBody, &b) != nil {
		return
	}
	userID := ""
	if sess, ok := anySession(r); ok {
		userID = sess.UserID
	}
	id, opts, err := s.BeginLogin(r.Context(), userID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, beginBody{id, opts})
}

func (s *Service) serveLoginFinish(w http.ResponseWriter, r *http.Request) {
	var b finishBody
	if httpjson.Decode(w, r, maxBody, &b) != nil {
		return
	}
	userID := ""
	sess, withSession := anySession(r)
	if withSession {
		userID = sess.UserID
	}
	if b.TrustBrowser && !withSession {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", `"trust_browser" is accepted with a second factor only: a passkey sign-in asks for nothing it could skip.`)
		return
	}
	a := session.Audit{Request: r}
	owner, err := s.FinishLogin(r.Context(), a, userID, b.ChallengeID, b.Credential)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var out *session.Session
	if withSession {
		// The second factor of a pending sign-in, or a re-authentication:
		// a new token (OWASP ASVS 7.2.4).
		out, err = s.cfg.Manager.Elevate(w, r, storage.AuthSecondFactor)
	} else {
		// Possession of the key and its user verification: both factors.
		out, err = s.cfg.Manager.Login(w, r, owner, storage.AuthSecondFactor)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.cfg.Manager.SecurityLog().Record(r.Context(), a, owner, storage.EventSecondFactorUsed, "passkey")
	resp := struct {
		AuthLevel      string `json:"auth_level"`
		TrustedBrowser bool   `json:"trusted_browser,omitempty"`
	}{AuthLevel: out.AuthLevel.String()}
	if b.TrustBrowser {
		if _, err := s.cfg.Manager.TrustedBrowsers().Trust(w, r, a, owner); err != nil {
			// The sign-in stands; only the convenience failed.
			s.cfg.Logger.Warn("passkey: trusting the browser failed", "err", err)
		} else {
			resp.TrustedBrowser = true
		}
	}
	httpjson.Write(w, http.StatusOK, resp)
}

func (s *Service) serveList(w http.ResponseWriter, r *http.Request) {
	sess, _ := session.FromContext(r.Context())
	list, err := s.List(r.Context(), sess.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, struct {
		Passkeys []Info `json:"passkeys"`
	}{list})
}

func (s *Service) serveRename(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Name string `json:"name"`
	}
	if httpjson.Decode(w, r, maxBody, &b) != nil {
		return
	}
	sess, _ := session.FromContext(r.Context())
	if err := s.Rename(r.Context(), sess.UserID, r.PathValue("id"), b.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) serveRemove(w http.ResponseWriter, r *http.Request) {
	sess, _ := session.FromContext(r.Context())
	if err := s.Remove(r.Context(), session.Audit{Request: r}, sess.UserID, r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeError maps an error to the JSON contract.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrBadName):
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "A passkey's name is 1 to 64 characters.")
	case errors.Is(err, ErrChallenge):
		httpjson.Error(w, http.StatusBadRequest, "invalid_challenge", "This request expired or was already used. Please try again.")
	case errors.Is(err, ErrInvalid):
		httpjson.Error(w, http.StatusBadRequest, "invalid_credential", "The security key's answer could not be verified: "+err.Error())
	case errors.Is(err, ErrCounter):
		httpjson.Error(w, http.StatusForbidden, "counter_regressed", "This security key may have been copied; it was refused. Use another way to sign in.")
	case errors.Is(err, ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not_found", "No such passkey.")
	case errors.Is(err, ErrTooMany):
		httpjson.Error(w, http.StatusConflict, "too_many", "You have the most passkeys allowed; remove one first.")
	case errors.Is(err, session.ErrRevoked), errors.Is(err, session.ErrNoSession), errors.Is(err, session.ErrExpired):
		httpjson.Error(w, http.StatusUnauthorized, "unauthenticated", "Please sign in again.")
	default:
		s.cfg.Logger.Error("passkey: request failed", "err", err, "path", r.URL.Path)
		httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "Passkeys cannot be used right now. Please try again shortly.")
	}
}
