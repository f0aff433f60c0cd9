package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
)

// Positions of the grant fields in a script reply (GF in luaPrelude).
const (
	gfID = iota
	gfUser
	gfApp
	gfScopes
	gfCreated
	gfUsed
	gfCount
)

const luaCreateAppGrant = `
local hex, id, user = ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', P..'g:'..hex) == 1 then return 0 end
local other = redis.call('GET', P..'gi:'..id)
if other and redis.call('EXISTS', P..'g:'..other) == 1 then return 0 end
local cur = redis.call('HGET', P..'ug:'..user, id)
if cur and redis.call('EXISTS', P..'g:'..cur) == 1 then return 0 end
redis.call('HSET', P..'g:'..hex, unpack(ARGV, 5))
redis.call('SET', P..'gi:'..id, hex)
redis.call('HSET', P..'ug:'..user, id, hex)
return 1
`

const luaGetAppGrant = `
local v = liveGrant(ARGV[2])
if not v then return false end
return v
`

const luaListAppGrants = `
local user = ARGV[2]
local idx = P..'ug:'..user
local all = redis.call('HGETALL', idx)
local out = {}
for i = 1, #all, 2 do
	local id, hex = all[i], all[i+1]
	local v = redis.call('HMGET', P..'g:'..hex, unpack(GF))
	if v[1] == id and v[2] == user then
		table.insert(v, 1, hex)
		out[#out+1] = v
	else
		-- the grant is gone (evicted): prune its entries
		redis.call('HDEL', idx, id)
		local ik = P..'gi:'..id
		if redis.call('GET', ik) == hex then redis.call('DEL', ik) end
	end
end
return out
`

const luaTouchAppGrant = `
if not liveGrant(ARGV[2]) then return 0 end
redis.call('HSET', P..'g:'..ARGV[2], 'used', ARGV[3])
return 1
`

const luaRevokeAppGrant = `
local user, id = ARGV[2], ARGV[3]
local idx = P..'ug:'..user
local hex = redis.call('HGET', idx, id)
if not hex then return false end
local v = redis.call('HMGET', P..'g:'..hex, unpack(GF))
if v[1] ~= id or v[2] ~= user then
	redis.call('HDEL', idx, id)
	return false
end
dropGrant(hex, user, id)
publish(hex, user)
table.insert(v, 1, hex)
return v
`

const luaRevokeUserAppGrants = `
local user = ARGV[2]
local idx = P..'ug:'..user
local all = redis.call('HGETALL', idx)
local n = 0
for i = 1, #all, 2 do
	local id, hex = all[i], all[i+1]
	n = n + redis.call('DEL', P..'g:'..hex)
	local ik = P..'gi:'..id
	if redis.call('GET', ik) == hex then redis.call('DEL', ik) end
end
redis.call('DEL', idx)
publish('', user)
return n
`

// CreateAppGrant implements [storage.AppGrantStore].
func (s *Store) CreateAppGrant(ctx context.Context, g *storage.AppGrant) error {
	const op = "create app grant"
	f := fields{args: []any{s.prefix, g.TokenHash.String(), g.ID, g.UserID}}
	f.str("id", g.ID)
	f.str("user", g.UserID)
	f.str("app", g.AppName)
	scopes := ""
	if g.Scopes != nil {
		b, err := json.Marshal(g.Scopes)
		if err != nil {
			return fmt.Errorf("storage/redis: %s: %w", op, err)
		}
		scopes = string(b)
	}
	f.str("scopes", scopes)
	f.time("created", g.CreatedAt)
	f.time("used", g.LastUsedAt)
	if f.err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, f.err)
	}
	keys := []string{s.key("g", g.TokenHash.String()), s.key("gi", g.ID), s.key("ug", g.UserID)}
	n, err := s.scripts.createAppGrant.Run(ctx, s.client, keys, f.args...).Int()
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	if n == 0 {
		return conflict(op)
	}
	return nil
}

