package redis

import (
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// scripts are the store's Lua scripts. Each runs atomically on the server
// (EVALSHA, falling back to EVAL once per server).
//
// Every script declares in KEYS the keys it touches whose names are known
// before it runs (go-redis routes a script on a cluster by KEYS[1]). The
// keys a script finds through stored data (the sessions an index names,
// the user of an expired sweep entry) are built inside it from ARGV[1], the
// key root, exactly as the declared ones are. Every key of a store starts
// with the same root, and on a cluster the root is the store's hash tag
// ("{" + prefix + "}"), so every key a script touches, declared or found,
// lives in the one hash slot of its KEYS[1]: every script stays atomic on a
// cluster.
type scripts struct {
	createSession, getSession, getSessionSlow, listSessions, touchSession, rotateSession,
	revokeSession, revokeUserSessions, deleteExpiredSessions *goredis.Script

	putPendingTOTP, confirmTOTP, acceptTOTPStep, updateTOTPSecret *goredis.Script

	createAppGrant, getAppGrant, listAppGrants, touchAppGrant,
	revokeAppGrant, revokeUserAppGrants *goredis.Script

	appendEvent, deleteEventsBefore *goredis.Script

	replaceRecoveryCodes *goredis.Script
}

// newScripts returns the scripts. On a cluster they publish notices with
// SPUBLISH (sharded pub/sub: the notice goes to the subscribers of the
// shard that owns the channel's slot, which is the store's slot), else
// with PUBLISH.
func newScripts(cluster bool) scripts {
	prelude := luaPrelude
	if cluster {
		prelude = strings.Replace(prelude, "redis.call('PUBLISH'", "redis.call('SPUBLISH'", 1)
	}
	s := func(body string) *goredis.Script { return goredis.NewScript(prelude + body) }
	return scripts{
		createSession:         s(luaCreateSession),
		getSession:            goredis.NewScript(luaGetSession),
		getSessionSlow:        s(luaGetSessionSlow),
		listSessions:          s(luaListSessions),
		touchSession:          s(luaTouchSession),
		rotateSession:         s(luaRotateSession),
		revokeSession:         s(luaRevokeSession),
		revokeUserSessions:    s(luaRevokeUserSessions),
		deleteExpiredSessions: s(luaDeleteExpiredSessions),

		putPendingTOTP:   s(luaPutPendingTOTP),
		confirmTOTP:      s(luaConfirmTOTP),
		acceptTOTPStep:   s(luaAcceptTOTPStep),
		updateTOTPSecret: s(luaUpdateTOTPSecret),

		createAppGrant:      s(luaCreateAppGrant),
		getAppGrant:         s(luaGetAppGrant),
		listAppGrants:       s(luaListAppGrants),
		touchAppGrant:       s(luaTouchAppGrant),
		revokeAppGrant:      s(luaRevokeAppGrant),
		revokeUserAppGrants: s(luaRevokeUserAppGrants),

		appendEvent:        s(luaAppendEvent),
		deleteEventsBefore: s(luaDeleteEventsBefore),

		replaceRecoveryCodes: s(luaReplaceRecoveryCodes),
	}
}

// luaPrelude is shared by every script: the prefix, the field lists and
// the helpers that keep a record, its index entry and its uniqueness key
// consistent.
//
// SF must list the session fields in the order of the sf* constants, GF
// the grant fields in the order of the gf* constants.
const luaPrelude = `
local P = ARGV[1]
local SF = {'user','handle','created','expires','level','authat','seen','ip','ua',
	'browser','bver','os','dtype','city','region','country','cc'}
local GF = {'id','user','app','scopes','created','used'}

-- dropSession deletes a session, its index entry, its handle key and its
-- sweep entry; it returns 1 if the session key existed.
local function dropSession(hex, user, handle)
	local n = redis.call('DEL', P..'s:'..hex)
	local idx = P..'us:'..user
	if redis.call('HGET', idx, handle) == hex then redis.call('HDEL', idx, handle) end
	local hk = P..'h:'..handle
	if redis.call('GET', hk) == hex then redis.call('DEL', hk) end
	redis.call('ZREM', P..'sx', hex..'|'..user)
	return n
end

-- liveSession returns the session's fields (in SF order) if it is live:
-- its key exists and its user's index names it. A key that the index
-- does not name (the index was evicted) cannot be revoked, so it is
-- deleted: allowlist semantics.
local function liveSession(hex)
	local v = redis.call('HMGET', P..'s:'..hex, unpack(SF))
	if not v[1] then return nil end
	if redis.call('HGET', P..'us:'..v[1], v[2]) ~= hex then
		dropSession(hex, v[1], v[2])
		return nil
	end
	return v
end

-- handleTaken reports whether a live session other than none holds
-- handle, through the handle key or user's index.
local function handleTaken(handle, user)
	local other = redis.call('GET', P..'h:'..handle)
	if other and redis.call('EXISTS', P..'s:'..other) == 1 then return true end
	local cur = redis.call('HGET', P..'us:'..user, handle)
	if cur and redis.call('EXISTS', P..'s:'..cur) == 1 then return true end
	return false
end

-- putSession writes a session from the field/value pairs ARGV[from..]
-- with its TTL (ms), index entry, handle key and sweep entry (score: unix
-- ms of ExpiresAt).
local function putSession(hex, handle, user, ttl, score, from)
	local sk = P..'s:'..hex
	redis.call('DEL', sk)
	redis.call('HSET', sk, unpack(ARGV, from))
	redis.call('PEXPIRE', sk, ttl)
	redis.call('SET', P..'h:'..handle, hex, 'PX', ttl)
	redis.call('HSET', P..'us:'..user, handle, hex)
	redis.call('ZADD', P..'sx', score, hex..'|'..user)
end

-- dropGrant deletes a grant, its index entry and its ID key; it returns 1
-- if the grant key existed.
local function dropGrant(hex, user, id)
	local n = redis.call('DEL', P..'g:'..hex)
	local idx = P..'ug:'..user
	if redis.call('HGET', idx, id) == hex then redis.call('HDEL', idx, id) end
	local ik = P..'gi:'..id
	if redis.call('GET', ik) == hex then redis.call('DEL', ik) end
	return n
end

-- liveGrant is liveSession for app grants.
local function liveGrant(hex)
	local v = redis.call('HMGET', P..'g:'..hex, unpack(GF))
	if not v[1] then return nil end
	if redis.call('HGET', P..'ug:'..v[2], v[1]) ~= hex then
		dropGrant(hex, v[2], v[1])
		return nil
	end
	return v
end

-- repack rewrites the packed copy of session key k's fields (field 'p',
-- see packedField in session.go), or removes it if a field holds a NUL.
local function repack(k)
	local v = redis.call('HMGET', k, unpack(SF))
	for i = 1, #v do
		if not v[i] then v[i] = '' end
		if string.find(v[i], '\0', 1, true) then
			redis.call('HDEL', k, 'p')
			return
		end
	end
	redis.call('HSET', k, 'p', table.concat(v, '\0'))
end

-- publish sends the revocation notice "t<server time, unix µs>|<token
-- hash hex or empty>|<user ID>" (see parseRevocation in notifier.go).
local function publish(hex, user)
	local t = redis.call('TIME')
	local us = t[1]..string.format('%06d', tonumber(t[2]))
	redis.call('PUBLISH', P..'revocations', 't'..us..'|'..hex..'|'..user)
end
`
