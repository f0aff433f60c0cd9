// Package redis is a [storage.Store] on Redis, through
// [github.com/redis/go-redis/v9].
//
// # When to use it
//
// Use it when many application instances sit behind a load balancer and
// share their sessions: every instance opens its own Store on the same
// deployment with the same [Options.Prefix], and a revocation through any
// of them reaches the caches of all the others within milliseconds,
// through Redis pub/sub. A single instance is better served by the memory
// or sqlite backends.
//
// # Topologies
//
// [Open] takes go-redis' own URL forms, and [New] any client but a ring:
//
//   - One server: redis://host:6379/0 ([goredis.NewClient]).
//   - Sentinel: redis://sentinel:26379?master_name=name&addr=sentinel2:26379
//     ([goredis.NewFailoverClient]); every command goes to the primary
//     Sentinel names.
//   - Cluster (Redis 7 or later, for sharded pub/sub):
//     redis://node1:7000?addr=node2:7000&addr=node3:7000
//     ([goredis.NewClusterClient]). On a cluster every key of a Store
//     carries the hash tag "{" + Prefix + "}", so all of them live in one
//     hash slot and every script, transaction and WAIT runs on the one
//     primary of that slot: each operation is as atomic as on one server.
//     The price is that one primary holds and serves one prefix's data; the
//     cluster gives the store failover, not sharding. That is the design,
//     not an accident: a session is found by its token hash alone on the
//     hot path (one round trip), yet "log out all other sessions" must
//     remove all of a user's sessions atomically, and no hash tag can put
//     both the token-hash lookups and the per-user sets in one slot unless
//     it is common to the whole prefix. Deployments that need more than one
//     primary's throughput shard by prefix (one prefix per tenant).
//
// Clients that read from replicas (a cluster client with ReadOnly,
// RouteByLatency or RouteRandomly, or URLs asking for it) are refused: a
// lagging replica would serve a revoked session. So are ring clients: ring
// shards are not replicated, and a shard that drops out and comes back
// would bring back sessions revoked meanwhile.
//
// # Durability of security writes
//
// Redis replicates asynchronously: a write acknowledged by the primary can
// be lost when a replica is promoted. Every write that takes something
// away — a revocation (RevokeSession, RevokeUserSessions, RotateSession,
// app grant revocations), an accepted TOTP step, a confirmed TOTP
// credential, a consumed or replaced recovery code, a reserved
// second-factor attempt — is therefore followed by WAIT on the same
// connection, and reports success only when [Options.MinReplicas]
// replicas have acknowledged it within [Options.ReplicaTimeout]; otherwise
// it fails with [ErrNotReplicated]. The default MinReplicas is 1 on
// Sentinel, on a cluster whose configuration gives the store's shard a
// replica, and on a plain server once it is seen with a replica (see the
// option). What is guaranteed, per topology:
//
//   - One server without replicas: a revocation that returned is applied
//     on the server. What a restart keeps is up to Redis persistence:
//     losing data logs users out (allowlist), but restoring an older
//     snapshot brings back sessions revoked since it was taken.
//   - Sentinel, and a cluster shard with replicas: a revocation that
//     returned is on the primary and on MinReplicas replicas. A failover
//     promotes the replica with the largest replication offset (unless
//     replica-priority says otherwise), which has it: a forced failover
//     right after the call cannot undo it. WAIT cannot cover a replica
//     that acknowledged and then loses its data too (every node restarted
//     without persistence), nor a manual promotion of a replica that did
//     not acknowledge. When the replicas do not acknowledge in time, the
//     call fails and the app shows an error; the change is applied on the
//     primary and retrying is safe.
//   - Writes that only add (creating a session, a touch, an event) do not
//     wait: losing one logs a user out or loses a log line, it never
//     grants access.
//
// # Allowlist semantics
//
// Sessions are an allowlist (SECURITY.md §9): a session is live exactly
// while its key exists and its user's index names it. Revoking deletes the
// key; every session key carries a TTL at its ExpiresAt (computed from
// [Options.Now]), so Redis forgets it when it expires. If Redis evicts
// either a session key or a user's index under memory pressure, the
// sessions concerned are logged out — eviction never brings a revoked
// session back. The same holds for app grants. Prefer a maxmemory-policy
// of noeviction: under volatile-* only keys with a TTL can be evicted, and
// the indexes, TOTP credentials and recovery codes stay, but throttle keys
// carry a TTL too (see below), so evicting one would forget a user's or an
// address's failed attempts.
//
// Throttle keys (th:) expire: each reserved attempt sets the key's TTL to
// the record's expiry (storage.AttemptPolicy.ExpiresAt: the later of the
// lockout's end and a day after the attempt; computed from [Options.Now]),
// so usernames and addresses
// sprayed at sign-in do not accumulate; a permanent lock (MaxFailures
// reached) has no TTL.
//
// # Key layout
//
// Every key starts with the key root R: [Options.Prefix] (default
// "sessionguard:") on one server or Sentinel, "{" + Prefix + "}" on a
// cluster (the hash tag). Token hashes are lower-case hex
// ([storage.TokenHash.String]):
//
//	R s:<token hash>      hash    one session; PEXPIRE at its ExpiresAt; field p: all the
//	                              other fields joined by NUL bytes, the one value GetSession reads
//	R h:<handle>          string  token hash of the session with that handle (uniqueness); same TTL
//	R us:<user ID>        hash    the user's sessions: handle -> token hash
//	R sx                  zset    "<token hash>|<user ID>" scored by ExpiresAt (unix ms), for the sweep
//	R g:<token hash>      hash    one app grant
//	R gi:<grant ID>       string  token hash of the grant with that ID (uniqueness)
//	R ug:<user ID>        hash    the user's grants: grant ID -> token hash
//	R t:<user ID>         hash    the user's TOTP credential
//	R rc:<user ID>        set     hex SHA-256 of the user's unused recovery codes
//	R th:<user ID>        hash    the user's second-factor throttle; TTL at its expiry
//	R tb:<ID>             hash    one trusted browser (trusted.go)
//	R tbu:<user ID>       set     the user's trusted-browser IDs
//	R pk:<ID>             hash    one passkey (passkey.go)
//	R pkc:<credential ID> string  ID of the passkey with that base64url credential ID (uniqueness)
//	R pku:<user ID>       set     the user's passkey IDs
//	R pch:<ID>            hash    one pending passkey challenge; PEXPIREAT past its ExpiresAt
//	R eid                 string  the last event ID (INCR)
//	R ue:<user ID>        zset    the user's events, scored by ID, member "<ID>:<JSON>"
//	R et                  zset    "<ID>:<user ID>" scored by event time (unix µs), for retention
//	R revocations         channel revocation notices (SPUBLISH on a cluster, PUBLISH otherwise)
//	R probe:<random>      channel one listener's probe (see Revocation bound)
//
// The layout on one server and on Sentinel is the one earlier versions
// wrote, plus the packed field p: existing data stays readable, nothing to
// migrate (a session without p is read whole, and gains p on that read). Moving a store
// from one server to a cluster renames every key (the root gains braces):
// copy them with their TTLs (DUMP / RESTORE ... PTTL, or MIGRATE) under
// the new names while no instance writes, or start the cluster empty and
// let users sign in again.
//
// Index entries whose session or grant is gone (expired by TTL, evicted)
// are pruned lazily when the user's list is read or revoked, and by
// [Store.DeleteExpiredSessions], which every Store runs in the background
// every [Options.SweepInterval]; events by [Store.DeleteEventsBefore]. A
// session's TTL alone would leave its index entry and sweep-set member
// behind for good.
// Times are stored as unix nanoseconds and round-trip exactly.
//
// # Revocation bound
//
// Revocations are published on the channel R+"revocations" inside the same
// Lua script that applies them, so a notice is never seen before the change.
// A subscriber (see [Store.Subscribe]) hears of a revocation through any
// instance within milliseconds. On a cluster the channel is a sharded one
// (SSUBSCRIBE), served by the primary of the store's slot, so notices
// reach every instance whatever node its client is connected to.
//
// If the listener connection drops, every subscriber is told to drop its
// caches (Revocation{Reset: true}) at once, and again when the
// subscription is confirmed on a fresh connection, because notices sent
// in between are lost. A connection that goes silent is detected by a
// ping within about twice [Options.HealthCheckInterval]. A connection that
// stays up on the wrong node — a primary demoted by a Sentinel switch or a
// cluster failover, a node that lost the store's slot in a resharding — is
// detected within about one HealthCheckInterval: every interval the
// listener asks the current primary (as Sentinel or CLUSTER SLOTS names
// it) whether it counts the listener's own probe channel (PUBSUB NUMSUB /
// SHARDNUMSUB) and, off a cluster, whether it is a primary at all (ROLE:
// a server demoted under a plain client); if not, subscribers are reset
// the same way and the listener subscribes on the current primary. With the default interval of
// one second, no notice is missed silently for longer than about two
// seconds on any topology; in every case the Manager's RevocationTTL
// remains the outer bound.
package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
)

