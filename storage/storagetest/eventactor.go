package storagetest

import (
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// eventActorCases are the cases of [storage.Event.Actor], which every
// backend keeps.
func eventActorCases() []testCase {
	return []testCase{
		{"ActorRoundTripsAndIsEmptyWhenTheUserActed", testEventActor},
	}
}

func testEventActor(t *testing.T, e *env) {
	s := e.store
	user, base := randomID(), now()
	actors := []string{
		"support:jane",
		"", // the user acted
		"back-office tool \"ops\" | run 7: Zoë",
	}
	var want []storage.Event
	for i, actor := range actors {
		ev := newEvent(user, base.Add(time.Duration(i)*time.Second))
		ev.Type = storage.EventAllSessionsRevokedAdm
		ev.Actor = actor
		checkErr(t, "AppendEvent", s.AppendEvent(t.Context(), ev), nil)
		want = append(want, *ev)
	}
	got := mustListEvents(t, s, user, 0, 10)
	if len(got) != len(want) {
		t.Fatalf("ListEvents: got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		w := &want[len(want)-1-i]
		if got[i].Actor != w.Actor {
			t.Errorf("ListEvents element %d: got Actor %q, want %q", i, got[i].Actor, w.Actor)
		}
		checkEqual(t, "ListEvents element", &got[i], w)
	}
}
