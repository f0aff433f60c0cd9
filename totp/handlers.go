package totp

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/sessionguard/sessionguard/internal/httpjson"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// maxBody limits request bodies: they hold one short code.
const maxBody = 1 << 10

// RegisterRoutes adds the JSON handlers of the second factor (DESIGN.md
// "HTTP contract") to mux; it makes the Service a [session.RouteSet], so
// that the Manager mounts them next to its own, under the same prefix:
//
//	mux.Handle("/auth/", manager.Routes(svc))
//
// Routes (relative to the mount point):
//
//	GET  /totp                 {"enabled", "pending", "recovery_codes_left"}
//	POST /totp/enroll          {} → {"secret", "otpauth_url", "qr_png" (base64)}; needs a recent authentication
//	POST /totp/confirm         {"code"} → {"recovery_codes": [...]}, shown once
//	POST /totp/verify          {"code"} or {"recovery_code"}, optional "trust_browser": true →
//	                           {"auth_level", "recovery_codes_left"?, "trusted_browser"?}
//	POST /totp/disable         {"code"} or {"recovery_code"} → {"enabled": false}; needs a recent authentication
//	POST /totp/recovery-codes  {"code"} or {"recovery_code"} → {"recovery_codes": [...]}; needs a recent authentication
//
// POST /totp/verify is the only route open to a session pending its second
// factor: it completes the sign-in. For a fully signed-in session it is a
// re-authentication that refreshes the session's authentication time. Either
// way the session token is rotated (the old cookie stops working) — see
// [session.Manager.Elevate]. Every other route needs a fully authenticated
// session: 401 {"error":"unauthenticated"} otherwise, pending included, in
// JSON whatever the Manager's Config.Unauthenticated says
// ([session.Manager.JSONGuard]).
//
// Errors are {"error", "message"}:
//
//	400 bad_request      malformed JSON (a repeated or unknown name included), or not exactly one of "code"
//	                     and "recovery_code"
//	401 unauthenticated  no session (or a pending one, except on verify)
//	403 invalid_code     wrong, malformed, expired or already used code (one answer for all, and 401 stays
//	                     reserved for "sign in again")
//	403 reauth_required  the session did not authenticate recently enough
//	403 cross_origin     a cross-site request (http.CrossOriginProtection)
//	409 already_enabled, not_enabled, no_pending
//	429 locked           too many failed attempts; Retry-After gives the seconds to wait when the
//	                     lockout has an end
//
// State-changing routes are POST only (other methods get 405) and are
// wrapped in [session.Manager.Protect]. Every response is no-store.
func (s *Service) RegisterRoutes(mux *http.ServeMux) {
	m, g := s.mgr, s.mgr.JSONGuard()
	status := g.RequireAuth(http.HandlerFunc(s.serveStatus))
	mux.Handle("GET /totp", status)
	mux.Handle("GET /totp/{$}", status) // with a trailing slash too
	mux.Handle("POST /totp/enroll", m.Protect(g.RequireRecentAuth(http.HandlerFunc(s.serveEnroll))))
	mux.Handle("POST /totp/confirm", m.Protect(g.RequireAuth(http.HandlerFunc(s.serveConfirm))))
	mux.Handle("POST /totp/verify", m.Protect(http.HandlerFunc(s.serveVerify)))
	mux.Handle("POST /totp/disable", m.Protect(g.RequireRecentAuth(http.HandlerFunc(s.serveDisable))))
	mux.Handle("POST /totp/recovery-codes", m.Protect(g.RequireRecentAuth(http.HandlerFunc(s.serveRegenerate))))
}

// codeBody is the request of the routes that check a code.
type codeBody struct {
	Code         *string `json:"code"`
	RecoveryCode *string `json:"recovery_code"`
	// TrustBrowser (POST /totp/verify only): skip the second factor on
	// this browser from now on (session.TrustedBrowsers).
	TrustBrowser bool `json:"trust_browser"`
}

