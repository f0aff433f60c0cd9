package main

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/sessionguard/sessionguard/session"
)

// The sample app the demo button connects, and the scope its token needs
// to read the profile at GET /api/me.
const (
	demoAppName  = "Sample Calendar"
	scopeProfile = "profile:read"
)

type appsView struct {
	Apps []session.AppInfo
	// NeedsConfirm: the last authentication is too old to connect an app
	// without the password.
	NeedsConfirm bool
	// NewToken is the token of the app just connected, shown this once.
	NewToken, NewTokenApp string
}

// appsPage lists the connected apps, each with "Revoke access".
func (a *app) appsPage(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	apps, err := a.m.Apps().List(r.Context(), s.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	v := appsView{Apps: apps, NeedsConfirm: !a.m.RecentlyAuthenticated(s)}
	if rv, ok := a.readReveal(r, s, revealAppToken); ok {
		v.NewToken, v.NewTokenApp = rv.Secret, rv.Name
		clearReveal(w)
	}
	a.render(w, r, http.StatusOK, "apps", pageData{Title: "Connected apps", Nav: "apps", Data: v})
}

// authorizeDemoApp stands in for an OAuth consent screen: it grants the
// sample app access (AppTokens.Grant) and shows its token once.
//
// Connecting an app needs a recent authentication, like the other
// sensitive actions: a token outlives "Log out everywhere", so a stolen
// cookie alone must not be able to mint one.
func (a *app) authorizeDemoApp(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s, ok := a.reauthenticate(w, r, "/apps")
	if !ok {
		return
	}
	token, _, err := a.m.Apps().Grant(r.Context(), session.Audit{Request: r}, s.UserID, demoAppName, []string{scopeProfile})
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if err := a.setReveal(w, s, revealed{Kind: revealAppToken, Secret: token, Name: demoAppName}); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/apps", "")
}

// revokeApp ends one app's access; its token stops working at once.
func (a *app) revokeApp(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	err := a.m.Apps().Revoke(r.Context(), session.Audit{Request: r}, s.UserID, r.PathValue("id"))
	switch {
	case errors.Is(err, session.ErrNotFound):
		redirect(w, r, "/apps", "app-not-found")
	case err != nil:
		a.serverError(w, r, err)
	default:
		redirect(w, r, "/apps", "app-revoked")
	}
}

// apiMe is what a connected app calls with its token:
//
//	curl -H "Authorization: Bearer sgapp_…" http://localhost:8080/api/me
func (a *app) apiMe(w http.ResponseWriter, r *http.Request) {
	g, _ := session.GrantFromContext(r.Context())
	u, ok := a.users.get(g.UserID)
	if !ok {
		http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Username string `json:"username"`
		App      string `json:"app"`
	}{u.Username, g.AppName})
}
