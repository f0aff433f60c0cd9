package main

import (
	"crypto/hkdf"
	"crypto/sha256"
	"net/http"

	"github.com/gorilla/securecookie"
	"github.com/sessionguard/sessionguard/session"
)

// A secret that must be shown once — a new TOTP secret, recovery codes, an
// app token — is produced by a POST, which answers with a redirect; the
// page the browser then GETs shows it. In between it travels in a "reveal"
// cookie: sealed (AES-256 and HMAC-SHA256 under keys derived from the
// cookie keys), HttpOnly, SameSite=Strict, valid for ten minutes and bound
// to the session that asked for it. Nothing secret is kept on the server
// meanwhile, and any instance behind a load balancer can show it.
const (
	revealCookie = "reveal"
	revealMaxAge = 600 // seconds
)

// Kinds of revealed secrets.
const (
	revealEnrollment    = "totp-enrollment"
	revealRecoveryCodes = "recovery-codes"
	revealAppToken      = "app-token"
)

type revealed struct {
	Handle string   `json:"h"`
	Kind   string   `json:"k"`
	Secret string   `json:"s,omitempty"` // TOTP secret or app token
	URL    string   `json:"u,omitempty"` // otpauth:// URL
	Name   string   `json:"n,omitempty"` // app name
	Codes  []string `json:"c,omitempty"` // recovery codes
}

// newRevealCodec derives the reveal cookie's keys from the newest cookie
// key pair (RFC 5869), so that they differ from the session cookie's.
func newRevealCodec(pair session.KeyPair) (*securecookie.SecureCookie, error) {
	hashKey, err := hkdf.Key(sha256.New, pair.HashKey, nil, "sessionguard example: reveal cookie hash key", 32)
	if err != nil {
		return nil, err
	}
	blockKey, err := hkdf.Key(sha256.New, pair.BlockKey, nil, "sessionguard example: reveal cookie block key", 32)
	if err != nil {
		return nil, err
	}
	sc := securecookie.New(hashKey, blockKey)
	sc.SetSerializer(securecookie.JSONEncoder{})
	sc.MaxAge(revealMaxAge)
	return sc, nil
}

// setReveal puts v in the reveal cookie, bound to s.
func (a *app) setReveal(w http.ResponseWriter, s *session.Session, v revealed) error {
	v.Handle = s.Handle
	value, err := a.reveal.Encode(revealCookie, v)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: revealCookie, Value: value, Path: "/", MaxAge: revealMaxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// readReveal returns the revealed secret of the given kind that r carries
// for session s, if any.
func (a *app) readReveal(r *http.Request, s *session.Session, kind string) (*revealed, bool) {
	c, err := r.Cookie(revealCookie)
	if err != nil {
		return nil, false
	}
	var v revealed
	if err := a.reveal.Decode(revealCookie, c.Value, &v); err != nil || v.Handle != s.Handle || v.Kind != kind {
		return nil, false
	}
	return &v, true
}

// clearReveal expires the reveal cookie.
func clearReveal(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: revealCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
