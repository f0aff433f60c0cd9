package storagetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// racers is how many goroutines race in each concurrency case.
const racers = 50

func concurrencyCases() []testCase {
	return []testCase{
		{"SameTOTPStepIsAcceptedOnce", testRaceTOTPStep},
		{"SameRecoveryCodeIsConsumedOnce", testRaceRecoveryCode},
		{"ConcurrentReplaceRecoveryCodesLeavesOneSet", testRaceReplaceRecoveryCodes},
		{"ReserveAttemptAdmitsExactlyTheFreeAttempts", testRaceReserveAttempt},
		{"SameTokenHashIsCreatedOnce", testRaceCreateSession},
		{"SameSessionIsRotatedOnce", testRaceRotate},
		{"RevokingAndReadingOneUsersSessions", testRaceRevokeAndRead},
		{"RevokeUserSessionsRacingCreateSession", testRaceRevokeUserVsCreate},
		{"RevocationRacingRotateSessionLeavesNoSession", testRaceRevokeVsRotate},
		{"ConcurrentAppendsGetDistinctIDs", testRaceAppendEvents},
	}
}

// race runs fn(i, client) in racers goroutines released together, client
// alternating between the clients of e, and returns the errors by i.
func race(e *env, fn func(i int, c storage.Store) error) []error {
	clients := e.clients()
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = fn(i, clients[i%len(clients)])
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts nil errors and errors matching want; it fails t on any other.
func tally(t *testing.T, what string, errs []error, want error) (ok, matched int) {
	t.Helper()
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, want):
			matched++
		default:
			t.Errorf("%s: got error %v, want nil or %v", what, err, want)
		}
	}
	return ok, matched
}

func testRaceTOTPStep(t *testing.T, e *env) {
	s := e.store
	c := mustConfirmedTOTP(t, s, 1000)
	errs := race(e, func(_ int, cl storage.Store) error {
		return cl.AcceptTOTPStep(t.Context(), c.UserID, 1001)
	})
	if ok, _ := tally(t, "AcceptTOTPStep", errs, storage.ErrStaleStep); ok != 1 {
		t.Errorf("concurrent AcceptTOTPStep of one step: got %d successes, want exactly 1", ok)
	}
	if got := mustGetTOTP(t, s, c.UserID); got.LastStep != 1001 {
		t.Errorf("GetTOTP after the race: got LastStep %d, want 1001", got.LastStep)
	}

	// Racing different steps: the final step is the highest, and a step is
	// accepted only while it is newer than every step accepted before it.
	errs = race(e, func(i int, cl storage.Store) error {
		return cl.AcceptTOTPStep(t.Context(), c.UserID, 2000+int64(i%10))
	})
	if ok, _ := tally(t, "AcceptTOTPStep of mixed steps", errs, storage.ErrStaleStep); ok < 1 || ok > 10 {
		t.Errorf("concurrent AcceptTOTPStep of 10 steps: got %d successes, want 1 to 10", ok)
	}
	if got := mustGetTOTP(t, s, c.UserID); got.LastStep != 2009 {
		t.Errorf("GetTOTP after the mixed race: got LastStep %d, want 2009", got.LastStep)
	}
}

func testRaceRecoveryCode(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	hs := newHashes(10)
	mustReplace(t, s, user, hs)
	errs := race(e, func(_ int, cl storage.Store) error {
		return cl.ConsumeRecoveryCode(t.Context(), user, hs[3])
	})
	if ok, _ := tally(t, "ConsumeRecoveryCode", errs, storage.ErrNotFound); ok != 1 {
		t.Errorf("concurrent ConsumeRecoveryCode of one code: got %d successes, want exactly 1", ok)
	}
	checkCount(t, s, "after the race", user, 9)

	// Racing every remaining code five times: each is consumed exactly once.
	left := slices.Delete(slices.Clone(hs), 3, 4)
	errs = race(e, func(i int, cl storage.Store) error {
		return cl.ConsumeRecoveryCode(t.Context(), user, left[i%len(left)])
	})
	if ok, _ := tally(t, "ConsumeRecoveryCode of many codes", errs, storage.ErrNotFound); ok != len(left) {
		t.Errorf("concurrent ConsumeRecoveryCode of %d codes: got %d successes, want %d", len(left), ok, len(left))
	}
	checkCount(t, s, "after consuming every code", user, 0)
}

