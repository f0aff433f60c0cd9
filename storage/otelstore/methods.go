// Code in this file wraps every storage.Store method the same way: see
// Store.start and call.end in otelstore.go.

package otelstore

import (
	"context"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// The operations, in the order of opNames.
const (
	opCreateSession op = iota
	opGetSession
	opListSessions
	opTouchSession
	opRotateSession
	opRevokeSession
	opRevokeUserSessions
	opDeleteExpiredSessions
	opPutPendingTOTP
	opGetTOTP
	opConfirmTOTP
	opAcceptTOTPStep
	opUpdateTOTPSecret
	opDeleteTOTP
	opReplaceRecoveryCodes
	opConsumeRecoveryCode
	opCountRecoveryCodes
	opReserveAttempt
	opGetThrottle
	opResetAttempts
	opDeleteExpiredThrottles
	opCreateAppGrant
	opGetAppGrant
	opListAppGrants
	opTouchAppGrant
	opRevokeAppGrant
	opRevokeUserAppGrants
	opAppendEvent
	opListEvents
	opDeleteEventsBefore
	opPutDeviceBinding // binding.go
	opGetDeviceBinding
	opDeleteDeviceBindings
	opDeleteDeviceBinding
	opAddBindingChallenge
	opUseBindingChallenge
	opCreateTrustedBrowser     // signin.go
	opGetTrustedBrowser        // signin.go
	opTouchTrustedBrowser      // signin.go
	opListTrustedBrowsers      // signin.go
	opDeleteTrustedBrowser     // signin.go
	opDeleteTrustedBrowsers    // signin.go
	opCreatePasskey            // signin.go
	opListPasskeys             // signin.go
	opGetPasskeyByCredentialID // signin.go
	opRecordPasskeyUse         // signin.go
	opRenamePasskey            // signin.go
	opDeletePasskey            // signin.go
	opPutPasskeyChallenge      // signin.go
	opTakePasskeyChallenge     // signin.go
	numOps
)

// opNames are the operation names recorded as sessionguard.store.operation:
// the storage.Store method names.
var opNames = [numOps]string{
	"CreateSession",
	"GetSession",
	"ListSessions",
	"TouchSession",
	"RotateSession",
	"RevokeSession",
	"RevokeUserSessions",
	"DeleteExpiredSessions",
	"PutPendingTOTP",
	"GetTOTP",
	"ConfirmTOTP",
	"AcceptTOTPStep",
	"UpdateTOTPSecret",
	"DeleteTOTP",
	"ReplaceRecoveryCodes",
	"ConsumeRecoveryCode",
	"CountRecoveryCodes",
	"ReserveAttempt",
	"GetThrottle",
	"ResetAttempts",
	"DeleteExpiredThrottles",
	"CreateAppGrant",
	"GetAppGrant",
	"ListAppGrants",
	"TouchAppGrant",
	"RevokeAppGrant",
	"RevokeUserAppGrants",
	"AppendEvent",
	"ListEvents",
	"DeleteEventsBefore",
	"PutDeviceBinding",
	"GetDeviceBinding",
	"DeleteDeviceBindings",
	"DeleteDeviceBinding",
	"AddBindingChallenge",
	"UseBindingChallenge",
	"CreateTrustedBrowser",
	"GetTrustedBrowser",
	"TouchTrustedBrowser",
	"ListTrustedBrowsers",
	"DeleteTrustedBrowser",
	"DeleteTrustedBrowsers",
	"CreatePasskey",
	"ListPasskeys",
	"GetPasskeyByCredentialID",
	"RecordPasskeyUse",
	"RenamePasskey",
	"DeletePasskey",
	"PutPasskeyChallenge",
	"TakePasskeyChallenge",
}

// CreateSession implements [storage.Store], measured and traced.
func (s *Store) CreateSession(ctx context.Context, x *storage.Session) error {
	ctx, c := s.start(ctx, opCreateSession)
	err := s.next.CreateSession(ctx, x)
	c.end(ctx, err)
	return err
}

// GetSession implements [storage.Store], measured and traced.
func (s *Store) GetSession(ctx context.Context, h storage.TokenHash) (*storage.Session, error) {
	ctx, c := s.start(ctx, opGetSession)
	v, err := s.next.GetSession(ctx, h)
	c.end(ctx, err)
	return v, err
}

// ListSessions implements [storage.Store], measured and traced.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	ctx, c := s.start(ctx, opListSessions)
	v, err := s.next.ListSessions(ctx, userID)
	c.end(ctx, err)
	return v, err
}