// DefaultPrefix is the key prefix used when [Options.Prefix] is empty.
const DefaultPrefix = "sessionguard:"

// Options configures a [Store]. The zero value is ready to use.
type Options struct {
	// Prefix is prepended to every key the store writes and to its
	// revocation channel (Prefix+"revocations"); on a cluster it is
	// wrapped in braces to become the hash tag of all of them
	// ("{"+Prefix+"}revocations"), so it must hold no brace there.
	// Instances that share sessions must use the same prefix; unrelated
	// deployments on one server must use different ones. The default is
	// "sessionguard:".
	Prefix string

	// Now returns the current time. The store uses it to turn a session's
	// ExpiresAt, and a throttle record's expiry, into the TTL of their
	// keys, and for GetThrottle's expiry check. The default is time.Now.
	Now func() time.Time

	// HealthCheckInterval is how long the revocation listener waits on a
	// silent connection before it sends a PING; if nothing at all arrives
	// within another interval, the connection is declared lost
	// (subscribers are reset) and replaced. It is also how often the
	// listener checks that its subscription is on the current primary (see
	// the package documentation). The default is 1 second.
	HealthCheckInterval time.Duration

	// SubscribeTimeout bounds how long [Store.Subscribe] waits for the
	// listener's subscription to be confirmed by the server before it
	// gives up with an error. The default is 10 seconds.
	SubscribeTimeout time.Duration

	// SweepInterval is how often the Store runs [Store.DeleteExpiredSessions]
	// at [Options.Now] in the background, until [Store.Close], to remove
	// the index entries of sessions whose keys expired. Several instances
	// sweeping the same prefix is harmless. The default (zero or negative)
	// is one minute.
	SweepInterval time.Duration

	// MinReplicas is how many replicas must acknowledge a security write
	// (a revocation, a rotation, an accepted TOTP step, a consumed or
	// replaced recovery code, a confirmed TOTP credential, a reserved
	// second-factor attempt) before it reports success; if fewer do within
	// [Options.ReplicaTimeout], the call fails with [ErrNotReplicated].
	// The write is then applied on the primary, but a failover could undo
	// it. Zero means the default: 1 on a Sentinel (failover) client; on a
	// cluster client, 1 if the cluster configuration gives the shard that
	// holds the store's keys a replica (CLUSTER SHARDS); on a plain client,
	// 1 once the server is seen with a connected replica (ROLE, asked at a
	// security write, again every 10 seconds while none is seen), else 0.
	// A negative value never waits: acknowledged revocations can then come
	// back after a failover.
	MinReplicas int

	// ReplicaTimeout bounds how long a security write waits for
	// [Options.MinReplicas] acknowledgements (Redis WAIT). The default is
	// one second.
	ReplicaTimeout time.Duration
}

