package main

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/sessionguard/sessionguard/passkey"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// defaultPasskeyOrigin is the WebAuthn origin when appConfig names none:
// the address `go run ./example` listens on by default.
const defaultPasskeyOrigin = "http://localhost:8080"

// passkeyConsequence is what the confirmation of "Remove" states.
const passkeyConsequence = "You won't be able to log in with it any more. If it is your last key and you have no authenticator app, logging in will ask for your password only."

type passkeyView struct {
	K            passkey.Info
	NeedsConfirm bool
	Consequence  string
}

// passkeyPage asks before removing a security key or passkey: what the
// Remove button opens without JavaScript or when the password must be
// confirmed first (with JavaScript and a recent sign-in, a dialog asks).
func (a *app) passkeyPage(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	list, err := a.pk.List(r.Context(), s.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	for _, k := range list {
		if k.ID == r.PathValue("id") {
			a.render(w, r, http.StatusOK, "passkey", pageData{Title: "Remove " + k.Name + "?", Nav: "two-factor",
				Data: passkeyView{K: k, NeedsConfirm: !a.m.RecentlyAuthenticated(s), Consequence: passkeyConsequence}})
			return
		}
	}
	// Another user's ID looks exactly like an unknown one.
	redirect(w, r, "/two-factor", "passkey-not-found")
}

// removePasskey removes one of the user's keys; it needs a recent
// authentication, like the library's DELETE /passkeys/{id}.
func (a *app) removePasskey(w http.ResponseWriter, r *http.Request) {
	s, ok := a.reauthenticate(w, r, "/two-factor/passkeys/"+r.PathValue("id"))
	if !ok {
		return
	}
	err := a.pk.Remove(r.Context(), session.Audit{Request: r}, s.UserID, r.PathValue("id"))
	switch {
	case errors.Is(err, passkey.ErrNotFound):
		redirect(w, r, "/two-factor", "passkey-not-found")
	case err != nil:
		a.serverError(w, r, err)
	default:
		redirect(w, r, "/two-factor", "passkey-removed")
	}
}

// confirmPasswordJSON is the password step of registering a key when the
// last authentication is older than the re-authentication window: the
// script posts the password here (a form post, cross-origin protected)
// before POST /auth/passkeys/register/begin. 204 when confirmed; 403 or
// 429 with a JSON message otherwise.
func (a *app) confirmPasswordJSON(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	if a.m.RecentlyAuthenticated(s) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	switch err := a.verifyOwnPassword(w, r, s.UserID, r.PostFormValue("password")); {
	case errors.Is(err, errTooManyPasswords):
		writeJSONError(w, http.StatusTooManyRequests, messages["too-many-passwords"].Text)
		return
	case errors.Is(err, errBadCredentials):
		writeJSONError(w, http.StatusForbidden, messages["wrong-confirm"].Text)
		return
	case err != nil:
		a.cfg.Logger.Error("example: confirming the password failed", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "Something went wrong on our side. Please try again.")
		return
	}
	if _, err := a.m.Elevate(w, r, storage.AuthPassword); err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, "Something went wrong on our side. Please try again.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSONError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}
