package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

const luaPutPendingTOTP = `
local k = P..'t:'..ARGV[2]
if redis.call('HGET', k, 'confirmed') == '1' then return 0 end
redis.call('DEL', k)
redis.call('HSET', k, unpack(ARGV, 3))
return 1
`

const luaConfirmTOTP = `
local k = P..'t:'..ARGV[2]
if redis.call('HGET', k, 'confirmed') ~= '0' then return 0 end
redis.call('HSET', k, 'confirmed', '1', 'step', ARGV[3], 'confirmedat', ARGV[4])
return 1
`

// luaAcceptTOTPStep compares steps as decimal strings, exactly: Lua
// numbers are doubles and would round steps above 2^53.
const luaAcceptTOTPStep = `
local function less(a, b)
	if a == b then return false end
	local na, nb = string.byte(a, 1) == 45, string.byte(b, 1) == 45
	if na ~= nb then return na end
	if na then a, b = string.sub(b, 2), string.sub(a, 2) end
	if #a ~= #b then return #a < #b end
	return a < b
end
local k = P..'t:'..ARGV[2]
local v = redis.call('HMGET', k, 'confirmed', 'step')
if v[1] ~= '1' then return 0 end
if not less(v[2] or '0', ARGV[3]) then return -1 end
redis.call('HSET', k, 'step', ARGV[3])
return 1
`

const luaUpdateTOTPSecret = `
local k = P..'t:'..ARGV[2]
if redis.call('EXISTS', k) == 0 then return 0 end
redis.call('HSET', k, 'secret', ARGV[3], 'kid', ARGV[4])
return 1
`

// PutPendingTOTP implements [storage.TOTPStore] atomically in one script.
func (s *Store) PutPendingTOTP(ctx context.Context, c *storage.TOTPCredential) error {
	const op = "put pending totp"
	f := fields{args: []any{s.prefix, c.UserID}}
	f.args = append(f.args, "secret", c.Secret)
	f.str("kid", c.KeyID)
	f.str("confirmed", "0")
	f.time("created", c.CreatedAt)
	f.time("confirmedat", c.ConfirmedAt)
	f.str("step", strconv.FormatInt(c.LastStep, 10))
	if f.err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, f.err)
	}
	n, err := s.scripts.putPendingTOTP.Run(ctx, s.client, []string{s.key("t", c.UserID)}, f.args...).Int()
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	if n == 0 {
		return conflict(op)
	}
	return nil
}

// GetTOTP implements [storage.TOTPStore].
func (s *Store) GetTOTP(ctx context.Context, userID string) (*storage.TOTPCredential, error) {
	const op = "get totp"
	v, err := s.client.HMGet(ctx, s.key("t", userID), "secret", "kid", "confirmed", "created", "confirmedat", "step").Result()
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	if !values(v).exists(2) {
		return nil, notFound(op)
	}
	r := reader{v: v}
	c := &storage.TOTPCredential{
		UserID:      userID,
		Secret:      []byte(r.str(0)),
		KeyID:       r.str(1),
		Confirmed:   r.str(2) == "1",
		CreatedAt:   r.time(3),
		ConfirmedAt: r.time(4),
		LastStep:    r.int64(5),
	}
	if r.err != nil {
		return nil, fmt.Errorf("storage/redis: %s: %w", op, r.err)
	}
	return c, nil
}

// ConfirmTOTP implements [storage.TOTPStore] atomically in one script.
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, step int64, at time.Time) error {
	const op = "confirm totp"
	atv, err := encodeTime(at)
	if err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	cmd, err := s.durableScript(ctx, s.scripts.confirmTOTP, []string{s.key("t", userID)}, s.prefix, userID, strconv.FormatInt(step, 10), atv)
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	n, err := cmd.Int()
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// AcceptTOTPStep implements [storage.TOTPStore] atomically in one script
// (RFC 6238 §5.2: a step is accepted at most once).
func (s *Store) AcceptTOTPStep(ctx context.Context, userID string, step int64) error {
	const op = "accept totp step"
	cmd, err := s.durableScript(ctx, s.scripts.acceptTOTPStep, []string{s.key("t", userID)}, s.prefix, userID, strconv.FormatInt(step, 10))
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	n, err := cmd.Int()
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	switch n {
	case 0:
		return notFound(op)
	case -1:
		return fmt.Errorf("storage/redis: %s: %w", op, storage.ErrStaleStep)
	}
	return nil
}

// UpdateTOTPSecret implements [storage.TOTPStore].
func (s *Store) UpdateTOTPSecret(ctx context.Context, userID string, secret []byte, keyID string) error {
	const op = "update totp secret"
	n, err := s.scripts.updateTOTPSecret.Run(ctx, s.client, []string{s.key("t", userID)}, s.prefix, userID, secret, keyID).Int()
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// DeleteTOTP implements [storage.TOTPStore].
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	if err := s.client.Del(ctx, s.key("t", userID)).Err(); err != nil {
		return s.wrapErr(ctx, "delete totp", err)
	}
	return nil
}