// Store is a [storage.Store] on Redis. It is safe for concurrent use. Create
// it with [New] or [Open] and release it with [Store.Close].
type Store struct {
	client    goredis.UniversalClient
	cluster   *goredis.ClusterClient // client, if it is a cluster client
	ownClient bool
	prefix    string // the key root: Options.Prefix, in braces on a cluster
	repl      replication
	now       func() time.Time
	scripts   scripts
	notifier  *notifier

	stopSweep context.CancelFunc
	sweepDone chan struct{} // closed when the sweep returns
}

var _ storage.Store = (*Store)(nil)

// New returns a Store on client and starts its background sweep (see
// [Options.SweepInterval]). client may be a plain client on one server, a
// Sentinel failover client ([goredis.NewFailoverClient]) or a cluster client
// ([goredis.NewClusterClient]); see the package documentation for what each
// guarantees. The client stays the caller's: [Store.Close] does not close
// it. New does no I/O itself. It returns an error if client is nil, is a
// ring client (whose shards have no replication: a shard that leaves and
// comes back would bring revoked sessions back), is a cluster client that
// reads from replicas (a lagging replica would serve revoked sessions) or
// that keeps its own slot map ([goredis.NewFailoverClusterClient]), or if
// the prefix holds a brace on a cluster (it becomes the hash tag).
func New(client goredis.UniversalClient, opts Options) (*Store, error) {
	var cluster *goredis.ClusterClient
	switch c := client.(type) {
	case nil:
		return nil, errors.New("storage/redis: nil client")
	case *goredis.Ring:
		return nil, errors.New("storage/redis: ring clients are not supported: ring shards are not replicated, so a shard that leaves and returns brings revoked sessions back; use a cluster or Sentinel")
	case *goredis.ClusterClient:
		o := c.Options()
		if o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
			return nil, errors.New("storage/redis: a cluster client that reads from replicas is not supported: a lagging replica would serve revoked sessions")
		}
		if o.ClusterSlots != nil {
			return nil, errors.New("storage/redis: a cluster client with its own slot map (such as NewFailoverClusterClient) is not supported: use NewFailoverClient for Sentinel, NewClusterClient for a cluster")
		}
		cluster = c
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	root := opts.Prefix
	if cluster != nil {
		if strings.ContainsAny(opts.Prefix, "{}") {
			return nil, fmt.Errorf("storage/redis: prefix %q holds a brace: on a cluster the store wraps the prefix in braces to make it the hash tag of every key", opts.Prefix)
		}
		root = "{" + opts.Prefix + "}"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SubscribeTimeout <= 0 {
		opts.SubscribeTimeout = 10 * time.Second
	}
	if opts.HealthCheckInterval <= 0 {
		opts.HealthCheckInterval = time.Second
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Minute
	}
	if opts.ReplicaTimeout <= 0 {
		opts.ReplicaTimeout = time.Second
	}
	bg, stop := context.WithCancel(context.Background())
	s := &Store{
		client:    client,
		cluster:   cluster,
		prefix:    root,
		now:       opts.Now,
		scripts:   newScripts(cluster != nil),
		stopSweep: stop,
		sweepDone: make(chan struct{}),
	}
	s.repl.init(client, opts.MinReplicas, opts.ReplicaTimeout)
	s.notifier = newNotifier(s, root+"revocations", opts.SubscribeTimeout, opts.HealthCheckInterval)
	go s.sweepLoop(bg, opts.SweepInterval)
	return s, nil
}

// sweepLoop runs DeleteExpiredSessions every interval until ctx is done. A
// failed sweep is retried at the next tick: expired sessions are rejected
// by their expiry meanwhile, and their keys vanish by TTL.
func (s *Store) sweepLoop(ctx context.Context, interval time.Duration) {
	defer close(s.sweepDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.DeleteExpiredSessions(ctx, s.now())
		}
	}
}