// decodeCode reads a codeBody with exactly one of its fields, or writes a
// 400 and reports false.
func decodeCode(w http.ResponseWriter, r *http.Request, recoveryAllowed bool) (codeBody, bool) {
	var b codeBody
	if httpjson.Decode(w, r, maxBody, &b) != nil {
		return b, false
	}
	if !recoveryAllowed && b.RecoveryCode != nil {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", `Give the code from your authenticator app as "code".`)
		return b, false
	}
	if b.TrustBrowser && !isVerify(r) {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", `"trust_browser" is accepted by POST /totp/verify only.`)
		return b, false
	}
	if (b.Code == nil) == (b.RecoveryCode == nil) {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", `Give either "code" (from your authenticator app) or "recovery_code".`)
		return b, false
	}
	return b, true
}

// isVerify reports whether r is POST /totp/verify (its mux pattern).
func isVerify(r *http.Request) bool { return r.Pattern == "POST /totp/verify" }

// checkCode verifies the code or recovery code of b for userID.
func (s *Service) checkCode(r *http.Request, userID string, b codeBody) error {
	a := session.Audit{Request: r}
	if b.RecoveryCode != nil {
		return s.VerifyRecoveryCode(r.Context(), a, userID, *b.RecoveryCode)
	}
	return s.Verify(r.Context(), a, userID, *b.Code)
}

type statusBody struct {
	Enabled           bool `json:"enabled"`
	Pending           bool `json:"pending"`
	RecoveryCodesLeft int  `json:"recovery_codes_left"`
}

func (s *Service) serveStatus(w http.ResponseWriter, r *http.Request) {
	sess, _ := session.FromContext(r.Context())
	st, err := s.Status(r.Context(), sess.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, statusBody{st.Enabled, st.Pending, st.RecoveryCodesLeft})
}

type enrollBody struct {
	Secret string `json:"secret"`
	URL    string `json:"otpauth_url"`
	QRPNG  []byte `json:"qr_png"` // base64 (encoding/json)
}

