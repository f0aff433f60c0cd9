package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
)

// Positions of the session fields in a script reply (SF in luaPrelude).
const (
	sfUser = iota
	sfHandle
	sfCreated
	sfExpires
	sfLevel
	sfAuthAt
	sfSeen
	sfIP
	sfUA
	sfBrowser
	sfBrowserVersion
	sfOS
	sfDeviceType
	sfCity
	sfRegion
	sfCountry
	sfCountryCode
	sfCount
)

// sweepBatch is how many index entries one sweep script handles, so that
// no script blocks the server for long.
const sweepBatch = 256

const luaCreateSession = `
local hex, handle, user = ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', P..'s:'..hex) == 1 or handleTaken(handle, user) then return 0 end
putSession(hex, handle, user, ARGV[5], ARGV[6], 7)
return 1
`

const luaGetSession = `
local v = liveSession(ARGV[2])
if not v then return false end
return v
`

const luaListSessions = `
local user = ARGV[2]
local idx = P..'us:'..user
local all = redis.call('HGETALL', idx)
local out = {}
for i = 1, #all, 2 do
	local handle, hex = all[i], all[i+1]
	local v = redis.call('HMGET', P..'s:'..hex, unpack(SF))
	if v[1] == user and v[2] == handle then
		table.insert(v, 1, hex)
		out[#out+1] = v
	else
		-- the session is gone (expired or evicted): prune its entries
		redis.call('HDEL', idx, handle)
		redis.call('ZREM', P..'sx', hex..'|'..user)
	end
end
return out
`

const luaTouchSession = `
if not liveSession(ARGV[2]) then return 0 end
redis.call('HSET', P..'s:'..ARGV[2], unpack(ARGV, 3))
return 1
`

const luaRotateSession = `
local old, hex, handle, user = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local v = liveSession(old)
if not v then return 0 end
if hex ~= old and redis.call('EXISTS', P..'s:'..hex) == 1 then return -1 end
if handle ~= v[2] and handleTaken(handle, user) then return -1 end
dropSession(old, v[1], v[2])
putSession(hex, handle, user, ARGV[6], ARGV[7], 8)
publish(old, v[1])
return 1
`

const luaRevokeSession = `
local user, handle = ARGV[2], ARGV[3]
local idx = P..'us:'..user
local hex = redis.call('HGET', idx, handle)
if not hex then return false end
local v = redis.call('HMGET', P..'s:'..hex, unpack(SF))
if v[1] ~= user or v[2] ~= handle then
	redis.call('HDEL', idx, handle)
	redis.call('ZREM', P..'sx', hex..'|'..user)
	return false
end
dropSession(hex, user, handle)
publish(hex, user)
table.insert(v, 1, hex)
return v
`

// luaRevokeUserSessions deletes in batches of B keys per command: one
// command per key would cost several times more server time for a user
// with many sessions.
const luaRevokeUserSessions = `
local user, except = ARGV[2], ARGV[3]
local idx = P..'us:'..user
local all = redis.call('HGETALL', idx)
local sk, hk, hx, hf, zm = {}, {}, {}, {}, {}
for i = 1, #all, 2 do
	local handle, hex = all[i], all[i+1]
	if hex ~= except then
		sk[#sk+1] = P..'s:'..hex
		hk[#hk+1] = P..'h:'..handle
		hx[#hx+1] = hex
		hf[#hf+1] = handle
		zm[#zm+1] = hex..'|'..user
	end
end
local n, B = 0, 500
for i = 1, #sk, B do
	local j = math.min(i + B - 1, #sk)
	n = n + redis.call('DEL', unpack(sk, i, j))
	redis.call('HDEL', idx, unpack(hf, i, j))
	redis.call('ZREM', P..'sx', unpack(zm, i, j))
	-- a handle key names another session if the handle was reused
	local cur = redis.call('MGET', unpack(hk, i, j))
	local del = {}
	for k = i, j do
		if cur[k - i + 1] == hx[k] then del[#del+1] = hk[k] end
	end
	if #del > 0 then redis.call('DEL', unpack(del)) end
end
publish('', user)
return n
`

// luaDeleteExpiredSessions sweeps up to ARGV[3] sessions whose ExpiresAt
// (unix ms) is not after ARGV[2], and returns how many entries it swept.
const luaDeleteExpiredSessions = `
local ms = redis.call('ZRANGEBYSCORE', P..'sx', '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, m in ipairs(ms) do
	local hex, user = string.sub(m, 1, 64), string.sub(m, 66)
	local handle = redis.call('HGET', P..'s:'..hex, 'handle')
	if handle then
		dropSession(hex, user, handle)
	else
		-- gone by TTL or evicted: find its handle through the index
		local all = redis.call('HGETALL', P..'us:'..user)
		for i = 1, #all, 2 do
			if all[i+1] == hex then dropSession(hex, user, all[i]) end
		end
		redis.call('ZREM', P..'sx', m)
	end
end
return #ms
`

