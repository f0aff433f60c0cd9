package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
)

// luaReplaceRecoveryCodes replaces the set KEYS[1] with the members
// ARGV[2..], so old codes stop working the moment the new ones exist.
const luaReplaceRecoveryCodes = `
redis.call('DEL', KEYS[1])
if #ARGV > 1 then redis.call('SADD', KEYS[1], unpack(ARGV, 2)) end
return 1
`

// ReplaceRecoveryCodes implements [storage.RecoveryCodeStore] in one
// script, so old codes stop working the moment the new ones exist. It
// waits for [Options.MinReplicas] replicas: a failover cannot bring the
// old codes back.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []storage.TokenHash) error {
	args := make([]any, 1, 1+len(hashes))
	args[0] = s.prefix
	for _, h := range hashes {
		args = append(args, h.String())
	}
	if _, err := s.durableScript(ctx, s.scripts.replaceRecoveryCodes, []string{s.key("rc", userID)}, args...); err != nil {
		return s.wrapErr(ctx, "replace recovery codes", err)
	}
	return nil
}

// ConsumeRecoveryCode implements [storage.RecoveryCodeStore] with one SREM:
// of concurrent calls with the same code, exactly one removes it. It waits
// for [Options.MinReplicas] replicas: a failover cannot bring the code
// back.
func (s *Store) ConsumeRecoveryCode(ctx context.Context, userID string, h storage.TokenHash) error {
	const op = "consume recovery code"
	var cmd *goredis.IntCmd
	err := s.durable(ctx, func(p goredis.Pipeliner) error {
		cmd = p.SRem(ctx, s.key("rc", userID), h.String())
		return nil
	})
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	if cmd.Val() == 0 {
		return notFound(op)
	}
	return nil
}

// CountRecoveryCodes implements [storage.RecoveryCodeStore].
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	n, err := s.client.SCard(ctx, s.key("rc", userID)).Result()
	if err != nil {
		return 0, s.wrapErr(ctx, "count recovery codes", err)
	}
	return int(n), nil
}
