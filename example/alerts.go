package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// newDeviceAlert is the newest new-device sign-in of the account made by
// another session, as GET /alerts/new-device answers it for the notice that
// static/live.js shows on the sessions and security-log pages (dismissed
// per browser, in localStorage).
type newDeviceAlert struct {
	ID       int64     `json:"id"`
	Device   string    `json:"device"`
	Location string    `json:"location"`
	IP       string    `json:"ip"`
	At       time.Time `json:"at"`
}

// newDeviceAlerts answers {"alert": …} with the newest new_device_sign_in
// event of the last 30 days not made by this session, or {"alert": null}.
// It reads one page of the security log.
func (a *app) newDeviceAlerts(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	events, _, err := a.m.SecurityLog().List(r.Context(), s.UserID, 0, session.MaxEventPage)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	since := a.cfg.Clock().Add(-30 * 24 * time.Hour)
	var out struct {
		Alert *newDeviceAlert `json:"alert"`
	}
	for _, e := range events {
		if e.Type == storage.EventNewDeviceSignIn && e.SessionID != s.Handle && e.At.After(since) {
			out.Alert = &newDeviceAlert{ID: e.ID, Device: e.Device, Location: e.Location, IP: e.IP, At: e.At}
			break
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}
