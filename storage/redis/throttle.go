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
func (s *Store) ReserveAttempt(ctx context.Context, userID string, now time.Time, p storage.AttemptPolicy) (storage.Throttle, error) {
	const op = "reserve attempt"
	k := s.key("th", userID)
	for range maxTxRetries {
		var (
			out     storage.Throttle
			nextErr error
		)
		err := s.client.Watch(ctx, func(tx *goredis.Tx) error {
			cur, err := readThrottle(ctx, tx, k)
			if err != nil {
				return err
			}
			next, err := p.Next(cur, now)
			if err != nil {
				out, nextErr = cur, err // locked: nothing to write
				return nil
			}
			var f fields
			f.str("failures", strconv.Itoa(next.Failures))
			f.time("locked", next.LockedUntil)
			if f.err != nil {
				return f.err
			}
			if _, err := tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
				pipe.HSet(ctx, k, f.args...)
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
	t, err := readThrottle(ctx, s.client, s.key("th", userID))
	if err != nil {
		return storage.Throttle{}, s.wrapErr(ctx, "get throttle", err)
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

// readThrottle reads the throttle at key k (zero if none).
func readThrottle(ctx context.Context, c goredis.Cmdable, k string) (storage.Throttle, error) {
	v, err := c.HMGet(ctx, k, "failures", "locked").Result()
	if err != nil {
		return storage.Throttle{}, err
	}
	r := reader{v: v}
	t := storage.Throttle{Failures: int(r.int64(0)), LockedUntil: r.time(1)}
	return t, r.err
}
