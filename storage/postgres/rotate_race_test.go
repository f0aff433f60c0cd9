package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// TestRevocationRacingARotationRevokesTheRotatedSession holds a rotation
// between its write and its commit (a trigger waits on an advisory lock the
// test holds), starts a revocation meanwhile, then lets the rotation
// commit. Under READ COMMITTED a rotation written as DELETE + INSERT lets
// the revocation skip the deleted row and miss the inserted one, so the
// rotated session survives "log out everywhere"; the revocation must
// delete it.
func TestRevocationRacingARotationRevokesTheRotatedSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		revoke func(ctx context.Context, s storage.Store, old *storage.Session) error
	}{
		{"RevokeUserSessions", func(ctx context.Context, s storage.Store, old *storage.Session) error {
			_, err := s.RevokeUserSessions(ctx, old.UserID, storage.TokenHash{})
			return err
		}},
		{"RevokeSession", func(ctx context.Context, s storage.Store, old *storage.Session) error {
			_, err := s.RevokeSession(ctx, old.UserID, old.Handle)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := f.store(t, postgres.Options{}, nil)
			ctx := t.Context()

			old := testSession("user-gate")
			if err := s.CreateSession(ctx, old); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			next := testSession("user-gate")
			next.Handle, next.CreatedAt = old.Handle, old.CreatedAt

			// The gate: any write of a sessions row waits for lock key
			// until the test releases it.
			key := rand.Int64()
			gate, err := pgx.Connect(ctx, f.url)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer gate.Close(context.Background())
			if _, err := gate.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
				t.Fatalf("pg_advisory_lock: %v", err)
			}
			fn := pgx.Identifier{f.schema, "gate"}.Sanitize()
			adminExec(t, f.url, `CREATE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock(`+strconv.FormatInt(key, 10)+`); RETURN NULL; END $$`)
			adminExec(t, f.url, `CREATE TRIGGER gate AFTER INSERT OR UPDATE ON `+
				pgx.Identifier{f.schema, "sessions"}.Sanitize()+` FOR EACH ROW EXECUTE FUNCTION `+fn+`()`)

			rotated := make(chan error, 1)
			go func() { rotated <- s.RotateSession(ctx, old.TokenHash, next) }()
			waitForWaiters(t, f, "advisory")

			revoked := make(chan error, 1)
			go func() { revoked <- tt.revoke(ctx, s, old) }()
			// The revocation waits for the rotation's row lock.
			waitForWaiters(t, f, "transactionid", "tuple")

			if _, err := gate.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
				t.Fatalf("pg_advisory_unlock: %v", err)
			}
			if err := <-rotated; err != nil {
				t.Fatalf("RotateSession: got error %v, want nil (it committed first)", err)
			}
			if err := <-revoked; err != nil {
				t.Fatalf("%s after the rotation committed: got error %v, want nil", tt.name, err)
			}
			if _, err := s.GetSession(ctx, next.TokenHash); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("GetSession of the rotated session after %s: got error %v, want ErrNotFound", tt.name, err)
			}
		})
	}
}

// waitForWaiters waits until a backend of f's pools waits on a lock of one
// of the given kinds (pg_stat_activity.wait_event).
func waitForWaiters(t *testing.T, f *fixture, events ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("a backend waiting on a lock of %q", events), func() bool {
		return adminQueryInt(t, f.url, `SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 AND wait_event_type = 'Lock' AND wait_event = ANY($2)`, f.app, events) > 0
	})
}