// GetAppGrant implements [storage.AppGrantStore] in one round trip.
func (s *Store) GetAppGrant(ctx context.Context, h storage.TokenHash) (*storage.AppGrant, error) {
	const op = "get app grant"
	hexHash := h.String()
	v, err := s.scripts.getAppGrant.Run(ctx, s.client, []string{s.key("g", hexHash)}, s.prefix, hexHash).Slice()
	if errors.Is(err, goredis.Nil) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	g, err := decodeGrant(hexHash, v)
	if err != nil {
		return nil, fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	return g, nil
}

// ListAppGrants implements [storage.AppGrantStore]. It prunes the user's
// index entries whose grant is gone.
func (s *Store) ListAppGrants(ctx context.Context, userID string) ([]storage.AppGrant, error) {
	const op = "list app grants"
	rows, err := s.scripts.listAppGrants.Run(ctx, s.client, []string{s.key("ug", userID)}, s.prefix, userID).Slice()
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	out := make([]storage.AppGrant, 0, len(rows))
	for _, row := range rows {
		g, err := decodeHashedGrant(row)
		if err != nil {
			return nil, fmt.Errorf("storage/redis: %s: %w", op, err)
		}
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b storage.AppGrant) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// TouchAppGrant implements [storage.AppGrantStore].
func (s *Store) TouchAppGrant(ctx context.Context, h storage.TokenHash, at time.Time) error {
	const op = "touch app grant"
	atv, err := encodeTime(at)
	if err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	n, err := s.scripts.touchAppGrant.Run(ctx, s.client, []string{s.key("g", h.String())}, s.prefix, h.String(), atv).Int()
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// RevokeAppGrant implements [storage.AppGrantStore] atomically in one
// script, which publishes the revocation.
func (s *Store) RevokeAppGrant(ctx context.Context, userID, id string) (*storage.AppGrant, error) {
	const op = "revoke app grant"
	cmd, err := s.durableScript(ctx, s.scripts.revokeAppGrant, []string{s.key("ug", userID)}, s.prefix, userID, id)
	if errors.Is(err, goredis.Nil) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	g, err := decodeHashedGrant(cmd.Val())
	if err != nil {
		return nil, fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	return g, nil
}

// RevokeUserAppGrants implements [storage.AppGrantStore] in one script
// that publishes one notice.
func (s *Store) RevokeUserAppGrants(ctx context.Context, userID string) (int, error) {
	const op = "revoke user app grants"
	cmd, err := s.durableScript(ctx, s.scripts.revokeUserAppGrants, []string{s.key("ug", userID)}, s.prefix, userID)
	if err != nil {
		return 0, s.wrapErr(ctx, op, err)
	}
	n, err := cmd.Int()
	if err != nil {
		return 0, s.wrapErr(ctx, op, err)
	}
	return n, nil
}

// decodeGrant reads a grant from its token hash (hex) and its fields in GF
// order.
func decodeGrant(hexHash string, v values) (*storage.AppGrant, error) {
	h, err := storage.ParseTokenHash(hexHash)
	if err != nil {
		return nil, errors.New("bad stored token hash")
	}
	if len(v) != gfCount {
		return nil, fmt.Errorf("bad grant reply: %d fields", len(v))
	}
	r := reader{v: v}
	g := &storage.AppGrant{
		ID:         r.str(gfID),
		UserID:     r.str(gfUser),
		AppName:    r.str(gfApp),
		TokenHash:  h,
		CreatedAt:  r.time(gfCreated),
		LastUsedAt: r.time(gfUsed),
	}
	if sc := r.str(gfScopes); sc != "" {
		if err := json.Unmarshal([]byte(sc), &g.Scopes); err != nil {
			return nil, errors.New("bad stored scopes")
		}
	}
	return g, r.err
}

// decodeHashedGrant reads a script reply that is a token hash followed by
// the grant fields.
func decodeHashedGrant(reply any) (*storage.AppGrant, error) {
	v, ok := reply.([]any)
	if !ok || len(v) == 0 {
		return nil, fmt.Errorf("bad grant reply %T", reply)
	}
	hexHash, _ := v[0].(string)
	return decodeGrant(hexHash, v[1:])
}
