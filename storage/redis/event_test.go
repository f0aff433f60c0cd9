package redis_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/redis"
)

func TestDeleteEventsBeforeLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redis.Options{})
	ctx := t.Context()
	base := time.Now()
	users := []string{"a", "b", "c"}
	const n = 2*256 + 5 // more than one sweep batch
	for i := range n {
		e := &storage.Event{UserID: users[i%3], Type: storage.EventSignedIn, At: base.Add(time.Duration(i) * time.Microsecond)}
		if err := f.store.AppendEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Retention at the last event's time keeps exactly that one.
	got, err := f.store.DeleteEventsBefore(ctx, base.Add((n-1)*time.Microsecond))
	if err != nil || got != n-1 {
		t.Fatalf("DeleteEventsBefore: got %d, %v; want %d, nil", got, err, n-1)
	}
	last := users[(n-1)%3]
	if es, err := f.store.ListEvents(ctx, last, 0, 10); err != nil || len(es) != 1 || es[0].ID != n {
		t.Errorf("ListEvents(%s): got %+v, %v; want the last event", last, es, err)
	}
	if got, err := f.store.DeleteEventsBefore(ctx, base.Add(time.Hour)); err != nil || got != 1 {
		t.Fatalf("DeleteEventsBefore: got %d, %v; want 1, nil", got, err)
	}
	// Only the ID counter stays, so IDs keep increasing.
	if keys := f.keys(t); !slices.Equal(keys, []string{"eid"}) {
		t.Errorf("keys left: got %v, want [eid]", keys)
	}
}
