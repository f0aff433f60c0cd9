package storage

import "time"

// BoundedNotifier is implemented by a [Notifier] that bounds its delivery
// and reports its failures, so that a revocation can never be missed
// silently. session.New detects it: the Manager takes NotifyBound as its
// default RevocationTTL (kept between the TTLs it uses without a notifier
// and with one) and logs every delivery failure at error level.
type BoundedNotifier interface {
	Notifier

	// NotifyBound returns the longest time between the commit of a
	// revocation and its delivery to every subscriber, or the delivery of
	// Revocation{Reset: true} to every subscriber if the notice may have
	// been lost. It is fixed for the life of the store.
	NotifyBound() time.Duration

	// OnDeliveryError registers fn, called from a background goroutine
	// each time the notifier finds that it cannot deliver (a lost
	// connection, a test notice that did not arrive, a failed read); the
	// subscribers receive a Reset at the same time. fn must not block and
	// must be safe for concurrent use. cancel stops the calls and is safe
	// to call more than once.
	OnDeliveryError(fn func(error)) (cancel func())
}
