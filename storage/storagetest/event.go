package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func eventCases() []testCase {
	return []testCase{
		{"AppendAssignsIncreasingIDs", testEventAppendIDs},
		{"ListRoundTripsEveryFieldNewestFirst", testEventRoundTrip},
		{"ListOfUnknownUserIsEmptyNotAnError", testEventListEmpty},
		{"ListRespectsLimit", testEventListLimit},
		{"ListPagesWithBefore", testEventPages},
		{"PagingIsStableUnderAppendsBetweenPages", testEventPagingStable},
		{"ListIsPerUser", testEventIsolation},
		{"DeleteBeforeRemovesOlderEventsAndCounts", testEventDeleteBefore},
	}
}

// mustAppend appends n events of userID at consecutive milliseconds from
// base and returns them with their IDs, oldest first.
func mustAppend(t *testing.T, s storage.Store, userID string, base time.Time, n int) []storage.Event {
	t.Helper()
	out := make([]storage.Event, n)
	for i := range out {
		ev := newEvent(userID, base.Add(time.Duration(i)*time.Millisecond))
		checkErr(t, "AppendEvent", s.AppendEvent(t.Context(), ev), nil)
		out[i] = *ev
	}
	return out
}

// newestFirst returns the IDs of evs in reverse order.
func newestFirst(evs []storage.Event) []int64 {
	ids := eventIDs(evs)
	slices.Reverse(ids)
	return ids
}

func testEventAppendIDs(t *testing.T, e *env) {
	s := e.store
	alice, bob := randomID(), randomID()
	var last int64
	for i := range 6 {
		user := alice
		if i%2 == 1 {
			user = bob
		}
		ev := newEvent(user, now())
		checkErr(t, "AppendEvent", s.AppendEvent(t.Context(), ev), nil)
		if ev.ID <= last {
			t.Fatalf("AppendEvent #%d: got ID %d, want > %d", i, ev.ID, last)
		}
		last = ev.ID
	}
}

