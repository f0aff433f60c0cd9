package main

import (
	"errors"
	"net/http"

	"github.com/sessionguard/sessionguard/session"
)

// errTooManyPasswords: the account's (or this address's) password attempts
// are locked out for a while.
var errTooManyPasswords = errors.New("too many wrong passwords")

// verifyPassword checks username's password behind the library's password
// throttle (session.PasswordThrottle: per account, unknown usernames alike,
// and per client address, counted before the check so parallel guesses
// gain nothing). During a lockout it sets Retry-After on w and returns
// errTooManyPasswords without looking at the password. A right password
// resets the account's count.
func (a *app) verifyPassword(w http.ResponseWriter, r *http.Request, username, password string) (*user, error) {
	th := a.m.PasswordThrottle()
	err := th.Reserve(r.Context(), session.Audit{Request: r}, username, a.users.idOf(username))
	var locked *session.ThrottledError
	switch {
	case errors.As(err, &locked):
		locked.SetRetryAfter(w)
		return nil, errTooManyPasswords
	case err != nil:
		return nil, err
	}
	u, err := a.users.authenticate(username, password)
	if err != nil {
		return nil, err
	}
	if err := th.Succeeded(r.Context(), username); err != nil {
		a.cfg.Logger.Warn("example: resetting the password throttle failed", "err", err)
	}
	return u, nil
}

// verifyOwnPassword is verifyPassword for the signed-in user.
func (a *app) verifyOwnPassword(w http.ResponseWriter, r *http.Request, userID, password string) error {
	u, ok := a.users.get(userID)
	if !ok {
		return errBadCredentials
	}
	_, err := a.verifyPassword(w, r, u.Username, password)
	return err
}

// idOf returns the ID of the account named username, "" if none.
func (s *userStore) idOf(username string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if u := s.byName[username]; u != nil {
		return u.ID
	}
	return ""
}