// TouchSession implements [storage.Store], measured and traced.
func (s *Store) TouchSession(ctx context.Context, h storage.TokenHash, a storage.Activity) error {
	ctx, c := s.start(ctx, opTouchSession)
	err := s.next.TouchSession(ctx, h, a)
	c.end(ctx, err)
	return err
}

// RotateSession implements [storage.Store], measured and traced.
func (s *Store) RotateSession(ctx context.Context, old storage.TokenHash, x *storage.Session) error {
	ctx, c := s.start(ctx, opRotateSession)
	err := s.next.RotateSession(ctx, old, x)
	c.end(ctx, err)
	return err
}

// RevokeSession implements [storage.Store], measured and traced.
func (s *Store) RevokeSession(ctx context.Context, userID, handle string) (*storage.Session, error) {
	ctx, c := s.start(ctx, opRevokeSession)
	v, err := s.next.RevokeSession(ctx, userID, handle)
	c.end(ctx, err)
	return v, err
}

// RevokeUserSessions implements [storage.Store], measured and traced.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, except storage.TokenHash) (int, error) {
	ctx, c := s.start(ctx, opRevokeUserSessions)
	v, err := s.next.RevokeUserSessions(ctx, userID, except)
	c.end(ctx, err)
	return v, err
}

// DeleteExpiredSessions implements [storage.Store], measured and traced.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	ctx, c := s.start(ctx, opDeleteExpiredSessions)
	v, err := s.next.DeleteExpiredSessions(ctx, now)
	c.end(ctx, err)
	return v, err
}

// PutPendingTOTP implements [storage.Store], measured and traced.
func (s *Store) PutPendingTOTP(ctx context.Context, cred *storage.TOTPCredential) error {
	ctx, c := s.start(ctx, opPutPendingTOTP)
	err := s.next.PutPendingTOTP(ctx, cred)
	c.end(ctx, err)
	return err
}

// GetTOTP implements [storage.Store], measured and traced.
func (s *Store) GetTOTP(ctx context.Context, userID string) (*storage.TOTPCredential, error) {
	ctx, c := s.start(ctx, opGetTOTP)
	v, err := s.next.GetTOTP(ctx, userID)
	c.end(ctx, err)
	return v, err
}

// ConfirmTOTP implements [storage.Store], measured and traced.
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, step int64, at time.Time) error {
	ctx, c := s.start(ctx, opConfirmTOTP)
	err := s.next.ConfirmTOTP(ctx, userID, step, at)
	c.end(ctx, err)
	return err
}

// AcceptTOTPStep implements [storage.Store], measured and traced.
func (s *Store) AcceptTOTPStep(ctx context.Context, userID string, step int64) error {
	ctx, c := s.start(ctx, opAcceptTOTPStep)
	err := s.next.AcceptTOTPStep(ctx, userID, step)
	c.end(ctx, err)
	return err
}

// UpdateTOTPSecret implements [storage.Store], measured and traced.
func (s *Store) UpdateTOTPSecret(ctx context.Context, userID string, secret []byte, keyID string) error {
	ctx, c := s.start(ctx, opUpdateTOTPSecret)
	err := s.next.UpdateTOTPSecret(ctx, userID, secret, keyID)
	c.end(ctx, err)
	return err
}

// DeleteTOTP implements [storage.Store], measured and traced.
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	ctx, c := s.start(ctx, opDeleteTOTP)
	err := s.next.DeleteTOTP(ctx, userID)
	c.end(ctx, err)
	return err
}

// ReplaceRecoveryCodes implements [storage.Store], measured and traced.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []storage.TokenHash) error {
	ctx, c := s.start(ctx, opReplaceRecoveryCodes)
	err := s.next.ReplaceRecoveryCodes(ctx, userID, hashes)
	c.end(ctx, err)
	return err
}

// ConsumeRecoveryCode implements [storage.Store], measured and traced.
func (s *Store) ConsumeRecoveryCode(ctx context.Context, userID string, h storage.TokenHash) error {
	ctx, c := s.start(ctx, opConsumeRecoveryCode)
	err := s.next.ConsumeRecoveryCode(ctx, userID, h)
	c.end(ctx, err)
	return err
}

// CountRecoveryCodes implements [storage.Store], measured and traced.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	ctx, c := s.start(ctx, opCountRecoveryCodes)
	v, err := s.next.CountRecoveryCodes(ctx, userID)
	c.end(ctx, err)
	return v, err
}

