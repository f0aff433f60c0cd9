// Package fanout keeps the local subscribers of a [storage.Notifier] and
// calls them, so that every backend shares one implementation of the
// subtle part: delivery outside any lock, cancellation that is idempotent,
// callable from inside a subscriber, and effective at once.
//
// A backend embeds a [Set], calls [Set.Add] from its Subscribe and
// [Set.Deliver] wherever a notice arrives (the revoking goroutine, a
// poller, a listener), and [Set.Close] when it closes if Subscribe must fail
// afterwards.
package fanout

import (
	"sync"
	"sync/atomic"

	"github.com/sessionguard/sessionguard/storage"
)

// Set is a set of revocation subscribers. The zero value is an empty, open
// Set ready to use. A Set is safe for concurrent use and must not be copied
// after first use.
//
// The subscribers are kept in an immutable slice replaced on every change
// (copy on write): [Set.Deliver], the hot path, takes no lock and does not
// allocate, while [Set.Add] and cancel, which are rare, copy the slice.
type Set struct {
	mu     sync.Mutex                    // serializes Add, cancel and Close
	closed bool                          // guarded by mu
	subs   atomic.Pointer[[]*subscriber] // nil or an immutable slice
}

// subscriber is one Add call.
type subscriber struct {
	fn        func(storage.Revocation)
	cancelled atomic.Bool
}

// Add adds fn to s and returns the function that removes it; it panics if
// fn is nil. ok is false, and fn is not added, after [Set.Close].
//
// cancel is safe to call more than once, concurrently, and from inside fn
// (or any subscriber's fn). Once cancel has returned, no later
// [Set.Deliver] calls fn; a call that a concurrent Deliver has already
// begun may still be running or finish afterwards.
func (s *Set) Add(fn func(storage.Revocation)) (cancel func(), ok bool) {
	if fn == nil {
		panic("storage/internal/fanout: Add: nil func")
	}
	sub := &subscriber{fn: fn}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	var next []*subscriber
	if cur := s.subs.Load(); cur != nil {
		next = make([]*subscriber, 0, len(*cur)+1)
		next = append(next, *cur...)
	}
	next = append(next, sub)
	s.subs.Store(&next)
	return func() { s.remove(sub) }, true
}

// remove cancels sub and drops it from s. It is idempotent.
func (s *Set) remove(sub *subscriber) {
	// Set first, outside the lock: a Deliver already walking a snapshot
	// that holds sub skips it from now on.
	if sub.cancelled.Swap(true) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.subs.Load()
	if cur == nil {
		return // Close got there first
	}
	var next []*subscriber
	if len(*cur) > 1 {
		next = make([]*subscriber, 0, len(*cur)-1)
		for _, o := range *cur {
			if o != sub {
				next = append(next, o)
			}
		}
	}
	if len(next) == 0 {
		s.subs.Store(nil)
		return
	}
	s.subs.Store(&next)
}

// Deliver calls the fn of every subscriber not cancelled with r, one after
// the other in the order they were added, on the calling goroutine and
// outside any lock: fn may call Add, cancel or Deliver. A subscriber added
// while Deliver runs is not called by it. Concurrent Delivers run
// concurrently. Deliver takes no lock and does not allocate.
func (s *Set) Deliver(r storage.Revocation) {
	subs := s.subs.Load()
	if subs == nil {
		return
	}
	for _, sub := range *subs {
		if !sub.cancelled.Load() {
			sub.fn(r)
		}
	}
}

// Close cancels every subscriber, as if each one's cancel had been called,
// and makes later [Set.Add] calls fail. It is idempotent.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if cur := s.subs.Load(); cur != nil {
		for _, sub := range *cur {
			sub.cancelled.Store(true)
		}
	}
	s.subs.Store(nil)
}
