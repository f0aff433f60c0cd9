package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sessionguard/sessionguard/session"
)

// liveInterval is how often the live sessions stream re-reads the list.
const liveInterval = 2 * time.Second

// liveSessions streams the signed-in user's sessions as server-sent events
// for the sessions page (static/live.js): a "sessions" event with the
// session IDs whenever they change, and an "ended" event — then the end of
// the stream — the moment this session is ended, on this instance or on
// any other sharing the store (session.Manager.SessionContext).
func (a *app) liveSessions(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ctx, cancel := a.m.SessionContext(r)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	var last []string
	send := func() bool {
		list, err := a.m.ListSessions(ctx, s.UserID, s)
		if err != nil {
			return ctx.Err() == nil // a failed read ends the stream; the page falls back to reloads
		}
		ids := make([]string, len(list))
		for i, info := range list {
			ids[i] = info.ID
		}
		slices.Sort(ids)
		if slices.Equal(ids, last) {
			return true
		}
		last = ids
		data, _ := json.Marshal(ids)
		fmt.Fprintf(w, "event: sessions\ndata: %s\n\n", data)
		flusher.Flush()
		return true
	}
	if !send() {
		return
	}
	tick := time.NewTicker(liveInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if r.Context().Err() == nil { // the session ended, not the connection
				reason := "ended"
				if errors.Is(context.Cause(ctx), session.ErrExpired) {
					reason = "expired"
				}
				fmt.Fprintf(w, "event: ended\ndata: %q\n\n", reason)
				flusher.Flush()
			}
			return
		case <-tick.C:
			if !send() {
				return
			}
		}
	}
}