// sessionArgs returns the HSET pairs of every field of x.
func sessionArgs(x *storage.Session) ([]any, error) {
	var f fields
	f.str("user", x.UserID)
	f.str("handle", x.Handle)
	f.time("created", x.CreatedAt)
	f.time("expires", x.ExpiresAt)
	f.str("level", strconv.Itoa(int(x.AuthLevel)))
	f.time("authat", x.AuthAt)
	activityArgs(&f, storage.Activity{
		At: x.LastSeenAt, IP: x.LastSeenIP, UserAgent: x.UserAgent, Device: x.Device, Location: x.Location,
	})
	return f.args, f.err
}

// activityArgs appends the HSET pairs of the fields a touch replaces.
func activityArgs(f *fields, a storage.Activity) {
	f.time("seen", a.At)
	f.str("ip", a.IP)
	f.str("ua", a.UserAgent)
	f.str("browser", a.Device.Browser)
	f.str("bver", a.Device.BrowserVersion)
	f.str("os", a.Device.OS)
	f.str("dtype", a.Device.Type)
	f.str("city", a.Location.City)
	f.str("region", a.Location.Region)
	f.str("country", a.Location.Country)
	f.str("cc", a.Location.CountryCode)
}

// decodeSession reads a session from its token hash (hex) and its fields
// in SF order.
func decodeSession(hexHash string, v values) (*storage.Session, error) {
	h, err := storage.ParseTokenHash(hexHash)
	if err != nil {
		return nil, errors.New("bad stored token hash")
	}
	if len(v) != sfCount {
		return nil, fmt.Errorf("bad session reply: %d fields", len(v))
	}
	r := reader{v: v}
	x := &storage.Session{
		TokenHash:  h,
		UserID:     r.str(sfUser),
		Handle:     r.str(sfHandle),
		CreatedAt:  r.time(sfCreated),
		ExpiresAt:  r.time(sfExpires),
		AuthLevel:  storage.AuthLevel(r.int64(sfLevel)),
		AuthAt:     r.time(sfAuthAt),
		LastSeenAt: r.time(sfSeen),
		LastSeenIP: r.str(sfIP),
		UserAgent:  r.str(sfUA),
		Device: storage.Device{
			Browser:        r.str(sfBrowser),
			BrowserVersion: r.str(sfBrowserVersion),
			OS:             r.str(sfOS),
			Type:           r.str(sfDeviceType),
		},
		Location: storage.Location{
			City:        r.str(sfCity),
			Region:      r.str(sfRegion),
			Country:     r.str(sfCountry),
			CountryCode: r.str(sfCountryCode),
		},
	}
	return x, r.err
}

// decodeHashedSession reads a script reply that is a token hash followed
// by the session fields.
func decodeHashedSession(reply any) (*storage.Session, error) {
	v, ok := reply.([]any)
	if !ok || len(v) == 0 {
		return nil, fmt.Errorf("bad session reply %T", reply)
	}
	hexHash, _ := v[0].(string)
	return decodeSession(hexHash, v[1:])
}

// ttl returns how long the keys of a session expiring at expires live,
// counted from the store's clock and at least one millisecond (an
// expired session still gets its sweep entry; its key vanishes at once).
func (s *Store) ttl(expires time.Time) int64 {
	d := expires.Sub(s.now())
	ms := d.Milliseconds()
	if time.Duration(ms)*time.Millisecond < d {
		ms++
	}
	return max(ms, 1)
}

// putArgs returns the script arguments shared by create and rotate:
// token hash, handle, user, TTL, sweep score, then the fields.
func (s *Store) putArgs(x *storage.Session) ([]any, error) {
	f, err := sessionArgs(x)
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, 6+len(f))
	args = append(args, x.TokenHash.String(), x.Handle, x.UserID, s.ttl(x.ExpiresAt), ceilMilli(x.ExpiresAt))
	return append(args, f...), nil
}

// CreateSession implements [storage.SessionStore]. It stores the session
// with a TTL at its ExpiresAt; ErrConflict if its token hash or handle is
// taken by a live session.
func (s *Store) CreateSession(ctx context.Context, x *storage.Session) error {
	const op = "create session"
	args, err := s.putArgs(x)
	if err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	keys := []string{s.key("s", x.TokenHash.String()), s.key("h", x.Handle), s.key("us", x.UserID), s.prefix + "sx"}
	n, err := s.scripts.createSession.Run(ctx, s.client, keys, append([]any{s.prefix}, args...)...).Int()
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	if n == 0 {
		return conflict(op)
	}
	return nil
}

