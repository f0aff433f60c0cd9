package main

import (
	"net/http"

	"github.com/sessionguard/sessionguard/session"
)

type sessionView struct {
	S session.SessionInfo
	// Confirming shows the confirmation of "Log out" (?confirm=logout):
	// what the button opens without JavaScript.
	Confirming bool
	// Consequence says what logging the device out does.
	Consequence string
}

// sessionPage is one session, as X shows it: the device, where and when it
// logged in, its last activity, and "Log out the device shown" behind a
// confirmation that says what happens.
func (a *app) sessionPage(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	list, err := a.m.ListSessions(r.Context(), s.UserID, s)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	id := r.PathValue("id")
	for _, info := range list {
		if info.ID != id {
			continue
		}
		v := sessionView{S: info, Confirming: r.URL.Query().Get("confirm") == "logout"}
		if info.Current {
			v.Consequence = "You will be logged out on this device and need your password to log in again. Your other devices stay logged in."
		} else {
			v.Consequence = "It will be logged out at once: its next click leads to the login page, and logging in again needs your password."
		}
		title := info.DeviceLabel
		if v.Confirming {
			title = "Log out " + title + "?"
		}
		a.render(w, r, http.StatusOK, "session", pageData{Title: title, Nav: "sessions", Data: v})
		return
	}
	if a.methodNotAllowed(w, r) { // GET /sessions/logout-others
		return
	}
	// Another user's handle looks exactly like an unknown one.
	redirect(w, r, "/sessions", "not-found")
}

type appView struct {
	App session.AppInfo
	// Scopes says in words what the app can do.
	Scopes     []string
	Confirming bool
	// Consequence says what revoking does.
	Consequence string
}

// scopeText describes the scopes the example grants.
var scopeText = map[string]string{
	scopeProfile: "Read your profile (your username)",
}

// appPage is one connected app: what it can do, when it was connected and
// last used, and "Revoke access" behind a confirmation.
func (a *app) appPage(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	apps, err := a.m.Apps().List(r.Context(), s.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	id := r.PathValue("id")
	for _, info := range apps {
		if info.ID != id {
			continue
		}
		v := appView{App: info, Confirming: r.URL.Query().Get("confirm") == "revoke",
			Consequence: info.Name + " will no longer be able to use your account: its token stops working at once. To use it again you would have to connect it again."}
		for _, sc := range info.Scopes {
			if t, ok := scopeText[sc]; ok {
				v.Scopes = append(v.Scopes, t)
			} else {
				v.Scopes = append(v.Scopes, sc)
			}
		}
		title := info.Name
		if v.Confirming {
			title = "Revoke access of " + info.Name + "?"
		}
		a.render(w, r, http.StatusOK, "app", pageData{Title: title, Nav: "apps", Data: v})
		return
	}
	if a.methodNotAllowed(w, r) { // GET /apps/demo
		return
	}
	redirect(w, r, "/apps", "app-not-found")
}
