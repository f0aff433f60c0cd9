package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
)

// Device bindings live under three kinds of keys, all under the store's
// root (so on one hash slot on a cluster):
//
//	db:<handle>:<user>  the binding, JSON; expires with the session
//	dc:<handle>:<user>  hash of the session's challenges: value → JSON
//	udb:<user>          set of the user's bound handles
//
// A handle never holds a colon (base64url), so the names never collide.

// bindingScripts are the device-binding scripts; immutable. ARGV[1] is
// the key root (as in scripts.go), ARGV[2] the user.
var (
	// ARGV[3]: the handle to keep ("" none). Returns how many bindings
	// were deleted.
	luaDeleteDeviceBindings = goredis.NewScript(`
local P, user, keep = ARGV[1], ARGV[2], ARGV[3]
local n = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
	if h ~= keep then
		n = n + redis.call('DEL', P..'db:'..h..':'..user)
		redis.call('DEL', P..'dc:'..h..':'..user)
		redis.call('SREM', KEYS[1], h)
	end
end
return n
`)
	// KEYS[1]: the challenge hash; ARGV[1]: the value. Returns the
	// challenge and removes it, or false.
	luaUseChallenge = goredis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then redis.call('HDEL', KEYS[1], ARGV[1]) end
return v
`)
	// KEYS[1]: the challenge hash; ARGV[1] value, ARGV[2] JSON, ARGV[3]
	// expiry (unix ms), ARGV[4] now (unix ms), ARGV[5] how many to keep.
	// Drops expired challenges, adds the new one unless its value exists
	// (0), drops the soonest-expiring beyond the limit, and keeps the hash
	// until its last challenge expires.
	luaAddChallenge = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
	local e = cjson.decode(all[i+1]).e
	if e <= tonumber(ARGV[4]) then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
while redis.call('HLEN', KEYS[1]) > tonumber(ARGV[5]) do
	local first, firstE = nil, nil
	local all = redis.call('HGETALL', KEYS[1])
	for i = 1, #all, 2 do
		local e = cjson.decode(all[i+1]).e
		if firstE == nil or e < firstE or (e == firstE and all[i] < first) then first, firstE = all[i], e end
	end
	redis.call('HDEL', KEYS[1], first)
end
local ttl = redis.call('PEXPIRETIME', KEYS[1])
if ttl < tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return 1
`)
)

func (s *Store) bindingKey(kind, userID, handle string) string {
	return s.prefix + kind + ":" + handle + ":" + userID
}

type storedBinding struct {
	ID         string    `json:"id"`
	PublicKey  []byte    `json:"k"`
	Thumbprint string    `json:"t"`
	CreatedAt  time.Time `json:"c"`
	ExpiresAt  time.Time `json:"x"`
}

type storedChallenge struct {
	Authorization string `json:"a"`
	ExpiresAt     int64  `json:"e"` // unix ms
}

// PutDeviceBinding implements [storage.DeviceBindingStore] in one
// transaction (MULTI).
func (s *Store) PutDeviceBinding(ctx context.Context, b *storage.DeviceBinding) error {
	const op = "put device binding"
	v, err := json.Marshal(storedBinding{ID: b.ID, PublicKey: b.PublicKey, Thumbprint: b.Thumbprint, CreatedAt: b.CreatedAt, ExpiresAt: b.ExpiresAt})
	if err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	key := s.bindingKey("db", b.UserID, b.SessionHandle)
	_, err = s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, key, v, 0)
		if !b.ExpiresAt.IsZero() {
			p.PExpireAt(ctx, key, b.ExpiresAt)
		}
		p.SAdd(ctx, s.key("udb", b.UserID), b.SessionHandle)
		return nil
	})
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	return nil
}

// GetDeviceBinding implements [storage.DeviceBindingStore].
func (s *Store) GetDeviceBinding(ctx context.Context, userID, handle string) (*storage.DeviceBinding, error) {
	const op = "get device binding"
	v, err := s.client.Get(ctx, s.bindingKey("db", userID, handle)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	var sb storedBinding
	if err := json.Unmarshal(v, &sb); err != nil {
		return nil, fmt.Errorf("storage/redis: %s: bad stored binding: %w", op, err)
	}
	return &storage.DeviceBinding{UserID: userID, SessionHandle: handle, ID: sb.ID, PublicKey: sb.PublicKey,
		Thumbprint: sb.Thumbprint, CreatedAt: sb.CreatedAt, ExpiresAt: sb.ExpiresAt}, nil
}

// DeleteDeviceBindings implements [storage.DeviceBindingStore] in one
// script.
func (s *Store) DeleteDeviceBindings(ctx context.Context, userID, exceptHandle string) (int, error) {
	n, err := luaDeleteDeviceBindings.Run(ctx, s.client, []string{s.key("udb", userID)}, s.prefix, userID, exceptHandle).Int()
	if err != nil {
		return 0, s.wrapErr(ctx, "delete device bindings", err)
	}
	return n, nil
}

// DeleteDeviceBinding implements [storage.DeviceBindingStore] in one
// transaction (MULTI).
func (s *Store) DeleteDeviceBinding(ctx context.Context, userID, handle string) error {
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, s.bindingKey("db", userID, handle), s.bindingKey("dc", userID, handle))
		p.SRem(ctx, s.key("udb", userID), handle)
		return nil
	})
	if err != nil {
		return s.wrapErr(ctx, "delete device binding", err)
	}
	return nil
}

// AddBindingChallenge implements [storage.DeviceBindingStore] in one
// script.
func (s *Store) AddBindingChallenge(ctx context.Context, c *storage.BindingChallenge) error {
	const op = "add binding challenge"
	v, err := json.Marshal(storedChallenge{Authorization: c.Authorization, ExpiresAt: c.ExpiresAt.UnixMilli()})
	if err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	n, err := luaAddChallenge.Run(ctx, s.client, []string{s.bindingKey("dc", c.UserID, c.SessionHandle)},
		c.Value, v, ceilMilli(c.ExpiresAt), s.now().UnixMilli(), storage.MaxBindingChallenges).Int()
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	if n == 0 {
		return conflict(op)
	}
	return nil
}

// UseBindingChallenge implements [storage.DeviceBindingStore] in one
// script (read and delete), so that exactly one of concurrent uses gets
// the challenge.
func (s *Store) UseBindingChallenge(ctx context.Context, userID, handle, value string, now time.Time) (*storage.BindingChallenge, error) {
	const op = "use binding challenge"
	v, err := luaUseChallenge.Run(ctx, s.client, []string{s.bindingKey("dc", userID, handle)}, value).Text()
	if errors.Is(err, goredis.Nil) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	var sc storedChallenge
	if err := json.Unmarshal([]byte(v), &sc); err != nil {
		return nil, fmt.Errorf("storage/redis: %s: bad stored challenge: %w", op, err)
	}
	c := &storage.BindingChallenge{UserID: userID, SessionHandle: handle, Value: value, Authorization: sc.Authorization,
		ExpiresAt: time.UnixMilli(sc.ExpiresAt)}
	if !now.Before(c.ExpiresAt) {
		return nil, notFound(op)
	}
	return c, nil
}
