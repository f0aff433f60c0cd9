package redis

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
)

// Passkeys: one hash per passkey at "pk:" + ID, one set of IDs per user
// at "pku:" + user ID, the unique index "pkc:" + base64url(credential ID)
// → ID, and one hash per pending challenge at "pch:" + ID (expiring at
// its ExpiresAt). All are built with Store.key, under the store's root
// (its hash tag on a cluster), so the transactions below stay atomic on a
// cluster; writes wait for Options.MinReplicas replicas.

var passkeyFields = []string{"user", "cred", "name", "data", "count", "be", "bs", "created", "used"}

func (s *Store) passkeyKey(id string) string    { return s.key("pk", id) }
func (s *Store) passkeyUserKey(u string) string { return s.key("pku", u) }
func (s *Store) passkeyCredKey(c []byte) string {
	return s.key("pkc", base64.RawURLEncoding.EncodeToString(c))
}
func (s *Store) challengeKey(id string) string { return s.key("pch", id) }
func boolField(b bool) string                  { return strconv.FormatBool(b) }

// CreatePasskey implements [storage.PasskeyStore].
func (s *Store) CreatePasskey(ctx context.Context, p *storage.Passkey) error {
	var f fields
	f.str("user", p.UserID)
	f.str("cred", string(p.CredentialID))
	f.str("name", p.Name)
	f.str("data", string(p.Data))
	f.str("count", strconv.FormatUint(uint64(p.SignCount), 10))
	f.str("be", boolField(p.BackupEligible))
	f.str("bs", boolField(p.BackupState))
	f.time("created", p.CreatedAt)
	f.time("used", p.LastUsedAt)
	if f.err != nil {
		return fmt.Errorf("storage/redis: create passkey: %w", f.err)
	}
	k, ck := s.passkeyKey(p.ID), s.passkeyCredKey(p.CredentialID)
	return s.trustedTx(ctx, "create passkey", func(tx *goredis.Tx) error {
		n, err := tx.Exists(ctx, k, ck).Result()
		if err != nil {
			return err
		}
		if n != 0 {
			return storage.ErrConflict
		}
		_, err = tx.TxPipelined(ctx, func(pp goredis.Pipeliner) error {
			pp.HSet(ctx, k, f.args...)
			pp.Set(ctx, ck, p.ID, 0)
			pp.SAdd(ctx, s.passkeyUserKey(p.UserID), p.ID)
			return nil
		})
		return err
	}, k, ck)
}

// readPasskey reads passkey id; ok is false when there is none.
func readPasskey(ctx context.Context, c goredis.Cmdable, k, id string) (p storage.Passkey, ok bool, err error) {
	v, err := c.HMGet(ctx, k, passkeyFields...).Result()
	if err != nil || !values(v).exists(0) {
		return p, false, err
	}
	r := reader{v: v}
	p = storage.Passkey{
		ID: id, UserID: r.str(0), CredentialID: []byte(r.str(1)), Name: r.str(2), SignCount: uint32(r.int64(4)),
		BackupEligible: r.str(5) == "true", BackupState: r.str(6) == "true", CreatedAt: r.time(7), LastUsedAt: r.time(8),
	}
	if d := r.str(3); d != "" {
		p.Data = []byte(d)
	}
	return p, true, r.err
}

