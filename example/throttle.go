package main

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// errTooManyPasswords: the account's password attempts are locked out for
// a while.
var errTooManyPasswords = errors.New("too many wrong passwords")

// passwordPolicy slows password guessing per account: 10 free attempts,
// then a lockout that starts at one minute and doubles up to an hour — at
// most a couple of dozen guesses a day. There is no practical hard cap: a
// permanent lock would let anyone who knows a username lock its owner out.
func passwordPolicy() storage.AttemptPolicy {
	return storage.AttemptPolicy{FreeAttempts: 10, BaseLockout: time.Minute, MaxLockout: time.Hour, MaxFailures: math.MaxInt32}
}

// verifyPassword checks username's password behind a per-account throttle
// kept in the session store (its atomic ReserveAttempt counts the attempt
// before the check, so parallel guesses gain nothing). The throttle is
// keyed by the username as typed, so unknown usernames are throttled like
// real ones and a lockout reveals nothing. A right password resets it.
func (a *app) verifyPassword(ctx context.Context, username, password string) (*user, error) {
	key := "password:" + username
	switch _, err := a.store.ReserveAttempt(ctx, key, a.cfg.Clock(), passwordPolicy()); {
	case errors.Is(err, storage.ErrLocked):
		return nil, errTooManyPasswords
	case err != nil:
		return nil, err
	}
	u, err := a.users.authenticate(username, password)
	if err != nil {
		return nil, err
	}
	if err := a.store.ResetAttempts(ctx, key); err != nil {
		a.cfg.Logger.Warn("example: resetting the password throttle failed", "err", err)
	}
	return u, nil
}

// verifyOwnPassword is verifyPassword for the signed-in user.
func (a *app) verifyOwnPassword(ctx context.Context, userID, password string) error {
	u, ok := a.users.get(userID)
	if !ok {
		return errBadCredentials
	}
	_, err := a.verifyPassword(ctx, u.Username, password)
	return err
}
