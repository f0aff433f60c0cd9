package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
)

// luaAppendEvent assigns the next event ID and indexes the event under its
// user (scored by ID) and in the retention set (scored by time, ARGV[3]).
const luaAppendEvent = `
local id = string.format('%d', redis.call('INCR', P..'eid'))
redis.call('ZADD', P..'ue:'..ARGV[2], id, id..':'..ARGV[4])
redis.call('ZADD', P..'et', ARGV[3], id..':'..ARGV[2])
return id
`

// luaDeleteEventsBefore removes up to ARGV[3] events scored below ARGV[2]
// (an exclusive "(" bound) and returns {entries swept, events removed}.
const luaDeleteEventsBefore = `
local ms = redis.call('ZRANGEBYSCORE', P..'et', '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
local n = 0
for _, m in ipairs(ms) do
	local c = string.find(m, ':', 1, true)
	local id = string.sub(m, 1, c - 1)
	n = n + redis.call('ZREMRANGEBYSCORE', P..'ue:'..string.sub(m, c + 1), id, id)
	redis.call('ZREM', P..'et', m)
end
return {#ms, n}
`

// eventRecord is the JSON form of an event inside its user's sorted set;
// the ID prefixes it and the user ID is in the key.
type eventRecord struct {
	Type     storage.EventType `json:"t"`
	At       string            `json:"a,omitempty"`
	Handle   string            `json:"h,omitempty"`
	IP       string            `json:"i,omitempty"`
	Device   string            `json:"d,omitempty"`
	Location string            `json:"l,omitempty"`
	Detail   string            `json:"x,omitempty"`
	Actor    string            `json:"ac,omitempty"`
}

// AppendEvent implements [storage.EventStore] in one script: the ID comes
// from INCR, so IDs increase in append order across all clients.
func (s *Store) AppendEvent(ctx context.Context, e *storage.Event) error {
	const op = "append event"
	at, err := encodeTime(e.At)
	if err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	payload, err := json.Marshal(eventRecord{
		Type: e.Type, At: at, Handle: e.SessionHandle, IP: e.IP,
		Device: e.Device, Location: e.Location, Detail: e.Detail, Actor: e.Actor,
	})
	if err != nil {
		return fmt.Errorf("storage/redis: %s: %w", op, err)
	}
	keys := []string{s.prefix + "eid", s.key("ue", e.UserID), s.prefix + "et"}
	id, err := s.scripts.appendEvent.Run(ctx, s.client, keys, s.prefix, e.UserID, e.At.UnixMicro(), payload).Int64()
	if err != nil {
		return s.wrapErr(ctx, op, err)
	}
	e.ID = id
	return nil
}

// ListEvents implements [storage.EventStore] with one ZREVRANGEBYSCORE.
func (s *Store) ListEvents(ctx context.Context, userID string, before int64, limit int) ([]storage.Event, error) {
	const op = "list events"
	if limit <= 0 {
		return nil, nil
	}
	hi := "+inf"
	if before > 0 {
		hi = "(" + strconv.FormatInt(before, 10)
	}
	members, err := s.client.ZRevRangeByScore(ctx, s.key("ue", userID), &goredis.ZRangeBy{
		Max: hi, Min: "-inf", Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, s.wrapErr(ctx, op, err)
	}
	out := make([]storage.Event, 0, len(members))
	for _, m := range members {
		e, err := decodeEvent(userID, m)
		if err != nil {
			return nil, fmt.Errorf("storage/redis: %s: %w", op, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// DeleteEventsBefore implements [storage.EventStore], in batches. Event
// times are compared at microsecond precision.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	const op = "delete events before"
	bound := "(" + strconv.FormatInt(t.UnixMicro(), 10)
	total := 0
	for {
		r, err := s.scripts.deleteEventsBefore.Run(ctx, s.client, []string{s.prefix + "et"}, s.prefix, bound, sweepBatch).Int64Slice()
		if err != nil {
			return total, s.wrapErr(ctx, op, err)
		}
		if len(r) != 2 {
			return total, fmt.Errorf("storage/redis: %s: bad reply", op)
		}
		total += int(r[1])
		if r[0] < sweepBatch {
			return total, nil
		}
	}
}

// decodeEvent reads a member "<ID>:<JSON>" of userID's event set.
func decodeEvent(userID, m string) (storage.Event, error) {
	idPart, payload, ok := strings.Cut(m, ":")
	id, err := strconv.ParseInt(idPart, 10, 64)
	if !ok || err != nil {
		return storage.Event{}, errors.New("bad stored event")
	}
	var r eventRecord
	if err := json.Unmarshal([]byte(payload), &r); err != nil {
		return storage.Event{}, errors.New("bad stored event")
	}
	at, err := decodeTime(r.At)
	if err != nil {
		return storage.Event{}, err
	}
	return storage.Event{
		ID: id, UserID: userID, Type: r.Type, At: at, SessionHandle: r.Handle,
		IP: r.IP, Device: r.Device, Location: r.Location, Detail: r.Detail, Actor: r.Actor,
	}, nil
}
