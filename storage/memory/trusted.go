package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// ---- Trusted browsers ----

func trustedNotFound(op string) error {
	return fmt.Errorf("storage/memory: %s: %w", op, storage.ErrNotFound)
}

// CreateTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) CreateTrustedBrowser(ctx context.Context, b *storage.TrustedBrowser) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.trusted {
		if _, ok := m[b.ID]; ok {
			return fmt.Errorf("storage/memory: create trusted browser: %w", storage.ErrConflict)
		}
	}
	if s.trusted == nil {
		s.trusted = make(map[string]map[string]storage.TrustedBrowser)
	}
	m := s.trusted[b.UserID]
	if m == nil {
		m = make(map[string]storage.TrustedBrowser)
		s.trusted[b.UserID] = m
	}
	m[b.ID] = *b
	return nil
}

// GetTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) GetTrustedBrowser(ctx context.Context, userID, id string) (*storage.TrustedBrowser, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.trusted[userID][id]
	if !ok {
		return nil, trustedNotFound("get trusted browser")
	}
	return &b, nil
}

// TouchTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) TouchTrustedBrowser(ctx context.Context, userID, id string, at time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.trusted[userID][id]
	if !ok {
		return trustedNotFound("touch trusted browser")
	}
	b.LastUsedAt = at
	s.trusted[userID][id] = b
	return nil
}

// ListTrustedBrowsers implements [storage.TrustedBrowserStore].
func (s *Store) ListTrustedBrowsers(ctx context.Context, userID string) ([]storage.TrustedBrowser, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	list := make([]storage.TrustedBrowser, 0, len(s.trusted[userID]))
	for _, b := range s.trusted[userID] {
		list = append(list, b)
	}
	s.mu.RUnlock()
	slices.SortFunc(list, func(a, b storage.TrustedBrowser) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return list, nil
}

// DeleteTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) DeleteTrustedBrowser(ctx context.Context, userID, id string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.trusted[userID][id]; !ok {
		return trustedNotFound("delete trusted browser")
	}
	delete(s.trusted[userID], id)
	if len(s.trusted[userID]) == 0 {
		delete(s.trusted, userID)
	}
	return nil
}

// DeleteTrustedBrowsers implements [storage.TrustedBrowserStore].
func (s *Store) DeleteTrustedBrowsers(ctx context.Context, userID string) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.trusted[userID])
	delete(s.trusted, userID)
	return n, nil
}
