package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
)

// ReplaceRecoveryCodes implements [storage.RecoveryCodeStore]: DEL and SADD
// in one MULTI transaction, so old codes stop working the moment the new
// ones exist.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []storage.TokenHash) error {
	k := s.key("rc", userID)
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, k)
		if len(hashes) > 0 {
			members := make([]any, len(hashes))
			for i, h := range hashes {
				members[i] = h.String()
			}
			p.SAdd(ctx, k, members...)
		}
		return nil
	})
	if err != nil {
		return wrapErr(ctx, "replace recovery codes", err)
	}
	return nil
}

// ConsumeRecoveryCode implements [storage.RecoveryCodeStore] with one SREM:
// of concurrent calls with the same code, exactly one removes it.
func (s *Store) ConsumeRecoveryCode(ctx context.Context, userID string, h storage.TokenHash) error {
	const op = "consume recovery code"
	n, err := s.client.SRem(ctx, s.key("rc", userID), h.String()).Result()
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// CountRecoveryCodes implements [storage.RecoveryCodeStore].
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	n, err := s.client.SCard(ctx, s.key("rc", userID)).Result()
	if err != nil {
		return 0, wrapErr(ctx, "count recovery codes", err)
	}
	return int(n), nil
}