// Open connects to Redis at rawURL, checks it answers a PING within ctx,
// and returns a Store that owns the client: [Store.Close] closes it. The
// URL forms are go-redis' own, told apart by their query:
//
//   - a single server: redis://[user:password@]host:port[/db] or rediss://…
//     (read by [goredis.ParseURL]); if the server turns out to be a cluster
//     node, the URL is read again as a cluster URL;
//   - a cluster: redis://host:port?addr=host:port&addr=… (read by
//     [goredis.ParseClusterURL]), the addresses being seed nodes;
//   - Sentinel: redis://sentinel:port?master_name=name&addr=sentinel2:port…
//     (read by [goredis.ParseFailoverURL]); the user and password in the
//     URL are the sentinels', the primary's go in the username and password
//     query parameters.
//
// A URL that go-redis cannot read, names an empty master, selects a
// database other than 0 on a cluster, or asks to read from replicas
// (replica_only, read_only, route_by_latency, route_randomly: a lagging
// replica would serve revoked sessions) is refused with an error that does
// not repeat the URL's password, and nothing stays open.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	client, err := clientFromURL(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	s, err := New(client, opts)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	s.ownClient = true
	return s, nil
}

// clientFromURL opens and pings the client that rawURL describes.
func clientFromURL(ctx context.Context, rawURL string) (goredis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage/redis: open: %w", redactURLError(err))
	}
	q := u.Query()
	for _, name := range []string{"replica_only", "read_only", "route_by_latency", "route_randomly"} {
		if q.Has(name) {
			return nil, fmt.Errorf("storage/redis: open: parameter %s is not supported: reads must come from the primary, a lagging replica would serve revoked sessions", name)
		}
	}
	var client goredis.UniversalClient
	switch {
	case q.Has("master_name"):
		o, err := goredis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("storage/redis: open: %w", redactURLError(err))
		}
		if o.MasterName == "" {
			return nil, errors.New("storage/redis: open: master_name is empty")
		}
		client = goredis.NewFailoverClient(o)
	case q.Has("addr"):
		o, err := parseClusterURL(u, rawURL)
		if err != nil {
			return nil, err
		}
		client = goredis.NewClusterClient(o)
	default:
		o, err := goredis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("storage/redis: open: %w", redactURLError(err))
		}
		c := goredis.NewClient(o)
		if err := c.Ping(ctx).Err(); err != nil {
			_ = c.Close()
			return nil, wrapErr(ctx, "open: ping", err)
		}
		info, err := c.Info(ctx, "cluster").Result()
		if err != nil {
			_ = c.Close()
			return nil, wrapErr(ctx, "open: info cluster", err)
		}
		if !strings.Contains(info, "cluster_enabled:1") {
			return c, nil
		}
		_ = c.Close()
		co, err := parseClusterURL(u, rawURL)
		if err != nil {
			return nil, err
		}
		client = goredis.NewClusterClient(co)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, wrapErr(ctx, "open: ping", err)
	}
	return client, nil
}

