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
	fail := func(status int, text string) {
		a.render(w, r, status, "password", pageData{Title: "Change password", Nav: "password", Error: text})
	}
	if !a.users.checkPassword(s.UserID, current) {
		fail(http.StatusUnauthorized, "Your current password is not right, so nothing was changed.")
		return
	}
	if next != r.PostFormValue("confirm") {
		fail(http.StatusBadRequest, "The two new passwords differ. Type the same new password twice.")
		return
	}
	if err := a.users.setPassword(s.UserID, next); errors.Is(err, errBadPassword) {
		fail(http.StatusBadRequest, "Please choose another new password: "+err.Error()+".")
		return
	} else if err != nil {
		a.serverError(w, r, err)
		return
	}
	// End the other sessions first: whatever happens next, a thief's
	// session does not outlive the old password.
	n, err := a.m.PasswordChanged(session.WithRequest(r.Context(), r), s.UserID, s)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if _, err := a.m.Elevate(w, r, storage.AuthPassword); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/password", "password-changed", n)
}