// ReserveAttempt implements [storage.Store], measured and traced.
func (s *Store) ReserveAttempt(ctx context.Context, userID string, now time.Time, p storage.AttemptPolicy) (storage.Throttle, error) {
	ctx, c := s.start(ctx, opReserveAttempt)
	v, err := s.next.ReserveAttempt(ctx, userID, now, p)
	c.end(ctx, err)
	return v, err
}

// GetThrottle implements [storage.Store], measured and traced.
func (s *Store) GetThrottle(ctx context.Context, userID string) (storage.Throttle, error) {
	ctx, c := s.start(ctx, opGetThrottle)
	v, err := s.next.GetThrottle(ctx, userID)
	c.end(ctx, err)
	return v, err
}

// ResetAttempts implements [storage.Store], measured and traced.
func (s *Store) ResetAttempts(ctx context.Context, userID string) error {
	ctx, c := s.start(ctx, opResetAttempts)
	err := s.next.ResetAttempts(ctx, userID)
	c.end(ctx, err)
	return err
}

// DeleteExpiredThrottles implements [storage.Store], measured and traced.
func (s *Store) DeleteExpiredThrottles(ctx context.Context, now time.Time) (int, error) {
	ctx, c := s.start(ctx, opDeleteExpiredThrottles)
	v, err := s.next.DeleteExpiredThrottles(ctx, now)
	c.end(ctx, err)
	return v, err
}

// CreateAppGrant implements [storage.Store], measured and traced.
func (s *Store) CreateAppGrant(ctx context.Context, g *storage.AppGrant) error {
	ctx, c := s.start(ctx, opCreateAppGrant)
	err := s.next.CreateAppGrant(ctx, g)
	c.end(ctx, err)
	return err
}

// GetAppGrant implements [storage.Store], measured and traced.
func (s *Store) GetAppGrant(ctx context.Context, h storage.TokenHash) (*storage.AppGrant, error) {
	ctx, c := s.start(ctx, opGetAppGrant)
	v, err := s.next.GetAppGrant(ctx, h)
	c.end(ctx, err)
	return v, err
}

// ListAppGrants implements [storage.Store], measured and traced.
func (s *Store) ListAppGrants(ctx context.Context, userID string) ([]storage.AppGrant, error) {
	ctx, c := s.start(ctx, opListAppGrants)
	v, err := s.next.ListAppGrants(ctx, userID)
	c.end(ctx, err)
	return v, err
}

// TouchAppGrant implements [storage.Store], measured and traced.
func (s *Store) TouchAppGrant(ctx context.Context, h storage.TokenHash, at time.Time) error {
	ctx, c := s.start(ctx, opTouchAppGrant)
	err := s.next.TouchAppGrant(ctx, h, at)
	c.end(ctx, err)
	return err
}

// RevokeAppGrant implements [storage.Store], measured and traced.
func (s *Store) RevokeAppGrant(ctx context.Context, userID, id string) (*storage.AppGrant, error) {
	ctx, c := s.start(ctx, opRevokeAppGrant)
	v, err := s.next.RevokeAppGrant(ctx, userID, id)
	c.end(ctx, err)
	return v, err
}

// RevokeUserAppGrants implements [storage.Store], measured and traced.
func (s *Store) RevokeUserAppGrants(ctx context.Context, userID string) (int, error) {
	ctx, c := s.start(ctx, opRevokeUserAppGrants)
	v, err := s.next.RevokeUserAppGrants(ctx, userID)
	c.end(ctx, err)
	return v, err
}

// AppendEvent implements [storage.Store], measured and traced.
func (s *Store) AppendEvent(ctx context.Context, e *storage.Event) error {
	ctx, c := s.start(ctx, opAppendEvent)
	err := s.next.AppendEvent(ctx, e)
	c.end(ctx, err)
	return err
}

// ListEvents implements [storage.Store], measured and traced.
func (s *Store) ListEvents(ctx context.Context, userID string, before int64, limit int) ([]storage.Event, error) {
	ctx, c := s.start(ctx, opListEvents)
	v, err := s.next.ListEvents(ctx, userID, before, limit)
	c.end(ctx, err)
	return v, err
}

// DeleteEventsBefore implements [storage.Store], measured and traced.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	ctx, c := s.start(ctx, opDeleteEventsBefore)
	v, err := s.next.DeleteEventsBefore(ctx, t)
	c.end(ctx, err)
	return v, err
}
