package postgres_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// TestUpgradeKeepsEventsAndAddsActor checks migration 6 on a schema that
// an earlier version (migrations 1 to 5) wrote an event to: the event
// stays, with no actor, and new events keep theirs.
func TestUpgradeKeepsEventsAndAddsActor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_ = f.store(t, postgres.Options{}, nil)
	// Back to the schema of an earlier version, holding one event.
	events := pgx.Identifier{f.schema, "security_events"}.Sanitize()
	adminExec(t, f.url, `ALTER TABLE `+events+` DROP COLUMN actor`)
	adminExec(t, f.url, `ALTER TABLE `+pgx.Identifier{f.schema, "attempt_throttles"}.Sanitize()+` DROP COLUMN expires_at`)
	adminExec(t, f.url, `DELETE FROM `+pgx.Identifier{f.schema, "schema_migrations"}.Sanitize()+` WHERE version >= 6`)
	adminExec(t, f.url, `INSERT INTO `+events+` (user_id, type, at, session_handle, ip, device, location, detail)
VALUES ('alice', 'signed_in', now(), '', '', '', '', '')`)

	s := f.store(t, postgres.Options{}, nil)
	ctx := t.Context()
	if err := s.AppendEvent(ctx, &storage.Event{UserID: "alice", Type: storage.EventAllSessionsRevokedAdm, At: time.Now(), Actor: "support:jane"}); err != nil {
		t.Fatalf("AppendEvent: %v", err)
	}
	got, err := s.ListEvents(ctx, "alice", 0, 10)
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if len(got) != 2 || got[0].Actor != "support:jane" || got[1].Actor != "" || got[1].Type != storage.EventSignedIn {
		t.Errorf("events after the upgrade: got %+v, want the admin's with Actor %q, then the earlier sign-in with none", got, "support:jane")
	}
}
