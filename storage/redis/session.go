package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// luaGetSession returns a live session's packed copy (see packedField):
// one bulk reply that the client slices without a copy per field. It is
// the cache-miss path of every request, so it stands alone, without the
// prelude (whose tables and closures every call would build), and reads
// three fields, not seventeen: KEYS[1] is the session key, ARGV[1] the key
// root, ARGV[2] the token hash. It returns 0, and changes nothing, when
// the session key exists but its user's index does not name it, or it has
// no packed copy (written by an earlier version, or a field holds a NUL
// byte); the caller then runs luaGetSessionSlow.
const luaGetSession = `
local v = redis.call('HMGET', KEYS[1], 'user', 'handle', 'p')
if not v[1] then return false end
if redis.call('HGET', ARGV[1]..'us:'..v[1], v[2]) ~= ARGV[2] or not v[3] then return 0 end
return v[3]
`

// luaGetSessionSlow returns a live session's fields as an array, and
// deletes a session that its user's index does not name (allowlist
// semantics, see liveSession). It adds the packed copy to a session
// written by an earlier version, so the next read takes the fast path.
const luaGetSessionSlow = `
local v = liveSession(ARGV[2])
if not v then return false end
repack(P..'s:'..ARGV[2])
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

// luaTouchSession replaces the activity fields and rebuilds the packed
// copy (see packedField).
const luaTouchSession = `
if not liveSession(ARGV[2]) then return 0 end
local k = P..'s:'..ARGV[2]
redis.call('HSET', k, unpack(ARGV, 3))
repack(k)
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

// packedField is the session hash field that holds a copy of all the
// other fields, in SF order, joined by NUL bytes: the one value that
// GetSession reads. It is absent when a field holds a NUL byte (and from
// sessions written by earlier versions until their first read); every
// write of the fields rewrites it (sessionArgs, the prelude's repack).
const packedField = "p"

// sessionArgs returns the HSET pairs of every field of x, followed by the
// packed copy of their values when no value holds a NUL byte.
func sessionArgs(x *storage.Session) ([]any, error) {
	args, err := sessionFieldArgs(x)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for i := 1; i < len(args); i += 2 {
		v := args[i].(string)
		if strings.IndexByte(v, 0) >= 0 {
			return args, nil
		}
		if i > 1 {
			b.WriteByte(0)
		}
		b.WriteString(v)
	}
	return append(args, packedField, b.String()), nil
}

// sessionFieldArgs returns the HSET pairs of every field of x, in SF
// order.
func sessionFieldArgs(x *storage.Session) ([]any, error) {
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

// sessionFields are the stored fields of a session, in SF order; a
// missing field is "".
type sessionFields [sfCount]string

// splitFields splits the reply of luaGetSession into f, and reports
// whether it held exactly sfCount fields. The fields are substrings of
// joined: no copy.
func splitFields(joined string, f *sessionFields) bool {
	for i := range f {
		if i == len(f)-1 {
			if strings.IndexByte(joined, 0) >= 0 {
				return false
			}
			f[i] = joined
			return true
		}
		j := strings.IndexByte(joined, 0)
		if j < 0 {
			return false
		}
		f[i], joined = joined[:j], joined[j+1:]
	}
	return false
}

// fieldsOf copies a script reply of session fields (SF order) into f.
func fieldsOf(v values, f *sessionFields) error {
	if len(v) != sfCount {
		return fmt.Errorf("bad session reply: %d fields", len(v))
	}
	for i := range f {
		f[i] = v.str(i)
	}
	return nil
}

// decodeSession reads the session with token hash h from its fields.
func decodeSession(h storage.TokenHash, f *sessionFields) (*storage.Session, error) {
	var err error
	tm := func(i int) time.Time {
		t, e := decodeTime(f[i])
		if e != nil && err == nil {
			err = e
		}
		return t
	}
	level := 0
	if f[sfLevel] != "" {
		n, e := strconv.Atoi(f[sfLevel])
		if e != nil {
			return nil, errors.New("bad stored integer")
		}
		level = n
	}
	x := &storage.Session{
		TokenHash:  h,
		UserID:     f[sfUser],
		Handle:     f[sfHandle],
		CreatedAt:  tm(sfCreated),
		ExpiresAt:  tm(sfExpires),
		AuthLevel:  storage.AuthLevel(level),
		AuthAt:     tm(sfAuthAt),
		LastSeenAt: tm(sfSeen),
		LastSeenIP: f[sfIP],
		UserAgent:  f[sfUA],
		Device: storage.Device{
			Browser:        f[sfBrowser],
			BrowserVersion: f[sfBrowserVersion],
			OS:             f[sfOS],
			Type:           f[sfDeviceType],
		},
		Location: storage.Location{
			City:        f[sfCity],
			Region:      f[sfRegion],
			Country:     f[sfCountry],
			CountryCode: f[sfCountryCode],
		},
	}
	if err != nil {
		return nil, err
	}
	return x, nil
}

// decodeHashedSession reads a script reply that is a token hash followed
// by the session fields.
func decodeHashedSession(reply any) (*storage.Session, error) {
	v, ok := reply.([]any)
	if !ok || len(v) == 0 {
		return nil, fmt.Errorf("bad session reply %T", reply)
	}
	hexHash, _ := v[0].(string)
	h, err := storage.ParseTokenHash(hexHash)
	if err != nil {
		return nil, errors.New("bad stored token hash")
	}
	var f sessionFields
	if err := fieldsOf(v[1:], &f); err != nil {
		return nil, err
	}
	return decodeSession(h, &f)
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
		return s.wrapErr(ctx, op, err)
	}
	if n == 0 {
		return conflict(op)
	}
	return nil
}

// GetSession implements [storage.SessionStore] in one round trip: one
// script that checks the session is live and returns its fields joined in
// one string (a second round trip only for a session that must be deleted
// or whose fields hold a NUL byte).
func (s *Store) GetSession(ctx context.Context, h storage.TokenHash) (*storage.Session, error) {
	const op = "get session"
	hexHash := h.String()
	keys := []string{s.prefix + "s:" + hexHash}
	var f sessionFields
	reply, err := s.scripts.getSession.Run(ctx, s.client, keys, s.prefix, hexHash).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	if joined, ok := reply.(string); !ok || !splitFields(joined, &f) {
		// Not named by its index, or a field holds a NUL byte.
		v, err := s.scripts.getSessionSlow.Run(ctx, s.client, keys, s.prefix, hexHash).Slice()
		if errors.Is(err, goredis.Nil) {
			return nil, notFound(op)
		}
		if err != nil {
			return nil, s.wrapErr(ctx, op, err)
		}
		if err := fieldsOf(v, &f); err != nil {
			return nil, fmt.Errorf("storage/redis: %s: %w", op, err)
		}
	}
	x, err := decodeSession(h, &f)
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
		return nil, s.wrapErr(ctx, op, err)
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
		return s.wrapErr(ctx, op, err)
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
		return nil, s.wrapErr(ctx, op, err)
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
		return 0, s.wrapErr(ctx, op, err)
	}
	n, err := cmd.Int()
	if err != nil {
		return 0, s.wrapErr(ctx, op, err)
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
			return total, s.wrapErr(ctx, op, err)
		}
		total += n
		if n < sweepBatch {
			return total, nil
		}
	}
}
