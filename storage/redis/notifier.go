package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/internal/fanout"
)

// Reconnection attempts of the listener back off from minBackoff to
// maxBackoff.
const (
	minBackoff = 20 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// notifier runs one listener goroutine per Store, started by the first
// Subscribe, that receives the revocation channel with a Receive loop and
// fans each notice out to the subscribers.
//
// The listener also subscribes to a probe channel of its own (same hash
// slot as the revocation channel), and every health interval asks the
// primary that holds the store's keys, through the store's client (which
// follows Sentinel switches and cluster redirections), how many
// subscribers the probe channel has there (PUBSUB NUMSUB, or SHARDNUMSUB
// on a cluster). None means the subscription is on a node that is no
// longer where revocations are published (a demoted primary, a node that
// lost the slot): the listener resets the subscribers and subscribes again
// on the current primary.
type notifier struct {
	store   *Store
	channel string
	probe   string        // the listener's own probe channel
	slot    int64         // the channels' hash slot on a cluster, -1 until known; listener only
	wait    time.Duration // Options.SubscribeTimeout
	health  time.Duration // Options.HealthCheckInterval

	subs fanout.Set // closed by close

	mu        sync.Mutex
	started   bool
	closed    bool
	connected bool
	// ready is closed while the subscription is confirmed, and replaced
	// by an open channel when the connection is lost.
	ready  chan struct{}
	cur    *goredis.PubSub // the listener's current subscription
	cancel context.CancelFunc
	done   chan struct{} // closed when the listener returns
}

func newNotifier(s *Store, channel string, wait, health time.Duration) *notifier {
	return &notifier{
		store:   s,
		channel: channel,
		probe:   s.prefix + "probe:" + rand.Text(),
		slot:    -1,
		wait:    wait,
		health:  health,
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// errClosed reports use of a closed store.
var errClosed = errors.New("storage/redis: store closed")

// Subscribe implements [storage.Notifier] with Redis pub/sub on the channel
// Prefix+"revocations". It returns once the server has confirmed the
// listener's subscription, so every revocation committed after it returns
// is delivered; it fails if that takes longer than
// [Options.SubscribeTimeout]. fn is called from the listener goroutine,
// one notice at a time. After cancel returns, fn is not called again
// (except for a call already under way); cancel is safe to call more than
// once and from fn.
func (s *Store) Subscribe(fn func(storage.Revocation)) (cancel func(), err error) {
	return s.notifier.subscribe(fn)
}

func (n *notifier) subscribe(fn func(storage.Revocation)) (func(), error) {
	if fn == nil {
		return nil, errors.New("storage/redis: subscribe: nil func")
	}
	n.mu.Lock()
	cancel, ok := n.subs.Add(fn) // fails once close has run
	if !ok {
		n.mu.Unlock()
		return nil, errClosed
	}
	if !n.started {
		n.started = true
		ctx, stop := context.WithCancel(context.Background())
		n.cancel = stop
		go n.run(ctx)
	}
	ready := n.ready
	n.mu.Unlock()

	timer := time.NewTimer(n.wait)
	defer timer.Stop()
	select {
	case <-ready:
		return cancel, nil
	case <-timer.C:
		cancel()
		return nil, errors.New("storage/redis: subscribe: the revocation channel subscription was not confirmed in time")
	case <-n.done:
		cancel()
		return nil, errClosed
	}
}

// close stops the listener and waits for it.
func (n *notifier) close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	n.subs.Close()
	started := n.started
	if started {
		n.cancel()
		if n.cur != nil {
			_ = n.cur.Close() // unblocks Receive
		}
	}
	n.mu.Unlock()
	if started {
		<-n.done
	} else {
		close(n.done)
	}
}

// run is the listener: subscribe, Receive until an error or until the
// subscription is found off the primary, tell the subscribers to reset,
// back off, subscribe again on a fresh connection.
func (n *notifier) run(ctx context.Context) {
	defer close(n.done)
	backoff := minBackoff
	confirmedBefore := false
	for {
		if cc := n.store.cluster; cc != nil {
			n.refreshSlotMap(ctx, cc)
		}
		ps := n.open(ctx) // a dial error shows in Receive
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			_ = ps.Close()
			return
		}
		n.cur = ps
		n.mu.Unlock()

		pingSent := false
		lastCheck := time.Now()
	receive:
		for {
			msg, err := ps.ReceiveTimeout(ctx, n.health)
			if ctx.Err() != nil {
				_ = ps.Close()
				return
			}
			if err != nil {
				if !isTimeout(err) || pingSent || !n.isConnected() || ps.Ping(ctx) != nil {
					break // lost: resubscribe on a fresh connection
				}
				pingSent = true
				msg = nil
			} else {
				pingSent = false // anything received proves the connection
			}
			switch m := msg.(type) {
			case *goredis.Subscription:
				if m.Channel != n.channel {
					break
				}
				switch m.Kind {
				case "subscribe", "ssubscribe":
					backoff = minBackoff
					lastCheck = time.Now()
					n.setConnected(true)
					if confirmedBefore {
						// Notices published while we were away are lost.
						n.deliver(storage.Revocation{Reset: true})
					}
					confirmedBefore = true
				case "unsubscribe", "sunsubscribe":
					// The server dropped the subscription: on a cluster,
					// the node no longer serves the channel's slot.
					break receive
				}
			case *goredis.Message:
				if m.Channel == n.channel {
					n.deliver(parseRevocation(m.Payload))
				}
			}
			if n.isConnected() && time.Since(lastCheck) >= n.health {
				lastCheck = time.Now()
				if !n.onPrimary(ctx) {
					break
				}
			}
		}
		if n.setConnected(false) {
			n.deliver(storage.Revocation{Reset: true})
		}
		_ = ps.Close()

		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// open subscribes to the revocation and probe channels: sharded pub/sub on
// a cluster (the connection goes to the primary of the channels' slot),
// plain pub/sub otherwise (on a failover client, to the current primary).
func (n *notifier) open(ctx context.Context) *goredis.PubSub {
	if c := n.store.cluster; c != nil {
		return c.SSubscribe(ctx, n.channel, n.probe)
	}
	return n.store.client.Subscribe(ctx, n.channel, n.probe)
}

// onPrimary reports whether the primary that holds the store's keys
// counts this listener's subscription, and (off a cluster) whether the
// node the client talks to is a primary. An error counts as no: the
// subscription is then renewed, and subscribers are reset, which is the
// safe side.
func (n *notifier) onPrimary(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, n.health)
	defer cancel()
	if cc := n.store.cluster; cc != nil {
		return n.onClusterPrimary(ctx, cc)
	}
	// A failover client sends these to the primary Sentinel names now;
	// ROLE catches a node demoted under a plain client, and a failover
	// client that has not yet heard of the switch.
	var role *goredis.Cmd
	var counts *goredis.MapStringIntCmd
	_, err := n.store.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		role = p.Do(ctx, "role")
		counts = p.PubSubNumSub(ctx, n.probe)
		return nil
	})
	if err != nil {
		return false
	}
	r, _ := role.Slice()
	return len(r) > 0 && r[0] == "master" && counts.Val()[n.probe] > 0
}

