package totp

import (
	"context"
	"net/http"

	"github.com/sessionguard/sessionguard/storage"
)

type requestKey struct{}

// WithRequest returns a copy of ctx that carries r, so that the security
// events recorded by the Go API ([Service.Verify] and the others) name the
// request's session, IP address, device and location, through
// [session.Manager.RecordEvent]. The handlers of [Service.Routes] do it
// themselves; an application calling the Go API from its own handlers
// should pass WithRequest(r.Context(), r). Without it, events carry the
// user, type and time only.
func WithRequest(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// record appends a security event (SECURITY.md §22). It never fails the
// operation that caused it: a storage error is logged.
func (s *Service) record(ctx context.Context, userID string, typ storage.EventType, detail string) {
	if r, ok := ctx.Value(requestKey{}).(*http.Request); ok && r != nil {
		s.mgr.RecordEvent(r, userID, typ, detail)
		return
	}
	e := &storage.Event{UserID: userID, Type: typ, At: s.now(), Detail: detail}
	if err := s.mgr.Store().AppendEvent(context.WithoutCancel(ctx), e); err != nil {
		s.logger().ErrorContext(ctx, "totp: recording a security event failed", "user", userID, "event", string(typ), "error", err)
	}
}
