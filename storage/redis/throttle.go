package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
)

// maxTxRetries bounds the optimistic retries of [Store.ReserveAttempt].
// Each retry means another client changed the throttle in between, and at
// most MaxFailures changes succeed before every attempt is refused without
// a write, so the bound is only reached under pathological contention.
const maxTxRetries = 1000

// ReserveAttempt implements [storage.ThrottleStore]: it applies p.Next
// (the same Go rule as every backend) inside a WATCH/MULTI optimistic
// transaction, retried while another client changes the throttle first.
// A reserved attempt waits for [Options.MinReplicas] replicas.
//
// The same transaction stores the record's expiry (p.ExpiresAt of the new
// state) in the hash and sets the key's TTL to it, computed from
// [Options.Now] like a session's (a record already expired is deleted); a
// permanent lock gets no TTL (PERSIST). A record whose stored expiry is not
// after now counts as none, as on every backend.
func (s *Store) ReserveAttempt(ctx context.Context, userID string, now time.Time, p storage.AttemptPolicy) (storage.Throttle, error) {
	const op = "reserve attempt"
	k := s.key("th", userID)
	for range maxTxRetries {
		var (
			out     storage.Throttle
			nextErr error
		)
		err := s.client.Watch(ctx, func(tx *goredis.Tx) error {
			cur, expires, err := readThrottleRecord(ctx, tx, k)
			if err != nil {
				return err
			}
			if !expires.IsZero() && !expires.After(now) {
				cur = storage.Throttle{}
			}
			next, err := p.Next(cur, now)
			if err != nil {
				out, nextErr = cur, err // locked: nothing to write
				return nil
			}
			var f fields
			f.str("failures", strconv.Itoa(next.Failures))
			f.time("locked", next.LockedUntil)
			exp := p.ExpiresAt(next, now)
			f.time("expires", exp)
			if f.err != nil {
				return f.err
			}
			if _, err := tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
				pipe.HSet(ctx, k, f.args...)
				switch ttl := exp.Sub(s.now()); {
				case exp.IsZero():
					pipe.Persist(ctx, k)
				case ttl < time.Millisecond:
					pipe.Del(ctx, k)
				default:
					pipe.PExpire(ctx, k, ttl)
				}
				return nil
			}); err != nil {
				return err
			}
			out = next
			// WAIT on the transaction's connection: a failover must not
			// hand back attempts already spent.
			return s.waitReplicas(ctx, tx)
		}, k)
		if errors.Is(err, goredis.TxFailedErr) {
			continue
		}
		if err != nil {
			return storage.Throttle{}, s.wrapErr(ctx, op, err)
		}
		if nextErr != nil {
			return out, fmt.Errorf("storage/redis: %s: %w", op, nextErr)
		}
		return out, nil
	}
	return storage.Throttle{}, fmt.Errorf("storage/redis: %s: gave up after %d conflicting transactions", op, maxTxRetries)
}

// GetThrottle implements [storage.ThrottleStore].
func (s *Store) GetThrottle(ctx context.Context, userID string) (storage.Throttle, error) {
	t, expires, err := readThrottleRecord(ctx, s.client, s.key("th", userID))
	if err != nil {
		return storage.Throttle{}, s.wrapErr(ctx, "get throttle", err)
	}
	if !expires.IsZero() && !expires.After(s.now()) {
		return storage.Throttle{}, nil // expired, TTL not fired yet
	}
	return t, nil
}

// ResetAttempts implements [storage.ThrottleStore].
func (s *Store) ResetAttempts(ctx context.Context, userID string) error {
	if err := s.client.Del(ctx, s.key("th", userID)).Err(); err != nil {
		return s.wrapErr(ctx, "reset attempts", err)
	}
	return nil
}

// DeleteExpiredThrottles implements [storage.ThrottleStore]: throttle keys
// expire by their TTL (see [Store.ReserveAttempt]), so there is nothing to
// sweep and it returns 0.
func (s *Store) DeleteExpiredThrottles(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, wrapErr(ctx, "delete expired throttles", err)
	}
	return 0, nil
}

// readThrottleRecord reads the throttle at key k and its expiry (zero if
// none, or if the record never expires).
func readThrottleRecord(ctx context.Context, c goredis.Cmdable, k string) (storage.Throttle, time.Time, error) {
	v, err := c.HMGet(ctx, k, "failures", "locked", "expires").Result()
	if err != nil {
		return storage.Throttle{}, time.Time{}, err
	}
	r := reader{v: v}
	t := storage.Throttle{Failures: int(r.int64(0)), LockedUntil: r.time(1)}
	exp := r.time(2)
	return t, exp, r.err
}