// GetSession implements [storage.SessionStore] in one round trip.
func (s *Store) GetSession(ctx context.Context, h storage.TokenHash) (*storage.Session, error) {
	const op = "get session"
	hexHash := h.String()
	v, err := s.scripts.getSession.Run(ctx, s.client, []string{s.key("s", hexHash)}, s.prefix, hexHash).Slice()
	if errors.Is(err, goredis.Nil) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, wrapErr(ctx, op, err)
	}
	x, err := decodeSession(hexHash, v)
	if err != nil {
		return nil, fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	return x, nil
}

// ListSessions implements [storage.SessionStore]. It prunes the user's
// index entries whose session is gone.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	const op = "list sessions"
	rows, err := s.scripts.listSessions.Run(ctx, s.client, []string{s.key("us", userID), s.prefix + "sx"}, s.prefix, userID).Slice()
	if err != nil {
		return nil, wrapErr(ctx, op, err)
	}
	out := make([]storage.Session, 0, len(rows))
	for _, row := range rows {
		x, err := decodeHashedSession(row)
		if err != nil {
			return nil, fmt.Errorf("storage/redis: %s: %w", op, err)
		}
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b storage.Session) int {
		if c := b.LastSeenAt.Compare(a.LastSeenAt); c != 0 {
			return c
		}
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Handle, b.Handle)
	})
	return out, nil
}

// TouchSession implements [storage.SessionStore].
func (s *Store) TouchSession(ctx context.Context, h storage.TokenHash, a storage.Activity) error {
	const op = "touch session"
	f := fields{args: []any{s.prefix, h.String()}}
	activityArgs(&f, a)
	if f.err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, f.err)
	}
	n, err := s.scripts.touchSession.Run(ctx, s.client, []string{s.key("s", h.String())}, f.args...).Int()
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// RotateSession implements [storage.SessionStore] atomically in one script,
// which publishes the revocation of old. It returns ErrConflict, and
// changes nothing, if x's token hash or (new) handle is taken by another
// live session.
func (s *Store) RotateSession(ctx context.Context, old storage.TokenHash, x *storage.Session) error {
	const op = "rotate session"
	args, err := s.putArgs(x)
	if err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	keys := []string{s.key("s", old.String()), s.key("s", x.TokenHash.String()), s.key("h", x.Handle), s.key("us", x.UserID), s.prefix + "sx"}
	cmd, err := s.durableScript(ctx, s.scripts.rotateSession, keys, append([]any{s.prefix, old.String()}, args...)...)
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	n, err := cmd.Int()
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	switch n {
	case 0:
		return notFound(op)
	case -1:
		return conflict(op)
	}
	return nil
}

// RevokeSession implements [storage.SessionStore] atomically in one script,
// which publishes the revocation.
func (s *Store) RevokeSession(ctx context.Context, userID, handle string) (*storage.Session, error) {
	const op = "revoke session"
	cmd, err := s.durableScript(ctx, s.scripts.revokeSession, []string{s.key("us", userID), s.prefix + "sx"}, s.prefix, userID, handle)
	if errors.Is(err, goredis.Nil) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, wrapErr(ctx, op, err)
	}
	x, err := decodeHashedSession(cmd.Val())
	if err != nil {
		return nil, fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	return x, nil
}

// RevokeUserSessions implements [storage.SessionStore]: one script, one
// round trip, deletes the sessions and publishes one notice, whatever
// their number.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, except storage.TokenHash) (int, error) {
	const op = "revoke user sessions"
	exceptHex := ""
	if !except.IsZero() {
		exceptHex = except.String()
	}
	cmd, err := s.durableScript(ctx, s.scripts.revokeUserSessions, []string{s.key("us", userID), s.prefix + "sx"}, s.prefix, userID, exceptHex)
	if err != nil {
		return 0, wrapErr(ctx, op, err)
	}
	n, err := cmd.Int()
	if err != nil {
		return 0, wrapErr(ctx, op, err)
	}
	return n, nil
}

// DeleteExpiredSessions implements [storage.SessionStore]. It sweeps, in
// batches, every session whose ExpiresAt is not after now, with its index
// entries, and returns how many it swept; sessions whose keys Redis has
// already expired by TTL are counted too, since their index entries are
// removed now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	const op = "delete expired sessions"
	limit := now.UnixMilli() // ExpiresAt scores are rounded up: never early
	total := 0
	for {
		n, err := s.scripts.deleteExpiredSessions.Run(ctx, s.client, []string{s.prefix + "sx"}, s.prefix, limit, sweepBatch).Int()
		if err != nil {
			return total, wrapErr(ctx, op, err)
		}
		total += n
		if n < sweepBatch {
			return total, nil
		}
	}
}
