package otelstore

import (
	"context"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// The trusted-browser and passkey methods of [storage.Store], wrapped as
// in methods.go.

// CreateTrustedBrowser implements [storage.Store], measured and traced.
func (s *Store) CreateTrustedBrowser(ctx context.Context, b *storage.TrustedBrowser) error {
	ctx, c := s.start(ctx, opCreateTrustedBrowser)
	err := s.next.CreateTrustedBrowser(ctx, b)
	c.end(ctx, err)
	return err
}

// GetTrustedBrowser implements [storage.Store], measured and traced.
func (s *Store) GetTrustedBrowser(ctx context.Context, userID, id string) (*storage.TrustedBrowser, error) {
	ctx, c := s.start(ctx, opGetTrustedBrowser)
	v, err := s.next.GetTrustedBrowser(ctx, userID, id)
	c.end(ctx, err)
	return v, err
}

// TouchTrustedBrowser implements [storage.Store], measured and traced.
func (s *Store) TouchTrustedBrowser(ctx context.Context, userID, id string, at time.Time) error {
	ctx, c := s.start(ctx, opTouchTrustedBrowser)
	err := s.next.TouchTrustedBrowser(ctx, userID, id, at)
	c.end(ctx, err)
	return err
}

// ListTrustedBrowsers implements [storage.Store], measured and traced.
func (s *Store) ListTrustedBrowsers(ctx context.Context, userID string) ([]storage.TrustedBrowser, error) {
	ctx, c := s.start(ctx, opListTrustedBrowsers)
	v, err := s.next.ListTrustedBrowsers(ctx, userID)
	c.end(ctx, err)
	return v, err
}

// DeleteTrustedBrowser implements [storage.Store], measured and traced.
func (s *Store) DeleteTrustedBrowser(ctx context.Context, userID, id string) error {
	ctx, c := s.start(ctx, opDeleteTrustedBrowser)
	err := s.next.DeleteTrustedBrowser(ctx, userID, id)
	c.end(ctx, err)
	return err
}

// DeleteTrustedBrowsers implements [storage.Store], measured and traced.
func (s *Store) DeleteTrustedBrowsers(ctx context.Context, userID string) (int, error) {
	ctx, c := s.start(ctx, opDeleteTrustedBrowsers)
	v, err := s.next.DeleteTrustedBrowsers(ctx, userID)
	c.end(ctx, err)
	return v, err
}

// CreatePasskey implements [storage.Store], measured and traced.
func (s *Store) CreatePasskey(ctx context.Context, p *storage.Passkey) error {
	ctx, c := s.start(ctx, opCreatePasskey)
	err := s.next.CreatePasskey(ctx, p)
	c.end(ctx, err)
	return err
}

// ListPasskeys implements [storage.Store], measured and traced.
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error) {
	ctx, c := s.start(ctx, opListPasskeys)
	v, err := s.next.ListPasskeys(ctx, userID)
	c.end(ctx, err)
	return v, err
}

// GetPasskeyByCredentialID implements [storage.Store], measured and traced.
func (s *Store) GetPasskeyByCredentialID(ctx context.Context, id []byte) (*storage.Passkey, error) {
	ctx, c := s.start(ctx, opGetPasskeyByCredentialID)
	v, err := s.next.GetPasskeyByCredentialID(ctx, id)
	c.end(ctx, err)
	return v, err
}

// RecordPasskeyUse implements [storage.Store], measured and traced.
func (s *Store) RecordPasskeyUse(ctx context.Context, userID, id string, signCount uint32, backupState bool, at time.Time) error {
	ctx, c := s.start(ctx, opRecordPasskeyUse)
	err := s.next.RecordPasskeyUse(ctx, userID, id, signCount, backupState, at)
	c.end(ctx, err)
	return err
}

// RenamePasskey implements [storage.Store], measured and traced.
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	ctx, c := s.start(ctx, opRenamePasskey)
	err := s.next.RenamePasskey(ctx, userID, id, name)
	c.end(ctx, err)
	return err
}

// DeletePasskey implements [storage.Store], measured and traced.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	ctx, c := s.start(ctx, opDeletePasskey)
	err := s.next.DeletePasskey(ctx, userID, id)
	c.end(ctx, err)
	return err
}

// PutPasskeyChallenge implements [storage.Store], measured and traced.
func (s *Store) PutPasskeyChallenge(ctx context.Context, ch *storage.PasskeyChallenge) error {
	ctx, c := s.start(ctx, opPutPasskeyChallenge)
	err := s.next.PutPasskeyChallenge(ctx, ch)
	c.end(ctx, err)
	return err
}

// TakePasskeyChallenge implements [storage.Store], measured and traced.
func (s *Store) TakePasskeyChallenge(ctx context.Context, id string, now time.Time) (*storage.PasskeyChallenge, error) {
	ctx, c := s.start(ctx, opTakePasskeyChallenge)
	v, err := s.next.TakePasskeyChallenge(ctx, id, now)
	c.end(ctx, err)
	return v, err
}
