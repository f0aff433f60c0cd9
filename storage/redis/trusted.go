package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
)

// Trusted browsers: one hash per record at "tb:" + ID (fields user,
// created, expires, used, ip, device, loc) and one set of IDs per user at
// "tbu:" + user ID. Both are built with Store.key, so they live under the
// store's root (its hash tag on a cluster) like every other key: the
// optimistic transactions below (WATCH/MULTI on keys of one slot) stay
// atomic on a cluster. Writes wait for Options.MinReplicas replicas: a
// failover cannot bring back a revoked trust.

var trustedFields = []string{"user", "created", "expires", "used", "ip", "device", "loc"}

func (s *Store) trustedKey(id string) string       { return s.key("tb", id) }
func (s *Store) trustedUserKey(user string) string { return s.key("tbu", user) }

// trustedTx runs fn in an optimistic transaction watching keys, retrying
// on conflicts, and waits for replicas after it commits.
func (s *Store) trustedTx(ctx context.Context, op string, fn func(tx *goredis.Tx) error, keys ...string) error {
	for range maxTxRetries {
		err := s.client.Watch(ctx, func(tx *goredis.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return s.waitReplicas(ctx, tx)
		}, keys...)
		if errors.Is(err, goredis.TxFailedErr) {
			continue
		}
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("storage/redis: %s: %w", op, err)
		}
		if err != nil {
			return s.wrapErr(ctx, op, err)
		}
		return nil
	}
	return fmt.Errorf("storage/redis: %s: gave up after %d conflicting transactions", op, maxTxRetries)
}

// CreateTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) CreateTrustedBrowser(ctx context.Context, b *storage.TrustedBrowser) error {
	var f fields
	f.str("user", b.UserID)
	f.time("created", b.CreatedAt)
	f.time("expires", b.ExpiresAt)
	f.time("used", b.LastUsedAt)
	f.str("ip", b.IP)
	f.str("device", b.Device)
	f.str("loc", b.Location)
	if f.err != nil {
		return fmt.Errorf("storage/redis: create trusted browser: %w", f.err)
	}
	k, uk := s.trustedKey(b.ID), s.trustedUserKey(b.UserID)
	return s.trustedTx(ctx, "create trusted browser", func(tx *goredis.Tx) error {
		n, err := tx.Exists(ctx, k).Result()
		if err != nil {
			return err
		}
		if n != 0 {
			return storage.ErrConflict
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.HSet(ctx, k, f.args...)
			p.SAdd(ctx, uk, b.ID)
			return nil
		})
		return err
	}, k)
}

// readTrusted reads record id; ok is false when there is none.
func readTrusted(ctx context.Context, c goredis.Cmdable, k, id string) (b storage.TrustedBrowser, ok bool, err error) {
	v, err := c.HMGet(ctx, k, trustedFields...).Result()
	if err != nil || !values(v).exists(0) {
		return b, false, err
	}
	r := reader{v: v}
	b = storage.TrustedBrowser{
		ID: id, UserID: r.str(0), CreatedAt: r.time(1), ExpiresAt: r.time(2), LastUsedAt: r.time(3),
		IP: r.str(4), Device: r.str(5), Location: r.str(6),
	}
	return b, true, r.err
}

// GetTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) GetTrustedBrowser(ctx context.Context, userID, id string) (*storage.TrustedBrowser, error) {
	const op = "get trusted browser"
	b, ok, err := readTrusted(ctx, s.client, s.trustedKey(id), id)
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	if !ok || b.UserID != userID {
		return nil, notFound(op)
	}
	return &b, nil
}

// ownedBy checks inside a transaction that record k belongs to userID.
func ownedBy(ctx context.Context, tx *goredis.Tx, k, userID string) error {
	u, err := tx.HGet(ctx, k, "user").Result()
	if errors.Is(err, goredis.Nil) || (err == nil && u != userID) {
		return storage.ErrNotFound
	}
	return err
}

// TouchTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) TouchTrustedBrowser(ctx context.Context, userID, id string, at time.Time) error {
	var f fields
	f.time("used", at)
	if f.err != nil {
		return fmt.Errorf("storage/redis: touch trusted browser: %w", f.err)
	}
	k := s.trustedKey(id)
	return s.trustedTx(ctx, "touch trusted browser", func(tx *goredis.Tx) error {
		if err := ownedBy(ctx, tx, k, userID); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.HSet(ctx, k, f.args...)
			return nil
		})
		return err
	}, k)
}

// ListTrustedBrowsers implements [storage.TrustedBrowserStore].
func (s *Store) ListTrustedBrowsers(ctx context.Context, userID string) ([]storage.TrustedBrowser, error) {
	const op = "list trusted browsers"
	ids, err := s.client.SMembers(ctx, s.trustedUserKey(userID)).Result()
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	out := make([]storage.TrustedBrowser, 0, len(ids))
	for _, id := range ids {
		b, ok, err := readTrusted(ctx, s.client, s.trustedKey(id), id)
		if err != nil {
			return nil, s.wrapErr(ctx, op, err)
		}
		if ok && b.UserID == userID {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b storage.TrustedBrowser) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// DeleteTrustedBrowser implements [storage.TrustedBrowserStore].
func (s *Store) DeleteTrustedBrowser(ctx context.Context, userID, id string) error {
	k, uk := s.trustedKey(id), s.trustedUserKey(userID)
	return s.trustedTx(ctx, "delete trusted browser", func(tx *goredis.Tx) error {
		if err := ownedBy(ctx, tx, k, userID); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Del(ctx, k)
			p.SRem(ctx, uk, id)
			return nil
		})
		return err
	}, k)
}

// DeleteTrustedBrowsers implements [storage.TrustedBrowserStore].
func (s *Store) DeleteTrustedBrowsers(ctx context.Context, userID string) (int, error) {
	uk := s.trustedUserKey(userID)
	var n int
	err := s.trustedTx(ctx, "delete trusted browsers", func(tx *goredis.Tx) error {
		ids, err := tx.SMembers(ctx, uk).Result()
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			for _, id := range ids {
				p.Del(ctx, s.trustedKey(id))
			}
			p.Del(ctx, uk)
			return nil
		})
		n = len(ids)
		return err
	}, uk)
	return n, err
}
