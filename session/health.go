package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// Health is what [Manager.Health] found, for readiness probes and status
// pages.
type Health struct {
	// Store is whether the session store answered.
	Store StoreHealth `json:"store"`
	// Notifier is the state of the store's revocation notifier.
	Notifier NotifierHealth `json:"notifier"`
}

// StoreHealth is whether the store answered one read.
type StoreHealth struct {
	// OK is true when the store answered within Config.StorageTimeout.
	OK bool `json:"ok"`
	// Latency is how long the read took.
	Latency time.Duration `json:"latency_ns"`
	// Err is why the store did not answer (it wraps [ErrUnavailable]);
	// nil when OK. It is not serialised: it may name hosts and addresses.
	Err error `json:"-"`
}

// NotifierHealth is the state of the revocation notifier, derived from the
// notices the Manager receives (storage.Notifier): a Reset while live
// marks it down (its connection dropped or notices were missed: the cache
// was emptied); the recovery Reset, or any ordinary notice, marks it live
// again. While it is down, other instances' revocations still take effect
// here within [Config.RevocationTTL].
//
// A backend also sends a single Reset when it reads a notice it cannot
// parse (Redis, PostgreSQL) or finds notices pruned unread (SQLite);
// such a Reset reads as "down" until the next notice arrives.
type NotifierHealth struct {
	// Supported is false for a store without a notifier
	// ([storage.ErrNoNotifier]); Live is then false too.
	Supported bool `json:"supported"`
	// Live is true while notices are believed to arrive.
	Live bool `json:"live"`
	// DownSince is when the notifier went down; zero while live.
	DownSince time.Time `json:"down_since,omitzero"`
	// Resets counts the Reset notices received since [New].
	Resets int64 `json:"resets"`
}

// Ready reports whether the Manager can authenticate requests: the store
// answers. A notifier that is down does not make it unready (the Manager
// stays correct, with the RevocationTTL bound for other instances'
// revocations); alert on it instead, with [Health.Notifier] or the
// sessionguard.notifier.live metric.
func (h Health) Ready() bool { return h.Store.OK }

// Health reads one session from the store (a token hash that cannot
// exist, so the answer is "not found") within Config.StorageTimeout and
// reports the result with the notifier's state. It is safe for concurrent
// use and cheap enough for a probe every second.
func (m *Manager) Health(ctx context.Context) Health {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StorageTimeout)
	defer cancel()
	start := time.Now()
	_, err := m.cfg.Store.GetSession(ctx, storage.TokenHash{})
	h := Health{Notifier: m.tel.notifierHealth()}
	h.Store.Latency = time.Since(start)
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		h.Store.OK = true
	} else {
		h.Store.Err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return h
}
