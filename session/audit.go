package session

import "net/http"

// Audit says who asked for an action, for the security log (SECURITY.md
// §22). Every Go operation that records an event takes one, so that what
// the log knows is an argument, never something a context may or may not
// carry. Pass Audit{Request: r} from a handler; the zero Audit is for an
// action no request asked for (an admin tool, a background job).
//
// Audit is the place later features add who acted, as new fields.
type Audit struct {
	// Request is the request that asked for the action. The event
	// records its client address (through [Config.TrustedProxies]),
	// device, approximate location, and its session when that session
	// belongs to the event's user. Nil: the event holds the user, the
	// type and the time only.
	Request *http.Request

	// Actor names who acted when it was not the user: the administrator
	// or back-office tool ("support:jane", "fraud-job"). It is stored
	// with the event and shown to the user in their security log
	// (EventInfo.Actor), so choose a value fit to show. Empty: the user
	// acted (or, with no Request, the system).
	Actor string
}
