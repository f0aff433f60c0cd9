package main

import (
	"errors"
	"net/http"

	"github.com/sessionguard/sessionguard/session"
)

// trustedBrowsers lists the user's trusted browsers ("Don't ask again on
// this browser"), newest first as the library returns them.
func (a *app) trustedBrowsers(r *http.Request, userID string) ([]session.TrustedBrowserInfo, error) {
	return a.m.TrustedBrowsers().List(r.Context(), userID)
}

type trustedBrowserView struct {
	B session.TrustedBrowserInfo
	// Consequence says what removing the trust does.
	Consequence string
}

// trustedBrowserConsequence is what the confirmation of "Remove" states.
const trustedBrowserConsequence = "Logging in on that browser will ask for a code from your authenticator app again. Anyone logged in there now stays logged in: to end that, log the device out on Apps and sessions."

// trustedBrowserPage asks before removing the trust of one browser: what
// the Remove button opens without JavaScript (with it, a dialog asks).
func (a *app) trustedBrowserPage(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	list, err := a.trustedBrowsers(r, s.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	id := r.PathValue("id")
	for _, b := range list {
		if b.ID == id {
			a.render(w, r, http.StatusOK, "trusted-browser", pageData{Title: "Stop trusting " + deviceName(b) + "?", Nav: "two-factor",
				Data: trustedBrowserView{B: b, Consequence: trustedBrowserConsequence}})
			return
		}
	}
	// Another user's ID looks exactly like an unknown one.
	redirect(w, r, "/two-factor", "browser-not-found")
}

// removeTrustedBrowser ends the trust of one browser: its next sign-in
// asks for the second factor again. It needs no recent authentication:
// it only takes a shortcut away.
func (a *app) removeTrustedBrowser(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	err := a.m.TrustedBrowsers().Revoke(r.Context(), session.Audit{Request: r}, s.UserID, r.PathValue("id"))
	switch {
	case errors.Is(err, session.ErrNotFound):
		redirect(w, r, "/two-factor", "browser-not-found")
	case err != nil:
		a.serverError(w, r, err)
	default:
		redirect(w, r, "/two-factor", "browser-removed")
	}
}

// deviceName is how a trusted browser is named on the page.
func deviceName(b session.TrustedBrowserInfo) string {
	if b.Device != "" {
		return b.Device
	}
	return "an unknown browser"
}