// ListPasskeys implements [storage.PasskeyStore].
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error) {
	const op = "list passkeys"
	ids, err := s.client.SMembers(ctx, s.passkeyUserKey(userID)).Result()
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	out := make([]storage.Passkey, 0, len(ids))
	for _, id := range ids {
		p, ok, err := readPasskey(ctx, s.client, s.passkeyKey(id), id)
		if err != nil {
			return nil, s.wrapErr(ctx, op, err)
		}
		if ok && p.UserID == userID {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b storage.Passkey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// GetPasskeyByCredentialID implements [storage.PasskeyStore].
func (s *Store) GetPasskeyByCredentialID(ctx context.Context, cred []byte) (*storage.Passkey, error) {
	const op = "get passkey"
	id, err := s.client.Get(ctx, s.passkeyCredKey(cred)).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, notFound(op)
	} else if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	p, ok, err := readPasskey(ctx, s.client, s.passkeyKey(id), id)
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	if !ok {
		return nil, notFound(op)
	}
	return &p, nil
}

// RecordPasskeyUse implements [storage.PasskeyStore]: the counter is
// compared and written in one optimistic transaction on the passkey's key.
func (s *Store) RecordPasskeyUse(ctx context.Context, userID, id string, signCount uint32, backupState bool, at time.Time) error {
	var f fields
	f.str("count", strconv.FormatUint(uint64(signCount), 10))
	f.str("bs", boolField(backupState))
	f.time("used", at)
	if f.err != nil {
		return fmt.Errorf("storage/redis: record passkey use: %w", f.err)
	}
	k := s.passkeyKey(id)
	return s.trustedTx(ctx, "record passkey use", func(tx *goredis.Tx) error {
		p, ok, err := readPasskey(ctx, tx, k, id)
		if err != nil {
			return err
		}
		if !ok || p.UserID != userID {
			return storage.ErrNotFound
		}
		if !(signCount > p.SignCount || (signCount == 0 && p.SignCount == 0)) {
			return fmt.Errorf("signature counter did not increase: %w", storage.ErrConflict)
		}
		_, err = tx.TxPipelined(ctx, func(pp goredis.Pipeliner) error {
			pp.HSet(ctx, k, f.args...)
			return nil
		})
		return err
	}, k)
}

// RenamePasskey implements [storage.PasskeyStore].
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	k := s.passkeyKey(id)
	return s.trustedTx(ctx, "rename passkey", func(tx *goredis.Tx) error {
		if err := ownedBy(ctx, tx, k, userID); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(pp goredis.Pipeliner) error {
			pp.HSet(ctx, k, "name", name)
			return nil
		})
		return err
	}, k)
}

// DeletePasskey implements [storage.PasskeyStore].
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	k := s.passkeyKey(id)
	return s.trustedTx(ctx, "delete passkey", func(tx *goredis.Tx) error {
		p, ok, err := readPasskey(ctx, tx, k, id)
		if err != nil {
			return err
		}
		if !ok || p.UserID != userID {
			return storage.ErrNotFound
		}
		_, err = tx.TxPipelined(ctx, func(pp goredis.Pipeliner) error {
			pp.Del(ctx, k, s.passkeyCredKey(p.CredentialID))
			pp.SRem(ctx, s.passkeyUserKey(userID), id)
			return nil
		})
		return err
	}, k)
}

// PutPasskeyChallenge implements [storage.PasskeyStore]; the key expires
// at c.ExpiresAt on its own.
func (s *Store) PutPasskeyChallenge(ctx context.Context, c *storage.PasskeyChallenge) error {
	var f fields
	f.str("user", c.UserID)
	f.str("kind", c.Kind)
	f.str("data", string(c.Data))
	f.time("expires", c.ExpiresAt)
	if f.err != nil {
		return fmt.Errorf("storage/redis: put passkey challenge: %w", f.err)
	}
	k := s.challengeKey(c.ID)
	return s.trustedTx(ctx, "put passkey challenge", func(tx *goredis.Tx) error {
		n, err := tx.Exists(ctx, k).Result()
		if err != nil {
			return err
		}
		if n != 0 {
			return storage.ErrConflict
		}
		_, err = tx.TxPipelined(ctx, func(pp goredis.Pipeliner) error {
			pp.HSet(ctx, k, f.args...)
			pp.PExpireAt(ctx, k, c.ExpiresAt.Add(time.Second))
			return nil
		})
		return err
	}, k)
}

// TakePasskeyChallenge implements [storage.PasskeyStore]: read and delete
// in one MULTI, so of concurrent takes exactly one reads it. Expired
// challenges remove themselves (key expiry).
func (s *Store) TakePasskeyChallenge(ctx context.Context, id string, now time.Time) (*storage.PasskeyChallenge, error) {
	const op = "take passkey challenge"
	k := s.challengeKey(id)
	var get *goredis.SliceCmd
	var del *goredis.IntCmd
	err := s.durable(ctx, func(p goredis.Pipeliner) error {
		get = p.HMGet(ctx, k, "user", "kind", "data", "expires")
		del = p.Del(ctx, k)
		return nil
	})
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	if del.Val() != 1 {
		return nil, notFound(op)
	}
	r := reader{v: get.Val()}
	c := &storage.PasskeyChallenge{ID: id, UserID: r.str(0), Kind: r.str(1), ExpiresAt: r.time(3)}
	if d := r.str(2); d != "" {
		c.Data = []byte(d)
	}
	if r.err != nil {
		return nil, s.wrapErr(ctx, op, r.err)
	}
	if !now.Before(c.ExpiresAt) {
		return nil, notFound(op)
	}
	return c, nil
}