func testEventRoundTrip(t *testing.T, e *env) {
	s := e.store
	user, base := randomID(), now()
	types := []storage.EventType{storage.EventSignedIn, storage.EventSessionRevoked, storage.EventAppAuthorized}
	var want []storage.Event
	for i, typ := range types {
		ev := newEvent(user, base.Add(time.Duration(i)*time.Second))
		ev.Type = typ
		checkErr(t, "AppendEvent", s.AppendEvent(t.Context(), ev), nil)
		want = append(want, *ev)
	}
	// An event with only the required fields round-trips as well.
	bare := &storage.Event{UserID: user, Type: storage.EventPasswordChanged, At: base.Add(time.Minute)}
	checkErr(t, "AppendEvent", s.AppendEvent(t.Context(), bare), nil)
	want = append(want, *bare)

	got := mustListEvents(t, s, user, 0, 10)
	if len(got) != len(want) {
		t.Fatalf("ListEvents: got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		checkEqual(t, "ListEvents element", &got[i], &want[len(want)-1-i])
	}
	got[0].Detail = "changed"
	checkEqual(t, "ListEvents after changing a returned event", &mustListEvents(t, s, user, 0, 1)[0], bare)
	appended := *bare
	bare.Detail, bare.Type = "changed", storage.EventSignedOut
	checkEqual(t, "ListEvents after changing the appended value", &mustListEvents(t, s, user, 0, 1)[0], &appended)
}

func testEventListEmpty(t *testing.T, e *env) {
	got, err := e.store.ListEvents(t.Context(), randomID(), 0, 10)
	checkErr(t, "ListEvents of an unknown user", err, nil)
	if len(got) != 0 {
		t.Errorf("ListEvents of an unknown user: got %d events, want 0", len(got))
	}
}

func testEventListLimit(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	evs := mustAppend(t, s, user, now(), 5)
	all := newestFirst(evs)
	for _, limit := range []int{1, 3, 5, 6, 100} {
		got := eventIDs(mustListEvents(t, s, user, 0, limit))
		want := all[:min(limit, len(all))]
		if !slices.Equal(got, want) {
			t.Errorf("ListEvents with limit %d: got %v, want %v", limit, got, want)
		}
	}
}

func testEventPages(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	all := newestFirst(mustAppend(t, s, user, now(), 10))
	var got []int64
	before := int64(0)
	for range 5 {
		page := mustListEvents(t, s, user, before, 3)
		if len(page) == 0 {
			break
		}
		got = append(got, eventIDs(page)...)
		before = page[len(page)-1].ID
	}
	if !slices.Equal(got, all) {
		t.Errorf("pages of 3: got %v, want %v", got, all)
	}
	// A cursor past the oldest event gives an empty page.
	if page := mustListEvents(t, s, user, all[len(all)-1], 3); len(page) != 0 {
		t.Errorf("ListEvents before the oldest event: got %v, want none", eventIDs(page))
	}
	// A cursor that is not an event ID of the user works as a bound.
	if page := eventIDs(mustListEvents(t, s, user, all[0]+1_000_000, 2)); !slices.Equal(page, all[:2]) {
		t.Errorf("ListEvents before a large cursor: got %v, want %v", page, all[:2])
	}
}

func testEventPagingStable(t *testing.T, e *env) {
	s := e.store
	user, base := randomID(), now()
	orig := newestFirst(mustAppend(t, s, user, base, 10))
	var got []int64
	before := int64(0)
	for i := range 6 {
		page := mustListEvents(t, s, user, before, 3)
		if len(page) == 0 {
			break
		}
		got = append(got, eventIDs(page)...)
		before = page[len(page)-1].ID
		// New events arrive between pages, for this user and another.
		mustAppend(t, s, user, base.Add(time.Duration(i+1)*time.Minute), 2)
		mustAppend(t, s, randomID(), base, 1)
	}
	if !slices.Equal(got, orig) {
		t.Errorf("pages with appends between them: got %v, want %v", got, orig)
	}
}

func testEventIsolation(t *testing.T, e *env) {
	s := e.store
	alice, bob, base := randomID(), randomID(), now()
	var aliceIDs, bobIDs []int64
	for i := range 6 {
		if i%3 == 0 {
			bobIDs = append(bobIDs, mustAppend(t, s, bob, base, 1)[0].ID)
		} else {
			aliceIDs = append(aliceIDs, mustAppend(t, s, alice, base, 1)[0].ID)
		}
	}
	slices.Reverse(aliceIDs)
	slices.Reverse(bobIDs)
	if got := eventIDs(mustListEvents(t, s, alice, 0, 100)); !slices.Equal(got, aliceIDs) {
		t.Errorf("ListEvents(alice): got %v, want %v", got, aliceIDs)
	}
	if got := eventIDs(mustListEvents(t, s, bob, 0, 100)); !slices.Equal(got, bobIDs) {
		t.Errorf("ListEvents(bob): got %v, want %v", got, bobIDs)
	}
	// Paging alice's events with a cursor from bob's IDs still lists only hers.
	got := eventIDs(mustListEvents(t, s, alice, bobIDs[0], 100))
	var want []int64
	for _, id := range aliceIDs {
		if id < bobIDs[0] {
			want = append(want, id)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListEvents(alice) before bob's newest: got %v, want %v", got, want)
	}
}

func testEventDeleteBefore(t *testing.T, e *env) {
	s := e.store
	alice, bob, base := randomID(), randomID(), now()
	cut := base.Add(-time.Hour)
	add := func(user string, at time.Time) int64 {
		ev := newEvent(user, at)
		checkErr(t, "AppendEvent", s.AppendEvent(t.Context(), ev), nil)
		return ev.ID
	}
	add(alice, cut.Add(-48*time.Hour))
	aliceAtCut := add(alice, cut) // not older than cut: kept
	add(bob, cut.Add(-time.Millisecond))
	aliceNew := add(alice, base)
	bobNew := add(bob, cut.Add(time.Millisecond))
	add(alice, cut.Add(-time.Minute)) // appended late, but old

	n, err := s.DeleteEventsBefore(t.Context(), cut)
	checkErr(t, "DeleteEventsBefore", err, nil)
	if n != 3 {
		t.Errorf("DeleteEventsBefore: got %d, want 3", n)
	}
	if got, want := eventIDs(mustListEvents(t, s, alice, 0, 10)), []int64{aliceNew, aliceAtCut}; !slices.Equal(got, want) {
		t.Errorf("ListEvents(alice) after DeleteEventsBefore: got %v, want %v", got, want)
	}
	if got, want := eventIDs(mustListEvents(t, s, bob, 0, 10)), []int64{bobNew}; !slices.Equal(got, want) {
		t.Errorf("ListEvents(bob) after DeleteEventsBefore: got %v, want %v", got, want)
	}
	n, err = s.DeleteEventsBefore(t.Context(), cut)
	checkErr(t, "a second DeleteEventsBefore", err, nil)
	if n != 0 {
		t.Errorf("a second DeleteEventsBefore: got %d, want 0", n)
	}
	// IDs keep increasing after deletions.
	if id := add(alice, base); id <= bobNew || id <= aliceNew {
		t.Errorf("AppendEvent after DeleteEventsBefore: got ID %d, want > %d", id, max(bobNew, aliceNew))
	}
}