// parseClusterURL reads a cluster URL with [goredis.ParseClusterURL],
// which ignores the path: a database other than 0 is refused here, since
// a cluster has only database 0.
func parseClusterURL(u *url.URL, rawURL string) (*goredis.ClusterOptions, error) {
	if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
		return nil, fmt.Errorf("storage/redis: open: database %q selected on a cluster, which has only database 0", p)
	}
	if u.Query().Has("db") {
		return nil, errors.New("storage/redis: open: parameter db given for a cluster, which has only database 0")
	}
	o, err := goredis.ParseClusterURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage/redis: open: %w", redactURLError(err))
	}
	return o, nil
}

// redactURLError drops the URL, which may hold a password, from a parse
// error.
func redactURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return errors.New("invalid URL: " + ue.Err.Error())
	}
	return err
}

// Close stops the background sweep and the revocation listener and, if the
// store was made by [Open], closes the client. Subscribers get no further
// calls and Subscribe fails; on a store made by [Open], every call fails.
func (s *Store) Close() error {
	s.stopSweep()
	<-s.sweepDone
	s.notifier.close()
	if s.ownClient {
		if err := s.client.Close(); err != nil {
			return fmt.Errorf("storage/redis: close: %w", err)
		}
	}
	return nil
}

// key returns the key of kind ("s", "us", …) and id under the prefix. The
// kind never holds a colon, so keys of different kinds never collide
// whatever the id.
func (s *Store) key(kind, id string) string { return s.prefix + kind + ":" + id }

