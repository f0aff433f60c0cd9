package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// ---- Passkeys ----

func passkeyErr(op string, err error) error { return fmt.Errorf("storage/memory: %s: %w", op, err) }

func copyPasskey(p *storage.Passkey) *storage.Passkey {
	d := *p
	d.CredentialID = bytes.Clone(p.CredentialID)
	d.Data = bytes.Clone(p.Data)
	return &d
}

// CreatePasskey implements [storage.PasskeyStore].
func (s *Store) CreatePasskey(ctx context.Context, p *storage.Passkey) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.passkeys {
		if q.ID == p.ID || bytes.Equal(q.CredentialID, p.CredentialID) {
			return passkeyErr("create passkey", storage.ErrConflict)
		}
	}
	if s.passkeys == nil {
		s.passkeys = make(map[string]*storage.Passkey)
	}
	s.passkeys[p.ID] = copyPasskey(p)
	return nil
}

// ListPasskeys implements [storage.PasskeyStore].
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := []storage.Passkey{}
	for _, p := range s.passkeys {
		if p.UserID == userID {
			out = append(out, *copyPasskey(p))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b storage.Passkey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// GetPasskeyByCredentialID implements [storage.PasskeyStore].
func (s *Store) GetPasskeyByCredentialID(ctx context.Context, id []byte) (*storage.Passkey, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.passkeys {
		if bytes.Equal(p.CredentialID, id) {
			return copyPasskey(p), nil
		}
	}
	return nil, passkeyErr("get passkey", storage.ErrNotFound)
}

// ownPasskey returns userID's passkey id; s.mu must be held.
func (s *Store) ownPasskey(userID, id string) *storage.Passkey {
	if p := s.passkeys[id]; p != nil && p.UserID == userID {
		return p
	}
	return nil
}

// RecordPasskeyUse implements [storage.PasskeyStore].
func (s *Store) RecordPasskeyUse(ctx context.Context, userID, id string, signCount uint32, backupState bool, at time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.ownPasskey(userID, id)
	if p == nil {
		return passkeyErr("record passkey use", storage.ErrNotFound)
	}
	if !(signCount > p.SignCount || (signCount == 0 && p.SignCount == 0)) {
		return passkeyErr("record passkey use: signature counter did not increase", storage.ErrConflict)
	}
	p.SignCount, p.BackupState, p.LastUsedAt = signCount, backupState, at
	return nil
}

// RenamePasskey implements [storage.PasskeyStore].
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.ownPasskey(userID, id)
	if p == nil {
		return passkeyErr("rename passkey", storage.ErrNotFound)
	}
	p.Name = name
	return nil
}

// DeletePasskey implements [storage.PasskeyStore].
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ownPasskey(userID, id) == nil {
		return passkeyErr("delete passkey", storage.ErrNotFound)
	}
	delete(s.passkeys, id)
	return nil
}

// PutPasskeyChallenge implements [storage.PasskeyStore].
func (s *Store) PutPasskeyChallenge(ctx context.Context, c *storage.PasskeyChallenge) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.challenges[c.ID]; ok {
		return passkeyErr("put passkey challenge", storage.ErrConflict)
	}
	if s.challenges == nil {
		s.challenges = make(map[string]*storage.PasskeyChallenge)
	}
	d := *c
	d.Data = bytes.Clone(c.Data)
	s.challenges[c.ID] = &d
	return nil
}

// TakePasskeyChallenge implements [storage.PasskeyStore].
func (s *Store) TakePasskeyChallenge(ctx context.Context, id string, now time.Time) (*storage.PasskeyChallenge, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.challenges[id]
	delete(s.challenges, id)
	for k, x := range s.challenges {
		if !now.Before(x.ExpiresAt) {
			delete(s.challenges, k)
		}
	}
	if c == nil || !now.Before(c.ExpiresAt) {
		return nil, passkeyErr("take passkey challenge", storage.ErrNotFound)
	}
	return c, nil
}
