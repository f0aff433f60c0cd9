package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/postgres"
)

// TestReserveAttemptRacingAResetStartsAfresh deletes a user's throttle row
// (what ResetAttempts does) while ReserveAttempt waits for the row's lock:
// the attempt must be counted from zero, not fail because the row it was
// about to lock is gone.
func TestReserveAttemptRacingAResetStartsAfresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.store(t, postgres.Options{}, nil)
	ctx := t.Context()
	p := storage.AttemptPolicy{FreeAttempts: 5, BaseLockout: time.Minute, MaxLockout: time.Hour, MaxFailures: 100}
	const user = "user-reset"
	at := time.Now()
	if _, err := s.ReserveAttempt(ctx, user, at, p); err != nil {
		t.Fatalf("ReserveAttempt: %v", err)
	}

	conn, err := pgx.Connect(ctx, f.url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback(context.Background())
	table := pgx.Identifier{f.schema, "attempt_throttles"}.Sanitize()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM `+table+` WHERE user_id = $1 FOR UPDATE`, user); err != nil {
		t.Fatalf("lock the throttle row: %v", err)
	}

	type result struct {
		th  storage.Throttle
		err error
	}
	done := make(chan result, 1)
	go func() {
		th, err := s.ReserveAttempt(ctx, user, at, p)
		done <- result{th, err}
	}()
	waitForWaiters(t, f, "transactionid", "tuple")
	if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, user); err != nil {
		t.Fatalf("delete the throttle row: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("ReserveAttempt racing a reset: got error %v, want nil", r.err)
	}
	if r.th.Failures != 1 {
		t.Errorf("ReserveAttempt racing a reset: got %d failures, want 1 (counted from the reset)", r.th.Failures)
	}
}