func (s *Service) serveEnroll(w http.ResponseWriter, r *http.Request) {
	var empty struct{}
	if httpjson.Decode(w, r, maxBody, &empty) != nil {
		return
	}
	sess, _ := session.FromContext(r.Context())
	en, err := s.Enroll(r.Context(), sess.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// httpjson.Write marks it no-store (SECURITY.md §17).
	httpjson.Write(w, http.StatusOK, enrollBody{en.Secret, en.URL, en.QRPNG})
}

type codesBody struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

func (s *Service) serveConfirm(w http.ResponseWriter, r *http.Request) {
	b, ok := decodeCode(w, r, false)
	if !ok {
		return
	}
	sess, _ := session.FromContext(r.Context())
	codes, err := s.Confirm(r.Context(), session.Audit{Request: r}, sess.UserID, *b.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, codesBody{codes})
}

type verifiedBody struct {
	AuthLevel         string `json:"auth_level"`
	RecoveryCodesLeft *int   `json:"recovery_codes_left,omitempty"`
	// TrustedBrowser: "trust_browser" was asked and this browser is now
	// trusted.
	TrustedBrowser bool `json:"trusted_browser,omitempty"`
}

func (s *Service) serveVerify(w http.ResponseWriter, r *http.Request) {
	// The second step of a sign-in (SECURITY.md §18), or a
	// re-authentication of a full session.
	sess, ok := session.PendingFromContext(r.Context())
	if !ok {
		sess, ok = session.FromContext(r.Context())
	}
	if !ok {
		unauthenticated(w)
		return
	}
	b, ok := decodeCode(w, r, true)
	if !ok {
		return
	}
	if err := s.checkCode(r, sess.UserID, b); err != nil {
		s.writeError(w, r, err)
		return
	}
	// A new token for the new authentication level; the old cookie dies
	// (OWASP ASVS 7.2.4).
	up, err := s.mgr.Elevate(w, r, storage.AuthSecondFactor)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := verifiedBody{AuthLevel: up.AuthLevel.String()}
	if b.TrustBrowser {
		if _, err := s.mgr.TrustedBrowsers().Trust(w, r, session.Audit{Request: r}, sess.UserID); err != nil {
			// The sign-in stands; only the convenience failed.
			s.logger.WarnContext(r.Context(), "totp: trusting the browser failed", "error", err)
		} else {
			resp.TrustedBrowser = true
		}
	}
	if b.RecoveryCode != nil {
		if n, err := s.store.CountRecoveryCodes(r.Context(), sess.UserID); err == nil {
			resp.RecoveryCodesLeft = &n
		}
	}
	httpjson.Write(w, http.StatusOK, resp)
}

func (s *Service) serveDisable(w http.ResponseWriter, r *http.Request) {
	b, ok := decodeCode(w, r, true)
	if !ok {
		return
	}
	sess, _ := session.FromContext(r.Context())
	if err := s.checkCode(r, sess.UserID, b); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Disable(r.Context(), session.Audit{Request: r}, sess.UserID); err != nil {
		s.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, struct {
		Enabled bool `json:"enabled"`
	}{false})
}

func (s *Service) serveRegenerate(w http.ResponseWriter, r *http.Request) {
	b, ok := decodeCode(w, r, true)
	if !ok {
		return
	}
	sess, _ := session.FromContext(r.Context())
	if err := s.checkCode(r, sess.UserID, b); err != nil {
		s.writeError(w, r, err)
		return
	}
	codes, err := s.RegenerateRecoveryCodes(r.Context(), session.Audit{Request: r}, sess.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, codesBody{codes})
}

// unauthenticated answers a request without a full session, as
// [session.Manager.JSONGuard] does.
func unauthenticated(w http.ResponseWriter) {
	httpjson.Error(w, http.StatusUnauthorized, "unauthenticated", "Please sign in.")
}

// writeError maps an error of the Go API or of the Manager to a response.
// Messages never contain a code or a secret.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var locked *LockedError
	switch {
	case errors.As(err, &locked):
		// SECURITY.md §16: the same answer whether the code was right or
		// not — no code is looked at while locked.
		if !locked.Until.IsZero() {
			secs := math.Ceil(locked.Until.Sub(s.now()).Seconds())
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(secs))))
		}
		httpjson.Error(w, http.StatusTooManyRequests, "locked", "Too many failed attempts. Please wait before trying again.")
	case errors.Is(err, ErrInvalidCode):
		// Wrong, malformed and replayed codes get one answer.
		httpjson.Error(w, http.StatusForbidden, "invalid_code", "That code is not valid. Please try again.")
	case errors.Is(err, ErrNotEnabled):
		httpjson.Error(w, http.StatusConflict, "not_enabled", "Two-factor authentication is not enabled.")
	case errors.Is(err, ErrAlreadyEnabled):
		httpjson.Error(w, http.StatusConflict, "already_enabled", "Two-factor authentication is already enabled; disable it first to set it up again.")
	case errors.Is(err, ErrNoPending):
		httpjson.Error(w, http.StatusConflict, "no_pending", "There is no two-factor setup to confirm; start again.")
	case errors.Is(err, session.ErrNoSession), errors.Is(err, session.ErrRevoked),
		errors.Is(err, session.ErrExpired), errors.Is(err, session.ErrInvalidCookie):
		// The session ended between the check and the upgrade.
		unauthenticated(w)
	case errors.Is(err, session.ErrUnavailable):
		s.logger.ErrorContext(r.Context(), "totp: session store unavailable", "error", err, "path", r.URL.Path)
		httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "Please try again shortly.")
	default:
		s.logger.ErrorContext(r.Context(), "totp: request failed", "error", err, "path", r.URL.Path)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "Something went wrong.")
	}
}
