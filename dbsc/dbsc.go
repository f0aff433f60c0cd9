// Package dbsc is the server side of Device Bound Session Credentials
// (W3C WebAppSec draft, shipped in Chrome): the registration and refresh
// endpoints through which a browser binds its session to a private key
// that never leaves the device, and then keeps a short-lived device cookie
// fresh by signing server challenges.
//
// The binding state lives with the session (see
// [session.DeviceBindingConfig] and [session.Manager.DeviceBindings]):
// once a session is bound, [session.Manager.Handler] refuses a request
// carrying its session cookie without a valid device cookie, so a session
// cookie copied to another machine is useless. A successful registration
// rotates the session's token and its answer sets the new session cookie
// besides the device cookie: the session cookie from before binding dies
// on every instance, like a revoked one. This package verifies the
// proofs — JWTs signed with ES256 (P-256) or RS256, the key taken from the
// registration JWT and afterwards only from storage — with
// github.com/go-jose/go-jose/v4.
//
// Turn it on with one field and mount the Service with the Manager's
// routes:
//
//	m, _ := session.New(session.Config{..., DeviceBinding: session.DeviceBindingConfig{RoutesPath: "/auth"}})
//	svc, _ := dbsc.New(dbsc.Config{Manager: m})
//	mux.Handle("/auth/", http.StripPrefix("/auth", m.Routes(svc)))
//
// Routes (relative to the mount point):
//
//	POST /dbsc/register  Secure-Session-Response: <registration JWT>
//	POST /dbsc/refresh   Sec-Secure-Session-Id: <id> [, Secure-Session-Response: <JWT>]
package dbsc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"

	"github.com/sessionguard/sessionguard/internal/httpjson"
	"github.com/sessionguard/sessionguard/session"
)

// Config configures a [Service].
type Config struct {
	// Manager is the session Manager, with Config.DeviceBinding set.
	// Required. Its store, clock and keys are the Service's.
	Manager *session.Manager
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
}

// Service answers the DBSC registration and refresh requests. It is a
// [session.RouteSet]; safe for concurrent use.
type Service struct {
	m      *session.Manager
	d      *session.DeviceBindings
	logger *slog.Logger
}

// New returns a Service. It fails if the Manager is missing or has device
// binding off.
func New(cfg Config) (*Service, error) {
	if cfg.Manager == nil {
		return nil, errors.New("dbsc: Config.Manager is required")
	}
	d := cfg.Manager.DeviceBindings()
	if d == nil {
		return nil, errors.New("dbsc: the Manager has device binding off (set session.Config.DeviceBinding.RoutesPath)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{m: cfg.Manager, d: d, logger: cfg.Logger}, nil
}

// RegisterRoutes adds POST /dbsc/register and POST /dbsc/refresh to mux.
// The proofs are signed, so the routes need no cross-origin check of their
// own beyond the Manager's Handler.
func (s *Service) RegisterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /dbsc/register", s.serveRegister)
	mux.HandleFunc("POST /dbsc/refresh", s.serveRefresh)
}

// instructions is the JSON answer to a registration or refresh: the DBSC
// session's identifier, refresh URL, scope (this origin) and credential.
type instructions struct {
	SessionIdentifier string       `json:"session_identifier"`
	RefreshURL        string       `json:"refresh_url"`
	Scope             scope        `json:"scope"`
	Credentials       []credential `json:"credentials"`
}

type scope struct {
	IncludeSite        bool  `json:"include_site"`
	ScopeSpecification []any `json:"scope_specification"`
}

type credential struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Attributes string `json:"attributes"`
}

func (s *Service) answer(w http.ResponseWriter, sess *session.Session, id string) {
	s.d.SetCookie(w, sess)
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusOK, instructions{
		SessionIdentifier: id,
		RefreshURL:        s.d.RefreshPath(),
		Scope:             scope{ScopeSpecification: []any{}},
		Credentials:       []credential{{Type: "cookie", Name: s.d.CookieName(), Attributes: s.d.CookieAttributes()}},
	})
}

