package main

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

type sessionsView struct {
	Sessions []sessionItem
	// NeedsConfirm is true when the last authentication is too old for
	// the sensitive actions: they then ask for the password.
	NeedsConfirm bool
	Now          time.Time
	Apps         int
}

type sessionItem struct {
	session.SessionInfo
	// Pending is a sign-in that passed the password and waits for the
	// second factor.
	Pending bool
}

// sessionsPage is "Apps and sessions": this device first, then every other
// logged-in device with what helps recognise it, each leading to its own
// page (sessionPage) with "Log out".
func (a *app) sessionsPage(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	list, err := a.m.ListSessions(r.Context(), s.UserID, s)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	apps, err := a.m.Apps().List(r.Context(), s.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	// Most recent activity first, as listed, but this device on top.
	slices.SortStableFunc(list, func(x, y session.SessionInfo) int {
		switch {
		case x.Current == y.Current:
			return 0
		case x.Current:
			return -1
		default:
			return 1
		}
	})
	items := make([]sessionItem, len(list))
	for i, info := range list {
		items[i] = sessionItem{SessionInfo: info, Pending: info.Raw.AuthLevel == storage.AuthPendingSecondFactor}
	}
	a.render(w, r, http.StatusOK, "sessions", pageData{Title: "Apps and sessions", Nav: "sessions", Data: sessionsView{
		Sessions:     items,
		NeedsConfirm: !a.m.RecentlyAuthenticated(s),
		Now:          a.cfg.Clock(),
		Apps:         len(apps),
	}})
}

// endSession logs out one session; ending this device's is a sign-out.
func (a *app) endSession(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	id := r.PathValue("id")
	err := a.m.Revoke(r.Context(), session.Audit{Request: r}, s.UserID, id)
	switch {
	case errors.Is(err, session.ErrNotFound):
		redirect(w, r, "/sessions", "not-found")
	case err != nil:
		a.serverError(w, r, err)
	case id == s.Handle:
		a.m.Logout(w, r)
		redirect(w, r, "/login", "logged-out")
	default:
		redirect(w, r, "/sessions", "ended-one")
	}
}

// confirmations are the actions that ask "are you sure?" first.
var confirmations = map[string]confirmView{
	"others": {
		Action:   "/sessions/logout-others",
		Heading:  "Log out all other sessions?",
		Text:     "Every device except this one will be logged out at once. You stay logged in here.",
		Button:   "Log out all other sessions",
		CountAll: false,
	},
	"everywhere": {
		Action:   "/sessions/logout-everywhere",
		Heading:  "Log out everywhere?",
		Text:     "Every device will be logged out at once, this one included. You will need your password to log in again.",
		Button:   "Log out everywhere",
		CountAll: true,
	},
}

type confirmView struct {
	Action, Heading, Text, Button string
	// CountAll counts this device among the sessions that end.
	CountAll bool
	// Ending is how many sessions the action would end.
	Ending       int
	NeedsConfirm bool
}

// confirmPage asks before logging out the other sessions or all of them:
// it is what the sessions page's buttons open without JavaScript, and when
// the password must be entered again.
func (a *app) confirmPage(w http.ResponseWriter, r *http.Request) {
	v, ok := confirmations[r.PathValue("action")]
	if !ok {
		a.notFound(w, r)
		return
	}
	s, _ := session.FromContext(r.Context())
	list, err := a.m.ListSessions(r.Context(), s.UserID, s)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	for _, info := range list {
		if v.CountAll || !info.Current {
			v.Ending++
		}
	}
	v.NeedsConfirm = !a.m.RecentlyAuthenticated(s)
	a.render(w, r, http.StatusOK, "confirm", pageData{Title: v.Heading, Nav: "sessions", Data: v})
}

// endOtherSessions is "Log out all other sessions". Like the JSON route it
// needs a recent authentication: the form asks for the password when the
// last one is older than the re-authentication window.
func (a *app) endOtherSessions(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s, ok := a.reauthenticate(w, r, "/sessions/confirm/others")
	if !ok {
		return
	}
	n, err := a.m.RevokeOthers(r.Context(), session.Audit{Request: r}, s)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if n == 0 {
		redirect(w, r, "/sessions", "ended-none")
		return
	}
	redirect(w, r, "/sessions", "ended-others", n)
}

// endAllSessions is "Log out everywhere": every session of the user ends,
// this one included, after a recent authentication.
func (a *app) endAllSessions(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if _, ok := a.reauthenticate(w, r, "/sessions/confirm/everywhere"); !ok {
		return
	}
	n, _, err := a.m.LogoutEverywhere(w, r, session.LogoutEverywhereOptions{})
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/login", "ended-everywhere", n)
}
