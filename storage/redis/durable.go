package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ErrNotReplicated reports that a security write (a revocation, a
// rotation, an accepted TOTP step, a consumed recovery code, …) is applied
// on the primary but was not acknowledged by [Options.MinReplicas] replicas
// within [Options.ReplicaTimeout]: a failover now could undo it. The
// caller should report a failure (the user can retry); retrying the same
// operation is safe. Test for it with [errors.Is].
var ErrNotReplicated = errors.New("storage/redis: not acknowledged by enough replicas")

// replication decides how many replica acknowledgements a security write
// waits for.
type replication struct {
	timeout time.Duration

	mu      sync.Mutex
	known   bool      // min is settled
	min     int       // replicas to wait for
	recheck time.Time // with min 0 and !known: when to ask again
}

// init settles the minimum when the options or the client type decide it;
// otherwise it is detected at the first security write (detect).
func (r *replication) init(client goredis.UniversalClient, min int, timeout time.Duration) {
	r.timeout = timeout
	switch {
	case min < 0:
		r.known, r.min = true, 0
	case min > 0:
		r.known, r.min = true, min
	case isFailoverClient(client):
		r.known, r.min = true, 1
	}
}

// isFailoverClient reports whether c is a Sentinel failover client
// ([goredis.NewFailoverClient] names its address so).
func isFailoverClient(c goredis.UniversalClient) bool {
	cc, ok := c.(*goredis.Client)
	return ok && cc.Options().Addr == "FailoverClient"
}

// zeroRecheck is how long a finding of "no replica" stands before the
// default policy asks again.
const zeroRecheck = 10 * time.Second

// minReplicas returns how many replicas a security write must reach. With
// the default policy on a plain or cluster client it asks how many
// replicas the primary holding the store's keys has: on a cluster, the
// replicas the cluster configuration assigns to that primary's shard
// (CLUSTER SHARDS, whatever their link state); on a plain client, the
// replicas connected to the server (ROLE). Once a replica is found the
// answer is 1 for the life of the Store; "none" is asked again after
// zeroRecheck. A failure is returned (the write then fails) and asked
// again by the next write.
func (s *Store) minReplicas(ctx context.Context) (int, error) {
	r := &s.repl
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known || time.Now().Before(r.recheck) {
		return r.min, nil
	}
	n, err := s.countReplicas(ctx)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		r.known, r.min = true, 1
	} else {
		r.recheck = time.Now().Add(zeroRecheck)
	}
	return r.min, nil
}

// countReplicas returns how many replicas the primary holding the store's
// keys has (see minReplicas).
func (s *Store) countReplicas(ctx context.Context) (int, error) {
	if cc := s.cluster; cc != nil {
		slot, err := cc.ClusterKeySlot(ctx, s.prefix).Result()
		if err != nil {
			return 0, err
		}
		shards, err := cc.ClusterShards(ctx).Result()
		if err != nil {
			return 0, err
		}
		for _, sh := range shards {
			for _, r := range sh.Slots {
				if r.Start <= slot && slot <= r.End {
					n := 0
					for _, node := range sh.Nodes {
						if node.Role == "replica" {
							n++
						}
					}
					return n, nil
				}
			}
		}
		return 0, errors.New("the store's hash slot is not served")
	}
	node, err := s.primary(ctx)
	if err != nil {
		return 0, err
	}
	reply, err := node.Do(ctx, "ROLE").Slice()
	if err != nil {
		return 0, err
	}
	if len(reply) < 3 || reply[0] != "master" {
		return 0, fmt.Errorf("the server holding the store's keys is not a primary (ROLE %v)", reply[0])
	}
	replicas, _ := reply[2].([]any)
	return len(replicas), nil
}

// primary returns a client on the primary that holds the store's keys (all
// of them share one hash slot on a cluster): the node client of that slot
// on a cluster, the store's client otherwise (a failover client talks to
// the primary Sentinel names).
func (s *Store) primary(ctx context.Context) (goredis.UniversalClient, error) {
	if s.cluster != nil {
		return s.cluster.MasterForKey(ctx, s.prefix)
	}
	return s.client, nil
}

// durable runs the commands that queue adds to a pipeline, followed by
// WAIT on the same connection (WAIT counts the acknowledgements of that
// connection's writes), on the primary that holds the store's keys. It
// returns the first command error; if the commands succeeded but fewer
// than the required replicas acknowledged them in time, it returns an
// error wrapping [ErrNotReplicated]. On a cluster, an error that proves the
// commands did not run (a redirection: the slot moved; a failed dial: the
// primary is gone) makes it reload the slot map and try again, a few
// times; other errors are returned, since the commands may have run.
func (s *Store) durable(ctx context.Context, queue func(p goredis.Pipeliner) error) error {
	want, err := s.minReplicas(ctx)
	if err != nil {
		return fmt.Errorf("replication check: %w", err)
	}
	for attempt := 0; ; attempt++ {
		node, err := s.primary(ctx)
		if err != nil {
			return err
		}
		var wait *goredis.Cmd
		_, err = node.Pipelined(ctx, func(p goredis.Pipeliner) error {
			if err := queue(p); err != nil {
				return err
			}
			if want > 0 {
				wait = p.Do(ctx, "wait", want, s.repl.timeout.Milliseconds())
			}
			return nil
		})
		if err != nil && s.cluster != nil && (isRedirect(err) || isDialError(err)) && attempt < 5 {
			s.cluster.ReloadState(ctx)
			if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		if err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
		if wait == nil {
			return nil
		}
		got, err := wait.Int64()
		if err != nil {
			return fmt.Errorf("wait for replicas: %w", err)
		}
		if int(got) < want {
			return fmt.Errorf("%w: %d of %d within %v; the change is applied on the primary, but a failover could undo it", ErrNotReplicated, got, want, s.repl.timeout)
		}
		return nil
	}
}

// waitReplicas waits, on the connection of tx (which has just written),
// for the replicas a security write needs.
func (s *Store) waitReplicas(ctx context.Context, tx *goredis.Tx) error {
	want, err := s.minReplicas(ctx)
	if err != nil {
		return fmt.Errorf("replication check: %w", err)
	}
	if want == 0 {
		return nil
	}
	got, err := tx.Wait(ctx, want, s.repl.timeout).Result()
	if err != nil {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	if int(got) < want {
		return fmt.Errorf("%w: %d of %d within %v; the change is applied on the primary, but a failover could undo it", ErrNotReplicated, got, want, s.repl.timeout)
	}
	return nil
}

// durableScript runs sc with keys and args as [Store.durable] runs its
// commands, loading the script first if the server does not have it, and
// returns the script's reply.
func (s *Store) durableScript(ctx context.Context, sc *goredis.Script, keys []string, args ...any) (*goredis.Cmd, error) {
	var cmd *goredis.Cmd
	err := s.durable(ctx, func(p goredis.Pipeliner) error {
		cmd = sc.EvalSha(ctx, p, keys, args...)
		return nil
	})
	if err != nil && cmd != nil && isNoScript(cmd.Err()) {
		err = s.durable(ctx, func(p goredis.Pipeliner) error {
			cmd = sc.Eval(ctx, p, keys, args...)
			return nil
		})
	}
	if err != nil {
		return cmd, err
	}
	return cmd, cmd.Err()
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// isDialError reports whether err is a failure to connect: nothing was
// sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isRedirect(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "MOVED ") || strings.HasPrefix(msg, "ASK ") || strings.HasPrefix(msg, "TRYAGAIN") || strings.HasPrefix(msg, "CLUSTERDOWN")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
