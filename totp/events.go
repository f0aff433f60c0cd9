package totp

import (
	"context"
	"net/http"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// WithRequest is [session.WithRequest]: it returns a copy of ctx that
// carries r, so that the security events recorded by the Go API
// ([Service.Verify] and the others) name the request's session, IP address,
// device and location. The handlers of [Service.Routes] do it themselves;
// an application calling the Go API from its own handlers should pass
// WithRequest(r.Context(), r). Without it, events carry the user, type and
// time only.
func WithRequest(ctx context.Context, r *http.Request) context.Context {
	return session.WithRequest(ctx, r)
}

// record appends a security event (SECURITY.md §22) through the Manager,
// which also calls its OnEvent hook. It never fails the operation that
// caused it: a storage error is logged.
func (s *Service) record(ctx context.Context, userID string, typ storage.EventType, detail string) {
	s.mgr.RecordEventContext(ctx, userID, typ, detail)
}