// testRaceReplaceRecoveryCodes races regenerations of one user's codes,
// each with its own set: exactly one whole set survives, the last one
// stored, never a mix or the union of two (under READ COMMITTED, each
// replacement's delete can miss another's fresh inserts).
func testRaceReplaceRecoveryCodes(t *testing.T, e *env) {
	const (
		rounds = 5
		size   = 4
	)
	s := e.store
	for round := range rounds {
		user := randomID()
		mustReplace(t, s, user, newHashes(size))
		sets := make([][]storage.TokenHash, racers/5)
		for i := range sets {
			sets[i] = newHashes(size)
		}
		clients := e.clients()
		errs := make([]error, len(sets))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range sets {
			wg.Go(func() {
				<-start
				errs[i] = clients[i%len(clients)].ReplaceRecoveryCodes(t.Context(), user, sets[i])
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			checkErr(t, "ReplaceRecoveryCodes racing another", err, nil)
		}
		if n := mustCount(t, s, user); n != size {
			t.Fatalf("round %d: CountRecoveryCodes after concurrent replacements of %d codes: got %d, want %d", round, size, n, size)
		}
		// The survivor is one whole set: consuming its first code finds
		// which, and then every other code of it is there too.
		var winner []storage.TokenHash
		for _, set := range sets {
			if s.ConsumeRecoveryCode(t.Context(), user, set[0]) == nil {
				winner = set
				break
			}
		}
		if winner == nil {
			t.Fatalf("round %d: no replacement's set survived", round)
		}
		for _, h := range winner[1:] {
			checkErr(t, "ConsumeRecoveryCode of the surviving set", s.ConsumeRecoveryCode(t.Context(), user, h), nil)
		}
	}
}

func testRaceReserveAttempt(t *testing.T, e *env) {
	s := e.store
	p := storage.AttemptPolicy{FreeAttempts: 5, BaseLockout: time.Hour, MaxLockout: time.Hour, MaxFailures: 100}
	user, at := randomID(), now()
	var mu sync.Mutex
	var failures []int
	errs := race(e, func(_ int, cl storage.Store) error {
		th, err := cl.ReserveAttempt(t.Context(), user, at, p)
		if err == nil {
			mu.Lock()
			failures = append(failures, th.Failures)
			mu.Unlock()
		}
		return err
	})
	ok, locked := tally(t, "ReserveAttempt", errs, storage.ErrLocked)
	if ok != p.FreeAttempts || locked != racers-p.FreeAttempts {
		t.Errorf("concurrent ReserveAttempt: got %d admitted and %d locked, want %d and %d", ok, locked, p.FreeAttempts, racers-p.FreeAttempts)
	}
	// Each admitted attempt saw a distinct count: no lost update.
	slices.Sort(failures)
	if want := []int{1, 2, 3, 4, 5}; !slices.Equal(failures, want) {
		t.Errorf("Failures returned to the admitted attempts: got %v, want %v", failures, want)
	}
	checkEqual(t, "GetThrottle after the race", mustGetThrottle(t, s, user), storage.Throttle{Failures: 5, LockedUntil: at.Add(time.Hour)})
}

func testRaceCreateSession(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	h := randomHash()
	handle := randomID()
	errs := race(e, func(i int, cl storage.Store) error {
		x := newSession(user, now())
		if i%2 == 0 {
			x.TokenHash = h // half collide on the token hash
		} else {
			x.Handle = handle // half on the handle
		}
		return cl.CreateSession(t.Context(), x)
	})
	if ok, _ := tally(t, "CreateSession", errs, storage.ErrConflict); ok != 2 {
		t.Errorf("concurrent CreateSession with one token hash or one handle: got %d successes, want exactly 2", ok)
	}
	if got := mustListSessions(t, s, user); len(got) != 2 {
		t.Errorf("ListSessions after the race: got %d sessions, want 2", len(got))
	}
}

func testRaceRotate(t *testing.T, e *env) {
	s := e.store
	old := newSession(randomID(), now())
	mustCreateSession(t, s, old)
	nexts := make([]*storage.Session, racers)
	for i := range nexts {
		nexts[i] = rotated(old, now())
	}
	errs := race(e, func(i int, cl storage.Store) error {
		return cl.RotateSession(t.Context(), old.TokenHash, nexts[i])
	})
	if ok, _ := tally(t, "RotateSession", errs, storage.ErrNotFound); ok != 1 {
		t.Fatalf("concurrent RotateSession of one session: got %d successes, want exactly 1", ok)
	}
	checkNoSession(t, s, old.TokenHash)
	for i, err := range errs {
		if err == nil {
			checkEqual(t, "the winning rotation", mustGetSession(t, s, nexts[i].TokenHash), nexts[i])
		} else {
			checkNoSession(t, s, nexts[i].TokenHash)
		}
	}
	if got := mustListSessions(t, s, old.UserID); len(got) != 1 {
		t.Errorf("ListSessions after the race: got %d sessions, want 1", len(got))
	}
}

func testRaceRevokeAndRead(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	sessions := make([]*storage.Session, racers)
	for i := range sessions {
		sessions[i] = newSession(user, now())
		mustCreateSession(t, s, sessions[i])
	}
	errs := race(e, func(i int, cl storage.Store) error {
		ctx := t.Context()
		mine, next := sessions[i], sessions[(i+1)%racers]
		if _, err := cl.GetSession(ctx, next.TokenHash); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err := cl.TouchSession(ctx, next.TokenHash, storage.Activity{At: now(), IP: "192.0.2.9"}); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if _, err := cl.RevokeSession(ctx, user, mine.Handle); err != nil {
			return err // every session is revoked by exactly one goroutine
		}
		if list, err := cl.ListSessions(ctx, user); err != nil {
			return err
		} else if len(list) >= racers {
			return errors.New("ListSessions after a revocation still lists every session")
		}
		// Revoking a neighbour again is a no-op or a miss, never an error.
		if _, err := cl.RevokeSession(ctx, user, next.Handle); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if _, err := cl.GetSession(ctx, mine.TokenHash); !errors.Is(err, storage.ErrNotFound) {
			return errors.Join(errors.New("GetSession of a session this goroutine revoked did not return ErrNotFound"), err)
		}
		return nil
	})
	// A goroutine whose session a neighbour revoked first reports
	// ErrNotFound from its own RevokeSession; anything else is a failure.
	tally(t, "revoking and reading", errs, storage.ErrNotFound)
	for _, x := range sessions {
		checkNoSession(t, s, x.TokenHash)
	}
	if got := mustListSessions(t, s, user); len(got) != 0 {
		t.Errorf("ListSessions after revoking every session: got %d sessions, want 0", len(got))
	}
	n, err := s.RevokeUserSessions(t.Context(), user, storage.TokenHash{})
	checkErr(t, "RevokeUserSessions after the race", err, nil)
	if n != 0 {
		t.Errorf("RevokeUserSessions after the race: got %d, want 0", n)
	}
}

// testRaceRevokeUserVsCreate races RevokeUserSessions with CreateSession
// calls for the same user: every session is either deleted by the
// revocation (and counted) or created after it, never half, and no session
// that existed before the revocation began survives it.
func testRaceRevokeUserVsCreate(t *testing.T, e *env) {
	const (
		rounds     = 4
		pre        = 10 // sessions before the revocation
		creators   = 4
		perCreator = 10
	)
	s := e.store
	clients := e.clients()
	for round := range rounds {
		user := randomID()
		before := make([]*storage.Session, pre)
		for i := range before {
			before[i] = newSession(user, now())
			mustCreateSession(t, s, before[i])
		}
		created := make([][]*storage.Session, creators)
		var (
			wg       sync.WaitGroup
			started  = make(chan struct{})
			once     sync.Once
			revoked  int
			revokeEr error
		)
		for c := range creators {
			wg.Go(func() {
				defer once.Do(func() { close(started) }) // even if creation fails
				cl := clients[c%len(clients)]
				for range perCreator {
					x := newSession(user, now())
					if err := cl.CreateSession(t.Context(), x); err != nil {
						t.Errorf("round %d: CreateSession: got error %v, want nil", round, err)
						return
					}
					created[c] = append(created[c], x)
					once.Do(func() { close(started) })
				}
			})
		}
		wg.Go(func() {
			<-started // the revocation starts while creators run
			revoked, revokeEr = clients[len(clients)-1].RevokeUserSessions(t.Context(), user, storage.TokenHash{})
		})
		wg.Wait()
		checkErr(t, "RevokeUserSessions racing CreateSession", revokeEr, nil)

		for _, x := range before {
			checkNoSession(t, s, x.TokenHash)
		}
		survivors := 0
		for _, xs := range created {
			for _, x := range xs {
				got, err := s.GetSession(t.Context(), x.TokenHash)
				switch {
				case errors.Is(err, storage.ErrNotFound):
				case err != nil:
					t.Fatalf("round %d: GetSession: got error %v, want nil or ErrNotFound", round, err)
				default:
					survivors++
					checkEqual(t, "a session created during the revocation", got, x)
				}
			}
		}
		list := mustListSessions(t, s, user)
		if len(list) != survivors {
			t.Errorf("round %d: ListSessions lists %d sessions, GetSession finds %d", round, len(list), survivors)
		}
		if total := pre + creators*perCreator; revoked+survivors != total {
			t.Errorf("round %d: %d revoked + %d surviving, want %d created in all", round, revoked, survivors, total)
		}
		if revoked < pre {
			t.Errorf("round %d: RevokeUserSessions returned %d, want at least the %d earlier sessions", round, revoked, pre)
		}
	}
}

// testRaceRevokeVsRotate races a revocation of a user's sessions with a
// rotation of one of them: whichever commits first, no session of the user
// is left once both have returned (a rotation that wins is revoked after
// it; one that loses finds nothing to rotate). A backend that rotates by
// delete and insert can let the rotated session slip past a revocation
// already under way.
func testRaceRevokeVsRotate(t *testing.T, e *env) {
	const rounds = 20
	clients := e.clients()
	for round := range rounds {
		old := newSession(randomID(), now())
		mustCreateSession(t, e.store, old)
		next := rotated(old, now())
		var (
			wg                  sync.WaitGroup
			start               = make(chan struct{})
			rotateErr, revokeEr error
		)
		wg.Go(func() {
			<-start
			rotateErr = clients[0].RotateSession(t.Context(), old.TokenHash, next)
		})
		wg.Go(func() {
			<-start
			if round%2 == 0 {
				_, revokeEr = clients[len(clients)-1].RevokeUserSessions(t.Context(), old.UserID, storage.TokenHash{})
			} else {
				_, revokeEr = clients[len(clients)-1].RevokeSession(t.Context(), old.UserID, old.Handle)
				if errors.Is(revokeEr, storage.ErrNotFound) {
					// The rotation won and the handle was not found:
					// the revocation must see the rotated session.
					revokeEr = errors.New("RevokeSession missed the session while it was rotated")
				}
			}
		})
		close(start)
		wg.Wait()
		if rotateErr != nil && !errors.Is(rotateErr, storage.ErrNotFound) {
			t.Fatalf("round %d: RotateSession racing a revocation: got error %v, want nil or ErrNotFound", round, rotateErr)
		}
		if revokeEr != nil {
			t.Fatalf("round %d: revocation racing RotateSession: got error %v, want nil", round, revokeEr)
		}
		checkNoSession(t, e.store, old.TokenHash)
		checkNoSession(t, e.store, next.TokenHash)
		if got := mustListSessions(t, e.store, old.UserID); len(got) != 0 {
			t.Fatalf("round %d: ListSessions after a revocation racing a rotation: got %d sessions, want 0", round, len(got))
		}
	}
}

func testRaceAppendEvents(t *testing.T, e *env) {
	s := e.store
	user := randomID()
	ids := make([]int64, racers)
	errs := race(e, func(i int, cl storage.Store) error {
		ev := newEvent(user, now())
		err := cl.AppendEvent(t.Context(), ev)
		ids[i] = ev.ID
		return err
	})
	for _, err := range errs {
		checkErr(t, "AppendEvent", err, nil)
	}
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != racers {
		t.Errorf("concurrent AppendEvent: got duplicate IDs in %v", ids)
	}
	got := eventIDs(mustListEvents(t, s, user, 0, racers+10))
	slices.Reverse(ids)
	if !slices.Equal(got, ids) {
		t.Errorf("ListEvents after concurrent appends: got %v, want %v", got, ids)
	}
}
