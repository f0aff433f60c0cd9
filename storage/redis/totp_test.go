package redis_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
)

// The script compares steps as decimal strings; these rows are where a
// comparison of Lua numbers (doubles) or of plain strings would go wrong.
func TestAcceptTOTPStepComparesStepsExactly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	tests := []struct {
		name       string
		last, step int64
		wantStale  bool
	}{
		{"a longer number is newer", 99, 100, false},
		{"a shorter number is older", 100, 99, true},
		{"the same step is a replay", 59_000_000, 59_000_000, true},
		{"steps above 2^53 differing by one are newer", 1<<53 + 1, 1<<53 + 2, false},
		{"steps above 2^53 differing by one are older", 1<<53 + 2, 1<<53 + 1, true},
		{"the largest step is newer than its predecessor", 1<<63 - 2, 1<<63 - 1, false},
		{"a negative step is older than zero", 0, -1, true},
		{"zero is newer than a negative step", -1, 0, false},
		{"of two negative steps the smaller magnitude is newer", -10, -9, false},
		{"of two negative steps the larger magnitude is older", -9, -10, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := "u" + strconv.Itoa(i)
			c := &storage.TOTPCredential{UserID: user, Secret: []byte{1}, KeyID: "k", CreatedAt: time.Now()}
			if err := f.store.PutPendingTOTP(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			if err := f.store.ConfirmTOTP(t.Context(), user, tt.last, time.Now()); err != nil {
				t.Fatal(err)
			}
			err := f.store.AcceptTOTPStep(t.Context(), user, tt.step)
			if stale := errors.Is(err, storage.ErrStaleStep); stale != tt.wantStale || (err != nil && !stale) {
				t.Errorf("AcceptTOTPStep(%d) after %d: got %v, want stale=%v", tt.step, tt.last, err, tt.wantStale)
			}
		})
	}
}
