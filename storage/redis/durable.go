package redis

import (
	"context"
	"errors"
	"fmt"
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

	mu    sync.Mutex
	known bool // min is settled
	min   int
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

// minReplicas returns how many replicas a security write must reach. With
// the default policy on a plain or cluster client, the first call asks the
// primary (ROLE) whether it has replicas; a failure is returned, and the
// question is asked again by the next write.
func (s *Store) minReplicas(ctx context.Context) (int, error) {
	r := &s.repl
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known {
		return r.min, nil
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
	r.known = true
	if len(replicas) > 0 {
		r.min = 1
	}
	return r.min, nil
}

// primary returns a client on the primary that holds the store's keys (all
// of them share one hash slot on a cluster).
func (s *Store) primary(ctx context.Context) (*goredis.Client, error) {
	if s.cluster != nil {
		return s.cluster.MasterForKey(ctx, s.prefix)
	}
	if c, ok := s.client.(*goredis.Client); ok {
		return c, nil
	}
	return nil, fmt.Errorf("unsupported client %T", s.client)
}

// durable runs the commands that queue adds to a pipeline, followed by
// WAIT on the same connection (WAIT counts the acknowledgements of that
// connection's writes), on the primary that holds the store's keys. It
// returns the first command error; if the commands succeeded but fewer
// than the required replicas acknowledged them in time, it returns an
// error wrapping [ErrNotReplicated]. On a cluster, a redirection (the slot
// moved) makes it reload the slot map and try again, a few times.
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
		if err != nil && s.cluster != nil && isRedirect(err) && attempt < 5 {
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
