package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func contextCases() []testCase {
	return []testCase{
		{"CancelledContextFailsEveryMethod", testContextCancelled},
		{"CancelledCreateStoresNothing", testContextCancelledCreate},
	}
}

func testContextCancelled(t *testing.T, e *env) {
	s := e.store
	// Records that exist, so that a backend answering from them before
	// looking at ctx would be caught.
	x := newSession(randomID(), now())
	mustCreateSession(t, s, x)
	user := x.UserID
	g := newGrant(user, now())
	mustCreateGrant(t, s, g)
	c := newTOTP(user, now())
	checkErr(t, "PutPendingTOTP", s.PutPendingTOTP(t.Context(), c), nil)
	codes := newHashes(2)
	mustReplace(t, s, user, codes)
	p := storage.AttemptPolicy{FreeAttempts: 5, BaseLockout: time.Minute, MaxLockout: time.Hour, MaxFailures: 10}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"GetSession", func() error { _, err := s.GetSession(ctx, x.TokenHash); return err }},
		{"CreateSession", func() error { return s.CreateSession(ctx, newSession(user, now())) }},
		{"ListSessions", func() error { _, err := s.ListSessions(ctx, user); return err }},
		{"TouchSession", func() error { return s.TouchSession(ctx, x.TokenHash, storage.Activity{At: now()}) }},
		{"RotateSession", func() error { return s.RotateSession(ctx, x.TokenHash, rotated(x, now())) }},
		{"RevokeSession", func() error { _, err := s.RevokeSession(ctx, user, x.Handle); return err }},
		{"RevokeUserSessions", func() error { _, err := s.RevokeUserSessions(ctx, user, storage.TokenHash{}); return err }},
		{"DeleteExpiredSessions", func() error { _, err := s.DeleteExpiredSessions(ctx, now()); return err }},
		{"PutPendingTOTP", func() error { return s.PutPendingTOTP(ctx, newTOTP(user, now())) }},
		{"GetTOTP", func() error { _, err := s.GetTOTP(ctx, user); return err }},
		{"ConfirmTOTP", func() error { return s.ConfirmTOTP(ctx, user, 1, now()) }},
		{"AcceptTOTPStep", func() error { return s.AcceptTOTPStep(ctx, user, 2) }},
		{"UpdateTOTPSecret", func() error { return s.UpdateTOTPSecret(ctx, user, randomBytes(40), "k") }},
		{"DeleteTOTP", func() error { return s.DeleteTOTP(ctx, user) }},
		{"ReplaceRecoveryCodes", func() error { return s.ReplaceRecoveryCodes(ctx, user, newHashes(1)) }},
		{"ConsumeRecoveryCode", func() error { return s.ConsumeRecoveryCode(ctx, user, codes[0]) }},
		{"CountRecoveryCodes", func() error { _, err := s.CountRecoveryCodes(ctx, user); return err }},
		{"ReserveAttempt", func() error { _, err := s.ReserveAttempt(ctx, user, now(), p); return err }},
		{"GetThrottle", func() error { _, err := s.GetThrottle(ctx, user); return err }},
		{"ResetAttempts", func() error { return s.ResetAttempts(ctx, user) }},
		{"DeleteExpiredThrottles", func() error { _, err := s.DeleteExpiredThrottles(ctx, now()); return err }},
		{"CreateAppGrant", func() error { return s.CreateAppGrant(ctx, newGrant(user, now())) }},
		{"GetAppGrant", func() error { _, err := s.GetAppGrant(ctx, g.TokenHash); return err }},
		{"ListAppGrants", func() error { _, err := s.ListAppGrants(ctx, user); return err }},
		{"TouchAppGrant", func() error { return s.TouchAppGrant(ctx, g.TokenHash, now()) }},
		{"RevokeAppGrant", func() error { _, err := s.RevokeAppGrant(ctx, user, g.ID); return err }},
		{"RevokeUserAppGrants", func() error { _, err := s.RevokeUserAppGrants(ctx, user); return err }},
		{"AppendEvent", func() error { return s.AppendEvent(ctx, newEvent(user, now())) }},
		{"ListEvents", func() error { _, err := s.ListEvents(ctx, user, 0, 10); return err }},
		{"DeleteEventsBefore", func() error { _, err := s.DeleteEventsBefore(ctx, now()); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got error %v, want one wrapping context.Canceled", c.name, err)
		}
	}
}

func testContextCancelledCreate(t *testing.T, e *env) {
	s := e.store
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	x := newSession(randomID(), now())
	if err := s.CreateSession(ctx, x); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateSession with a cancelled context: got error %v, want one wrapping context.Canceled", err)
	}
	checkNoSession(t, s, x.TokenHash)
	// And the keys are still free.
	mustCreateSession(t, s, x)
}
