package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

var (
	errBindingNotFound   = fmt.Errorf("storage/memory: device binding: %w", storage.ErrNotFound)
	errChallengeNotFound = fmt.Errorf("storage/memory: binding challenge: %w", storage.ErrNotFound)
	errChallengeConflict = fmt.Errorf("storage/memory: binding challenge: %w", storage.ErrConflict)
)

// bindingKey names one session of one user.
type bindingKey struct{ userID, handle string }

// bindingTables holds the device bindings; its zero value is ready (the
// maps are made on first write). It has its own lock: bindings never take
// part in a session operation's atomicity.
type bindingTables struct {
	mu         sync.Mutex
	bindings   map[bindingKey]*storage.DeviceBinding
	challenges map[bindingKey]map[string]*storage.BindingChallenge
}

func (t *bindingTables) init() {
	if t.bindings == nil {
		t.bindings = make(map[bindingKey]*storage.DeviceBinding)
		t.challenges = make(map[bindingKey]map[string]*storage.BindingChallenge)
	}
}

func copyBinding(b *storage.DeviceBinding) *storage.DeviceBinding {
	c := *b
	c.PublicKey = slices.Clone(b.PublicKey)
	return &c
}

// PutDeviceBinding implements [storage.DeviceBindingStore].
func (s *Store) PutDeviceBinding(ctx context.Context, b *storage.DeviceBinding) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage/memory: put device binding: %w", err)
	}
	t := &s.bindings
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	t.bindings[bindingKey{b.UserID, b.SessionHandle}] = copyBinding(b)
	return nil
}

// GetDeviceBinding implements [storage.DeviceBindingStore].
func (s *Store) GetDeviceBinding(ctx context.Context, userID, handle string) (*storage.DeviceBinding, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage/memory: get device binding: %w", err)
	}
	t := &s.bindings
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.bindings[bindingKey{userID, handle}]
	if !ok {
		return nil, errBindingNotFound
	}
	return copyBinding(b), nil
}

// DeleteDeviceBindings implements [storage.DeviceBindingStore].
func (s *Store) DeleteDeviceBindings(ctx context.Context, userID, exceptHandle string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("storage/memory: delete device bindings: %w", err)
	}
	t := &s.bindings
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k := range t.bindings {
		if k.userID == userID && k.handle != exceptHandle {
			delete(t.bindings, k)
			n++
		}
	}
	for k := range t.challenges {
		if k.userID == userID && k.handle != exceptHandle {
			delete(t.challenges, k)
		}
	}
	return n, nil
}

// DeleteDeviceBinding implements [storage.DeviceBindingStore].
func (s *Store) DeleteDeviceBinding(ctx context.Context, userID, handle string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage/memory: delete device binding: %w", err)
	}
	t := &s.bindings
	t.mu.Lock()
	defer t.mu.Unlock()
	k := bindingKey{userID, handle}
	delete(t.bindings, k)
	delete(t.challenges, k)
	return nil
}

// AddBindingChallenge implements [storage.DeviceBindingStore]. It also
// drops the session's expired challenges.
func (s *Store) AddBindingChallenge(ctx context.Context, c *storage.BindingChallenge) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage/memory: add binding challenge: %w", err)
	}
	t := &s.bindings
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	k := bindingKey{c.UserID, c.SessionHandle}
	set := t.challenges[k]
	if set == nil {
		set = make(map[string]*storage.BindingChallenge)
		t.challenges[k] = set
	}
	if _, ok := set[c.Value]; ok {
		return errChallengeConflict
	}
	now := s.now()
	for v, old := range set {
		if !now.Before(old.ExpiresAt) {
			delete(set, v)
		}
	}
	cc := *c
	set[c.Value] = &cc
	for len(set) > storage.MaxBindingChallenges {
		var first *storage.BindingChallenge
		for _, old := range set {
			if first == nil || old.ExpiresAt.Before(first.ExpiresAt) {
				first = old
			}
		}
		delete(set, first.Value)
	}
	return nil
}

// UseBindingChallenge implements [storage.DeviceBindingStore].
func (s *Store) UseBindingChallenge(ctx context.Context, userID, handle, value string, now time.Time) (*storage.BindingChallenge, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage/memory: use binding challenge: %w", err)
	}
	t := &s.bindings
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.challenges[bindingKey{userID, handle}]
	c, ok := set[value]
	if !ok {
		return nil, errChallengeNotFound
	}
	delete(set, value)
	if !now.Before(c.ExpiresAt) {
		return nil, errChallengeNotFound
	}
	cc := *c
	return &cc, nil
}