// slotPrimary asks the cluster (CLUSTER SLOTS, from any node) which node
// is the primary of the channels' slot now, and returns its address.
func (n *notifier) slotPrimary(ctx context.Context, cc *goredis.ClusterClient) (string, error) {
	if n.slot < 0 {
		slot, err := cc.ClusterKeySlot(ctx, n.channel).Result()
		if err != nil {
			return "", err
		}
		n.slot = slot
	}
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, r := range slots {
		if int64(r.Start) <= n.slot && n.slot <= int64(r.End) && len(r.Nodes) > 0 {
			return r.Nodes[0].Addr, nil
		}
	}
	return "", errors.New("slot not served")
}

// onClusterPrimary asks the slot's primary (see slotPrimary) whether it
// counts the listener's subscription.
func (n *notifier) onClusterPrimary(ctx context.Context, cc *goredis.ClusterClient) bool {
	addr, err := n.slotPrimary(ctx, cc)
	if err != nil {
		return false
	}
	var count atomic.Int64
	err = cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		if c.Options().Addr != addr {
			return nil
		}
		m, err := c.PubSubShardNumSub(ctx, n.probe).Result()
		if err != nil {
			return err
		}
		count.Store(m[n.probe])
		return nil
	})
	return err == nil && count.Load() > 0
}

// refreshSlotMap makes sure, before the listener subscribes on a cluster,
// that the client's slot map names the slot's current primary (see
// slotPrimary): after a failover or a resharding the map is stale until
// something reloads it, and the subscription would go to the old node. It
// waits for at most one health interval.
func (n *notifier) refreshSlotMap(ctx context.Context, cc *goredis.ClusterClient) {
	ctx, cancel := context.WithTimeout(ctx, n.health)
	defer cancel()
	addr, err := n.slotPrimary(ctx, cc)
	if err != nil {
		return
	}
	for reloaded := false; ; reloaded = true {
		if c, err := cc.MasterForKey(ctx, n.channel); err == nil && c.Options().Addr == addr {
			return
		}
		if !reloaded {
			cc.ReloadState(ctx)
		}
		if sleepCtx(ctx, 10*time.Millisecond) != nil {
			return
		}
	}
}

func (n *notifier) isConnected() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.connected
}

// setConnected records the state of the subscription and reports whether
// it changed.
func (n *notifier) setConnected(c bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.connected == c {
		return false
	}
	n.connected = c
	if c {
		close(n.ready)
	} else {
		n.ready = make(chan struct{})
	}
	return true
}

// deliver calls every subscriber's fn with r.
func (n *notifier) deliver(r storage.Revocation) { n.subs.Deliver(r) }

// parseRevocation reads a notice "t<unix µs>|<token hash hex or
// empty>|<user ID>", the time being the server's clock when the script
// that committed the revocation ran (Revocation.CommittedAt). It also
// reads the notice of earlier versions, "<token hash hex or empty>|<user
// ID>", without a time (a token hash never starts with 't'), so instances
// of both versions can share a store during a rolling upgrade; an earlier
// version reads a new notice as a Reset (its token hash does not parse).
// A notice it cannot read becomes a Reset: something was revoked and we do
// not know what.
func parseRevocation(payload string) storage.Revocation {
	var at time.Time
	if rest, ok := strings.CutPrefix(payload, "t"); ok {
		us, tail, ok := strings.Cut(rest, "|")
		if !ok {
			return storage.Revocation{Reset: true}
		}
		n, err := strconv.ParseInt(us, 10, 64)
		if err != nil || n <= 0 {
			return storage.Revocation{Reset: true}
		}
		at, payload = time.UnixMicro(n), tail
	}
	hexHash, userID, ok := strings.Cut(payload, "|")
	if !ok {
		return storage.Revocation{Reset: true}
	}
	r := storage.Revocation{UserID: userID, CommittedAt: at}
	if hexHash != "" {
		h, err := storage.ParseTokenHash(hexHash)
		if err != nil {
			return storage.Revocation{Reset: true}
		}
		r.TokenHash = h
	}
	return r
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