// wrapErr prefixes err with the package and op, and makes sure a cancelled
// or expired ctx is visible to errors.Is(err, ctx.Err()).
func wrapErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("storage/redis: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("storage/redis: %s: %w", op, err)
}

// wrapErr is the package's wrapErr for a Store's operations. On a cluster,
// an error that says the client's slot map is stale (a redirection it
// could not follow, a primary that refuses connections after a failover)
// also makes the client reload the map, so the next call goes to the
// current primary instead of failing until the periodic reload.
func (s *Store) wrapErr(ctx context.Context, op string, err error) error {
	if s.cluster != nil && (isRedirect(err) || isDialError(err)) {
		s.cluster.ReloadState(ctx)
	}
	return wrapErr(ctx, op, err)
}

// notFound returns storage.ErrNotFound wrapped with op.
func notFound(op string) error { return fmt.Errorf("storage/redis: %s: %w", op, storage.ErrNotFound) }

// conflict returns storage.ErrConflict wrapped with op.
func conflict(op string) error { return fmt.Errorf("storage/redis: %s: %w", op, storage.ErrConflict) }

// errTimeRange reports a time that unix nanoseconds cannot hold (before
// 1678 or after 2262).
var errTimeRange = errors.New("time out of range (years 1678-2262)")

// encodeTime returns t as decimal unix nanoseconds, "" for the zero time.
func encodeTime(t time.Time) (string, error) {
	if t.IsZero() {
		return "", nil
	}
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return "", errTimeRange
	}
	return strconv.FormatInt(t.UnixNano(), 10), nil
}

// decodeTime is the inverse of encodeTime.
func decodeTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	ns, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("bad stored time")
	}
	return time.Unix(0, ns), nil
}

// ceilMilli returns t in unix milliseconds, rounded up.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// fields accumulates HSET field/value arguments and the first encoding
// error.
type fields struct {
	args []any
	err  error
}

func (f *fields) str(name, v string) { f.args = append(f.args, name, v) }

func (f *fields) time(name string, t time.Time) {
	v, err := encodeTime(t)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("%s: %w", name, err)
	}
	f.args = append(f.args, name, v)
}

// values reads the string values of an HMGET or script reply: nil (a
// missing field) reads as "".
type values []any

func (v values) str(i int) string {
	if i >= len(v) {
		return ""
	}
	s, _ := v[i].(string)
	return s
}

func (v values) exists(i int) bool { return i < len(v) && v[i] != nil }

// reader decodes values and keeps the first error.
type reader struct {
	v   values
	err error
}

func (r *reader) str(i int) string { return r.v.str(i) }

func (r *reader) time(i int) time.Time {
	t, err := decodeTime(r.v.str(i))
	if err != nil && r.err == nil {
		r.err = err
	}
	return t
}

func (r *reader) int64(i int) int64 {
	s := r.v.str(i)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && r.err == nil {
		r.err = errors.New("bad stored integer")
	}
	return n
}