// session returns the request's session (without the device proof) or
// answers the refusal.
func (s *Service) session(w http.ResponseWriter, r *http.Request) (*session.Session, bool) {
	sess, err := s.d.Session(r)
	switch {
	case err == nil:
		return sess, true
	case errors.Is(err, session.ErrUnavailable):
		s.logger.Error("dbsc: cannot check session", "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "Sessions cannot be checked right now. Please try again shortly.")
	default:
		httpjson.Error(w, http.StatusUnauthorized, "unauthenticated", "Sign in first.")
	}
	return nil, false
}

// refuse records a failed proof and answers 400 (503 for a storage
// failure).
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, sess *session.Session, what string, err error) {
	if errors.Is(err, session.ErrUnavailable) {
		s.logger.Error("dbsc: storage failure", "op", what, "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "Device binding is unavailable right now.")
		return
	}
	s.d.RecordFailure(context.WithoutCancel(r.Context()), session.Audit{Request: r}, sess, what+": "+err.Error())
	httpjson.Error(w, http.StatusBadRequest, "invalid_proof", err.Error())
}

func (s *Service) serveRegister(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	reg, err := verifyRegistration(r.Header.Get("Secure-Session-Response"))
	if err != nil {
		s.refuse(w, r, sess, "registration", err)
		return
	}
	ctx := r.Context()
	c, err := s.d.UseChallenge(ctx, sess, reg.JTI)
	if errors.Is(err, session.ErrNotFound) || (err == nil && c.Authorization == "") {
		s.refuse(w, r, sess, "registration", ErrChallenge)
		return
	} else if err != nil {
		s.refuse(w, r, sess, "registration", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(c.Authorization), []byte(reg.Authorization)) != 1 {
		s.refuse(w, r, sess, "registration", ErrAuthorization)
		return
	}
	id := rand.Text()
	// Bind rotates the session's token and sets the new session cookie:
	// the one sent with this request, bound to nothing, dies everywhere.
	bound, err := s.d.Bind(ctx, w, session.Audit{Request: r}, sess, id, reg.key, reg.thumbprint)
	if errors.Is(err, session.ErrRevoked) {
		httpjson.Error(w, http.StatusUnauthorized, "unauthenticated", "Sign in first.")
		return
	} else if err != nil {
		s.refuse(w, r, sess, "registration", err)
		return
	}
	s.answer(w, bound, id)
}

func (s *Service) serveRefresh(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id, ok := headerValue(r.Header.Get("Sec-Secure-Session-Id"))
	if !ok {
		s.refuse(w, r, sess, "refresh", ErrSessionID)
		return
	}
	b, err := s.d.Binding(ctx, sess)
	if errors.Is(err, session.ErrNotFound) || (err == nil && b.ID != id) {
		s.refuse(w, r, sess, "refresh", ErrSessionID)
		return
	} else if err != nil {
		s.refuse(w, r, sess, "refresh", err)
		return
	}
	proof := r.Header.Get("Secure-Session-Response")
	if proof == "" {
		ch, err := s.d.NewChallenge(ctx, sess)
		if err != nil {
			s.refuse(w, r, sess, "refresh", err)
			return
		}
		w.Header().Set("Secure-Session-Challenge", `"`+ch+`";id="`+id+`"`)
		w.Header().Set("Cache-Control", "no-store")
		httpjson.Error(w, http.StatusForbidden, "challenge", "Sign the challenge in Secure-Session-Challenge.")
		return
	}
	c, err := verifyRefresh(proof, b.PublicKey)
	if err != nil {
		s.refuse(w, r, sess, "refresh", err)
		return
	}
	used, err := s.d.UseChallenge(ctx, sess, c.JTI)
	if errors.Is(err, session.ErrNotFound) || (err == nil && used.Authorization != "") {
		s.refuse(w, r, sess, "refresh", ErrChallenge)
		return
	} else if err != nil {
		s.refuse(w, r, sess, "refresh", err)
		return
	}
	s.answer(w, sess, id)
}
