package otelstore

import (
	"context"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// PutDeviceBinding implements [storage.Store], measured and traced.
func (s *Store) PutDeviceBinding(ctx context.Context, b *storage.DeviceBinding) error {
	ctx, c := s.start(ctx, opPutDeviceBinding)
	err := s.next.PutDeviceBinding(ctx, b)
	c.end(ctx, err)
	return err
}

// GetDeviceBinding implements [storage.Store], measured and traced.
func (s *Store) GetDeviceBinding(ctx context.Context, userID, handle string) (*storage.DeviceBinding, error) {
	ctx, c := s.start(ctx, opGetDeviceBinding)
	v, err := s.next.GetDeviceBinding(ctx, userID, handle)
	c.end(ctx, err)
	return v, err
}

// DeleteDeviceBindings implements [storage.Store], measured and traced.
func (s *Store) DeleteDeviceBindings(ctx context.Context, userID, exceptHandle string) (int, error) {
	ctx, c := s.start(ctx, opDeleteDeviceBindings)
	v, err := s.next.DeleteDeviceBindings(ctx, userID, exceptHandle)
	c.end(ctx, err)
	return v, err
}

// DeleteDeviceBinding implements [storage.Store], measured and traced.
func (s *Store) DeleteDeviceBinding(ctx context.Context, userID, handle string) error {
	ctx, c := s.start(ctx, opDeleteDeviceBinding)
	err := s.next.DeleteDeviceBinding(ctx, userID, handle)
	c.end(ctx, err)
	return err
}

// AddBindingChallenge implements [storage.Store], measured and traced.
func (s *Store) AddBindingChallenge(ctx context.Context, ch *storage.BindingChallenge) error {
	ctx, c := s.start(ctx, opAddBindingChallenge)
	err := s.next.AddBindingChallenge(ctx, ch)
	c.end(ctx, err)
	return err
}

// UseBindingChallenge implements [storage.Store], measured and traced.
func (s *Store) UseBindingChallenge(ctx context.Context, userID, handle, value string, now time.Time) (*storage.BindingChallenge, error) {
	ctx, c := s.start(ctx, opUseBindingChallenge)
	v, err := s.next.UseBindingChallenge(ctx, userID, handle, value, now)
	c.end(ctx, err)
	return v, err
}
