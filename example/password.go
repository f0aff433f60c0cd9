package main

import (
	"errors"
	"net/http"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

func (a *app) passwordPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "password", pageData{Title: "Change password", Nav: "password"})
}

// changePassword checks the current password, sets the new one, ends every
// other session (SECURITY.md §7) and gives this one a new token.
func (a *app) changePassword(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s, _ := session.FromContext(r.Context())
	current, next := r.PostFormValue("current"), r.PostFormValue("new")
	fail := func(status int, field, text string) {
		a.render(w, r, status, "password", pageData{Title: "Change password", Nav: "password", Error: text, Field: field})
	}
	switch err := a.verifyOwnPassword(w, r, s.UserID, current); {
	case errors.Is(err, errTooManyPasswords):
		fail(http.StatusTooManyRequests, "current", "Too many wrong passwords. Please wait a while and try again; nothing was changed.")
		return
	case errors.Is(err, errBadCredentials):
		fail(http.StatusUnauthorized, "current", "Your current password is not right, so nothing was changed.")
		return
	case err != nil:
		a.serverError(w, r, err)
		return
	}
	if next != r.PostFormValue("confirm") {
		fail(http.StatusBadRequest, "confirm", "The two new passwords differ. Type the same new password twice.")
		return
	}
	if err := validatePassword(next); err != nil {
		fail(http.StatusBadRequest, "new", "Please choose another new password: "+err.Error()+".")
		return
	}
	// End the other sessions first: whatever happens next, a thief's
	// session does not outlive the old password.
	n, err := a.m.PasswordChanged(r.Context(), session.Audit{Request: r}, s.UserID, s)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if err := a.users.setPassword(s.UserID, next); err != nil {
		a.serverError(w, r, err)
		return
	}
	if _, err := a.m.Elevate(w, r, storage.AuthPassword); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/password", "password-changed", n)
}
