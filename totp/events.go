package totp

import (
	"context"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// record appends a security event (SECURITY.md §22) to the Manager's
// security log, which also calls its OnEvent hook. It never fails the
// operation that caused it: a storage error is logged.
func (s *Service) record(ctx context.Context, a session.Audit, userID string, typ storage.EventType, detail string) {
	s.mgr.SecurityLog().Record(ctx, a, userID, typ, detail)
}
