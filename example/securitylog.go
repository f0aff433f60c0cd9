package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// securityLogPageSize is how many events one page of the log shows.
const securityLogPageSize = 20

type securityLogView struct {
	Events []eventItem
	// Next is the cursor of the next (older) page, 0 on the last one.
	Next int64
	// Paged is true past the first page.
	Paged bool
}

type eventItem struct {
	session.EventInfo
	Text string
	// Where lists the device, location and IP address that are known.
	Where []string
	// ThisDevice marks events of the session viewing the log.
	ThisDevice bool
}

// securityLogPage shows the account's security events, newest first, a
// page at a time ("Older events" follows the cursor).
func (a *app) securityLogPage(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	var before int64
	if q := r.URL.Query().Get("before"); q != "" {
		var err error
		if before, err = strconv.ParseInt(q, 10, 64); err != nil || before <= 0 {
			a.render(w, r, http.StatusBadRequest, "error", pageData{Title: "Page not found", Error: "That page of the security log does not exist."})
			return
		}
	}
	events, next, err := a.m.SecurityLog().List(r.Context(), s.UserID, before, securityLogPageSize)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	v := securityLogView{Next: next, Paged: before != 0, Events: make([]eventItem, 0, len(events))}
	for i, e := range events {
		if confirmsPasswordChange(events, i) {
			continue
		}
		item := eventItem{EventInfo: e, Text: describeEvent(e.Type, e.Detail), ThisDevice: e.SessionID != "" && e.SessionID == s.Handle}
		for _, w := range []string{e.Device, e.Location, e.IP} {
			if w != "" {
				item.Where = append(item.Where, w)
			}
		}
		v.Events = append(v.Events, item)
	}
	a.render(w, r, http.StatusOK, "security-log", pageData{Title: "Security log", Nav: "security-log", Data: v})
}

// eventAccountCreated is the example's own event type: the account was
// created (the first entry of every log).
const eventAccountCreated storage.EventType = "account_created"

// confirmsPasswordChange reports whether events[i] (newest first) is the
// "reauthenticated" entry that changing the password leaves right after
// the "password_changed" one: the session that changed the password gets
// a fresh token (Manager.Elevate), which the library records as a password
// confirmation. The password change already says so; the page leaves it
// out rather than say the same thing twice.
func confirmsPasswordChange(events []session.EventInfo, i int) bool {
	e := events[i]
	if e.Type != storage.EventReauthenticated || i+1 >= len(events) {
		return false
	}
	prev := events[i+1] // older: recorded just before
	return prev.Type == storage.EventPasswordChanged && prev.SessionID == e.SessionID && e.At.Sub(prev.At) < time.Second
}

// describeEvent says in words what a security event means. The detail the
// library records is a count for some types, a short label for others; it
// is rendered escaped like everything else.
func describeEvent(t storage.EventType, detail string) string {
	n, err := strconv.Atoi(detail)
	hasCount := err == nil && n >= 0
	sessions := func(n int) string {
		if n == 1 {
			return "1 session"
		}
		return fmt.Sprintf("%d sessions", n)
	}
	switch t {
	case eventAccountCreated:
		return "Created the account"
	case storage.EventSignedIn:
		if detail == storage.AuthPendingSecondFactor.String() {
			return "Password entered; waiting for the second factor"
		}
		return "Logged in"
	case storage.EventSignedOut:
		return "Logged out"
	case storage.EventSessionRevoked:
		if detail != "" {
			return "Logged out " + detail
		}
		return "Logged out another session"
	case storage.EventSignedOutEverywhere, storage.EventAllSessionsRevokedAdm:
		if hasCount {
			return "Logged out everywhere (" + sessions(n) + " ended)"
		}
		return "Logged out everywhere"
	case storage.EventOtherSessionsRevoked:
		if hasCount {
			return "Logged out all other sessions (" + sessions(n) + " ended)"
		}
		return "Logged out all other sessions"
	case storage.EventPasswordChanged:
		if hasCount {
			return "Changed the password (" + sessions(n) + " ended)"
		}
		return "Changed the password"
	case storage.EventReauthenticated:
		return "Confirmed the password for a sensitive action"
	case storage.EventSecondFactorEnabled:
		return "Turned on two-factor authentication"
	case storage.EventSecondFactorDisabled:
		return "Turned off two-factor authentication"
	case storage.EventSecondFactorUsed:
		if detail == "passkey" {
			return "Used a security key or passkey"
		}
		return "Used the authenticator app"
	case storage.EventPasskeyAdded:
		if detail != "" {
			return "Added the security key or passkey “" + detail + "”"
		}
		return "Added a security key or passkey"
	case storage.EventPasskeyRemoved:
		return "Removed a security key or passkey"
	case storage.EventPasskeyCounterRegressed:
		return "Refused a security key or passkey whose counter went back (possibly a copied key)"
	case storage.EventRecoveryCodeUsed:
		if detail != "" {
			return "Used a recovery code (" + detail + ")"
		}
		return "Used a recovery code"
	case storage.EventRecoveryCodesRenewed:
		return "Generated new recovery codes"
	case storage.EventSecondFactorReplay:
		return "Refused a code that had been used already"
	case storage.EventSecondFactorFailed:
		return "Refused a wrong two-factor code"
	case storage.EventSecondFactorLockout:
		return "Locked two-factor login after too many wrong codes"
	case storage.EventAppAuthorized:
		if detail != "" {
			return "Connected the app “" + detail + "”"
		}
		return "Connected an app"
	case storage.EventAppRevoked:
		if detail != "" {
			return "Revoked access of “" + detail + "”"
		}
		return "Revoked an app's access"
	case storage.EventNewDeviceSignIn:
		return "Signed in from a new device or place"
	case storage.EventDeviceBound:
		return "Bound this session to its device (DBSC)"
	case storage.EventDeviceProofFailed:
		return "Refused a device proof"
	default:
		return "Security event: " + string(t)
	}
}
